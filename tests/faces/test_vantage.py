"""Two vantage points in one run (issue 12): each horizon is judged from its base year.

The 2020 goals are asked from 2015 (levers from the scenario's policy start, 2016), the
2030 goals from 2020 (every scenario shares the history to 2020, levers from 2021); the
model is told which by its ``history end year`` constant, and a calibration made on the
data known at a vantage (``calibration/vantage_<year>/``) gives that vantage's runs its
constants.  Tested on the tiny scenario model with a ``history end year`` added.
"""
from __future__ import annotations

import json
import math
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.policy.vantage import VANTAGE_CONSTANT, from_vantage, vantage_constants
from sim.run import run_all

HERE = Path(__file__).parents[1]
SCEN = HERE / "models" / "scenario" / "scenarios"
TINY = HERE / "models" / "scenario" / "tiny.mdl"
NO_PLOTS = types.ModuleType("sim.plots")

HISTORY_END = """
history end year=
	2020
	~	Year
	~	The last year the run knows (test model).
	|

"""


def tiny_with_vantage(folder: Path) -> Path:
    text = TINY.read_text(encoding="utf-8")
    head, rest = text.split("\n", 1)          # keep {UTF-8} first
    path = folder / "tiny.mdl"
    path.write_text(head + "\n" + HISTORY_END + rest, encoding="utf-8")
    return path


def test_from_vantage_moves_every_lever_change_after_the_vantage():
    defaults = {"transfer": 5.0, "efficiency gain": 0.02, "growth rate": 0.08}
    params = {"transfer": pd.Series([5.0, 20.0], index=[2015.999, 2016.0]),
              "efficiency gain": pd.Series([0.02, 0.03, 0.05], index=[2015.999, 2016.0, 2020.0]),
              "growth rate": 0.08, "not a lever": 1.5}
    out = from_vantage(params, defaults, 2020)
    assert out[VANTAGE_CONSTANT] == 2020.0
    transfer = out["transfer"]
    assert np.interp(2020.9, transfer.index, transfer.values) == pytest.approx(5.0, abs=0.02)
    assert np.interp(2021.0, transfer.index, transfer.values) == 20.0
    gain = out["efficiency gain"]
    assert np.interp(2020.99, gain.index, gain.values) == pytest.approx(0.02, abs=1e-3)
    assert np.interp(2025.0, gain.index, gain.values) == 0.05        # the table's value after 2021
    assert out["growth rate"] == 0.08 and out["not a lever"] == 1.5
    # a lever that already starts after the vantage is kept as it is
    late = pd.Series([5.0, 9.0], index=[2024.999, 2025.0])
    assert from_vantage({"transfer": late}, defaults, 2020)["transfer"] is late


@pytest.fixture(scope="module")
def vantage_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vantage")
    model = tiny_with_vantage(folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "sim.plots", NO_PLOTS)
        with pytest.warns(UserWarning, match="figure_tasks"):
            out = run_all(SCEN, model, results_root=folder / "results", name="tiny")
    return out


def test_each_horizon_is_judged_from_its_base_year(vantage_run):
    manifest = json.loads((vantage_run / "manifest.json").read_text(encoding="utf-8"))
    v = manifest["vantages"]
    assert set(v) == {"2015", "2020"}
    assert all(t.endswith("_2020") for t in v["2015"]["targets"])
    assert all(t.endswith("_2030") for t in v["2020"]["targets"])
    assert v["2020"]["levers_from"] == 2021 and v["2020"]["timeseries"] == "timeseries/"
    assert v["2015"]["timeseries"] == "timeseries/vantage_2015/"
    assert v["2015"]["params"]["plan"][VANTAGE_CONSTANT] == 2015
    card = pd.read_csv(vantage_run / "scorecard.csv").set_index(["scenario", "target"])
    # 2020 goals as asked in 2015: the plan's transfer acts from 2016 (rate 0.12 in 2016-20)
    plan = 100 * math.expm1((0.09 + 4 * 0.12) / 5)
    assert card.loc[("plan", "gdp_growth_2020"), "value"] == pytest.approx(plan, rel=1e-4)


def test_from_2020_every_scenario_shares_the_history(vantage_run):
    ts = vantage_run / "timeseries"
    base, plan = (pd.read_csv(ts / f"{s}.csv", index_col="time") for s in ("baseline", "plan"))
    np.testing.assert_allclose(plan.loc[:2020.0, "GDP real"], base.loc[:2020.0, "GDP real"], rtol=1e-6)
    assert plan.loc[2030.0, "GDP real"] > base.loc[2030.0, "GDP real"] * 1.2
    # growth 2020-2030 of the plan: 0.09 until 2021, then 0.12 (transfer 20)
    ratio = plan.loc[2030.0, "GDP real"] / plan.loc[2020.0, "GDP real"]
    assert math.log(ratio) == pytest.approx(0.09 + 9 * 0.12, rel=1e-3)
    early = pd.read_csv(ts / "vantage_2015" / "plan.csv", index_col="time")
    assert early.loc[2020.0, "GDP real"] > base.loc[2020.0, "GDP real"] * 1.1


