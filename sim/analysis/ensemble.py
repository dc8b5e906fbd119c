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
   meeting it with its binomial standard error ``sqrt(p (1 - p) / n)``; the measure is
   that of :mod:`sim.policy.targets` (:data:`ARRAY_MEASURES` repeats its formulas on arrays of
   samples; ``tests/test_ensemble.py`` checks them against :func:`sim.policy.targets.measure`).
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
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.errors import SimError
from sim.run import DEFAULT_MODEL, DEFAULT_RESULTS_ROOT, DEFAULT_SCENARIO_DIR, ENGINE_DEFAULTS
from sim.policy.scenario import param_to_json
from sim.policy.targets import COMPARATORS, REL_TOL, Target, TargetSet
from sim.analysis.uncertainty import DEFAULT_FILE, UncertaintySet, load_uncertainties, sample_unit, to_values

#: Samples per batch call. Each call pays PySD's set-up (a fresh model, initialisation)
#: once; more chunks than workers only add calls. 10,000 Jingdezhen runs on the shared
#: 2-core machine (load 4-6 from other jobs), 2 worker processes: chunks of 1000: 22 s,
#: 2500: 21-25 s, 5000: 13-19 s, one chunk of 10,000: 13-15 s. 5000 keeps both workers
#: busy for a 10,000-run ensemble and its state (5000 × ~80 stocks × 7 RK stages) small.
DEFAULT_CHUNK = 5000
DEFAULT_WORKERS = 2
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
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


SCHEDULER_ENV = "SIM_DASK_SCHEDULER"
_ADDRESS = re.compile(r"(tcp|tls|ucx|ws|wss)://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}")


def scheduler_address(option: str | None) -> str | None:
    """The Dask scheduler address: ``option`` (``--scheduler``), else ``$SIM_DASK_SCHEDULER``,
    else ``None`` (local processes). Never from a data file. A malformed address is a
    :class:`~sim.errors.SimError` naming where it came from."""
    origin = "--scheduler"
    if option is None:
        option, origin = os.environ.get(SCHEDULER_ENV) or None, f"${SCHEDULER_ENV}"
    if option is None or not isinstance(option, str):
        return option
    m = _ADDRESS.fullmatch(option.strip())
    if not m or not 0 < int(option.strip().rsplit(":", 1)[1]) < 65536:
        raise SimError(f"{origin} {option!r}: expected a Dask scheduler address like "
                       f"tcp://host:8786")
    return option.strip()


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


# --------------------------------------------------------------------------- goal measures on arrays
def _at(x: np.ndarray, times: np.ndarray, year: float) -> np.ndarray:
    """Every row of ``x`` (samples × times) at ``year``, linear between saved times."""
    if year < times[0] - 1e-9 or year > times[-1] + 1e-9:
        raise ValueError(f"year {year:g} is outside the results ({times[0]:g}–{times[-1]:g})")
    j = int(np.clip(np.searchsorted(times, year, side="right") - 1, 0, times.size - 2))
    w = (year - times[j]) / (times[j + 1] - times[j])
    if w <= 0:
        return x[:, j].copy()
    if w >= 1:
        return x[:, j + 1].copy()
    return x[:, j] + w * (x[:, j + 1] - x[:, j])


def _window(times, start, end):
    return (times >= start - 1e-9) & (times <= end + 1e-9)


def _a_value_in_year(x, t, start, end, scale):
    return scale * _at(x, t, end)


def _a_avg_growth(x, t, start, end, scale):
    first, last = _at(x, t, start), _at(x, t, end)
    with np.errstate(all="ignore"):
        g = 100.0 * ((last / first) ** (1.0 / (end - start)) - 1.0)
    return np.where((first > 0) & (last > 0), g, np.nan)


def _a_ratio_change(x, t, start, end, scale):
    return scale * (_at(x, t, end) - _at(x, t, start))


def _a_min_over(x, t, start, end, scale):
    parts = [x[:, _window(t, start, end)], _at(x, t, start)[:, None], _at(x, t, end)[:, None]]
    return scale * np.min(np.hstack(parts), axis=1)


def _a_max_over(x, t, start, end, scale):
    parts = [x[:, _window(t, start, end)], _at(x, t, start)[:, None], _at(x, t, end)[:, None]]
    return scale * np.max(np.hstack(parts), axis=1)


