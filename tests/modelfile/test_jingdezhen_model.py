"""Claims about models/jingdezhen.mdl: it fits 2010-2015, behaves sensibly in extreme
conditions, conserves people, keeps its stocks non-negative over the lever box, and
documents every constant. Money in 亿元/yr (CNY100M/Year), people in 万人 (Person10K).
"""
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.modelfile.mdl import read_mdl
from sim.run import model_facts
from sim.policy.scenario import load_scenarios

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "jingdezhen.mdl"
LEVERS = ROOT / "scenarios" / "levers.yaml"
SCENARIOS = ROOT / "scenarios"
DATA = ROOT / "data" / "history_to_2015.csv"

TOLERANCE = 0.10  # relative error allowed per data point (issue 3)
YEARS = list(range(2010, 2031))


@pytest.fixture(scope="module")
def model():
    return sim.load_model(MODEL)


@pytest.fixture(scope="module")
def baseline(model):
    return sim.simulate(model)


@pytest.fixture(scope="module")
def mdl():
    return read_mdl(MODEL)


@pytest.fixture(scope="module")
def levers():
    return yaml.safe_load(LEVERS.read_text(encoding="utf-8"))["levers"]


@pytest.fixture(scope="module")
def history():
    if not DATA.exists():
        pytest.skip(f"data file not found: {DATA}")
    d = pd.read_csv(DATA)
    d["value"] = pd.to_numeric(d["value"], errors="coerce")
    return d


def series(history, indicator, source_contains="CSMAR"):
    """One value per year 2010-2015; where two sources give a year, the CSMAR row
    (one consistent series, republished city tables) is chosen."""
    rows = history[(history.indicator == indicator) & history.year.between(2010, 2015)]
    preferred = rows[rows.note.fillna("").str.contains(source_contains)]
    rows = preferred if not preferred.empty else rows
    return rows.groupby("year")["value"].last()


def relative_errors(model_values, data_values):
    return (np.asarray(model_values, float) / np.asarray(data_values, float)) - 1.0


# ---------------------------------------------------------------- fit to 2010-2015 data
def test_nominal_gdp_within_10_percent_2010_2015(baseline, history):
    data = series(history, "gdp")
    assert list(data.index) == list(range(2010, 2016))
    err = relative_errors(baseline.loc[data.index.astype(float), "GDP nominal"], data.values)
    assert np.all(np.abs(err) <= TOLERANCE), dict(zip(data.index, err.round(3)))


def test_real_growth_within_10_percent_2011_2015(baseline, history):
    # Growth in year t is GDP real(t) / GDP real(t-1) - 1; 2010's needs 2009, before the model starts.
    data = series(history, "gdp_real_growth").loc[2011:2015] / 100.0
    gdp = baseline["GDP real"]
    model_growth = [gdp.loc[float(y)] / gdp.loc[float(y - 1)] - 1.0 for y in data.index]
    err = relative_errors(model_growth, data.values)
    assert np.all(np.abs(err) <= TOLERANCE), dict(zip(data.index, err.round(3)))


def test_secondary_share_within_10_percent_2010_2015(baseline, history):
    data = series(history, "industry_structure_secondary_share") / 100.0
    err = relative_errors(baseline.loc[data.index.astype(float), "secondary industry share"], data.values)
    assert np.all(np.abs(err) <= TOLERANCE), dict(zip(data.index, err.round(3)))


def test_population_within_10_percent_2010_2015(baseline, history):
    data = series(history, "total_population_yearend_csmar")
    err = relative_errors(baseline.loc[data.index.astype(float), "total population"], data.values)
    assert np.all(np.abs(err) <= TOLERANCE), dict(zip(data.index, err.round(3)))


# ---------------------------------------------------------------- extreme conditions
NO_INVESTMENT = {"initial local investment rate": 0, "long run local investment rate": 0,
                 "outside capital share of GDP": 0, "credit and bonds": 0,
                 "government investment share": 0}
CAPITAL = ["capital traditional ceramics", "capital mining", "capital culture tourism",
           "capital high tech ceramics", "capital auto aviation", "capital biomed food",
           "capital modern services", "capital agriculture", "capital other industry",
           "capital other services"]


def test_without_investment_capital_decays_and_output_falls(model):
    df = sim.simulate(model, params=NO_INVESTMENT)
    assert (df["total investment"].abs() < 1e-9).all()
    for name in CAPITAL:
        assert (np.diff(df[name].values) < 0).all(), f"{name} does not decay"
    assert df["GDP real"].iloc[-1] < 0.8 * df["GDP real"].iloc[0]


