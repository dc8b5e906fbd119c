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
import hashlib
import importlib
import json
import os
import platform
import re
import subprocess
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.errors import SimError, suggest
from sim.policy.scenario import (STEP_WIDTH_YEARS, Problem, ScenarioSet, ValidationError,
                       check_registry_against_model, load_registry, param_to_json, read_scenarios,
                       validate_scenarios)
from sim.history import (DATA_DIR, HISTORY_FILES, RECONCILIATION_FILE, actual_outcomes,
                         check_actuals, reality_check)
from sim.policy.targets import TargetSet, events_needed, read_targets, scorecard, to_markdown

DEFAULT_SCENARIO_DIR = "scenarios"
DEFAULT_MODEL = "models/jingdezhen.mdl"
DEFAULT_RESULTS_ROOT = "results"
ENGINE_DEFAULTS = {"method": "RK45", "rtol": 1e-6, "atol": None}
PACKAGES = ("numpy", "scipy", "pandas", "xarray", "pysd", "yaml")
#: The model constant that says up to which year a run knows the observed history (the
#: vantage point): a horizon is judged from its base year (scenarios/README.md).
VANTAGE_CONSTANT = "history end year"


# --------------------------------------------------------------------------- model facts
def model_facts(loaded, lever_names: Iterable[str] = ()) -> dict:
    """What validation and resolution need from a loaded model (a :class:`sim.engine.load.LoadedModel`).

    Returns ``time_span`` (INITIAL TIME, FINAL TIME; years), ``variables`` (every name
    in the .mdl), ``constants``, ``units`` ({name: units string}) and ``defaults``
    ({lever name: the model's own value}, for the levers that are model constants).
    """
    m = loaded.fresh()
    variables = loaded.names()
    constants = loaded.constants()
    units = {}
    for name in variables:
        try:
            units[name] = loaded.units(name)
        except KeyError:
            pass
    defaults = {}
    for name in lever_names:
        if name in constants:
            try:
                value = m[name]
            except Exception:  # noqa: BLE001 - a subscripted or odd constant: no default
                continue
            if np.ndim(value) == 0:
                defaults[name] = float(value)
    return {"time_span": (float(m.time.initial_time()), float(m.time.final_time())),
            "variables": variables, "constants": constants, "units": units, "defaults": defaults}


def _paths(scenario_dir, targets, registry):
    scenario_dir = Path(scenario_dir)
    return (scenario_dir,
            Path(targets) if targets is not None else scenario_dir / "targets.yaml",
            Path(registry) if registry is not None else scenario_dir / "levers.yaml")


def target_events(targets: Iterable | None) -> list:
    """The engine events that record the targets' crossing times (none without targets)."""
    from sim.engine.integrate import Event

    return [Event(r.variable, r.threshold, r.direction, name=r.key)
            for r in events_needed(targets)] if targets else []


def _load_model(model, load_model, problems: list[Problem]):
    if model is None:
        return None
    if load_model is None:
        from sim.engine.load import load_model
    try:
        return load_model(model)
    except SimError as err:
        problems.append(Problem(str(model), "", str(err).removeprefix(f"{model}: ")))
    except OSError as err:
        problems.append(Problem(str(model), "", f"cannot read model: {err}"))
    return None


def _validate(scenario_dir, model, targets, registry, load_model):
    """Every problem, plus what was read (for the runner)."""
    scenario_dir, targets_path, registry_path = _paths(scenario_dir, targets, registry)
    problems: list[Problem] = []
    if not scenario_dir.is_dir():
        problems.append(Problem(str(scenario_dir), "", "scenario folder not found"))
        return problems, None
    n_before = len(problems)
    levers = load_registry(registry_path, problems)
    registry_ok = len(problems) == n_before or bool(levers)
    loaded = _load_model(model, load_model, problems)
    facts = model_facts(loaded, levers) if loaded is not None else None
    if facts is not None:
        problems += check_registry_against_model(levers, str(registry_path), facts["constants"], facts["units"])
    scenarios = read_scenarios(scenario_dir, problems)
    if not scenarios:
        problems.append(Problem(str(scenario_dir), "", "no scenario files (*.yaml) found"))
    problems += validate_scenarios(scenarios, levers if registry_ok else None,
                                   facts["time_span"] if facts else None)
    target_set, target_problems = read_targets(targets_path, facts["variables"] if facts else None)
    problems += target_problems
    if target_set is not None:
        try:
            problems += check_actuals(target_set, str(targets_path))
        except ValidationError as err:  # the reconciliation file itself is wrong
            problems += err.problems
    state = {"levers": levers, "scenarios": scenarios, "targets": target_set, "loaded": loaded,
             "facts": facts, "paths": (scenario_dir, targets_path, registry_path)}
    return problems, state


