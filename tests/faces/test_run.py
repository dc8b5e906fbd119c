"""The main job on the tiny model: scorecard against closed-form values, manifest, folders."""
from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import types
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.history import REALITY_COLUMNS
import xarray as xr

import sim
from sim.provenance import final_path
from sim.run import compare, new_results_dir, run_all, validate_all
from sim.policy.scenario import ValidationError
from sim.policy.targets import SCORECARD_COLUMNS, load_targets

HERE = Path(__file__).parents[1]   # tests/, where the test models are
SCEN = HERE / "models" / "scenario" / "scenarios"
TINY = HERE / "models" / "scenario" / "tiny.mdl"
NO_PLOTS = types.ModuleType("sim.plots")          # a plots module without figure_tasks


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One real run of the tiny model's three scenarios (the engine, not a stub)."""
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "sim.plots", NO_PLOTS)
        with pytest.warns(UserWarning, match="figure_tasks"):
            out = run_all(SCEN, TINY, results_root=root, name="tiny", documents=False)
    return out


def card_of(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "scorecard.csv").set_index(["scenario", "target"])


# ------------------------------------------------------------------ scorecard on the tiny model
def test_scorecard_matches_closed_form_growth(first_run):
    card = card_of(first_run)
    # baseline: GDP grows at 0.08 + 0.002 * 5 = 0.09/yr continuously → exp(0.09) - 1 a year
    assert card.loc[("baseline", "gdp_growth_2020"), "value"] == pytest.approx(100 * math.expm1(0.09), rel=1e-4)
    # plan: transfer 20 from 2016 → rate 0.12 in 2016-2020, 0.09 in 2015-2016
    plan = 100 * math.expm1((0.09 + 4 * 0.12) / 5)
    assert card.loc[("plan", "gdp_growth_2020"), "value"] == pytest.approx(plan, rel=1e-4)
    # energy intensity falls at 2 %/yr continuously in the baseline
    assert card.loc[("baseline", "energy_intensity_2020"), "value"] == pytest.approx(100 * math.expm1(-0.02), rel=1e-4)
    assert list(card.reset_index().columns) == SCORECARD_COLUMNS + REALITY_COLUMNS
    assert len(card) == 3 * 6


def test_level_target_year_comes_from_engine_event(first_run):
    card = card_of(first_run)
    # baseline share: 1 - s = 0.7 exp(-0.05 (t - 2010)) reaches 0.6 at 2010 + ln(1.75)/0.05
    expected = 2010 + math.log(0.7 / 0.4) / 0.05
    assert card.loc[("baseline", "replacement_share_2020"), "year_reached"] == pytest.approx(expected, abs=1e-3)
    assert not card.loc[("baseline", "replacement_share_2020"), "passed"]   # 2021.2 is after 2020
    manifest = json.loads((first_run / "manifest.json").read_text())
    assert manifest["scenarios"]["baseline"]["events"]["target:replacement_share_2020"] == pytest.approx(expected, abs=1e-3)


def test_plan_beats_baseline_where_its_levers_act(first_run):
    card = card_of(first_run)
    for t in ("gdp_growth_2020", "replacement_share_2020", "energy_intensity_2020"):
        assert card.loc[("plan", t), "margin"] > card.loc[("baseline", t), "margin"], t
        assert card.loc[("plan", t), "passed"]


def test_scorecard_values_recomputed_from_saved_time_series(first_run):
    card = card_of(first_run)
    for sid in ("baseline", "plan", "fast"):
        ts = pd.read_csv(first_run / "timeseries" / f"{sid}.csv", index_col="time")
        gdp = ts["GDP real"]
        growth = 100 * ((gdp.loc[2020.0] / gdp.loc[2015.0]) ** 0.2 - 1)
        assert card.loc[(sid, "gdp_growth_2020"), "value"] == pytest.approx(growth, rel=1e-9)
        floor = ts.loc[2020.0:2030.0, "GDP real"].min()
        assert card.loc[(sid, "gdp_floor_2030"), "value"] == pytest.approx(floor, rel=1e-9)


