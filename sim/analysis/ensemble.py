"""Ensembles: the model under uncertain parameters, run thousands of times.

``python -m sim ensemble --scenario plan --n 10000 [--method lhs|sobol|mc] [--seed K]
[--scheduler tcp://host:port] [--out DIR]``

1. Samples: the uncertain constants of ``scenarios/uncertainties.yaml``
   (:mod:`sim.analysis.uncertainty`), drawn by Monte Carlo, Latin hypercube or Sobol (Saltelli)
   sampling on the unit hypercube and mapped through each distribution's inverse CDF.
2. Runs: every scenario's levers (:mod:`sim.policy.scenario`) are shared by all samples; the
   samples run through the vectorised :func:`sim.engine.batch.simulate_batch` in **fixed chunks**
   of :data:`DEFAULT_CHUNK` consecutive sample indices. The solver's step size follows the
   hardest sample of a call, so the chunk, not the machine, decides the numbers: serial,
   local processes (:class:`concurrent.futures.ProcessPoolExecutor`, the default) and a
   Dask cluster (``--scheduler``) compute the same chunks and give identical bits.
3. Goals: for each scenario and target of ``scenarios/targets.yaml``, the probability of
   meeting it with its binomial standard error ``sqrt(p (1 - p) / n)``; the measures are
   the scorecard's own, :mod:`sim.policy.goal_measures` (on arrays of samples × times).
   The year a goal is first met is, for level targets, the **linearly interpolated
   crossing between the annual outputs** (single runs use the solver's event time), and
   for window measures the first saved year whose measure meets the goal, as in
   :func:`sim.policy.targets.year_reached`.
4. Sensitivity (Sobol sampling only): first-order and total Sobol indices of each goal's
   measure with 95 % bootstrap confidence intervals (:func:`SALib.analyze.sobol.analyze`,
   ``calc_second_order=False``) and a table of the most influential parameters.

Results go to a new folder ``results/<UTC timestamp>-ensemble-<method>/`` (see
:func:`write_results`) with a manifest like every run.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import SimError
from sim.defaults import DEFAULT_MODEL, DEFAULT_RESULTS_ROOT, DEFAULT_SCENARIO_DIR, ENGINE_DEFAULTS
from sim.policy.study import read_study
from sim.provenance import make_results_dir, netcdf_name, sha256, write_manifest
from sim.policy.scenario import param_to_json
from sim.policy.goal_measures import (MEASURES as ARRAY_MEASURES, indicator_array,  # noqa: F401
                                      measure_array, measure_paths, meets_array, year_reached_array)
from sim.policy.targets import Target, TargetSet
from sim.analysis.uncertainty import DEFAULT_FILE, UncertaintySet, load_uncertainties, sample_unit, to_values

#: Samples per batch call. Each call pays PySD's set-up (a fresh model, initialisation)
#: once; more chunks than workers only add calls. 10,000 Jingdezhen runs on the shared
#: 2-core machine (load 4-6 from other jobs), 2 worker processes: chunks of 1000: 22 s,
#: 2500: 21-25 s, 5000: 13-19 s, one chunk of 10,000: 13-15 s. 5000 keeps both workers
#: busy for a 10,000-run ensemble and its state (5000 × ~80 stocks × 7 RK stages) small.
DEFAULT_CHUNK = 5000
DEFAULT_WORKERS = 2
SOBOL_RESAMPLES = 100
SOBOL_CONF = 0.95
DASK_CONNECT_TIMEOUT_S = 15


# --------------------------------------------------------------------------- chunks
@dataclass(frozen=True)
class ChunkTask:
    """One batch call: samples ``start … start + len(values) - 1`` of one scenario."""

    model: str
    params: dict
    names: tuple
    values: np.ndarray            # (n_chunk, d), model units
    columns: tuple
    engine: dict
    start: int = 0
    scenario: str = ""


_HANDLES: dict = {}


def _handle(path: str):
    """The loaded model of this process (loaded once per worker)."""
    from sim.engine.load import load_model

    if path not in _HANDLES:
        _HANDLES[path] = load_model(path)
    return _HANDLES[path]


#: OpenBLAS libraries bundled with NumPy and SciPy wheels, and their thread-count setters.
_BLAS_SETTERS = (("numpy", "numpy.libs", "libscipy_openblas64_*.so", "scipy_openblas_set_num_threads64_"),
                 ("scipy", "scipy.libs", "libscipy_openblas*.so", "scipy_openblas_set_num_threads"))


def single_blas_thread() -> dict:
    """Make OpenBLAS use one thread in this process; return the previous thread counts.

    RK45 combines its stages with a matrix-vector product over the whole stacked state
    (samples × stocks); OpenBLAS threads it, and on a shared 2-core machine the threads
    of two workers fight: one chunk of 2500 samples took 17 s with 2 BLAS threads and
    4 s with one. Every chunk runs with one thread whatever the executor, so the numbers
    cannot depend on a thread count; the worker processes supply the parallelism.
    """
    return set_blas_threads(1)


def set_blas_threads(n: int | dict) -> dict:
    """Set OpenBLAS threads (a count, or ``{library: count}`` as returned); return the old counts."""
    import ctypes
    import glob
    import importlib

    old = {}
    for pkg, libdir, pattern, setter in _BLAS_SETTERS:
        try:
            root = Path(importlib.import_module(pkg).__file__).resolve().parent.parent
            for lib in glob.glob(str(root / libdir / pattern)):
                handle = ctypes.CDLL(lib)
                fn = getattr(handle, setter, None)
                get = getattr(handle, setter.replace("set_", "get_"), None)
                if fn is None or get is None:
                    continue
                want = n.get(lib) if isinstance(n, dict) else n
                if want is None:
                    continue
                old[lib] = int(get())
                fn(int(want))
        except (ImportError, OSError):
            continue
    return old


def run_chunk(task: ChunkTask) -> dict:
    """Run one chunk; ``{"start", "scenario", "times", "data": (n_columns, n_chunk, T)}``."""
    from sim.engine.batch import simulate_batch

    previous = single_blas_thread()
    try:
        samples = {name: np.ascontiguousarray(task.values[:, j]) for j, name in enumerate(task.names)}
        ds = simulate_batch(_handle(task.model), samples, task.params, return_columns=list(task.columns),
                            **task.engine)
    except SimError as err:  # say which scenario and samples; sample numbers in err are chunk-local
        err.args = (f"scenario {task.scenario!r}, chunk of samples {task.start}-"
                    f"{task.start + len(task.values) - 1} (sample k of the message is sample "
                    f"{task.start} + k of the ensemble): {err.args[0] if err.args else err}", *err.args[1:])
        raise
    finally:
        set_blas_threads(previous)
    data = np.stack([ds[c].values for c in task.columns])
    return {"start": task.start, "scenario": task.scenario, "times": ds["time"].values,
            "data": data, "nfev": int(ds.attrs.get("nfev", 0))}


def chunk_bounds(rows: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` covering ``range(rows)`` in fixed steps of ``chunk_size``."""
    if chunk_size < 1:
        raise ValueError(f"chunk size must be positive, got {chunk_size}")
    return [(a, min(a + chunk_size, rows)) for a in range(0, rows, chunk_size)]


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="run")


