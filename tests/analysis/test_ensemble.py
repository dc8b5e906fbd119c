"""Ensembles: samplers, the uncertainty file, goal probabilities, Sobol indices, executors.

Known answers come from the tiny test model (tests/models/scenario/tiny.mdl), where GDP
grows at ``0.08 + 5 × transfer growth effect`` per year, so the 2015-2020 growth goal
(>= 10 %/yr) is met exactly when the effect exceeds ``(ln 1.1 - 0.08) / 5``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import sim
from sim.policy import targets as sim_targets
from sim.analysis.ensemble import (chunk_bounds, goal_metrics, influence, probabilities, run_ensemble, sensitivity,
                                   sobol_indices)
from sim.policy.goal_measures import indicator_array, measure_array, meets_array, year_reached_array
from sim.report.ensemble import write_results
from sim.policy.scenario import ValidationError
from sim.analysis.uncertainty import (SamplingError, Uncertain, load_uncertainties, sample_unit, to_values)

HERE = Path(__file__).parents[1]   # tests/, where the test models are
ROOT = HERE.parent
SCEN = HERE / "models" / "scenario" / "scenarios"
TINY = HERE / "models" / "scenario" / "tiny.mdl"
JDZ = ROOT / "models" / "jingdezhen.mdl"
EFFECT_MAX = 0.006
EFFECT_THRESHOLD = (math.log(1.1) - 0.08) / 5          # growth goal met iff effect >= this
P_GROWTH = (EFFECT_MAX - EFFECT_THRESHOLD) / EFFECT_MAX   # for effect ~ U(0, EFFECT_MAX)
TIGHT = {"rtol": 1e-9}


def write_uncertainties(tmp_path: Path, parameters: list, **top) -> Path:
    path = tmp_path / "uncertainties.yaml"
    path.write_text(yaml.safe_dump({**top, "parameters": parameters}, allow_unicode=True), encoding="utf-8")
    return path


TINY_PARAMS = [
    {"name": "transfer growth effect", "distribution": {"kind": "uniform", "min": 0.0, "max": EFFECT_MAX},
     "source": "assumption: test"},
    {"name": "closure share speed", "distribution": {"kind": "triangular", "min": 0.05, "mode": 0.1, "max": 0.2},
     "source": "assumption: test"},
]


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    return write_uncertainties(tmp_path_factory.mktemp("unc"), TINY_PARAMS)


def tiny_run(tiny_file, **kw):
    args = dict(uncertainty_file=tiny_file, scenario_dir=SCEN, model=TINY, engine=TIGHT, workers=1)
    args.update(kw)
    return run_ensemble(**args)


@pytest.fixture(scope="module")
def tiny_lhs(tiny_file):
    return tiny_run(tiny_file, scenarios=["baseline", "plan"], n=400, method="lhs", seed=11,
                    chunk_size=150)


# ------------------------------------------------------------------ samplers
@pytest.mark.parametrize("method", ["mc", "lhs", "sobol"])
def test_same_seed_same_bits_other_seed_other_samples(method):
    a, b = sample_unit(method, 64, 3, seed=5), sample_unit(method, 64, 3, seed=5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, sample_unit(method, 64, 3, seed=6))
    assert a.shape == ((64 * 5, 3) if method == "sobol" else (64, 3))
    assert np.all((a >= 0) & (a <= 1))


def test_latin_hypercube_hits_every_stratum_once_in_every_column():
    n = 200
    u = sample_unit("lhs", n, 4, seed=3)
    for j in range(4):
        assert sorted(np.floor(u[:, j] * n).astype(int)) == list(range(n))


def test_values_follow_each_distribution():
    dists = [Uncertain("a", "uniform", {"min": 2.0, "max": 5.0}, "assumption: t"),
             Uncertain("b", "triangular", {"min": 0.0, "mode": 0.2, "max": 1.0}, "assumption: t"),
             Uncertain("c", "truncnormal", {"mean": 1.0, "sd": 0.5, "min": 0.6, "max": 2.5}, "assumption: t")]
    n = 500
    x = to_values(sample_unit("lhs", n, 3, seed=1), dists)
    for j, u in enumerate(dists):
        lo, hi = u.support
        assert x[:, j].min() >= lo and x[:, j].max() <= hi
        # Latin hypercube: the k-th smallest value sits in the k-th probability stratum
        cdf = u.dist.cdf(np.sort(x[:, j]))
        k = np.arange(n)
        assert np.all(cdf >= k / n - 1e-12) and np.all(cdf <= (k + 1) / n + 1e-12)
    # Monte Carlo draws pass a Kolmogorov-Smirnov test against the truncated normal
    mc = to_values(sample_unit("mc", 4000, 3, seed=2), dists)
    assert stats.kstest(mc[:, 2], dists[2].dist.cdf).pvalue > 1e-3
    assert mc[:, 2].min() >= 0.6 and mc[:, 2].max() <= 2.5


def test_bad_sampling_requests_are_refused():
    with pytest.raises(SamplingError, match="power of two"):
        sample_unit("sobol", 100, 2, seed=0)
    with pytest.raises(SamplingError, match="unknown sampling method"):
        sample_unit("halton", 8, 2, seed=0)


def test_chunks_are_fixed_blocks_of_sample_indices():
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_bounds(4, 10) == [(0, 4)]


# ------------------------------------------------------------------ the uncertainty file
def test_project_uncertainty_file_is_valid_and_sized():
    uset = load_uncertainties(ROOT / "scenarios" / "uncertainties.yaml", model=JDZ)
    assert 8 <= len(uset) <= 20
    # issue 12: what surprised the model joins the uncertainties
    assert {"census GDP level factor", "GDP inflation rate offset", "Jiangxi real growth after 2020",
            "future shock depth"} <= set(uset.names)
    levers = {entry["name"] for entry in yaml.safe_load((ROOT / "scenarios" / "levers.yaml")
                                                         .read_text(encoding="utf-8"))["levers"]}
    assert not set(uset.names) & levers


def test_every_problem_is_reported_with_file_and_key(tmp_path):
    bad = [
        {"name": "depreciaton rate", "distribution": {"kind": "uniform", "min": 0.04, "max": 0.08},
         "source": "assumption: typo"},
        {"name": "retraining rate", "distribution": {"kind": "uniform", "min": 0.1, "max": 0.2},
         "source": "assumption: a lever"},
        {"name": "GDP real", "distribution": {"kind": "uniform", "min": 1, "max": 2}, "source": "assumption: x"},
        {"name": "learning exponent", "distribution": {"kind": "triangle", "min": 0, "max": 0.2},
         "source": "assumption: x"},
        {"name": "attractiveness floor", "distribution": {"kind": "uniform", "min": 0.9, "max": 0.5},
         "source": "assumption: x"},
        {"name": "death rate", "distribution": {"kind": "truncnormal", "mean": 0.006, "sd": 0.001, "min": 0.003,
                                                "max": 0.008}, "source": "assumption: x"},
        {"name": "Verdoorn coefficient", "distribution": {"kind": "triangular", "min": 0.5, "mode": 0.8},
         "source": "guess"},
    ]
    path = write_uncertainties(tmp_path, bad)
    with pytest.raises(ValidationError) as err:
        load_uncertainties(path, model=JDZ, levers=ROOT / "scenarios" / "levers.yaml")
    text = str(err.value)
    assert all(str(path) in str(p) for p in err.value.problems)
    assert "depreciaton rate: not a variable of the model (did you mean 'depreciation rate'" in text
    assert "retraining rate: is a policy lever" in text
    assert "GDP real: is a model variable but not a constant" in text
    assert "learning exponent.distribution.kind: unknown distribution 'triangle' (did you mean 'triangular'" in text
    assert "attractiveness floor.distribution: min must be below max" in text
    assert "death rate.distribution: support [0.003, 0.008] leaves the model's range [0.004, 0.01]" in text
    assert "Verdoorn coefficient.distribution.max: missing" in text
    assert "Verdoorn coefficient.source: expected text starting with one of" in text
    assert len(err.value.problems) == 8


def test_calibrated_kind_reads_the_report_else_falls_back(tmp_path):
    entry = [{"name": "initial local investment rate", "source": "calibration: test",
              "distribution": {"kind": "calibrated",
                               "fallback": {"kind": "uniform", "min": 0.4, "max": 0.5}}}]
    path = write_uncertainties(tmp_path, entry, calibration="report/calibration.json")
    fallback = load_uncertainties(path, model=JDZ).parameters[0]
    assert fallback.kind == "uniform" and "fallback used" in fallback.note
    (tmp_path / "report").mkdir()
    fit = {"value": 0.46, "ci_low": 0.43, "ci_high": 0.49, "lower": 0.2, "upper": 0.8, "identifiable": True}
    (tmp_path / "report" / "calibration.json").write_text(
        json.dumps({"parameters": {"initial local investment rate": fit}}), encoding="utf-8")
    u = load_uncertainties(path, model=JDZ).parameters[0]
    assert u.kind == "truncnormal" and u.declared == "calibrated"
    assert u.params["mean"] == 0.46 and u.support == (0.2, 0.8)
    # the 95 % interval of the report is the distribution's central 95 %, up to the cut tails
    lo, hi = u.dist.ppf([0.025, 0.975])
    assert lo == pytest.approx(0.43, abs=1e-9) and hi == pytest.approx(0.49, abs=1e-9)
    del entry[0]["distribution"]["fallback"]
    (tmp_path / "report" / "calibration.json").unlink()
    with pytest.raises(ValidationError, match="no calibration report .* and no fallback"):
        load_uncertainties(write_uncertainties(tmp_path, entry, calibration="report/calibration.json"),
                           model=JDZ)


# ------------------------------------------------------------------ probabilities on the tiny model
def test_probability_and_its_error_match_the_closed_form(tiny_lhs):
    p = probabilities(tiny_lhs).set_index(["scenario", "target"])
    row = p.loc[("baseline", "gdp_growth_2020")]
    n = 400
    # LHS puts exactly one sample in each stratum of width 1/n: the count is exact to one
    assert abs(row["p"] - P_GROWTH) <= 1 / n
    assert row["se"] == pytest.approx(math.sqrt(row["p"] * (1 - row["p"]) / n), rel=1e-12)
    # each sample meets the goal exactly when its effect exceeds the threshold
    j = tiny_lhs.names.index("transfer growth effect")
    t = _target(tiny_lhs, "gdp_growth_2020")
    value = measure_array(indicator_array(tiny_lhs.series["baseline"], t), tiny_lhs.times, t)
    expected = 100 * np.expm1(0.08 + 5 * tiny_lhs.values[:, j])
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    assert np.array_equal(value >= 10, tiny_lhs.values[:, j] >= EFFECT_THRESHOLD)


def test_monte_carlo_probability_within_its_standard_error(tiny_file):
    ens = tiny_run(tiny_file, scenarios=["baseline"], n=1000, method="mc", seed=4, chunk_size=1000)
    row = probabilities(ens).set_index("target").loc["gdp_growth_2020"]
    assert abs(row["p"] - P_GROWTH) < 4 * row["se"]
    assert row["se"] == pytest.approx(math.sqrt(P_GROWTH * (1 - P_GROWTH) / 1000), rel=0.02)


def _target(ens, tid):
    return ens.targets.by_id()[tid]


def test_level_goal_year_is_the_interpolated_crossing(tiny_lhs):
    # baseline share: 1 - s = 0.7 exp(-0.05 (t - 2010)) reaches 0.6 at 2010 + ln(1.75) / 0.05
    t = _target(tiny_lhs, "replacement_share_2020")
    years = year_reached_array(indicator_array(tiny_lhs.series["baseline"], t), tiny_lhs.times, t)
    assert np.all(np.abs(years - (2010 + math.log(1.75) / 0.05)) < 0.01)


# ------------------------------------------------------------------ executors give the same bits
def test_processes_and_dask_give_the_bits_of_the_serial_run(tiny_file, tiny_lhs):
    from dask.distributed import LocalCluster

    args = dict(scenarios=["baseline", "plan"], n=400, method="lhs", seed=11, chunk_size=150)
    procs = tiny_run(tiny_file, workers=2, **args)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = tiny_run(tiny_file, scheduler=cluster.scheduler_address, **args)
    assert dask.info["executor"] == "dask" and procs.info["executor"] == "processes"
    for other in (procs, dask):
        assert np.array_equal(other.values, tiny_lhs.values)
        for sid, series in tiny_lhs.series.items():
            for var, arr in series.items():
                assert np.array_equal(other.series[sid][var], arr), (sid, var)


# ------------------------------------------------------------------ Sobol indices
def test_sobol_indices_of_a_linear_model_match_theory():
    a, b = 2.0, 1.0
    dists = [Uncertain(n, "uniform", {"min": 0.0, "max": 1.0}, "assumption: t") for n in ("x1", "x2", "x3")]
    x = to_values(sample_unit("sobol", 1024, 3, seed=2), dists)
    y = a * x[:, 0] + b * x[:, 1]           # x3 has no effect
    res = sobol_indices(len(y), ["x1", "x2", "x3"], y, seed=0)
    want = np.array([a * a, b * b, 0.0]) / (a * a + b * b)
    np.testing.assert_allclose(res["S1"], want, atol=0.03)
    np.testing.assert_allclose(res["ST"], want, atol=0.03)
    # the bootstrap intervals are narrow and cover the theory (x3's is exactly zero: no effect)
    assert np.all(res["S1_conf"] >= 0) and np.all(res["S1_conf"] < 0.1)
    assert np.all(np.abs(res["S1"] - want) <= res["S1_conf"] + 0.01)


def test_sensitivity_table_on_the_tiny_model(tiny_file):
    ens = tiny_run(tiny_file, scenarios=["baseline"], n=64, method="sobol", seed=1, chunk_size=1000)
    sens = sensitivity(ens).set_index(["target", "parameter"])
    # GDP growth depends on the transfer effect only; closure speed acts after 2025
    assert sens.loc[("gdp_growth_2020", "transfer growth effect"), "ST"] == pytest.approx(1.0, abs=0.05)
    assert abs(sens.loc[("gdp_growth_2020", "closure share speed"), "ST"]) < 0.01
    top = influence(sens.reset_index())
    assert set(top["parameter"]) == {"transfer growth effect", "closure share speed"}
    assert list(top["max_ST"]) == sorted(top["max_ST"], reverse=True)


# ------------------------------------------------------------------ results folder
def test_results_folder_with_manifest_and_fan_charts(tiny_lhs, tmp_path):
    out = write_results(tiny_lhs, tmp_path / "ens")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sampling"] == {"method": "lhs", "n": 400, "rows": 400, "seed": 11,
                                    "unit_hypercube_mapped_by": "scipy.stats ppf"}
    assert [p["name"] for p in manifest["parameters"]] == tiny_lhs.names
    assert manifest["execution"]["chunk_size"] == 150
    probs = pd.read_csv(out / "probabilities.csv").set_index(["scenario", "target"])
    assert probs.loc[("baseline", "gdp_growth_2020"), "p"] == pytest.approx(
        float(np.mean(tiny_lhs.values[:, 0] >= EFFECT_THRESHOLD)))
    assert np.array_equal(pd.read_csv(out / "samples.csv", index_col=0).to_numpy(), tiny_lhs.values)
    fans = sorted(p.name for p in (out / "figures").glob("fan_*.png"))
    assert fans == sorted(f"fan_{t.id}.png" for t in tiny_lhs.targets)
    with pytest.raises(FileExistsError):
        write_results(tiny_lhs, out)


def test_fan_chart_draws_bands_median_and_threshold(tiny_lhs):
    from sim.report.fan import fan_quantiles, plot_fan

    paths = np.vstack([np.linspace(0, 1, 5) + k for k in range(101)])   # medians = 50 + x
    q = fan_quantiles(paths)
    np.testing.assert_allclose(q[2], 50 + np.linspace(0, 1, 5))
    np.testing.assert_allclose(q[0], 5 + np.linspace(0, 1, 5))
    t = _target(tiny_lhs, "gdp_growth_2020")
    fig = plot_fan(np.arange(2016.0, 2021.0), {"baseline": q, "plan": q + 1}, t,
                   probabilities={"baseline": 0.25, "plan": 0.5}, lang="both")
    ax = fig.axes[0]
    gids = {a.get_gid() for a in ax.get_children()}
    assert {"median:baseline", "median:plan", "band90:plan", "band50:baseline", "threshold"} <= gids
    thr = next(a for a in ax.get_lines() if a.get_gid() == "threshold")
    assert thr.get_ydata()[0] == t.threshold
    med = next(a for a in ax.get_lines() if a.get_gid() == "median:plan")
    np.testing.assert_allclose(med.get_ydata(), q[2] + 1)
    assert any("50%" in text.get_text() for text in ax.get_legend().get_texts())


# ------------------------------------------------------------------ the Jingdezhen model
@pytest.fixture(scope="module")
def jdz_small():
    return run_ensemble(["plan"], n=5, method="mc", seed=3, workers=1, engine={"rtol": 1e-10, "atol": 1e-12})


def test_batch_runs_match_single_engine_runs(jdz_small):
    ens = jdz_small
    for k in (0, 4):
        params = {**ens.params["plan"], **dict(zip(ens.names, map(float, ens.values[k])))}
        single = sim.simulate(ens.info["study"].loaded, params=params, rtol=1e-10, atol=1e-12,
                              return_columns=list(ens.series["plan"]))
        for var, arr in ens.series["plan"].items():
            want = single[var].to_numpy(float)
            scale = np.maximum(np.abs(want), 1e-6 * max(1.0, np.max(np.abs(want))))
            assert np.max(np.abs(arr[k] - want) / scale) < 1e-6, (k, var)


def test_array_measures_equal_sim_targets(jdz_small):
    ens = jdz_small
    for t in ens.targets:
        x = indicator_array(ens.series["plan"], t)
        values = measure_array(x, ens.times, t)
        years = year_reached_array(x, ens.times, t)
        for k in range(ens.rows):
            frame = ens.frame("plan", k)
            want = sim_targets.measure(frame, t)
            assert values[k] == pytest.approx(want, rel=1e-12, nan_ok=True), t.id
            assert meets_array(t, values[k:k + 1])[0] == t.meets(want)
            first = sim_targets.year_reached(frame, t)        # first saved year meeting it
            if t.measure != "value_in_year" or math.isnan(first):
                assert years[k] == pytest.approx(first, nan_ok=True), t.id
            else:                                              # interpolated: within the year before
                assert first - 1 < years[k] <= first or years[k] == first == ens.times[0], t.id


# ------------------------------------------------------------------ command line
def test_command_line_runs_and_refuses_bad_input(tiny_file, tmp_path, capsys):
    from sim.cli import main

    base = ["ensemble", "--scenarios", str(SCEN), "--model", str(TINY), "--uncertainties", str(tiny_file),
            "--scenario", "baseline", "--workers", "1"]
    assert main(base + ["--n", "100", "--method", "sobol"]) == 2
    assert "power of two" in capsys.readouterr().err
    assert main(base + ["--n", "16", "--scenario", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(base + ["--n", "40", "--seed", "2", "--out", str(tmp_path / "cli")]) == 0
    printed = capsys.readouterr().out
    assert "gdp_growth_2020" in printed and str(tmp_path / "cli") in printed
    samples = pd.read_csv(tmp_path / "cli" / "samples.csv", index_col=0)
    assert len(samples) == 40 and list(samples.columns) == [p["name"] for p in TINY_PARAMS]


def test_fan_chart_gives_each_of_many_scenarios_its_own_panel(tiny_lhs):
    from sim.report.fan import OVERLAY_MAX, plot_fan

    t = _target(tiny_lhs, "replacement_share_2020")
    q = np.tile(np.array([[50.0], [55.0], [58.0], [61.0], [65.0]]), (1, 5))
    ids = ["baseline", "plan", "fast", "other"][:OVERLAY_MAX + 1]
    fig = plot_fan(np.arange(2016.0, 2021.0), {sid: q + k for k, sid in enumerate(ids)}, t,
                   probabilities={sid: 0.1 * k for k, sid in enumerate(ids)}, lang="en")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_lines()]
    assert len(panels) == len(ids)
    for k, (ax, sid) in enumerate(zip(panels, ids)):
        gids = {a.get_gid() for a in ax.get_children()}
        assert {f"median:{sid}", "threshold"} <= gids and not any(f"median:{o}" in gids for o in ids if o != sid)
        assert f"met: {10 * k:.0f}%" in ax.get_title(loc="left")


def test_a_failing_sample_names_its_scenario_and_chunk(tmp_path):
    # an absurd growth effect makes GDP's derivative infinite at the start: the error names
    # the scenario and the chunk's sample numbers, and keeps the engine's message
    path = write_uncertainties(tmp_path, [{"name": "transfer growth effect", "source": "assumption: t",
                                           "distribution": {"kind": "uniform", "min": 1e300, "max": 2e300}}])
    with pytest.raises(sim.SimulationError, match=r"scenario 'baseline', chunk of samples 0-3 .*"
                                                  r"derivative of 'GDP real' is inf"):
        run_ensemble(["baseline"], n=8, method="mc", seed=0, uncertainty_file=path, scenario_dir=SCEN,
                     model=TINY, workers=1, chunk_size=4)


# ------------------------------------------------------------------ vantages
def test_each_goal_is_judged_on_runs_from_its_vantage(tmp_path):
    """Tiny model with a `history end year`: the 2020 goals' measures are those of single runs
    seen from 2015 (levers from 2016, the transfer effect drawn from the 2015 calibration's
    interval, runs to 2020 only), the 2030 goals' those of runs seen from 2020 (levers from
    2021, drawn from the file's calibration), sample by sample."""
    import json

    from sim.policy.study import read_study
    from sim.policy.vantage import seen_from
    from tests.faces.test_vantage import tiny_with_vantage

    model = tiny_with_vantage(tmp_path)
    fits = {"2020": (0.002, 0.0015, 0.0025), "2015": (0.0005, 0.0004, 0.0006)}
    for where, (value, lo, hi) in fits.items():
        folder = tmp_path / ("report" if where == "2020" else "calibration/vantage_2015")
        folder.mkdir(parents=True)
        (folder / "calibration.json").write_text(json.dumps({"parameters": {"transfer growth effect": {
            "value": value, "ci_low": lo, "ci_high": hi, "lower": 0.0, "upper": 0.01}}}), encoding="utf-8")
    params = [dict(TINY_PARAMS[0], distribution={"kind": "calibrated", "fallback": TINY_PARAMS[0]["distribution"]},
                   source="calibration: test"), TINY_PARAMS[1]]
    unc = write_uncertainties(tmp_path, params, calibration="report/calibration.json")
    ens = run_ensemble(["plan"], n=6, method="mc", seed=5, uncertainty_file=unc, scenario_dir=SCEN,
                       model=model, engine=TIGHT, workers=1)
    assert set(ens.vantages) == {2015.0, 2020.0}
    early = ens.vantages[2015.0]
    assert early["times"][-1] == 2020.0 and ens.times[-1] == 2030.0
    effect = ens.names.index("transfer growth effect")
    assert np.all(early["values"][:, effect] < 0.001) and np.all(ens.values[:, effect] > 0.001)
    study = read_study(SCEN, model)
    plan = study.scenario_set().resolve("plan", defaults=study.defaults)
    checked = set()
    for t in ens.targets:
        vantage = float(study.targets.horizons[t.horizon].base_year)
        drawn = early["values"] if vantage == 2015 else ens.values
        value, _ = goal_metrics(ens, "plan", t)
        for k in (0, 5):
            run = sim.simulate(model, params={**seen_from(plan, study.defaults, model, vantage),
                                              **dict(zip(ens.names, map(float, drawn[k])))}, **TIGHT)
            assert value[k] == pytest.approx(sim_targets.measure(run, t), rel=1e-6, abs=1e-9), (t.id, k)
        checked.add(vantage)
    assert checked == {2015.0, 2020.0}
    probs = probabilities(ens).set_index("target")
    assert probs.loc["gdp_growth_2020", "seen_from"] == 2015 and probs.loc["gdp_floor_2030", "seen_from"] == 2020
    out = write_results(ens, tmp_path / "out", figures=False)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["vantages"]["2015"]["calibration"].endswith("vantage_2015/calibration.json")
    assert (out / "ensemble_vantage_2015.nc").is_file() and (out / "samples_vantage_2015.csv").is_file()