def test_without_reserves_extraction_stops(model):
    df = sim.simulate(model, params={"initial clay reserves": 0, "initial coal reserves": 0,
                                     "clay exploration spending": 0})
    assert np.allclose(df["clay extraction"], 0) and np.allclose(df["coal extraction"], 0)
    assert np.allclose(df["VA mining"], 0)
    # the traditional ceramics sector pays the import premium instead
    assert (df["clay cost index"] > 1.4).all()


def test_reserves_deplete_and_raise_clay_cost_in_baseline(baseline):
    assert (np.diff(baseline["porcelain clay reserves"]) < 0).all()
    assert (np.diff(baseline["coal reserves"]) < 0).all()
    assert baseline["clay cost index"].iloc[-1] > baseline["clay cost index"].iloc[0]


def test_zero_retraining_means_no_reemployment_via_training(model):
    without = sim.simulate(model, params={"retraining rate": 0})
    with_training = sim.simulate(model, params={"retraining rate": 0.5})
    assert np.allclose(without["reemployment via training"], 0)
    assert np.allclose(without["workers in retraining"], 0)
    assert (with_training["reemployment via training"].iloc[1:] > 0).all()
    # more retraining empties the laid-off pool faster
    assert with_training["laid off workers"].iloc[5] < without["laid off workers"].iloc[5]


def lever_box_corners(levers, n_random=10, seed=20160101):
    """All-low, all-high and n_random seeded corners of the lever box."""
    lows = {lv["name"]: lv["range"][0] for lv in levers}
    highs = {lv["name"]: lv["range"][1] for lv in levers}
    rng = random.Random(seed)
    corners = [lows, highs]
    for _ in range(n_random):
        corners.append({name: rng.choice([lows[name], highs[name]]) for name in lows})
    return corners


def test_stocks_stay_non_negative_over_lever_box_corners(model, mdl, levers):
    stocks = [e.name for e in mdl.stocks]
    for corner in lever_box_corners(levers):
        df = sim.simulate(model, params=corner, return_columns=stocks + ["registered unemployment rate"])
        lowest = df[stocks].min()
        assert (lowest >= -1e-9).all(), lowest[lowest < -1e-9].to_dict()
        assert df["registered unemployment rate"].between(0, 1).all()


# ---------------------------------------------------------------- review fixes (docs/model_review.md)
BUDGET = ["fiscal resources", "mandatory spending", "discretionary budget", "lever spending actual",
          "government investment", "fiscal balance", "fiscal feasibility"]


@pytest.fixture(scope="module")
def scenario_runs(model):
    """Every scenario in scenarios/, as the main job runs it (params on the model's defaults)."""
    sset = load_scenarios(SCENARIOS)
    defaults = model_facts(model, sset.registry)["defaults"]
    return {sid: sim.simulate(model, params=sset.resolve(sid, defaults=defaults),
                              return_columns=BUDGET + ["GDP real", "central transfer", "provincial matching funds"])
            for sid in sset.ids()}


def test_budget_closes_in_every_scenario_and_at_the_lever_maximum(model, levers, scenario_runs):
    # E1: resources = mandatory + programmes + public investment + unspent balance (亿元/yr),
    # the balance is never negative and the programmes never spend more than the discretionary budget.
    highs = {lv["name"]: lv["range"][1] for lv in levers}
    runs = dict(scenario_runs, all_levers_high=sim.simulate(model, params=highs, return_columns=BUDGET))
    for sid, df in runs.items():
        spent = df["mandatory spending"] + df["lever spending actual"] + df["government investment"] + df["fiscal balance"]
        assert np.allclose(spent, df["fiscal resources"], rtol=1e-9), sid
        assert (df["fiscal balance"] >= -1e-9).all(), (sid, df["fiscal balance"].min())
        assert (df["lever spending actual"] <= df["discretionary budget"] + 1e-9).all(), sid
    # the all-high corner asks for more than the budget: the constraint binds
    assert runs["all_levers_high"]["fiscal feasibility"].min() < 0.9


