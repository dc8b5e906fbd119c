"""Tornado figure of policy contributions: per goal, the levers' Shapley values as bars.

Reads the tables of :func:`sim.analysis.contributions.contributions` (it never runs the
model). One panel per goal; bars sorted by size, the largest ``top`` levers named and the
rest summed in one bar; green bars move the measure towards the goal, vermillion away
from it (the mark ▲/▼ repeats it, so colour is never the only cue).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from sim.report.indicators import number
from sim.report.labels import Labels, compose, default_labels, pick
from sim.report.tables import markdown_table
from sim.report.style import (FIGSIZE, OKABE_ITO, add_caption, house_style, new_figure, save,
                              wrap_text)

HELPS, HURTS = OKABE_ITO["bluish_green"], OKABE_ITO["vermillion"]
OTHER = "#BBBBBB"
MAX_PANELS = 6
BAR_LABEL_SIZE = 12
TICK_SIZE = 12


def _towards(comparator: str) -> int:
    """+1 when a larger measure helps the goal (≥, >), −1 otherwise."""
    return 1 if comparator in (">=", ">") else -1


def _unit(unit: str, labels: Labels, lang: str) -> str:
    return labels.target_unit_text(unit, lang)


def default_goals(goals: pd.DataFrame, limit: int = MAX_PANELS) -> list[str]:
    """The goals the scenario misses (first horizon first), at most ``limit``."""
    missed = goals[~goals.passed.astype(bool)]
    return list(missed.target)[:limit] if not missed.empty else list(goals.target)[:limit]


def tornado_figure(by_lever: pd.DataFrame, goals: pd.DataFrame, *, scenario: str, parent: str,
                   scenarios_meta: dict | None = None, targets: Sequence[str] | None = None, top: int = 5,
                   lang: str = "zh", labels: Labels | None = None, source=None):
    """The figure (matplotlib) for ``targets`` (default: :func:`default_goals`).

    ``by_lever`` and ``goals``: the tables of :class:`sim.analysis.contributions.Contributions`;
    ``scenarios_meta``: ``{id: {"name": {zh, en}}}`` for the title and caption."""
    meta = scenarios_meta or {}
    scenario_name = (meta.get(scenario) or {}).get("name") or scenario
    parent_name = (meta.get(parent) or {}).get("name") or parent
    labels = labels or default_labels()
    targets = list(targets) if targets is not None else default_goals(goals)
    n = len(targets)
    ncols = 2 if n > 1 else 1
    nrows = math.ceil(n / ncols)
    goal_of = goals.set_index("target")
    with house_style():
        fig, axes = new_figure(nrows, ncols, lang=lang)
        for k, tid in enumerate(targets):
            ax = axes[k // ncols][k % ncols]
            g = goal_of.loc[tid]
            rows = by_lever[by_lever.target == tid]
            rows = rows.reindex(rows.shapley.abs().sort_values(ascending=False).index)
            shown, rest = rows.head(top), rows.iloc[top:]
            names = [labels.name(lv, lang, kind="title" if lang == "both" else "inline") for lv in shown.lever]
            values = list(shown.shapley)
            colours = [HELPS if v * _towards(g.comparator) > 0 else HURTS for v in values]
            if len(rest):
                names.append(compose(lang, lambda one: labels.t("contributions_other", one, n=len(rest)),
                                     sep="\n"))
                values.append(float(rest.shapley.sum()))
                colours.append(OTHER)
            y = np.arange(len(values))[::-1]
            ax.barh(y, values, color=colours, height=0.7, gid=f"bars:{tid}")
            ax.axvline(0, color="#444444", lw=1.2)
            ax.set_yticks(y, names, fontsize=TICK_SIZE)
            ax.tick_params(axis="x", labelsize=TICK_SIZE)
            ax.grid(axis="y", visible=False)
            span = max(abs(v) for v in values) or 1.0
            ax.set_xlim(min(0.0, min(values)) - 0.8 * span, max(0.0, max(values)) + 0.6 * span)
            for yi, v, c in zip(y, values, colours):
                mark = "" if c == OTHER else ("▲ " if c == HELPS else "▼ ")
                ax.text(v, yi, f" {mark}{number(v, '+.2g')} " if v >= 0 else f" {number(v, '+.2g')} {mark}",
                        va="center", ha="left" if v >= 0 else "right", fontsize=BAR_LABEL_SIZE)
            name = compose(lang, lambda one: labels.t("with_year", one, text=g[f"name_{one}"],
                                                     year=tid.rsplit("_", 1)[-1]), sep="\n")
            total = compose(lang, lambda one: labels.t("contributions_total", one,
                                                       total=f"{number(g.total, '+.3g')} {_unit(g.unit, labels, one)}"),
                            sep=" / ")
            # right-aligned over the panel and its tick labels: most of the column's width
            width_em = FIGSIZE[0] * 72 / ncols * 0.8 / 14
            ax.set_title(f"{wrap_text(name, width_em)}\n{total}", fontsize=14, loc="right")
        for k in range(n, nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        title = compose(lang, lambda one: labels.t("contributions_title", one, scenario=pick(scenario_name, one),
                                                   parent=pick(parent_name, one)))
        fig.suptitle(title, fontsize=20)
        legend = compose(lang, lambda one: f"▲ {labels.t('contributions_helps', one)}   ▼ "
                                           f"{labels.t('contributions_hurts', one)}", sep="   ")
        fig.text(0.99, 0.01, legend, ha="right", va="bottom", fontsize=13, color="#444444")
        add_caption(fig, labels, lang, source, [scenario, parent], meta)
    return fig


def write_tornado(path_stem: Path, by_lever, goals, *, lang: str, **kw) -> list[Path]:
    """Draw and save (PNG, SVG, PDF) the tornado figure; returns the files."""
    fig = tornado_figure(by_lever, goals, lang=lang, **kw)
    return save(fig, path_stem)


def contributions_markdown(contrib, top: int = 3) -> str:
    """Per goal: the total change, the interaction left by one-at-a-time runs and the ``top``
    levers by |Shapley value|; then the per-clause sums (``contrib``: a
    :class:`sim.analysis.contributions.Contributions`)."""
    g = contrib.goals
    goals = pd.DataFrame({
        "goal": g.target, "unit": g.unit, contrib.parent: g.parent, contrib.scenario: g.scenario,
        "total change": g.total, "interaction (one at a time)": g.interaction, "met": g.passed,
        "top levers (Shapley)": ["; ".join(f"{r.lever} {r.shapley:+.3g}" for r in contrib.top(t, top).itertuples())
                                 for t in g.target]})
    wide = contrib.by_clause.pivot(index="target", columns="clause", values="shapley")
    wide = wide.reindex(index=list(g.target), columns=list(dict.fromkeys(contrib.by_clause.clause)))
    wide.index.name = "goal"
    seen = (contrib.info or {}).get("vantages") or {}
    vantage = "".join(f"- Goals {', '.join(v['targets'])}: runs seen from {year} (the observed history to "
                      f"{year}, constants: {v['constants']}; levers act from {v['levers_from']:g}), as the "
                      f"main run judges them.\n" for year, v in seen.items())
    return (f"# Contributions of {contrib.scenario} against {contrib.parent} ({contrib.method} Shapley values)\n\n"
            + (vantage + "\n" if vantage else "")
            + markdown_table(goals, digits=4, formats={"total change": "+.3g", "interaction (one at a time)": "+.2g"})
            + "\n## By clause (sum of its levers' Shapley values)\n\n"
            + markdown_table(wide, digits=3, index=True))
