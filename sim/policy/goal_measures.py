"""Goal measures on arrays: the one implementation, for one run or thousands.

Every function takes ``x``, an array of an indicator with shape (samples, times) — a
single run is one row — and the saved ``times`` (float years, increasing). The
scorecard (:mod:`sim.policy.targets`), the ensemble (:mod:`sim.analysis.ensemble`) and
the policy search (:mod:`sim.analysis.optimize`) all measure goals with these.

Measures (:data:`MEASURES`), each ``f(x, times, start, end, scale)`` → one value per sample,
in the target's unit:

``value_in_year``  indicator value in the end year, times ``scale``.
``avg_growth``     average annual growth from ``start`` to ``end`` as a geometric mean, in
                   %/yr: ``100 * ((x[end] / x[start]) ** (1 / (end - start)) - 1)``; NaN
                   unless both values are positive.
``ratio_change``   ``scale * (x[end] - x[start])`` (``x`` a ratio: a Dmnl variable or
                   indicator / denominator).
``min_over``, ``max_over``  minimum / maximum over [start, end] (saved times in the window
                   and the interpolated end points), times ``scale``.

Values between saved times are linear interpolations; a year outside the saved times is
an error. A target is anything with ``measure``, ``start``, ``year``, ``scale``,
``indicator``, ``denominator``, ``comparator`` and ``threshold``
(:class:`sim.policy.targets.Target`).
"""
from __future__ import annotations

import math
import operator
from collections.abc import Mapping

import numpy as np

COMPARATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
#: Comparison tolerance: a value within this relative distance of the threshold counts as equal.
REL_TOL = 1e-9
#: Years closer than this to a saved time count as that time (float years).
YEAR_TOL = 1e-9


def value_at(x: np.ndarray, times: np.ndarray, year: float) -> np.ndarray:
    """Every row of ``x`` (samples × times) at ``year``, linear between saved times."""
    if year < times[0] - YEAR_TOL or year > times[-1] + YEAR_TOL:
        raise ValueError(f"year {year:g} is outside the results ({times[0]:g}–{times[-1]:g})")
    j = int(np.clip(np.searchsorted(times, year, side="right") - 1, 0, times.size - 2))
    w = (year - times[j]) / (times[j + 1] - times[j])
    if w <= 0:
        return x[:, j].copy()
    if w >= 1:
        return x[:, j + 1].copy()
    return x[:, j] + w * (x[:, j + 1] - x[:, j])


def in_window(times: np.ndarray, start: float, end: float) -> np.ndarray:
    """Mask of the saved times in [start, end]."""
    return (times >= start - YEAR_TOL) & (times <= end + YEAR_TOL)


def value_in_year(x, times, start, end, scale):
    return scale * value_at(x, times, end)


#: ``a ** b`` element-wise by the C library's ``pow`` (as Python's float ``**``): NumPy's
#: own ``power`` loop may use SIMD code whose last bit depends on the CPU, and a goal's
#: value must not (scorecards are compared byte for byte).
_libm_pow = np.frompyfunc(math.pow, 2, 1)


def avg_growth(x, times, start, end, scale):
    first, last = value_at(x, times, start), value_at(x, times, end)
    ok = (first > 0) & (last > 0)
    with np.errstate(all="ignore"):
        ratio = np.where(ok, last / first, 1.0)
    g = 100.0 * (_libm_pow(ratio, 1.0 / (end - start)).astype(float) - 1.0)
    return np.where(ok, g, np.nan)


def ratio_change(x, times, start, end, scale):
    return scale * (value_at(x, times, end) - value_at(x, times, start))


def _window_values(x, times, start, end):
    return np.hstack([x[:, in_window(times, start, end)], value_at(x, times, start)[:, None],
                      value_at(x, times, end)[:, None]])


def min_over(x, times, start, end, scale):
    return scale * np.min(_window_values(x, times, start, end), axis=1)


def max_over(x, times, start, end, scale):
    return scale * np.max(_window_values(x, times, start, end), axis=1)


#: measure name → function(x (samples × times), times, start year, end year, scale) → values
MEASURES = {"value_in_year": value_in_year, "avg_growth": avg_growth, "ratio_change": ratio_change,
            "min_over": min_over, "max_over": max_over}