def _scheduler_address(scheduler) -> str | None:
    if scheduler is None or isinstance(scheduler, str):
        return scheduler
    return getattr(scheduler, "scheduler_address", None) or getattr(scheduler, "address", None)


def execute(tasks: Sequence[ChunkTask], *, scheduler=None, workers: int = DEFAULT_WORKERS,
            progress: bool = False) -> list[dict]:
    """Run chunk tasks; results in the order of ``tasks`` whatever the executor.

    ``scheduler``: a Dask scheduler address (``tcp://host:port``), a
    ``dask.distributed.Client`` or ``LocalCluster``; else local processes (``workers``
    of them; 1 runs in this process). Tested with Dask workers of one thread each
    (``dask worker --nthreads 1``); every chunk builds its own PySD model object.
    """
    bar = _progress(sum(len(t.values) for t in tasks), "ensemble", progress)
    out: list[dict | None] = [None] * len(tasks)

    def done(i, res):
        out[i] = res
        if bar is not None:
            bar.update(len(tasks[i].values))

    try:
        if scheduler is not None:
            from dask.distributed import Client, as_completed as dask_completed

            if isinstance(scheduler, Client):
                client = scheduler
            else:
                address = _scheduler_address(scheduler)
                try:
                    client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S)
                except (OSError, TimeoutError) as err:
                    raise SimError(f"cannot reach the Dask scheduler {address!r}: {err}") from err
            try:
                futures = client.map(run_chunk, list(tasks), pure=False)
                index = {f.key: i for i, f in enumerate(futures)}
                for fut in dask_completed(futures):
                    done(index[fut.key], fut.result())
            finally:
                if client is not scheduler:
                    client.close()
        elif workers <= 1 or len(tasks) == 1:
            for i, task in enumerate(tasks):
                done(i, run_chunk(task))
        else:
            ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
                futures = {pool.submit(run_chunk, t): i for i, t in enumerate(tasks)}
                for fut in as_completed(futures):
                    done(futures[fut], fut.result())
    finally:
        if bar is not None:
            bar.close()
    return out  # type: ignore[return-value]