def test_results_folder_contents(first_run):
    assert first_run.name.endswith("-tiny")
    names = {p.name for p in first_run.iterdir()}
    assert {"manifest.json", "scorecard.csv", "scorecard.md", "timeseries", "timeseries.nc"} <= names
    assert sorted(p.stem for p in (first_run / "timeseries").glob("*.csv")) == ["baseline", "fast", "plan"]
    ds = xr.open_dataset(first_run / "timeseries.nc", engine="scipy")
    csv = pd.read_csv(first_run / "timeseries" / "plan.csv", index_col="time")
    np.testing.assert_allclose(ds["GDP real"].sel(scenario="plan").values, csv["GDP real"].values)
    ds.close()
    md = (first_run / "scorecard.md").read_text(encoding="utf-8")
    table, outcomes = md.split("## Published outcomes (actual)")
    assert table.strip().count("\n") == 2 + 18 - 1          # header, rule, 18 rows
    assert "actual_value" in table.splitlines()[0] and "reality" in table.splitlines()[0]
    assert outcomes.strip().count("\n") == 2 + 6 - 1        # one row per target
    assert (first_run / "actual.csv").is_file()


def test_manifest_contents(first_run):
    m = json.loads((first_run / "manifest.json").read_text(encoding="utf-8"))
    assert m["model"]["sha256"] == hashlib.sha256(TINY.read_bytes()).hexdigest()
    files = {Path(k).name: v for k, v in m["files"]["scenarios"].items()}
    assert files == {n: hashlib.sha256((SCEN / n).read_bytes()).hexdigest()
                     for n in ("baseline.yaml", "plan.yaml", "fast.yaml")}
    assert list(m["files"]["targets"].values()) == [hashlib.sha256((SCEN / "targets.yaml").read_bytes()).hexdigest()]
    assert list(m["files"]["registry"].values()) == [hashlib.sha256((SCEN / "levers.yaml").read_bytes()).hexdigest()]
    plan = m["scenarios"]["plan"]["params"]
    assert plan["closure year"] == 2018.0
    assert plan["transfer"][-1] == [2016.0, 20.0] and plan["transfer"][0][1] == 5.0   # default before 2016
    assert plan["efficiency gain"][-2:] == [[2016.0, 0.03], [2020.0, 0.05]]
    assert m["scenarios"]["baseline"]["params"] == {}
    # the full lever picture: the scenario's values, the model's own values elsewhere
    assert m["scenarios"]["baseline"]["levers"] == {"growth rate": 0.08, "transfer": 5.0, "closure year": 2025.0,
                                                    "efficiency gain": 0.02, "base share speed": 0.05}
    assert m["scenarios"]["plan"]["levers"]["transfer"] == plan["transfer"]
    assert m["scenarios"]["plan"]["levers"]["base share speed"] == 0.05
    assert m["scenarios"]["fast"]["params"]["growth rate"][-1] == [2016.0, 0.12]
    assert m["sim_version"] == sim.__version__
    assert set(m["versions"]) >= {"python", "numpy", "scipy", "pysd", "pandas", "xarray"}
    assert m["engine"] == {"method": "RK45", "rtol": 1e-6, "atol": None}
    assert m["git"]["commit"] is None or len(m["git"]["commit"]) == 40
    assert isinstance(m["git"]["dirty"], (bool, type(None)))
    created = datetime.fromisoformat(m["created_utc"])
    assert created.tzinfo is not None and abs((datetime.now(timezone.utc) - created).total_seconds()) < 600
    assert "figure_tasks" in m["figures"]
    first = m["targets"][0]  # full definitions, so figures can be redrawn from the folder alone
    assert first["id"] == "gdp_growth_2020" and first["measure"] == "avg_growth"
    assert {"indicator", "comparator", "threshold", "unit", "basis"} <= set(first)


