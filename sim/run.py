"""The main job: validate scenarios and targets, run every scenario, judge, write a results folder.

``run_all`` writes a NEW folder ``results/<UTC timestamp>-<name>/`` (never overwrites):

- ``timeseries/<scenario>.csv`` and ``timeseries.nc`` (xarray, scipy engine: netCDF3):
  every model variable but the constants (unless ``constants=True``), units in
  ``timeseries_units.csv``,
- ``results.xlsx``: the scorecard, the published outcomes (``actual``) and one sheet per
  scenario (units in the second header row),
- ``scorecard.csv`` and ``scorecard.md`` (columns: :data:`sim.policy.targets.SCORECARD_COLUMNS`
  then :data:`sim.history.REALITY_COLUMNS`: the published outcome of each target and whether
  it confirmed or reversed the scenario's verdict), ``actual.csv`` (one row per target,
  :func:`sim.history.actual_outcomes`),
- ``manifest.json``: file hashes, resolved parameters, versions, git commit, engine settings,
- ``figures/`` when :mod:`sim.plots` provides ``figure_tasks``, and the brief and slides;
  both are drawn in one pool of processes (:func:`sim.report.parallel.run_tasks`).

Functions take paths and return data or paths; printing is the CLI's job.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sim.defaults import DEFAULT_MODEL, DEFAULT_RESULTS_ROOT, DEFAULT_SCENARIO_DIR, ENGINE_DEFAULTS
from sim.errors import SimError, UsageError, suggest
from sim.policy.scenario import Problem, ValidationError, param_to_json
from sim.policy.study import (Study, model_facts, read_study, select_scenarios, study_paths,  # noqa: F401
                              target_events, validate_study)
from sim.policy.targets import TargetSet, read_targets, scorecard
from sim.policy.vantage import (VANTAGE_CONSTANT, from_vantage, seen_from, vantage_constants,  # noqa: F401
                                vantage_groups, vantage_scorecard, vantages, latest_vantage, vantage_views)
from sim.history import (DATA_DIR, HISTORY_FILES, RECONCILIATION_FILE, actual_outcomes,
                         check_actuals, reality_check)
from sim.report.exports import series_columns, units_table, write_workbook
from sim.report.parallel import counter, run_tasks
from sim.report.scorecard import scorecard_markdown
from sim.provenance import (PACKAGES, git_state, jsonable, make_results_dir, netcdf_name,  # noqa: F401
                            finish_results_dir, new_results_dir, refuse_existing, sha256, versions,
                            write_manifest)

__all__ = ["DEFAULT_MODEL", "DEFAULT_RESULTS_ROOT", "DEFAULT_SCENARIO_DIR", "ENGINE_DEFAULTS", "compare",
           "git_state", "jsonable", "make_results_dir", "model_facts", "new_results_dir", "run_all",
           "run_scenarios", "sha256", "target_events", "validate_all", "versions", "write_manifest",
           "write_netcdf"]


def validate_all(scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL, targets=None, registry=None, *,
                 load_model: Callable | None = None) -> list[Problem]:
    """Every problem in the scenario folder, the lever registry and the targets file.

    ``targets`` and ``registry`` default to ``targets.yaml`` and ``levers.yaml`` in the
    scenario folder. With a ``model`` (path), levers must be model constants with the
    model's units, table years must lie in its time span and target indicators must be
    model variables. Returns an empty list when everything is valid.
    """
    return _validate(scenario_dir, model, targets, registry, load_model)[0]


def _validate(scenario_dir, model, targets, registry, load_model):
    """:func:`validate_study` plus the targets' ``actual:`` series against the data's
    reconciliation (:func:`sim.history.check_actuals`): (problems, study)."""
    problems, study = validate_study(scenario_dir, model, targets, registry, load_model=load_model)
    if study is not None and study.targets is not None:
        try:
            problems += check_actuals(study.targets, str(study.targets_path))
        except ValidationError as err:  # the reconciliation file itself is wrong
            problems += err.problems
    return problems, study


def write_netcdf(results: Mapping[str, pd.DataFrame], path: Path) -> Path:
    """All scenarios in one netCDF3 file (dims ``scenario``, ``time``; one variable per column)."""
    import xarray as xr

    ids = list(results)
    columns = list(dict.fromkeys(c for df in results.values() for c in df.columns))
    time = results[ids[0]].index.to_numpy(dtype=float)
    data = {}
    for col in columns:
        arr = np.full((len(ids), time.size), np.nan)
        for i, sid in enumerate(ids):
            df = results[sid]
            if col in df.columns:
                arr[i] = np.interp(time, df.index.to_numpy(dtype=float), pd.to_numeric(df[col], errors="coerce"))
        data[netcdf_name(col)] = xr.DataArray(arr, dims=("scenario", "time"), attrs={"long_name": col})
    ds = xr.Dataset(data, coords={"scenario": np.array(ids, dtype=object), "time": time})
    ds["time"].attrs["units"] = "Year"
    ds.to_netcdf(path, engine="scipy")
    return path


#: Figure formats of the main job (``--formats``); the forum set adds pdf.
RUN_FORMATS = ("png", "svg")


def _figure_tasks(out_dir: Path, results, card, targets, meta, lang="both", formats=RUN_FORMATS,
                  target_runs=None) -> tuple[list, Callable | None, str]:
    """The figure set as tasks (:func:`sim.plots.figure_tasks`), the function that turns their
    results into files, and a note for the manifest when there are none."""
    try:
        plots = importlib.import_module(f"{__package__}.plots")
    except ImportError as err:
        note = f"skipped: sim.plots cannot be imported ({err})"
        warnings.warn(note, stacklevel=3)
        return [], None, note
    make, collect = getattr(plots, "figure_tasks", None), getattr(plots, "figure_files", None)
    if make is None or collect is None:
        note = "skipped: sim.plots has no figure_tasks and figure_files"
        warnings.warn(note, stacklevel=3)
        return [], None, note
    extra = {"target_runs": target_runs} if target_runs else {}
    tasks = make(out_dir / "figures", results, card, targets, meta, lang=lang, formats=tuple(formats), **extra)
    return tasks, collect, "written"


def _all_levers(params: Mapping, levers: Mapping, defaults: Mapping) -> dict:
    """Every registry lever's value in a run: the scenario's param, else the model's own value."""
    return {name: param_to_json(params[name]) if name in params
            else (float(defaults[name]) if name in defaults else None) for name in levers}