# --------------------------------------------------------------------------- the ensemble
@dataclass
class Ensemble:
    """Samples and indicator series of an ensemble (rows = samples, in sampling order)."""

    uncertainties: UncertaintySet
    method: str
    n: int                                  # n as asked (Sobol: base sample size)
    seed: int
    unit: np.ndarray                        # (rows, d) points in the unit hypercube
    values: np.ndarray                      # (rows, d) parameter values, model units
    times: np.ndarray
    series: dict                            # {scenario: {variable: (rows, T) array}}
    targets: TargetSet | None
    scenarios_meta: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return self.uncertainties.names

    @property
    def rows(self) -> int:
        return self.values.shape[0]

    def samples_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, columns=self.names).rename_axis("sample")

    def frame(self, scenario: str, sample: int) -> pd.DataFrame:
        """One sample's series as a results DataFrame (index: years), for :mod:`sim.policy.targets`."""
        return pd.DataFrame({v: a[sample] for v, a in self.series[scenario].items()},
                            index=pd.Index(self.times, name="time"))


def run_ensemble(scenarios: str | Iterable[str] = ("plan",), n: int = 1000, method: str = "lhs",
                 seed: int = 0, *, uncertainty_file=None, scenario_dir=DEFAULT_SCENARIO_DIR,
                 model=DEFAULT_MODEL, targets=None, registry=None,
                 chunk_size: int | None = None, scheduler=None, workers: int = DEFAULT_WORKERS,
                 engine: Mapping | None = None, columns: Sequence[str] = (),
                 progress: bool = False) -> Ensemble:
    """Sample the uncertain constants and run every scenario on the samples.

    ``n``: samples (Sobol: the base size, a power of two; runs = ``n × (d + 2)``).
    ``scheduler``: Dask address or client (default: the uncertainty file's ``scheduler``,
    else local processes). ``columns``: extra model variables to keep besides the targets'.
    Validation problems of every file are raised together before anything runs.
    """
    t_start = time.perf_counter()
    sample_unit(method, n, 1, seed)  # a bad method or size fails before anything is read
    study = read_study(scenario_dir, model, targets, registry)
    if uncertainty_file is None:
        uncertainty_file = Path(scenario_dir) / Path(DEFAULT_FILE).name
    uset = load_uncertainties(uncertainty_file, model=study.loaded, levers=study.levers)
    scheduler = scheduler if scheduler is not None else uset.scheduler
    chunk_size = chunk_size or uset.chunk_size or DEFAULT_CHUNK
    sset = study.scenario_set()
    ids = study.select([scenarios] if isinstance(scenarios, str) else list(scenarios))
    target_set: TargetSet = study.targets
    cols = list(dict.fromkeys([*(v for t in target_set for v in t.variables()), *columns]))

    unit = sample_unit(method, n, len(uset), seed)
    values = to_values(unit, uset.parameters)
    engine = {**ENGINE_DEFAULTS, **(engine or {})}
    params = {sid: sset.resolve(sid, defaults=study.defaults) for sid in ids}
    model_path = str(study.loaded.path)
    tasks = [ChunkTask(model_path, params[sid], tuple(uset.names), values[a:b], tuple(cols), engine, a, sid)
             for sid in ids for a, b in chunk_bounds(len(values), chunk_size)]
    t_run = time.perf_counter()
    results = execute(tasks, scheduler=scheduler, workers=workers, progress=progress)
    run_s = time.perf_counter() - t_run
    times = results[0]["times"]
    series = {}
    for sid in ids:
        parts = [r for r in results if r["scenario"] == sid]
        data = np.concatenate([r["data"] for r in parts], axis=1)
        series[sid] = {c: data[i] for i, c in enumerate(cols)}
    info = {"chunk_size": chunk_size, "chunks": len(tasks), "workers": workers,
            "scheduler": _scheduler_address(scheduler) if scheduler is not None else None,
            "executor": "dask" if scheduler is not None else ("serial" if workers <= 1 else "processes"),
            "engine": engine, "run_seconds": run_s, "total_seconds": time.perf_counter() - t_start,
            "nfev": [r["nfev"] for r in results], "study": study}
    return Ensemble(uset, method, n, seed, unit, values, times, series, target_set,
                    {sid: sset.scenarios[sid].meta() for sid in ids}, params, info)


