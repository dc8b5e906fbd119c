"""Time per slider move of the live explorer (sim/explorer.py): model run, redraw, total.

Wall-clock and this process's CPU seconds per move (the CPU figure is what a move costs
when the machine is not shared). Moves step the investment share, retraining and circular
economy sliders from the plan, as a user would. A move runs the setting once per vantage
(two runs: the 2020 goals seen from 2015, the 2030 goals from 2020, as the main job).
"""
from __future__ import annotations

import os
import statistics

MOVES = [{"replacement investment share": v} for v in (0.45, 0.5, 0.55, 0.6, 0.48)] + \
        [{"retraining rate": 0.8}, {"circular economy investment": 9.0}]


def bench_explorer(lang: str = "zh") -> dict:
    """Median and max of each timing over :data:`MOVES` (seconds), full redraws, load."""
    from sim.explorer import Explorer

    ex = Explorer(base="plan", references=("baseline", "plan"), lang=lang)
    full_before = ex.full_redraws
    timings = []
    for move in MOVES:
        ex.update(move)
        timings.append(dict(ex.timings))
    out = {"moves": len(MOVES), "rtol": ex.rtol, "runs_per_move": len(ex.vantages),
           "full_redraws": ex.full_redraws - full_before,
           "load": " / ".join(f"{x:.2f}" for x in os.getloadavg())}
    for key in ("run", "redraw", "total", "cpu"):
        values = [t[key] for t in timings]
        out[key] = (statistics.median(values), max(values))
    return out


def explorer_lines(r: dict) -> list[str]:
    """The result as Markdown lines."""
    row = lambda k, what: f"| {what} | {r[k][0]:.3f} | {r[k][1]:.3f} |"  # noqa: E731
    return [
        "## Explorer: time per slider move",
        "",
        f"`sim.explorer.Explorer` on the plan, {r['moves']} moves, rtol {r['rtol']:g}, "
        f"{r.get('runs_per_move', 1)} run(s) per move (one per vantage, judged as the main job); the explorer "
        f"redraws only its lines over a kept background ({r['full_redraws']} full redraw(s) "
        f"during the moves). Load average during the measurement: {r['load']} "
        "(bench/explorer_speed.py).",
        "",
        "| per move | median (s) | max (s) |",
        "|---|---|---|",
        row("run", "model run (wall)"),
        row("redraw", "redraw figure + table (wall)"),
        row("total", "total (wall)"),
        row("cpu", "total CPU of this process"),
        "",
    ]