def run_scenarios(study: Study, ids: list[str], simulate: Callable, engine: dict,
                  vantage: float | None = None, targets=None,
                  progress: Callable[[str], None] | None = None):
    """Run scenarios of a :class:`~sim.policy.study.Study`: ``(results {id: DataFrame},
    event times {id: {...}}, params {id: {...}}, the ScenarioSet)``.  With ``vantage`` (a
    year) every scenario is seen from that year (:func:`sim.policy.vantage.from_vantage`,
    plus the constants of the calibration made then); ``targets`` (default: all) set the
    events to record; ``progress`` gets ``scenario 2/6 plan: 0.5 s`` after each."""
    sset = study.scenario_set()
    events = target_events(study.targets if targets is None else targets)
    results, event_times, params = {}, {}, {}
    for sid in ids:
        t0 = time.perf_counter()
        params[sid] = sset.resolve(sid, defaults=study.defaults)
        if vantage is not None:
            params[sid] = seen_from(params[sid], study.defaults, getattr(study.loaded, "path", None), vantage)
        try:
            df = simulate(study.loaded, params=params[sid], events=events, **engine)
        except SimError as err:  # say which scenario failed, keep the error's type and fields
            err.args = (f"scenario {sid!r} ({sset.scenarios[sid].path}): {err.args[0] if err.args else err}",
                        *err.args[1:])
            raise
        results[sid] = df
        event_times[sid] = dict(df.attrs.get("events") or {})
        if progress:
            progress(f"scenario {len(results)}/{len(ids)} {sid}: {time.perf_counter() - t0:.1f} s")
    return results, event_times, params, sset


