"""What a figure draws for a target: the target's measure as a path over time.

A target (``sim.policy.targets``) judges one number, its measure at the horizon; an indicator
figure shows how that number evolves so the threshold line can be read against every
year. The numbers come from the scorecard's own measures, so the path at the horizon
year equals the scorecard's ``value`` (:func:`sim.policy.goal_measures.measure_paths`):

* level measures (``value_in_year``, ``min_over``, ``max_over``): ``scale × indicator``
  in every year (for min/max the window is shaded: the line must stay on the right side
  of the threshold inside it);
* window measures (``avg_growth``, ``ratio_change``): the measure from the target's start
  year to each later year Y.

Values are in the target's unit, so the threshold is drawn at ``threshold`` itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from sim.policy import targets as sim_targets
from sim.policy.goal_measures import measure_paths

#: measure -> kind of path drawn ("level" or "window") and the text key describing it.
MEASURE_PATHS: dict[str, tuple[str, str]] = {
    "value_in_year": ("level", "measure_level"),
    "min_over": ("level", "measure_level"),
    "max_over": ("level", "measure_level"),
    "avg_growth": ("window", "measure_growth"),
    "ratio_change": ("window", "measure_change"),
}


class TargetFigureError(ValueError):
    """A target cannot be drawn (missing key, unknown measure)."""


class MissingDataError(ValueError):
    """The results lack the variables a figure needs (the figure set skips it, warning)."""


@dataclass(frozen=True)
class FigureTarget:
    """What the figures need of a target (any unit: the target's own ``unit``).

    ``year``: horizon year; ``start``: first year of the measure's window (the horizon's
    base year); ``scale``: target value = scale × model value (e.g. Dmnl → %: 100).
    """

    id: str
    name: dict
    indicator: str
    measure: str
    comparator: str
    threshold: float
    unit: str
    year: float
    start: float
    scale: float = 1.0
    denominator: str | None = None
    basis: str = ""
    #: the observed series standing for the indicator (``{"series", "factor", "note"}``),
    #: as the target's ``actual:`` key (:mod:`sim.history`), or None
    actual: Mapping | None = None

    @property
    def path_kind(self) -> str:
        return MEASURE_PATHS[self.measure][0]

    @property
    def text_key(self) -> str:
        return MEASURE_PATHS[self.measure][1]


#: Keys accepted for each field when a target comes as a dict (first present wins).
DICT_KEYS = {
    "year": ("year", "horizon_year", "horizon"),
    "start": ("start", "base_year"),
}
REQUIRED = ("id", "indicator", "measure", "comparator", "threshold", "year", "start")


def as_figure_target(obj, where: str = "targets") -> FigureTarget:
    """Convert a :class:`sim.policy.targets.Target` or a target dict to a :class:`FigureTarget`."""
    if isinstance(obj, FigureTarget):
        return obj
    if isinstance(obj, sim_targets.Target):
        return FigureTarget(id=obj.id, name=dict(obj.name), indicator=obj.indicator,
                            measure=obj.measure, comparator=obj.comparator,
                            threshold=obj.threshold, unit=obj.unit, year=obj.year,
                            start=obj.start, scale=obj.scale, denominator=obj.denominator,
                            basis=obj.basis, actual=obj.actual)
    if not isinstance(obj, Mapping):
        raise TargetFigureError(f"{where}: expected a target mapping, got {type(obj).__name__}")
    data = dict(obj)
    for key, aliases in DICT_KEYS.items():
        for alias in aliases:
            value = data.get(alias)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                data[key] = float(value)
                break
    tid = data.get("id", "?")
    missing = [k for k in REQUIRED if data.get(k) is None]
    if missing:
        raise TargetFigureError(f"{where} ({tid}): missing key(s) {', '.join(missing)}; "
                                f"expected {', '.join(REQUIRED)} (year may be "
                                f"horizon_year, start may be base_year)")
    if data["measure"] not in MEASURE_PATHS:
        raise TargetFigureError(f"{where} ({tid}).measure: {data['measure']!r}; expected one "
                                f"of {', '.join(MEASURE_PATHS)}")
    known = {f.name for f in fields(FigureTarget)}
    kwargs = {k: v for k, v in data.items() if k in known}
    kwargs["name"] = dict(data.get("name") or {"zh": tid, "en": tid})
    kwargs["threshold"] = float(data["threshold"])
    kwargs["scale"] = float(data.get("scale") or 1.0)
    kwargs["unit"] = str(data.get("unit") or "")
    actual = data.get("actual")
    kwargs["actual"] = ({"series": actual, "factor": 1.0} if isinstance(actual, str)
                        else dict(actual) if isinstance(actual, Mapping) else None)
    return FigureTarget(**kwargs)


def indicator_series(results: pd.DataFrame, target: FigureTarget) -> pd.Series:
    """The series the target reads (indicator, or indicator / denominator), model units."""
    needed = [target.indicator] + ([target.denominator] if target.denominator else [])
    missing = [v for v in needed if v not in results.columns]
    if missing:
        raise MissingDataError(f"target {target.id}: results have no column {missing[0]!r}")
    s = results[target.indicator].astype(float)
    if target.denominator:
        s = s / results[target.denominator].astype(float)
    return s


def measure_path(results: pd.DataFrame, target: FigureTarget) -> pd.Series:
    """The target's measure over time, in the target's unit (NaN where undefined)."""
    s = indicator_series(results, target)
    if target.path_kind == "level":
        return s * target.scale
    paths = measure_paths(s.to_numpy(dtype=float)[None, :], s.index.to_numpy(dtype=float), target)
    return pd.Series(paths[0], index=s.index, dtype=float)


def observed_path(observed: pd.DataFrame | None, target: FigureTarget,
                  breaks: Sequence[Mapping] = ()) -> pd.Series | None:
    """The target's measure on its observed series (``target.actual``), in the years with
    published data: the same :func:`measure_path` the model's lines use. ``observed``:
    :func:`sim.history.comparable_series` (years × series). Window measures need the start
    year observed and drop the years whose window crosses one of ``breaks`` (``{between:
    [y0, y1]}``, :func:`sim.history.breaks_of`). None when there is nothing to draw."""
    if observed is None or not target.actual or target.actual.get("series") not in observed.columns:
        return None
    col = observed[target.actual["series"]].dropna() * float(target.actual.get("factor", 1.0))
    if col.empty or (target.path_kind == "window" and target.start not in set(col.index.astype(float))):
        return None
    frame = pd.DataFrame({target.indicator: col.to_numpy(float)}, index=col.index.to_numpy(float))
    path = measure_path(frame, replace(target, denominator=None)).dropna()
    if target.path_kind == "window":
        path = path[[not any(target.start <= b["between"][0] and b["between"][1] <= y
                             for b in breaks) for y in path.index]]
    return path if not path.empty else None


def threshold_in_display_unit(target: FigureTarget, variable_scale: float) -> float:
    """A level target's threshold converted to a variable's display unit.

    target unit → model unit (÷ target.scale) → display unit (× label scale).
    """
    return target.threshold / target.scale * variable_scale


def whole_year(year: float) -> str:
    """A crossing time shown as a calendar year: the first whole year at or after it, i.e.
    the first yearly value that meets the goal (2017.83 -> "2018", 2016.0 -> "2016")."""
    return f"{math.ceil(float(year) - 1e-6):d}"


def _geometric_path(x0: float, target: FigureTarget, years: np.ndarray) -> np.ndarray:
    """x0 growing at the threshold rate (%/yr) from the start year."""
    return x0 * (1.0 + target.threshold / 100.0) ** (years - target.start)


def _linear_path(x0: float, target: FigureTarget, years: np.ndarray) -> np.ndarray:
    """x0 moving evenly to x0 + threshold/scale by the horizon year."""
    return x0 + target.threshold / target.scale * (years - target.start) / (target.year - target.start)


#: Window measures drawn on a variable's own axis as the path that just meets the goal.
TARGET_PATHS = {"avg_growth": _geometric_path, "ratio_change": _linear_path}


def target_path(results: pd.DataFrame, target: FigureTarget) -> pd.Series | None:
    """The indicator path (model units) that meets a window target exactly, from the start
    year's value in ``results`` to the horizon; None for level measures or ratios of two
    variables. Yearly points from start to horizon."""
    if target.measure not in TARGET_PATHS or target.denominator:
        return None
    s = results[target.indicator].astype(float)
    x0 = float(np.interp(target.start, s.index.to_numpy(float), s.to_numpy(float)))
    years = np.arange(target.start, target.year + 0.5)
    return pd.Series(TARGET_PATHS[target.measure](x0, target, years), index=years)


def finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


__all__ = ["FigureTarget", "MEASURE_PATHS", "TargetFigureError", "MissingDataError", "as_figure_target",
           "indicator_series", "measure_path", "threshold_in_display_unit", "finite",
           "whole_year", "target_path", "observed_path"]
