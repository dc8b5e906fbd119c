"""The scorecard as text: terminal tables, the goal matrix and Markdown.

The scorecard itself (one row per scenario × target) is computed by
:func:`sim.policy.targets.scorecard`; this module only renders it. Goals and units are
printed in words (:mod:`sim.report.thresholds`: ``>= 14 %/yr``, ``>= 1.29x``, ``not
growing``), never as model units (``Dmnl``, ``CNY100M/Year``); English, and plain ASCII in
the fixed-width terminal tables.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.report.tables import format_cell, markdown_table
from sim.report.thresholds import threshold_words, unit_words


def number(x) -> str:
    """A scorecard cell (:func:`~sim.report.tables.format_cell`): 1 decimal from 1000 up,
    else 4 significant digits."""
    big = isinstance(x, (float, np.floating)) and math.isfinite(x) and abs(x) >= 1000
    return format_cell(x, 4, ".1f" if big else None)


#: Columns of the scorecard as text: ``goal`` is the threshold in words, ``unit`` in words.
TEXT_COLUMNS = ["scenario", "target", "value", "goal", "unit", "passed", "margin", "year_reached",
                "basis"]


def in_words(card: pd.DataFrame, plain: bool = False) -> pd.DataFrame:
    """``card`` with a ``goal`` column (the threshold in English words,
    :func:`~sim.report.thresholds.threshold_words`; ASCII with ``plain``) and its ``unit``
    in words (``%/yr``, ``CNY 100 M/yr``; empty for a pure ratio)."""
    goal = [threshold_words(row, "en", plain=plain) for _, row in card.iterrows()]
    return card.assign(goal=goal, unit=[unit_words(u, "en") for u in card["unit"]])


def to_text_rows(card: pd.DataFrame, columns: list[str] | None = None,
                 plain: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and text cells of ``columns`` (default :data:`TEXT_COLUMNS`), goal and unit
    in words (:func:`in_words`)."""
    columns = columns or TEXT_COLUMNS
    card = in_words(card, plain)
    return columns, [[number(v) for v in row] for row in card[columns].itertuples(index=False)]


def format_table(card: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The scorecard as a fixed-width text table for the terminal (ASCII goal words)."""
    header, rows = to_text_rows(card, columns, plain=True)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


#: Mark of a scenario's verdict that the published outcome reversed (see :mod:`sim.history`).
REVERSED_MARK = "†"


def _actual_cell(row) -> str:
    """The matrix cell of the published outcome: ``"✗ 957.1"``, or its status."""
    status = row.get("actual_status")
    if status == "published":
        return ("✓ " if str(row.get("actual_passed")) == "True" else "✗ ") + number(row["actual_value"])
    return {"not testable": "not testable"}.get(status, "no figure")


def goal_matrix(card: pd.DataFrame) -> pd.DataFrame:
    """Targets × scenarios, after a ``goal`` column (the threshold in plain English words:
    ``>= 14 %/yr``, ``> 1000 CNY 100 M/yr``, ``not growing``); each cell ``"✓ 61.2"``
    (met) or ``"✗ 48.9"`` (missed), with the measured value; rows keep the targets file's
    order, columns the scenarios' order.
    When the card carries the published outcomes (``actual_status``, ``reality``: see
    :func:`sim.history.reality_check`), an ``actual`` column follows ``goal`` and verdicts
    that reality reversed carry :data:`REVERSED_MARK`."""
    reversed_ = card["reality"] == "reversed" if "reality" in card.columns else False
    cell = card.apply(lambda r: ("✓ " if r["passed"] else "✗ ") + number(r["value"]), axis=1)
    cell = cell + np.where(reversed_, " " + REVERSED_MARK, "")
    table = card.assign(cell=cell).pivot(index="target", columns="scenario", values="cell")
    table = table.loc[list(dict.fromkeys(card["target"])), list(dict.fromkeys(card["scenario"]))]
    units = card.drop_duplicates("target").set_index("target")
    if "actual_status" in card.columns:
        table.insert(0, "actual", [_actual_cell(units.loc[t]) for t in table.index])
    table.insert(0, "goal", [threshold_words(units.loc[t], "en", plain=True) for t in table.index])
    table.columns.name = None
    return table


def format_matrix(card: pd.DataFrame) -> str:
    """:func:`goal_matrix` as fixed-width text for the terminal, with a count of goals
    met per scenario on the last line (and, with published outcomes, of the verdicts
    reality confirmed and reversed)."""
    table = goal_matrix(card)
    met = card.groupby("scenario", sort=False)["passed"].sum()
    total = card.groupby("scenario", sort=False)["passed"].size()
    scenarios = list(dict.fromkeys(card["scenario"]))
    footers = [{"goal": "goals met"} | {sc: f"{int(met[sc])}/{int(total[sc])}" for sc in scenarios}]
    if "reality" in card.columns:
        def count(what):
            return card.assign(x=card["reality"] == what).groupby("scenario", sort=False)["x"].sum()
        conf, rev = count("confirmed"), count("reversed")
        footers.append({"goal": "reality confirmed"} | {sc: str(int(conf[sc])) for sc in scenarios})
        footers.append({"goal": f"reality reversed {REVERSED_MARK}"} | {sc: str(int(rev[sc])) for sc in scenarios})
    rows = [[str(i)] + [str(v) for v in r] for i, r in zip(table.index, table.itertuples(index=False))]
    rows += [["", *[f.get(c, "") for c in table.columns]] for f in footers]
    header = ["target", *table.columns]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def to_markdown(card: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The scorecard as a Markdown table (cells as in :func:`to_text_rows`)."""
    header, rows = to_text_rows(card, columns)
    return markdown_table(pd.DataFrame(rows, columns=header))


MARKDOWN_COLUMNS = [*TEXT_COLUMNS, "actual_value", "reality"]


def scorecard_markdown(card: pd.DataFrame, actual: pd.DataFrame) -> str:
    """``scorecard.md``: the scorecard table (with the published outcome and whether it
    confirmed or reversed each verdict), then the published outcomes
    (:func:`sim.history.actual_outcomes`) with their sources or why there is none."""
    outcomes = pd.DataFrame({
        "target": actual["target"], "observed series": actual["series"].replace("", "—"),
        "actual": actual["value"].astype(float),
        "met": actual["passed"].map({True: "yes", False: "no"}).fillna(""),
        "status": actual["status"],
        "source / reason": [r.source if r.status == "published" else r.reason
                            for r in actual.itertuples(index=False)]})
    present = set(in_words(card.head(0)).columns)
    return (to_markdown(card, [c for c in MARKDOWN_COLUMNS if c in present])
            + "\n## Published outcomes (actual)\n\n" + markdown_table(outcomes))
