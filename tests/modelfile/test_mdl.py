"""The .mdl reader (sim.modelfile.mdl): groups, kinds, units, limits, comments, dependencies."""
from pathlib import Path

import pytest

from sim.modelfile.mdl import normalise, read_mdl

TOOLING = Path(__file__).parents[1] / "models" / "tooling"


@pytest.fixture(scope="module")
def model():
    return read_mdl(TOOLING / "correct.mdl")


def test_groups_in_file_order(model):
    assert model.groups == ["Economy", "Population", "Control"]
    assert [e.name for e in model.in_group("Control")] == [
        "FINAL TIME", "INITIAL TIME", "SAVEPER", "TIME STEP"]
    assert model["capital"].group == "Economy"
    assert model["policy year"].group == "Population"


@pytest.mark.parametrize("name, kind", [
    ("capital", "stock"), ("population", "stock"), ("initial capital", "constant"),
    ("growth effect f", "lookup"), ("GDP real", "auxiliary"),
    ("smoothed GDP", "auxiliary"), ("SAVEPER", "control"), ("TIME STEP", "control"),
])
def test_kinds(model, name, kind):
    assert model[name].kind == kind


def test_units_limits_and_comment_are_separated(model):
    share = model["investment share"]
    assert share.units == "Dmnl"
    assert share.limits == (0.0, 1.0)
    assert share.comment == "Share of GDP invested."
    assert model["initial capital"].limits == (0.0, None)     # "[0,?]"
    assert model["GDP real"].limits is None
    assert model["GDP per capita"].units == "CNY/(Person*Year)"


def test_equation_text_is_the_right_hand_side(model):
    assert model["GDP real"].equation == "capital*output capital ratio"
    assert model["capital"].equation.startswith("INTEG")


def test_dependencies_use_names_as_written(model):
    assert model["GDP per capita"].dependencies == [
        "GDP real", "yuan per 100M", "population", "person per 10K"]
    assert model["capital"].dependencies == ["investment", "depreciation", "initial capital"]
    # a lookup called as a function is a dependency; built-in functions are not
    assert "growth effect f" in model["effect on births"].dependencies
    assert set(model["capped births"].dependencies) == {"births", "deaths", "Time", "policy year"}


def test_flows_are_the_terms_of_integ_rates(model):
    assert model.flows == {"investment", "depreciation", "births", "deaths"}


def test_lookup_by_name_ignores_case_and_underscores(model):
    assert model["gdp_real"] is model["GDP real"]
    assert normalise('"GDP  Real"') == "gdp_real"
    with pytest.raises(KeyError, match="no element named"):
        model["no such thing"]


def test_undefined_reference_is_a_clear_error(tmp_path):
    src = (TOOLING / "err_sum.mdl").read_text().replace("VA services=", "VA servics=")
    (tmp_path / "bad.mdl").write_text(src)
    with pytest.raises(ValueError, match=r"bad\.mdl.*GDP real.*va_services"):
        read_mdl(tmp_path / "bad.mdl")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mdl"):
        read_mdl(tmp_path / "nope.mdl")
