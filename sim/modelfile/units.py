"""Units-consistency check of a Vensim ``.mdl`` model (dimensional analysis).

A units string (``"CNY/(Person*Year)"``) is parsed into a :class:`Dim`, a map of
base-unit token -> rational exponent.  Every token is its own base unit: ``CNY100M``,
``CNY10K`` and ``CNY`` are three different units and are never converted (a
conversion needs a constant that carries units such as ``CNY/CNY100M``).  ``Dmnl``
and ``1`` are dimensionless.  Grammar: products ``*``, quotients ``/`` (left to
right: ``a/b/c`` = ``a/(b*c)``), parentheses, integer or fractional powers ``^n``.

What :func:`check_units` reports (one :class:`Problem` each):

``missing units``
    an element (controls, lookups and constants included) whose units are empty;
``units syntax``
    a units string that does not parse;
``stock flow``
    a top-level ``+``/``-`` term of a stock's ``INTEG`` rate that is a plain variable
    name and whose units are not *stock units / Year*;
``stock rate`` / ``stock initial``
    the inferred units of the whole rate (or of the initial value) differ from
    *stock units / Year* (or from the stock's units);
``sum``
    two terms of a sum or difference, anywhere in an equation, with different units;
``declared``
    the units inferred for the equation differ from the declared units;
``argument``
    arguments that must agree do not: the two branches of ``IF THEN ELSE``, the
    arguments of ``MIN``/``MAX``, the two sides of a comparison, a delay or smoothing
    time that is not in ``Year``, an ``EXP``/``LN``/``SIN`` argument or an exponent that is not
    dimensionless.

How units are inferred: a variable has its declared units, ``Time`` is ``Year``;
``*``, ``/`` and ``^`` with a numeric exponent combine exponents; a number is
dimensionless in a product but adapts to the other terms in a sum or comparison
(``1 - share`` is fine; ``500 * growth factor`` is dimensionless, so a constant
that should carry units must be a named constant with units).  Handled functions:
``MIN``, ``MAX``, ``IF THEN ELSE``, ``ABS``, ``INTEGER``, ``MODULO``, ``ZIDZ``,
``XIDZ``, ``EXP``, ``LN``, ``LOG``, ``SIN``/``COS``/``TAN`` and their inverses,
``SQRT``, ``POWER``, ``STEP``, ``RAMP``, ``PULSE``, ``PULSE TRAIN`` (a ``STEP`` or
``RAMP`` of a plain number adapts like a number), lookup calls (result in the
lookup's units; the argument is not checked, since Vensim gives a lookup only
output units), ``SMOOTH*``, ``DELAY*``, ``DELAY FIXED``, ``INITIAL``, ``TREND``,
``FORECAST``, ``SAMPLE IF TRUE``, ``ACTIVE INITIAL``.

What it skips: any other function call, ``WITH LOOKUP`` (result taken as declared),
subscripts, lookups' x axes, constants' values.  An expression containing a skipped
part has unknown units and is compared with nothing; :func:`check_units_report`
lists the skipped functions so the gap is visible.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from pysd.translators.structures import abstract_expressions as ae

from sim.modelfile.mdl import MdlModel, is_number, normalise, read_mdl, top_level_terms

DIMENSIONLESS_TOKENS = {"dmnl", "1", "dimensionless"}


class UnitsSyntaxError(ValueError):
    """A units string that the grammar of this module cannot parse."""


class Dim:
    """Units as base-token exponents, e.g. ``CNY100M/Year`` -> ``{CNY100M: 1, Year: -1}``."""

    __slots__ = ("exps",)

    def __init__(self, exps=None):
        self.exps = {k: Fraction(v) for k, v in (exps or {}).items() if v != 0}

    def __mul__(self, other: "Dim") -> "Dim":
        out = dict(self.exps)
        for k, v in other.exps.items():
            out[k] = out.get(k, 0) + v
        return Dim(out)

    def __truediv__(self, other: "Dim") -> "Dim":
        return self * other ** -1

    def __pow__(self, power) -> "Dim":
        return Dim({k: v * Fraction(power) for k, v in self.exps.items()})

    def __eq__(self, other) -> bool:
        return isinstance(other, Dim) and self.exps == other.exps

    def __hash__(self):
        return hash(frozenset(self.exps.items()))

    @property
    def dimensionless(self) -> bool:
        return not self.exps

    def __str__(self) -> str:
        def part(items):
            return "*".join(k if v == 1 else f"{k}^{v}" if v.denominator == 1
                            else f"{k}^({v})" for k, v in items)
        num = sorted((k, v) for k, v in self.exps.items() if v > 0)
        den = sorted((k, -v) for k, v in self.exps.items() if v < 0)
        if not num and not den:
            return "Dmnl"
        top = part(num) or "1"
        if not den:
            return top
        bottom = part(den)
        return f"{top}/({bottom})" if len(den) > 1 else f"{top}/{bottom}"

    __repr__ = __str__


DMNL = Dim()
YEAR = Dim({"Year": 1})

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_$%][\w$%.]*(?:\s+[A-Za-z_$%][\w$%.]*)*)"
    r"|(?P<op>[*/^()\-]))")


def parse_units(text: str) -> Dim:
    """Parse a Vensim units string into a :class:`Dim`; raise :class:`UnitsSyntaxError`.

    >>> str(parse_units("CNY/(Person*Year)"))
    'CNY/(Person*Year)'
    """
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise UnitsSyntaxError(f"units {text!r}: unexpected character at {text[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
    if not tokens:
        raise UnitsSyntaxError("units string is empty")
    parser = _UnitsParser(text, tokens)
    dim = parser.expr()
    if parser.i != len(tokens):
        raise UnitsSyntaxError(f"units {text!r}: unexpected {tokens[parser.i][1]!r}")
    return dim


class _UnitsParser:
    """Recursive descent: expr = factor (('*'|'/') factor)*; factor = atom ('^' number)?"""

    def __init__(self, text, tokens):
        self.text, self.tokens, self.i = text, tokens, 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self):
        tok = self.peek()
        if tok[0] is None:
            raise UnitsSyntaxError(f"units {self.text!r}: ends unexpectedly")
        self.i += 1
        return tok

    def expr(self) -> Dim:
        dim = self.factor()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            rhs = self.factor()
            dim = dim * rhs if op == "*" else dim / rhs
        return dim

    def factor(self) -> Dim:
        dim = self.atom()
        if self.peek()[1] == "^":
            self.take()
            sign = -1 if self.peek()[1] == "-" and self.take() else 1
            kind, value = self.take()
            if kind != "num":
                raise UnitsSyntaxError(f"units {self.text!r}: exponent must be a number")
            dim = dim ** (sign * Fraction(value))
        return dim

    def atom(self) -> Dim:
        kind, value = self.take()
        if value == "(":
            dim = self.expr()
            if self.take()[1] != ")":
                raise UnitsSyntaxError(f"units {self.text!r}: missing ')'")
            return dim
        if kind == "num":
            if Fraction(value) != 1:
                raise UnitsSyntaxError(f"units {self.text!r}: only the number 1 may appear")
            return DMNL
        if kind == "name":
            return DMNL if value.lower() in DIMENSIONLESS_TOKENS else Dim({value: 1})
        raise UnitsSyntaxError(f"units {self.text!r}: unexpected {value!r}")


@dataclass(frozen=True)
class Problem:
    """One units inconsistency: the variable, its equation, the expected and found units."""
    variable: str
    check: str
    equation: str
    expected: str
    found: str
    detail: str = ""

    def __str__(self) -> str:
        text = (f"{self.variable} [{self.check}]: expected {self.expected}, "
                f"found {self.found}")
        if self.detail:
            text += f" ({self.detail})"
        return f"{text}\n    {self.variable} = {self.equation}"


@dataclass
class _Q:
    """Inferred units of an expression: ``dim`` None means unknown; ``literal`` a pure number."""
    dim: Dim | None
    literal: bool = False

    @property
    def known(self) -> bool:
        return self.dim is not None and not self.literal


_UNKNOWN = _Q(None)
_NUMBER = _Q(DMNL, literal=True)


@dataclass
class UnitsReport:
    """Result of :func:`check_units_report`: problems plus what was skipped."""
    problems: list
    skipped_functions: dict = field(default_factory=dict)  # function -> [variables]
    checked: int = 0


class _Checker:
    def __init__(self, model: MdlModel):
        self.model = model
        self.problems: list[Problem] = []
        self.skipped: dict[str, list] = {}
        self.dims: dict[str, Dim | None] = {}
        self.current = None
        for e in model.elements:
            self.dims[e.key] = self._declared(e)

    # -- declared units --------------------------------------------------------
    def _declared(self, e):
        if not e.units.strip():
            self.problems.append(Problem(e.name, "missing units", e.equation,
                                         "a units string", "none"))
            return None
        try:
            return parse_units(e.units)
        except UnitsSyntaxError as exc:
            self.problems.append(Problem(e.name, "units syntax", e.equation,
                                         "a units string", e.units, str(exc)))
            return None

    def report(self, check, expected, found, detail=""):
        e = self.current
        self.problems.append(Problem(e.name, check, e.equation, str(expected),
                                     str(found), detail))

    def text(self, node) -> str:
        return render(node, self.model)

    # -- per element -------------------------------------------------------------
    def check_element(self, e):
        self.current = e
        declared = self.dims[e.key]
        if e.kind in ("lookup", "constant", "data"):
            return  # no equation to check (a constant's number takes its declared units)
        if e.kind == "stock":
            self.check_stock(e, declared)
            return
        if isinstance(e.ast, ae.InlineLookupsStructure):
            self.infer(e.ast.argument)
            return
        q = self.infer(e.ast)
        if declared is not None and q.known and q.dim != declared:
            shown = e.units if e.units.replace(" ", "") == str(declared) else \
                f"{e.units} (= {declared})"
            self.report("declared", shown, q.dim,
                        "units inferred from the equation differ from the declared units")

    def check_stock(self, e, declared):
        rate, initial = e.ast.flow, e.ast.initial
        expected = declared / YEAR if declared is not None else None
        flagged = False
        for sign, term in top_level_terms(rate):
            if isinstance(term, ae.ReferenceStructure) and expected is not None:
                q = self.reference(term)
                if q.known and q.dim != expected:
                    flagged = True
                    role = "inflow" if sign > 0 else "outflow"
                    self.report("stock flow", f"{expected} (stock units / Year)", q.dim,
                                f"{role} {self.text(term)!r} of stock in {e.units}")
        q = self.infer(rate)
        if expected is not None and q.known and q.dim != expected and not flagged:
            self.report("stock rate", f"{expected} (stock units / Year)", q.dim,
                        "units of the INTEG rate")
        q = self.infer(initial)
        if declared is not None and q.known and q.dim != declared:
            self.report("stock initial", declared, q.dim, "units of the initial value")

    # -- inference ---------------------------------------------------------------
    def reference(self, node) -> _Q:
        key = normalise(node.reference)
        if key == "time":
            return _Q(YEAR)
        dim = self.dims.get(key)
        return _Q(dim) if dim is not None else _UNKNOWN

    def infer(self, node) -> _Q:
        if is_number(node):
            return _NUMBER
        if isinstance(node, ae.ReferenceStructure):
            return self.reference(node)
        if isinstance(node, ae.ArithmeticStructure):
            return self.arithmetic(node)
        if isinstance(node, ae.LogicStructure):
            return self.logic(node)
        if isinstance(node, ae.CallStructure):
            return self.call(node)
        handler = _STRUCTURES.get(type(node).__name__)
        if handler is not None:
            return handler(self, node)
        self.skip(type(node).__name__)
        return _UNKNOWN

    def skip(self, what):
        self.skipped.setdefault(what, [])
        if self.current.name not in self.skipped[what]:
            self.skipped[what].append(self.current.name)

    def agree(self, nodes, check, what) -> _Q:
        """Terms that must share units (sum, MIN/MAX, IF branches); returns the common units."""
        qs = [(n, self.infer(n)) for n in nodes]
        known = [(n, q) for n, q in qs if q.known]
        for n, q in known[1:]:
            if q.dim != known[0][1].dim:
                self.report(check, known[0][1].dim, q.dim,
                            f"{what}: {self.text(known[0][0])!r} is {known[0][1].dim} "
                            f"but {self.text(n)!r} is {q.dim}")
        if known:
            return _Q(known[0][1].dim)
        if any(q.dim is None for _, q in qs):
            return _UNKNOWN
        return _NUMBER

    def must_be(self, node, dim, what):
        q = self.infer(node)
        if q.known and q.dim != dim:
            self.report("argument", dim, q.dim, f"{what} {self.text(node)!r}")
        return q

    def arithmetic(self, node) -> _Q:
        ops, args = node.operators, node.arguments
        if ops == ["negative"]:
            return self.infer(args[0])
        if set(ops) <= {"+", "-"}:
            return self.agree([t for _, t in top_level_terms(node)], "sum",
                              "terms of a sum/difference")
        if not set(ops) <= {"*", "/", "^"}:
            self.skip(f"operator {ops}")
            for a in args:
                self.infer(a)
            return _UNKNOWN
        q = self.infer(args[0])
        for op, arg in zip(ops, args[1:]):
            if op == "^":
                q = self.power(q, arg)
                continue
            r = self.infer(arg)
            if q.dim is None or r.dim is None:
                q = _UNKNOWN
            else:
                q = _Q(q.dim * r.dim if op == "*" else q.dim / r.dim,
                       literal=q.literal and r.literal)
        return q

    def power(self, base: _Q, exponent) -> _Q:
        if is_number(exponent):
            value = _number_value(exponent)
            if base.dim is None:
                return _UNKNOWN
            return _Q(base.dim ** Fraction(value).limit_denominator(1000), base.literal)
        q = self.must_be(exponent, DMNL, "exponent must be dimensionless:")
        if base.known and not base.dim.dimensionless:
            self.report("argument", DMNL, base.dim,
                        "a base with units raised to a variable power")
            return _UNKNOWN
        if base.dim is None or q.dim is None:
            return _UNKNOWN
        return _Q(DMNL, literal=base.literal)

    def logic(self, node) -> _Q:
        ops, args = node.operators, node.arguments
        if set(ops) <= {">", "<", ">=", "<=", "=", "<>"}:
            self.agree(args, "argument", "sides of a comparison")
        else:
            for a in args:
                self.infer(a)
        return _NUMBER

    def call(self, node) -> _Q:
        fn = normalise(node.function.reference)
        args = node.arguments
        if fn in self.dims and self.model[fn].kind == "lookup":
            for a in args:
                self.infer(a)
            dim = self.dims[fn]
            return _Q(dim) if dim is not None else _UNKNOWN
        handler = _FUNCTIONS.get(fn)
        if handler is None:
            self.skip(fn.upper().replace("_", " "))
            for a in args:
                self.infer(a)
            return _UNKNOWN
        return handler(self, args)


def _number_value(node) -> float:
    if isinstance(node, ae.ArithmeticStructure):
        return -_number_value(node.arguments[0])
    return float(node)


def _first(c, args):
    q = c.infer(args[0])
    for a in args[1:]:
        c.infer(a)
    return q


def _dimensionless_fn(c, args):
    c.must_be(args[0], DMNL, "argument of EXP/LN/LOG/SIN... must be dimensionless:")
    for a in args[1:]:
        c.infer(a)
    return _Q(DMNL)


def _quotient(c, args):
    a, b = c.infer(args[0]), c.infer(args[1])
    if len(args) > 2:
        c.infer(args[2])
    if a.dim is None or b.dim is None:
        return _UNKNOWN
    return _Q(a.dim / b.dim, a.literal and b.literal)


def _step(c, args):
    c.must_be(args[1], YEAR, "STEP time must be in Year:")
    return c.infer(args[0])


def _ramp(c, args):
    for a in args[1:]:
        c.must_be(a, YEAR, "RAMP times must be in Year:")
    q = c.infer(args[0])
    if q.literal:
        return _NUMBER  # a numeric slope: the ramp adapts like a number
    return _Q(q.dim * YEAR) if q.dim is not None else _UNKNOWN


def _pulse(c, args):
    for a in args:
        c.must_be(a, YEAR, "PULSE times must be in Year:")
    return _NUMBER


def _sqrt(c, args):
    q = c.infer(args[0])
    return _Q(q.dim ** Fraction(1, 2), q.literal) if q.dim is not None else _UNKNOWN


def _power_fn(c, args):
    return c.power(c.infer(args[0]), args[1])


def _if(c, args):
    c.infer(args[0])
    return c.agree(args[1:], "argument", "branches of IF THEN ELSE")


def _minmax(c, args):
    return c.agree(args, "argument", "arguments of MIN/MAX")


def _active_initial(c, args):
    return c.agree(args, "argument", "arguments of ACTIVE INITIAL")


_FUNCTIONS = {
    "min": _minmax, "max": _minmax, "if_then_else": _if, "active_initial": _active_initial,
    "abs": _first, "integer": _first, "int": _first, "modulo": _first, "quantum": _first,
    "zidz": _quotient, "xidz": _quotient,
    "exp": _dimensionless_fn, "ln": _dimensionless_fn, "log": _dimensionless_fn,
    "sin": _dimensionless_fn, "cos": _dimensionless_fn, "tan": _dimensionless_fn,
    "arcsin": _dimensionless_fn, "arccos": _dimensionless_fn, "arctan": _dimensionless_fn,
    "sqrt": _sqrt, "power": _power_fn,
    "step": _step, "ramp": _ramp, "pulse": _pulse, "pulse_train": _pulse,
}


def _delayed(c, node):
    """SMOOTH/DELAY family: result in the input's units; time in Year; initial agrees."""
    time = getattr(node, "smooth_time", None) or getattr(node, "delay_time", None)
    if time is not None:
        c.must_be(time, YEAR, "delay/smoothing time must be in Year:")
    if getattr(node, "order", None) is not None and not is_number(node.order):
        c.infer(node.order)
    return c.agree([node.input, node.initial], "argument",
                   "input and initial value of a delay/smooth")


