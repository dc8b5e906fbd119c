"""Scenario files: read them, check them against the lever registry, resolve ``extends``.

A scenario file (``scenarios/<id>.yaml``, format in ``docs/design.md``) is data, never
code: it is read with :func:`yaml.safe_load` and every value is checked against the lever
registry (``scenarios/levers.yaml``: name, unit, range) before anything runs. All problems
are collected and reported together, each naming its file and key
(:class:`Problem`, :class:`ValidationError`).

:func:`resolve` turns a scenario and its ancestors into the engine's ``params``: a number
(a constant in the lever's own unit) or a :class:`pandas.Series` indexed by year (float
years; the engine interpolates linearly between points and holds the ends flat).

Lever values in a scenario file
-------------------------------
``3.5``
    a constant. It applies from the scenario's ``policy_start`` year; before it the
    parent's path holds (a step at ``policy_start``). Levers whose unit is ``Year``
    (start years, e.g. a closure year) are not gated: the year itself says when.
``{2016: 3.0, 2020: 6.0}``
    a year → value table, linear between points, flat after the last. Before its first
    year the parent's path holds (a step at the first year).
``{value: 3.5, unit: CNY100M/Year}``
    either form above with the unit stated; it must equal the registry's unit.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.errors import SimError, suggest
from sim.policy import yamlfile

#: Files in a scenario folder that are not scenarios.
NON_SCENARIO_FILES = frozenset({"levers.yaml", "targets.yaml", "uncertainties.yaml", "measures.yaml"})
#: The only scenario allowed to have no ``extends``.
ROOT_SCENARIO = "baseline"
#: Keys a scenario file may have (``levers`` may be empty or absent).
SCENARIO_KEYS = ("id", "name", "description", "extends", "policy_start", "levers")
LANGS = ("zh", "en")
#: Width of a step (years): the parent's value holds until ``start - STEP_WIDTH_YEARS``.
STEP_WIDTH_YEARS = 1e-3
#: Unit of levers that are start years (not gated by ``policy_start``).
YEAR_UNIT = "Year"
#: Registry entry keys and whether they are required.
LEVER_KEYS = {"name": True, "unit": True, "range": True, "clause": True, "en": True,
              "zh": True, "cost": False}


@dataclass(frozen=True)
class Problem:
    """One validation problem: the file, the key inside it, and what was expected."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}" if self.key else f"{self.file}: {self.message}"