def _validated(scenario_dir, model, targets=None, registry=None, load_model=None) -> dict:
    """What :func:`_validate` read, after raising :class:`ValidationError` with every problem."""
    problems, state = _validate(scenario_dir, model, targets, registry, load_model)
    if problems:
        raise ValidationError(problems)
    return state


def validate_all(scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL, targets=None, registry=None, *,
                 load_model: Callable | None = None) -> list[Problem]:
    """Every problem in the scenario folder, the lever registry and the targets file.

    ``targets`` and ``registry`` default to ``targets.yaml`` and ``levers.yaml`` in the
    scenario folder. With a ``model`` (path), levers must be model constants with the
    model's units, table years must lie in its time span and target indicators must be
    model variables. Returns an empty list when everything is valid.
    """
    return _validate(scenario_dir, model, targets, registry, load_model)[0]


# --------------------------------------------------------------------------- provenance
def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def git_state(repo: str | os.PathLike | None = None) -> dict:
    """``{"commit": sha or None, "dirty": bool or None}``; dirty means tracked files changed."""
    repo = Path(repo) if repo is not None else Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=20, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def versions() -> dict:
    """Versions of Python and the numerical packages a run depends on."""
    out = {"python": platform.python_version(), "sim": __version__}
    for pkg in PACKAGES:
        try:
            out[pkg] = __import__(pkg).__version__
        except (ImportError, AttributeError):
            out[pkg] = None
    return out


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, Path):
        return str(x)
    return x


