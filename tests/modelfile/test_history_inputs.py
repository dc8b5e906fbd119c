"""The observed inputs the model carries (issue 12) come from data/ and behave as stated.

Every point of the model's history lookups is recomputed here from the raw rows of
``data/`` (so the .mdl and the data cannot drift apart), and the history switches are
tested by sign and extreme conditions: what a run knows stops at ``history end year``;
the 2020 epidemic is on only in runs that know 2020; the census revision changes the
published GDP level and nothing real; credit and bonds build a debt whose interest the
budget pays, up to a borrowing limit.  Money in 亿元 (CNY100M), people in 万人.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.modelfile.mdl import read_mdl

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "jingdezhen.mdl"
DATA = [ROOT / "data" / "history_to_2015.csv", ROOT / "data" / "history_2016_2020.csv"]
YEARS = range(2010, 2021)


@pytest.fixture(scope="module")
def raw():
    d = pd.concat([pd.read_csv(p) for p in DATA], ignore_index=True)
    d["value"] = pd.to_numeric(d["value"], errors="coerce")
    return d


def pick(raw, indicator, prefer=None) -> pd.Series:
    """One value per year; where two rows give a year, the one whose source_url contains
    ``prefer`` (the choice data/reconciliation.yaml makes)."""
    rows = raw[raw.indicator == indicator]
    if prefer:
        chosen = rows[rows.source_url.str.contains(prefer, regex=False)]
        rows = pd.concat([chosen, rows[~rows.year.isin(chosen.year)]])
    counts = rows.groupby("year").size()
    assert (counts == 1).all(), f"{indicator}: unresolved duplicates in {list(counts[counts > 1].index)}"
    return rows.set_index("year")["value"].sort_index()


def lookup_points(mdl, name) -> dict[float, float]:
    """The (x, y) points of a lookup as written in the .mdl."""
    eq = mdl[name].equation
    pairs = [tuple(map(float, p.split(","))) for p in
             eq[eq.index("]") + 1:].replace(" ", "").strip(",()").split("),(")]
    return dict(pairs)


@pytest.fixture(scope="module")
def mdl():
    return read_mdl(MODEL)


@pytest.fixture(scope="module")
def model():
    return sim.load_model(MODEL)


def run(model, **params):
    return sim.simulate(model, params={k.replace("_", " "): v for k, v in params.items()})


# ------------------------------------------------------------ lookups = data

def test_deflator_points_are_nominal_over_chained_real_gdp(raw, mdl):
    gdp = pick(raw, "gdp", prefer="CRE_Gdpct")
    growth = pick(raw, "gdp_real_growth", prefer="mudaan.com")   # 2019: bulletin 7.8, not CSMAR 7.7
    jx_gdp = pick(raw, "jx_gdp_revised")
    jx_growth = pick(raw, "jx_gdp_real_growth")
    points = lookup_points(mdl, "GDP deflator table")
    real = gdp[2010] * np.cumprod([1.0] + [1 + growth[y] / 100 for y in range(2011, 2021)])
    real = pd.Series(real, index=list(YEARS))
    expected = {y: gdp[y] / real[y] for y in range(2010, 2018)}
    jx_deflator_2018 = jx_gdp[2018] / jx_gdp[2017] / (1 + jx_growth[2018] / 100)
    expected[2018] = expected[2017] * jx_deflator_2018
    factor = gdp[2018] / (gdp[2017] * (1 + growth[2018] / 100) * jx_deflator_2018)
    for y in (2019, 2020):
        expected[y] = gdp[y] / (real[y] * factor)
    for y in YEARS:
        assert points[float(y)] == pytest.approx(expected[y], abs=6e-6), y
    assert float(mdl["census GDP level factor"].equation) == pytest.approx(factor, abs=5e-5)


def test_jiangxi_points_are_the_published_series(raw, mdl):
    growth = pick(raw, "jx_gdp_real_growth")
    index = lookup_points(mdl, "Jiangxi real GDP index table")
    chained = np.cumprod([1.0] + [1 + growth[y] / 100 for y in range(2011, 2021)])
    for y, value in zip(YEARS, chained):
        assert index[float(y)] == pytest.approx(value, abs=6e-6), y
    per_capita = lookup_points(mdl, "Jiangxi GDP per capita table")
    revised, first = pick(raw, "jx_gdp_per_capita_revised"), pick(raw, "jx_gdp_per_capita")
    for y in range(2016, 2021):
        assert per_capita[float(y)] == revised[y]
    for y in (2014, 2015):
        assert per_capita[float(y)] == first[y]
    assert float(mdl["Jiangxi planned growth 2016 to 2020"].equation) == \
        pick(raw, "jx_gdp_growth_target_13th_fyp")[2020] / 100


def test_demography_and_fiscal_points_are_the_published_series(raw, mdl):
    natural = lookup_points(mdl, "natural growth rate table")
    for y, v in pick(raw, "natural_growth_rate").items():
        assert natural[float(y)] == pytest.approx(v / 1000, abs=1e-7), y
    assert float(mdl["population 2010"].equation) == pick(raw, "resident_population_census")[2010]
    assert float(mdl["population 2015"].equation) == pick(raw, "resident_population_revised_series")[2015]
    ratio = lookup_points(mdl, "fiscal revenue share table")
    revenue, gdp = pick(raw, "fiscal_total_revenue"), pick(raw, "gdp", prefer="CRE_Gdpct")
    for y in (2007, 2016):
        assert ratio[float(y)] == pytest.approx(revenue[y] / gdp[y], abs=6e-5), y


# ------------------------------------------------------------ vantage: what a run knows

@pytest.fixture(scope="module")
def seen_from_2015(model):
    return run(model, history_end_year=2015)


@pytest.fixture(scope="module")
def seen_from_2020(model):
    return sim.simulate(model)


def test_runs_from_both_vantages_agree_until_2015_then_part(seen_from_2015, seen_from_2020):
    cols = ["GDP real", "GDP nominal", "total population", "Jiangxi real GDP index", "public debt"]
    a, b = seen_from_2015.loc[:2015.0, cols], seen_from_2020.loc[:2015.0, cols]
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-5)
    assert not np.isclose(seen_from_2015.loc[2020.0, "GDP nominal"], seen_from_2020.loc[2020.0, "GDP nominal"],
                          rtol=1e-3)


def test_the_epidemic_is_history_not_foresight(seen_from_2015, seen_from_2020):
    def growth(df, y):
        return df.loc[float(y), "GDP real"] / df.loc[float(y - 1), "GDP real"] - 1
    # seen from 2020 the city loses output in 2020 (data: 3.7 % growth after 7.8 %) ...
    assert growth(seen_from_2020, 2020) < growth(seen_from_2020, 2019) - 0.03
    # ... seen from 2015 nobody knew: no dip
    assert growth(seen_from_2015, 2020) > growth(seen_from_2015, 2019) - 0.01
    assert (seen_from_2015["output disruption factor"] == 1).all()


def test_ex_ante_runs_use_the_provinces_plan_and_the_old_basis(seen_from_2015, seen_from_2020):
    jx = seen_from_2015["Jiangxi real GDP index"]
    assert jx.loc[2020.0] / jx.loc[2015.0] == pytest.approx(np.exp(5 * 0.085), rel=1e-6)
    assert (seen_from_2015["GDP statistical basis"] == 1).all()
    assert seen_from_2020.loc[2017.0, "GDP statistical basis"] == 1
    assert seen_from_2020.loc[2018.0, "GDP statistical basis"] < 0.9


def test_after_the_history_prices_grow_at_the_known_average_plus_the_offset(model, seen_from_2020):
    d = seen_from_2020["GDP deflator"]
    known = np.log(d.loc[2020.0]) / 10
    assert np.log(d.loc[2030.0] / d.loc[2020.0]) / 10 == pytest.approx(known, rel=1e-6)
    dearer = run(model, GDP_inflation_rate_offset=0.01)
    assert dearer.loc[2030.0, "GDP nominal"] > seen_from_2020.loc[2030.0, "GDP nominal"] * 1.09
    np.testing.assert_allclose(dearer["GDP real"], seen_from_2020["GDP real"], rtol=1e-6)


def test_the_census_revision_moves_published_levels_only(model, seen_from_2020):
    deeper = run(model, census_GDP_level_factor=0.8)
    for col in ("GDP real", "total population", "public debt", "fiscal revenue nominal"):
        np.testing.assert_allclose(deeper[col], seen_from_2020[col], rtol=1e-6, err_msg=col)
    ratio = deeper["GDP nominal"] / seen_from_2020["GDP nominal"]
    assert np.allclose(ratio.loc[:2017.0], 1) and np.allclose(ratio.loc[2018.0:], 0.8 / 0.8616, rtol=1e-6)


def test_a_future_shock_takes_output_for_about_a_year(model, seen_from_2020):
    shocked = run(model, future_shock_depth=0.05, future_shock_delay=5)
    loss = 1 - shocked["GDP real"] / seen_from_2020["GDP real"]
    assert loss.loc[:2024.0].abs().max() < 1e-6
    assert loss.loc[2025.0] == pytest.approx(0.05, abs=0.01)
    assert loss.loc[2027.0:].abs().max() < 0.02          # a scar through lost investment only


def test_slower_jiangxi_makes_the_city_look_relatively_better(model, seen_from_2020):
    slow = run(model, Jiangxi_real_growth_after_2020=0.035)
    assert (slow.loc[2021.0:, "real GDP relative to Jiangxi"]
            > seen_from_2020.loc[2021.0:, "real GDP relative to Jiangxi"]).all()
    np.testing.assert_allclose(slow["GDP real"].loc[:2020.0], seen_from_2020["GDP real"].loc[:2020.0], rtol=1e-6)


def test_natural_growth_drives_population(model, seen_from_2020):
    deadly = run(model, death_rate=0.01)      # births = natural growth + death rate: unchanged
    np.testing.assert_allclose(deadly["births"] - deadly["deaths"],
                               deadly["total population"] * deadly["natural growth rate"], rtol=1e-9)
    assert seen_from_2020.loc[2030.0, "natural growth rate"] == pytest.approx(0.0068962)


# ------------------------------------------------------------ credit and bonds create debt

def test_borrowing_builds_debt_and_interest_that_squeeze_the_budget(model, seen_from_2020):
    cols = ["public debt", "interest payments", "discretionary budget", "credit and bonds actual"]
    more = sim.simulate(model, params={"credit and bonds": 20}, return_columns=cols)
    none = sim.simulate(model, params={"credit and bonds": 0}, return_columns=cols)
    base = seen_from_2020
    assert (more.loc[2011.0:, "public debt"] > base.loc[2011.0:, "public debt"]).all()
    assert (none.loc[2011.0:, "public debt"] < base.loc[2011.0:, "public debt"]).all()
    assert none.loc[2030.0, "public debt"] == pytest.approx(100 * np.exp(-2.0), rel=1e-3)   # maturity 10 yr
    assert (more.loc[2012.0:, "interest payments"] > base.loc[2012.0:, "interest payments"]).all()
    assert (more.loc[2012.0:, "discretionary budget"] < base.loc[2012.0:, "discretionary budget"]).all()


def test_the_borrowing_limit_binds_at_the_levers_maximum(model):
    df = sim.simulate(model, params={"credit and bonds": 60},
                      return_columns=["public debt", "borrowing limit", "credit and bonds actual",
                                      "fiscal balance", "interest payments"])
    assert (df["public debt"] <= df["borrowing limit"] * 1.01 + 1e-6).all()
    assert df["credit and bonds actual"].min() < 60 - 1          # the limit cut the borrowing
    assert (df["fiscal balance"] >= -1e-9).all()                  # interest always paid
    assert (df["public debt"] >= 0).all()