class ValidationError(SimError, ValueError):
    """Scenario, registry or target files are invalid; ``.problems`` lists every problem."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s):\n" + "\n".join(f"  {p}" for p in self.problems))


@dataclass(frozen=True)
class Lever:
    """A registry entry: a model constant a scenario may set, with its unit and range."""

    name: str
    unit: str
    low: float
    high: float
    clause: str = ""
    en: str = ""
    zh: str = ""
    cost: float | None = None

    @property
    def is_year(self) -> bool:
        """True for start-year levers (unit ``Year``)."""
        return _norm_unit(self.unit) == YEAR_UNIT


@dataclass
class Scenario:
    """A scenario file as read (values not yet resolved against its ancestors)."""

    id: str
    path: Path
    name: dict = field(default_factory=dict)
    description: dict = field(default_factory=dict)
    extends: str | None = None
    policy_start: float | None = None
    levers: dict = field(default_factory=dict)

    def meta(self) -> dict:
        """Metadata for figures and the manifest (no lever values)."""
        return {"id": self.id, "name": dict(self.name), "description": dict(self.description),
                "extends": self.extends, "policy_start": self.policy_start,
                "file": str(self.path)}


# --------------------------------------------------------------------------- helpers
def _norm_unit(unit) -> str:
    return "".join(str(unit).split())


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _as_year(x) -> float | None:
    """A table key as a year (float) or None when not numeric."""
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, str):
        try:
            y = float(x.strip())
        except ValueError:
            return None
        return y if math.isfinite(y) else None
    return None


def read_yaml(path: Path, problems: list[Problem]):
    """Read a data file with the strict reader (:mod:`sim.policy.yamlfile`: no duplicate
    keys, no aliases, UTF-8, size-limited); any problem is appended (returns None)."""
    try:
        return yamlfile.load(path)
    except (OSError, yamlfile.YamlFileError, yaml.YAMLError) as err:
        problems.append(Problem(str(path), "", yamlfile.describe(err)))
    return None


def check_bilingual(value, file: str, key: str, problems: list[Problem]) -> dict:
    """Check ``{zh: ..., en: ...}`` with two non-empty strings; return what was usable."""
    if not isinstance(value, Mapping):
        problems.append(Problem(file, key, "expected a mapping {zh: ..., en: ...} with a Chinese "
                                f"and an English text, got {type(value).__name__}"))
        return {}
    for lang in LANGS:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            problems.append(Problem(file, f"{key}.{lang}", "missing or empty "
                                    f"{'Chinese' if lang == 'zh' else 'English'} text"))
    for extra in set(value) - set(LANGS):
        problems.append(Problem(file, f"{key}.{extra}", "unknown language key; expected zh and en"))
    return {k: v for k, v in value.items() if k in LANGS and isinstance(v, str)}


# --------------------------------------------------------------------------- registry
def load_registry(path: str | os.PathLike, problems: list[Problem] | None = None) -> dict[str, Lever]:
    """Read the lever registry; problems are appended to ``problems`` (or raised together).

    Returns ``{lever name: Lever}``. Ranges are inclusive ``[low, high]`` in the lever's unit.
    """
    own = problems is None
    problems = [] if own else problems
    file = str(path)
    data = read_yaml(Path(path), problems)
    registry: dict[str, Lever] = {}
    if data is not None:
        entries = data.get("levers") if isinstance(data, Mapping) else None
        if not isinstance(entries, list):
            problems.append(Problem(file, "levers", "expected a list of lever entries under `levers:`"))
            entries = []
        for i, entry in enumerate(entries):
            key = f"levers[{i}]"
            if not isinstance(entry, Mapping):
                problems.append(Problem(file, key, "expected a mapping with name, unit, range, clause, en, zh"))
                continue
            name = entry.get("name")
            if isinstance(name, str):
                key = f"levers[{i}] ({name})"
            for k, required in LEVER_KEYS.items():
                if required and k not in entry:
                    problems.append(Problem(file, f"{key}.{k}", "missing"))
            for k in set(entry) - set(LEVER_KEYS):
                problems.append(Problem(file, f"{key}.{k}", "unknown key" + suggest(str(k), LEVER_KEYS)))
            rng = entry.get("range")
            ok_range = (isinstance(rng, list) and len(rng) == 2 and all(_is_number(v) for v in rng)
                        and rng[0] <= rng[1])
            if "range" in entry and not ok_range:
                problems.append(Problem(file, f"{key}.range", f"expected [low, high] numbers with low <= high, got {rng!r}"))
            if not isinstance(name, str) or not name.strip():
                problems.append(Problem(file, f"{key}.name", "expected a model variable name"))
                continue
            if name in registry:
                problems.append(Problem(file, key, f"lever {name!r} is listed twice"))
                continue
            cost = entry.get("cost")
            if cost is not None and not _is_number(cost):
                problems.append(Problem(file, f"{key}.cost", f"expected a number, got {cost!r}"))
                cost = None
            registry[name] = Lever(
                name=name, unit=str(entry.get("unit", "")),
                low=float(rng[0]) if ok_range else -math.inf,
                high=float(rng[1]) if ok_range else math.inf,
                clause=str(entry.get("clause", "") or ""), en=str(entry.get("en", "") or ""),
                zh=str(entry.get("zh", "") or ""), cost=cost)
    if own and problems:
        raise ValidationError(problems)
    return registry


def check_registry_against_model(registry: Mapping[str, Lever], file: str, constants: Iterable[str],
                                 units: Mapping[str, str | None] | None = None) -> list[Problem]:
    """Every lever must be a model constant, with the model's unit when ``units`` is given."""
    problems = []
    constants = list(constants)
    for name, lever in registry.items():
        if name not in constants:
            problems.append(Problem(file, name, "not a constant of the model" + suggest(name, constants)))
        elif units is not None and units.get(name) is not None and _norm_unit(units[name]) != _norm_unit(lever.unit):
            problems.append(Problem(file, f"{name}.unit", f"registry says {lever.unit!r} but the model "
                                    f"says {units[name]!r}"))
    return problems


# --------------------------------------------------------------------------- scenario files
def scenario_files(directory: str | os.PathLike) -> list[Path]:
    """The scenario files of a folder: ``*.yaml`` except the registry and the targets."""
    return sorted(p for p in Path(directory).glob("*.yaml") if p.name not in NON_SCENARIO_FILES)