# ------------------------------------------------------------------ never overwrite
def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in folder.rglob("*") if p.is_file()}


def test_second_run_does_not_touch_the_first(first_run, monkeypatch):
    before = snapshot(first_run)
    monkeypatch.setitem(sys.modules, "sim.plots", NO_PLOTS)
    with pytest.warns(UserWarning):
        second = run_all(SCEN, TINY, results_root=first_run.parent, name="tiny", scenarios=["plan"])
    assert second != first_run and second.parent == first_run.parent
    assert snapshot(first_run) == before
    assert [p.stem for p in (second / "timeseries").glob("*.csv")] == ["plan"]
    with pytest.raises(FileExistsError):
        run_all(SCEN, TINY, out=second, figures=False)
    assert snapshot(second)


def test_same_second_gives_distinct_folders(tmp_path):
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    a, b = new_results_dir(tmp_path, "x/y", now), new_results_dir(tmp_path, "x/y", now)
    assert a != b and a.is_dir() and b.is_dir()
    assert a.name == "20260102T030405Z-x_y" and b.name == "20260102T030405Z-x_y-2"


# ------------------------------------------------------------------ validation first, injection
def test_invalid_scenarios_stop_before_anything_runs(tmp_path):
    import shutil
    folder = tmp_path / "s"
    shutil.copytree(SCEN, folder)
    (folder / "bad.yaml").write_text("id: bad\nname: {zh: 坏, en: Bad}\ndescription: {zh: 坏, en: Bad}\n"
                                     "extends: baseline\nlevers: {transfer: 999, growth rat: 0.1}\n", encoding="utf-8")
    calls = []
    with pytest.raises(ValidationError) as err:
        run_all(folder, TINY, results_root=tmp_path / "r", simulate=lambda *a, **k: calls.append(a))
    assert len(err.value.problems) == 2 and calls == []
    assert not (tmp_path / "r").exists()
    assert len(validate_all(folder, TINY)) == 2


def test_runner_asks_targets_for_events_and_hands_times_back(tmp_path):
    """A stub engine: the runner passes the events the targets need and reads their times."""
    seen = []

    def stub(model, params=None, events=None, **engine):
        seen.append((params, [(e.variable, e.threshold, e.direction, e.key) for e in events], engine))
        t = np.arange(2010.0, 2031.0)
        df = pd.DataFrame({"GDP real": 100 * 1.2 ** (t - 2010), "replacement share": np.full(t.size, 0.5),
                           "energy intensity": 0.9 ** (t - 2010)}, index=pd.Index(t, name="time"))
        df.attrs["events"] = {events[0].key: 2017.25}
        return df

    out = run_all(SCEN, TINY, results_root=tmp_path, scenarios=["fast"], simulate=stub, figures=False,
                  engine={"method": "LSODA", "rtol": 1e-8})
    (params, events, engine), = seen
    assert events == [("replacement share", pytest.approx(0.6), "up", "target:replacement_share_2020")]
    assert engine == {"method": "LSODA", "rtol": 1e-8, "atol": None}
    assert set(params) == {"transfer", "closure year", "efficiency gain", "growth rate"}
    card = card_of(out)
    # the value (0.5) fails but the year is the engine's event time, not a scan of the series
    assert card.loc[("fast", "replacement_share_2020"), "year_reached"] == 2017.25
    assert card.loc[("fast", "gdp_growth_2020"), "value"] == pytest.approx(20.0)


def test_a_failing_scenario_is_named_and_no_folder_is_written(tmp_path):
    def failing(model, params=None, events=None, **engine):
        if "growth rate" in params:
            raise sim.SimulationError("stock 'GDP real' goes negative", time=2017.0, variable="GDP real")
        return sim.simulate(model, params=params, events=events, **engine)

    with pytest.raises(sim.SimulationError, match=r"scenario 'fast' \(.*fast.yaml\): stock 'GDP real'") as err:
        run_all(SCEN, TINY, results_root=tmp_path / "r", simulate=failing, figures=False)
    assert err.value.time == 2017.0 and err.value.variable == "GDP real"
    assert not (tmp_path / "r").exists()


