"""Thematic figures: scenario lines on small panels, and GDP by sector as stacked areas.

:data:`THEMES` lists, as data, which variables each thematic figure shows. Every panel
draws one line per scenario (gid ``scenario:<id>``), the horizons, and the threshold of
every target on that variable (gid ``threshold:<target id>``): a horizontal line for a
level target, and for a growth or change target the path that just meets it, from the
start year to the horizon.
"""
from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from sim.report.labels import Labels, default_labels
from sim.report.measures import (MissingDataError, as_figure_target, target_path,
                       threshold_in_display_unit)
from sim.report.style import (DEFAULT_HORIZONS, PANEL_TITLE_SIZE, add_caption, house_style,
                    mark_horizons, new_figure, panel_title, scenario_colours,
                    scenario_linestyles, scenario_name)

#: Thematic figures: title key in labels.text and the variables shown, one panel each.
THEMES: dict[str, dict] = {
    "replacement": {"title": "replacement_title", "variables": ["replacement industry share"]},
    "employment": {"title": "employment_title",
                   "variables": ["employment total", "unemployed",
                                 "registered unemployment rate", "laid off workers"]},
    "insurance": {"title": "insurance_title",
                  "variables": ["urban medical insurance coverage", "NCMS coverage",
                                "urban pension coverage"]},
    "energy": {"title": "energy_title", "variables": ["energy use", "energy intensity"]},
    "waste": {"title": "waste_title",
              "variables": ["industrial solid waste generation",
                            "industrial solid waste utilised",
                            "solid waste utilisation rate"]},
}

#: Sectors of the stacked GDP figure, bottom to top, with colours (Paul Tol's muted
#: scheme and greys, colour-blind safe) and whether the sector is a replacement industry
#: of clause (四).
SECTORS: tuple[tuple[str, str, bool], ...] = (
    ("VA agriculture", "#DDCC77", False),
    ("VA mining", "#555555", False),
    ("VA traditional ceramics", "#882255", False),
    ("VA other industry", "#AAAAAA", False),
    ("VA culture tourism", "#CC6677", True),
    ("VA high tech ceramics", "#332288", True),
    ("VA auto aviation", "#88CCEE", True),
    ("VA biomed food", "#117733", True),
    ("VA modern services", "#44AA99", True),
)


def grid_shape(n: int) -> tuple[int, int]:
    """Rows × columns for n panels (at most 3 columns)."""
    ncols = min(n, 3) if n != 4 else 2
    return math.ceil(n / ncols), ncols


def _axis_unit(labels: Labels, variable: str, lang: str) -> str:
    return labels.unit(variable, lang)


def plot_theme(results: Mapping[str, pd.DataFrame], variables: Sequence[str], *,
               title: str = "", targets: Sequence[Mapping] = (),
               scenarios_meta: Mapping | None = None, lang: str = "zh",
               colours: Mapping[str, str] | None = None,
               horizons: Sequence[float] = DEFAULT_HORIZONS, source=None,
               labels: Labels | None = None):
    """Small multiples: one panel per variable, one line per scenario.

    Variables absent from every result are skipped with a warning; if none is left a
    ``ValueError`` names them. Panel titles are the variable names, y labels their display
    units (``sim/labels.yaml``). Returns the Figure.
    """
    labels = labels or default_labels()
    targets = [as_figure_target(t, f"targets[{i}]") for i, t in enumerate(targets)]
    present = [v for v in variables if any(v in df.columns for df in results.values())]
    missing = [v for v in variables if v not in present]
    if missing:
        warnings.warn(f"figure {title!r}: variables not in the results, panels skipped: "
                      f"{missing}", stacklevel=2)
    if not present:
        raise MissingDataError(f"figure {title!r}: none of the variables {list(variables)} is in "
                         "the results")
    colours = dict(colours or scenario_colours(results))
    styles = scenario_linestyles(results)
    ids = list(results)
    with house_style():
        nrows, ncols = grid_shape(len(present))
        fig, axes = new_figure(nrows, ncols, sharex=True, lang=lang)
        flat = axes.ravel()
        for ax in flat[len(present):]:
            ax.set_visible(False)
        for ax, var in zip(flat, present):
            scale = labels.scale(var)
            for sid in ids:
                df = results[sid]
                if var not in df.columns:
                    continue
                ax.plot(df.index.to_numpy(float), df[var].to_numpy(float) * scale,
                        color=colours[sid], ls=styles.get(sid, "-"),
                        label=scenario_name(sid, scenarios_meta, lang), gid=f"scenario:{sid}")
            years_at: dict[float, list[str]] = {}
            for target in targets:
                if (target.indicator == var and target.path_kind == "level"
                        and not target.denominator):
                    level = threshold_in_display_unit(target, scale)
                    ax.axhline(level, color="#222222", lw=2.2, ls=(0, (6, 3)), zorder=4,
                               gid=f"threshold:{target.id}", label=labels.t("threshold", lang))
                    years_at.setdefault(round(level, 9), []).append(f"{target.year:g}")
                elif target.indicator == var and target.path_kind == "window":
                    # the path that just meets a growth goal, from the start year's value
                    # (of the first scenario: scenarios share history before policy start)
                    first = next(df for df in results.values() if var in df.columns)
                    path = target_path(first, target)
                    if path is not None:
                        ax.plot(path.index.to_numpy(float), path.to_numpy(float) * scale,
                                color="#222222", lw=2.2, ls=(0, (6, 3)), zorder=4,
                                gid=f"threshold:{target.id}",
                                label=labels.t("threshold", lang))
                        ax.annotate(f"{target.year:g}", (target.year, path.iloc[-1] * scale),
                                    xytext=(4, 0), textcoords="offset points", fontsize=13,
                                    color="#222222", va="center")
            for level, years in years_at.items():   # one note per line: "2020, 2030"
                ax.annotate(", ".join(dict.fromkeys(years)), (0.0, level),
                            xycoords=("axes fraction", "data"), xytext=(4, 3),
                            textcoords="offset points", fontsize=13, color="#222222",
                            va="bottom")
            mark_horizons(ax, horizons)
            ax.set_title(panel_title(labels.name(var, lang, kind="title"), ncols), loc="left",
                         fontsize=PANEL_TITLE_SIZE if len(present) > 1 else None)
            ax.set_ylabel(_axis_unit(labels, var, lang))
        for ax in axes[-1]:
            ax.set_xlabel(labels.t("year", lang))
        handles, names = _unique_legend(flat[:len(present)])
        fig.legend(handles, names, loc="outside right upper")
        if title:
            fig.suptitle(title, x=0.01, ha="left")
        add_caption(fig, labels, lang, source, ids, scenarios_meta)
    return fig


