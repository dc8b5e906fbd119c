"""Calibration recovers known constants from synthetic history, and its statistics are right.

Synthetic data come from the small models in ``tests/models/calibration/`` run by
``sim.simulate`` with known constants, plus seeded noise.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import sim
from sim.analysis.calibrate import (CalibrationSpecError, SeriesSpec, _uncertainty, calibrate,
                                    fit_statistics, load_spec, model_measure)
from sim.report.calibration import main_calibrate, write_report

MODELS = Path(__file__).parents[1] / "models" / "calibration"
LOGISTIC = MODELS / "logistic.mdl"
LINEAR = MODELS / "linear.mdl"
TRUE_RATE, TRUE_CAPACITY = 0.35, 120.0          # 1/Year, Person10K


def write_csv(path: Path, rows: list[dict]) -> Path:
    """A data file shaped like history_to_2015.csv."""
    frame = pd.DataFrame(rows)
    for column, default in (("unit", ""), ("source_url", "synthetic"), ("note", "")):
        if column not in frame:
            frame[column] = default
    frame[["indicator", "year", "value", "unit", "source_url", "note"]].to_csv(path, index=False)
    return path


def rows_of(indicator: str, years, values, unit: str = "") -> list[dict]:
    return [{"indicator": indicator, "year": int(y), "value": float(v), "unit": unit}
            for y, v in zip(years, values)]


def write_spec(path: Path, **spec) -> Path:
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def logistic_history(tmp_path_factory) -> Path:
    """Population (10K persons) and its share of capacity (in %), 2000-2020, 3 % noise."""
    truth = sim.simulate(sim.load_model(LOGISTIC),
                         params={"growth rate": TRUE_RATE, "carrying capacity": TRUE_CAPACITY})
    years = np.arange(2000, 2021)
    rng = np.random.default_rng(20261127)
    population = truth.loc[years.astype(float), "population"].to_numpy()
    share_pct = 100 * truth.loc[years.astype(float), "population share of capacity"].to_numpy()
    noisy_population = population * (1 + 0.03 * rng.standard_normal(years.size))
    noisy_share = share_pct * (1 + 0.03 * rng.standard_normal(years.size))
    folder = tmp_path_factory.mktemp("logistic")
    return write_csv(folder / "history.csv",
                     rows_of("population", years, noisy_population, "万人")
                     + rows_of("population_share", years, noisy_share, "%"))


def logistic_spec(folder: Path, data: Path, **overrides) -> Path:
    spec = {
        "name": "logistic",
        "model": str(LOGISTIC),
        "parameters": [
            {"name": "growth rate", "initial": 0.2, "bounds": [0.05, 1.0]},
            {"name": "carrying capacity", "initial": 80, "bounds": [20, 400]},
        ],
        "series": [
            {"name": "population", "data": str(data), "indicator": "population",
             "variable": "population"},
            {"name": "share", "data": str(data), "indicator": "population_share",
             "variable": "population share of capacity", "scale": 0.01},
        ],
    }
    spec.update(overrides)
    return write_spec(folder / "logistic.yaml", **spec)


@pytest.fixture(scope="module")
def logistic_result(logistic_history):
    return calibrate(load_spec(logistic_spec(logistic_history.parent, logistic_history)))


# ---------------------------------------------------------------- recovery of constants


def test_true_constants_lie_inside_the_95_percent_intervals(logistic_result):
    params = logistic_result.parameters
    truth = {"growth rate": TRUE_RATE, "carrying capacity": TRUE_CAPACITY}
    for name, value in truth.items():
        row = params.loc[name]
        assert row["ci_low"] <= value <= row["ci_high"], (name, row.to_dict())
        # the intervals are informative, not merely wide enough to contain anything
        assert row["ci_high"] - row["ci_low"] < 0.05 * value, (name, row.to_dict())
    assert params["identifiable"].all()
    assert logistic_result.optimizer["success"]


def test_intervals_cover_the_truth_about_95_percent_of_the_time(tmp_path):
    """Twenty noisy histories (additive noise, sd 2): coverage and spread match the claim."""
    truth = sim.simulate(sim.load_model(LOGISTIC),
                         params={"growth rate": TRUE_RATE, "carrying capacity": TRUE_CAPACITY})
    years = np.arange(2000, 2021)
    clean = truth.loc[years.astype(float), "population"].to_numpy()
    fits = []
    for seed in range(20):
        noisy = clean + np.random.default_rng(seed).normal(0, 2.0, years.size)
        data = write_csv(tmp_path / f"history{seed}.csv", rows_of("population", years, noisy))
        spec = logistic_spec(tmp_path, data, series=[
            {"name": "population", "data": str(data), "indicator": "population", "variable": "population"}])
        fits.append(calibrate(load_spec(spec)).parameters)
    for name, true_value in (("growth rate", TRUE_RATE), ("carrying capacity", TRUE_CAPACITY)):
        covered = sum(f.loc[name, "ci_low"] <= true_value <= f.loc[name, "ci_high"] for f in fits)
        assert covered >= 16, (name, covered)          # P(covered <= 15 | 95 %) < 0.3 %
        # the reported standard error matches the actual scatter of the estimates
        scatter = np.std([f.loc[name, "value"] for f in fits], ddof=1)
        reported = np.mean([f.loc[name, "stderr"] for f in fits])
        assert 0.6 < scatter / reported < 1.6, (name, scatter, reported)


def test_fit_statistics_of_the_recovered_fit_reflect_three_percent_noise(logistic_result):
    table = logistic_result.statistics
    assert set(table.index) == {"population", "share"}
    for name in table.index:
        row = table.loc[name]
        assert row["n"] == 21
        assert 1.0 < row["MAPE"] < 5.0          # noise is 3 % (normal): E|e| ≈ 2.4 %
        assert row["R2"] > 0.99
        assert row["U_C"] > 0.5                  # most of the error is unsystematic
        assert row["U_M"] + row["U_S"] + row["U_C"] == pytest.approx(1.0)


def test_growth_rates_in_percent_recover_the_constants(tmp_path):
    """Data as year-on-year growth (%) of the stock, as GDP growth is reported."""
    truth = sim.simulate(sim.load_model(LOGISTIC),
                         params={"growth rate": TRUE_RATE, "carrying capacity": TRUE_CAPACITY})
    population = truth["population"]
    years = np.arange(2000, 2021)
    growth_pct = 100 * (population / population.shift(1) - 1).loc[years.astype(float)].to_numpy()
    growth_pct[1:] += np.random.default_rng(11).normal(0, 0.5, years.size - 1)
    growth_pct[0] = 40.0                   # a 2000 figure: the model has no 1999 to compare
    data = write_csv(tmp_path / "growth.csv", rows_of("population_growth", years, growth_pct, "%"))
    spec = logistic_spec(tmp_path, data, series=[
        {"name": "growth", "data": str(data), "indicator": "population_growth",
         "variable": "population", "scale": 0.01, "transform": "yoy_growth"}])
    result = calibrate(load_spec(spec))
    for name, value in (("growth rate", TRUE_RATE), ("carrying capacity", TRUE_CAPACITY)):
        row = result.parameters.loc[name]
        assert row["ci_low"] <= value <= row["ci_high"], (name, row.to_dict())
    assert result.statistics.loc["growth", "n"] == 20                   # 2000 has no 1999
    assert any("2000" in note for note in result.notes)


def test_model_measure_applies_the_transform_between_years():
    run = pd.DataFrame({"level": [10.0, 11.0, 12.0, 13.0]}, index=[2000.0, 2001.0, 2002.0, 2003.0])

    def series(transform):
        return SeriesSpec("s", Path("x.csv"), "s", "level", 1.0, 1.0, None, None, "mean_abs",
                          transform, "", pd.Series(dtype=float))

    assert model_measure(run, series("level"), [2001.5]) == pytest.approx([11.5])
    assert model_measure(run, series("yoy_growth"), [2001, 2003]) == pytest.approx([0.1, 1 / 12])
    assert model_measure(run, series("yoy_change"), [2002.5]) == pytest.approx([1.0])


def test_linear_model_reproduces_ordinary_least_squares(tmp_path):
    """On a model linear in its constants the fit and its intervals are textbook OLS."""
    rng = np.random.default_rng(7)
    years = np.arange(2000, 2016)
    values = 30.0 + 2.5 * (years - 2000) + rng.normal(0, 1.5, years.size)
    data = write_csv(tmp_path / "line.csv", rows_of("level", years, values))
    spec = write_spec(tmp_path / "line.yaml", model=str(LINEAR), parameters=[
        {"name": "intercept base", "initial": 0, "bounds": [-100, 100]},
        {"name": "slope", "initial": 0, "bounds": [-10, 10]}],
        series=[{"name": "level", "data": str(data), "indicator": "level", "variable": "level"}])
    result = calibrate(load_spec(spec))
    ols = stats.linregress(years - 2000, values)
    t = stats.t.ppf(0.975, years.size - 2)
    fitted = result.parameters
    assert fitted.loc["slope", "value"] == pytest.approx(ols.slope, rel=1e-6)
    assert fitted.loc["intercept base", "value"] == pytest.approx(ols.intercept, rel=1e-6)
    assert fitted.loc["slope", "stderr"] == pytest.approx(ols.stderr, rel=1e-4)
    assert fitted.loc["intercept base", "stderr"] == pytest.approx(ols.intercept_stderr, rel=1e-4)
    half = fitted.loc["slope", "ci_high"] - fitted.loc["slope", "value"]
    assert half == pytest.approx(t * ols.stderr, rel=1e-4)
    assert result.statistics.loc["level", "R2"] == pytest.approx(ols.rvalue ** 2, rel=1e-9)


def test_robust_loss_resists_an_outlier_that_drags_plain_least_squares(tmp_path):
    years = np.arange(2000, 2016)
    values = 30.0 + 2.5 * (years - 2000) + np.random.default_rng(3).normal(0, 0.3, years.size)
    values[12] += 40.0                                # one gross error
    data = write_csv(tmp_path / "line.csv", rows_of("level", years, values))

    def fit(loss):
        spec = write_spec(tmp_path / f"{loss}.yaml", model=str(LINEAR), loss=loss, f_scale=0.02,
                          parameters=[{"name": "slope", "initial": 0, "bounds": [-10, 10]},
                                      {"name": "intercept base", "initial": 0, "bounds": [-100, 100]}],
                          series=[{"data": str(data), "indicator": "level", "variable": "level"}])
        return calibrate(load_spec(spec)).parameters.loc["slope", "value"]

    assert abs(fit("soft_l1") - 2.5) < 0.5 * abs(fit("linear") - 2.5)


def test_an_estimate_held_at_a_bound_is_flagged(tmp_path):
    years = np.arange(2000, 2011)
    data = write_csv(tmp_path / "line.csv", rows_of("level", years, 12.0 + 2.5 * (years - 2000)))
    spec = write_spec(tmp_path / "bound.yaml", model=str(LINEAR), parameters=[
        {"name": "intercept base", "initial": 5, "bounds": [0, 20]},
        {"name": "slope", "initial": 0.5, "bounds": [0, 2]}],          # truth 2.5 is excluded
        series=[{"data": str(data), "indicator": "level", "variable": "level"}])
    params = calibrate(load_spec(spec)).parameters
    assert params.loc["slope", "value"] == pytest.approx(2.0)
    assert "sits on a bound" in params.loc["slope", "flags"]
    assert "sits on a bound" not in params.loc["intercept base", "flags"]


def test_unidentifiable_constants_are_flagged(tmp_path):
    """Two constants that act only through their sum cannot be told apart by any data."""
    years = np.arange(2000, 2011)
    data = write_csv(tmp_path / "line.csv", rows_of("level", years, 12.0 + 1.0 * (years - 2000)))
    spec = write_spec(tmp_path / "sum.yaml", model=str(LINEAR), parameters=[
        {"name": "intercept base", "initial": 5, "bounds": [0, 20]},
        {"name": "intercept adjustment", "initial": 1, "bounds": [-5, 5]},
        {"name": "slope", "initial": 0.5, "bounds": [0, 3]}],
        series=[{"data": str(data), "indicator": "level", "variable": "level"}])
    result = calibrate(load_spec(spec))
    params = result.parameters
    assert result.optimizer["singular"]
    assert not params.loc["intercept base", "identifiable"]
    assert not params.loc["intercept adjustment", "identifiable"]
    assert "singular" in params.loc["intercept base", "flags"]
    assert math.isinf(params.loc["intercept adjustment", "stderr"])       # no finite interval
    assert params.loc["slope", "identifiable"]
    assert params.loc["slope", "value"] == pytest.approx(1.0, rel=1e-6)


def test_a_constant_the_data_barely_inform_is_flagged(logistic_history, tmp_path):
    """Early growth (2000-2004) says little about the ceiling the stock has not yet felt."""
    spec = logistic_spec(tmp_path, logistic_history, series=[
        {"name": "population", "data": str(logistic_history), "indicator": "population",
         "variable": "population", "years": [2000, 2004]}])
    params = calibrate(load_spec(spec)).parameters
    assert not params.loc["carrying capacity", "identifiable"]
    assert "|correlation| with 'growth rate'" in params.loc["carrying capacity", "flags"]


def test_an_interval_wider_than_the_bounds_range_is_flagged():
    """Orthogonal Jacobian columns: no correlation, but the second barely moves the residuals."""
    jac = np.array([[1.0, 0.0], [0.0, 1e-3], [1.0, 0.0], [0.0, -1e-3], [1.0, 0.0], [0.0, 1e-3]])
    residuals = np.array([0.1, -0.1, 0.05, 0.0, -0.05, 0.02])
    _, stderr, half, corr, flags, info = _uncertainty(
        jac, residuals, ["a", "b"], lower=np.array([0.0, 0.0]), upper=np.array([1.0, 1.0]))
    assert not info["singular"]
    s2 = residuals @ residuals / (6 - 2)
    assert stderr[1] == pytest.approx(math.sqrt(s2 / 3e-6))     # (JᵀJ)⁻¹ = diag(1/3, 1/3e-6)
    assert half[1] == pytest.approx(stats.t.ppf(0.975, 4) * stderr[1])
    assert corr[0, 1] == pytest.approx(0.0, abs=1e-12)
    assert flags["a"] == []
    assert len(flags["b"]) == 1 and "exceeds the bounds range" in flags["b"][0]


def test_simulate_is_injectable_and_every_run_goes_through_it(logistic_history, tmp_path):
    calls = []

    def counting_simulate(model, params=None, **kwargs):
        calls.append(dict(params))
        return sim.simulate(model, params=params, **kwargs)

    spec = load_spec(logistic_spec(tmp_path, logistic_history))
    result = calibrate(spec, simulate=counting_simulate)
    assert len(calls) == result.optimizer["model_runs"] > 3
    assert all(set(c) == {"growth rate", "carrying capacity"} for c in calls)


def test_a_failed_run_is_penalised_counted_and_reported(logistic_history, tmp_path):
    calls = []

    def fragile_simulate(model, params=None, **kwargs):
        calls.append(params)
        if len(calls) == 3:
            raise sim.SimulationError("synthetic blow-up")
        return sim.simulate(model, params=params, **kwargs)

    result = calibrate(load_spec(logistic_spec(tmp_path, logistic_history)), simulate=fragile_simulate)
    assert result.optimizer["failed_runs"] == 1
    assert any("1 of" in note and "synthetic blow-up" in note for note in result.notes)
    row = result.parameters.loc["growth rate"]
    assert row["ci_low"] <= TRUE_RATE <= row["ci_high"]


def test_a_failing_initial_run_stops_with_a_clear_error(logistic_history, tmp_path):
    def broken_simulate(model, params=None, **kwargs):
        raise sim.SimulationError("synthetic blow-up")

    with pytest.raises(RuntimeError, match="initial parameter values failed"):
        calibrate(load_spec(logistic_spec(tmp_path, logistic_history)), simulate=broken_simulate)


# -------------------------------------------------------------------- statistics


def test_fit_statistics_on_a_hand_checked_example():
    # errors 1, 0, 0, 1: MSE 0.5; relative errors 1/1 and 1/4
    out = fit_statistics([2, 2, 3, 5], [1, 2, 3, 4])
    assert out["n"] == 4
    assert out["RMSE"] == pytest.approx(math.sqrt(0.5))
    assert out["MAE"] == pytest.approx(0.5)
    assert out["mean_error"] == pytest.approx(0.5)
    assert out["MAPE"] == pytest.approx(100 * (1 + 0.25) / 4)
    # SSE 2, SS_tot 5; cov 1.25, var(model) 1.5, var(data) 1.25
    assert out["R2_determination"] == pytest.approx(1 - 2 / 5)
    assert out["R2"] == pytest.approx(1.25 ** 2 / (1.5 * 1.25))
    # bias (3 - 2.5)^2 = 0.25 of 0.5
    assert out["U_M"] == pytest.approx(0.5)


def test_perfect_fit_has_zero_error_and_undefined_theil_shares():
    out = fit_statistics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 4.0]))
    assert out["RMSE"] == 0 and out["MAPE"] == 0 and out["R2"] == pytest.approx(1.0)
    assert all(math.isnan(out[k]) for k in ("U_M", "U_S", "U_C"))


@pytest.mark.parametrize("transform, component", [
    (lambda d: d + 5.0, "U_M"),                           # pure bias
    (lambda d: d.mean() + 2.0 * (d - d.mean()), "U_S"),   # amplified variation, right mean
    (lambda d: d.mean() - (d - d.mean()), "U_C"),         # mirror image: same mean and spread
])
def test_theil_shares_single_out_the_kind_of_error(transform, component):
    data = np.array([3.0, 5.0, 4.0, 8.0, 6.0])
    out = fit_statistics(transform(data), data)
    assert out[component] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(8))
def test_theil_shares_add_up_to_one_for_random_series(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    data = rng.normal(rng.uniform(-50, 50), rng.uniform(0.1, 20), n)
    model = rng.uniform(-2, 2) * data + rng.normal(rng.uniform(-10, 10), rng.uniform(0.1, 20), n)
    out = fit_statistics(model, data)
    shares = [out["U_M"], out["U_S"], out["U_C"]]
    assert sum(shares) == pytest.approx(1.0, abs=1e-12)
    assert all(-1e-12 <= s <= 1 + 1e-12 for s in shares)
    assert out["MSE"] == pytest.approx(np.mean((model - data) ** 2))


def test_fit_statistics_aligns_series_and_skips_gaps_and_zero_data_in_mape():
    model = pd.Series([1.0, 2.0, 3.0, 9.0], index=[2010.0, 2011.0, 2012.0, 2013.0])
    data = pd.Series([0.0, 4.0, np.nan], index=[2010.0, 2011.0, 2012.0])
    out = fit_statistics(model, data)
    assert out["n"] == 2                                      # 2012 missing, 2013 not in data
    assert out["MAPE"] == pytest.approx(50.0)                 # only 2011: |2-4|/4
    with pytest.raises(ValueError, match="equal lengths"):
        fit_statistics([1.0, 2.0], [1.0])


# ------------------------------------------------------------------- spec checking


def test_bad_spec_lists_every_problem_naming_file_and_key(logistic_history, tmp_path):
    spec = logistic_spec(tmp_path, logistic_history, parameters=[
        {"name": "growth rat", "initial": 0.2, "bounds": [0.05, 1.0]},
        {"name": "carrying capacity", "initial": 80, "bounds": [400, 20]},
        {"name": "population", "initial": 1, "bounds": [0, 2]}],
        series=[{"name": "pop", "data": str(logistic_history), "indicator": "population",
                 "variable": "populaton"},
                {"name": "gdp", "data": str(logistic_history), "indicator": "gdp_missing",
                 "variable": "population"}])
    with pytest.raises(CalibrationSpecError) as info:
        load_spec(spec)
    message = str(info.value)
    assert str(spec) in message
    assert "parameters[0].name: 'growth rat'" in message and "did you mean 'growth rate'" in message
    assert "parameters[1].bounds" in message
    assert "parameters[2].name: 'population' is a model variable but not a constant" in message
    assert "series[0].variable: 'populaton'" in message and "did you mean 'population'" in message
    assert "series[1].indicator: 'gdp_missing' not found" in message


def test_a_policy_lever_cannot_be_fitted(logistic_history, tmp_path):
    registry = tmp_path / "levers.yaml"
    registry.write_text(yaml.safe_dump({"levers": [{"name": "growth rate", "unit": "1/Year"}]}))
    spec = logistic_spec(tmp_path, logistic_history, levers=str(registry))
    with pytest.raises(CalibrationSpecError, match=r"parameters\[0\]\.name: 'growth rate' is a policy lever"):
        load_spec(spec)
    missing = logistic_spec(tmp_path, logistic_history, levers=str(tmp_path / "none.yaml"))
    with pytest.raises(CalibrationSpecError, match="levers: cannot read lever registry"):
        load_spec(missing)


def test_misspelt_top_level_keys_and_options_are_reported(logistic_history, tmp_path):
    spec = write_spec(tmp_path / "typo.yaml", model=str(LOGISTIC), loss="l2", paramters=[],
                      series=[{"data": str(logistic_history), "indicator": "population",
                               "variable": "population", "weigth": 2}])
    with pytest.raises(CalibrationSpecError) as info:
        load_spec(spec)
    message = str(info.value)
    assert "paramters: unknown key (did you mean 'parameters'?)" in message
    assert "parameters: expected a non-empty list" in message
    assert "loss: 'l2' unknown" in message
    assert "series[0].weigth: unknown key (did you mean 'weight'?)" in message


def test_duplicate_years_need_a_rule_and_the_rule_is_applied(tmp_path):
    rows = [
        {"indicator": "level", "year": 2001, "value": 10.0, "source_url": "https://a.example/x"},
        {"indicator": "level", "year": 2001, "value": 14.0, "source_url": "https://b.example/y"},
        {"indicator": "level", "year": 2002, "value": 12.0, "source_url": "https://b.example/y"},
        {"indicator": "level", "year": 2003, "value": 13.0, "source_url": "https://a.example/x"},
    ]
    data = write_csv(tmp_path / "dup.csv", rows)

    def spec_with(**series_keys):
        return write_spec(tmp_path / "dup.yaml", model=str(LINEAR),
                          parameters=[{"name": "slope", "initial": 1, "bounds": [0, 5]}],
                          series=[{"name": "level", "data": str(data), "indicator": "level",
                                   "variable": "level", **series_keys}])

    with pytest.raises(CalibrationSpecError, match=r"series\[0\]\.duplicates: 'level' has several rows for years 2001"):
        load_spec(spec_with())
    assert load_spec(spec_with(duplicates="first")).series[0].data.loc[2001.0] == 10.0
    assert load_spec(spec_with(duplicates="mean")).series[0].data.loc[2001.0] == 12.0
    by_source = load_spec(spec_with(duplicates={"source": "b.example"})).series[0].data
    assert by_source.to_dict() == {2001.0: 14.0, 2002.0: 12.0, 2003.0: 13.0}   # 2003: only a.example
    scaled = load_spec(spec_with(duplicates="first", scale=0.5, years=[2002, 2002])).series[0].data
    assert scaled.to_dict() == {2002.0: 6.0}


def test_data_outside_the_model_time_span_are_left_out_with_a_note(tmp_path):
    years = np.arange(1995, 2011)
    data = write_csv(tmp_path / "line.csv", rows_of("level", years, 5.0 + 2.0 * (years - 2000)))
    spec = write_spec(tmp_path / "early.yaml", model=str(LINEAR), parameters=[
        {"name": "intercept base", "initial": 0, "bounds": [-50, 50]},
        {"name": "slope", "initial": 0, "bounds": [-10, 10]}],
        series=[{"name": "level", "data": str(data), "indicator": "level", "variable": "level"}])
    result = calibrate(load_spec(spec))
    assert result.statistics.loc["level", "n"] == 11
    assert any("1995" in note and "outside" in note for note in result.notes)
    assert result.parameters.loc["slope", "value"] == pytest.approx(2.0, rel=1e-6)


# ------------------------------------------------------------------------- reports


def test_a_second_report_never_overwrites_the_first(logistic_result, tmp_path):
    first = write_report(logistic_result, results_root=tmp_path)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in first.iterdir()}
    assert set(before) == {"calibration.json", "comparison.csv", "report.md", "manifest.json",
                           "fit_population.png", "fit_share.png"}
    second = write_report(logistic_result, results_root=tmp_path)    # same second is likely
    assert second != first and second.parent == first.parent == tmp_path
    assert "calibration-logistic" in first.name
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_report(logistic_result, first)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in first.iterdir()} == before


def test_report_files_carry_the_numbers_and_the_provenance(logistic_result, tmp_path):
    folder = write_report(logistic_result, tmp_path / "calibration")
    assert folder == tmp_path / "calibration"
    numbers = json.loads((folder / "calibration.json").read_text(encoding="utf-8"))
    assert numbers["parameters"]["growth rate"]["value"] == pytest.approx(
        logistic_result.parameters.loc["growth rate", "value"])
    theil = numbers["series"]["share"]["statistics"]
    assert theil["U_M"] + theil["U_S"] + theil["U_C"] == pytest.approx(1.0)
    points = pd.DataFrame(numbers["series"]["share"]["points"])
    assert len(points) == 21
    assert fit_statistics(points["model"], points["data"])["RMSE"] == pytest.approx(theil["RMSE"])
    comparison = pd.read_csv(folder / "comparison.csv")
    assert set(comparison["series"]) == {"population", "share"} and len(comparison) == 42
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    spec = logistic_result.spec
    assert manifest["kind"] == "calibration" and manifest["schema"] == 1
    assert list(manifest["files"]["spec"].values()) == [hashlib.sha256(spec.path.read_bytes()).hexdigest()]
    assert manifest["model"]["sha256"] == hashlib.sha256(LOGISTIC.read_bytes()).hexdigest()
    assert manifest["sim_version"] == sim.__version__
    assert "commit" in manifest["git"]
    assert set(manifest["outputs"]) == {p.name for p in folder.iterdir()}   # manifest.json included
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "growth rate" in report and "U_C" in report and "fit_share.png" in report
    assert (folder / "fit_population.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_calibrate_creates_the_out_folder_and_refuses_an_existing_one(logistic_history, tmp_path):
    spec = logistic_spec(tmp_path, logistic_history)
    out = tmp_path / "results" / "cal"
    assert main_calibrate(str(spec), out=str(out)) == out
    assert (out / "manifest.json").is_file()
    with pytest.raises(FileExistsError):
        main_calibrate(str(spec), out=str(out))


JINGDEZHEN_SPEC = Path(__file__).parents[2] / "models" / "calibration" / "jingdezhen.yaml"


@pytest.mark.skipif(not JINGDEZHEN_SPEC.is_file(), reason="no Jingdezhen calibration spec")
def test_the_jingdezhen_spec_matches_the_model_and_the_data():
    """Renaming a model variable or constant the spec uses must break this test, not a run."""
    try:
        spec = load_spec(JINGDEZHEN_SPEC)
    except CalibrationSpecError as err:
        if "does not exist" in str(err):
            pytest.skip(f"model or data file missing: {err}")
        raise
    assert {s.name for s in spec.series} >= {"gdp_real_growth", "gdp_nominal"}
    assert all(len(s.data) >= 5 for s in spec.series)
    assert all(s.data.index.max() <= 2015 for s in spec.series)     # later years are held back
