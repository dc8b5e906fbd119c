"""Units-consistency check (sim.modelfile.units): the parser, each kind of error, a clean model,
and (when it exists) the Jingdezhen model."""
from pathlib import Path

import pytest

from sim.modelfile.units import (Dim, UnitsSyntaxError, check_units, check_units_report,
                       parse_units)

TOOLING = Path(__file__).parents[1] / "models" / "tooling"
JDZ = Path(__file__).parents[2] / "models" / "jingdezhen.mdl"


# -- units strings ---------------------------------------------------------------
@pytest.mark.parametrize("text, exps", [
    ("CNY100M/Year", {"CNY100M": 1, "Year": -1}),
    ("CNY/(Person*Year)", {"CNY": 1, "Person": -1, "Year": -1}),
    ("CNY/Person/Year", {"CNY": 1, "Person": -1, "Year": -1}),
    ("1/Year", {"Year": -1}),
    ("Dmnl", {}),
    ("tce/CNY10K", {"tce": 1, "CNY10K": -1}),
    ("t10K*Year/(t10K)", {"Year": 1}),
    ("Year^2", {"Year": 2}),
    ("Year^-1", {"Year": -1}),
])
def test_units_strings_parse_to_exponents(text, exps):
    assert parse_units(text) == Dim(exps)


def test_scale_prefixes_are_distinct_units():
    assert parse_units("CNY100M") != parse_units("CNY10K")
    assert parse_units("CNY100M") != parse_units("CNY")
    assert parse_units("Person10K/Year") != parse_units("Person/Year")


def test_dim_prints_back_in_vensim_form():
    assert str(parse_units("CNY / (Person * Year)")) == "CNY/(Person*Year)"
    assert str(parse_units("1/Year")) == "1/Year"
    assert str(parse_units("Person10K/Person10K")) == "Dmnl"


@pytest.mark.parametrize("text", ["CNY100M//Year", "(CNY", "CNY)", "2/Year", "Year^x", ""])
def test_bad_units_strings_are_rejected(text):
    with pytest.raises(UnitsSyntaxError):
        parse_units(text)


# -- whole models ------------------------------------------------------------------
def test_correct_model_has_no_problems():
    report = check_units_report(TOOLING / "correct.mdl")
    assert report.problems == []
    assert report.checked == 26


def _checks(name):
    return [(p.variable, p.check) for p in check_units(TOOLING / name)]


def test_missing_units_is_reported():
    problems = check_units(TOOLING / "err_missing_units.mdl")
    assert [(p.variable, p.check) for p in problems] == [("hiring", "missing units")]


def test_inflow_in_wrong_units_is_reported_with_both_units():
    problems = [p for p in check_units(TOOLING / "err_stock_flow.mdl")
                if p.check == "stock flow"]
    assert len(problems) == 1
    p = problems[0]
    assert p.variable == "workers"
    assert p.expected.startswith("Person10K/Year")
    assert p.found == "Person/Year"
    assert "hiring" in p.detail and "INTEG" in p.equation


def test_sum_of_different_scale_units_is_reported():
    problems = check_units(TOOLING / "err_sum.mdl")
    assert [(p.variable, p.check, p.expected, p.found) for p in problems] == [
        ("GDP real", "sum", "CNY100M/Year", "CNY10K/Year")]


def test_product_without_conversion_constant_is_reported():
    problems = check_units(TOOLING / "err_product.mdl")
    assert [(p.variable, p.check) for p in problems] == [("GDP per capita", "declared")]
    assert problems[0].found == "CNY100M/(Person10K*Year)"
    assert problems[0].expected == "CNY/(Person*Year)"


def test_function_arguments_are_checked():
    got = _checks("err_functions.mdl")
    assert sorted(got) == [("compared", "argument"), ("paid subsidy", "argument"),
                           ("smoothed subsidy", "argument")]


def test_units_syntax_error_is_a_problem_not_a_crash():
    assert _checks("err_syntax.mdl") == [("odd", "units syntax")]


def test_problem_text_names_variable_equation_and_both_units():
    text = str(check_units(TOOLING / "err_sum.mdl")[0])
    for part in ("GDP real", "VA industry+VA services", "CNY100M/Year", "CNY10K/Year"):
        assert part in text