def read_scenarios(directory: str | os.PathLike, problems: list[Problem]) -> dict[str, Scenario]:
    """Read every scenario file of a folder (structure only: ids, names, keys)."""
    scenarios: dict[str, Scenario] = {}
    for path in scenario_files(directory):
        file = str(path)
        data = read_yaml(path, problems)
        if data is None:
            if path.stat().st_size == 0 or not any(p.file == file for p in problems):
                problems.append(Problem(file, "", "empty file; expected a scenario mapping"))
            continue
        if not isinstance(data, Mapping):
            problems.append(Problem(file, "", f"expected a mapping at the top level, got {type(data).__name__}"))
            continue
        for k in data:
            if k not in SCENARIO_KEYS:
                problems.append(Problem(file, str(k), "unknown key" + suggest(str(k), SCENARIO_KEYS)))
        sid = data.get("id")
        if not isinstance(sid, str) or not sid:
            problems.append(Problem(file, "id", "missing; expected the scenario id (the file name without .yaml)"))
            sid = path.stem
        elif sid != path.stem:
            problems.append(Problem(file, "id", f"{sid!r} differs from the file name {path.stem!r}"))
            sid = path.stem  # go on under the file's name, so children do not report it missing
        if sid in scenarios:
            problems.append(Problem(file, "id", f"{sid!r} is also defined in {scenarios[sid].path}"))
            continue
        name = check_bilingual(data.get("name"), file, "name", problems)
        desc = check_bilingual(data.get("description"), file, "description", problems)
        extends = data.get("extends")
        if "extends" not in data and sid != ROOT_SCENARIO:
            problems.append(Problem(file, "extends", f"missing: every scenario except {ROOT_SCENARIO!r} "
                                    "names its parent scenario"))
        if "extends" in data and (extends is None or (isinstance(extends, str) and not extends.strip())):
            problems.append(Problem(file, "extends", "empty: name the parent scenario (e.g. extends: "
                                    f"{ROOT_SCENARIO}); only {ROOT_SCENARIO!r} has no extends, and "
                                    "it leaves the key out"))
            extends = None
        elif extends is not None and not isinstance(extends, str):
            problems.append(Problem(file, "extends", f"expected a scenario id, got {extends!r}"))
            extends = None
        start = data.get("policy_start")
        if start is not None and (not _is_number(start) or start != int(start)):
            problems.append(Problem(file, "policy_start", f"expected a whole year, got {start!r}"))
            start = None
        levers = data.get("levers") or {}
        if not isinstance(levers, Mapping):
            problems.append(Problem(file, "levers", f"expected a mapping lever name → value, got {type(levers).__name__}"))
            levers = {}
        scenarios[sid] = Scenario(id=sid, path=path, name=name, description=desc, extends=extends,
                                  policy_start=None if start is None else float(start),
                                  levers=dict(levers))
    return scenarios


def lineage(sid: str, scenarios: Mapping[str, Scenario]) -> list[str]:
    """Ids from the root ancestor down to ``sid``; raises ValueError on a cycle or a missing parent."""
    chain = [sid]
    while True:
        parent = scenarios[chain[-1]].extends
        if parent is None:
            return chain[::-1]
        if parent in chain:
            raise ValueError("cyclic extends: " + " → ".join(chain + [parent]))
        if parent not in scenarios:
            raise KeyError(parent)
        chain.append(parent)


def policy_start_of(sid: str, scenarios: Mapping[str, Scenario]) -> float | None:
    """The scenario's ``policy_start``, inherited from the nearest ancestor that sets one."""
    for s in reversed(lineage(sid, scenarios)):
        if scenarios[s].policy_start is not None:
            return scenarios[s].policy_start
    return None


def check_extends(scenarios: Mapping[str, Scenario], problems: list[Problem]) -> None:
    """Missing parents (with suggestions) and cycles, one problem each."""
    reported_cycles: set[frozenset] = set()
    for sid, sc in scenarios.items():
        if sc.extends is not None and sc.extends not in scenarios:
            problems.append(Problem(str(sc.path), "extends", f"unknown scenario {sc.extends!r}"
                                    + suggest(sc.extends, scenarios)))
            continue
        try:
            lineage(sid, scenarios)
        except ValueError as err:
            cycle = frozenset(str(err).split(": ", 1)[1].split(" → "))
            if cycle not in reported_cycles:
                reported_cycles.add(cycle)
                problems.append(Problem(str(sc.path), "extends", str(err)))
        except KeyError:
            pass  # reported on the scenario whose parent is missing


