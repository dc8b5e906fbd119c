"""Read a Vensim ``.mdl`` file for documentation and checking (not for simulation).

PySD's own Vensim parser does the hard part: :class:`pysd.translators.vensim.
vensim_file.VensimFile` splits the file into equations and sketch, its section
grammar splits the equations into elements (``lhs = rhs ~ units ~ comment |``) and
each element's right-hand side is parsed into PySD's abstract syntax tree.  PySD
drops the *groups* (Vensim's ``****`` / ``.Name`` / ``****`` separators), so this
module visits the section grammar itself to keep them, in file order.

Public API::

    model = read_mdl("models/jingdezhen.mdl")        # -> MdlModel
    model.elements        # list[MdlElement], file order (controls included)
    model.groups          # list[str], file order
    model["GDP real"]     # lookup by name (case, space and underscore insensitive)

Each :class:`MdlElement` carries ``name``, ``equation`` (right-hand side text),
``units`` (string, limits removed), ``limits`` (``(min, max)`` with ``None`` for an
open ``?`` end, or ``None`` when not given), ``comment``, ``group`` and ``kind``
(``stock``, ``lookup``, ``constant``, ``auxiliary``, ``data`` or ``control``), plus the
PySD ``ast`` and the names it depends on.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from pysd.translators.structures import abstract_expressions as ae
from pysd.translators.vensim import vensim_utils as vu
from pysd.translators.vensim.vensim_element import (
    Data, Element, Lookup, SubscriptRange)
from pysd.translators.vensim.vensim_file import VensimFile
from pysd.translators.vensim.vensim_section import SectionElementsVisitor

#: Vensim's simulation control variables (normalised names).
CONTROL_NAMES = ("initial_time", "final_time", "time_step", "saveper")

#: Built-in variables that may be referenced without being defined: name -> units.
BUILTINS = {"time": "Year"}

#: Group name used for elements written before the first group separator.
UNGROUPED = "(ungrouped)"

_GROUP_RE = re.compile(r"^\*+\s*\.?(?P<name>.*?)\s*\*+$", re.S)


def normalise(name: str) -> str:
    """Vensim identity of a name: case-, quote-, space- and underscore-insensitive.

    This is the form PySD uses for references in its syntax tree
    (``"GDP real"`` -> ``"gdp_real"``).
    """
    return re.sub(r"[\s_]+", "_", name.strip().strip('"').strip().lower())


@dataclass
class MdlElement:
    """One equation of a ``.mdl`` file.

    ``units`` is the Vensim units string (e.g. ``"CNY100M/Year"``), ``limits`` the
    ``[min,max]`` range from the units field as floats (``None`` for ``?``).
    ``dependencies`` holds the *names as defined in the file* of the elements
    referenced by the equation (``Time`` included when used).
    """
    name: str
    equation: str
    units: str
    limits: tuple | None
    comment: str
    group: str
    kind: str
    ast: object = field(repr=False, default=None)
    dependencies: list = field(default_factory=list)

    @property
    def key(self) -> str:
        """Normalised name (see :func:`normalise`)."""
        return normalise(self.name)


@dataclass
class MdlModel:
    """A parsed ``.mdl`` file: elements in file order, groups, sketch text."""
    path: Path
    elements: list
    groups: list
    sketch: str

    def __post_init__(self):
        self._by_key = {e.key: e for e in self.elements}
        for e in self.elements:
            e.dependencies = self._resolve(references(e.ast), e.name)

    def __getitem__(self, name: str) -> MdlElement:
        try:
            return self._by_key[normalise(name)]
        except KeyError:
            raise KeyError(f"{self.path}: no element named {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return normalise(name) in self._by_key

    def in_group(self, group: str) -> list:
        """Elements of one group (module), file order."""
        return [e for e in self.elements if e.group == group]

    @property
    def stocks(self) -> list:
        return [e for e in self.elements if e.kind == "stock"]

    @property
    def flows(self) -> set:
        """Names of the variables that are top-level terms of a stock's INTEG rate."""
        names = set()
        for stock in self.stocks:
            for _sign, term in top_level_terms(stock.ast.flow):
                if isinstance(term, ae.ReferenceStructure) and term.reference in self._by_key:
                    names.add(self._by_key[term.reference].name)
        return names

    def resolve(self, reference: str) -> str | None:
        """Name as written in the file for a PySD reference, or ``None`` if undefined."""
        key = normalise(reference)
        if key in self._by_key:
            return self._by_key[key].name
        if key in BUILTINS:
            return "Time"
        return None

    def _resolve(self, refs, owner):
        out = []
        for ref, is_call in refs:
            name = self.resolve(ref)
            if name is None and is_call:
                continue  # a built-in function
            if name is None:
                raise ValueError(
                    f"{self.path}: equation of {owner!r} refers to {ref!r}, "
                    "which is not defined in the file")
            if name not in out:
                out.append(name)
        return out


