"""Fan charts: the spread of a goal's measure over an ensemble, one figure per target.

For each scenario, the 5–95 % and 25–75 % bands of the target's measure path (the same
path as :func:`sim.report.indicators.plot_target_indicator`: the level for level goals,
the measure from the start year for growth and change goals) are shaded in the
scenario's fixed colour, the median drawn as a line (gid ``median:<id>``, bands
``band90:<id>``/``band50:<id>``), the threshold dashed (gid ``threshold``) and the
target's horizon emphasised. The legend gives the probability of meeting the goal. Up
to :data:`OVERLAY_MAX` scenarios share one panel; more get one panel each, because the
bands of many scenarios hide each other.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator

from sim.policy.goal_measures import indicator_array, measure_array, measure_paths, meets_array
from sim.report.indicators import target_title
from sim.report.labels import Labels, compose, default_labels
from sim.report.measures import as_figure_target
from sim.report.style import (DEFAULT_HORIZONS, PANEL_TITLE_SIZE, add_caption, house_style, mark_horizons,
                    new_figure, panel_title, save, scenario_colours, scenario_name)
from sim.report.thresholds import threshold_label

#: Words of the fan chart not in sim/labels.yaml.
#: Quantiles of a fan chart: the 90 % and 50 % bands and the median.
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
FAN_TEXT = {
    "band90": {"zh": "5–95% 区间", "en": "5–95 % band"},
    "band50": {"zh": "25–75% 区间", "en": "25–75 % band"},
    "median": {"zh": "中位数", "en": "median"},
    "probability": {"zh": "达标概率 {p}", "en": "P(met) {p}"},
    "probability_short": {"zh": "（达标 {p}）", "en": " (met: {p})"},
    "source": {"zh": "模型集合模拟（{n} 次，{method}）", "en": "model ensemble ({n} runs, {method})"},
}
#: Band opacities (outer, inner).
ALPHAS = (0.18, 0.35)
#: Scenarios drawn in one panel; more get one panel each (bands of many scenarios overlap).
OVERLAY_MAX = 2
#: Panel-title size when each scenario has its own panel (pt).
MULTI_TITLE_SIZE = 15


def fan_quantiles(paths: np.ndarray, qs: Sequence[float] = FAN_QUANTILES) -> np.ndarray:
    """Quantiles over samples of a samples × times array (NaN ignored): shape (len(qs), T)."""
    out = np.full((len(qs), paths.shape[1]), np.nan)
    for j in range(paths.shape[1]):
        col = paths[:, j]
        col = col[np.isfinite(col)]
        if col.size:
            out[:, j] = np.quantile(col, qs)
    return out


def _t(key: str, lang: str, **fmt) -> str:
    return compose(lang, lambda one: FAN_TEXT[key][one].format(**fmt), sep=" / ")


def _draw_fan(ax, times, q, colour, sid, label):
    ok = np.isfinite(q[2])
    x = times[ok]
    ax.fill_between(x, q[0, ok], q[4, ok], color=colour, alpha=ALPHAS[0], lw=0, gid=f"band90:{sid}")
    ax.fill_between(x, q[1, ok], q[3, ok], color=colour, alpha=ALPHAS[1], lw=0, gid=f"band50:{sid}")
    ax.plot(x, q[2, ok], color=colour, label=label, gid=f"median:{sid}")


def plot_fan(times: np.ndarray, quantiles: Mapping[str, np.ndarray], target, *,
             probabilities: Mapping[str, float] | None = None, scenarios_meta: Mapping | None = None,
             lang: str = "zh", horizons: Sequence[float] = DEFAULT_HORIZONS, source=None,
             labels: Labels | None = None, overlay_max: int = OVERLAY_MAX):
    """One target's fan chart. ``quantiles``: {scenario id: (5, T) array of the 5, 25, 50,
    75, 95 % quantiles of the measure path, target units}. Up to ``overlay_max`` scenarios
    share one panel; more get one panel each (shared axes, titles in the scenario's
    colour with the probability of meeting the goal). Returns the Figure."""
    labels = labels or default_labels()
    target = as_figure_target(target)
    times = np.asarray(times, dtype=float)
    ids = list(quantiles)
    colours = scenario_colours(ids)
    unit = lambda one: labels.target_unit_text(target.unit, one)  # noqa: E731
    overlay = len(ids) <= overlay_max
    groups = [ids] if overlay else [[sid] for sid in ids]

    def name(sid):
        p = (probabilities or {}).get(sid)
        return compose(lang, lambda one: labels.t("colon", one).join(filter(None, [
            scenario_name(sid, scenarios_meta, one),
            FAN_TEXT["probability"][one].format(p=f"{100 * p:.0f}%") if p is not None else ""])))

    def short_name(sid):
        p = (probabilities or {}).get(sid)
        return compose(lang, lambda one: scenario_name(sid, scenarios_meta, one) + (
            FAN_TEXT["probability_short"][one].format(p=f"{100 * p:.0f}%") if p is not None else ""))

    with house_style():
        ncols = 1 if overlay else (min(len(ids), 3) if len(ids) != 4 else 2)
        nrows = math.ceil(len(groups) / ncols)
        fig, axes = new_figure(nrows, ncols, sharex=True, sharey=True, lang=lang)
        flat = axes.ravel()
        for ax in flat[len(groups):]:
            ax.set_visible(False)
        for ax, group in zip(flat, groups):
            if target.measure != "value_in_year":
                ax.axvspan(target.start, target.year, color="#F0F0F0", zorder=0, lw=0, gid="window")
            for sid in group:
                _draw_fan(ax, times, quantiles[sid], colours[sid], sid, name(sid) if overlay else None)
            ax.axhline(target.threshold, color="#222222", lw=2.5, ls=(0, (6, 3)), zorder=2,
                       gid="threshold", label=compose(lang, lambda one: threshold_label(target, one, labels)))
            mark_horizons(ax, horizons, emphasise=target.year)
            if not overlay:
                ax.set_title(panel_title(short_name(group[0]), ncols, MULTI_TITLE_SIZE), loc="left",
                             color=colours[group[0]], fontsize=MULTI_TITLE_SIZE,
                             gid=f"scenario-title:{group[0]}")
        first = flat[0]
        first.fill_between([], [], [], color="#777777", alpha=ALPHAS[0], label=_t("band90", lang))
        first.fill_between([], [], [], color="#777777", alpha=ALPHAS[0] + ALPHAS[1],
                           label=_t("band50", lang))
        if not overlay:
            first.plot([], [], color="#777777", label=_t("median", lang))
        measure = (lambda one: labels.name(target.indicator, one)) \
            if target.path_kind == "level" and not target.denominator \
            else (lambda one: labels.t(target.text_key, one, start=f"{target.start:g}"))
        ylabel = compose(lang, lambda one: labels.with_unit(measure(one), unit(one), one))
        if overlay:
            first.set_ylabel(ylabel)
        else:  # one label for the grid: per-row labels of two lines would overlap
            fig.supylabel(ylabel, fontsize=PANEL_TITLE_SIZE)
        for ax in axes[-1]:
            ax.set_xlabel(labels.t("year", lang))
            # whole years, few enough that a narrow panel of a short window keeps them apart
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4 if ncols > 1 else 8, integer=True))
        if overlay:
            first.set_title(target_title(target, labels, lang), loc="left")
            first.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        else:
            fig.suptitle(target_title(target, labels, lang), x=0.01, ha="left")
            handles, names = first.get_legend_handles_labels()
            fig.legend(handles, names, loc="outside right upper")
        add_caption(fig, labels, lang, source, ids, scenarios_meta)
    return fig


def write_fan_charts(out_dir, ens, *, lang: str = "both", formats: Sequence[str] = ("png",),
                     targets=None, dpi: int = 150) -> list[Path]:
    """Fan charts of every target of an :class:`sim.analysis.ensemble.Ensemble`; returns the files.

    PNG at 150 dpi by default (2000 × 1125 px, one per target): an ensemble has about 20
    targets and the house 300 dpi triples the writing time; pass ``dpi=300`` for print."""
    out_dir = Path(out_dir)
    paths = []
    source = {one: FAN_TEXT["source"][one].format(n=ens.rows, method=ens.method) for one in ("zh", "en")}
    for target in (targets or ens.targets):
        quantiles, probs = {}, {}
        times, runs = ens.view(target)     # the runs seen from the target's vantage
        for sid, series in runs.items():
            x = indicator_array(series, target)
            quantiles[sid] = fan_quantiles(measure_paths(x, times, target), FAN_QUANTILES)
            probs[sid] = float(meets_array(target, measure_array(x, times, target)).mean())
        fig = plot_fan(times, quantiles, target, probabilities=probs, scenarios_meta=ens.scenarios_meta,
                       lang=lang, source=source, horizons=tuple(h for h in DEFAULT_HORIZONS if h <= times[-1]))
        paths += save(fig, out_dir / f"fan_{target.id}", formats=formats, dpi=dpi)
    return paths


__all__ = ["FAN_QUANTILES", "FAN_TEXT", "fan_quantiles", "plot_fan", "write_fan_charts"]
