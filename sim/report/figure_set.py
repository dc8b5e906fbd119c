"""The whole figure set of a run, in one or both languages, and rebuilding it from a folder.

:func:`write_figure_set` is what the main job (``sim.run.run_all``) calls;
:func:`regenerate` rebuilds the figures of a results folder written by it.
"""
from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing as mp
import os
import warnings
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pandas as pd

from sim.errors import ResultsFolderError
from sim.history import comparable_series
from sim.report.dashboard import horizon_stem, plot_dashboard
from sim.report.history import find_history, plot_model_vs_history
from sim.report.indicators import plot_target_indicator
from sim.report.labels import check_lang, default_labels
from sim.report.measures import MissingDataError, as_figure_target
from sim.report.panels import THEMES, plot_gdp_by_sector, plot_theme
from sim.report.style import DEFAULT_HORIZONS, DPI, FORMATS, save, scenario_colours

LANG_SETS = {"zh": ("zh",), "en": ("en",), "both": ("zh", "en")}


def _figures(results, scorecard, targets, scenarios_meta, history, common,
             target_runs=None) -> list[tuple]:
    """(file stem, function drawing the figure for one language) for the whole set.

    ``target_runs``: {target id: (results, scenarios_meta)} for targets judged on other runs
    than ``results`` (a horizon seen from its own vantage year); the others use ``results``."""
    target_runs = target_runs or {}
    labels = common["labels"]
    observed = comparable_series() if history is not None else None
    items: list[tuple[str, Callable]] = [
        (horizon_stem("dashboard", year), lambda lang, year=year: plot_dashboard(
            scorecard, targets, scenarios_meta, lang=lang, scenario_ids=list(results),
            colours=common["colours"], source=common["source"], labels=labels, horizon=year))
        for year in sorted({float(t.year) for t in targets})
    ]
    for t in targets:
        runs, meta = target_runs.get(t.id, (results, scenarios_meta))
        items.append((f"target_{t.id}", lambda lang, t=t, runs=runs, meta=meta: plot_target_indicator(
            runs, t, scorecard, meta, lang=lang, observed=observed, **common)))
    items.append(("gdp_by_sector", lambda lang: plot_gdp_by_sector(
        results, scenarios_meta=scenarios_meta, lang=lang, **common)))
    for key, theme in THEMES.items():
        items.append((key, lambda lang, theme=theme: plot_theme(
            results, theme["variables"], title=labels.t(theme["title"], lang, kind="title"),
            targets=targets, scenarios_meta=scenarios_meta, lang=lang, **common)))
    if history is not None:
        items.append(("model_vs_history", lambda lang: plot_model_vs_history(
            history, results, scenarios_meta=scenarios_meta, lang=lang, **common)))
    return items


def write_figure_set(out_dir, results: Mapping[str, pd.DataFrame], scorecard: pd.DataFrame,
                     targets, scenarios_meta: Mapping | None, lang: str = "both", *,
                     history: pd.DataFrame | str | None = "auto", source=None,
                     formats: Sequence[str] = FORMATS, dpi: int = DPI,
                     workers: int | None = 1,
                     progress: Callable[[str], None] | None = None,
                     target_runs: Mapping | None = None) -> list[Path]:
    """Write every figure of a run; return the files written.

    ``results``: {scenario id: DataFrame indexed by year, columns = model variables};
    ``scorecard``: the DataFrame of ``sim.policy.targets.scorecard``; ``targets``: the targets
    (``sim.policy.targets.Target`` objects, a ``TargetSet`` or target dicts); ``scenarios_meta``:
    {id: {"name": {zh, en}, ...}}. ``lang``: ``zh``, ``en`` or ``both``; each language goes
    to its own subfolder (``out_dir/zh``, ``out_dir/en``). ``history``: data points
    (indicator, year, value) for the model-vs-data figure; ``"auto"`` reads the project's
    data file when it is found (:func:`sim.report.history.find_history`), ``None`` skips
    the figure. Figures whose variables are missing from the results are skipped with a
    warning. ``workers``: processes drawing figures (None: one per CPU; forked, Linux; the
    files are the same as with one); ``progress``: called with a short line as they finish;
    ``target_runs``: {target id: (results, scenarios_meta)} where a target is judged on other
    runs than ``results`` (its horizon's vantage), so its figure shows the runs its verdict rests on.
    """
    check_lang(lang)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats={list(formats)}: expected one or more of {', '.join(FORMATS)}")
    if isinstance(history, str):
        if history != "auto":
            raise ValueError(f"history={history!r}: expected a DataFrame, 'auto' or None")
        history = find_history()
    out_dir = Path(out_dir)
    targets = [as_figure_target(t, f"targets[{i}]") for i, t in enumerate(targets)]
    common = {
        "colours": scenario_colours(results),
        "horizons": sorted({t.year for t in targets}) or list(DEFAULT_HORIZONS),
        "source": source,
        "labels": default_labels(),
    }
    jobs = [(stem, one, draw) for stem, draw in
            _figures(results, scorecard, targets, scenarios_meta, history, common, target_runs)
            for one in LANG_SETS[lang]]
    return _write_jobs(jobs, out_dir, tuple(formats), dpi, workers, progress)


