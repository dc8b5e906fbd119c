"""The goal dashboard: scenarios (columns) × targets (rows) as a coloured table.

Each cell is a rectangle (gid ``cell:<scenario>:<target>``) coloured by the scorecard's
``passed`` (met / missed / no data, :data:`sim.report.style.STATUS_COLOURS`) and printed
with a mark (✓ or ×, so colour is never the only cue), the margin in the target's unit
and the first year the goal is met.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from sim.report.indicators import COMPARATOR_SIGNS, number, scorecard_row
from sim.report.labels import Labels, compose, default_labels, pick
from sim.report.measures import as_figure_target, finite, whole_year
from sim.report.style import (FIGSIZE, STATUS_COLOURS, add_caption, house_style, new_figure,
                    scenario_colours, scenario_name, wrap_text)

STATUS_MARKS = {True: "✓", False: "×", None: "–"}
#: Margin shown with fewer digits as it grows: (smallest |margin|, format), first match.
MARGIN_FORMATS = ((100, "+.0f"), (1, "+.1f"), (0, "+.2f"))
#: Row labels wrap at this share of the figure width.
ROW_LABEL_SHARE = 0.36
ROW_LABEL_SIZE = 14
ROW_HEIGHT_IN = 0.62
HEADER_IN = 2.2


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
    n_rows, n_cols = len(targets), len(ids)
    height = max(FIGSIZE[1], HEADER_IN + ROW_HEIGHT_IN * n_rows * (1.6 if lang == "both" else 1))
    cell_font = 15 if n_cols <= 6 else 12
    with house_style():
        fig, axes = new_figure(figsize=(FIGSIZE[0], height), lang=lang)
        ax = axes[0, 0]
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        for i, target in enumerate(targets):
            y = n_rows - 1 - i
            for j, sid in enumerate(ids):
                row = scorecard_row(scorecard, sid, target.id)
                status = _status(row)
                ax.add_patch(Rectangle((j, y), 1, 1, facecolor=STATUS_COLOURS[status],
                                       edgecolor="white", lw=3, gid=f"cell:{sid}:{target.id}"))
                ax.text(j + 0.5, y + 0.5, _cell_text(row, status, labels, lang), ha="center",
                        va="center", color="white" if status is not None else "#222222",
                        fontsize=cell_font, linespacing=1.1)
        ax.set_xlim(0, n_cols)
        ax.set_ylim(0, n_rows)
        ax.set_yticks(np.arange(n_rows) + 0.5,
                      [_row_label(t, labels, lang) for t in reversed(targets)],
                      fontsize=ROW_LABEL_SIZE, linespacing=1.0)
        ax.xaxis.tick_top()
        ax.set_xticks(np.arange(n_cols) + 0.5,
                      [scenario_name(s, scenarios_meta, lang) for s in ids], fontsize=15)
        for tick, sid in zip(ax.get_xticklabels(), ids):
            tick.set_color(colours[sid])
        ax.tick_params(length=0)
        ax.set_title(labels.t("dashboard_title", lang, kind="title"), loc="left")
        ax.text(0, -0.02, compose(lang, lambda one: (
                f"{labels.t('dashboard_note', one)}    "
                f"{STATUS_MARKS[True]} {labels.t('reached', one)}   "
                f"{STATUS_MARKS[False]} {labels.t('missed', one)}")),
                transform=ax.transAxes, ha="left", va="top", fontsize=13, color="#444444")
        add_caption(fig, labels, lang, source, ids, scenarios_meta)
    return fig
