"""The main job: validate scenarios and targets, run every scenario, judge, write a results folder.

``run_all`` writes a NEW folder ``results/<UTC timestamp>-<name>/`` (never overwrites):

- ``timeseries/<scenario>.csv`` and ``timeseries.nc`` (xarray, scipy engine: netCDF3),
- ``scorecard.csv`` and ``scorecard.md`` (columns: :data:`sim.policy.targets.SCORECARD_COLUMNS`
  then :data:`sim.history.REALITY_COLUMNS`: the published outcome of each target and whether
  it confirmed or reversed the scenario's verdict), ``actual.csv`` (one row per target,
  :func:`sim.history.actual_outcomes`),
- ``manifest.json``: file hashes, resolved parameters, versions, git commit, engine settings,
- ``figures/`` when :mod:`sim.plots` provides ``write_figure_set``.

Functions take paths and return data or paths; printing is the CLI's job.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
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
from sim.history import (DATA_DIR, HISTORY_FILES, RECONCILIATION_FILE, actual_outcomes,
                         check_actuals, reality_check)
from sim.report.scorecard import scorecard_markdown
from sim.report.tables import markdown_table
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


def _write_figures(out_dir: Path, results, card, targets, meta) -> str:
    try:
        plots = importlib.import_module(f"{__package__}.plots")
    except ImportError as err:
        note = f"skipped: sim.plots cannot be imported ({err})"
        warnings.warn(note, stacklevel=3)
        return note
    writer = getattr(plots, "write_figure_set", None)
    if writer is None:
        note = "skipped: sim.plots has no write_figure_set"
        warnings.warn(note, stacklevel=3)
        return note
    writer(out_dir / "figures", results, card, targets, meta, lang="both")
    return "written"


def _all_levers(params: Mapping, levers: Mapping, defaults: Mapping) -> dict:
    """Every registry lever's value in a run: the scenario's param, else the model's own value."""
    return {name: param_to_json(params[name]) if name in params
            else (float(defaults[name]) if name in defaults else None) for name in levers}


def run_scenarios(study: Study, ids: list[str], simulate: Callable, engine: dict):
    """Run scenarios of a :class:`~sim.policy.study.Study`: ``(results {id: DataFrame},
    event times {id: {...}}, params {id: {...}}, the ScenarioSet)``."""
    sset = study.scenario_set()
    events = target_events(study.targets)
    results, event_times, params = {}, {}, {}
    for sid in ids:
        params[sid] = sset.resolve(sid, defaults=study.defaults)
        try:
            df = simulate(study.loaded, params=params[sid], events=events, **engine)
        except SimError as err:  # say which scenario failed, keep the error's type and fields
            err.args = (f"scenario {sid!r} ({sset.scenarios[sid].path}): {err.args[0] if err.args else err}",
                        *err.args[1:])
            raise
        results[sid] = df
        event_times[sid] = dict(df.attrs.get("events") or {})
    return results, event_times, params, sset


