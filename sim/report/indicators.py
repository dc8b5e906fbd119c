"""One figure per target: its measure across scenarios, the threshold, the year first met."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from sim.history import breaks_of, series_info
from sim.policy.goal_measures import meets_array
from sim.report.labels import Labels, compose, default_labels, pick
from sim.report.measures import (FigureTarget, MissingDataError, as_figure_target, finite, measure_path,
                       observed_path, whole_year)
from sim.report.style import (DATA_STYLE, DEFAULT_HORIZONS, add_caption, house_style, mark_horizons,
                              mark_projection, new_figure, projection_start, scenario_colours,
                              scenario_linestyles, scenario_name, wrap_text)
from sim.report.thresholds import threshold_label

WINDOW_SHADE = "#F0F0F0"
#: Where observed points come from, for the caption (every row there names its source).
DATA_FILES = ("data/history_*.csv",)


def scorecard_row(scorecard: pd.DataFrame | None, scenario: str, target_id: str):
    """The scorecard row for one scenario × target, or None."""
    if scorecard is None or scorecard.empty:
        return None
    rows = scorecard[(scorecard["scenario"] == scenario) & (scorecard["target"] == target_id)]
    return None if rows.empty else rows.iloc[0]


def target_title(target: FigureTarget, labels: Labels, lang: str) -> str:
    """Target name with its horizon year, e.g. ``GDP年均增长（2020）``."""
    return compose(lang, lambda one: labels.t(
        "with_year", one, text=pick(target.name, one, default=target.id),
        year=f"{target.year:g}"))


#: Legend entries wrap at this width (em of the legend type), so the plot keeps its width.
LEGEND_EM = 30
#: Target units that are shares (of GDP, of people covered): their axis starts at zero.
SHARE_UNITS = ("%",)
#: Largest ylabel width, in em of the axis label size (the axis is about 5.3 in high).
YLABEL_EM = 5.3 * 72 / 18


def y_limits(ax, target: FigureTarget) -> None:
    """Keep the threshold inside the plot (with a margin), and zero too where the quantity
    is a share, so a gap is never exaggerated by a truncated axis."""
    lo, hi = ax.get_ylim()
    lo, hi = min(lo, target.threshold), max(hi, target.threshold)
    if target.path_kind == "level" and target.unit in SHARE_UNITS:
        lo = min(lo, 0.0)
    pad = 0.04 * (hi - lo)
    ax.set_ylim(lo if lo == 0.0 else lo - pad, hi + pad)


def number(value: float, fmt: str = ".4g") -> str:
    """A number with a typographic minus sign (U+2212), like matplotlib's tick labels."""
    return format(float(value), fmt).replace("-", "\u2212")


def met_again_from(x: np.ndarray, y: np.ndarray, target, first: float) -> float | None:
    """For a goal met at its horizon: the year from which the drawn path ``y`` (over years
    ``x``) meets it without a break up to the horizon, when that is later than ``first``
    (the scorecard's first year met: the path met the goal, lost it, and came back);
    else None. The return is linearly interpolated between the last output that misses
    and the next."""
    keep = np.isfinite(y) & (x <= target.year + 1e-9) & (x >= first - 1e-9)
    x, y = x[keep], y[keep]
    miss = np.flatnonzero(~meets_array(target, y))
    if miss.size == 0 or miss[-1] + 1 >= x.size:
        return None
    j = miss[-1]
    with np.errstate(all="ignore"):
        w = (target.threshold - y[j]) / (y[j + 1] - y[j])
    w = float(np.clip(w, 0.0, 1.0)) if np.isfinite(w) else 1.0
    return float(x[j] + w * (x[j + 1] - x[j]))


def legend_status(row, labels: Labels, lang: str, horizon: float | None = None,
                  again: float | None = None) -> str:
    """``met, first in 2018`` / ``met, again from 2026`` (``again``: see
    :func:`met_again_from`) / ``missed, reached only in 2027`` / ``missed (met in 2016,
    not held)`` / ``missed`` / ``""``. ``horizon``: the target's year (separates the last
    two missed cases)."""
    if row is None:
        return ""
    year = row["year_reached"]
    passed = bool(row["passed"])
    if not finite(year):
        return labels.t("reached" if passed else "missed", lang)
    if passed and again is not None:
        return labels.t("met_again", lang, year=whole_year(again))
    if passed:
        key = "met_in"
    else:
        key = "missed_lost" if horizon is not None and float(year) <= horizon else "missed_until"
    return labels.t(key, lang, year=whole_year(year))