#: The jobs of the figure set being written; worker processes inherit it by fork, so the
#: drawing closures (not picklable) never cross a process boundary: a job is its index.
_JOBS: list[tuple[str, str, Callable]] = []


def _run_job(index: int, out_dir: Path, formats: tuple, dpi: int) -> tuple[int, list[str], str | None]:
    """Draw and save job ``index``: ``(index, files written, skip reason or None)``."""
    stem, one, draw = _JOBS[index]
    try:
        fig = draw(one)
    except MissingDataError as err:
        return index, [], f"figure {stem!r} skipped: {err}"
    return index, [str(p) for p in save(fig, out_dir / one / stem, formats=formats, dpi=dpi)], None


def default_workers() -> int:
    """Processes for the figure set: the CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _write_jobs(jobs, out_dir: Path, formats: tuple, dpi: int, workers: int | None,
                progress: Callable[[str], None] | None) -> list[Path]:
    """Run the jobs, in ``workers`` forked processes when more than one (Linux), else here.

    ``progress`` gets a line now and then (``figures 12/62``). Returns the files in job
    order. A figure without data is skipped with a warning (once, for all its languages).
    """
    global _JOBS
    workers = default_workers() if workers is None else max(1, int(workers))
    parallel = workers > 1 and len(jobs) > 1 and "fork" in mp.get_all_start_methods()
    done: dict[int, list[str]] = {}
    skipped: dict[str, str] = {}
    step = max(1, len(jobs) // 10)

    def record(result):
        index, files, skip = result
        done[index] = files
        if skip:
            skipped.setdefault(jobs[index][0], skip)
        if progress and (len(done) % step == 0 or len(done) == len(jobs)):
            progress(f"figures {len(done)}/{len(jobs)}")

    _JOBS = jobs
    try:
        if parallel:
            with mp.get_context("fork").Pool(min(workers, len(jobs))) as pool:
                for result in pool.imap_unordered(functools.partial(
                        _run_job, out_dir=out_dir, formats=formats, dpi=dpi), range(len(jobs))):
                    record(result)
        else:
            for i in range(len(jobs)):
                record(_run_job(i, out_dir, formats, dpi))
    finally:
        _JOBS = []
    for note in skipped.values():
        warnings.warn(note, stacklevel=3)
    return [Path(f) for i in sorted(done) for f in done[i]]


def compare_figure(path, results: Mapping[str, pd.DataFrame], a: str, b: str, targets,
                   scenarios_meta: Mapping | None = None, lang: str = "zh") -> list[Path]:
    """Goal dashboards of two scenarios side by side, one 16:9 figure per horizon.

    ``path``: file name (suffix = format); ``{year}`` in it is replaced by the horizon
    year, else ``_<year>`` is added to the stem (``compare_2020.png``). ``targets``:
    ``sim.policy.targets.Target`` objects (the scorecard is computed here with
    :func:`sim.policy.targets.scorecard`). Returns the paths written.
    """
    from sim.policy.targets import scorecard as make_scorecard

    missing = [s for s in (a, b) if s not in results]
    if missing:
        raise KeyError(f"compare figure: no results for scenario(s) {missing}; have "
                       f"{sorted(results)}")
    targets = list(targets)
    card = make_scorecard({a: results[a], b: results[b]}, targets)
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    written = []
    for year in sorted({float(as_figure_target(t).year) for t in targets}):
        fig = plot_dashboard(card, targets, scenarios_meta, lang=lang, scenario_ids=[a, b],
                             horizon=year)
        if "{year}" in path.name:
            stem = path.with_name(path.name.replace("{year}", f"{year:g}"))
        else:
            stem = path.with_name(horizon_stem(path.stem, year) + path.suffix)
        written += save(fig, stem.with_suffix(f".{fmt}"), formats=(fmt,))
    return written


# --------------------------------------------------------------------------- regenerate
def _manifest_targets(manifest: dict, results_dir: Path, targets_path) -> list:
    """Target definitions for a results folder.

    ``manifest["targets"]`` holds either the definitions (dicts) or only the ids (as
    ``sim.run`` writes today); then the definitions are read from ``targets_path`` or the
    targets file named in ``manifest["files"]["targets"]`` (a warning if its sha256 no
    longer matches the run's).
    """
    entries = manifest.get("targets")
    if not isinstance(entries, list):
        raise ValueError(f"{results_dir / 'manifest.json'}: key 'targets' must be a list of "
                         f"target ids or definitions, got {type(entries).__name__}")
    if all(isinstance(e, Mapping) for e in entries):
        return list(entries)
    from sim.policy.targets import load_targets

    recorded = (manifest.get("files") or {}).get("targets") or {}
    if targets_path is None:
        if not recorded:
            raise ValueError(f"{results_dir / 'manifest.json'}: key 'files.targets' is missing "
                             "and no targets_path was given: cannot find the target definitions")
        targets_path, sha = next(iter(recorded.items()))
        candidates = [Path(targets_path), Path(__file__).resolve().parents[2] / targets_path]
        targets_path = next((p for p in candidates if p.is_file()), Path(targets_path))
        if Path(targets_path).is_file() and \
                hashlib.sha256(Path(targets_path).read_bytes()).hexdigest() != sha:
            warnings.warn(f"{targets_path} changed since the run in {results_dir}: figures use "
                          "the current target definitions", stacklevel=3)
    by_id = load_targets(targets_path).by_id()
    unknown = [e for e in entries if e not in by_id]
    if unknown:
        raise ValueError(f"{results_dir / 'manifest.json'}: key 'targets' names {unknown}, "
                         f"not in {targets_path}")
    return [by_id[e] for e in entries]


def regenerate(results_dir, lang: str = "both", *, out_dir=None, targets_path=None,
               history: pd.DataFrame | str | None = "auto",
               formats: Sequence[str] = FORMATS, dpi: int = DPI, workers: int | None = None,
               progress: Callable[[str], None] | None = None) -> list[Path]:
    """Rebuild the figures of a results folder (default into ``<results_dir>/figures``).

    Reads ``manifest.json`` (keys ``scenarios``: {id: {"name": …}} and ``targets``),
    ``timeseries/<id>.csv`` (index column ``time``) and ``scorecard.csv``.
    """
    check_lang(lang)
    results_dir = Path(results_dir)
    manifest_path = results_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ResultsFolderError(f"{manifest_path}: not found; {results_dir} is not a results "
                                 "folder: give a folder written by `python -m sim run`")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsFolderError(f"{manifest_path}: not a readable manifest ({err}); the run "
                                 "that wrote it was interrupted or the file was edited") from None
    meta = manifest.get("scenarios") if isinstance(manifest, Mapping) else None
    if not isinstance(meta, Mapping) or not meta:
        raise ValueError(f"{manifest_path}: key 'scenarios' must map scenario ids to metadata")
    results = {}
    for sid in meta:
        csv = results_dir / "timeseries" / f"{sid}.csv"
        if not csv.is_file():
            raise ResultsFolderError(f"{csv}: time series of scenario {sid!r} (listed in "
                                    f"{manifest_path} key 'scenarios') is missing")
        df = pd.read_csv(csv, index_col=0)
        df.index = df.index.astype(float)
        results[sid] = df
    card = pd.read_csv(results_dir / "scorecard.csv")
    targets = _manifest_targets(manifest, results_dir, targets_path)
    return write_figure_set(out_dir or results_dir / "figures", results, card, targets, meta,
                            lang=lang, history=history, formats=formats, dpi=dpi,
                            workers=workers, progress=progress)
