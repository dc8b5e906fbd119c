"""The measures register: every operational measure of the plan and how the model carries it.

The register (``scenarios/measures.yaml``) is data, read with :func:`yaml.safe_load` and
checked before anything runs; every problem names the file and the key
(:class:`sim.policy.scenario.Problem`). Each measure has an ``id`` (``<clause>.<n>``), its
``clause`` and ``sentence``, the ``quote`` from the document, a bilingual ``name`` and
exactly one way the model carries it:

``lever``         one lever name or a list of them (``scenarios/levers.yaml``) with the
                  ``mapping`` from the measure's words to the lever's value;
``structure``     model variables that carry it without a lever (with a ``note``);
``out_of_scope``  the reason it is left out.

``partial`` (optional, with ``lever`` or ``structure``) says what of the measure is not
carried. Checks: unique ids, known clauses, every named lever in the registry, every named
variable in the model, and every lever of the registry claimed by at least one measure.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sim.errors import suggest
from sim.policy.scenario import Problem, ValidationError, check_bilingual, read_yaml

#: The plan's clauses that hold operational measures, in document order.
CLAUSES = ("四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四", "十五",
           "十六", "十七", "二十一")
#: How a measure is carried (the three exclusive keys).
KINDS = ("lever", "structure", "out_of_scope")
#: Status of a measure in the counts: carried fully, partly, by structure, or not at all.
STATUSES = ("lever", "partly", "structure", "out_of_scope")
MEASURE_KEYS = {"id": True, "clause": True, "sentence": True, "quote": True, "name": True,
                "lever": False, "mapping": False, "structure": False, "note": False,
                "out_of_scope": False, "partial": False}
DEFAULT_FILE = "measures.yaml"


@dataclass(frozen=True)
class Measure:
    """One measure of the plan and how the model carries it."""

    id: str
    clause: str
    sentence: int
    quote: str
    name: dict
    kind: str                      # "lever", "structure" or "out_of_scope"
    levers: tuple = ()             # lever names (kind "lever")
    variables: tuple = ()          # model variables (kind "structure")
    mapping: str = ""              # words → lever value (kind "lever")
    note: str = ""                 # how the structure carries it (kind "structure")
    reason: str = ""               # why it is left out (kind "out_of_scope")
    partial: str = ""              # what is not carried ("" = carried fully)

    @property
    def status(self) -> str:
        """``lever`` (carried by levers), ``partly`` (levers or structure, with a gap),
        ``structure`` (by structure alone) or ``out_of_scope``."""
        if self.kind == "out_of_scope":
            return "out_of_scope"
        if self.partial:
            return "partly"
        return self.kind


@dataclass(frozen=True)
class MeasureSet:
    """The register as read: measures in file order."""

    path: Path
    measures: tuple

    def __iter__(self):
        return iter(self.measures)

    def __len__(self):
        return len(self.measures)

    def by_lever(self) -> dict[str, list[Measure]]:
        """``{lever name: measures claiming it}`` in file order."""
        out: dict[str, list[Measure]] = {}
        for m in self.measures:
            for lever in m.levers:
                out.setdefault(lever, []).append(m)
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        """``{clause: {status: count, "total": n}}`` in document order, plus ``"all"``."""
        table = {c: dict.fromkeys((*STATUSES, "total"), 0) for c in CLAUSES}
        table["all"] = dict.fromkeys((*STATUSES, "total"), 0)
        for m in self.measures:
            for row in (table[m.clause], table["all"]):
                row[m.status] += 1
                row["total"] += 1
        return {c: row for c, row in table.items() if row["total"] or c == "all"}


def _names(value) -> list | None:
    """A name or a list of names as a list (None when the type is wrong)."""
    if isinstance(value, str) and value.strip():
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return list(value)
    return None


def _text(entry: Mapping, key: str, file: str, where: str, problems: list[Problem],
          required: bool) -> str:
    value = entry.get(key)
    if value is None:
        if required:
            problems.append(Problem(file, f"{where}.{key}", "missing"))
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(file, f"{where}.{key}", f"expected a non-empty text, got {value!r}"))
        return ""
    return value.strip()


def read_measures(path: str | os.PathLike, registry: Iterable[str] | None = None,
                  variables: Iterable[str] | None = None) -> tuple[MeasureSet | None, list[Problem]]:
    """Read and check the register; returns ``(MeasureSet or None, problems)``.

    ``registry``: lever names of ``levers.yaml`` (enables the lever checks, both ways);
    ``variables``: every model variable name (enables the structure checks).
    """
    problems: list[Problem] = []
    file = str(path)
    data = read_yaml(Path(path), problems)
    if data is None:
        if not problems:
            problems.append(Problem(file, "", "empty file; expected `measures:` with a list of measures"))
        return None, problems
    entries = data.get("measures") if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(file, "measures", "expected a non-empty list of measures under `measures:`"))
        return None, problems
    for k in set(data) - {"measures"}:
        problems.append(Problem(file, str(k), "unknown key; expected only `measures:`"))
    levers = list(registry) if registry is not None else None
    model_vars = list(variables) if variables is not None else None
    measures: list[Measure] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        where = f"measures[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(Problem(file, where, "expected a mapping with id, clause, sentence, quote, name "
                                    "and one of lever / structure / out_of_scope"))
            continue
        mid = entry.get("id")
        if isinstance(mid, str) and mid.strip():
            where = f"measures[{i}] ({mid})"
        else:
            problems.append(Problem(file, f"{where}.id", "missing; expected '<clause>.<n>', e.g. '六.5'"))
            mid = ""
        for k in entry:
            if k not in MEASURE_KEYS:
                problems.append(Problem(file, f"{where}.{k}", "unknown key" + suggest(str(k), MEASURE_KEYS)))
        if mid:
            if mid in seen:
                problems.append(Problem(file, f"{where}.id", f"{mid!r} is also measures[{seen[mid]}]"))
            seen.setdefault(mid, i)
        clause = entry.get("clause")
        if clause not in CLAUSES:
            problems.append(Problem(file, f"{where}.clause", f"expected one of {', '.join(CLAUSES)}, got {clause!r}"))
        elif mid and mid.split(".")[0] != clause:
            problems.append(Problem(file, f"{where}.id", f"id {mid!r} does not start with its clause {clause!r}"))
        sentence = entry.get("sentence")
        if not (isinstance(sentence, int) and not isinstance(sentence, bool) and sentence >= 1):
            problems.append(Problem(file, f"{where}.sentence", f"expected a sentence number ≥ 1, got {sentence!r}"))
            sentence = 0
        quote = _text(entry, "quote", file, where, problems, required=True)
        name = check_bilingual(entry.get("name"), file, f"{where}.name", problems)
        kinds = [k for k in KINDS if k in entry]
        if len(kinds) != 1:
            problems.append(Problem(file, where, "expected exactly one of lever, structure, out_of_scope, got "
                                    + (", ".join(kinds) if kinds else "none")))
            continue
        kind = kinds[0]
        fields: dict = {}
        if kind == "lever":
            names = _names(entry["lever"])
            if names is None:
                problems.append(Problem(file, f"{where}.lever", f"expected a lever name or a list of them, got {entry['lever']!r}"))
                names = []
            for n in names:
                if levers is not None and n not in levers:
                    problems.append(Problem(file, f"{where}.lever", f"unknown lever {n!r}" + suggest(n, levers)))
            fields = {"levers": tuple(names),
                      "mapping": _text(entry, "mapping", file, where, problems, required=True)}
        elif kind == "structure":
            names = _names(entry["structure"])
            if names is None:
                problems.append(Problem(file, f"{where}.structure", f"expected a model variable or a list of them, got {entry['structure']!r}"))
                names = []
            for n in names:
                if model_vars is not None and n not in model_vars:
                    problems.append(Problem(file, f"{where}.structure", f"{n!r} is not a variable of the model"
                                            + suggest(n, model_vars)))
            fields = {"variables": tuple(names),
                      "note": _text(entry, "note", file, where, problems, required=True)}
        else:
            fields = {"reason": _text(entry, "out_of_scope", file, where, problems, required=True)}
            for k in ("mapping", "note", "partial"):
                if k in entry:
                    problems.append(Problem(file, f"{where}.{k}", "only for measures carried by a lever or structure"))
        if kind == "structure" and "mapping" in entry:
            problems.append(Problem(file, f"{where}.mapping", "only for measures carried by a lever; use `note:`"))
        if kind == "lever" and "note" in entry:
            problems.append(Problem(file, f"{where}.note", "only for measures carried by structure; use `mapping:`"))
        partial = _text(entry, "partial", file, where, problems, required=False) if kind != "out_of_scope" else ""
        measures.append(Measure(id=mid, clause=str(clause), sentence=sentence, quote=quote,
                                name=name, kind=kind, partial=partial, **fields))
    if levers is not None:
        claimed = {n for m in measures for n in m.levers}
        for n in levers:
            if n not in claimed:
                problems.append(Problem(file, "measures", f"lever {n!r} of the registry is claimed by no measure"))
    return MeasureSet(Path(path), tuple(measures)), problems


def load_measures(path: str | os.PathLike, registry: Iterable[str] | None = None,
                  variables: Iterable[str] | None = None) -> MeasureSet:
    """:func:`read_measures`, raising :class:`ValidationError` with every problem."""
    measures, problems = read_measures(path, registry, variables)
    if problems:
        raise ValidationError(problems)
    return measures