def split_value(raw):
    """``(value, stated unit or None)`` from a lever entry (``{value:, unit:}`` or bare)."""
    if isinstance(raw, Mapping) and "value" in raw:
        return raw["value"], raw.get("unit")
    return raw, None


def check_lever_value(file: str, name: str, raw, lever: Lever, time_span: tuple[float, float] | None,
                      problems: list[Problem]) -> None:
    """Type, unit, range and table-year checks for one lever entry."""
    key = f"levers.{name}"
    if isinstance(raw, Mapping) and "value" in raw:
        for extra in set(raw) - {"value", "unit"}:
            problems.append(Problem(file, f"{key}.{extra}", "unknown key; expected `value` and optionally `unit`"))
        if "unit" in raw and _norm_unit(raw["unit"]) != _norm_unit(lever.unit):
            problems.append(Problem(file, f"{key}.unit", f"wrong unit {raw['unit']!r}: the registry's unit "
                                    f"for {name!r} is {lever.unit!r}"))
    value, _ = split_value(raw)
    span = f"[{lever.low:g}, {lever.high:g}] {lever.unit}"
    if _is_number(value):
        if not lever.low <= value <= lever.high:
            problems.append(Problem(file, key, f"value {value:g} out of range {span}"))
        if lever.is_year and value != int(value):
            problems.append(Problem(file, key, f"a start year must be a whole year, got {value:g}"))
        return
    if isinstance(value, Mapping) and value:
        if lever.is_year:
            problems.append(Problem(file, key, "wrong type: a start-year lever takes one year, not a table"))
            return
        seen_years: dict[float, object] = {}
        for year_key, v in value.items():
            year = _as_year(year_key) if not isinstance(year_key, str) else None
            if year is None:
                hint = ("; write it without quotes" if isinstance(year_key, str)
                        and _as_year(year_key) is not None else "")
                problems.append(Problem(file, f"{key}.{year_key}", f"table year {year_key!r} is not a number{hint}"))
            elif year in seen_years:
                problems.append(Problem(file, f"{key}.{year_key}", f"table year {year_key!r} is the same year "
                                        f"as {seen_years[year]!r}: give each year once"))
            else:
                seen_years[year] = year_key
                if time_span is not None and not time_span[0] <= year <= time_span[1]:
                    problems.append(Problem(file, f"{key}.{year_key}", f"table year {year:g} is outside the "
                                            f"model's time span {time_span[0]:g}–{time_span[1]:g}"))
            if not _is_number(v):
                problems.append(Problem(file, f"{key}.{year_key}", f"wrong type: expected a number, got {v!r}"))
            elif not lever.low <= v <= lever.high:
                problems.append(Problem(file, f"{key}.{year_key}", f"value {v:g} out of range {span}"))
        return
    expected = "a start year" if lever.is_year else "a number, a {year: value} table or {value: ..., unit: ...}"
    problems.append(Problem(file, key, f"wrong type: expected {expected}, got "
                            f"{type(value).__name__} {value!r}"))


def validate_scenarios(scenarios: Mapping[str, Scenario], registry: Mapping[str, Lever] | None,
                       time_span: tuple[float, float] | None = None) -> list[Problem]:
    """Every problem of already-read scenarios against the registry (not raised).

    ``registry=None`` (the registry itself could not be read) skips the lever checks.
    """
    problems: list[Problem] = []
    check_extends(scenarios, problems)
    for sid, sc in scenarios.items():
        file = str(sc.path)
        if sc.policy_start is not None and time_span is not None and not time_span[0] <= sc.policy_start <= time_span[1]:
            problems.append(Problem(file, "policy_start", f"{sc.policy_start:g} is outside the model's time "
                                    f"span {time_span[0]:g}–{time_span[1]:g}"))
        for name, raw in sc.levers.items():
            if registry is None:
                break
            if name not in registry:
                problems.append(Problem(file, f"levers.{name}", "unknown lever" + suggest(str(name), registry)))
                continue
            check_lever_value(file, name, raw, registry[name], time_span, problems)
    return problems


@dataclass
class ScenarioSet:
    """Validated scenarios with their registry; ``resolve`` gives engine params."""

    scenarios: dict[str, Scenario]
    registry: dict[str, Lever]
    registry_path: Path
    time_span: tuple[float, float] | None = None

    def ids(self) -> list[str]:
        """Scenario ids, parents before children, then alphabetically."""
        return sorted(self.scenarios, key=lambda s: (len(lineage(s, self.scenarios)), s))

    def meta(self) -> dict[str, dict]:
        return {sid: self.scenarios[sid].meta() for sid in self.ids()}

    def resolve(self, sid: str, defaults: Mapping[str, float] | None = None) -> dict:
        return resolve(sid, self.scenarios, self.registry, defaults=defaults, time_span=self.time_span)


