"""Ensemble speed: a loop over ``sim.simulate`` against the vectorised chunked path.

Both run the Jingdezhen model under the plan scenario's levers on samples of the
uncertain constants (``scenarios/uncertainties.yaml``, Latin hypercube, seed 0) at the
default tolerance (RK45, rtol 1e-6). The loop runs ``n_loop`` samples one by one in this
process; the vectorised path is :func:`sim.analysis.ensemble.run_ensemble` with its default
chunks and two local worker processes. Runs per second are wall-clock.
"""
from __future__ import annotations

import os
import time

import numpy as np

SCENARIO = "plan"


def bench_ensemble(n_loop: int = 20, n_batch: int = 10_000, seed: int = 0, n_base: int = 1000) -> dict:
    """Runs per second of both paths, their ratio and the n_batch-run wall time (s)."""
    import sim
    from sim.analysis.ensemble import DEFAULT_CHUNK, run_ensemble, single_blas_thread

    small = run_ensemble([SCENARIO], n=n_loop, method="lhs", seed=seed, workers=1, chunk_size=n_loop)
    handle = small.info["study"].loaded
    params = small.params[SCENARIO]
    columns = list(small.series[SCENARIO])
    single_blas_thread()  # as in the chunk workers: fair to both paths
    sim.simulate(handle, params={**params, **dict(zip(small.names, map(float, small.values[0])))},
                 return_columns=columns)  # warm-up
    t0 = time.perf_counter()
    for row in small.values:
        sim.simulate(handle, params={**params, **dict(zip(small.names, map(float, row)))},
                     return_columns=columns)
    loop_s = time.perf_counter() - t0

    # baseline in this process: the vectorised path through PySD's evaluation (SIM_FLAT=0,
    # inherited by the worker processes), and the flat path, on the same n_base samples
    rates = {}
    for flag in ("0", "1"):
        os.environ["SIM_FLAT"] = flag
        t0 = time.perf_counter()
        base = run_ensemble([SCENARIO], n=n_base, method="lhs", seed=seed)
        rates[flag] = n_base / base.info["run_seconds"]
    os.environ.pop("SIM_FLAT", None)

    t0 = time.perf_counter()
    big = run_ensemble([SCENARIO], n=n_batch, method="lhs", seed=seed)
    total_s = time.perf_counter() - t0
    run_s = big.info["run_seconds"]
    loop_rate, batch_rate = n_loop / loop_s, n_batch / run_s
    return {"n_loop": n_loop, "loop_s": loop_s, "loop_runs_per_s": loop_rate,
            "n_batch": n_batch, "batch_run_s": run_s, "batch_total_s": total_s,
            "batch_runs_per_s": batch_rate, "ratio": batch_rate / loop_rate,
            "n_base": n_base, "pysd_rate": rates["0"], "flat_rate": rates["1"],
            "chunk_size": DEFAULT_CHUNK, "chunks": big.info["chunks"], "executor": big.info["executor"],
            "nfev": big.info["nfev"], "finite": bool(all(np.isfinite(a).all() for a in
                                                         big.series[SCENARIO].values()))}


def ensemble_lines(r: dict) -> list[str]:
    """The result as Markdown lines (a table and a sentence)."""
    return [
        "## Ensembles: loop of single runs against the vectorised path",
        "",
        f"Jingdezhen model, `{SCENARIO}` levers, Latin-hypercube samples of the uncertain "
        "constants, RK45 at rtol 1e-6; wall-clock (bench/ensemble_speed.py).",
        "",
        "| path | runs | wall time (s) | runs per second |",
        "|---|---|---|---|",
        f"| loop over `sim.simulate` (1 process) | {r['n_loop']} | {r['loop_s']:.1f} | {r['loop_runs_per_s']:.1f} |",
        f"| `sim.analysis.ensemble` ({r['chunks']} chunks of {r['chunk_size']}, {r['executor']}) | "
        f"{r['n_batch']} | {r['batch_run_s']:.1f} | {r['batch_runs_per_s']:.0f} |",
        "",
        f"Vectorised / loop: **{r['ratio']:.0f}×** runs per second. The {r['n_batch']}-run "
        f"ensemble took {r['batch_run_s']:.1f} s to run and {r['batch_total_s']:.1f} s with "
        "validation and sampling (issue 15 aims at 1.5 s on this 2-core machine, unloaded).",
        "",
        f"Baseline in the same process, {r['n_base']} runs each: the vectorised path through "
        f"PySD's evaluation (`SIM_FLAT=0`) {r['pysd_rate']:.0f} runs/s, through the flat "
        f"right-hand side {r['flat_rate']:.0f} runs/s: **{r['flat_rate'] / r['pysd_rate']:.1f}×**.",
        "",
    ]


def main() -> int:
    r = bench_ensemble()
    print("\n".join(ensemble_lines(r)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