def plot_target_indicator(results: Mapping[str, pd.DataFrame], target,
                          scorecard: pd.DataFrame | None = None,
                          scenarios_meta: Mapping | None = None, *, lang: str = "zh",
                          colours: Mapping[str, str] | None = None,
                          horizons: Sequence[float] = DEFAULT_HORIZONS,
                          source=None, labels: Labels | None = None,
                          observed: pd.DataFrame | None = None):
    """Figure of one target's measure for every scenario, in the target's unit.

    ``results``: {scenario id: DataFrame indexed by year, columns = model variables};
    ``target``: a :class:`sim.policy.targets.Target` or target dict. Draws one line per scenario
    (gid ``scenario:<id>``), the threshold at ``target.threshold`` (gid ``threshold``),
    the horizons (the target's own one solid), the measure window for window and min/max
    measures (shaded), and a ring where the scorecard says the goal was first met (gid
    ``reached:<id>``; the year is also in the legend). With ``observed``
    (:func:`sim.history.comparable_series`) and a target naming its observed series
    (``actual``), the same measure on the published data is drawn as hollow markers (gid
    ``observed``), and the data files go in the caption. A solid line separates history
    from projection (the scenarios' earliest ``policy_start``). Returns the Figure.
    """
    labels = labels or default_labels()
    target = as_figure_target(target)
    ids = [s for s, df in results.items() if target.indicator in df.columns]
    if not ids:
        raise MissingDataError(f"target {target.id}: indicator {target.indicator!r} is in "
                                "none of the results")
    colours = dict(colours or scenario_colours(results))
    styles = scenario_linestyles(results)
    unit = lambda one: labels.target_unit_text(target.unit, one)  # noqa: E731
    with house_style():
        fig, axes = new_figure(lang=lang)
        ax = axes[0, 0]
        if target.measure != "value_in_year":
            ax.axvspan(target.start, target.year, color=WINDOW_SHADE, zorder=0, lw=0,
                       gid="window")
        for sid in ids:
            path = measure_path(results[sid], target)
            x, y = path.index.to_numpy(float), path.to_numpy(float)
            row = scorecard_row(scorecard, sid, target.id)
            year = row["year_reached"] if row is not None else np.nan
            again = met_again_from(x, y, target, float(year)) \
                if finite(year) and bool(row["passed"]) else None
            label = compose(lang, lambda one: labels.t("colon", one).join(filter(None, [
                scenario_name(sid, scenarios_meta, one),
                legend_status(row, labels, one, target.year, again)])))
            ax.plot(x, y, color=colours[sid], ls=styles.get(sid, "-"), label=label,
                    gid=f"scenario:{sid}")
            if again is not None:   # the ring marks where the goal is met for good
                year = again
            if finite(year):
                ok = np.isfinite(y)
                ax.plot([float(year)], [float(np.interp(float(year), x[ok], y[ok]))],
                        marker="o", ms=13, mfc="white", mec=colours[sid], mew=3, ls="none",
                        zorder=5, gid=f"reached:{sid}")
        obs = observed_path(observed, target, breaks_of(target.actual["series"])
                            if target.actual and observed is not None
                            and target.actual["series"] in observed.columns else ())
        if obs is not None:   # within the model's time span
            obs = obs[obs.index >= min(float(results[s].index.min()) for s in ids)]
        if obs is not None and not obs.empty:
            name = series_info().loc[target.actual["series"]]
            ax.plot(obs.index.to_numpy(float), obs.to_numpy(float), gid="observed",
                    label=compose(lang, lambda one: labels.t("observed_from", one, name=name[one])),
                    **DATA_STYLE)
        mark_projection(ax, projection_start(scenarios_meta), labels, lang)
        ax.axhline(target.threshold, color="#222222", lw=2.5, ls=(0, (6, 3)), zorder=2,
                   gid="threshold",
                   label=compose(lang, lambda one: wrap_text(threshold_label(target, one, labels),
                                                             LEGEND_EM)))
        y_limits(ax, target)
        mark_horizons(ax, horizons, emphasise=target.year)
        ax.set_title(target_title(target, labels, lang), loc="left")

        def measure(one):
            name = labels.name(target.indicator, one)
            if target.path_kind == "level" and not target.denominator:
                return name
            return labels.t("measure_of", one, name=name,
                            measure=labels.t(target.text_key, one, start=f"{target.start:g}"))
        ax.set_ylabel(compose(lang, lambda one: wrap_text(
            labels.with_unit(measure(one), unit(one), one),
            YLABEL_EM / (2 if lang == "both" else 1) * (2 if lang == "both" else 1))))
        ax.set_xlabel(labels.t("year", lang))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        add_caption(fig, labels, lang, source, ids, scenarios_meta,
                    data_files=DATA_FILES if obs is not None and not obs.empty else ())
    return fig