def write_manifest(folder: Path, manifest: Mapping) -> Path:
    """``folder/manifest.json``: ``manifest`` made JSON-ready, indented, non-ASCII kept."""
    path = folder / "manifest.json"
    path.write_text(json.dumps(_jsonable(manifest), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- results folder
def new_results_dir(root: str | os.PathLike, name: str, now: datetime | None = None) -> Path:
    """Create and return ``<root>/<UTC timestamp>-<name>``, adding ``-2``, ``-3``… if taken."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "run"
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = root / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise SimError(f"{root}: could not find a free results folder name for {stamp}-{safe}")


def make_results_dir(out, results_root: str | os.PathLike, name: str) -> Path:
    """Create and return the results folder: ``out`` if given (an existing one is an
    error; results are never overwritten), else ``new_results_dir(results_root, name)``."""
    if out is None:
        return new_results_dir(results_root, name)
    out_dir = Path(out)
    if out_dir.exists():
        raise FileExistsError(f"{out}: results folder already exists; results are never overwritten")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir()  # FileExistsError if it appeared meanwhile
    return out_dir


def _nc_name(name: str) -> str:
    """A netCDF-safe variable name ('/' is not allowed)."""
    return name.replace("/", " per ")


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
        data[_nc_name(col)] = xr.DataArray(arr, dims=("scenario", "time"), attrs={"long_name": col})
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


def _select(requested, available: list[str]) -> list[str]:
    if requested is None:
        return available
    requested = [requested] if isinstance(requested, str) else list(requested)
    unknown = [s for s in requested if s not in available]
    if unknown:
        raise ValidationError([Problem("scenarios", s, "unknown scenario" + suggest(s, available)) for s in unknown])
    return requested


def _scenario_set(state: dict) -> ScenarioSet:
    """The validated scenarios of ``state`` (from :func:`_validate`) with the model's time span."""
    facts = state["facts"]
    return ScenarioSet(state["scenarios"], state["levers"], state["paths"][2],
                       facts["time_span"] if facts else None)


def from_vantage(params: Mapping, defaults: Mapping[str, float], vantage: float) -> dict:
    """Scenario ``params`` seen from ``vantage`` (a year): the model's own lever values
    (the history every scenario shares) up to ``vantage``, the scenario's path from
    ``vantage + 1``, and the model told that it knows the observed history to ``vantage``
    (:data:`VANTAGE_CONSTANT`).  A lever path that already starts after ``vantage`` is
    kept as it is."""
    start = float(vantage) + 1.0
    out = {}
    for name, value in params.items():
        if name not in defaults:
            out[name] = value
            continue
        base = float(defaults[name])
        if isinstance(value, pd.Series):
            after = value[value.index > start]
            at_start = float(np.interp(start, value.index.to_numpy(dtype=float), value.to_numpy(dtype=float)))
            before = value[value.index < start].to_numpy(dtype=float)
            if np.allclose(np.append(before, at_start), base):    # nothing changes by the vantage
                out[name] = value
                continue
            points = {start - STEP_WIDTH_YEARS: base, start: at_start, **after.to_dict()}
        else:
            if float(value) == base:
                out[name] = value
                continue
            points = {start - STEP_WIDTH_YEARS: base, start: float(value)}
        out[name] = pd.Series(list(points.values()), index=pd.Index(list(points), dtype=float, name="year"),
                              dtype=float)
    out[VANTAGE_CONSTANT] = float(vantage)
    return out


def vantage_constants(model_path, vantage: float | None) -> dict[str, float]:
    """The constants fitted on the data known at ``vantage``: the fitted values of
    ``calibration/vantage_<year>/calibration.json`` beside the model file (written by
    ``make calibrate`` from ``calibration/jingdezhen_<year>.yaml``), or none when there is
    no such calibration (the model's own constants, the latest refit, then hold)."""
    if vantage is None or model_path is None:
        return {}
    path = Path(model_path).parent / "calibration" / f"vantage_{vantage:g}" / "calibration.json"
    if not path.is_file():
        return {}
    numbers = json.loads(path.read_text(encoding="utf-8"))
    return {name: float(p["value"]) for name, p in numbers["parameters"].items()}


def vantages(state: dict) -> dict[float | None, list]:
    """The targets grouped by the year they are asked from: a horizon's ``base_year``
    (the 2020 goals as asked in 2015, the 2030 goals as asked in 2020).  A model without
    :data:`VANTAGE_CONSTANT` has one group, ``None`` (no vantage)."""
    targets = list(state["targets"] or [])
    if VANTAGE_CONSTANT not in state["facts"]["constants"]:
        return {None: targets}
    horizons = state["targets"].horizons
    groups: dict[float | None, list] = {}
    for t in targets:
        groups.setdefault(float(horizons[t.horizon].base_year), []).append(t)
    return groups or {None: []}


def run_scenarios(state: dict, ids: list[str], simulate: Callable, engine: dict,
                  vantage: float | None = None, targets=None):
    """Run scenarios: ``(results {id: DataFrame}, event times {id: {...}}, params {id: {...}},
    the ScenarioSet)``.  With ``vantage`` (a year), every scenario is seen from that year
    (:func:`from_vantage`); ``targets`` (default: all) sets the events to record."""
    sset = _scenario_set(state)
    events = target_events(state["targets"] if targets is None else targets)
    results, event_times, params = {}, {}, {}
    for sid in ids:
        params[sid] = sset.resolve(sid, defaults=state["facts"]["defaults"])
        if vantage is not None:
            params[sid] = {**vantage_constants(getattr(state["loaded"], "path", None), vantage),
                           **from_vantage(params[sid], state["facts"]["defaults"], vantage)}
        try:
            df = simulate(state["loaded"], params=params[sid], events=events, **engine)
        except SimError as err:  # say which scenario failed, keep the error's type and fields
            err.args = (f"scenario {sid!r} ({sset.scenarios[sid].path}): {err.args[0] if err.args else err}",
                        *err.args[1:])
            raise
        results[sid] = df
        event_times[sid] = dict(df.attrs.get("events") or {})
    return results, event_times, params, sset


def judge_from_vantages(state: dict, ids: list[str], simulate: Callable, engine: dict):
    """Run every scenario once per vantage and judge each target on the run seen from its
    horizon's base year.  Returns ``(runs {vantage: {id: DataFrame}}, event times
    {vantage: {id: {...}}}, params {vantage: {id: {...}}}, the ScenarioSet, scorecard)``;
    the scorecard rows are in scenario order, then target-file order."""
    groups = vantages(state)
    runs, events, params, cards, sset = {}, {}, {}, [], None
    for vantage, targets in groups.items():
        runs[vantage], events[vantage], params[vantage], sset = run_scenarios(
            state, ids, simulate, engine, vantage=vantage, targets=targets)
        cards.append(scorecard(runs[vantage], targets, events[vantage]))
    card = pd.concat(cards, ignore_index=True) if cards else scorecard({}, [])
    order = {t.id: i for i, t in enumerate(state["targets"] or [])}
    card = card.sort_values(["scenario", "target"], key=lambda col: col.map(
        {sid: i for i, sid in enumerate(ids)} if col.name == "scenario" else order), kind="stable")
    return runs, events, params, sset, card.reset_index(drop=True)


def run_all(scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL, out=None, scenarios=None,
            name: str = "main", *, targets=None, registry=None, results_root=DEFAULT_RESULTS_ROOT,
            simulate: Callable | None = None, load_model: Callable | None = None,
            engine: Mapping | None = None, figures: bool = True) -> Path:
    """Validate everything, run each scenario, judge the targets, write a new results folder.

    ``out``: the folder to create (an existing one is an error); default
    ``<results_root>/<UTC timestamp>-<name>``. ``scenarios``: ids to run (default all).
    ``engine``: solver settings passed to ``simulate`` (default RK45, rtol 1e-6).
    ``simulate``/``load_model`` default to :func:`sim.simulate` / :func:`sim.load_model`.
    Raises :class:`~sim.policy.scenario.ValidationError` (every problem) before running anything.
    Returns the results folder.
    """
    if out is not None and Path(out).exists():
        raise FileExistsError(f"{out}: results folder already exists; results are never overwritten")
    state = _validated(scenario_dir, model, targets, registry, load_model)
    if state["loaded"] is None:
        raise SimError("run_all needs a model file")
    if simulate is None:
        from sim.engine.integrate import simulate
    engine = {**ENGINE_DEFAULTS, **(engine or {})}
    ids = _select(scenarios, _scenario_set(state).ids())
    runs, events_by_vantage, params_by_vantage, sset, card = judge_from_vantages(state, ids, simulate, engine)
    target_set: TargetSet = state["targets"]
    latest = max(runs, key=lambda v: -np.inf if v is None else v)
    results, event_times = runs[latest], events_by_vantage[latest]
    # the scenarios as written (their own levers); each vantage's params are under "vantages"
    params = {sid: sset.resolve(sid, defaults=state["facts"]["defaults"]) for sid in ids}
    actual = actual_outcomes(target_set)
    card = reality_check(card, actual)

    out_dir = make_results_dir(out, results_root, name)
    ts_dir = out_dir / "timeseries"
    ts_dir.mkdir()
    for sid, df in results.items():
        df.to_csv(ts_dir / f"{sid}.csv", index_label="time")
    for vantage, other in runs.items():       # the earlier vantages: timeseries/vantage_<year>/
        if vantage != latest:
            sub = ts_dir / f"vantage_{vantage:g}"
            sub.mkdir()
            for sid, df in other.items():
                df.to_csv(sub / f"{sid}.csv", index_label="time")
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

    scenario_dir_p, targets_path, registry_path = state["paths"]
    loaded = state["loaded"]
    manifest = {
        "name": name,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sim_version": __version__,
        "git": git_state(),
        "model": {"path": str(model), "sha256": getattr(loaded, "sha256", None) or sha256(model),
                  "time_span": list(state["facts"]["time_span"])},
        "files": {
            "scenarios": {str(sc.path): sha256(sc.path) for sc in state["scenarios"].values()},
            "registry": {str(registry_path): sha256(registry_path)},
            "targets": {str(targets_path): sha256(targets_path)},
            "data": {str(DATA_DIR.name + "/" + f): sha256(DATA_DIR / f)
                     for f in (*HISTORY_FILES, RECONCILIATION_FILE)},
        },
        "engine": {k: v for k, v in engine.items()},
        "vantages": {("none" if v is None else f"{v:g}"): {
            "history_end_year": v, "levers_from": None if v is None else v + 1,
            "targets": [t.id for t in vantages(state)[v]],
            "timeseries": "timeseries/" if v == latest else f"timeseries/vantage_{v:g}/",
            "params": {sid: {k: param_to_json(x) for k, x in p.items()} for sid, p in params_by_vantage[v].items()},
            "events": events_by_vantage[v]} for v in runs},
        "scenarios": {sid: {**sset.scenarios[sid].meta(),
                            "params": {k: param_to_json(v) for k, v in params[sid].items()},
                            "levers": _all_levers(params[sid], state["levers"], state["facts"]["defaults"]),
                            "events": event_times[sid],
                            "nfev": results[sid].attrs.get("nfev")} for sid in ids},
        "model_defaults": state["facts"]["defaults"],
        "targets": [{"id": t.id, **dataclasses.asdict(t)} for t in target_set],
        "versions": versions(),
        "figures": figure_note,
        "outputs": sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file()),
    }
    write_manifest(out_dir, manifest)
    if figure_error is not None:
        raise figure_error
    return out_dir


MARKDOWN_COLUMNS = ["scenario", "target", "value", "comparator", "threshold", "unit", "passed",
                    "margin", "year_reached", "basis", "actual_value", "reality"]


def scorecard_markdown(card: pd.DataFrame, actual: pd.DataFrame) -> str:
    """``scorecard.md``: the scorecard table (with the published outcome and whether it
    confirmed or reversed each verdict), then the published outcomes with their sources."""
    lines = [to_markdown(card, [c for c in MARKDOWN_COLUMNS if c in card.columns]), "",
             "## Published outcomes (actual)", "",
             "| target | observed series | actual | met | status | source / reason |",
             "|---|---|---|---|---|---|"]
    for r in actual.itertuples(index=False):
        met = "" if r.passed is None else ("yes" if r.passed else "no")
        value = f"{r.value:.4g}" if np.isfinite(r.value) else "—"
        where = (r.source if r.status == "published" else r.reason).replace("|", "\\|")
        lines.append(f"| {r.target} | {r.series or '—'} | {value} | {met} | {r.status} | {where} |")
    return "\n".join(lines) + "\n"


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
        raise ValueError(f"compare needs two different scenarios, got {a!r} twice")
    if out is not None and Path(out).exists():
        raise FileExistsError(f"{out}: folder already exists; results are never overwritten")
    meta = None
    if results_dir is not None:
        _, targets_path, _ = _paths(scenario_dir, targets, registry)
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
        state = _validated(scenario_dir, model, targets, registry, load_model)
        sset = _scenario_set(state)
        _select([a, b], sset.ids())
        if simulate is None:
            from sim.engine.integrate import simulate
        runs, _, _, _, card = judge_from_vantages(state, [a, b], simulate, {**ENGINE_DEFAULTS, **(engine or {})})
        results = runs[max(runs, key=lambda v: -np.inf if v is None else v)]
        target_set, meta = state["targets"], sset.meta()
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
    if out is None:
        return table, None
    out_dir = Path(out)
    out_dir.mkdir(parents=True)
    table.to_csv(out_dir / "compare.csv", index=False)
    (out_dir / "compare.md").write_text(_table_markdown(table), encoding="utf-8")
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
    return table, out_dir


def _table_markdown(table: pd.DataFrame) -> str:
    def cell(v):
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (float, np.floating)):
            return "—" if not np.isfinite(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|")
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"
