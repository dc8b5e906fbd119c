"""Target measures on synthetic series, target-file validation and the scorecard table."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.policy.scenario import ValidationError
from sim.policy.targets import (SCORECARD_COLUMNS, Target, events_needed, load_targets, measure, read_targets,
                                scorecard, validate_targets, year_reached)
from sim.report.scorecard import format_table, to_markdown

YEARS = np.arange(2010.0, 2031.0)
FIXTURE = Path(__file__).parents[1] / "models" / "scenario" / "scenarios" / "targets.yaml"


def target(**kw) -> Target:
    base = dict(base_id="t", name={"zh": "目标", "en": "Target"}, horizon="first", year=2020.0,
                start=2015.0, indicator="x", measure="value_in_year", comparator=">=",
                threshold=1.0, unit="u", clause="(三)", basis="explicit")
    base.update(kw)
    return Target(**base)


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns, index=pd.Index(YEARS, name="time"))


# ------------------------------------------------------------------ measures
def test_avg_growth_is_the_geometric_mean_from_base_to_horizon_year():
    # growth differs every year, so an arithmetic mean or the wrong years would differ
    rates = np.linspace(0.05, 0.25, YEARS.size)
    x = 100 * np.cumprod(np.r_[1.0, 1 + rates[1:]])
    df = frame(x=x)
    t = target(measure="avg_growth", comparator=">=", threshold=14.0, unit="%/yr")
    expected = 100 * ((x[10] / x[5]) ** (1 / 5) - 1)          # 2015 → 2020
    assert measure(df, t) == pytest.approx(expected, rel=1e-12)
    assert measure(df, t) != pytest.approx(100 * np.mean(rates[6:11]), rel=1e-6)
    arithmetic_wrong_years = 100 * ((x[10] / x[6]) ** (1 / 4) - 1)
    assert measure(df, t) != pytest.approx(arithmetic_wrong_years, rel=1e-6)


def test_avg_growth_threshold_met_exactly_passes_and_gives_that_year():
    x = 100 * 1.14 ** (YEARS - 2010)                          # exactly 14 %/yr
    t = target(measure="avg_growth", threshold=14.0, unit="%/yr")
    card = scorecard({"s": frame(x=x)}, [t])
    row = card.iloc[0]
    assert row["value"] == pytest.approx(14.0, abs=1e-9)
    assert bool(row["passed"]) and row["margin"] == pytest.approx(0.0, abs=1e-9)
    assert row["year_reached"] == 2016.0                      # first Y > base with growth(base→Y) ≥ 14
    strict = target(measure="avg_growth", comparator=">", threshold=14.0)
    assert not scorecard({"s": frame(x=x)}, [strict]).iloc[0]["passed"]


def test_growth_year_reached_is_first_year_whose_base_to_year_growth_meets_threshold():
    # 10 %/yr until 2017, then 20 %/yr: growth 2015→Y reaches 14 % first in Y = 2019
    g = np.where(YEARS <= 2017, 0.10, 0.20)
    x = 100 * np.cumprod(np.r_[1.0, 1 + g[1:]])
    t = target(measure="avg_growth", threshold=14.0)
    growth = {int(y): 100 * ((x[int(y) - 2010] / x[5]) ** (1 / (y - 2015)) - 1) for y in range(2016, 2021)}
    first = min(y for y, v in growth.items() if v >= 14.0)
    assert year_reached(frame(x=x), t) == first == 2019


def test_never_met_gives_no_year_and_fails():
    x = 100 * 1.05 ** (YEARS - 2010)
    for t in (target(measure="avg_growth", threshold=14.0),
              target(measure="value_in_year", threshold=1e6),
              target(measure="max_over", comparator=">=", threshold=1e6),
              target(measure="ratio_change", threshold=1e6)):
        row = scorecard({"s": frame(x=x)}, [t]).iloc[0]
        assert not row["passed"]
        assert math.isnan(row["year_reached"]), t.measure
        assert row["margin"] < 0


def test_falling_indicator_growth_target_with_less_or_equal():
    ei = 1.0 * 0.96 ** (YEARS - 2010)                         # falls 4 %/yr
    t = target(measure="avg_growth", comparator="<=", threshold=-3.2)
    row = scorecard({"s": frame(x=ei)}, [t]).iloc[0]
    assert row["value"] == pytest.approx(-4.0)
    assert row["passed"] and row["margin"] == pytest.approx(0.8)


def test_value_in_year_uses_scale_and_horizon_year():
    share = np.linspace(0.3, 0.9, YEARS.size)                 # 0.03 a year
    t = target(measure="value_in_year", threshold=60.0, scale=100.0, unit="%")
    assert measure(frame(x=share), t) == pytest.approx(100 * share[10])
    # first saved year meeting 60 % without events: 2020 (0.3 + 10*0.03 = 0.6, met exactly)
    assert year_reached(frame(x=share), t) == 2020.0


def test_value_in_year_takes_year_from_event_times_and_start_when_already_met():
    share = np.linspace(0.3, 0.9, YEARS.size)
    t = target(measure="value_in_year", threshold=60.0, scale=100.0)
    (req,) = events_needed([t])
    assert (req.variable, req.threshold, req.direction) == ("x", pytest.approx(0.6), "up")
    assert year_reached(frame(x=share), t, {req.key: 2019.37}) == 2019.37
    assert math.isnan(year_reached(frame(x=share * 0.1), t, {req.key: None}))
    already = target(measure="value_in_year", threshold=10.0, scale=100.0)
    assert year_reached(frame(x=share), already, {}) == 2010.0
    low = target(measure="value_in_year", comparator="<=", threshold=0.5)
    assert events_needed([low])[0].direction == "down"


def test_only_level_targets_on_one_variable_ask_for_events():
    ts = [target(measure="value_in_year"), target(base_id="g", measure="avg_growth"),
          target(base_id="r", measure="value_in_year", denominator="y")]
    assert [r.variable for r in events_needed(ts)] == ["x"]


def test_ratio_change_of_a_variable_and_of_two_variables():
    a = np.linspace(1.0, 3.0, YEARS.size)
    b = np.linspace(2.0, 2.0, YEARS.size)
    t = target(measure="ratio_change", threshold=0.1)
    assert measure(frame(x=a), t) == pytest.approx(a[10] - a[5])
    t2 = target(measure="ratio_change", denominator="y", threshold=0.1)
    assert measure(frame(x=a, y=b), t2) == pytest.approx((a[10] - a[5]) / 2.0)
    # change 2015→Y = 0.1*(Y-2015)/2: meets 0.1 first in 2017
    assert year_reached(frame(x=a, y=b), t2) == 2017.0


def test_min_and_max_over_the_window_only():
    x = np.where(YEARS < 2015, 100.0, 5.0)                    # big values before the window
    x[YEARS == 2018] = 7.0
    x[YEARS == 2025] = 50.0                                   # after the window
    assert measure(frame(x=x), target(measure="max_over", comparator="<=", threshold=7.0)) == 7.0
    assert measure(frame(x=x), target(measure="min_over", comparator=">=", threshold=5.0)) == 5.0
    # max over [2015, Y] >= 7 first holds in 2018
    assert year_reached(frame(x=x), target(measure="max_over", comparator=">=", threshold=7.0)) == 2018.0


def test_margin_is_positive_when_met_for_both_directions():
    up, down = target(comparator=">=", threshold=10.0), target(comparator="<", threshold=10.0)
    assert up.margin(12.0) == 2.0 and down.margin(8.0) == 2.0
    assert up.margin(8.0) == -2.0 and down.margin(12.0) == -2.0


def test_missing_indicator_column_names_target_and_suggests():
    with pytest.raises(KeyError, match="GDP real"):
        scorecard({"s": frame(**{"GDP reel": np.ones(YEARS.size)})}, [target(indicator="GDP real")])


# ------------------------------------------------------------------ the file
def test_fixture_targets_load_with_horizons_and_ids():
    ts = load_targets(FIXTURE, ["GDP real", "replacement share", "energy intensity"])
    assert [t.id for t in ts][:2] == ["gdp_growth_2020", "replacement_share_2020"]
    assert ts.by_id()["share_gain_2030"].start == 2020.0


def write_targets(tmp_path, mutate) -> Path:
    data = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_moving_a_horizon_is_one_edit(tmp_path):
    path = write_targets(tmp_path, lambda d: d["horizons"]["first"].update(year=2021))
    ts = load_targets(path)
    assert {t.id for t in ts if t.horizon == "first"} == {"gdp_growth_2021", "replacement_share_2021",
                                                          "energy_intensity_2021"}


@pytest.mark.parametrize("mutate, key, text", [
    (lambda d: d["targets"][0].update(measure="avg_grwth"), "targets[0] (gdp_growth).measure", "avg_growth"),
    (lambda d: d["targets"][0].update(comparator="=>"), "targets[0] (gdp_growth).comparator", "unknown comparator"),
    (lambda d: d["targets"][0].update(horizon="third"), "targets[0] (gdp_growth).horizon", "not defined"),
    (lambda d: d["targets"][3].pop("reasoning"), "targets[3] (share_gain).reasoning", "reasoning"),
    (lambda d: d["targets"][1]["name"].pop("zh"), "targets[1] (replacement_share).name.zh", "Chinese"),
    (lambda d: d["targets"][1].update(threshold="sixty"), "targets[1] (replacement_share).threshold", "number"),
    (lambda d: d["horizons"]["first"].update(base_year=2025), "horizons.first.base_year", "before"),
    (lambda d: d["targets"][1].update(id="gdp_growth"), "targets[1].id", "already defined at targets[0]"),
])
def test_target_file_errors_name_the_key(tmp_path, mutate, key, text):
    problems = validate_targets(write_targets(tmp_path, mutate))
    assert any(p.key == key and text in p.message for p in problems), problems
    assert all(p.file.endswith("targets.yaml") for p in problems)


def test_indicator_must_be_a_model_variable_when_variables_are_given(tmp_path):
    path = write_targets(tmp_path, lambda d: d["targets"][0].update(indicator="GDP reel"))
    assert validate_targets(path) == []
    problems = validate_targets(path, ["GDP real", "replacement share", "energy intensity"])
    assert len(problems) == 1 and "did you mean 'GDP real'" in problems[0].message


def test_all_target_problems_are_reported_together(tmp_path):
    def mutate(d):
        d["targets"][0]["measure"] = "nope"
        d["targets"][1]["comparator"] = "=="
    with pytest.raises(ValidationError) as err:
        load_targets(write_targets(tmp_path, mutate))
    assert len(err.value.problems) == 2


def test_malformed_targets_yaml_is_a_problem(tmp_path):
    path = tmp_path / "targets.yaml"
    path.write_text("horizons: {first: [\n", encoding="utf-8")
    ts, problems = read_targets(path)
    assert ts is None and "malformed YAML" in problems[0].message


# ------------------------------------------------------------------ the table
def test_scorecard_columns_rows_and_renderings():
    x = 100 * 1.15 ** (YEARS - 2010)
    ts = [target(base_id="a", measure="avg_growth", threshold=14.0),
          target(base_id="b", measure="value_in_year", threshold=1e9)]
    card = scorecard({"s1": frame(x=x), "s2": frame(x=x / 2)}, ts)
    assert list(card.columns) == SCORECARD_COLUMNS
    assert list(card["target"]) == ["a_2020", "b_2020"] * 2
    assert card["passed"].tolist() == [True, False, True, False]
    md = to_markdown(card)
    assert md.count("\n") == 2 + len(card) and "| s2 | b_2020 |" in md
    text = format_table(card)
    assert len(text.splitlines()) == 2 + len(card) and "—" in text   # never reached → dash


def test_goal_matrix_shows_pass_marks_values_and_counts():
    from sim.report.scorecard import format_matrix, goal_matrix

    rows = []
    for sc, vals in (("baseline", (10.0, 50.0)), ("plan", (15.0, 61.0))):
        for (target, thr, unit), v in zip((("growth_2020", 14.0, "%/yr"), ("share_2020", 60.0, "%")), vals):
            row = dict.fromkeys(SCORECARD_COLUMNS)
            row.update(scenario=sc, target=target, value=v, threshold=thr, comparator=">=",
                       unit=unit, passed=v >= thr, margin=v - thr)
            rows.append(row)
    card = pd.DataFrame(rows, columns=SCORECARD_COLUMNS)
    table = goal_matrix(card)
    assert list(table.columns) == ["goal", "baseline", "plan"]
    assert table.loc["growth_2020", "baseline"] == "✗ 10" and table.loc["share_2020", "plan"] == "✓ 61"
    assert table.loc["share_2020", "goal"] == ">= 60 %"
    text = format_matrix(card)
    assert text.splitlines()[-1].split() == ["goals", "met", "0/2", "2/2"]
