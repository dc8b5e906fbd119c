"""The whole figure set of a run, in one or both languages, and rebuilding it from a folder.

:func:`write_figure_set` writes it; :func:`figure_tasks` gives the same work as tasks, which
the main job (``sim.run.run_all``) runs in one pool with its brief and slides;
:func:`regenerate` rebuilds the figures of a results folder written by the main job.
"""
from __future__ import annotations

import functools
import hashlib
import json
import warnings
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Sequence

import pandas as pd

from sim.errors import ResultsFolderError
from sim.history import comparable_series
from sim.policy.vantage import vantage_views
from sim.provenance import check_output, new_results_dir
from sim.report.dashboard import horizon_stem, plot_dashboard
from sim.report.history import find_history, plot_model_vs_history
from sim.report.indicators import plot_target_indicator
from sim.report.labels import check_lang, default_labels
from sim.report.measures import MissingDataError, as_figure_target
from sim.report.panels import THEMES, plot_gdp_by_sector, plot_theme
from sim.report.parallel import counter, run_tasks
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


def figure_tasks(out_dir, results: Mapping[str, pd.DataFrame], scorecard: pd.DataFrame,
                 targets, scenarios_meta: Mapping | None, lang: str = "both", *,
                 history: pd.DataFrame | str | None = "auto", source=None,
                 formats: Sequence[str] = FORMATS, dpi: int = DPI,
                 target_runs: Mapping | None = None) -> list[Callable[[], FigureResult]]:
    """The figure set as tasks: each draws one figure in one language and saves it in every
    format, returning a :class:`FigureResult`. Run them with
    :func:`sim.report.parallel.run_tasks` (alone, or after other work sharing the pool),
    then :func:`figure_files`. Arguments as for :func:`write_figure_set`; bad ones raise
    here, before anything is drawn."""
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
    return [functools.partial(_draw_and_save, stem, one, draw, out_dir, tuple(formats), dpi)
            for stem, draw in _figures(results, scorecard, targets, scenarios_meta, history, common,
                                       target_runs)
            for one in LANG_SETS[lang]]


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
    tasks = figure_tasks(out_dir, results, scorecard, targets, scenarios_meta, lang, history=history,
                         source=source, formats=formats, dpi=dpi, target_runs=target_runs)
    tick = counter(progress, "figures", len(tasks))
    return figure_files(run_tasks(tasks, workers, on_done=lambda i, r: tick()))


class FigureResult(NamedTuple):
    """What a figure task did: its file stem, the files written, and why it was skipped."""

    stem: str
    files: list[str]
    skipped: str | None


def _draw_and_save(stem: str, one: str, draw: Callable, out_dir: Path, formats: tuple,
                   dpi: int) -> FigureResult:
    """Draw one figure in language ``one`` and save it as ``out_dir/one/stem.<fmt>``."""
    try:
        fig = draw(one)
    except MissingDataError as err:
        return FigureResult(stem, [], f"figure {stem!r} skipped: {err}")
    return FigureResult(stem, [str(p) for p in save(fig, out_dir / one / stem, formats=formats, dpi=dpi)],
                        None)


def figure_files(done: Sequence[FigureResult]) -> list[Path]:
    """The files of finished figure tasks, in task order; warns once per figure skipped for
    want of data (once for all its languages)."""
    skipped: dict[str, str] = {}
    for r in done:
        if r.skipped:
            skipped.setdefault(r.stem, r.skipped)
    for note in skipped.values():
        warnings.warn(note, stacklevel=3)
    return [Path(f) for r in done for f in r.files]


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
    """Rebuild the figures of a results folder; return the files written.

    ``out_dir``: a folder that must not exist yet; default ``<results_dir>/figures``, or,
    when that exists (the run drew its figures), a new ``<results_dir>/<UTC time>-figures``:
    figures already written are never overwritten. Reads ``manifest.json`` (keys
    ``scenarios``: {id: {"name": …}} and ``targets``), ``timeseries/<id>.csv`` (index column
    ``time``) and ``scorecard.csv``.
    """
    check_lang(lang)
    check_output(out_dir, "out_dir", kind="figure folder")
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
    # the vantages the goals were judged from (main job); a folder without them: one run set
    recorded = manifest.get("vantages") if isinstance(manifest.get("vantages"), Mapping) else {}
    folders = {None if key == "none" else float(key): (v.get("timeseries") or "timeseries/", v.get("targets") or [])
               for key, v in recorded.items() if isinstance(v, Mapping)} or {None: ("timeseries/", [])}
    runs = {vantage: _read_runs(results_dir, sub, meta, manifest_path) for vantage, (sub, _) in folders.items()}
    results, meta, target_runs = vantage_views(runs, {v: ids for v, (_, ids) in folders.items()}, meta)
    card = pd.read_csv(results_dir / "scorecard.csv")
    targets = _manifest_targets(manifest, results_dir, targets_path)
    if out_dir is None:
        out_dir = results_dir / "figures"
        if out_dir.exists():
            out_dir = new_results_dir(results_dir, "figures")
    return write_figure_set(out_dir, results, card, targets, meta,
                            lang=lang, history=history, formats=formats, dpi=dpi,
                            workers=workers, progress=progress, target_runs=target_runs or None)


def _read_runs(results_dir: Path, sub: str, meta: Mapping, manifest_path: Path) -> dict:
    """{scenario id: DataFrame} from ``<results_dir>/<sub>/<id>.csv`` (index column ``time``)."""
    folder = (results_dir / sub).resolve()
    if results_dir.resolve() not in folder.parents:
        raise ResultsFolderError(f"{manifest_path}: time series folder {sub!r} is outside the results folder")
    results = {}
    for sid in meta:
        csv = folder / f"{sid}.csv"
        if not csv.is_file():
            raise ResultsFolderError(f"{csv}: time series of scenario {sid!r} (listed in "
                                    f"{manifest_path} key 'scenarios') is missing")
        df = pd.read_csv(csv, index_col=0)
        df.index = df.index.astype(float)
        results[sid] = df
    return results