def _trend(c, node):
    c.must_be(node.average_time, YEAR, "TREND average time must be in Year:")
    c.infer(node.input)
    c.infer(node.initial_trend)
    return _Q(DMNL / YEAR)


def _forecast(c, node):
    for name in ("average_time", "horizon"):
        c.must_be(getattr(node, name), YEAR, f"FORECAST {name} must be in Year:")
    c.infer(node.initial_trend)
    return c.infer(node.input)


_STRUCTURES = {
    "SmoothStructure": _delayed, "SmoothNStructure": _delayed, "DelayStructure": _delayed,
    "DelayNStructure": _delayed, "DelayFixedStructure": _delayed,
    "InitialStructure": lambda c, n: c.infer(n.initial),
    "SampleIfTrueStructure": lambda c, n: (
        c.infer(n.condition), c.agree([n.input, n.initial], "argument",
                                      "input and initial value of SAMPLE IF TRUE"))[1],
    "TrendStructure": _trend, "ForecastStructure": _forecast,
}


def render(node, model: MdlModel | None = None) -> str:
    """Vensim-like text of a PySD syntax-tree node (names as written in the file)."""
    if is_number(node):
        return f"{_number_value(node):g}"
    if isinstance(node, ae.ReferenceStructure):
        name = model.resolve(node.reference) if model is not None else None
        return name or node.reference
    if isinstance(node, ae.ArithmeticStructure):
        if node.operators == ["negative"]:
            return "-" + render(node.arguments[0], model)
        parts = [render(node.arguments[0], model)]
        for op, arg in zip(node.operators, node.arguments[1:]):
            text = render(arg, model)
            if isinstance(arg, ae.ArithmeticStructure) and arg.operators != ["negative"]:
                text = f"({text})"
            parts.append(f" {op} {text}")
        return "".join(parts)
    if isinstance(node, ae.CallStructure):
        fn = render(node.function, model)
        fn = fn.upper().replace("_", " ") if model is None or fn not in model else fn
        return f"{fn}({', '.join(render(a, model) for a in node.arguments)})"
    return type(node).__name__.replace("Structure", "").upper() + "(...)"


def check_units_report(path_or_model) -> UnitsReport:
    """Run every check on a model file (or an :class:`~sim.modelfile.mdl.MdlModel`)."""
    model = path_or_model if isinstance(path_or_model, MdlModel) else read_mdl(path_or_model)
    checker = _Checker(model)
    for e in model.elements:
        checker.check_element(e)
    return UnitsReport(problems=checker.problems, skipped_functions=checker.skipped,
                       checked=len(model.elements))


def check_units(path) -> list:
    """Units problems of the model at ``path`` as a list of :class:`Problem` (empty = clean)."""
    return check_units_report(path).problems


def format_report(report: UnitsReport) -> str:
    """Plain-text report: problems, then what was skipped."""
    lines = [f"{len(report.problems)} units problem(s) in {report.checked} elements"]
    lines += [str(p) for p in report.problems]
    if report.skipped_functions:
        lines.append("not checked (unknown units, compared with nothing):")
        for fn, names in sorted(report.skipped_functions.items()):
            lines.append(f"  {fn}: {', '.join(names)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m sim.modelfile.units MODEL``: print the report; exit status 1 if problems."""
    import sys
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else "models/jingdezhen.mdl"
    report = check_units_report(Path(path))
    print(format_report(report))
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
