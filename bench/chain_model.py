"""Generate a larger test model: a chain of coupled first-order stocks with lookups.

The chain stands in for a city model of realistic size: ``n`` stocks, each drained into
the next with its own time constant, three auxiliaries per stock, an exogenous input
read from a lookup by Time (with kinks at whole years) and a feedback loop from the
chain's total back to its input through a lookup by a variable. Constants follow fixed
formulas, so the file is identical on every run (same translation cache key).

Units: stocks in ``widget``, flows in ``widget/Year``, time in years (0 to 20).
"""
from __future__ import annotations

from pathlib import Path

FINAL_TIME = 20
TIME_STEP = 1 / 16


def _entry(lhs: str, rhs: str, units: str, doc: str = "") -> str:
    return f"{lhs} = {rhs}\n\t~\t{units}\n\t~\t{doc}\n\t|\n\n"


def _lookup(name: str, points: list[tuple[float, float]], units: str, doc: str = "") -> str:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    box = f"[({min(xs):g},{min(ys):g})-({max(xs):g},{max(ys):g})]"
    body = ",".join(f"({x:g},{y:g})" for x, y in points)
    return f"{name}(\n\t{box},{body})\n\t~\t{units}\n\t~\t{doc}\n\t|\n\n"


def chain_model_text(n_stocks: int = 60) -> str:
    """The ``.mdl`` text of a chain of ``n_stocks`` stocks (at least 2)."""
    if n_stocks < 2:
        raise ValueError(f"a chain needs at least 2 stocks, got {n_stocks}")
    parts = ["{UTF-8}\n",
             "********************************************************\n\t.Covers\n"
             "********************************************************~\n"
             f"\tGenerated benchmark model: a chain of {n_stocks} first-order stocks with a\n"
             "\tlookup by Time (input) and a lookup by a variable (feedback from the chain's total).\n"
             "\t|\n\n"]
    parts.append(_lookup("base input table", [(0, 10), (3, 10), (6, 14), (10, 12), (15, 16), (20, 16)],
                         "widget/Year", "Exogenous input by time."))
    parts.append(_lookup("feedback effect table", [(0, 1.3), (1, 1), (2, 0.8), (3, 0.7), (4, 0.65)],
                         "Dmnl", "Effect of the chain total (relative to its reference) on input."))
    parts.append(_entry("chain input", "base input table(Time) * feedback effect table("
                        "chain total / reference level)", "widget/Year"))
    parts.append(_entry("chain total", " + ".join(f"stock {i}" for i in range(1, n_stocks + 1)),
                        "widget", "Everything in the chain: closes the feedback loop."))
    parts.append(_entry("reference level", f"{10 * n_stocks}", "widget"))
    parts.append(_entry("leakage fraction", "0.02", "1/Year"))
    for i in range(1, n_stocks + 1):
        inflow = "chain input" if i == 1 else f"transfer {i - 1}"
        tau = 1 + (i * 7) % 5 * 0.5  # 1.0 .. 3.0 years
        parts.append(_entry(f"stock {i}", f"INTEG({inflow} - transfer {i} - leakage {i}, "
                            f"initial level {i})", "widget"))
        parts.append(_entry(f"initial level {i}", f"{5 + (i * 3) % 11}", "widget"))
        parts.append(_entry(f"residence time {i}", f"{tau:g}", "Year"))
        parts.append(_entry(f"transfer {i}", f"stock {i} / residence time {i}", "widget/Year"))
        parts.append(_entry(f"leakage {i}", f"stock {i} * leakage fraction", "widget/Year"))
    parts.append("********************************************************\n\t.Control\n"
                 "********************************************************~\n"
                 "\t\tSimulation Control Parameters\n\t|\n\n")
    parts.append(_entry("FINAL TIME ", f"{FINAL_TIME}", "Year"))
    parts.append(_entry("INITIAL TIME ", "0", "Year"))
    parts.append(_entry("SAVEPER ", "1", "Year"))
    parts.append(_entry("TIME STEP ", f"{TIME_STEP}", "Year"))
    parts.append("\\\\\\---/// Sketch information - do not modify anything except names\n"
                 "V300  Do not put anything below this section - it will be ignored\n"
                 "*View 1\n///---\\\\\\\n")
    return "".join(parts)


def write_chain_model(folder: str | Path, n_stocks: int = 60) -> Path:
    """Write the chain model to ``folder/chain_<n>.mdl`` and return its path."""
    path = Path(folder) / f"chain_{n_stocks}.mdl"
    path.write_text(chain_model_text(n_stocks), encoding="utf-8")
    return path