def judge_from_vantages(study: Study, ids: list[str], simulate: Callable, engine: dict,
                        progress: Callable[[str], None] | None = None):
    """Run every scenario once per vantage and judge each target on the run seen from its
    horizon's base year.  Returns ``(runs {vantage: {id: DataFrame}}, event times
    {vantage: {id: {...}}}, params {vantage: {id: {...}}}, the ScenarioSet, scorecard)``;
    scorecard rows in scenario order, then target-file order."""
    groups = vantages(study)
    runs, events, params, sset = {}, {}, {}, study.scenario_set()
    for vantage, targets in groups.items():
        runs[vantage], events[vantage], params[vantage], sset = run_scenarios(
            study, ids, simulate, engine, vantage=vantage, targets=targets, progress=progress)
    card = vantage_scorecard(runs, groups, events, order=ids, targets=study.targets or [])
    return runs, events, params, sset, card


def run_all(scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL, out=None, scenarios=None,
            name: str | None = None, *, targets=None, registry=None, results_root=DEFAULT_RESULTS_ROOT,
            simulate: Callable | None = None, load_model: Callable | None = None,
            engine: Mapping | None = None, figures: bool = True, lang: str = "both",
            formats=RUN_FORMATS, workers: int | None = None,
            progress: Callable[[str], None] | None = None, constants: bool = False,
            documents: bool | None = None) -> Path:
    """Validate everything, run each scenario, judge the targets, write a new results folder.

    ``out``: the folder to create (an existing one is an error); default
    ``<results_root>/<UTC timestamp>-<name>``, ``name`` defaulting to ``main`` (every
    scenario) or the ids run joined by ``-`` (``-plan``). ``scenarios``: ids to run
    (default all). ``constants``: also write the model's constants into the time series
    (default: left out; their values are in the manifest).
    ``engine``: solver settings passed to ``simulate`` (default RK45, rtol 1e-6).
    ``simulate``/``load_model`` default to :func:`sim.simulate` / :func:`sim.load_model`.
    ``lang``/``formats``: the figure set's languages (zh, en, both) and file formats
    (default PNG and SVG); ``workers``: processes drawing figures (default one per CPU);
    ``progress``: called with a short line after each scenario and as figures finish.
    ``documents``: write the policy brief and the slides (:func:`document_task` per language; default:
    when figures are written).
    Raises :class:`~sim.policy.scenario.ValidationError` (every problem) before running anything.
    Returns the results folder.
    """
    refuse_existing(out, results_root)
    problems, study = _validate(scenario_dir, model, targets, registry, load_model)
    if problems:
        raise ValidationError(problems)
    if study.loaded is None:
        raise SimError("run_all needs a model file")
    if simulate is None:
        from sim.engine.integrate import simulate
    engine = {**ENGINE_DEFAULTS, **(engine or {})}
    documents = figures if documents is None else documents
    ids = study.select(scenarios)
    runs, events_by_vantage, params_by_vantage, sset, card = judge_from_vantages(
        study, ids, simulate, engine, progress)
    latest = latest_vantage(runs)
    results, event_times = runs[latest], events_by_vantage[latest]
    # the scenarios as written (their own levers); each vantage's params are under "vantages"
    params = {sid: sset.resolve(sid, defaults=study.defaults) for sid in ids}
    target_set: TargetSet = study.targets
    actual = actual_outcomes(target_set)
    card = reality_check(card, actual)

    if name is None:      # the folder says what was run: -main, or the scenario ids
        name = "main" if scenarios is None else "-".join(ids)
    out_dir = make_results_dir(out, results_root, name)
    ts_dir = out_dir / "timeseries"
    ts_dir.mkdir()
    model_units = study.facts["units"] if study.facts else {}
    series = {sid: df[series_columns(df, study.facts["constants"] if study.facts else (), constants)]
              for sid, df in results.items()}
    for sid, df in series.items():
        df.to_csv(ts_dir / f"{sid}.csv", index_label="time")
    for vantage, other in runs.items():       # the earlier vantages: timeseries/vantage_<year>/
        if vantage != latest:
            sub = ts_dir / f"vantage_{vantage:g}"
            sub.mkdir()
            for sid, df in other.items():
                df[series_columns(df, study.facts["constants"] if study.facts else (), constants)].to_csv(
                    sub / f"{sid}.csv", index_label="time")
    columns = list(dict.fromkeys(c for df in series.values() for c in df.columns))
    units_table(columns, model_units).to_csv(out_dir / "timeseries_units.csv", index=False)
    write_netcdf(series, out_dir / "timeseries.nc")
    card.to_csv(out_dir / "scorecard.csv", index=False)
    actual.to_csv(out_dir / "actual.csv", index=False)
    (out_dir / "scorecard.md").write_text(scorecard_markdown(card, actual), encoding="utf-8")
    write_workbook(out_dir / "results.xlsx", series, card, model_units, actual)
    if progress:
        progress(f"wrote time series ({len(columns)} variables), scorecard and results.xlsx")

    record = dict(
        name=name,
        model={"path": str(model), "sha256": getattr(study.loaded, "sha256", None) or sha256(model),
               "time_span": list(study.time_span)},
        files={"scenarios": {str(sc.path): sha256(sc.path) for sc in study.scenarios.values()},
               "registry": {str(study.registry_path): sha256(study.registry_path)},
               "targets": {str(study.targets_path): sha256(study.targets_path)},
               "data": {f"{DATA_DIR.name}/{f}": sha256(DATA_DIR / f)
                        for f in (*HISTORY_FILES, RECONCILIATION_FILE)}},
        engine=dict(engine),
        vantages={("none" if v is None else f"{v:g}"): {
            "history_end_year": v, "levers_from": None if v is None else v + 1,
            "targets": [t.id for t in group],
            "timeseries": "timeseries/" if v == latest else f"timeseries/vantage_{v:g}/",
            "params": {sid: {k: param_to_json(x) for k, x in p.items()} for sid, p in params_by_vantage[v].items()},
            "events": events_by_vantage[v]} for v, group in vantages(study).items()},
        scenarios={sid: {**sset.scenarios[sid].meta(),
                         "params": {k: param_to_json(v) for k, v in params[sid].items()},
                         "levers": _all_levers(params[sid], study.levers, study.defaults),
                         "events": event_times[sid],
                         "nfev": results[sid].attrs.get("nfev")} for sid in ids},
        model_defaults=study.defaults,
        targets=[{"id": t.id, **dataclasses.asdict(t)} for t in target_set],
    )
    # the brief reads the manifest: written before the report work, again with its notes after
    write_manifest(out_dir, "run", **record)

    doc_tasks = [functools.partial(document_task, out_dir, one) for one in DOCUMENT_LANGS] if documents else []
    fig_tasks, collect, figure_note = [], None, "skipped: figures=False"
    try:
        if figures:   # each target's figure draws the runs its verdict rests on
            seen, meta, target_runs = vantage_views(
                runs, {v: [t.id for t in group] for v, group in vantages(study).items()}, sset.meta())
            fig_tasks, collect, figure_note = _figure_tasks(
                out_dir, seen, card, target_set, meta, lang, formats, target_runs)
        tick = counter(progress, "figures", len(fig_tasks))

        def done(index, result):   # documents first: they take longest, the figures fill in around them
            if index >= len(doc_tasks):
                tick()
            elif progress:
                progress(f"brief and slides ({DOCUMENT_LANGS[index]}): {documents_note([result])}")
        outcome = run_tasks(doc_tasks + fig_tasks, workers, on_done=done)
    except Exception as err:  # noqa: BLE001 - a figure failed: recorded in the manifest, then raised
        write_manifest(out_dir, "run", **record, figures=f"failed: {type(err).__name__}: {err}",
                       **({"documents": "not written: the figures failed"} if documents else {}))
        finish_results_dir(out_dir, explicit=out is not None)
        raise
    if collect is not None:
        files = collect(outcome[len(doc_tasks):])
        figure_note = f"written: {len(files)} files ({lang}; {', '.join(formats)})"
    notes = {"documents": documents_note(outcome[:len(doc_tasks)])} if documents else {}
    write_manifest(out_dir, "run", **record, figures=figure_note, **notes)
    return finish_results_dir(out_dir, explicit=out is not None)