def test_unknown_scenario_selection_suggests(tmp_path):
    with pytest.raises(ValidationError, match="did you mean 'plan'"):
        run_all(SCEN, TINY, results_root=tmp_path, scenarios=["plam"], figures=False)


def test_figure_writer_gets_results_scorecard_targets_and_meta(tmp_path, monkeypatch):
    calls = []
    plots = types.ModuleType("sim.plots")

    def figure_tasks(folder, results, card, targets, meta, lang, formats):
        calls.append((folder, sorted(results), len(card), [t.id for t in targets], sorted(meta), lang))
        assert formats == ("png", "svg")

        def draw():   # a task runs in a worker process: it says what it wrote
            folder.mkdir()
            (folder / "f.png").write_bytes(b"png")
            return [folder / "f.png"]
        return [draw]

    plots.figure_tasks = figure_tasks
    plots.figure_files = lambda done: [f for files in done for f in files]
    monkeypatch.setitem(sys.modules, "sim.plots", plots)
    out = run_all(SCEN, TINY, results_root=tmp_path, scenarios=["baseline", "plan"], documents=False)
    (folder, ids, n, target_ids, meta, lang), = calls
    # figures are drawn into the staging folder, renamed to the final name at the end
    assert final_path(folder.parent) / "figures" == out / "figures" and (out / "figures" / "f.png").is_file()
    assert ids == ["baseline", "plan"] and n == 12
    assert target_ids == [t.id for t in load_targets(SCEN / "targets.yaml")]
    assert meta == ["baseline", "fast", "plan"] and lang == "both"
    m = json.loads((out / "manifest.json").read_text())
    assert m["figures"] == "written: 1 files (both; png, svg)" and "figures/f.png" in m["outputs"]
    assert out.name.endswith("-baseline-plan")        # named after what was run


# ------------------------------------------------------------------ compare
def test_compare_runs_or_reads_saved_results_and_agrees(first_run, tmp_path, monkeypatch):
    ran, none = compare("baseline", "plan", SCEN, TINY)
    assert none is None
    drawn = []
    plots = types.ModuleType("sim.plots")
    plots.compare_figure = lambda path, results, a, b, targets, meta, lang: drawn.append((path.name, a, b, lang))
    monkeypatch.setitem(sys.modules, "sim.plots", plots)
    read, out = compare("baseline", "plan", SCEN, results_dir=first_run, out=tmp_path / "cmp")
    pd.testing.assert_frame_equal(ran, read, rtol=1e-9)
    pd.testing.assert_frame_equal(pd.read_csv(out / "compare.csv"), read, rtol=1e-9)
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert md.count("\n") == 4 + len(read)          # heading, blank line, table head (2), rows
    flips = read[read["passed_baseline"] != read["passed_plan"]]
    assert len(flips) and f"{len(flips)} verdict(s) flip" in md
    human = read.attrs["human"]
    verdicts = list(human["判定 verdict"])
    n = len(flips)
    assert all("→" in v for v in verdicts[:n]) and not any("→" in v for v in verdicts[n:])
    # two decimals, bilingual scenario names, goal names in both languages with the year
    assert all(re.fullmatch(r"[✓✗] −?-?\d+\.\d\d", v) for v in human.iloc[:, 2])
    assert "(2020)" in human.iloc[0, 0] and " / " in human.iloc[0, 0]
    assert json.loads((out / "manifest.json").read_text())["kind"] == "compare"
    assert drawn == [("compare_baseline_plan_{year}_zh.png", "baseline", "plan", "zh"),
                     ("compare_baseline_plan_{year}_en.png", "baseline", "plan", "en")]
    row = ran.set_index("target").loc["gdp_growth_2020"]
    assert row["difference"] == pytest.approx(row["plan"] - row["baseline"]) and row["difference"] > 0
    assert not row["passed_baseline"] and row["passed_plan"]
    with pytest.raises(FileNotFoundError, match="did you mean 'plan'"):
        compare("baseline", "plam", SCEN, results_dir=first_run)
    with pytest.raises(FileExistsError):
        compare("baseline", "plan", SCEN, results_dir=first_run, out=out)


