"""Ensembles: the model under uncertain parameters, run thousands of times.

``python -m sim ensemble --scenario plan --n 10000 [--method lhs|sobol|mc] [--seed K]
[--scheduler tcp://host:port] [--out DIR]``

1. Samples: the uncertain constants of ``scenarios/uncertainties.yaml``
   (:mod:`sim.analysis.uncertainty`), drawn by Monte Carlo, Latin hypercube or Sobol (Saltelli)
   sampling on the unit hypercube and mapped through each distribution's inverse CDF.
2. Runs: every scenario's levers (:mod:`sim.policy.scenario`) are shared by all samples; the
   samples run through the vectorised :func:`sim.engine.batch.simulate_batch` in **fixed chunks**
   of :data:`DEFAULT_CHUNK` consecutive sample indices (:mod:`sim.analysis.chunks`). The solver's step size follows the
   hardest sample of a call, so the chunk, not the machine, decides the numbers: serial,
   local processes (:class:`concurrent.futures.ProcessPoolExecutor`, the default) and a
   Dask cluster (``--scheduler``) compute the same chunks and give identical bits.
   **Vantages**: each goal is judged on runs seen from its horizon's base year, as the main
   run judges it (scenarios/README.md, "Two vantage points"; :func:`sim.policy.vantage.seen_from`):
   one batch of runs per vantage on the SAME unit-hypercube points. Runs seen from 2015
   (the 2020 goals) know the history to 2015, take the levers from 2016 and the constants
   of the calibration made then; a ``calibrated`` uncertain parameter is drawn from that
   calibration's interval; they stop at the last horizon judged from there (2020), so they
   cost about half a full run. Runs seen from 2020 (the 2030 goals) share the history to
   2020 and take the levers from 2021; they are the ensemble's ``series``.
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

:mod:`sim.report.ensemble` writes the results to a new folder
``results/<UTC timestamp>-ensemble-<method>/`` with a manifest like every run.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.defaults import DEFAULT_MODEL, DEFAULT_SCENARIO_DIR, ENGINE_DEFAULTS
from sim.errors import UsageError
from sim.policy.study import read_study
from sim.policy.goal_measures import indicator_array, measure_array, meets_array, year_reached_array
from sim.policy.targets import Target, TargetSet
from sim.policy.vantage import latest_vantage, seen_from, vantage_calibration, vantage_groups
from sim.analysis.chunks import (DEFAULT_CHUNK, DEFAULT_WORKERS, ChunkTask, chunk_bounds,  # noqa: F401
                                 execute, resolve_scheduler, run_chunk, scheduler_address, set_blas_threads,
                                 single_blas_thread)
from sim.analysis.uncertainty import (DEFAULT_FILE, UncertaintySet, check_sampling, load_uncertainties,
                                      sample_unit, to_values)

SOBOL_RESAMPLES = 100
SOBOL_CONF = 0.95


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
    #: {vantage year: {"targets": [ids], "times", "series", "values", "params", "calibration"}}:
    #: the runs each goal is judged on (the latest vantage's are ``times``/``series``/...);
    #: empty for a model without a vantage constant
    vantages: dict = field(default_factory=dict)

    def view(self, target: Target | str) -> tuple[np.ndarray, dict]:
        """``(times, {scenario: {variable: (rows, T) array}})`` of the runs a target is judged
        on: those seen from its vantage."""
        tid = target if isinstance(target, str) else target.id
        for v in self.vantages.values():
            if tid in v["targets"] and "series" in v:
                return v["times"], v["series"]
        return self.times, self.series

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


#: Memory of one local worker process besides its chunk (a loaded model; measured about 290 MB).
WORKER_BASE_BYTES = 300 * 2**20
#: Share of the available memory an ensemble may plan to use.
MEMORY_SHARE = 0.7


def available_memory() -> int | None:
    """Bytes of memory available to new work (``MemAvailable`` on Linux), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_estimate(rows: int, d: int, scenarios: int, columns: int, times: int, chunk: int,
                    workers: int) -> int:
    """Bytes an ensemble needs: the samples (unit and values, ``2 rows d``), the kept series
    (``scenarios columns rows times``, twice while chunks are joined), and per worker a
    model plus one chunk's states and outputs (8-byte floats)."""
    kept = 8 * (2 * rows * d + 2 * scenarios * columns * rows * times)
    per_worker = WORKER_BASE_BYTES + 8 * min(chunk, rows) * times * (columns + 4 * d + 64)
    return kept + max(1, workers) * per_worker