# --------------------------------------------------------------------------- brief and slides
#: Languages of the policy brief and the slides the main job writes.
DOCUMENT_LANGS = ("zh", "en")


def _documents_of(out_dir: Path, lang: str) -> list[str]:
    """Brief (HTML + PDF) of one language, and for Chinese the slides; the file names."""
    from sim.report.brief import write_brief
    from sim.report.brief_data import read_run
    from sim.report.slides import write_slides

    run = read_run(out_dir, lang=lang)
    names = [p.name for p in write_brief(out_dir, lang, run=run)]
    if lang == "zh":
        names.append(write_slides(out_dir, lang, run=run).name)
    return names


def document_task(out_dir: Path, lang: str) -> list[str] | str:
    """Write the documents of one language (:func:`_documents_of`): their file names, or on
    failure a note saying why. A failure is warned about, not raised: the run's results stand
    without their documents (``python -m sim brief`` / ``slides`` redo them)."""
    try:
        return _documents_of(out_dir, lang)
    except Exception as err:  # noqa: BLE001 - recorded in the manifest and warned about
        note = f"{lang} failed: {type(err).__name__}: {err}"
        warnings.warn(f"{out_dir}: brief and slides {note}", stacklevel=2)
        return note


def documents_note(done: Iterable[list[str] | str]) -> str:
    """The manifest's note on the documents: ``written: <files>``, then any failures."""
    done = list(done)
    written = [name for d in done if isinstance(d, list) for name in d]
    failed = [d for d in done if isinstance(d, str)]
    return "; ".join((["written: " + ", ".join(written)] if written else []) + failed)