def indicator_array(series: Mapping[str, np.ndarray], target) -> np.ndarray:
    """The samples × times array a target reads (indicator, or indicator / denominator).

    ``series``: ``{model variable: array}`` (rows = samples; a 1-D array is one sample).
    """
    x = np.atleast_2d(np.asarray(series[target.indicator], dtype=float))
    if target.denominator:
        x = x / np.atleast_2d(np.asarray(series[target.denominator], dtype=float))
    return x


def measure_array(x: np.ndarray, times: np.ndarray, target, end: float | None = None) -> np.ndarray:
    """The target's measure for every sample over [target.start, end] (default: the horizon year)."""
    return MEASURES[target.measure](np.atleast_2d(x), np.asarray(times, dtype=float), target.start,
                                    target.year if end is None else end, target.scale)


def meets_array(target, values) -> np.ndarray:
    """True where a value satisfies the target's comparator (``>=``/``<=`` accept a
    tolerance of :data:`REL_TOL` × max(1, |threshold|)); NaN never meets."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        ok = COMPARATORS[target.comparator](v, target.threshold)
        if target.comparator in (">=", "<="):
            ok = ok | (np.abs(v - target.threshold) <= REL_TOL * max(1.0, abs(target.threshold)))
    return ok & np.isfinite(v)


def margin_array(target, values) -> np.ndarray:
    """``value - threshold`` signed so that positive means met with room (NaN stays NaN)."""
    v = np.asarray(values, dtype=float)
    return v - target.threshold if target.comparator in (">=", ">") else target.threshold - v


def measure_paths(x: np.ndarray, times: np.ndarray, target) -> np.ndarray:
    """The measure as a path over time (samples × times, target units; NaN where undefined).

    Level measures: ``scale × indicator``; window measures: the measure from the start
    year to each later saved year.
    """
    x = np.atleast_2d(x)
    if target.measure in ("value_in_year", "min_over", "max_over"):
        return target.scale * x
    out = np.full(x.shape, np.nan)
    for j, y in enumerate(times):
        if y > target.start + YEAR_TOL:
            out[:, j] = measure_array(x, times, target, end=float(y))
    return out


def window_year_reached(x: np.ndarray, times: np.ndarray, target) -> np.ndarray:
    """First saved year Y in the window whose measure over [start, Y] meets the goal, per
    sample (NaN when never). Growth and change need Y > start; min/max count from start."""
    x = np.atleast_2d(x)
    out = np.full(x.shape[0], np.nan)
    from_start = target.measure in ("min_over", "max_over")
    todo = np.ones(x.shape[0], bool)
    for y in times[in_window(times, target.start, target.year)]:
        if not from_start and y <= target.start + YEAR_TOL:
            continue
        hit = todo & meets_array(target, measure_array(x, times, target, end=float(y)))
        out[hit] = y
        todo &= ~hit
        if not todo.any():
            break
    return out


def year_reached_array(x: np.ndarray, times: np.ndarray, target) -> np.ndarray:
    """First year each sample meets the goal (float; NaN when never).

    Level targets (``value_in_year``): the first time if met there, else the linearly
    interpolated crossing between the last annual output that misses and the first that
    meets (a single run through the main job uses the solver's event time instead:
    :func:`sim.policy.targets.year_reached`). Window measures: :func:`window_year_reached`.
    """
    x = np.atleast_2d(x)
    if target.measure != "value_in_year":
        return window_year_reached(x, times, target)
    out = np.full(x.shape[0], np.nan)
    v = target.scale * x
    met = meets_array(target, v)
    first = np.where(met.any(axis=1), met.argmax(axis=1), -1)
    out[first == 0] = times[0]
    k = np.flatnonzero(first > 0)
    j = first[k]
    v0, v1 = v[k, j - 1], v[k, j]
    with np.errstate(all="ignore"):
        w = np.clip((target.threshold - v0) / (v1 - v0), 0.0, 1.0)
    w = np.where(np.isfinite(w), w, 1.0)
    out[k] = times[j - 1] + w * (times[j] - times[j - 1])
    return out
