"""The goal dashboard: scenarios (columns) × targets (rows) as a coloured table, one 16:9
slide per horizon.

Each cell is a rectangle (gid ``cell:<scenario>:<target>``) coloured by the scorecard's
``passed`` (met / missed / no data, :data:`sim.report.style.STATUS_COLOURS`) and printed
with a mark (✓ or ×, so colour is never the only cue), the margin in the target's unit
and, for a goal met, the first year it is met (floored: a crossing in 2025.05 is 2025).
A missed goal shows no year. The last row (gid ``goals_met:<scenario>``) counts the goals
met. Thresholds that read badly as numbers ("> 0") are given in words
(``goals:`` in ``sim/report/labels.yaml``).

When the scorecard carries the published outcomes (columns of
:func:`sim.history.reality_check`), an ``Actual`` column comes first (gid
``cell:actual:<target>``: the published value coloured met / missed, or "no published
figure" / "not testable" in grey; its goals-met cell counts met / published), and a
scenario verdict that reality reversed gets a dark frame and a † (gid
``reversed:<scenario>:<target>``).

:func:`plot_dashboards` draws one figure per horizon (the figure set writes
``dashboard_2020`` and ``dashboard_2030``); :func:`plot_dashboard` draws one, for one
horizon or for every target given.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from sim.report.indicators import number, scorecard_row
from sim.report.labels import Labels, compose, default_labels, pick
from sim.report.measures import FigureTarget, as_figure_target, finite, whole_year
from sim.report.style import (CAPTION_BAND, CAPTION_LINES, FIGSIZE, STATUS_COLOURS, add_caption,
                              house_style, new_figure,
                              scenario_colours, scenario_name, wrap_text)
from sim.report.thresholds import goal_text

STATUS_MARKS = {True: "✓", False: "×", None: "–"}
#: Margin shown with fewer digits as it grows: (smallest |margin|, format), first match.
MARGIN_FORMATS = ((100, "+.0f"), (1, "+.1f"), (0, "+.2f"))
#: Shares of the figure width: target names (row labels), the goal column; cells get the rest.
NAME_SHARE = 0.29
GOAL_SHARE = 0.16
#: Largest type sizes (pt); smaller when many rows share the slide's height.
ROW_LABEL_SIZE = 15
CELL_SIZE = 15
#: Height (in) of the slide that the rows share: the rest holds title, header, note, caption.
TABLE_HEIGHT_IN = {"zh": 5.6, "en": 5.6, "both": 5.2}
#: Line height as a multiple of the type size.
LEADING = 1.18
SUMMARY_COLOUR = "#E8EEF4"
#: Gap between the Actual column and the scenarios (in column widths).
ACTUAL_GAP = 0.15
REVERSED_EDGE = "#222222"
#: Height of the two extra note lines under the table when the Actual column is shown (inches).
NOTE_IN = 0.32


def margin_format(margin: float) -> str:
    """Format spec for a margin: ``+171``, ``+4.2``, ``+0.08``."""
    return next(fmt for floor, fmt in MARGIN_FORMATS if abs(margin) >= floor)


def _status(row) -> bool | None:
    if row is None or row.get("passed") is None or (isinstance(row.get("passed"), float)
                                                    and np.isnan(row.get("passed"))):
        return None
    return bool(row["passed"])


def _row_label(target: FigureTarget, labels: Labels, lang: str, with_year: bool,
               size: float) -> str:
    """``GDP average annual growth`` (both languages: Chinese, then English), wrapped."""
    def one_line(one):
        name = pick(target.name, one, default=target.id)
        if with_year:
            name = labels.t("with_year", one, text=name, year=f"{target.year:g}")
        return wrap_text(name, FIGSIZE[0] * 72 * NAME_SHARE / size - 1)
    return compose(lang, one_line)


def _goal_label(target: FigureTarget, labels: Labels, lang: str, size: float) -> str:
    """The goal column's text (``≥ 14 %/yr``; words where a number says little), wrapped."""
    return compose(lang, lambda one: wrap_text(goal_text(target, one, nbsp=True, labels=labels),
                                               FIGSIZE[0] * 72 * GOAL_SHARE / size - 1.5))


def _cell_text(row, status, target: FigureTarget, labels: Labels, lang: str) -> str:
    """Mark and margin; for a met goal, the first year met (``met by 2015`` when it was
    met at or before the start of the goal's window). One language only: cells are small."""
    one = "zh" if lang == "both" else lang
    if status is None:
        return f"{STATUS_MARKS[None]} {labels.t('no_data', one)}"
    margin = row.get("margin")
    text = STATUS_MARKS[status]
    if finite(margin):
        text += " " + number(margin, margin_format(float(margin)))
    year = row.get("year_reached")
    if status and finite(year):
        first = int(whole_year(year))
        text += "\n" + (labels.t("met_by", one, year=f"{target.start:g}")
                        if first <= target.start else labels.t("first_met", one, year=first))
    return text