# --------------------------------------------------------------------------- compare
def compare(a: str, b: str, scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL, *, out=None,
            results_dir=None, targets=None, registry=None, simulate: Callable | None = None,
            load_model: Callable | None = None, engine: Mapping | None = None,
            figures: bool = True, save: bool = False,
            results_root=DEFAULT_RESULTS_ROOT) -> tuple[pd.DataFrame, Path | None]:
    """Difference table between scenarios ``a`` and ``b`` for every target.

    With ``results_dir`` (a folder written by :func:`run_all`) the saved time series are
    read; otherwise both scenarios are run. Table columns: ``target``, ``indicator``,
    ``measure``, ``unit``, ``<a>``, ``<b>``, ``difference`` (b − a, in ``unit``),
    ``passed_<a>``, ``passed_<b>``.

    With ``out`` (a folder that must not exist), or ``save=True`` (a new folder
    ``<results_root>/<UTC time>-compare-<a>-<b>``), it writes ``compare.csv`` (this
    table), ``compare.md`` (:func:`sim.report.comparison.human_table`: bilingual names,
    two decimals, verdicts that flip first; also in ``table.attrs["human"]``),
    ``manifest.json`` and, with ``figures``,
    ``compare_<a>_<b>_<year>_<lang>.png`` (one 16:9 dashboard per horizon, zh and en).
    Returns ``(table, folder or None)``.
    """
    if a == b:
        raise UsageError(f"compare {a} {b}: the same scenario twice; name two different "
                         "scenarios (e.g. compare baseline plan)")
    refuse_existing(out)
    meta, study = None, None
    if results_dir is not None:
        _, targets_path, _ = study_paths(scenario_dir, targets, registry)
        target_set, problems = read_targets(targets_path)
        if problems:
            raise ValidationError(problems)
        results = {}
        for sid in (a, b):
            csv = Path(results_dir) / "timeseries" / f"{sid}.csv"
            if not csv.is_file():
                have = [p.stem for p in (Path(results_dir) / "timeseries").glob("*.csv")]
                raise FileNotFoundError(f"{csv}: no saved results for scenario {sid!r}" + suggest(sid, have))
            results[sid] = pd.read_csv(csv, index_col="time")
        manifest = Path(results_dir) / "manifest.json"
        if manifest.is_file():
            meta = json.loads(manifest.read_text(encoding="utf-8")).get("scenarios")
        event_times = None
    else:
        study = read_study(scenario_dir, model, targets, registry, load_model=load_model)
        sset = study.scenario_set()
        study.select([a, b])
        if simulate is None:
            from sim.engine.integrate import simulate
        runs, _, _, _, card = judge_from_vantages(study, [a, b], simulate, {**ENGINE_DEFAULTS, **(engine or {})})
        results = runs[latest_vantage(runs)]
        target_set, meta = study.targets, sset.meta()
    if results_dir is not None:
        card = scorecard(results, target_set, event_times)
    card = card.set_index(["scenario", "target"])
    rows = []
    for t in target_set:
        ra, rb = card.loc[(a, t.id)], card.loc[(b, t.id)]
        rows.append({"target": t.id, "indicator": t.label, "measure": t.measure, "unit": t.unit,
                     a: ra["value"], b: rb["value"], "difference": rb["value"] - ra["value"],
                     f"passed_{a}": bool(ra["passed"]), f"passed_{b}": bool(rb["passed"])})
    table = pd.DataFrame(rows)
    if out is None and not save:
        return table, None
    from sim.report.comparison import human_table, to_markdown

    out_dir = make_results_dir(out, results_root, f"compare-{a}-{b}")
    table.to_csv(out_dir / "compare.csv", index=False)
    human = human_table(table, list(target_set), a, b, meta)
    table.attrs["human"] = human
    n_flips = int((table[f"passed_{a}"] != table[f"passed_{b}"]).sum())
    (out_dir / "compare.md").write_text(to_markdown(human, a, b, n_flips), encoding="utf-8")
    if figures:
        from sim.plots import compare_figure

        for lang in ("zh", "en"):
            compare_figure(out_dir / f"compare_{a}_{b}_{{year}}_{lang}.png", results, a, b,
                           list(target_set), meta, lang=lang)
    files = {"targets": {str(study.targets_path if study else targets_path): sha256(
        study.targets_path if study else targets_path)}}
    if study is not None:
        files["scenarios"] = {str(study.scenarios[s].path): sha256(study.scenarios[s].path) for s in (a, b)}
        model_info = {"path": str(model), "sha256": getattr(study.loaded, "sha256", None) or sha256(model)}
    else:
        model_info = None
    write_manifest(out_dir, "compare", model=model_info, files=files, scenarios=[a, b],
                   from_results=str(results_dir) if results_dir is not None else None,
                   engine=None if study is None else {**ENGINE_DEFAULTS, **(engine or {})},
                   flips=n_flips)
    return table, finish_results_dir(out_dir, explicit=out is not None)