#: The measures of :data:`sim.policy.targets.MEASURES` on arrays (samples × times), same formulas.
ARRAY_MEASURES = {"value_in_year": _a_value_in_year, "avg_growth": _a_avg_growth,
                  "ratio_change": _a_ratio_change, "min_over": _a_min_over, "max_over": _a_max_over}


def indicator_array(series: Mapping[str, np.ndarray], target: Target) -> np.ndarray:
    """The samples × times array a target reads (indicator, or indicator / denominator)."""
    x = np.asarray(series[target.indicator], dtype=float)
    if target.denominator:
        x = x / np.asarray(series[target.denominator], dtype=float)
    return x


def measure_array(x: np.ndarray, times: np.ndarray, target: Target, end: float | None = None) -> np.ndarray:
    """The target's measure for every sample over [target.start, end] (default horizon)."""
    return ARRAY_MEASURES[target.measure](x, times, target.start,
                                          target.year if end is None else end, target.scale)


def meets_array(target: Target, values: np.ndarray) -> np.ndarray:
    """:meth:`sim.policy.targets.Target.meets` element-wise (NaN never meets)."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        ok = COMPARATORS[target.comparator](v, target.threshold)
        if target.comparator in (">=", "<="):
            ok = ok | (np.abs(v - target.threshold) <= REL_TOL * max(1.0, abs(target.threshold)))
    return ok & np.isfinite(v)


def measure_paths(x: np.ndarray, times: np.ndarray, target: Target) -> np.ndarray:
    """The measure as a path over time (samples × times, target units; NaN where undefined).

    Level measures: ``scale × indicator``; window measures: the measure from the start
    year to each later saved year (as :func:`sim.report.measures.measure_path`).
    """
    if target.measure in ("value_in_year", "min_over", "max_over"):
        return target.scale * x
    out = np.full(x.shape, np.nan)
    for j, y in enumerate(times):
        if y > target.start + 1e-9:
            out[:, j] = measure_array(x, times, target, end=float(y))
    return out


def year_reached_array(x: np.ndarray, times: np.ndarray, target: Target) -> np.ndarray:
    """First year each sample meets the goal (float; NaN when never).

    Level targets (``value_in_year``): the first time if met there, else the linearly
    interpolated crossing between the last annual output that misses and the first that
    meets. Window measures: the first saved year Y in the window (after the start year
    for growth and change) whose measure over [start, Y] meets the goal.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if target.measure == "value_in_year":
        v = target.scale * x
        met = meets_array(target, v)
        first = np.where(met.any(axis=1), met.argmax(axis=1), -1)
        out[first == 0] = times[0]
        k = np.flatnonzero(first > 0)
        j = first[k]
        v0, v1 = v[k, j - 1], v[k, j]
        with np.errstate(all="ignore"):
            w = np.clip((target.threshold - v0) / (v1 - v0), 0.0, 1.0)
        w = np.where(np.isfinite(w), w, 1.0)
        out[k] = times[j - 1] + w * (times[j] - times[j - 1])
        return out
    from_start = target.measure in ("min_over", "max_over")
    todo = np.ones(n, bool)
    for y in times[_window(times, target.start, target.year)]:
        if not from_start and y <= target.start + 1e-9:
            continue
        hit = todo & meets_array(target, measure_array(x, times, target, end=float(y)))
        out[hit] = y
        todo &= ~hit
    return out


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
    ``scheduler``: Dask address or client (default: ``$SIM_DASK_SCHEDULER``, else local
    processes; never the uncertainty file). ``columns``: extra model variables to keep besides the targets'.
    Validation problems of every file are raised together before anything runs.
    """
    t_start = time.perf_counter()
    if scheduler is None or isinstance(scheduler, str):
        scheduler = scheduler_address(scheduler)
    sample_unit(method, n, 1, seed)  # a bad method or size fails before anything is read
    from sim.run import _scenario_set, _select, _validated

    state = _validated(scenario_dir, model, targets, registry)
    if uncertainty_file is None:
        uncertainty_file = Path(scenario_dir) / Path(DEFAULT_FILE).name
    uset = load_uncertainties(uncertainty_file, model=state["loaded"], levers=state["levers"])
    chunk_size = chunk_size or uset.chunk_size or DEFAULT_CHUNK
    sset = _scenario_set(state)
    ids = [scenarios] if isinstance(scenarios, str) else list(scenarios)
    ids = _select(ids, sset.ids())
    target_set: TargetSet = state["targets"]
    cols = list(dict.fromkeys([*(v for t in target_set for v in t.variables()), *columns]))

    unit = sample_unit(method, n, len(uset), seed)
    values = to_values(unit, uset.parameters)
    engine = {**ENGINE_DEFAULTS, **(engine or {})}
    params = {sid: sset.resolve(sid, defaults=state["facts"]["defaults"]) for sid in ids}
    model_path = str(state["loaded"].path)
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
            "nfev": [r["nfev"] for r in results], "state": state}
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
                  figures: bool = True, formats: Sequence[str] = ("png",), lang: str = "both") -> Path:
    """Write a NEW results folder; return it.

    Files: ``samples.csv`` (parameter values per sample), ``probabilities.csv``/``.md``,
    ``ensemble.nc`` (target indicators, scenario × sample × time), ``sobol.csv`` and
    ``influence.md`` (Sobol method), ``figures/fan_<target>.png`` and ``manifest.json``.
    """
    from sim.run import git_state, make_results_dir, sha256, versions, write_manifest

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
    if figures:
        from sim.report.fan import write_fan_charts
        paths = write_fan_charts(out_dir / "figures", ens, lang=lang, formats=formats)
        figure_note = f"{len(paths)} files"
    state = ens.info.get("state") or {}
    scenario_dir, targets_path, registry_path = state.get("paths", (None, None, None))
    loaded = state.get("loaded")
    manifest = {
        "name": out_dir.name,
        "kind": "ensemble",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sim_version": __version__,
        "git": git_state(),
        "model": {"path": str(getattr(loaded, "path", "")), "sha256": getattr(loaded, "sha256", None)},
        "files": {
            "uncertainties": {str(ens.uncertainties.path): sha256(ens.uncertainties.path)},
            "calibration": ({str(ens.uncertainties.calibration): sha256(ens.uncertainties.calibration)}
                            if ens.uncertainties.calibration_used else None),
            "scenarios": {str(state["scenarios"][s].path): sha256(state["scenarios"][s].path)
                          for s in ens.series} if state else {},
            "registry": {str(registry_path): sha256(registry_path)} if registry_path else {},
            "targets": {str(targets_path): sha256(targets_path)} if targets_path else {},
        },
        "sampling": {"method": ens.method, "n": ens.n, "rows": ens.rows, "seed": ens.seed,
                     "unit_hypercube_mapped_by": "scipy.stats ppf"},
        "parameters": [u.describe() for u in ens.uncertainties.parameters],
        "execution": {k: v for k, v in ens.info.items() if k not in ("state", "nfev")},
        "scenarios": {sid: {**ens.scenarios_meta.get(sid, {}),
                            "params": {k: param_to_json(v) for k, v in ens.params.get(sid, {}).items()}}
                      for sid in ens.series},
        "targets": [t.id for t in ens.targets],
        "year_reached": "level goals: linear interpolation of the crossing between annual outputs; "
                        "window goals: first saved year meeting the goal",
        "sobol": sobol_note,
        "figures": figure_note,
        "versions": {**versions(), **_more_versions()},
        "write_seconds": time.perf_counter() - t0,
    }
    manifest["outputs"] = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file()) \
        + ["manifest.json"]
    write_manifest(out_dir, manifest)
    return out_dir


def _more_versions() -> dict:
    out = {}
    for pkg in ("SALib", "dask", "distributed"):
        try:
            from importlib.metadata import version
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a version is information, never a failure
            out[pkg] = None
    return out


def _write_netcdf(ens: Ensemble, path: Path) -> None:
    import xarray as xr
    from sim.run import _nc_name

    ids = list(ens.series)
    cols = list(next(iter(ens.series.values())))
    data = {_nc_name(c): xr.DataArray(np.stack([ens.series[s][c] for s in ids]),
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
                  figures: bool = True) -> tuple[Path, Ensemble]:
    """The ``ensemble`` command: run, analyse, write the results folder."""
    ens = run_ensemble(scenarios, n, method, seed, uncertainty_file=uncertainty_file,
                       scenario_dir=scenario_dir, model=model, chunk_size=chunk_size,
                       scheduler=scheduler, workers=workers, progress=progress)
    return write_results(ens, out, figures=figures), ens
