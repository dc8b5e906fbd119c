"""The goal dashboard: scenarios (columns) × targets (rows) as a coloured table.

Each cell is a rectangle (gid ``cell:<scenario>:<target>``) coloured by the scorecard's
``passed`` (met / missed / no data, :data:`sim.report.style.STATUS_COLOURS`) and printed
with a mark (✓ or ×, so colour is never the only cue), the margin in the target's unit
and the first year the goal is met.

When the scorecard carries the published outcomes (columns of
:func:`sim.history.reality_check`), an ``Actual`` column comes first (gid
``cell:actual:<target>``: the published value coloured met / missed, or "no published
figure" / "not testable" in grey), and a scenario verdict that reality reversed gets a
dark frame and a † (gid ``reversed:<scenario>:<target>``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from sim.report.indicators import COMPARATOR_SIGNS, number, scorecard_row
from sim.report.labels import Labels, compose, default_labels, pick
from sim.report.measures import as_figure_target, finite, whole_year
from sim.report.style import (CAPTION_BAND, CAPTION_LINES, FIGSIZE, STATUS_COLOURS, add_caption, house_style, new_figure,
                    scenario_colours, scenario_name, wrap_text)

STATUS_MARKS = {True: "✓", False: "×", None: "–"}
#: Margin shown with fewer digits as it grows: (smallest |margin|, format), first match.
MARGIN_FORMATS = ((100, "+.0f"), (1, "+.1f"), (0, "+.2f"))
#: Row labels wrap at this share of the figure width.
ROW_LABEL_SHARE = 0.36
ROW_LABEL_SIZE = 14
ROW_HEIGHT_IN = 0.62
HEADER_IN = 2.2
#: Gap between the Actual column and the scenarios (in column widths).
ACTUAL_GAP = 0.15
REVERSED_EDGE = "#222222"
#: Height of the two extra note lines under the table when the Actual column is shown (inches).
NOTE_IN = 0.55


def margin_format(margin: float) -> str:
    """Format spec for a margin: ``+171``, ``+4.2``, ``+0.08``."""
    return next(fmt for floor, fmt in MARGIN_FORMATS if abs(margin) >= floor)


def _status(row) -> bool | None:
    if row is None or row.get("passed") is None or (isinstance(row.get("passed"), float)
                                                    and np.isnan(row.get("passed"))):
        return None
    return bool(row["passed"])


def _row_label(target, labels: Labels, lang: str) -> str:
    """``GDP average annual growth (2020)  ≥ 14 %/yr`` (both languages: two lines)."""
    sign = COMPARATOR_SIGNS.get(target.comparator, target.comparator)

    def one_line(one):
        name = labels.t("with_year", one, text=pick(target.name, one, default=target.id),
                        year=f"{target.year:g}")
        unit = labels.target_unit_text(target.unit, one)
        # no-break spaces keep "≥ 95 %" together when the label wraps
        line = f"{name}  " + "\u00a0".join(filter(None, [sign, number(target.threshold), unit]))
        return wrap_text(line, FIGSIZE[0] * 72 * ROW_LABEL_SHARE / ROW_LABEL_SIZE)
    return compose(lang, one_line)


def _cell_text(row, status, labels: Labels, lang: str) -> str:
    if status is None:
        return f"{STATUS_MARKS[None]} {labels.t('no_data', lang)}"
    margin = row.get("margin")
    text = STATUS_MARKS[status]
    if finite(margin):
        text += " " + number(margin, margin_format(float(margin)))
    year = row.get("year_reached")
    if finite(year):
        text += f"\n{whole_year(year)}"
    return text


def _actual_cell(row, labels: Labels, lang: str) -> tuple[bool | None, str]:
    """Status and text of the Actual cell of a target (row: any scorecard row of it)."""
    status = row.get("actual_status") if row is not None else None
    if status == "published":          # margin as in the scenario cells, then the value itself
        passed = str(row.get("actual_passed")) == "True"
        value = float(row["actual_value"])
        margin = value - float(row["threshold"]) if row["comparator"] in (">=", ">") \
            else float(row["threshold"]) - value
        return passed, (f"{STATUS_MARKS[passed]} {number(margin, margin_format(margin))}\n"
                        f"{number(value, '.3g')}")
    key = "not_testable" if status == "not testable" else "no_figure"
    return None, compose(lang, lambda one: labels.t(key, one))


def plot_dashboard(scorecard: pd.DataFrame, targets: Sequence[Mapping],
                   scenarios_meta: Mapping | None = None, *, lang: str = "zh",
                   scenario_ids: Sequence[str] | None = None,
                   colours: Mapping[str, str] | None = None, source=None,
                   labels: Labels | None = None):
    """Scenarios × targets table coloured by pass/fail. Returns the Figure.

    ``scenario_ids`` fixes the column order (default: order of first appearance in the
    scorecard). Column headers are written in each scenario's colour.
    """
    labels = labels or default_labels()
    targets = [as_figure_target(t, f"targets[{i}]") for i, t in enumerate(targets)]
    ids = list(scenario_ids or dict.fromkeys(scorecard["scenario"]))
    colours = dict(colours or scenario_colours(ids))
    with_actual = "actual_status" in scorecard.columns
    x0 = (1 + ACTUAL_GAP) if with_actual else 0.0          # first scenario column
    n_rows, n_cols = len(targets), len(ids)
    height = max(FIGSIZE[1], HEADER_IN + ROW_HEIGHT_IN * n_rows * (1.6 if lang == "both" else 1))
    cell_font = 15 if n_cols <= 6 else 12
    with house_style():
        fig, axes = new_figure(figsize=(FIGSIZE[0], height), lang=lang)
        if with_actual:   # two more lines of notes under the table: a taller caption band
            band = (CAPTION_BAND * CAPTION_LINES[lang] * FIGSIZE[1] + NOTE_IN
                    * (2 if lang == "both" else 1)) / height
            fig.get_layout_engine().set(rect=(0, band, 1, 1 - band))
        ax = axes[0, 0]
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        for i, target in enumerate(targets):
            y = n_rows - 1 - i
            if with_actual:
                first = scorecard[scorecard["target"] == target.id]
                status, text = _actual_cell(first.iloc[0] if len(first) else None, labels, lang)
                ax.add_patch(Rectangle((0, y), 1, 1, facecolor=STATUS_COLOURS[status],
                                       edgecolor="white", lw=3, gid=f"cell:actual:{target.id}"))
                ax.text(0.5, y + 0.5, text, ha="center", va="center", linespacing=1.1,
                        color="white" if status is not None else "#222222",
                        fontsize=cell_font if status is not None else cell_font - 3)
            for j, sid in enumerate(ids):
                row = scorecard_row(scorecard, sid, target.id)
                status = _status(row)
                ax.add_patch(Rectangle((x0 + j, y), 1, 1, facecolor=STATUS_COLOURS[status],
                                       edgecolor="white", lw=3, gid=f"cell:{sid}:{target.id}"))
                text = _cell_text(row, status, labels, lang)
                if row is not None and row.get("reality") == "reversed":
                    ax.add_patch(Rectangle((x0 + j + 0.04, y + 0.06), 0.92, 0.88, fill=False,
                                           edgecolor=REVERSED_EDGE, lw=3.5, zorder=3,
                                           gid=f"reversed:{sid}:{target.id}"))
                    first_line, *rest = text.split("\n")
                    text = "\n".join([f"{first_line} †", *rest])
                ax.text(x0 + j + 0.5, y + 0.5, text, ha="center",
                        va="center", color="white" if status is not None else "#222222",
                        fontsize=cell_font, linespacing=1.1)
        ax.set_xlim(0, x0 + n_cols)
        ax.set_ylim(0, n_rows)
        ax.set_yticks(np.arange(n_rows) + 0.5,
                      [_row_label(t, labels, lang) for t in reversed(targets)],
                      fontsize=ROW_LABEL_SIZE, linespacing=1.0)
        ax.xaxis.tick_top()
        head = [compose(lang, lambda one: labels.t("actual", one))] if with_actual else []
        ax.set_xticks(list(([0.5] if with_actual else [])) + list(x0 + np.arange(n_cols) + 0.5),
                      head + [scenario_name(s, scenarios_meta, lang) for s in ids], fontsize=15)
        for tick, sid in zip(ax.get_xticklabels()[len(head):], ids):
            tick.set_color(colours[sid])
        ax.tick_params(length=0)
        ax.set_title(labels.t("dashboard_title", lang, kind="title"), loc="left")
        ax.text(0, -0.02, compose(lang, lambda one: (
                f"{labels.t('dashboard_note', one)}    "
                f"{STATUS_MARKS[True]} {labels.t('reached', one)}   "
                f"{STATUS_MARKS[False]} {labels.t('missed', one)}"
                + (f"\n{labels.t('actual_note', one)}\n{labels.t('reversed_note', one)}"
                   if with_actual else ""))),
                transform=ax.transAxes, ha="left", va="top", fontsize=13, color="#444444")
        add_caption(fig, labels, lang, source, ids, scenarios_meta)
    return fig