# --------------------------------------------------------------------------- contributions
def write_contributions(contrib, out=None, *, results_root=DEFAULT_RESULTS_ROOT, scenarios_meta=None,
                        figure_goals=None, langs=("zh", "en"), model=None) -> Path:
    """A NEW results folder with the contribution tables, the tornado figures and a manifest.

    ``contrib``: a :class:`sim.analysis.contributions.Contributions`. Writes
    ``contributions_by_lever.csv``, ``contributions_by_clause.csv``, ``goals.csv``,
    ``contributions.md`` and ``figures/contributions_<lang>.{png,svg,pdf}``.
    """
    from sim.report.contributions import contributions_markdown, write_tornado

    out_dir = make_results_dir(out, results_root, f"contributions-{contrib.scenario}")
    contrib.by_lever.to_csv(out_dir / "contributions_by_lever.csv", index=False)
    contrib.by_clause.to_csv(out_dir / "contributions_by_clause.csv", index=False)
    contrib.goals.to_csv(out_dir / "goals.csv", index=False)
    (out_dir / "contributions.md").write_text(contributions_markdown(contrib), encoding="utf-8")
    for lang in langs:
        write_tornado(out_dir / "figures" / f"contributions_{lang}", contrib.by_lever, contrib.goals,
                      scenario=contrib.scenario, parent=contrib.parent, scenarios_meta=scenarios_meta,
                      targets=figure_goals, lang=lang)
    write_manifest(out_dir, "contributions", name=f"contributions-{contrib.scenario}",
                   model={"path": str(model), "sha256": sha256(model)} if model is not None else None,
                   scenario=contrib.scenario, parent=contrib.parent, method=contrib.method,
                   levers=contrib.levers, clauses=contrib.clauses, info=contrib.info)
    return finish_results_dir(out_dir, explicit=out is not None)
