"""Targets: read their definitions and judge simulation results against them.

The targets file (``scenarios/targets.yaml``) is data: a ``horizons:`` block naming the
horizon years (and the base year growth is measured from) and a ``targets:`` list whose
entries refer to a horizon by name, so moving a horizon is one edit. A target's id in
the scorecard is ``<id>_<horizon year>`` (e.g. ``gdp_growth_2020``).

Measures (``value_in_year``, ``avg_growth``, ``ratio_change``, ``min_over``, ``max_over``)
are defined once, on arrays, in :mod:`sim.policy.goal_measures` (formulas there); they run
from the target's ``start`` (default: the horizon's base year) to the horizon year, on the
indicator or on ``indicator / denominator`` when a denominator is named.

The year a goal is first reached: for ``value_in_year`` on a model variable, the engine's
event time (the runner asks :func:`events_needed` which events to request and passes the
event times back: this module never touches the model); for the window measures, the
first saved year Y in the window whose measure computed from the base year to Y meets the
threshold.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import suggest
from sim.policy.goal_measures import (COMPARATORS, MEASURES, REL_TOL, margin_array, measure_array,  # noqa: F401
                                      meets_array, window_year_reached)
from sim.policy.scenario import Problem, ValidationError, check_bilingual, read_yaml

#: Event direction in which a level target's indicator crosses into "met".
EVENT_DIRECTION = {">=": "up", ">": "up", "<=": "down", "<": "down"}
BASES = ("explicit", "interpretation")
TARGET_KEYS = {"id": True, "name": True, "horizon": True, "indicator": True, "measure": True,
               "comparator": True, "threshold": True, "unit": True, "clause": True, "basis": True,
               "reasoning": False, "denominator": False, "scale": False, "start": False,
               "actual": False}
#: Keys of a target's ``actual:`` mapping (the observed series that stands for its indicator).
ACTUAL_KEYS = {"series": True, "factor": False, "note": False}
HORIZON_KEYS = {"year": True, "base_year": True, "name": False, "clause": False}

SCORECARD_COLUMNS = ["scenario", "target", "horizon", "indicator", "measure", "value", "threshold",
                     "comparator", "unit", "passed", "margin", "year_reached", "basis"]


@dataclass(frozen=True)
class Horizon:
    """A named horizon: its year and the base year window measures start from."""

    key: str
    year: float
    base_year: float
    name: dict | None = None
    clause: str = ""


@dataclass(frozen=True)
class Target:
    """One goal at one horizon (``id`` is the scorecard id ``<base_id>_<year>``)."""

    base_id: str
    name: dict
    horizon: str
    year: float
    start: float
    indicator: str
    measure: str
    comparator: str
    threshold: float
    unit: str
    clause: str
    basis: str
    reasoning: str = ""
    denominator: str | None = None
    scale: float = 1.0
    #: ``{"series": <id in data/reconciliation.yaml>, "factor": float, "note": str}`` or None:
    #: the observed series standing for the indicator (``factor`` converts its unit to the
    #: indicator's model unit), judged by the same measure (see :mod:`sim.history`).
    actual: Mapping | None = None

    @property
    def id(self) -> str:
        return f"{self.base_id}_{int(self.year) if float(self.year).is_integer() else self.year}"

    @property
    def label(self) -> str:
        """The indicator as read by the measure (``A / B`` for a ratio of two variables)."""
        return f"{self.indicator} / {self.denominator}" if self.denominator else self.indicator

    def variables(self) -> list[str]:
        """Model variables the measure reads."""
        return [self.indicator] + ([self.denominator] if self.denominator else [])

    def meets(self, value: float) -> bool:
        """True when ``value`` satisfies the comparator (``>=``/``<=`` accept a tiny tolerance;
        :func:`sim.policy.goal_measures.meets_array`)."""
        if value is None:
            return False
        return bool(meets_array(self, value))

    def margin(self, value: float) -> float:
        """``value - threshold`` signed so that positive means met with room (NaN if undefined)."""
        if value is None or not math.isfinite(value):
            return math.nan
        return float(margin_array(self, value))


@dataclass(frozen=True)
class TargetSet:
    """Horizons and targets read from one file."""

    path: Path
    horizons: dict[str, Horizon]
    targets: list[Target]

    def __iter__(self):
        return iter(self.targets)

    def __len__(self):
        return len(self.targets)

    def by_id(self) -> dict[str, Target]:
        return {t.id: t for t in self.targets}

    def indicators(self) -> list[str]:
        """Every model variable the targets read, in file order, without repeats."""
        return list(dict.fromkeys(v for t in self.targets for v in t.variables()))


@dataclass(frozen=True)
class EventRequest:
    """An event a level target needs from the engine: when ``variable`` crosses ``threshold``."""

    key: str
    variable: str
    threshold: float
    direction: str


# --------------------------------------------------------------------------- reading
def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def read_targets(path: str | os.PathLike, model_variables: Iterable[str] | None = None
                 ) -> tuple[TargetSet | None, list[Problem]]:
    """Read a targets file; return what could be read and every problem found.

    ``model_variables`` (names as in the .mdl) enables the check that indicators exist.
    """
    problems: list[Problem] = []
    file = str(path)
    data = read_yaml(Path(path), problems)
    if data is None:
        if not problems:
            problems.append(Problem(file, "", "empty file; expected `horizons:` and `targets:`"))
        return None, problems
    if not isinstance(data, Mapping):
        problems.append(Problem(file, "", "expected a mapping with `horizons:` and `targets:`"))
        return None, problems
    for k in set(data) - {"horizons", "targets"}:
        problems.append(Problem(file, str(k), "unknown key" + suggest(str(k), ["horizons", "targets"])))
    horizons = _read_horizons(data.get("horizons"), file, problems)
    variables = None if model_variables is None else list(model_variables)
    entries = data.get("targets")
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(file, "targets", "expected a non-empty list of targets"))
        entries = []
    targets: list[Target] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        t = _read_target(entry, i, file, horizons, variables, problems)
        if t is None:
            continue
        if t.id in seen:
            problems.append(Problem(file, f"targets[{i}].id", f"target {t.id!r} (id at this horizon) is "
                                    f"already defined at {seen[t.id]}"))
            continue
        seen[t.id] = f"targets[{i}]"
        targets.append(t)
    return TargetSet(Path(path), horizons, targets), problems


def _read_horizons(block, file: str, problems: list[Problem]) -> dict[str, Horizon]:
    if not isinstance(block, Mapping) or not block:
        problems.append(Problem(file, "horizons", "expected a mapping horizon name → {year, base_year}"))
        return {}
    out = {}
    for key, h in block.items():
        where = f"horizons.{key}"
        if not isinstance(h, Mapping):
            problems.append(Problem(file, where, "expected a mapping with year and base_year"))
            continue
        for k, required in HORIZON_KEYS.items():
            if required and k not in h:
                problems.append(Problem(file, f"{where}.{k}", "missing"))
        for k in set(h) - set(HORIZON_KEYS):
            problems.append(Problem(file, f"{where}.{k}", "unknown key" + suggest(str(k), HORIZON_KEYS)))
        year, base = h.get("year"), h.get("base_year")
        if not _num(year) or not _num(base):
            if "year" in h and not _num(year):
                problems.append(Problem(file, f"{where}.year", f"expected a year, got {year!r}"))
            if "base_year" in h and not _num(base):
                problems.append(Problem(file, f"{where}.base_year", f"expected a year, got {base!r}"))
            continue
        if base >= year:
            problems.append(Problem(file, f"{where}.base_year", f"{base} must be before the horizon year {year}"))
            continue
        name = check_bilingual(h["name"], file, f"{where}.name", problems) if "name" in h else None
        out[str(key)] = Horizon(str(key), float(year), float(base), name, str(h.get("clause", "") or ""))
    return out


def _read_target(entry, i: int, file: str, horizons: Mapping[str, Horizon], variables, problems
                 ) -> Target | None:
    where = f"targets[{i}]"
    if not isinstance(entry, Mapping):
        problems.append(Problem(file, where, "expected a mapping"))
        return None
    if isinstance(entry.get("id"), str):
        where = f"targets[{i}] ({entry['id']})"
    n_before = len(problems)
    for k, required in TARGET_KEYS.items():
        if required and k not in entry:
            problems.append(Problem(file, f"{where}.{k}", "missing"))
    for k in set(entry) - set(TARGET_KEYS):
        problems.append(Problem(file, f"{where}.{k}", "unknown key" + suggest(str(k), TARGET_KEYS)))
    if "id" in entry and (not isinstance(entry["id"], str) or not entry["id"].isidentifier()):
        problems.append(Problem(file, f"{where}.id", f"expected a lower_case identifier, got {entry['id']!r}"))
    name = check_bilingual(entry.get("name"), file, f"{where}.name", problems) if "name" in entry else {}
    measure = entry.get("measure")
    if "measure" in entry and measure not in MEASURES:
        problems.append(Problem(file, f"{where}.measure", f"unknown measure {measure!r}; expected one of "
                                f"{', '.join(MEASURES)}" + suggest(str(measure), MEASURES)))
    comp = entry.get("comparator")
    if "comparator" in entry and comp not in COMPARATORS:
        problems.append(Problem(file, f"{where}.comparator", f"unknown comparator {comp!r}; expected one "
                                f"of {', '.join(COMPARATORS)}"))
    hkey = entry.get("horizon")
    if "horizon" in entry and hkey not in horizons:
        problems.append(Problem(file, f"{where}.horizon", f"horizon {hkey!r} is not defined in `horizons:`"
                                + suggest(str(hkey), horizons)))
    threshold = entry.get("threshold")
    if "threshold" in entry and not _num(threshold):
        problems.append(Problem(file, f"{where}.threshold", f"expected a number, got {threshold!r}"))
    scale = entry.get("scale", 1.0)
    if not _num(scale) or scale == 0:
        problems.append(Problem(file, f"{where}.scale", f"expected a non-zero number, got {scale!r}"))
    if measure == "avg_growth" and "scale" in entry:
        problems.append(Problem(file, f"{where}.scale", "avg_growth is always in %/yr; scale does not apply"))
    basis = entry.get("basis")
    if "basis" in entry and basis not in BASES:
        problems.append(Problem(file, f"{where}.basis", f"expected 'explicit' or 'interpretation', got {basis!r}"))
    reasoning = entry.get("reasoning", "")
    if basis == "interpretation" and not (isinstance(reasoning, str) and reasoning.strip()):
        problems.append(Problem(file, f"{where}.reasoning", "an interpretation must state its reasoning"))
    for k in ("indicator", "denominator"):
        v = entry.get(k)
        if k not in entry:
            continue
        if not isinstance(v, str) or not v.strip():
            problems.append(Problem(file, f"{where}.{k}", f"expected a model variable name, got {v!r}"))
        elif variables is not None and v not in variables:
            problems.append(Problem(file, f"{where}.{k}", f"{v!r} is not a model variable" + suggest(v, variables)))
    if entry.get("denominator") is not None and measure in ("avg_growth",):
        problems.append(Problem(file, f"{where}.denominator", "only value, ratio and min/max measures take a denominator"))
    start = entry.get("start")
    if start is not None and not _num(start):
        problems.append(Problem(file, f"{where}.start", f"expected a year, got {start!r}"))
    actual = _read_actual(entry.get("actual"), file, f"{where}.actual", problems) if "actual" in entry else None
    if len(problems) > n_before or hkey not in horizons:
        return None
    h = horizons[hkey]
    start = float(start) if start is not None else h.base_year
    if measure != "value_in_year" and start >= h.year:
        problems.append(Problem(file, f"{where}.start", f"{start:g} must be before the horizon year {h.year:g}"))
        return None
    return Target(base_id=entry["id"], name=name, horizon=hkey, year=h.year, start=start,
                  indicator=entry["indicator"], measure=measure, comparator=comp,
                  threshold=float(threshold), unit=str(entry["unit"]), clause=str(entry["clause"]),
                  basis=basis, reasoning=str(reasoning or "").strip(),
                  denominator=entry.get("denominator"), scale=float(scale), actual=actual)


def _read_actual(value, file: str, where: str, problems: list[Problem]) -> dict | None:
    """``actual: <series>`` or ``actual: {series, factor, note}`` -> the mapping (or None)."""
    if isinstance(value, str):
        value = {"series": value}
    if not isinstance(value, Mapping):
        problems.append(Problem(file, where, "expected an observed series id or a mapping {series, "
                                f"factor, note}}, got {value!r}"))
        return None
    n = len(problems)
    for k in set(value) - set(ACTUAL_KEYS):
        problems.append(Problem(file, f"{where}.{k}", "unknown key" + suggest(str(k), ACTUAL_KEYS)))
    series = value.get("series")
    if not isinstance(series, str) or not series.strip():
        problems.append(Problem(file, f"{where}.series", f"expected a series id of "
                                f"data/reconciliation.yaml, got {series!r}"))
    factor = value.get("factor", 1.0)
    if not _num(factor) or factor == 0:
        problems.append(Problem(file, f"{where}.factor", f"expected a non-zero number, got {factor!r}"))
    note = value.get("note", "")
    if not isinstance(note, str):
        problems.append(Problem(file, f"{where}.note", f"expected text, got {note!r}"))
    if len(problems) > n:
        return None
    return {"series": series, "factor": float(factor), "note": " ".join(note.split())}


def validate_targets(path: str | os.PathLike, model_variables: Iterable[str] | None = None) -> list[Problem]:
    """Every problem of a targets file (an empty list when it is valid)."""
    return read_targets(path, model_variables)[1]


def load_targets(path: str | os.PathLike, model_variables: Iterable[str] | None = None) -> TargetSet:
    """Read a targets file; raise :class:`~sim.policy.scenario.ValidationError` listing every problem."""
    targets, problems = read_targets(path, model_variables)
    if problems:
        raise ValidationError(problems)
    return targets


# --------------------------------------------------------------------------- measures
def indicator_series(results: pd.DataFrame, target: Target) -> pd.Series:
    """The series a target reads from a results frame (indicator, or indicator / denominator)."""
    missing = [v for v in target.variables() if v not in results.columns]
    if missing:
        raise KeyError(f"target {target.id}: results have no column {missing[0]!r}"
                       + suggest(missing[0], results.columns))
    s = results[target.indicator].astype(float)
    if target.denominator:
        s = s / results[target.denominator].astype(float)
    s.name = target.label
    return s


def _as_array(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(x (1 × times), times)`` of a series indexed by float years."""
    return s.to_numpy(dtype=float)[None, :], s.index.to_numpy(dtype=float)