def _unique_legend(axes):
    seen = {}
    for ax in axes:
        for h, n in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(n, h)
    return list(seen.values()), list(seen)


def plot_gdp_by_sector(results: Mapping[str, pd.DataFrame], *,
                       scenarios_meta: Mapping | None = None, lang: str = "zh",
                       colours: Mapping[str, str] | None = None,
                       horizons: Sequence[float] = DEFAULT_HORIZONS, source=None,
                       labels: Labels | None = None):
    """Value added by sector (constant 2010 prices) as stacked areas, one panel per scenario.

    Panels share the y axis (CNY 100 M/yr); panel titles are written in the scenario's
    colour. Replacement sectors (clause 四) are stacked above the traditional ones.
    Returns the Figure.
    """
    labels = labels or default_labels()
    ids = list(results)
    colours = dict(colours or scenario_colours(ids))
    sectors = [s for s in SECTORS if any(s[0] in df.columns for df in results.values())]
    if not sectors:
        raise MissingDataError("GDP-by-sector figure: no 'VA ...' sector variable in the "
                               "results")
    with house_style():
        nrows, ncols = grid_shape(len(ids))
        fig, axes = new_figure(nrows, ncols, sharex=True, sharey=True, lang=lang)
        flat = axes.ravel()
        for ax in flat[len(ids):]:
            ax.set_visible(False)
        for ax, sid in zip(flat, ids):
            df = results[sid]
            x = df.index.to_numpy(float)
            ys = [df[s].to_numpy(float) * labels.scale(s) if s in df.columns
                  else np.zeros_like(x) for s, _, _ in sectors]
            polys = ax.stackplot(x, *ys, colors=[c for _, c, _ in sectors],
                                 labels=[labels.name(s, lang) for s, _, _ in sectors],
                                 edgecolor="white", linewidth=0.6)
            for poly, (s, _, repl) in zip(polys, sectors):
                poly.set_gid(f"sector:{s}")
                if not repl:
                    poly.set_hatch("//")
                    poly.set_edgecolor("white")
            mark_horizons(ax, horizons)
            ax.set_title(panel_title(scenario_name(sid, scenarios_meta, lang), ncols),
                         loc="left", color=colours[sid], fontsize=PANEL_TITLE_SIZE,
                         gid=f"scenario-title:{sid}")
            ax.grid(axis="x", visible=False)
        unit = labels.unit(sectors[0][0], lang)
        for row in axes:
            row[0].set_ylabel(unit)
        for ax in axes[-1]:
            ax.set_xlabel(labels.t("year", lang))
        handles, names = flat[0].get_legend_handles_labels()
        fig.legend(handles[::-1], names[::-1], loc="outside right upper", fontsize=14,
                   title=labels.t("sectors_legend", lang, kind="title"), title_fontsize=13,
                   alignment="left")
        fig.suptitle(labels.t("gdp_sectors_title", lang, kind="title"), x=0.01, ha="left")
        add_caption(fig, labels, lang, source, ids, scenarios_meta)
    return fig
