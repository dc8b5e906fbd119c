"""The main job (``make run``): wall time and its phases, and the PNG encoder it uses.

- :func:`bench_png`: the first figures of the set, drawn once, saved by matplotlib's own
  PNG writer (Pillow, level 6, what ``savefig`` does) and by :mod:`sim.report.png`, in this
  one process: seconds per figure, file sizes, and the ratio.
- :func:`bench_main_job`: ``python -m sim run`` in a fresh process (as ``make run`` starts
  it, minus make's own checks), into a temporary folder: wall time, CPU of all its
  processes, the time of each phase from its progress lines, the folder's size.
"""
from __future__ import annotations

import io
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRESS = re.compile(r"^\[\s*([0-9.]+) s\] (.*)$")


def bench_png(figures: int = 8, repeats: int = 2) -> dict:
    """Seconds per figure and bytes per figure: matplotlib's PNG writer against ours."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.report.figure_set import figure_tasks
    from sim.report.png import save_png
    from sim.report.style import DPI, house_style

    from sim.defaults import ENGINE_DEFAULTS
    from sim.engine.integrate import simulate
    from sim.policy.study import read_study
    from sim.run import judge_from_vantages

    study = read_study()
    runs, _, _, sset, card = judge_from_vantages(study, study.select(None), simulate, dict(ENGINE_DEFAULTS))
    results = runs[max(v for v in runs if v is not None)] if any(v is not None for v in runs) else runs[None]
    meta = sset.meta()
    tasks = figure_tasks(Path("unused"), results, card, study.targets, meta, lang="zh")[:figures]
    drawers = [t.args[2] for t in tasks]        # (stem, lang, draw, ...): the drawing closures
    times = {"matplotlib": 0.0, "sim.report.png": 0.0}
    sizes = {"matplotlib": 0, "sim.report.png": 0}
    with tempfile.TemporaryDirectory(prefix="bench-png-") as tmp, house_style():
        for draw in drawers:
            fig = draw("zh")
            fig.savefig(io.BytesIO(), format="png", dpi=DPI)      # lay out once, as save() does
            fig.set_layout_engine("none")
            for _ in range(repeats):
                buf = io.BytesIO()
                t0 = time.perf_counter()
                fig.savefig(buf, format="png", dpi=DPI)
                times["matplotlib"] += time.perf_counter() - t0
                sizes["matplotlib"] += len(buf.getvalue())
                path = Path(tmp) / "f.png"
                t0 = time.perf_counter()
                save_png(fig, path, DPI)
                times["sim.report.png"] += time.perf_counter() - t0
                sizes["sim.report.png"] += path.stat().st_size
            plt.close(fig)
    n = len(drawers) * repeats
    return {"figures": len(drawers), "repeats": repeats,
            "seconds": {k: v / n for k, v in times.items()},
            "bytes": {k: v / n for k, v in sizes.items()},
            "load": " / ".join(f"{x:.2f}" for x in os.getloadavg())}


def bench_main_job() -> dict:
    """``python -m sim run`` once, in a fresh process, into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        out = Path(tmp) / "run"
        load_before = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "sim", "run", "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        files = sum(1 for p in (out / "figures").rglob("*") if p.is_file())
    lines = [m.groups() for m in map(PROGRESS.match, proc.stderr.splitlines()) if m]
    at = lambda what: max((float(t) for t, text in lines if text.startswith(what)), default=float("nan"))  # noqa: E731
    return {"wall": wall, "user": after.ru_utime - before.ru_utime, "system": after.ru_stime - before.ru_stime,
            "scenarios_done": at("scenario"), "data_done": at("wrote"), "figures_done": at("figures"),
            "documents_done": at("brief and slides"), "inside": at("done"),
            "megabytes": size / 1e6, "figure_files": files,
            "load": " / ".join(f"{x:.2f}" for x in load_before) + " → "
                    + " / ".join(f"{x:.2f}" for x in os.getloadavg())}


def main_job_lines(job: dict, png: dict | None = None) -> list[str]:
    """The results as Markdown lines for docs/benchmarks.md."""
    lines = [
        "## Main job: `make run` (issue 14)",
        "",
        f"`python -m sim run` in a fresh process (bench/main_job.py): **{job['wall']:.1f} s wall**, "
        f"{job['user'] + job['system']:.1f} CPU-seconds in all its processes ({job['user']:.1f} user + "
        f"{job['system']:.1f} system) on this 2-core machine; load average before → after: {job['load']}. "
        "The aim of issue 14 is ≤ 40 s.",
        "",
        "| phase (progress lines) | done at (s, inside the run) |",
        "|---|---|",
        f"| six scenarios, seen from two vantages | {job['scenarios_done']:.1f} |",
        f"| time series, scorecard, `results.xlsx` | {job['data_done']:.1f} |",
        f"| brief (zh, en; HTML + PDF) and slides, in the same pool as the figures | {job['documents_done']:.1f} |",
        f"| {job['figure_files']} figure files (PNG + SVG, zh and en) | {job['figures_done']:.1f} |",
        f"| done | {job['inside']:.1f} |",
        "",
        f"The folder holds {job['megabytes']:.0f} MB.",
        "",
    ]
    if png:
        s, b = png["seconds"], png["bytes"]
        lines += [
            f"PNG encoding, same process, {png['figures']} figures of the set × {png['repeats']} "
            f"(render + encode at 300 dpi, 4000 × 2250 px): matplotlib's writer "
            f"{s['matplotlib']:.3f} s and {b['matplotlib'] / 1e3:.0f} kB per figure, `sim.report.png` "
            f"{s['sim.report.png']:.3f} s and {b['sim.report.png'] / 1e3:.0f} kB: "
            f"**{s['matplotlib'] / s['sim.report.png']:.1f}×** faster (load {png['load']}).",
            "",
        ]
    return lines
