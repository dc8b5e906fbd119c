"""Time the engine and PySD's Euler on one model at matched accuracy.

Accuracy is measured against a reference run of the engine at ``rtol=1e-10`` (the test
suite shows the engine matches closed forms to 1e-5 at ``rtol=1e-8`` and that PySD's
Euler converges to it like the step). The gap of a run is the largest, over variables,
of max |run - reference| / max |reference| (dimensionless).

For an engine tolerance, the Euler step that reaches the engine's gap is found from two
calibration runs (the model's TIME STEP and half of it): Euler's gap is about C * dt, so
``dt = gap_engine / C``, rounded down to a power of two so that the half-year output
times stay on the Euler grid, then checked by running PySD there (halving again if its
gap is still larger). When that run would take longer than ``budget_s``, its time is
extrapolated from the finer calibration run (time per step times steps) and marked as such.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

import sim

CONTROL = {"FINAL TIME", "INITIAL TIME", "SAVEPER", "TIME STEP"}
REFERENCE = dict(rtol=1e-10, atol=1e-12)


def relative_gap(result: pd.DataFrame, reference: pd.DataFrame) -> float:
    """Largest relative deviation of ``result`` from ``reference`` over shared variables."""
    worst = 0.0
    for col in reference.columns:
        if col in CONTROL:
            continue
        ref = reference[col].to_numpy(float)
        scale = np.max(np.abs(ref))
        if scale > 1e-9:  # a variable that is zero up to rounding (1e-14) has no relative gap
            worst = max(worst, float(np.max(np.abs(result[col].to_numpy(float) - ref)) / scale))
    return worst


def timed(fn, repeats: int = 1):
    """Run ``fn`` ``repeats`` times; return (best wall s, best CPU s, last result)."""
    best_wall = best_cpu = math.inf
    result = None
    for _ in range(max(1, repeats)):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, result


@dataclass
class EngineRun:
    rtol: float
    wall_s: float
    cpu_s: float
    nfev: int
    gap: float

    @property
    def us_per_eval(self) -> float:
        """Total engine wall time per right-hand-side evaluation (microseconds)."""
        return 1e6 * self.wall_s / self.nfev


@dataclass
class EulerRun:
    dt: float
    steps: int
    wall_s: float
    cpu_s: float
    gap: float
    extrapolated: bool


def run_engine(model, rtol: float, times, reference, repeats: int = 3) -> EngineRun:
    wall, cpu, df = timed(lambda: sim.simulate(model, rtol=rtol, times=times), repeats)
    return EngineRun(rtol, wall, cpu, int(df.attrs["nfev"]), relative_gap(df, reference))


def _euler(pysd_model, dt: float, times, repeats: int = 1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return timed(lambda: pysd_model.run(time_step=dt, return_timestamps=times), repeats)


def euler_to_match(pysd_model, reference, target_gap: float, times, horizon: float,
                   model_step: float, budget_s: float = 20.0,
                   calibration: dict | None = None) -> EulerRun:
    """The PySD Euler run whose gap reaches ``target_gap`` (measured or extrapolated).

    ``calibration`` caches the two calibration runs between calls on the same model.
    """
    if calibration is None:
        calibration = {}
    if not calibration:
        for dt in (model_step, model_step / 2):
            wall, cpu, df = _euler(pysd_model, dt, times)
            calibration[dt] = (wall, cpu, relative_gap(df, reference))
    (_, (_, _, g0)), (dt1, (w1, c1, g1)) = sorted(calibration.items(), reverse=True)
    # cost per step from the finer calibration run, fixed cost included: a slight
    # overestimate for long runs, but robust (a difference of two short runs is noise)
    n1 = horizon / dt1
    wall_per_step, cpu_per_step = w1 / n1, c1 / n1

    def predicted(steps):
        return wall_per_step * steps, cpu_per_step * steps

    first_order = g1 / dt1
    dt = model_step if g0 <= target_gap else 2.0 ** math.floor(math.log2(target_gap / first_order))
    dt = min(dt, model_step)
    for _ in range(4):
        steps = int(round(horizon / dt))
        if dt in calibration:
            wall, cpu, gap = calibration[dt]
        elif predicted(steps)[0] <= budget_s:
            wall, cpu, df = _euler(pysd_model, dt, times, repeats=2 if predicted(steps)[0] < 2 else 1)
            gap = relative_gap(df, reference)
        else:
            wall, cpu = predicted(steps)
            return EulerRun(dt, steps, max(wall, 0.0), max(cpu, 0.0), first_order * dt, True)
        if gap <= target_gap:
            return EulerRun(dt, steps, wall, cpu, gap, False)
        dt /= 2
    wall, cpu = predicted(int(round(horizon / dt)))
    return EulerRun(dt, int(round(horizon / dt)), wall, cpu, first_order * dt, True)