def check_memory(n: int, method: str, d: int, scenarios: int, columns: int, times: int,
                 chunk: int, workers: int, available: int | None = None) -> None:
    """Refuse an ensemble whose estimate exceeds :data:`MEMORY_SHARE` of the available
    memory, naming the largest ``--n`` that fits."""
    available = available_memory() if available is None else available
    if available is None:
        return
    per_n = d + 2 if method == "sobol" else 1
    need = memory_estimate(n * per_n, d, scenarios, columns, times, chunk, workers)
    budget = MEMORY_SHARE * available
    if need <= budget:
        return
    lo, hi = 0, n  # the largest n that fits, by bisection on the estimate
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if memory_estimate(mid * per_n, d, scenarios, columns, times, chunk, workers) <= budget:
            lo = mid
        else:
            hi = mid - 1
    if method == "sobol" and lo > 0:
        lo = 1 << (lo.bit_length() - 1)
    fits = f"the largest --n that fits is {lo:,}" if lo else "no --n fits: free memory first"
    raise UsageError(f"--n {n:,}: the ensemble needs about {need / 2**30:,.1f} GiB "
                     f"({n * per_n:,} runs x {scenarios} scenario(s) x {columns} series x "
                     f"{times} times), more than {MEMORY_SHARE:.0%} of the "
                     f"{available / 2**30:,.1f} GiB available; {fits}")


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
    check_sampling(method, n, seed)  # a bad method, size or seed fails before anything is read
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise UsageError(f"--chunk-size {chunk_size!r}: expected a positive whole number "
                         f"(default {DEFAULT_CHUNK})")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"--workers {workers!r}: expected a positive whole number")
    if scheduler is None or isinstance(scheduler, str):
        scheduler = resolve_scheduler(scheduler)
    study = read_study(scenario_dir, model, targets, registry)
    if uncertainty_file is None:
        uncertainty_file = Path(scenario_dir) / Path(DEFAULT_FILE).name
    uset = load_uncertainties(uncertainty_file, model=study.loaded, levers=study.levers)
    chunk_size = chunk_size or uset.chunk_size or DEFAULT_CHUNK
    sset = study.scenario_set()
    ids = study.select([scenarios] if isinstance(scenarios, str) else list(scenarios))
    target_set: TargetSet = study.targets
    cols = list(dict.fromkeys([*(v for t in target_set for v in t.variables()), *columns]))
    ctl = study.loaded.control()
    n_times = int(round((ctl["final_time"] - ctl["initial_time"]) / ctl["saveper"])) + 1
    groups = vantage_groups(target_set, target_set.horizons, study.facts["constants"])
    check_memory(n, method, len(uset), len(ids) * len(groups), len(cols), n_times, chunk_size,
                 1 if scheduler is not None else workers)

    unit = sample_unit(method, n, len(uset), seed)
    values = to_values(unit, uset.parameters)
    engine = {**ENGINE_DEFAULTS, **(engine or {})}
    model_path = str(study.loaded.path)
    latest = latest_vantage(groups)
    t0, saveper = float(ctl["initial_time"]), float(ctl["saveper"])
    resolved = {sid: sset.resolve(sid, defaults=study.defaults) for sid in ids}
    plans, tasks, owner = {}, [], []
    for vantage, group in groups.items():
        cal = vantage_calibration(model_path, vantage)
        u = uset if cal is None else load_uncertainties(uncertainty_file, model=study.loaded, levers=study.levers,
                                                        calibration=cal)
        vals = values if u is uset else to_values(unit, u.parameters)
        # the sampled constants are drawn; the vantage's other constants are shared
        prm = {sid: {k: v for k, v in seen_from(resolved[sid], study.defaults, model_path, vantage).items()
                     if k not in uset.names} for sid in ids}
        eng, use = engine, cols
        if vantage != latest:   # only to the last horizon judged from here, only its goals' variables
            last = max(t.year for t in group)
            eng = {**engine, "times": np.arange(t0, last + saveper / 2, saveper)}
            use = list(dict.fromkeys(v for t in group for v in t.variables()))
        plans[vantage] = {"targets": [t.id for t in group], "values": vals, "params": prm,
                          "calibration": str(u.calibration) if u.calibration_used else None,
                          "columns": use}
        for sid in ids:
            for a, b in chunk_bounds(len(vals), chunk_size):
                tasks.append(ChunkTask(model_path, prm[sid], tuple(uset.names), vals[a:b], tuple(use), eng, a, sid))
                owner.append(vantage)
    t_run = time.perf_counter()
    results = execute(tasks, scheduler=scheduler, workers=workers, progress=progress)
    run_s = time.perf_counter() - t_run
    for vantage, plan in plans.items():
        mine = [r for r, v in zip(results, owner) if v == vantage]
        use = plan.pop("columns")
        plan["times"] = mine[0]["times"]
        plan["series"] = {sid: dict(zip(use, np.concatenate([r["data"] for r in mine if r["scenario"] == sid],
                                                            axis=1))) for sid in ids}
    main = plans[latest]
    times, series, values, params = main["times"], main["series"], main["values"], main["params"]
    info = {"chunk_size": chunk_size, "chunks": len(tasks), "workers": workers,
            "scheduler": scheduler_address(scheduler) if scheduler is not None else None,
            "executor": "dask" if scheduler is not None else ("serial" if workers <= 1 else "processes"),
            "engine": engine, "run_seconds": run_s, "total_seconds": time.perf_counter() - t_start,
            "nfev": [r["nfev"] for r in results], "study": study}
    seen = {} if list(groups) == [None] else {
        v: ({k: x for k, x in plan.items() if k not in ("series", "times")} if v == latest else plan)
        for v, plan in plans.items()}
    return Ensemble(uset, method, n, seed, unit, values, times, series, target_set,
                    {sid: sset.scenarios[sid].meta() for sid in ids}, params, info, seen)


# --------------------------------------------------------------------------- analysis
def goal_metrics(ens: Ensemble, scenario: str, target: Target) -> tuple[np.ndarray, np.ndarray]:
    """(measure value, year first met) for every sample of one scenario and target, on the
    runs seen from the target's vantage (:meth:`Ensemble.view`)."""
    times, series = ens.view(target)
    x = indicator_array(series[scenario], target)
    return measure_array(x, times, target), year_reached_array(x, times, target)


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
    vantage = {tid: v for v, seen in ens.vantages.items() for tid in seen["targets"]}
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
                         "undefined": int((~np.isfinite(value)).sum()), "basis": t.basis,
                         "seen_from": vantage.get(t.id, math.nan)})
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