def test_unhandled_functions_are_listed_as_skipped(tmp_path):
    src = (TOOLING / "err_sum.mdl").read_text()
    src = src.replace("VA industry+VA services", "VA industry+GAMMA LN(VA services)")
    (tmp_path / "m.mdl").write_text(src)
    report = check_units_report(tmp_path / "m.mdl")
    assert report.problems == []          # the unknown term is compared with nothing
    assert "GAMMA LN" in report.skipped_functions


# -- the Jingdezhen model ---------------------------------------------------------------
jdz = pytest.mark.skipif(not JDZ.exists(),
                         reason="models/jingdezhen.mdl does not exist yet")


@jdz
def test_jingdezhen_units_are_consistent():
    problems = check_units(JDZ)
    assert problems == [], "\n".join(str(p) for p in problems)


@jdz
def test_jingdezhen_every_variable_has_units():
    from sim.modelfile.mdl import read_mdl
    missing = [e.name for e in read_mdl(JDZ).elements if not e.units.strip()]
    assert missing == []


# -- inference rules, on one-equation models ------------------------------------------
def _model(tmp_path, equations):
    """Write a model from ``[(name, equation, units)]`` plus the tooling control group."""
    body = "".join(f"{n}=\n\t{eq}\n\t~\t{u}\n\t~\t\t|\n\n" for n, eq, u in equations)
    control = (TOOLING / "_control.txt").read_text()
    path = tmp_path / "m.mdl"
    path.write_text("{UTF-8}\n" + body + control)
    return path


BASE = [("capital", "100", "CNY100M"), ("labour", "50", "Person10K"),
        ("share", "0.5", "Dmnl"), ("rate", "0.1", "1/Year"), ("start", "2016", "Year")]


@pytest.mark.parametrize("equation, units, ok", [
    ("capital * rate", "CNY100M/Year", True),
    ("capital * rate * 2", "CNY100M/Year", True),          # numbers are Dmnl in products
    ("2 * share", "CNY100M", False),                         # ... so they carry no units
    ("1 - share", "Dmnl", True),                             # numbers adapt in sums
    ("(capital / labour) ^ 2", "CNY100M^2/Person10K^2", True),
    ("SQRT(capital * capital)", "CNY100M", True),
    ("capital ^ 0.5 * labour ^ 0.5", "CNY100M", False),     # fractional exponents kept
    ("RAMP(rate, start, 2020)", "Dmnl", True),               # slope * Year
    ("STEP(capital, start)", "CNY100M", True),
    ("STEP(capital, share)", "CNY100M", False),              # step time must be in Year
    ("ZIDZ(capital, labour)", "CNY100M/Person10K", True),
    ("EXP(rate * (Time - start))", "Dmnl", True),
    ("EXP(rate * Time)", "Dmnl", True),
    ("EXP(Time)", "Dmnl", False),                            # EXP of a Year
    ("(1 + rate) ^ (Time - start)", "Dmnl", False),          # rate is 1/Year, 1 adapts, ^ Year
    ("MAX(0, capital - 10)", "CNY100M", True),
    ("IF THEN ELSE(Time > start, capital, 0)", "CNY100M", True),
    ("-capital * rate", "CNY100M/Year", True),
    ("SMOOTH(capital, start - 2010)", "CNY100M", True),
    ("SMOOTH3(capital, share)", "CNY100M", False),           # smoothing time in Year
    ("DELAY FIXED(capital, 2, labour)", "CNY100M", False),   # initial value disagrees
    ("DELAY N(capital * rate, 3, 0, 4)", "CNY100M/Year", True),
    ("TREND(capital, 3, 0)", "1/Year", True),
    ("INITIAL(capital)", "CNY100M", True),
    ("INITIAL(labour)", "CNY100M", False),
    ("SAMPLE IF TRUE(Time > start, capital, capital)", "CNY100M", True),
])
def test_inference_rules(tmp_path, equation, units, ok):
    path = _model(tmp_path, BASE + [("x", equation, units)])
    problems = [p for p in check_units(path) if p.variable == "x"]
    assert (problems == []) == ok, "\n".join(map(str, problems))