def measure(results: pd.DataFrame | pd.Series, target: Target, end: float | None = None) -> float:
    """The target's measure on one run's results, over [target.start, end] (default: the
    horizon year); computed by :func:`sim.policy.goal_measures.measure_array`."""
    s = results if isinstance(results, pd.Series) else indicator_series(results, target)
    x, times = _as_array(s)
    try:
        return float(measure_array(x, times, target, end)[0])
    except ValueError as err:
        raise ValueError(f"{s.name!r}: {err}") from None


# --------------------------------------------------------------------------- events and years
def uses_event(target: Target) -> bool:
    """Level targets on a single model variable take their year from the engine's events."""
    return target.measure == "value_in_year" and target.denominator is None


def event_key(target: Target) -> str:
    return f"target:{target.id}"


def events_needed(targets: Iterable[Target]) -> list[EventRequest]:
    """Events the runner must ask the engine for (thresholds in the model's units)."""
    return [EventRequest(event_key(t), t.indicator, t.threshold / t.scale,
                         EVENT_DIRECTION[t.comparator] if t.scale > 0 else
                         {"up": "down", "down": "up"}[EVENT_DIRECTION[t.comparator]])
            for t in targets if uses_event(t)]


def year_reached(results: pd.DataFrame | pd.Series, target: Target,
                 event_times: Mapping[str, float | None] | None = None) -> float:
    """First year (float) the goal is met; NaN when never.

    Level targets: the first results time if the goal already holds there, else the event
    time for :func:`event_key` in ``event_times`` (when given), else the first saved time
    that meets it. Window measures: the first saved year Y in (start, horizon] (from start
    for min/max) whose measure over [start, Y] meets the threshold.
    """
    s = results if isinstance(results, pd.Series) else indicator_series(results, target)
    x, times = _as_array(s)
    if target.measure == "value_in_year":
        values = s.to_numpy(dtype=float) * target.scale
        if target.meets(values[0]):
            return float(times[0])
        if event_times is not None and uses_event(target):
            t = event_times.get(event_key(target))
            if t is not None and math.isfinite(t):
                return float(t)
        hits = times[meets_array(target, values)]
        return float(hits[0]) if hits.size else math.nan
    return float(window_year_reached(x, times, target)[0])