def test_transfers_reach_the_programmes_and_investment(model, scenario_runs):
    # E2: every yuan of central transfer and provincial matching is spent on the lever
    # programmes or on public investment (government investment share 1), none of it
    # disappears into mandatory spending.
    cols = ["lever spending actual", "government investment", "mandatory spending"]
    low = sim.simulate(model, params={"central transfer": 0}, return_columns=cols + ["GDP real"])
    high = sim.simulate(model, params={"central transfer": 10, "provincial matching ratio": 0.5},
                        return_columns=cols + ["GDP real"])
    # only second-order feedback (more GDP -> more revenue) on top of the 15 亿元/yr
    extra = (high["lever spending actual"] + high["government investment"]) - (low["lever spending actual"] + low["government investment"])
    assert (extra.loc[2010.0] == pytest.approx(15.0, rel=1e-6))
    assert (extra >= 15.0 - 1e-6).all()
    assert high["GDP real"].iloc[-1] > 1.01 * low["GDP real"].iloc[-1]
    # and the no_transfers scenario differs from the plan once the transfers stop (2016)
    plan, none = scenario_runs["plan"], scenario_runs["no_transfers"]
    gap = (plan["lever spending actual"] + plan["government investment"]) - (none["lever spending actual"] + none["government investment"])
    assert np.allclose(gap.loc[:2015.0], 0, atol=1e-9)
    assert (gap.loc[2017.0:] > 0.9 * (plan["central transfer"] + plan["provincial matching funds"]).loc[2017.0:]).all()
    assert plan["GDP real"].loc[2030.0] > none["GDP real"].loc[2030.0]


def test_retraining_lowers_unemployment_and_hires_never_exceed_vacancies(model):
    # E3: trainees are hired only into vacancies, competing with everyone else, so total
    # unemployment (not just the laid-off label) falls when more workers are retrained.
    cols = ["unemployed", "registered unemployment rate", "laid off workers", "hires other from unemployed",
            "direct reemployment of laid off", "reemployment via training", "vacancies other", "job finding rate"]
    none = sim.simulate(model, params={"retraining rate": 0}, return_columns=cols)
    full = sim.simulate(model, params={"retraining rate": 1}, return_columns=cols)
    for year in (2015.0, 2020.0):
        assert full.loc[year, "unemployed"] < none.loc[year, "unemployed"]
        assert full.loc[year, "laid off workers"] < none.loc[year, "laid off workers"]
    for df in (none, full):
        hires = df["hires other from unemployed"] + df["direct reemployment of laid off"] + df["reemployment via training"]
        assert (hires <= df["job finding rate"] * df["vacancies other"] + 1e-9).all()


def test_unemployment_rate_is_measured_on_the_urban_labour_force(baseline):
    # E4/S4: 城镇登记失业率 = unemployed / (non-farm employment + unemployed); 2010 = data 3.2 %.
    urban = baseline["employment total"] - baseline["employment agriculture"] + baseline["unemployed"]
    assert np.allclose(baseline["registered unemployment rate"], baseline["unemployed"] / urban)
    assert baseline.loc[2010.0, "registered unemployment rate"] == pytest.approx(0.032, rel=1e-9)


def test_growth_does_not_destroy_jobs(model, baseline):
    # E4: more investment (credit and bonds at its maximum) means more jobs, not fewer,
    # and 2010-2015 employment rises (as the urban employment series in the data do).
    fast = sim.simulate(model, params={"credit and bonds": 60})
    assert fast.loc[2030.0, "GDP real"] > 1.05 * baseline.loc[2030.0, "GDP real"]
    assert fast.loc[2030.0, "employment total"] > baseline.loc[2030.0, "employment total"]
    assert baseline.loc[2015.0, "employment total"] > baseline.loc[2010.0, "employment total"]


def test_innovation_and_talent_have_diminishing_bounded_returns(model, baseline, levers):
    # E5: the top of each lever's range cannot double GDP, and the second half of the range
    # adds less than the first half.
    for name in ("innovation spending", "talent spending"):
        low, high = next(lv["range"] for lv in levers if lv["name"] == name)
        gdp = [sim.simulate(model, params={name: v}, return_columns=["GDP real"])["GDP real"].iloc[-1]
               for v in (low, (low + high) / 2, high)]
        assert gdp[2] < 1.3 * baseline["GDP real"].iloc[-1], name
        assert gdp[2] - gdp[1] < gdp[1] - gdp[0], name


def test_technical_ceilings_hold_at_the_lever_maximum(model, mdl, levers):
    # E6: waste reuse stays below 100 % and efficiency below its technical limit even with
    # every lever at the top of its range.
    highs = {lv["name"]: lv["range"][1] for lv in levers}
    cols = ["solid waste utilisation rate", "waste utilised from current generation",
            "industrial solid waste generation", "energy efficiency index", "energy efficiency gain"]
    df = sim.simulate(model, params=highs, return_columns=cols)
    cap = float(mdl["maximum utilisable fraction of waste"].equation)
    limit = float(mdl["maximum energy efficiency index"].equation)
    assert cap < 1
    assert (df["waste utilised from current generation"] <= cap * df["industrial solid waste generation"] + 1e-9).all()
    assert df["solid waste utilisation rate"].max() < 0.99
    assert df["energy efficiency index"].max() <= limit + 1e-9
    # the gain slows as the limit approaches
    assert df["energy efficiency gain"].iloc[-1] < df["energy efficiency gain"].iloc[5]