# --------------------------------------------------------------------------- analysis
def goal_metrics(ens: Ensemble, scenario: str, target: Target) -> tuple[np.ndarray, np.ndarray]:
    """(measure value, year first met) for every sample of one scenario and target."""
    x = indicator_array(ens.series[scenario], target)
    return measure_array(x, ens.times, target), year_reached_array(x, ens.times, target)


def binomial_se(p: float, n: int) -> float:
    """Standard error of a proportion ``p`` estimated from ``n`` independent draws."""
    return math.sqrt(p * (1.0 - p) / n) if n > 0 else math.nan


def _q(a: np.ndarray, q: float) -> float:
    a = a[np.isfinite(a)]
    return float(np.quantile(a, q)) if a.size else math.nan


def probabilities(ens: Ensemble) -> pd.DataFrame:
    """One row per scenario × target: probability of meeting it, its standard error,
    quantiles of the measure and the median year first met (NaN when most samples never
    meet it). With Sobol sampling the rows are not independent draws; the binomial
    error is then only indicative."""
    rows = []
    for sid in ens.series:
        for t in ens.targets:
            value, year = goal_metrics(ens, sid, t)
            met = meets_array(t, value)
            p = float(met.mean())
            yr = np.sort(np.where(np.isfinite(year), year, np.inf))
            med = float(yr[(yr.size - 1) // 2]) if yr.size else math.nan  # lower median: no inf - inf
            rows.append({"scenario": sid, "target": t.id, "horizon": int(t.year), "indicator": t.label,
                         "measure": t.measure, "comparator": t.comparator, "threshold": t.threshold,
                         "unit": t.unit, "n": int(value.size), "p": p, "se": binomial_se(p, value.size),
                         "value_p05": _q(value, 0.05), "value_p50": _q(value, 0.5),
                         "value_p95": _q(value, 0.95), "year_p50": med if math.isfinite(med) else math.nan,
                         "undefined": int((~np.isfinite(value)).sum()), "basis": t.basis})
    return pd.DataFrame(rows)


def sobol_problem(names: Sequence[str]) -> dict:
    from sim.analysis.uncertainty import unit_problem
    return {**unit_problem(len(names)), "names": list(names)}


def sobol_indices(unit_rows: int, names: Sequence[str], y: np.ndarray, seed: int = 0) -> dict:
    """SALib's first-order and total indices of ``y`` (Saltelli rows, no second order).

    The inputs are the unit-hypercube coordinates; indices are unchanged by each
    parameter's inverse-CDF map. Returns ``{"S1", "S1_conf", "ST", "ST_conf"}`` arrays.
    """
    from SALib.analyze import sobol
    if y.shape[0] != unit_rows:
        raise ValueError(f"{y.shape[0]} outputs for {unit_rows} sample rows")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sobol.analyze(sobol_problem(names), np.asarray(y, dtype=float), calc_second_order=False,
                            num_resamples=SOBOL_RESAMPLES, conf_level=SOBOL_CONF, seed=seed)
    return {k: np.asarray(res[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")}


def sensitivity(ens: Ensemble) -> pd.DataFrame:
    """Sobol indices of every goal's measure, one row per scenario × target × parameter.

    Goals whose measure is undefined (NaN) in some sample or constant over the ensemble
    get no rows (the reason is in ``note`` of a single row with NaN indices).
    """
    if ens.method != "sobol":
        raise ValueError("Sobol indices need --method sobol (Saltelli sampling)")
    rows = []
    for sid in ens.series:
        for t in ens.targets:
            value, _ = goal_metrics(ens, sid, t)
            base = {"scenario": sid, "target": t.id}
            if not np.all(np.isfinite(value)) or np.ptp(value) == 0:
                why = "measure undefined in some samples" if not np.all(np.isfinite(value)) \
                    else "measure does not vary"
                rows.append({**base, "parameter": "", "S1": math.nan, "S1_conf": math.nan,
                             "ST": math.nan, "ST_conf": math.nan, "note": why})
                continue
            res = sobol_indices(ens.rows, ens.names, value, seed=ens.seed)
            for j, name in enumerate(ens.names):
                rows.append({**base, "parameter": name, **{k: float(v[j]) for k, v in res.items()},
                             "note": ""})
    return pd.DataFrame(rows, columns=["scenario", "target", "parameter", "S1", "S1_conf", "ST",
                                       "ST_conf", "note"])


def influence(sens: pd.DataFrame, top: int | None = None) -> pd.DataFrame:
    """Parameters ranked by their largest total index over all goals (and the mean)."""
    s = sens[sens["parameter"] != ""]
    if s.empty:
        return pd.DataFrame(columns=["parameter", "max_ST", "goal_of_max", "mean_ST", "mean_S1",
                                     "goals_ST_over_0.1"])
    g = s.groupby("parameter")
    idx = s.loc[g["ST"].idxmax()]
    out = pd.DataFrame({"max_ST": g["ST"].max(), "mean_ST": g["ST"].mean(), "mean_S1": g["S1"].mean(),
                        "goals_ST_over_0.1": g["ST"].apply(lambda v: int((v > 0.1).sum()))})
    out["goal_of_max"] = pd.Series((idx["scenario"] + ": " + idx["target"]).values,
                                   index=idx["parameter"].values)
    out = out.sort_values(["max_ST", "mean_ST"], ascending=False).reset_index(names="parameter")
    out = out[["parameter", "max_ST", "goal_of_max", "mean_ST", "mean_S1", "goals_ST_over_0.1"]]
    return out.head(top) if top else out


# --------------------------------------------------------------------------- results folder
def _md(frame: pd.DataFrame, floatfmt: str = ".3g") -> str:
    """A Markdown table; floats to 3 significant digits, years (columns ``year…``) to 0.1."""
    def cell(v, col):
        if isinstance(v, (float, np.floating)):
            fmt = ".1f" if str(col).startswith("year") else floatfmt
            return "—" if not math.isfinite(v) else format(float(v), fmt)
        return str(v)
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    sep = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v, c) for v, c in zip(row, frame.columns)) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def write_results(ens: Ensemble, out=None, *, results_root=DEFAULT_RESULTS_ROOT, name: str | None = None,
                  figures: Callable | None = None, formats: Sequence[str] = ("png",),
                  lang: str = "both") -> Path:
    """Write a NEW results folder; return it.

    Files: ``samples.csv`` (parameter values per sample), ``probabilities.csv``/``.md``,
    ``ensemble.nc`` (target indicators, scenario × sample × time), ``sobol.csv`` and
    ``influence.md`` (Sobol method), ``figures/…`` and ``manifest.json``.

    ``figures``: the figure writer, called as ``figures(folder / "figures", ens, lang=lang,
    formats=formats)`` and returning the files written (the faces pass
    :func:`sim.report.fan.write_fan_charts`; analyses do not import the report room);
    None writes no figures.
    """
    t0 = time.perf_counter()
    out_dir = make_results_dir(out, results_root, name or f"ensemble-{ens.method}")
    ens.samples_frame().to_csv(out_dir / "samples.csv")
    probs = probabilities(ens)
    probs.to_csv(out_dir / "probabilities.csv", index=False)
    text = ["# Probability of meeting each goal", "",
            f"{ens.rows} runs per scenario ({ens.method}, seed {ens.seed}); p ± se is the share "
            "of runs meeting the goal and its binomial standard error; year_p50 is the median "
            "year first met (level goals: interpolated crossing of the annual output).", "",
            _md(probs[["scenario", "target", "comparator", "threshold", "unit", "p", "se",
                       "value_p05", "value_p50", "value_p95", "year_p50"]])]
    (out_dir / "probabilities.md").write_text("\n".join(text), encoding="utf-8")
    _write_netcdf(ens, out_dir / "ensemble.nc")
    sobol_note = "not computed: needs --method sobol"
    if ens.method == "sobol":
        sens = sensitivity(ens)
        sens.to_csv(out_dir / "sobol.csv", index=False)
        infl = influence(sens)
        infl.to_csv(out_dir / "influence.csv", index=False)
        (out_dir / "influence.md").write_text(
            "# Most influential uncertain parameters\n\nRanked by the largest total Sobol index "
            f"over all goals (N = {ens.n}, {ens.rows} runs per scenario; 95 % bootstrap "
            "intervals in sobol.csv).\n\n" + _md(infl), encoding="utf-8")
        sobol_note = "sobol.csv, influence.csv, influence.md"
    figure_note = "skipped"
    if figures is not None:
        paths = figures(out_dir / "figures", ens, lang=lang, formats=formats)
        figure_note = f"{len(paths)} files"
    study = ens.info.get("study")
    uncertain = ens.uncertainties
    loaded = getattr(study, "loaded", None)
    write_manifest(
        out_dir, "ensemble", extra_versions=("SALib", "dask", "distributed"),
        model={"path": str(getattr(loaded, "path", "")), "sha256": getattr(loaded, "sha256", None)},
        files={
            "uncertainties": {str(uncertain.path): sha256(uncertain.path)},
            "calibration": ({str(uncertain.calibration): sha256(uncertain.calibration)}
                            if uncertain.calibration_used else {}),
            "scenarios": {str(study.scenarios[s].path): sha256(study.scenarios[s].path)
                          for s in ens.series} if study else {},
            "registry": {str(study.registry_path): sha256(study.registry_path)} if study else {},
            "targets": {str(study.targets_path): sha256(study.targets_path)} if study else {},
        },
        sampling={"method": ens.method, "n": ens.n, "rows": ens.rows, "seed": ens.seed,
                  "unit_hypercube_mapped_by": "scipy.stats ppf"},
        parameters=[u.describe() for u in uncertain.parameters],
        execution={k: v for k, v in ens.info.items() if k not in ("study", "nfev")},
        scenarios={sid: {**ens.scenarios_meta.get(sid, {}),
                         "params": {k: param_to_json(v) for k, v in ens.params.get(sid, {}).items()}}
                   for sid in ens.series},
        targets=[t.id for t in ens.targets],
        year_reached="level goals: linear interpolation of the crossing between annual outputs; "
                     "window goals: first saved year meeting the goal",
        sobol=sobol_note, figures=figure_note, write_seconds=time.perf_counter() - t0)
    return out_dir


def _write_netcdf(ens: Ensemble, path: Path) -> None:
    import xarray as xr

    ids = list(ens.series)
    cols = list(next(iter(ens.series.values())))
    data = {netcdf_name(c): xr.DataArray(np.stack([ens.series[s][c] for s in ids]),
                                      dims=("scenario", "sample", "time"), attrs={"long_name": c})
            for c in cols}
    data["parameter_values"] = xr.DataArray(ens.values, dims=("sample", "parameter"))
    ds = xr.Dataset(data, coords={"scenario": np.array(ids, dtype=object),
                                  "sample": np.arange(ens.rows), "time": ens.times,
                                  "parameter": np.array(ens.names, dtype=object)})
    ds.to_netcdf(path, engine="scipy")


def main_ensemble(scenarios, n: int, method: str = "lhs", seed: int = 0, *, scheduler=None,
                  out=None, chunk_size: int | None = None, workers: int = DEFAULT_WORKERS,
                  uncertainty_file=None, scenario_dir=DEFAULT_SCENARIO_DIR,
                  model=DEFAULT_MODEL, progress: bool = True,
                  figures: Callable | None = None) -> tuple[Path, Ensemble]:
    """The ``ensemble`` command: run, analyse, write the results folder (``figures``: the
    figure writer, see :func:`write_results`)."""
    ens = run_ensemble(scenarios, n, method, seed, uncertainty_file=uncertainty_file,
                       scenario_dir=scenario_dir, model=model, chunk_size=chunk_size,
                       scheduler=scheduler, workers=workers, progress=progress)
    return write_results(ens, out, figures=figures), ens