def test_a_vantage_calibration_gives_that_vantages_runs_its_constants(tmp_path):
    model = tiny_with_vantage(tmp_path)
    assert vantage_constants(model, 2015) == {}
    folder = tmp_path / "calibration" / "vantage_2015"
    folder.mkdir(parents=True)
    (folder / "calibration.json").write_text(json.dumps(
        {"parameters": {"growth rate": {"value": 0.05}}}), encoding="utf-8")
    assert vantage_constants(model, 2015) == {"growth rate": 0.05}
    assert vantage_constants(model, 2020) == {} and vantage_constants(model, None) == {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "sim.plots", NO_PLOTS)
        with pytest.warns(UserWarning):
            out = run_all(SCEN, model, results_root=tmp_path / "results", name="tiny",
                          scenarios=["baseline"])
    card = pd.read_csv(out / "scorecard.csv").set_index(["scenario", "target"])
    # seen from 2015 the baseline grows at the 2015 calibration's 0.05 + 0.01 (transfer 5)
    assert card.loc[("baseline", "gdp_growth_2020"), "value"] == pytest.approx(100 * math.expm1(0.06), rel=1e-4)


def run_recording_figures(tmp_path):
    """The main job on the tiny vantage model with a sim.plots that records what the figure
    set was given instead of drawing: (results folder, {results, meta, target_runs, ...})."""
    model = tiny_with_vantage(tmp_path)
    calls = {}
    recorder = types.ModuleType("sim.plots")

    def figure_tasks(out_dir, results, card, targets, meta, **kw):
        calls.update(results=results, meta=meta, **kw)
        return []

    recorder.figure_tasks = figure_tasks
    recorder.figure_files = lambda done: []
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "sim.plots", recorder)
        out = run_all(SCEN, model, results_root=tmp_path / "results", name="tiny", documents=False)
    return out, calls


def test_each_target_figure_draws_the_runs_its_verdict_rests_on(tmp_path):
    """A 2020 goal's figure shows the runs seen from 2015 (where its verdict comes from), with
    the projection from 2016; the other figures the runs seen from 2020, projection from 2021."""
    out, calls = run_recording_figures(tmp_path)
    card = pd.read_csv(out / "scorecard.csv").set_index(["scenario", "target"])
    runs = calls["target_runs"]
    assert set(runs) == {t for t in card.index.get_level_values("target") if t.endswith("_2020")}
    early, meta = runs["gdp_growth_2020"]
    assert {m["projection_start"] for m in meta.values()} == {2016.0}
    assert {m["projection_start"] for m in calls["meta"].values()} == {2021.0}
    # the figure's 2020 value is the one the scorecard judged (plan: levers from 2016)
    g = early["plan"]["GDP real"]
    measured = 100 * math.expm1(math.log(g.loc[2020.0] / g.loc[2015.0]) / 5)
    assert measured == pytest.approx(card.loc[("plan", "gdp_growth_2020"), "value"], rel=1e-9)
    late = calls["results"]["plan"]["GDP real"]
    assert late.loc[2020.0] < g.loc[2020.0] / 1.1       # the 2020-vantage runs differ


def test_redrawn_figures_draw_the_same_runs_as_the_main_job(tmp_path, monkeypatch):
    """`python -m sim figures` on a main-job folder: the 2020 goals' figures get the runs
    seen from 2015 (timeseries/vantage_2015/), projection from 2016; the rest the runs
    seen from 2020, projection from 2021, as the main job drew them."""
    import sim.report.figure_set as figure_set

    out, calls = run_recording_figures(tmp_path)
    drawn = {"run": calls}
    monkeypatch.setattr(figure_set, "write_figure_set",
                        lambda out_dir, results, card, targets, meta, **kw: drawn.update(
                            redrawn=dict(results=results, meta=meta, **kw)) or [])
    figure_set.regenerate(out, "en", formats=("png",), history=None)
    run, redrawn = drawn["run"], drawn["redrawn"]
    def same_meta(a, b):   # the manifest's scenario entries carry more (params, levers): compare what the run drew with
        return set(a) == set(b) and all({k: a[s][k] for k in b[s]} == b[s] for s in b)
    assert same_meta(redrawn["meta"], run["meta"])
    assert set(redrawn["target_runs"]) == set(run["target_runs"]) and run["target_runs"]
    for tid, (runs, meta) in run["target_runs"].items():
        again, again_meta = redrawn["target_runs"][tid]
        assert same_meta(again_meta, meta)
        for sid, df in runs.items():   # the CSVs hold what the run had, to the CSV's precision
            cols = list(again[sid].columns)
            np.testing.assert_allclose(again[sid].to_numpy(float), df[cols].to_numpy(float), rtol=1e-12)
    for sid, df in run["results"].items():
        cols = list(redrawn["results"][sid].columns)
        np.testing.assert_allclose(redrawn["results"][sid].to_numpy(float), df[cols].to_numpy(float), rtol=1e-12)
