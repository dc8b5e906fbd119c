"""The actual column: published outcomes judged by the scorecard's own measure, set beside
the scenarios' verdicts (confirmed / reversed), in the scorecard and the goal matrix."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.history import (CONFIRMED, NO_FIGURE, NOT_TESTABLE, PUBLISHED, REVERSED, actual_outcome,
                         actual_outcomes, check_actuals, comparable_series, read_history,
                         reality_check)
from sim.policy.targets import Target, load_targets, measure, read_targets, scorecard
from sim.report.scorecard import format_matrix, goal_matrix

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ROOT / "scenarios" / "targets.yaml"


@pytest.fixture(scope="module")
def targets():
    return load_targets(TARGETS)


@pytest.fixture(scope="module")
def actual(targets):
    return actual_outcomes(targets).set_index("target")


def _raw(indicator, year):
    raw = read_history()
    return raw[(raw["indicator"] == indicator) & (raw["year"] == year)]["value"].tolist()


def test_actual_gdp_2020_is_the_published_figure_and_misses_the_goal(actual):
    row = actual.loc["gdp_total_2020"]
    assert row["status"] == PUBLISHED
    assert _raw("gdp", 2020) == [row["value"]] == [pytest.approx(957.1364)]
    assert row["passed"] is False                      # 957.14 is not above 1000
    assert "oracleblog" in row["source"]


def test_actual_growth_is_the_geometric_mean_of_the_published_rates(actual):
    obs = comparable_series()
    rates = obs.loc[2016:2020, "gdp_real_growth"]
    expected = 100 * (np.prod(1 + rates / 100) ** (1 / 5) - 1)
    assert actual.at["gdp_growth_2020", "value"] == pytest.approx(expected)
    assert 7 < expected < 8 and actual.at["gdp_growth_2020", "passed"] is False


def test_the_city_did_not_grow_faster_than_the_province(actual):
    row = actual.loc["growth_above_province_2020"]
    assert row["status"] == PUBLISHED and row["value"] < 0 and row["passed"] is False


def test_targets_without_data_say_so(actual):
    assert actual.at["replacement_share_2020", "status"] == NO_FIGURE
    assert actual.at["unemployment_2020", "status"] == NO_FIGURE
    row = actual.loc["gdp_per_capita_rank_2030"]
    assert row["status"] == NOT_TESTABLE and "after the data" in row["reason"]
    assert "in 2020: 1.036" in row["reason"]           # what the data last said


def test_a_window_across_a_level_break_is_not_testable(targets):
    t = next(t for t in targets if t.id == "growth_above_province_2020")
    per_capita = Target(**{**t.__dict__, "actual": {"series": "gdp_per_capita_relative_to_jiangxi",
                                                    "factor": 1.0, "note": ""}})
    row = actual_outcome(per_capita)
    assert row["status"] == NOT_TESTABLE and "2017|2018 in gdp" in row["reason"]
    level = next(t for t in targets if t.id == "gdp_total_2020")   # one year: no break involved
    assert actual_outcome(level)["status"] == PUBLISHED


def test_the_actual_uses_the_scorecards_measure(targets):
    """Same function, same window: a results frame holding the observed series as the
    model variable gives the scorecard the actual value."""
    obs = comparable_series()
    for t in targets:
        if t.actual and t.year <= 2020:
            frame = pd.DataFrame({t.indicator: obs[t.actual["series"]].dropna() * t.actual["factor"]})
            frame.index = frame.index.astype(float)
            assert measure(frame, t) == pytest.approx(actual_outcome(t)["value"])


def _card(targets, value_gdp):
    years = np.arange(2015, 2021, dtype=float)
    df = pd.DataFrame({v: np.linspace(1, 2, len(years)) for t in targets for v in t.variables()},
                      index=years)
    df["GDP nominal"] = np.linspace(800, value_gdp, len(years))
    return scorecard({"a": df}, [t for t in targets if t.year == 2020])


def test_reality_check_flags_reversed_and_confirmed_verdicts(targets):
    first = [t for t in targets if t.year == 2020]
    actual = actual_outcomes(first)
    met = reality_check(_card(targets, 1184.0), actual).set_index("target")
    assert met.at["gdp_total_2020", "reality"] == REVERSED        # model: met; published 957
    missed = reality_check(_card(targets, 950.0), actual).set_index("target")
    assert missed.at["gdp_total_2020", "reality"] == CONFIRMED
    assert met.at["gdp_total_2020", "actual_value"] == pytest.approx(957.1364)
    assert met.at["replacement_share_2020", "reality"] == NO_FIGURE
    text = format_matrix(reality_check(_card(targets, 1184.0), actual))
    line = next(l for l in text.splitlines() if l.startswith("gdp_total_2020"))
    assert "✗ 957.1" in line and "✓ 1184.0 †" in line
    assert "reality reversed" in text
    table = goal_matrix(reality_check(_card(targets, 1184.0), actual))
    assert list(table.columns[:2]) == ["goal", "actual"]


def _write(tmp_path, mutate):
    spec = yaml.safe_load(TARGETS.read_text(encoding="utf-8"))
    mutate(spec["targets"])
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_bad_actual_keys_are_reported_by_file_and_key(tmp_path):
    def mutate(ts):
        ts[0]["actual"] = {"series": "gdp_real_index", "factr": 2}
        ts[1]["actual"] = 42
        ts[2]["actual"] = {"series": "gdp_real_idx"}
    path = _write(tmp_path, mutate)
    ts, problems = read_targets(path)
    text = "\n".join(map(str, problems))
    assert "targets[0] (gdp_growth).actual.factr: unknown key (did you mean 'factor'?)" in text
    assert "targets[1] (growth_above_province).actual: expected an observed series id" in text
    unknown = check_actuals(ts, str(path))
    assert len(unknown) == 1 and str(unknown[0]).startswith(
        f"{path}: gdp_total_2020.actual.series: 'gdp_real_idx' is not a series of "
        "data/reconciliation.yaml (did you mean 'gdp_real_index'")


def test_dashboard_shows_the_actual_column_and_frames_reversed_verdicts(targets, tmp_path):
    import re
    from sim.report.dashboard import plot_dashboard
    from sim.report.style import save
    first = [t for t in targets if t.year == 2020]
    card = reality_check(_card(targets, 1184.0), actual_outcomes(first))
    fig = plot_dashboard(card, first, lang="en")
    text = save(fig, tmp_path / "dash", formats=("svg",))[0].read_text(encoding="utf-8")
    assert len(re.findall(r'id="cell:actual:', text)) == len(first)
    assert re.findall(r'id="reversed:a:([\w]+)"', text) == list(
        card.loc[card["reality"] == REVERSED, "target"])
    assert "gdp_total_2020" in card.loc[card["reality"] == REVERSED, "target"].tolist()
    plain = plot_dashboard(_card(targets, 1184.0), first, lang="en")   # no actual columns: as before
    text = save(plain, tmp_path / "plain", formats=("svg",))[0].read_text(encoding="utf-8")
    assert "cell:actual:" not in text and "reversed:" not in text


# --------------------------------------------------------------------------- figures (item 7)
def _run_frames(targets):
    years = np.arange(2010, 2031, dtype=float)
    df = pd.DataFrame({v: np.linspace(1, 2, len(years)) for t in targets for v in t.variables()},
                      index=years)
    df["GDP nominal"] = np.linspace(460, 2000, len(years))
    df["GDP real"] = 500 * 1.08 ** (years - 2010)
    return {"baseline": df, "plan": df * 1.01}


META = {"baseline": {"name": {"zh": "基准", "en": "Baseline"}, "policy_start": None},
        "plan": {"name": {"zh": "规划", "en": "Plan"}, "policy_start": 2016.0}}


def test_target_figure_draws_the_published_data_as_markers(targets):
    from sim.report.indicators import plot_target_indicator
    results = _run_frames(targets)
    obs = comparable_series()
    by_id = targets.by_id()
    fig = plot_target_indicator(results, by_id["gdp_total_2020"], None, META, lang="en",
                                observed=obs)
    ax = fig.axes[0]
    [points] = [ln for ln in ax.get_lines() if ln.get_gid() == "observed"]
    assert points.get_linestyle() == "None" and points.get_marker() == "o"   # markers, no line
    x, y = np.asarray(points.get_xdata()), np.asarray(points.get_ydata())
    assert x[0] == 2010 and x[-1] == 2020 and y[-1] == pytest.approx(957.1364)
    [divider] = [ln for ln in ax.get_lines() if ln.get_gid() == "projection_start"]
    assert np.asarray(divider.get_xdata())[0] == pytest.approx(2015.5)     # between 2015 and 2016
    caption = next(t for t in fig.texts if t.get_gid() == "caption").get_text()
    assert "data/history_*.csv" in caption
    # a growth target: the observed points are the same measure, 2016..2020 since 2015
    fig = plot_target_indicator(results, by_id["gdp_growth_2020"], None, META, lang="zh",
                                observed=obs)
    [points] = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "observed"]
    assert list(points.get_xdata()) == [2016, 2017, 2018, 2019, 2020]
    assert points.get_ydata()[-1] == pytest.approx(actual_outcome(by_id["gdp_growth_2020"])["value"])
    # no observed series: no points and no data source in the caption
    fig = plot_target_indicator(results, by_id["replacement_share_2020"], None, META, lang="en",
                                observed=obs)
    assert not [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "observed"]
    assert "data/" not in next(t for t in fig.texts if t.get_gid() == "caption").get_text()
