"""Model against historical data: observed points (hollow markers) and model lines.

The points are the reconciled series of :func:`sim.history.comparable_series` (one value
per year, on one basis, each with its source in ``data/``), not the raw rows.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from sim.history import comparable_series
from sim.report.labels import Labels, default_labels, pick
from sim.report.measures import MissingDataError
from sim.report.panels import grid_shape
from sim.report.style import (DATA_STYLE, DEFAULT_HORIZONS, PANEL_TITLE_SIZE, add_caption,
                    house_style, mark_horizons, mark_projection, new_figure, panel_title,
                    projection_start, scenario_colours, scenario_linestyles, scenario_name)

def find_history(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The observed points of the project's ``data/`` folder, long format (``indicator``:
    the reconciled series id, ``year``, ``value`` in the series' unit, ``unit``), from
    :func:`sim.history.comparable_series`."""
    wide = comparable_series(data_dir)
    long = wide.rename_axis(columns="indicator").stack().dropna().rename("value").reset_index()
    long["unit"] = long["indicator"].map(wide.attrs["units"])
    return long[["indicator", "year", "value", "unit"]]


#: Where the points come from, for the caption (every row there names its source).
DATA_FILES = ("data/history_*.csv",)
#: Years of data before the model's start shown for context, and years of model run shown
#: after the last data point (the figure is about the fit, not the projection).
CONTEXT_YEARS = 5
TAIL_YEARS = 5


def plot_model_vs_history(data: pd.DataFrame, model, series: Sequence[str] | None = None, *,
                          scenarios_meta: Mapping | None = None, lang: str = "zh",
                          colours: Mapping[str, str] | None = None,
                          horizons: Sequence[float] = DEFAULT_HORIZONS, source=None,
                          labels: Labels | None = None):
    """One panel per data indicator: observed points against the model's series.

    ``data``: DataFrame with columns ``indicator, year, value`` in the data's own unit
    (as :func:`find_history`); every row is drawn as a hollow marker, never a line.
    ``model``: a results DataFrame (years × variables) or ``{scenario id: DataFrame}``.
    ``series``: data indicators to show (default: those of ``labels.history`` present in
    ``data``); ``labels.history`` gives each one's model variable and the scale from the
    data unit to the model unit. Values are drawn in the variable's display unit.
    """
    labels = labels or default_labels()
    for col in ("indicator", "year", "value"):
        if col not in data.columns:
            raise ValueError(f"model-vs-data figure: data has no column {col!r}: expected "
                             "columns indicator, year, value")
    results = {"model": model} if isinstance(model, pd.DataFrame) else dict(model)
    if series is None:
        series = [s for s in labels.history if s in set(data["indicator"])]
    unknown = [s for s in series if s not in labels.history]
    if unknown:
        raise KeyError(f"{labels.source}: key 'history' has no entry for {unknown}: expected "
                       "{variable, scale, zh, en} for each indicator drawn")
    if not series:
        raise MissingDataError("model-vs-data figure: no indicator of labels.history in the "
                               "data")
    colours = dict(colours or scenario_colours(results))
    styles = scenario_linestyles(results)
    start = min(float(df.index.min()) for df in results.values())
    shown = data[data["indicator"].isin(series)]
    end = (float(shown["year"].max()) + TAIL_YEARS) if not shown.empty else math.inf
    results = {sid: df[df.index.to_numpy(float) <= end] for sid, df in results.items()}
    with house_style():
        nrows, ncols = grid_shape(len(series))
        fig, axes = new_figure(nrows, ncols, sharex=True, lang=lang)
        flat = axes.ravel()
        for ax in flat[len(series):]:
            ax.set_visible(False)
        for ax, ind in zip(flat, series):
            spec = labels.history[ind]
            var = spec["variable"]
            scale = labels.scale(var)
            pts = data[(data["indicator"] == ind) & (data["year"] >= start - CONTEXT_YEARS)]
            for sid, df in results.items():
                if var in df.columns:
                    ax.plot(df.index.to_numpy(float), df[var].to_numpy(float) * scale,
                            color=colours[sid], ls=styles.get(sid, "-"), gid=f"scenario:{sid}",
                            label=(labels.t("model", lang) if sid == "model"
                                   else scenario_name(sid, scenarios_meta, lang)))
            ax.plot(pts["year"].to_numpy(float),
                    pts["value"].to_numpy(float) * spec["scale"] * scale, **DATA_STYLE,
                    gid=f"data:{ind}", label=labels.t("data", lang))
            mark_horizons(ax, [h for h in horizons if h <= end])
            mark_projection(ax, projection_start(scenarios_meta), labels, lang)
            ax.set_title(panel_title(pick(spec, lang, kind="title"), ncols), loc="left",
                         fontsize=PANEL_TITLE_SIZE)
            ax.set_ylabel(labels.unit(var, lang))
        for ax in axes[-1]:
            ax.set_xlabel(labels.t("year", lang))
        seen = {}
        for ax in flat[:len(series)]:
            for h, n in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(n, h)
        fig.legend(list(seen.values()), list(seen), loc="outside right upper")
        fig.suptitle(labels.t("history_title", lang, kind="title"), x=0.01, ha="left")
        add_caption(fig, labels, lang, source, [s for s in results if s != "model"],
                    scenarios_meta, data_files=DATA_FILES)
    return fig