# ---------------------------------------------------------------- conservation
def test_population_change_equals_integrated_flows(model):
    times = np.round(np.arange(2010, 2030 + 1e-9, 0.05), 6)
    df = sim.simulate(model, times=times,
                      return_columns=["total population", "births", "deaths", "net migration"])
    net = (df["births"] - df["deaths"] + df["net migration"]).values
    integrated = np.concatenate([[0.0], np.cumsum(np.diff(times) * (net[1:] + net[:-1]) / 2)])
    change = df["total population"].values - df["total population"].values[0]
    assert np.allclose(change, integrated, rtol=1e-3, atol=1e-3)
    assert abs(change[-1]) > 1.0  # the check is not vacuous


def test_labour_force_is_employed_plus_unemployed(baseline):
    lf = baseline["labour force"]
    assert np.allclose(lf, baseline["employment total"] + baseline["unemployed"])
    assert np.allclose(baseline["unemployed"], baseline["general unemployed"] + baseline["laid off untrained"]
                       + baseline["workers in retraining"] + baseline["retrained job seekers"])
    assert np.allclose(baseline["employment total"],
                       baseline["employment traditional"] + baseline["employment other"])
    # and it follows the population it is drawn from (within 3 %)
    ratio = lf / (baseline["total population"] * baseline["participation ratio"])
    assert ratio.between(0.97, 1.03).all()


def test_gdp_is_the_sum_of_sectors_and_shares_add_up(baseline):
    va = [c for c in baseline.columns if c.startswith("VA ") and not c.endswith("2010")]
    assert len(va) == 10
    assert np.allclose(baseline[va].sum(axis=1), baseline["GDP real"])
    shares = baseline[["primary industry share", "secondary industry share", "tertiary industry share"]]
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert np.allclose(baseline["GDP nominal"], baseline["GDP real"] * baseline["GDP deflator"])


# ---------------------------------------------------------------- contracts and documentation
def design_table():
    """(name, units) rows of the key-variable table in docs/design.md."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("## Key model variables", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows.append((name, cells[1]))
    return rows


def test_key_variables_have_design_names_and_units(mdl):
    rows = design_table()
    assert len(rows) >= 30
    for name, units in rows:
        assert name in mdl, f"{name} missing from the model"
        assert mdl[name].units.replace(" ", "") == units.replace(" ", ""), (name, mdl[name].units, units)


def test_every_module_is_a_group(mdl):
    for group in ["Resource base", "Economy", "Investment and finance", "Labour and population",
                  "Energy", "Solid waste", "Social security", "Public finance"]:
        assert mdl.in_group(group), group
    assert 30 <= len(mdl.stocks) <= 60


def test_every_constant_has_units_and_a_source(mdl):
    numeric = re.compile(r"(?<![A-Za-z\d.])\d*\.?\d+(?:e-?\d+)?(?![A-Za-z\d.])")
    missing = []
    for e in mdl.elements:
        if e.kind == "control":
            continue
        if not e.units:
            missing.append(f"{e.name}: no units")
        has_number = e.kind in ("constant", "lookup") or bool(
            {n for n in numeric.findall(e.equation or "")} - {"0", "1", "1e-06", "0.5", "2010"})
        if has_number:
            if not re.search(r"source:|assumption|derived|LEVER", e.comment):
                missing.append(f"{e.name}: no source in comment")
    assert not missing, missing


def test_lever_registry_matches_the_model(mdl, levers):
    assert 12 <= len(levers) <= 32
    for lever in levers:
        element = mdl[lever["name"]]
        assert element.kind == "constant", lever["name"]
        assert element.units == lever["unit"], (lever["name"], element.units, lever["unit"])
        low, high = lever["range"]
        assert low <= float(element.equation) <= high, f"{lever['name']}: baseline outside range"
        assert "LEVER" in element.comment and lever["en"] and lever["zh"]


def test_units_are_consistent():
    from sim.modelfile.units import check_units

    problems = check_units(MODEL)
    assert not problems, "\n".join(map(str, problems))
