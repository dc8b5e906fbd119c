"""The scorecard as text: terminal tables, the goal matrix and Markdown.

The scorecard itself (one row per scenario × target) is computed by
:func:`sim.policy.targets.scorecard`; this module only renders it.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.report.tables import format_cell, markdown_table


def number(x) -> str:
    """A scorecard cell (:func:`~sim.report.tables.format_cell`): 1 decimal from 1000 up,
    else 4 significant digits."""
    big = isinstance(x, (float, np.floating)) and math.isfinite(x) and abs(x) >= 1000
    return format_cell(x, 4, ".1f" if big else None)


def to_text_rows(card: pd.DataFrame, columns: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    columns = columns or ["scenario", "target", "value", "comparator", "threshold", "unit",
                          "passed", "margin", "year_reached", "basis"]
    return columns, [[number(v) for v in row] for row in card[columns].itertuples(index=False)]


def format_table(card: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The scorecard as a fixed-width text table for the terminal."""
    header, rows = to_text_rows(card, columns)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def goal_matrix(card: pd.DataFrame) -> pd.DataFrame:
    """Targets × scenarios: each cell ``"✓ 61.2"`` (met) or ``"✗ 48.9"`` (missed), with the
    measured value; rows keep the targets file's order, columns the scenarios' order."""
    cell = card.apply(lambda r: ("✓ " if r["passed"] else "✗ ") + number(r["value"]), axis=1)
    table = card.assign(cell=cell).pivot(index="target", columns="scenario", values="cell")
    table = table.loc[list(dict.fromkeys(card["target"])), list(dict.fromkeys(card["scenario"]))]
    units = card.drop_duplicates("target").set_index("target")
    table.insert(0, "goal", [f"{units.at[t, 'comparator']} {number(units.at[t, 'threshold'])} {units.at[t, 'unit']}"
                             for t in table.index])
    table.columns.name = None
    return table


def format_matrix(card: pd.DataFrame) -> str:
    """:func:`goal_matrix` as fixed-width text for the terminal, with a count of goals
    met per scenario on the last line."""
    table = goal_matrix(card)
    met = card.groupby("scenario", sort=False)["passed"].sum()
    total = card.groupby("scenario", sort=False)["passed"].size()
    footer = {"goal": "goals met"} | {sc: f"{int(met[sc])}/{int(total[sc])}" for sc in table.columns[1:]}
    rows = [[str(i)] + [str(v) for v in r] for i, r in zip(table.index, table.itertuples(index=False))]
    rows.append(["", *[footer[c] for c in table.columns]])
    header = ["target", *table.columns]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def to_markdown(card: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The scorecard as a Markdown table (cells as in :func:`to_text_rows`)."""
    header, rows = to_text_rows(card, columns)
    return markdown_table(pd.DataFrame(rows, columns=header))
