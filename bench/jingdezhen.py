"""The Jingdezhen model: one run, one derivative and a slider move, flat right-hand side
against PySD's own evaluation, in one process (issue 15).

Every ratio compares two measurements taken one after the other in this process, so that
the load of other jobs on the shared machine affects both alike; absolute times carry
that load (the load average is printed with them).

- *one run*: ``sim.simulate`` 2010-2030 at rtol 1e-6, best of 5, after a first call that
  builds the model's context (translation cached, generated code compiled, checked
  against PySD); the baseline is the same call with PySD's evaluation
  (:mod:`sim.engine.integrate`'s path before issue 15: a fresh PySD model per call).
- *a slider move*: the same with a policy lever as a time series starting in 2016 and
  another constant changed (what the explorer does on each move).
- *one evaluation*: the generated ``rhs(t, y)`` against PySD's derivative at the same
  state (``pysd_derivative``), mean over 200 calls.
"""
from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "jingdezhen.mdl"


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_jingdezhen(repeats: int = 5) -> dict:
    import sim
    from sim.engine.integrate import Switches, forget_model_contexts, model_context, pysd_derivative

    handle = sim.load_model(MODEL)
    forget_model_contexts()  # the first call builds the model's context again
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = sim.simulate(handle, rtol=1e-6)
    first_s = time.perf_counter() - t0
    ctx = model_context(handle)
    move = {"replacement investment share": pd.Series([0.42, 0.6], index=[2015.999, 2016.0]),
            "innovation spending": 2 * float(ctx.template["innovation spending"])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_s, df = _best(lambda: sim.simulate(handle, rtol=1e-6), repeats)
        move_s, _ = _best(lambda: sim.simulate(handle, params=move, rtol=1e-6), repeats)
        saved, ctx.flat = ctx.flat, None
        try:
            pysd_run_s, slow = _best(lambda: sim.simulate(handle, rtol=1e-6), max(2, repeats // 2))
            pysd_move_s, _ = _best(lambda: sim.simulate(handle, params=move, rtol=1e-6), max(2, repeats // 2))
        finally:
            ctx.flat = saved
    assert df.attrs["rhs"] == "flat" and slow.attrs["rhs"] == "pysd"
    bound = ctx.flat.bind({}, Switches(ctx.t0, ctx.tf), ctx.t0, ctx.tf)
    rng = np.random.default_rng(0)
    states = [bound.y0 * (1 + 0.01 * rng.standard_normal(bound.y0.size)) for _ in range(200)]
    times = rng.uniform(ctx.t0, ctx.tf, 200)
    t0 = time.perf_counter()
    for t, y in zip(times, states):
        bound.rhs(t, y)
    flat_us = 1e6 * (time.perf_counter() - t0) / 200
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        for t, y in zip(times[:50], states[:50]):
            pysd_derivative(ctx.template, ctx.sv, t, y)
        pysd_us = 1e6 * (time.perf_counter() - t0) / 50
    a, b = df.to_numpy(float), slow.to_numpy(float)
    gaps = np.max(np.abs(a - b), axis=0) / np.maximum(np.abs(b).max(axis=0), 1e-6)  # ~0 columns: absolute
    agree, worst = float(gaps.max()), str(df.columns[int(np.argmax(gaps))])
    return dict(first_s=first_s, run_s=run_s, move_s=move_s, pysd_run_s=pysd_run_s,
                pysd_move_s=pysd_move_s, nfev=int(df.attrs["nfev"]), flat_us=flat_us,
                pysd_us=pysd_us, states=int(bound.y0.size), agree=agree, worst=worst,
                load=" / ".join(f"{x:.1f}" for x in os.getloadavg()))


def jingdezhen_lines(r: dict) -> list[str]:
    return [
        "## The Jingdezhen model: flat right-hand side against PySD's evaluation",
        "",
        "`sim.simulate`, 2010-2030, RK45 at rtol 1e-6, in one process, each pair measured "
        "back to back (bench/jingdezhen.py). *PySD's evaluation* is the engine's path before "
        "issue 15 (a fresh PySD model per call, PySD's functions and caches per derivative).",
        "",
        "| measure | flat | PySD's evaluation | ratio |",
        "|---|---|---|---|",
        f"| one run after the first (best of 5), ms | {1e3 * r['run_s']:.0f} | "
        f"{1e3 * r['pysd_run_s']:.0f} | {r['pysd_run_s'] / r['run_s']:.1f}× |",
        f"| a slider move (lever from 2016 + a constant), ms | {1e3 * r['move_s']:.0f} | "
        f"{1e3 * r['pysd_move_s']:.0f} | {r['pysd_move_s'] / r['move_s']:.1f}× |",
        f"| one derivative ({r['states']} states), us | {r['flat_us']:.0f} | {r['pysd_us']:.0f} | "
        f"{r['pysd_us'] / r['flat_us']:.0f}× |",
        "",
        f"RHS evaluations per run: {r['nfev']}. First call (context: PySD model initialised, "
        f"generated code compiled and checked against PySD; translation cached): {r['first_s']:.1f} s. Largest relative "
        f"difference between the two paths' outputs at rtol 1e-6: {r['agree']:.1e} of its largest value, in "
        f"`{r['worst']}`. Both runs are solutions within the solver's tolerance, and they differ most where "
        "a MAX/MIN switch makes the solver's error largest. At rtol 1e-11 the two paths agree within 1e-6 of every "
        "column (tests/engine/test_engine_flat.py). Load average during "
        f"the measurement (1/5/15 min): {r['load']} on 2 cores; absolute times carry that "
        "load, ratios much less.",
        "",
    ]


def main() -> int:
    print("\n".join(jingdezhen_lines(bench_jingdezhen())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