# ------------------------------------------------------------------ the project's own files
ROOT = HERE.parent


@pytest.mark.skipif(not (ROOT / "scenarios" / "levers.yaml").is_file()
                    or not (ROOT / "models" / "jingdezhen.mdl").is_file(),
                    reason="the Jingdezhen model or its lever registry is not there yet")
def test_project_plan_and_baseline_give_a_full_scorecard(tmp_path):
    out = run_all(ROOT / "scenarios", ROOT / "models" / "jingdezhen.mdl", results_root=tmp_path,
                  scenarios=["baseline", "plan"], figures=False)
    card = pd.read_csv(out / "scorecard.csv")
    n_targets = len(load_targets(ROOT / "scenarios" / "targets.yaml"))
    assert len(card) == 2 * n_targets and n_targets >= 20
    bad = card.loc[~np.isfinite(card["value"]), ["scenario", "target"]]
    assert bad.empty, f"targets without a finite value: {bad.values.tolist()}"
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["scenarios"]["plan"]["params"] and m["scenarios"]["baseline"]["params"] == {}


# ------------------------------------------------------------------ exports
def test_exports_workbook_units_and_no_constants(first_run):
    """results.xlsx: the scorecard and one sheet per scenario with units in the second
    header row, equal to the CSVs; the series leave the model's constants out; the folder
    is named after the run."""
    from openpyxl import load_workbook

    from sim.engine.load import load_model

    assert first_run.name.endswith("-tiny")
    constants = set(load_model(TINY).constants())
    units = pd.read_csv(first_run / "timeseries_units.csv").set_index("variable")["unit"]
    wb = load_workbook(first_run / "results.xlsx", read_only=True)
    assert wb.sheetnames == ["scorecard", "actual", "baseline", "plan", "fast"]
    card = pd.read_csv(first_run / "scorecard.csv")
    rows = list(wb["scorecard"].values)
    assert list(rows[0]) == list(card.columns) and len(rows) == 1 + len(card)
    actual = pd.read_csv(first_run / "actual.csv", keep_default_na=False)
    rows = list(wb["actual"].values)                                   # the same table as actual.csv
    assert list(rows[0]) == list(actual.columns) and len(rows) == 1 + len(actual) > 1
    assert [r[0] for r in rows[1:]] == list(actual["target"])
    assert [r[list(actual.columns).index("status")] for r in rows[1:]] == list(actual["status"])
    for sid in ("baseline", "plan", "fast"):
        csv = pd.read_csv(first_run / "timeseries" / f"{sid}.csv", index_col="time")
        assert constants and not constants & set(csv.columns)        # constants left out
        sheet = list(wb[sid].values)
        assert list(sheet[0]) == ["time", *csv.columns]
        assert list(sheet[1]) == ["Year", *(units[c] if isinstance(units[c], str) else None
                                            for c in csv.columns)]
        values = np.array([[np.nan if v is None else v for v in r[1:]] for r in sheet[2:]], float)
        np.testing.assert_allclose(values, csv.to_numpy(float), rtol=1e-12)
    assert any(isinstance(u, str) and u for u in units)               # real units, not all blank


def test_constants_kept_when_asked(tmp_path):
    from sim.engine.load import load_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "sim.plots", NO_PLOTS)
        with pytest.warns(UserWarning):
            out = run_all(SCEN, TINY, results_root=tmp_path, scenarios=["plan"], constants=True)
    assert out.name.endswith("-plan")
    csv = pd.read_csv(out / "timeseries" / "plan.csv", index_col="time")
    assert set(load_model(TINY).constants()) & set(csv.columns)