def run_all(scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL, out=None, scenarios=None,
            name: str = "main", *, targets=None, registry=None, results_root=DEFAULT_RESULTS_ROOT,
            simulate: Callable | None = None, load_model: Callable | None = None,
            engine: Mapping | None = None, figures: bool = True, documents: bool | None = None) -> Path:
    """Validate everything, run each scenario, judge the targets, write a new results folder.

    ``out``: the folder to create (an existing one is an error); default
    ``<results_root>/<UTC timestamp>-<name>``. ``scenarios``: ids to run (default all).
    ``engine``: solver settings passed to ``simulate`` (default RK45, rtol 1e-6).
    ``simulate``/``load_model`` default to :func:`sim.simulate` / :func:`sim.load_model`.
    ``documents``: write the policy brief and the slides (:func:`write_documents`; default:
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
    results, event_times, params, sset = run_scenarios(study, ids, simulate, engine)
    target_set: TargetSet = study.targets
    actual = actual_outcomes(target_set)
    card = reality_check(scorecard(results, target_set, event_times), actual)

    out_dir = make_results_dir(out, results_root, name)
    ts_dir = out_dir / "timeseries"
    ts_dir.mkdir()
    for sid, df in results.items():
        df.to_csv(ts_dir / f"{sid}.csv", index_label="time")
    write_netcdf(results, out_dir / "timeseries.nc")
    card.to_csv(out_dir / "scorecard.csv", index=False)
    actual.to_csv(out_dir / "actual.csv", index=False)
    (out_dir / "scorecard.md").write_text(scorecard_markdown(card, actual), encoding="utf-8")

    figure_note, figure_error = "skipped: figures=False", None
    if figures:
        try:
            figure_note = _write_figures(out_dir, results, card, target_set, sset.meta())
        except Exception as err:  # noqa: BLE001 - recorded in the manifest, then raised
            figure_note, figure_error = f"failed: {type(err).__name__}: {err}", err

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
        scenarios={sid: {**sset.scenarios[sid].meta(),
                         "params": {k: param_to_json(v) for k, v in params[sid].items()},
                         "levers": _all_levers(params[sid], study.levers, study.defaults),
                         "events": event_times[sid],
                         "nfev": results[sid].attrs.get("nfev")} for sid in ids},
        model_defaults=study.defaults,
        targets=[{"id": t.id, **dataclasses.asdict(t)} for t in target_set],
        figures=figure_note)
    write_manifest(out_dir, "run", **record)
    if figure_error is not None:
        finish_results_dir(out_dir, explicit=out is not None)
        raise figure_error
    if documents:   # the brief reads the manifest: written first, then again with the documents
        write_manifest(out_dir, "run", **record, documents=write_documents(out_dir))
    out_dir = finish_results_dir(out_dir, explicit=out is not None)
    return out_dir


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


def write_documents(out_dir: Path, langs: Iterable[str] = DOCUMENT_LANGS, workers: int = 2) -> str:
    """The policy brief (HTML + PDF) in each language and the slides (``slides_zh.pptx``) of a
    results folder, one process per language; returns a note for the manifest. A failure is
    recorded, not raised: the run's results stand without their documents (``python -m sim
    brief`` redoes them)."""
    from concurrent.futures import ProcessPoolExecutor

    langs = list(langs)
    try:
        if workers > 1 and len(langs) > 1:
            with ProcessPoolExecutor(min(workers, len(langs))) as pool:
                written = [n for names in pool.map(_documents_of, [out_dir] * len(langs), langs) for n in names]
        else:
            written = [n for lang in langs for n in _documents_of(out_dir, lang)]
        return "written: " + ", ".join(written)
    except Exception as err:  # noqa: BLE001 - recorded in the manifest and warned about
        note = f"failed: {type(err).__name__}: {err}"
        warnings.warn(f"{out_dir}: brief and slides {note}", stacklevel=2)
        return note


# --------------------------------------------------------------------------- compare
def compare(a: str, b: str, scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL, *, out=None,
            results_dir=None, targets=None, registry=None, simulate: Callable | None = None,
            load_model: Callable | None = None, engine: Mapping | None = None,
            figures: bool = True) -> tuple[pd.DataFrame, Path | None]:
    """Difference table between scenarios ``a`` and ``b`` for every target.

    With ``results_dir`` (a folder written by :func:`run_all`) the saved time series are
    read; otherwise both scenarios are run. Table columns: ``target``, ``indicator``,
    ``measure``, ``unit``, ``<a>``, ``<b>``, ``difference`` (b − a, in ``unit``),
    ``passed_<a>``, ``passed_<b>``.

    With ``out`` (a folder that must not exist) the table is written as ``compare.csv`` and
    ``compare.md``, plus ``compare_<a>_<b>_<lang>.png`` for zh and en when
    :func:`sim.plots.compare_figure` exists. Returns ``(table, out folder or None)``.
    """
    if a == b:
        raise UsageError(f"compare {a} {b}: the same scenario twice; name two different "
                         "scenarios (e.g. compare baseline plan)")
    refuse_existing(out)
    meta = None
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
        results, event_times, _, _ = run_scenarios(study, [a, b], simulate,
                                                   {**ENGINE_DEFAULTS, **(engine or {})})
        target_set, meta = study.targets, sset.meta()
    card = scorecard(results, target_set, event_times).set_index(["scenario", "target"])
    rows = []
    for t in target_set:
        ra, rb = card.loc[(a, t.id)], card.loc[(b, t.id)]
        rows.append({"target": t.id, "indicator": t.label, "measure": t.measure, "unit": t.unit,
                     a: ra["value"], b: rb["value"], "difference": rb["value"] - ra["value"],
                     f"passed_{a}": bool(ra["passed"]), f"passed_{b}": bool(rb["passed"])})
    table = pd.DataFrame(rows)
    if out is None:
        return table, None
    out_dir = make_results_dir(out, None, "compare")
    table.to_csv(out_dir / "compare.csv", index=False)
    (out_dir / "compare.md").write_text(markdown_table(table), encoding="utf-8")
    if figures:
        try:
            plots = importlib.import_module(f"{__package__}.plots")
            drawer = getattr(plots, "compare_figure", None)
        except ImportError:
            drawer = None
        if drawer is None:
            warnings.warn("no comparison figure: sim.plots has no compare_figure", stacklevel=2)
        else:
            for lang in ("zh", "en"):
                drawer(out_dir / f"compare_{a}_{b}_{lang}.png", results, a, b, list(target_set), meta, lang=lang)
    return table, finish_results_dir(out_dir, explicit=True)


# --------------------------------------------------------------------------- contributions
def write_contributions(contrib, out=None, *, results_root=DEFAULT_RESULTS_ROOT, scenarios_meta=None,
                        figure_goals=None, langs=("zh", "en"), model=None) -> Path:
    """A NEW results folder with the contribution tables, the tornado figures and a manifest.

    ``contrib``: a :class:`sim.analysis.contributions.Contributions`. Writes
    ``contributions_by_lever.csv``, ``contributions_by_clause.csv``, ``goals.csv``,
    ``contributions.md`` and ``figures/contributions_<lang>.{png,svg,pdf}``.
    """
    from sim.report.contributions import write_tornado

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
    return out_dir


def contributions_markdown(contrib, top: int = 3) -> str:
    """Per goal: the total change, the interaction left by one-at-a-time runs, and the
    ``top`` levers by |Shapley value|; then the per-clause sums."""
    lines = [f"# Contributions of {contrib.scenario} against {contrib.parent} ({contrib.method} Shapley values)", "",
             "| goal | unit | " + contrib.parent + " | " + contrib.scenario + " | total change | "
             "interaction (one at a time) | met | top levers (Shapley) |", "|---|---|---|---|---|---|---|---|"]
    for g in contrib.goals.itertuples():
        top_levers = "; ".join(f"{r.lever} {r.shapley:+.3g}" for r in contrib.top(g.target, top).itertuples())
        lines.append(f"| {g.target} | {g.unit} | {g.parent:.4g} | {g.scenario:.4g} | {g.total:+.3g} | "
                     f"{g.interaction:+.2g} | {'yes' if g.passed else 'no'} | {top_levers} |")
    lines += ["", "## By clause (sum of its levers' Shapley values)", ""]
    wide = contrib.by_clause.pivot(index="target", columns="clause", values="shapley")
    wide = wide.reindex(index=list(contrib.goals.target), columns=list(dict.fromkeys(contrib.by_clause.clause)))
    lines.append("| goal | " + " | ".join(wide.columns) + " |")
    lines.append("|---|" + "|".join("---" for _ in wide.columns) + "|")
    for tid, row in wide.iterrows():
        lines.append(f"| {tid} | " + " | ".join(f"{v:+.3g}" for v in row) + " |")
    return "\n".join(lines) + "\n"