class _GroupedVisitor(SectionElementsVisitor):
    """PySD's section visitor, also recording group separators in file order."""

    def __init__(self, ast):
        self.group = UNGROUPED
        self.groups = []
        super().__init__(ast)

    def visit_section(self, n, vc):
        head = n.text.split("~", 1)[0].strip()
        match = _GROUP_RE.match(head)
        self.group = match.group("name").strip() if match else head
        if self.group not in self.groups:
            self.groups.append(self.group)

    def visit_entry(self, n, vc):
        super().visit_entry(n, vc)
        self.entries[-1] = (self.group, self.entries[-1])


_CACHE: dict = {}
_CACHE_SIZE = 8


def read_mdl(path) -> MdlModel:
    """Parse a Vensim ``.mdl`` file into an :class:`MdlModel` (macros are ignored).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file
    and the element when an equation cannot be parsed or refers to an undefined name.
    Parsing a few hundred equations takes seconds, so results are cached by the text
    of the equations part (a changed equation is parsed again; a copy of the file or
    a new sketch is not); treat the result as read-only.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    raw = path.read_bytes()
    equations, _, sketch = raw.partition(b"\\\\\\---///")
    key = hashlib.sha256(equations).hexdigest()
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _parse(path)
        _CACHE[key]._sketch_raw = sketch
    model = _CACHE[key]
    if model.path != path or sketch != model._sketch_raw:
        model = replace(model, path=path, sketch=VensimFile(path).sketch)
        model._sketch_raw = sketch
    return model


def _parse(path: Path) -> MdlModel:
    vf = VensimFile(path)
    vf.parse(parse_all=False)
    tree = vu.Grammar.get("section_elements").parse(vf.sections[0].content)
    visitor = _GroupedVisitor(tree)
    elements = []
    for group, raw in visitor.entries:
        elements.extend(_element(path, group, raw))
    groups = [g for g in ([UNGROUPED] + visitor.groups)
              if any(e.group == g for e in elements)]
    return MdlModel(path=path, elements=elements, groups=groups, sketch=vf.sketch)


def _element(path: Path, group: str, raw: Element) -> list:
    try:
        component = raw.parse()
        if isinstance(component, SubscriptRange):
            return []  # subscript ranges are not variables
        component.parse()
    except Exception as exc:  # parsimonious errors are long; name file and element
        raise ValueError(
            f"{path}: cannot parse equation {raw.equation[:80]!r}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    return [MdlElement(
        name=component.name,
        equation=(component.expression or "").strip(),
        units=component.units or "",
        limits=_limits(component.limits),
        comment=component.documentation or "",
        group=group,
        kind=_kind(component),
        ast=component.ast,
    )]


def _limits(limits):
    if not limits:
        return None
    lo = limits[0] if len(limits) > 0 else None
    hi = limits[1] if len(limits) > 1 else None
    return (lo, hi)


def _kind(component) -> str:
    if normalise(component.name) in CONTROL_NAMES:
        return "control"
    if isinstance(component, Lookup):
        return "lookup"
    if isinstance(component, Data):
        return "data"
    if isinstance(component.ast, ae.IntegStructure):
        return "stock"
    if is_number(component.ast):
        return "constant"
    return "auxiliary"


def is_number(node) -> bool:
    """True for a numeric literal in PySD's syntax tree (a negated one included)."""
    if isinstance(node, bool):
        return False
    if isinstance(node, (int, float)) or type(node).__module__ == "numpy":
        return True
    return (isinstance(node, ae.ArithmeticStructure) and node.operators == ["negative"]
            and is_number(node.arguments[0]))


def top_level_terms(node):
    """Split a sum/difference into ``[(sign, term), ...]`` with sign ``+1``/``-1``.

    Nested parentheses of sums are flattened (``a - (b - c)`` gives ``+a, -b, +c``);
    anything that is not a sum is a single ``+`` term.
    """
    if isinstance(node, ae.ArithmeticStructure):
        if node.operators == ["negative"]:
            return [(-s, t) for s, t in top_level_terms(node.arguments[0])]
        if set(node.operators) <= {"+", "-"}:
            out = top_level_terms(node.arguments[0])
            for op, arg in zip(node.operators, node.arguments[1:]):
                sign = 1 if op == "+" else -1
                out += [(sign * s, t) for s, t in top_level_terms(arg)]
            return out
    return [(1, node)]


def references(node) -> list:
    """References used anywhere in a syntax tree: ``[(normalised name, is_call), ...]``.

    ``is_call`` marks the function name of a call: a built-in function (``min``,
    ``if_then_else`` ...) or a lookup defined in the model.
    """
    out = []

    def add(item):
        if item not in out:
            out.append(item)

    def walk(n):
        if isinstance(n, ae.ReferenceStructure):
            add((normalise(n.reference), False))
        elif isinstance(n, ae.CallStructure):
            add((normalise(n.function.reference), True))
            for a in n.arguments:
                walk(a)
        elif isinstance(n, (list, tuple)):
            for a in n:
                walk(a)
        elif hasattr(n, "__dataclass_fields__"):
            for name in n.__dataclass_fields__:
                walk(getattr(n, name))

    walk(node)
    return out


def role(model: MdlModel, element) -> str:
    """Kind for documentation: the element's kind, or ``flow`` for an INTEG rate term."""
    if element.kind == "auxiliary" and element.name in model.flows:
        return "flow"
    return element.kind