def _actual_cell(row, labels: Labels, lang: str) -> tuple[bool | None, str]:
    """Status and text of the Actual cell of a target (row: any scorecard row of it)."""
    one = "zh" if lang == "both" else lang
    status = row.get("actual_status") if row is not None else None
    if status == "published":          # margin as in the scenario cells, then the value itself
        passed = str(row.get("actual_passed")) == "True"
        value = float(row["actual_value"])
        margin = value - float(row["threshold"]) if row["comparator"] in (">=", ">") \
            else float(row["threshold"]) - value
        return passed, (f"{STATUS_MARKS[passed]} {number(margin, margin_format(margin))}\n"
                        f"{number(value, '.3g')}")
    key = "not_testable" if status == "not testable" else "no_figure"
    return None, labels.t(key, one)


def _lines(text: str) -> int:
    return text.count("\n") + 1


def plot_dashboard(scorecard: pd.DataFrame, targets: Sequence[Mapping],
                   scenarios_meta: Mapping | None = None, *, lang: str = "zh",
                   scenario_ids: Sequence[str] | None = None,
                   colours: Mapping[str, str] | None = None, source=None,
                   labels: Labels | None = None, horizon: float | None = None):
    """Scenarios × targets table coloured by pass/fail, on one 16:9 slide. Returns the Figure.

    ``horizon``: draw only the targets of that year (title "The 2020 goals…"); default:
    every target given. ``scenario_ids`` fixes the column order (default: order of first
    appearance in the scorecard). Column headers are written in each scenario's colour.
    Type sizes shrink with the number of rows so the table always fits the slide; draw one
    horizon per slide (:func:`plot_dashboards`) to keep them large.
    """
    labels = labels or default_labels()
    targets = [as_figure_target(t, f"targets[{i}]") for i, t in enumerate(targets)]
    if horizon is not None:
        targets = [t for t in targets if float(t.year) == float(horizon)]
        if not targets:
            raise ValueError(f"dashboard: no target has horizon year {horizon:g}")
    one_horizon = len({t.year for t in targets}) == 1
    ids = list(scenario_ids or dict.fromkeys(scorecard["scenario"]))
    colours = dict(colours or scenario_colours(ids))
    # the Actual column, when some goal on this slide can be checked against published data
    with_actual = "actual_status" in scorecard.columns and bool(
        (scorecard[scorecard["target"].isin([t.id for t in targets])]["actual_status"]
         .fillna("not testable") != "not testable").any())
    x0 = (1 + ACTUAL_GAP) if with_actual else 0.0          # first scenario column
    n_rows, n_cols = len(targets) + 1, len(ids)       # + the goals-met row
    note_in = NOTE_IN * (2 if lang == "both" else 1) if with_actual else 0.0

    # type sizes that fit: the fullest row (label or cell) must fit its row height
    row_pt = (TABLE_HEIGHT_IN[lang] - note_in) * 72 / n_rows
    label_size = ROW_LABEL_SIZE + 0.5
    fits = False
    while not fits and label_size > 9:
        label_size -= 0.5
        labels_text = [_row_label(t, labels, lang, not one_horizon, label_size) for t in targets]
        goals_text = [_goal_label(t, labels, lang, label_size) for t in targets]
        fits = max(map(_lines, labels_text + goals_text)) * label_size * LEADING <= row_pt * 0.95
    cells = {(t.id, sid): (row := scorecard_row(scorecard, sid, t.id),
                           _status(row), t) for t in targets for sid in ids}
    texts = {k: _cell_text(row, st, t, labels, lang) for k, (row, st, t) in cells.items()}
    max_cell_lines = max(map(_lines, texts.values()), default=1)
    cells_share = 1 - NAME_SHARE - GOAL_SHARE - 0.03
    cell_width_pt = FIGSIZE[0] * 72 * cells_share / (n_cols + x0)
    cell_size = min(CELL_SIZE, row_pt * 0.9 / (max_cell_lines * LEADING),
                    cell_width_pt / 6.3)
    goal_w = (n_cols + x0) * GOAL_SHARE / cells_share    # goal column width, in cell widths

    with house_style():
        fig, axes = new_figure(lang=lang)
        if with_actual:   # the extra note lines under the table: a taller caption band
            band = (CAPTION_BAND * CAPTION_LINES[lang] * FIGSIZE[1] + note_in) / FIGSIZE[1]
            fig.get_layout_engine().set(rect=(0, band, 1, 1 - band))
        ax = axes[0, 0]
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        met = {sid: 0 for sid in ids}
        actual_met = actual_published = 0
        for i, target in enumerate(targets):
            y = n_rows - 1 - i
            ax.text(-goal_w + 0.06, y + 0.5, goals_text[i], ha="left", va="center",
                    fontsize=label_size, color="#333333", linespacing=1.0, gid=f"goal:{target.id}")
            if with_actual:
                first = scorecard[scorecard["target"] == target.id]
                status, text = _actual_cell(first.iloc[0] if len(first) else None, labels, lang)
                actual_met += status is True
                actual_published += status is not None
                ax.add_patch(Rectangle((0, y), 1, 1, facecolor=STATUS_COLOURS[status],
                                       edgecolor="white", lw=3, gid=f"cell:actual:{target.id}"))
                ax.text(0.5, y + 0.5, text, ha="center", va="center", linespacing=1.05,
                        color="white" if status is not None else "#222222",
                        fontsize=cell_size if status is not None else cell_size - 2)
            for j, sid in enumerate(ids):
                row, status, _ = cells[(target.id, sid)]
                met[sid] += status is True
                ax.add_patch(Rectangle((x0 + j, y), 1, 1, facecolor=STATUS_COLOURS[status],
                                       edgecolor="white", lw=3, gid=f"cell:{sid}:{target.id}"))
                text = texts[(target.id, sid)]
                if row is not None and row.get("reality") == "reversed":
                    ax.add_patch(Rectangle((x0 + j + 0.04, y + 0.06), 0.92, 0.88, fill=False,
                                           edgecolor=REVERSED_EDGE, lw=3.5, zorder=3,
                                           gid=f"reversed:{sid}:{target.id}"))
                    first_line, *rest = text.split("\n")
                    text = "\n".join([f"{first_line} †", *rest])
                ax.text(x0 + j + 0.5, y + 0.5, text, ha="center", va="center",
                        color="white" if status is not None else "#222222",
                        fontsize=cell_size, linespacing=1.05)
        summary = [(x0 + j, f"goals_met:{sid}", f"{met[sid]} / {len(targets)}")
                   for j, sid in enumerate(ids)]
        if with_actual:
            summary.insert(0, (0, "goals_met:actual", f"{actual_met} / {actual_published}"))
        for x, gid, text in summary:
            ax.add_patch(Rectangle((x, 0), 1, 1, facecolor=SUMMARY_COLOUR, edgecolor="white",
                                   lw=3, gid=gid))
            ax.text(x + 0.5, 0.5, text, ha="center", va="center",
                    color="#222222", fontsize=min(CELL_SIZE + 2, row_pt * 0.7))
        ax.set_xlim(-goal_w, x0 + n_cols)
        ax.set_ylim(0, n_rows)
        ax.set_yticks(np.arange(n_rows) + 0.5,
                      [compose(lang, lambda one: labels.t("goals_met", one), sep="\n"),
                       *reversed(labels_text)],
                      fontsize=label_size, linespacing=1.0)
        ax.xaxis.tick_top()
        head_size = 15 if lang != "both" else 13
        head = [labels.t("goal", lang, kind="title")]
        if with_actual:
            head.append(compose(lang, lambda one: labels.t("actual", one)))
        ax.set_xticks([-goal_w / 2, *([0.5] if with_actual else []), *(x0 + np.arange(n_cols) + 0.5)],
                      [*head, *(compose(lang, lambda one, s=s: wrap_text(
                          scenario_name(s, scenarios_meta, one), cell_width_pt / head_size - 0.5))
                                for s in ids)],
                      fontsize=head_size, linespacing=1.0)
        for tick, colour in zip(ax.get_xticklabels(),
                                ["#333333"] * len(head) + [colours[s] for s in ids]):
            tick.set_color(colour)
        ax.tick_params(length=0)
        if one_horizon:
            title = compose(lang, lambda one: labels.t("dashboard_horizon_title", one,
                                                         year=f"{targets[0].year:g}"), sep="\n")
        else:
            title = labels.t("dashboard_title", lang, kind="title")
        fig.suptitle(title, x=0.01, ha="left", fontsize=22 if lang != "both" else 17)
        ax.text(0, -0.015, compose(lang, lambda one: (
                f"{labels.t('dashboard_note', one)}    "
                f"{STATUS_MARKS[True]} {labels.t('reached', one)}   "
                f"{STATUS_MARKS[False]} {labels.t('missed', one)}"
                + (f"\n{labels.t('actual_note', one)}\n{labels.t('reversed_note', one)}"
                   if with_actual else ""))),
                transform=ax.transAxes, ha="left", va="top", fontsize=12, color="#444444")
        add_caption(fig, labels, lang, source, ids, scenarios_meta)
    return fig


def plot_dashboards(scorecard: pd.DataFrame, targets: Sequence[Mapping],
                    scenarios_meta: Mapping | None = None, **kw) -> dict[float, object]:
    """One dashboard per horizon year: ``{year: Figure}`` (keywords as :func:`plot_dashboard`)."""
    targets = [as_figure_target(t, f"targets[{i}]") for i, t in enumerate(targets)]
    years = sorted({float(t.year) for t in targets})
    return {y: plot_dashboard(scorecard, targets, scenarios_meta, horizon=y, **kw) for y in years}


def horizon_stem(stem: str, year: float) -> str:
    """``dashboard`` → ``dashboard_2020``: a figure's file stem for one horizon."""
    return f"{stem}_{year:g}" if math.isfinite(year) else stem