def load_scenarios(directory: str | os.PathLike, registry: str | os.PathLike | None = None,
                   time_span: tuple[float, float] | None = None) -> ScenarioSet:
    """Read and validate a scenario folder; raise :class:`ValidationError` with every problem.

    ``registry`` defaults to ``<directory>/levers.yaml``; ``time_span`` (INITIAL TIME,
    FINAL TIME in years) enables the year checks.
    """
    problems: list[Problem] = []
    registry_path = Path(registry) if registry is not None else Path(directory) / "levers.yaml"
    levers = load_registry(registry_path, problems)
    scenarios = read_scenarios(directory, problems)
    if not scenarios and not problems:
        problems.append(Problem(str(directory), "", "no scenario files (*.yaml) found"))
    problems += validate_scenarios(scenarios, levers, time_span)
    if problems:
        raise ValidationError(problems)
    return ScenarioSet(scenarios, levers, registry_path, time_span)


# --------------------------------------------------------------------------- resolution
# A lever path during resolution: a float (constant) or sorted [(year, value), ...].

def _value_at(path, t: float) -> float:
    if isinstance(path, float):
        return path
    years, values = zip(*path)
    return float(np.interp(t, years, values))


def points_before(path, t: float) -> list[tuple[float, float]]:
    """The parent's path up to just before ``t`` (ending with a point at ``t - step``)."""
    cut = t - STEP_WIDTH_YEARS
    if isinstance(path, float):
        return [(cut, path)]
    kept = [(y, v) for y, v in path if y < cut]
    return kept + [(cut, _value_at(path, cut))]


def _apply(parent, value, start: float | None, t0: float | None, is_year: bool):
    """The lever path after a scenario sets ``value`` over its parent's ``parent`` path."""
    if isinstance(value, Mapping):
        table = sorted((_as_year(k), float(v)) for k, v in value.items())
        first = table[0][0]
        if parent is None or (t0 is not None and first <= t0):
            return table if len(table) > 1 else float(table[0][1])
        return points_before(parent, first) + table
    c = float(value)
    if is_year or start is None or parent is None or (t0 is not None and start <= t0):
        return c
    if isinstance(parent, float) and parent == c:
        return c
    return points_before(parent, start) + [(float(start), c)]


def resolve(sid: str, scenarios: Mapping[str, Scenario], registry: Mapping[str, Lever], *,
            defaults: Mapping[str, float] | None = None,
            time_span: tuple[float, float] | None = None) -> dict:
    """Engine ``params`` for a scenario: ``{lever name: float or pandas.Series(year → value)}``.

    Only levers set by the scenario or an ancestor appear. ``defaults`` holds the model's
    own values of the levers (needed where a constant or table starts after INITIAL TIME:
    before it the model's value holds). Values are in the registry's units.
    """
    t0 = time_span[0] if time_span else None
    paths: dict[str, object] = {}
    for s in lineage(sid, scenarios):
        start = policy_start_of(s, scenarios)
        for name, raw in scenarios[s].levers.items():
            value, _ = split_value(raw)
            parent = paths.get(name)
            if parent is None and defaults is not None and name in defaults:
                parent = float(defaults[name])
            needs_parent = not registry[name].is_year and (
                (isinstance(value, Mapping) and (t0 is None or min(_as_year(k) for k in value) > t0))
                or (not isinstance(value, Mapping) and start is not None and (t0 is None or start > t0)))
            if parent is None and needs_parent:
                raise SimError(f"{scenarios[s].path}: levers.{name}: the model's default value is "
                               "needed for the years before the lever takes effect; pass defaults=")
            paths[name] = _apply(parent, value, start, t0, registry[name].is_year)
    return {name: _to_param(p) for name, p in paths.items()}


def _to_param(path):
    if isinstance(path, float):
        return path
    years = [y for y, _ in path]
    values = [v for _, v in path]
    if len(set(values)) == 1:
        return float(values[0])
    return pd.Series(values, index=pd.Index(years, dtype=float, name="year"), dtype=float)


def param_to_json(value) -> float | list[list[float]]:
    """A resolved param for the manifest: a number, or ``[[year, value], ...]``."""
    if isinstance(value, pd.Series):
        return [[float(t), float(v)] for t, v in value.items()]
    return float(value)