# --------------------------------------------------------------------------- scorecard
def judge(results: pd.DataFrame, target: Target, scenario: str,
          event_times: Mapping[str, float | None] | None = None) -> dict:
    """One scorecard row for a scenario's results and a target."""
    s = indicator_series(results, target)
    value = measure(s, target)
    return {"scenario": scenario, "target": target.id, "horizon": int(target.year)
            if float(target.year).is_integer() else target.year,
            "indicator": target.label, "measure": target.measure, "value": value,
            "threshold": target.threshold, "comparator": target.comparator, "unit": target.unit,
            "passed": bool(target.meets(value)), "margin": target.margin(value),
            "year_reached": year_reached(s, target, event_times), "basis": target.basis}


def scorecard(results: Mapping[str, pd.DataFrame], targets: Iterable[Target],
              event_times: Mapping[str, Mapping[str, float | None]] | None = None) -> pd.DataFrame:
    """Scorecard, one row per scenario × target (columns ``SCORECARD_COLUMNS``).

    ``results``: scenario id → results DataFrame (index: float years; columns: model
    names). ``event_times``: scenario id → {event key: time or None}, as returned by the
    engine for :func:`events_needed`; without it, years come from the saved times.
    """
    targets = list(targets)
    rows = [judge(df, t, sid, None if event_times is None else event_times.get(sid, {}))
            for sid, df in results.items() for t in targets]
    out = pd.DataFrame(rows, columns=SCORECARD_COLUMNS)
    out["passed"] = out["passed"].astype(bool)
    return out
