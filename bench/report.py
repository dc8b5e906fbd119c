"""Describe the machine and format benchmark rows as a text table and as Markdown."""
from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from importlib.metadata import version


def _cpuinfo_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_description() -> dict[str, str]:
    """CPU, cores, memory, OS and the versions of the numerical stack."""
    out = {
        "date (UTC)": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "CPU": _cpuinfo_model(),
        "logical cores": str(os.cpu_count()),
        "cores usable by this process": str(len(os.sched_getaffinity(0)))
        if hasattr(os, "sched_getaffinity") else "unknown",
        "memory": _memory_gib(),
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
    }
    for pkg in ("numpy", "scipy", "pandas", "xarray", "pysd"):
        out[pkg] = version(pkg)
    out["load average at start (1/5/15 min)"] = load_average()
    return out


# columns: (header, key in row dict, format)
COLUMNS = [
    ("model", "model", "{}"),
    ("stocks", "stocks", "{}"),
    ("states", "states", "{}"),
    ("rtol", "rtol", "{:.0e}"),
    ("engine gap", "engine_gap", "{:.1e}"),
    ("engine s", "engine_wall", "{:.3f}"),
    ("RHS evals", "nfev", "{}"),
    ("us/eval", "us_per_eval", "{:.0f}"),
    ("Euler dt", "euler_dt", "{}"),
    ("Euler steps", "euler_steps", "{}"),
    ("Euler gap", "euler_gap", "{:.1e}"),
    ("PySD s", "pysd_wall", "{}"),
    ("ratio", "ratio", "{}"),
    ("CPU ratio", "cpu_ratio", "{}"),
]


def format_cells(row: dict) -> list[str]:
    cells = []
    for _, key, fmt in COLUMNS:
        value = row[key]
        cells.append(value if isinstance(value, str) else fmt.format(value))
    return cells


def text_table(rows: list[dict]) -> str:
    headers = [h for h, _, _ in COLUMNS]
    body = [format_cells(r) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
