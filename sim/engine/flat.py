"""A flat right-hand side: one plain Python/NumPy function generated from PySD's translation.

PySD evaluates a model through one Python function per variable, a cache cleared at every
call and xarray objects; one derivative of the Jingdezhen model costs about 1 ms. This
module reads the translated module PySD wrote (its Python syntax tree, :mod:`ast`), and
generates from it one function ``rhs(t, y)`` with every equation in dependency order as a
local assignment, the constants computed once per run and bound in a closure, lookups as
:func:`numpy.interp` on arrays, and the stateful objects (INTEG, SMOOTH/SMOOTH3/SMOOTH N,
TREND, DELAY1/DELAY3/DELAY N, INITIAL) written out as their derivative formulas. The same
generator writes the vectorised twin for :mod:`sim.engine.batch` (every value an array over
the samples; IF THEN ELSE as ``numpy.where``).

Semantics are PySD's (the equations PySD translated) with the engine's conventions of
:mod:`sim.engine.integrate`: STEP/PULSE/RAMP go through the engine's switch object (exact
switching times, recorded as breakpoints), DELAY N is the continuous N-stage chain, delay
orders are those of the model. :func:`flat_model` checks the generated function against
PySD's own evaluation before it is used (initial state and derivatives); the tests check
1e-12 agreement at many states on every corpus model and on the Jingdezhen model.

Not handled (the caller falls back to PySD's evaluation and says why): subscripts,
macros, external data (GET XLS/DIRECT), data variables, DELAY FIXED, SAMPLE IF TRUE,
FORECAST, and any function or syntax not in the tables below.

**Security.** The generated source is assembled only from a whitelist of node types of
PySD's translated syntax tree: numbers (re-written with ``repr`` of a Python int/float),
arithmetic, comparison and boolean operators, and calls of a fixed table of functions.
Every name in the generated code is either one of this module's helper names or ``v_``
followed by a PySD Python name that is checked to be a plain identifier
(``[A-Za-z_][A-Za-z0-9_]*``). No string, attribute, subscript, lambda body outside
PySD's ``if_then_else`` pattern, or any other text of the model file reaches the generated
code: anything else raises :class:`Unsupported`. Lookup tables are passed as NumPy arrays
(data), never as source text. The source is compiled with an empty ``__builtins__``.
"""
from __future__ import annotations

import ast
import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SMALL_VENSIM = 1e-6  # PySD's zero for XIDZ/ZIDZ (pysd.py_backend.functions.SMALL_VENSIM)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONTROL = ("initial_time", "final_time", "time_step", "saveper")


class Unsupported(Exception):
    """The generator does not handle this model (the message says what)."""


# ---------------------------------------------------------------------------------
# helpers the generated code may call (the only callables it sees)
# ---------------------------------------------------------------------------------
def _xidz(a, b, x):
    if isinstance(b, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.abs(b) < SMALL_VENSIM, x, a / np.where(b == 0, 1.0, b))
    return x if abs(b) < SMALL_VENSIM else a / b


def _zidz(a, b):
    return _xidz(a, b, 0.0)


def _max(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.maximum(a, b)
    if a != a or b != b:
        return math.nan
    return a if a >= b else b


def _min(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.minimum(a, b)
    if a != a or b != b:
        return math.nan
    return a if a <= b else b


def _modulo(x, m):
    if isinstance(x, np.ndarray) or isinstance(m, np.ndarray):
        return np.mod(x, m)
    return x - m * math.floor(x / m) if m >= SMALL_VENSIM else x


def _where(cond, a, b):
    if isinstance(cond, np.ndarray) and cond.ndim:
        return np.where(cond, a, b)
    return a if cond else b


def _integer(x):
    return np.trunc(x) if isinstance(x, np.ndarray) else float(int(x))


def _interp(x, xs, ys):
    if isinstance(x, np.ndarray):
        return np.interp(x, xs, ys)
    return float(np.interp(x, xs, ys))


def _series(t, xs, ys):
    """A time-series parameter at time ``t``: linear between ``xs`` (sorted years), flat
    outside; ``ys`` has one row per year and, for per-sample series, one column per sample."""
    if ys.ndim == 1:
        return float(np.interp(t, xs, ys))
    if t <= xs[0]:
        return ys[0]
    if t >= xs[-1]:
        return ys[-1]
    i = int(np.searchsorted(xs, t, side="right")) - 1
    w = (t - xs[i]) / (xs[i + 1] - xs[i])
    return ys[i] + w * (ys[i + 1] - ys[i])


# scalar twins (single runs: every value a Python float; no type tests on the hot path)
def _s_max(a, b):
    return a if a >= b else (b if b >= a else math.nan)


def _s_min(a, b):
    return a if a <= b else (b if b <= a else math.nan)


def _s_xidz(a, b, x):
    return x if abs(b) < SMALL_VENSIM else a / b


def _s_zidz(a, b):
    return 0.0 if abs(b) < SMALL_VENSIM else a / b


def _s_interp(x, xs, ys):
    """numpy.interp for one float ``x`` over tables given as tuples (ends held)."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect_right(xs, x)
    x0, x1 = xs[i - 1], xs[i]
    return ys[i - 1] + (x - x0) * (ys[i] - ys[i - 1]) / (x1 - x0)


def _s_pow(a, b):
    """``a ** b`` as NumPy's float64 computes it: NaN (not a complex number) for a negative
    base and a fractional exponent, inf on overflow."""
    try:
        r = a ** b
    except OverflowError:
        return math.inf
    except ZeroDivisionError:
        return math.inf
    return math.nan if isinstance(r, complex) else r


def _s_exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


# numpy functions the translated code may call (as np.<name>) -> (scalar, vector) helper
_NP_FUNCS = {
    "maximum": ("_s_max", "_max"), "minimum": ("_s_min", "_min"),
    "exp": ("_s_exp", "_np_exp"), "log": ("_np_log", "_np_log"), "log10": ("_np_log10", "_np_log10"),
    "sqrt": ("_np_sqrt", "_np_sqrt"), "abs": ("_np_abs", "_np_abs"), "sin": ("_np_sin", "_np_sin"),
    "cos": ("_np_cos", "_np_cos"), "tan": ("_np_tan", "_np_tan"), "arcsin": ("_np_arcsin", "_np_arcsin"),
    "arccos": ("_np_arccos", "_np_arccos"), "arctan": ("_np_arctan", "_np_arctan"),
    "floor": ("_np_floor", "_np_floor"), "ceil": ("_np_ceil", "_np_ceil"), "sign": ("_np_sign", "_np_sign"),
    "power": ("_np_power", "_np_power"), "round": ("_np_round", "_np_round"),
    # Vensim's AND/OR/NOT as PySD writes them
    "logical_and": ("_np_logical_and", "_np_logical_and"), "logical_or": ("_np_logical_or", "_np_logical_or"),
    "logical_not": ("_np_logical_not", "_np_logical_not"),
}
_NP_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}
# functions imported by the translated module from pysd.py_backend.functions
_PYSD_FUNCS = {"xidz": ("_s_xidz", "_xidz"), "zidz": ("_s_zidz", "_zidz"),
               "modulo": ("_modulo", "_modulo"), "integer": ("_integer", "_integer")}
_BUILTIN_FUNCS = {"abs": "_np_abs", "min": "_min", "max": "_max"}


def helpers() -> dict:
    h = {"_xidz": _xidz, "_zidz": _zidz, "_max": _max, "_min": _min, "_modulo": _modulo,
         "_s_xidz": _s_xidz, "_s_zidz": _s_zidz, "_s_max": _s_max, "_s_min": _s_min,
         "_s_interp": _s_interp, "_series": _series, "_s_exp": _s_exp, "_s_pow": _s_pow,
         "_where": _where, "_integer": _integer, "_interp": _interp, "_np_array": np.array,
         "_np_empty": np.empty, "_float": float, "_nan": math.nan}
    for name, (scalar, vector) in _NP_FUNCS.items():
        for helper in (scalar, vector):      # e.g. exp: scalar _s_exp, vector _np_exp
            if helper.startswith("_np_"):
                h[helper] = getattr(np, name)
    return h


# ---------------------------------------------------------------------------------
# reading PySD's translated module
# ---------------------------------------------------------------------------------
@dataclass
class Stateful:
    """A stateful object of the translated module: kind and its argument expressions."""
    name: str
    kind: str                      # Integ, Smooth, Trend, Delay, DelayN, Initial
    args: dict[str, ast.expr]      # ddt/initial/input/time/order ... -> expression
    offset: int = 0                # position in the state vector
    size: int = 1                  # number of states (order for SMOOTH/DELAY)


@dataclass
class Parsed:
    components: dict[str, ast.expr] = field(default_factory=dict)   # py name -> expression
    lookups: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # lookup fn -> table
    statefuls: dict[str, Stateful] = field(default_factory=dict)


def _lambda_body(node, what) -> ast.expr:
    if not isinstance(node, ast.Lambda) or node.args.args:
        raise Unsupported(f"{what}: expected a lambda without arguments")
    return node.body


def _numbers(node, what) -> np.ndarray:
    try:
        values = ast.literal_eval(node)
        arr = np.asarray(values, dtype=float)
    except (ValueError, TypeError, SyntaxError) as err:
        raise Unsupported(f"{what}: lookup points are not plain numbers") from err
    if arr.ndim != 1:
        raise Unsupported(f"{what}: subscripted lookup")
    return arr


_STATEFUL_ARGS = {
    "Integ": ("ddt", "initial"),
    "Smooth": ("input", "time", "initial", "order"),
    "Trend": ("input", "time", "initial"),
    "Delay": ("input", "time", "initial", "order"),
    "DelayN": ("input", "time", "initial", "order"),
    "Initial": ("initial",),
}


def parse_module(source: str) -> Parsed:
    """The components, lookup tables and stateful objects of a translated module."""
    tree = ast.parse(source)
    out = Parsed()
    lookup_objects: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr)):
            continue
        if isinstance(node, ast.FunctionDef):
            name = node.name
            if name in ("_init_outer_references", "time") or name in CONTROL:
                continue
            body = [s for s in node.body if not (isinstance(s, ast.Expr)
                                                 and isinstance(s.value, ast.Constant))]
            if len(body) != 1 or not isinstance(body[0], ast.Return):
                raise Unsupported(f"{name}: not a single expression (subscripted or data)")
            args = [a.arg for a in node.args.args]
            if args == ["x", "final_subs"]:
                call = body[0].value
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                        and call.func.id.startswith("_hardcodedlookup_")):
                    out.lookups[name] = call.func.id  # resolved below
                    continue
                raise Unsupported(f"{name}: lookup of a kind the generator does not handle")
            if args:
                raise Unsupported(f"{name}: a function with arguments")
            out.components[name] = body[0].value
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            value = node.value
            if target == "_control_vars" and isinstance(value, ast.Dict):
                for k, v in zip(value.keys, value.values):
                    key = ast.literal_eval(k)
                    if key not in CONTROL:
                        raise Unsupported(f"control variable {key!r}")
                    out.components[key] = _lambda_body(v, key)
                continue
            if target in ("component", "_root", "__data", "_subscript_dict", "__pysd_version__"):
                if target == "_subscript_dict" and not (isinstance(value, ast.Dict) and not value.keys):
                    raise Unsupported("the model has subscripts")
                continue
            if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)):
                raise Unsupported(f"{target}: module-level statement the generator does not handle")
            kind = value.func.id
            if kind == "HardcodedLookups":
                xs, ys = _numbers(value.args[0], target), _numbers(value.args[1], target)
                method = ast.literal_eval(value.args[3]) if len(value.args) > 3 else "interpolate"
                if method != "interpolate" or xs.size != ys.size:
                    raise Unsupported(f"{target}: lookup with {method!r} interpolation")
                lookup_objects[target] = (xs, ys)
                continue
            if kind not in _STATEFUL_ARGS:
                raise Unsupported(f"{target}: {kind} is not handled by the flat generator")
            names = _STATEFUL_ARGS[kind]
            if kind == "Initial":
                exprs = [_lambda_body(value.args[0], target)]
            else:
                exprs = [_lambda_body(a, target) for a in value.args[:len(names)]]
            out.statefuls[target] = Stateful(target, kind, dict(zip(names, exprs)))
            continue
        raise Unsupported(f"line {getattr(node, 'lineno', '?')}: statement the generator does not handle")
    for fn, obj in list(out.lookups.items()):
        if obj not in lookup_objects:
            raise Unsupported(f"{fn}: lookup table not found")
        out.lookups[fn] = lookup_objects[obj]
    return out


# ---------------------------------------------------------------------------------
# rewriting expressions into generated code
# ---------------------------------------------------------------------------------
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Mod: "%",
           ast.FloorDiv: "//"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


class Writer:
    """Turns one PySD expression into Python source over ``v_<name>`` locals, collecting
    the names it depends on, time lookups (breakpoints) and time comparisons."""

    def __init__(self, parsed: Parsed, vector: bool):
        self.p = parsed
        self.vector = vector
        self.deps: set[str] = set()
        self.time_tables: list[str] = []           # lookups called with Time
        self.time_compares: list[str] = []         # source of constant operands compared with Time
        self.periodic: list[tuple[str, str]] = []  # (period source, offset source)
        self.unrecognised_modulo = False
        self.uses_switches = False
        self.interp = "_interp" if vector else "_s_interp"

    def ref(self, name: str) -> str:
        if not _IDENT.match(name):
            raise Unsupported(f"{name!r}: not a plain identifier")
        self.deps.add(name)
        return "v_" + name

    @staticmethod
    def _is_time(node) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "time" and not node.args)

    def __call__(self, node) -> str:  # noqa: C901 - one case per node type
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return "True" if node.value else "False"
            if isinstance(node.value, (int, float)):
                value = float(node.value)
                if not math.isfinite(value):
                    raise Unsupported(f"non-finite number {node.value!r} in an equation")
                return repr(value)
            raise Unsupported(f"constant {type(node.value).__name__} in an equation")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and not self.vector:
            return f"_s_pow({self(node.left)}, {self(node.right)})"
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return f"({self(node.left)} {_BINOPS[type(node.op)]} {self(node.right)})"
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return f"(-{self(node.operand)})"
            if isinstance(node.op, ast.UAdd):
                return self(node.operand)
            if isinstance(node.op, ast.Not):
                return f"_np_logical_not({self(node.operand)})" if self.vector else f"(not {self(node.operand)})"
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMPOPS:
            left, right = node.left, node.comparators[0]
            for a, b in ((left, right), (right, left)):
                if self._is_time(a):
                    self.time_compares.append(self._sub(b))
                if (isinstance(a, ast.Call) and isinstance(a.func, ast.Name) and a.func.id == "modulo"
                        and len(a.args) == 2 and self._is_time(a.args[0])):
                    self.periodic.append((self._sub(a.args[1]), self._sub(b)))
            return f"({self(left)} {_CMPOPS[type(node.ops[0])]} {self(right)})"
        if isinstance(node, ast.BoolOp):
            op = {ast.And: "and", ast.Or: "or"}[type(node.op)]
            if self.vector:
                fn = "_np_logical_and" if op == "and" else "_np_logical_or"
                parts = [self(v) for v in node.values]
                out = parts[0]
                for part in parts[1:]:
                    out = f"{fn}({out}, {part})"
                return out
            return "(" + f" {op} ".join(self(v) for v in node.values) + ")"
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "np" and node.attr in _NP_CONSTANTS:
                return repr(_NP_CONSTANTS[node.attr])
            raise Unsupported("attribute access in an equation")
        if isinstance(node, ast.Call):
            return self.call(node)
        raise Unsupported(f"{type(node).__name__} in an equation")

    def _sub(self, node) -> str:
        """Source of a sub-expression (its dependencies are recorded too)."""
        return Writer.__call__(self, node)

    def call(self, node: ast.Call) -> str:
        f = node.func
        if (node.keywords and isinstance(f, ast.Name) and f.id == "pulse"
                and all(k.arg in ("repeat_time", "width", "magnitude", "end") for k in node.keywords)):
            self.uses_switches = True
            args = [self(a) for a in node.args[1:]] + [f"{k.arg}={self(k.value)}" for k in node.keywords]
            return f"_sw_pulse(_clock, {', '.join(args)})"
        if node.keywords:
            raise Unsupported("keyword arguments in a call")
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np":
            if f.attr == "interp" and len(node.args) == 3:
                xs = _numbers(node.args[1], "WITH LOOKUP")
                ys = _numbers(node.args[2], "WITH LOOKUP")
                key = f"_tab{len(self.p.lookups)}_{len(xs)}"
                self.p.lookups[key] = (xs, ys)
                if self._is_time(node.args[0]):
                    self.time_tables.append(key)
                return f"{self.interp}({self(node.args[0])}, T_{key}[0], T_{key}[1])"
            if f.attr in _NP_FUNCS:
                return f"{_NP_FUNCS[f.attr][self.vector]}({', '.join(self(a) for a in node.args)})"
            raise Unsupported(f"np.{f.attr} is not handled by the flat generator")
        if not isinstance(f, ast.Name):
            raise Unsupported("call of a computed function")
        name = f.id
        args = node.args
        if name == "time" and not args:
            return "t"
        if name == "float" and len(args) == 1:
            return self(args[0]) if self.vector else f"_float({self(args[0])})"
        if name == "if_then_else" and len(args) == 3:
            cond = self(args[0])
            a = self(_lambda_body(args[1], "IF THEN ELSE"))
            b = self(_lambda_body(args[2], "IF THEN ELSE"))
            return f"_where({cond}, {a}, {b})" if self.vector else f"({a} if {cond} else {b})"
        if name in _PYSD_FUNCS:
            if name == "modulo" and not self._is_time(args[0]) and any(self._is_time(n) for n in ast.walk(args[0])):
                self.unrecognised_modulo = True
            return f"{_PYSD_FUNCS[name][self.vector]}({', '.join(self(a) for a in args)})"
        if name in _BUILTIN_FUNCS:
            return f"{_BUILTIN_FUNCS[name]}({', '.join(self(a) for a in args)})"
        if name in ("step", "pulse", "ramp"):
            if not (args and isinstance(args[0], ast.Subscript)):
                raise Unsupported(f"{name}: unexpected form")
            self.uses_switches = True
            return f"_sw_{name}(_clock, {', '.join(self(a) for a in args[1:])})"
        if name in self.p.lookups:
            if len(args) != 1:
                raise Unsupported(f"{name}: lookup with more than one argument")
            if self._is_time(args[0]):
                self.time_tables.append(name)
            return f"{self.interp}({self(args[0])}, T_{name}[0], T_{name}[1])"
        if not args and (name in self.p.components or name in self.p.statefuls):
            return self.ref(name)
        raise Unsupported(f"{name}(): function not handled by the flat generator")


# ---------------------------------------------------------------------------------
# code generation
# ---------------------------------------------------------------------------------
def _toposort(nodes: dict[str, set[str]], what: str) -> list[str]:
    order, state = [], {}

    def visit(n, path):
        s = state.get(n)
        if s == 2:
            return
        if s == 1:
            raise Unsupported(f"{what}: circular equations through {n}")
        state[n] = 1
        for d in sorted(nodes.get(n, ())):
            if d in nodes:
                visit(d, path)
        state[n] = 2
        order.append(n)

    for n in nodes:
        visit(n, ())
    return order


@dataclass
class Generated:
    source: str
    constant_names: list[str]      # every node bound once per run
    dynamic_names: list[str]       # every node evaluated in rhs
    time_tables: list[str]
    time_compares: list[str]
    periodic: list[tuple[str, str]]
    unrecognised_modulo: bool
    uses_switches: bool
    n_states: int


def generate(parsed: Parsed, layout: dict[str, int], overrides: dict[str, str], vector: bool) -> Generated:
    """Source of ``make(P, H, T)`` returning ``(rhs, values, init, bp)`` for one model.

    layout: stateful object -> number of states (its order for SMOOTH/DELAY), in state
        vector order; overrides: component -> ``"number"`` or ``"series"`` (a parameter
        replaces its equation).
    """
    w = Writer(parsed, vector)
    exprs: dict[str, str] = {}
    deps: dict[str, set[str]] = {}
    init_exprs: dict[str, str] = {}
    init_deps: dict[str, set[str]] = {}

    def expr(name, node):
        w.deps = set()
        src = w(node)
        return src, set(w.deps)

    for name in overrides:
        if not _IDENT.match(name) or name not in parsed.components:
            raise Unsupported(f"parameter {name!r} is not a component of the model")
    for name, node in parsed.components.items():
        if name in overrides:
            if overrides[name] == "number":
                exprs[name], deps[name] = f"P[{name!r}]", set()
            else:
                exprs[name], deps[name] = (f"{'_series' if vector else '_s_interp'}(t, P[{name!r}][0], "
                                            f"P[{name!r}][1])", {"@time"})
            continue
        exprs[name], deps[name] = expr(name, node)
        if re.search(r"\bt\b|\b_clock\b", exprs[name]):
            deps[name].add("@time")
    # stateful objects: their value (in rhs: from the state), derivative and initial state
    offset = 0
    ddt_src: list[str] = []
    ddt_deps: set[str] = set()
    y_names = {}
    for sname, st in parsed.statefuls.items():
        if st.kind == "Initial":
            continue
        if sname not in layout:
            raise Unsupported(f"{sname}: not in PySD's state vector")
    for sname, size in layout.items():
        st = parsed.statefuls.get(sname)
        if st is None:
            raise Unsupported(f"{sname}: state of a kind the generator does not handle")
        st.offset, st.size = offset, size
        a = {k: expr(sname, v) for k, v in st.args.items() if k != "order"}
        ys = [f"y[{offset + i}]" for i in range(size)]
        y_names[sname] = ys
        if st.kind == "Integ":
            exprs[sname], deps[sname] = ys[0], {"@state"}
            ddt_src.append(a["ddt"][0])
            ddt_deps |= a["ddt"][1]
            init_exprs[sname], init_deps[sname] = a["initial"]
        elif st.kind == "Smooth":
            exprs[sname], deps[sname] = ys[-1], {"@state"}
            (inp, di), (tim, dt) = a["input"], a["time"]
            ddt_deps |= di | dt
            targets = [inp] + ys[:-1]
            ddt_src += [f"(({tg}) - {yk}) * {float(size)!r} / ({tim})" for tg, yk in zip(targets, ys)]
            init_exprs[sname], init_deps[sname] = a["initial"]
        elif st.kind == "Trend":
            (inp, di), (tim, dt) = a["input"], a["time"]
            exprs[sname] = f"{'_zidz' if vector else '_s_zidz'}(({inp}) - {ys[0]}, ({tim}) * _np_abs({ys[0]}))"
            deps[sname] = di | dt | {"@state"}
            ddt_src.append(f"(({inp}) - {ys[0]}) / ({tim})")
            ddt_deps |= di | dt
            ini, dini = a["initial"]
            init_exprs[sname] = f"({inp}) / (1 + ({ini}) * ({tim}))"
            init_deps[sname] = di | dt | dini
        elif st.kind in ("Delay", "DelayN"):
            (inp, di), (tim, dt) = a["input"], a["time"]
            exprs[sname] = f"{ys[-1]} / ({tim})"
            deps[sname] = dt | {"@state"}
            inflows = [inp] + [f"{yk} / ({tim})" for yk in ys[:-1]]
            ddt_src += [f"(({fin}) - {yk} / ({tim})) * {float(size)!r}" for fin, yk in zip(inflows, ys)]
            ddt_deps |= di | dt
            ini, dini = a["initial"]
            init_exprs[sname] = f"({ini}) * ({tim})"
            init_deps[sname] = dini | dt
        else:
            raise Unsupported(f"{sname}: {st.kind}")
        offset += size
    for sname, st in parsed.statefuls.items():
        if st.kind == "Initial":  # INITIAL(x): x at the initial time, a constant of the run
            src, d = expr(sname, st.args["initial"])
            init_exprs[sname], init_deps[sname] = src, d
            exprs[sname], deps[sname] = f"I_{sname}", {"@initial"}

    # which nodes are constant over a run: no time, state, or (in vector mode) nothing else
    def closure(name, seen):
        if name in seen:
            return seen[name]
        seen[name] = False
        dyn = any(d in ("@time", "@state") or (d in deps and closure(d, seen)) for d in deps.get(name, ()))
        seen[name] = dyn
        return dyn

    seen: dict[str, bool] = {}
    dynamic = {n for n in exprs if closure(n, seen)}
    constant = [n for n in exprs if n not in dynamic]
    graph = {n: {d for d in deps[n] if d in exprs} for n in exprs}
    order = _toposort(graph, "equations")
    const_order = [n for n in order if n in constant]
    dyn_order = [n for n in order if n in dynamic]
    # nodes needed by the derivatives only (values() computes every dynamic node)
    needed, stack = set(), [d for d in ddt_deps if d in exprs]
    while stack:
        n = stack.pop()
        if n in needed or n in constant:
            continue
        needed.add(n)
        stack.extend(d for d in graph[n] if d not in needed)
    rhs_order = [n for n in dyn_order if n in needed]

    # initialisation: states are their initial expressions; INITIAL() from the initial time
    init_graph = {}
    for n in exprs:
        if n in parsed.statefuls:
            init_graph[n] = {d for d in init_deps[n] if d in exprs}
        else:
            init_graph[n] = graph[n]
    init_order = _toposort(init_graph, "initial values")
    init_needed, stack = set(), [n for n in parsed.statefuls if n in exprs]
    while stack:
        n = stack.pop()
        if n in init_needed:
            continue
        init_needed.add(n)
        stack.extend(init_graph[n])
    init_order = [n for n in init_order if n in init_needed]

    lines = ["def make(P, H, T, I):"]
    for h in sorted(set(helpers()) | {"_np_logical_not", "_np_logical_and", "_np_logical_or"}):
        lines.append(f"    {h} = H[{h!r}]")
    lines.append("    _sw_step = H['_sw_step']; _sw_pulse = H['_sw_pulse']; _sw_ramp = H['_sw_ramp']")
    lines.append("    _clock = H['_clock']")
    for key in parsed.lookups:
        lines.append(f"    T_{key} = T[{key!r}]")
    for n in parsed.statefuls:
        if parsed.statefuls[n].kind == "Initial":
            lines.append(f"    I_{n} = I.get({n!r}, _nan)")
    lines.append("    t = H['_t0']")
    for n in const_order:
        lines.append(f"    v_{n} = {exprs[n]}")
    # init
    lines.append("    def init(t):")
    lines.append(f"        y = [0.0] * {offset}")
    for n in init_order:
        if n in parsed.statefuls:
            st = parsed.statefuls[n]
            if st.kind == "Initial":
                lines.append(f"        v_{n} = {init_exprs[n]}")
                continue
            lines.append(f"        _s = {init_exprs[n]}")
            for k in range(st.size):
                lines.append(f"        y[{st.offset + k}] = _s")
            lines.append(f"        v_{n} = {exprs[n]}")
        elif n in dynamic:
            lines.append(f"        v_{n} = {exprs[n]}")
    initials = [n for n in parsed.statefuls if parsed.statefuls[n].kind == "Initial"]
    lines.append("        return y, {" + ", ".join(f"{n!r}: v_{n}" for n in initials) + "}")
    # rhs
    lines.append("    def rhs(t, y):")
    if not vector:
        lines.append("        y = y.tolist()")
    if w.uses_switches:
        lines.append("        _clock.t = t")
    for n in rhs_order:
        lines.append(f"        v_{n} = {exprs[n]}")
    if vector:
        lines.append(f"        out = _np_empty(y.shape)")
        for k, src in enumerate(ddt_src):
            lines.append(f"        out[{k}] = {src}")
        lines.append("        return out")
    else:
        lines.append("        return _np_array([" + ", ".join(ddt_src) + "])")
    # values
    lines.append("    def values(t, y):")
    if not vector:
        lines.append("        y = [_float(v) for v in y]")
    if w.uses_switches:
        lines.append("        _clock.t = t")
    for n in dyn_order:
        lines.append(f"        v_{n} = {exprs[n]}")
    lines.append("        return {" + ", ".join(f"{n!r}: v_{n}" for n in order) + "}")
    # breakpoint operands
    lines.append("    def bp():")
    lines.append("        out = []")
    for src in w.time_compares:
        lines.append(f"        try:\n            out.append(('at', {src}))\n        except NameError:\n            pass")
    for psrc, osrc in w.periodic:
        lines.append(f"        try:\n            out.append(('every', {psrc}, {osrc}))\n        except NameError:\n"
                     "            out.append(('cap',))")
    lines.append("        return out")
    lines.append("    return rhs, values, init, bp")
    source = "\n".join(lines) + "\n"
    # time comparisons with non-constant operands raise NameError in bp() (their v_ name is
    # not bound there): such switches are state events, handled by step control.
    return Generated(source, const_order, dyn_order, w.time_tables, w.time_compares, w.periodic,
                     w.unrecognised_modulo, w.uses_switches, offset)


def compile_generated(gen: Generated, path_label: str):
    code = compile(gen.source, f"<flat rhs of {path_label}>", "exec")
    namespace: dict = {"__builtins__": {"NameError": NameError}}
    exec(code, namespace)  # noqa: S102 - source built only from whitelisted nodes (see docstring)
    return namespace["make"]


# ---------------------------------------------------------------------------------
# a model, ready to bind parameters and run
# ---------------------------------------------------------------------------------
class _Clock:
    """Current time for STEP/PULSE/RAMP (the engine's switches call ``time()``)."""
    __slots__ = ("t",)

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@dataclass
class Bound:
    """A flat model with one run's parameters: initial state, rhs and every value."""
    y0: np.ndarray
    rhs: object
    values: object
    points: list[float]
    step_cap: float | None


class FlatModel:
    """The flat generator's product for one translated model (compiled per set of
    overridden names; reused across runs)."""

    def __init__(self, source: str, layout: dict[str, int], label: str):
        self.parsed = parse_module(source)
        self.layout = dict(layout)
        self.label = label
        self._made: dict = {}
        self.generate(frozenset(), False)  # raises Unsupported early

    def generate(self, key: frozenset, vector: bool):
        k = (key, vector)
        if k not in self._made:
            gen = generate(self.parsed, self.layout, dict(key), vector)
            self._made[k] = (gen, compile_generated(gen, self.label))
        return self._made[k]

    def bind(self, params: dict, switches, t0: float, tf: float, vector: bool = False,
             n: int | None = None) -> Bound:
        """Bind parameters (python name -> number, pandas.Series, or in vector mode an array
        over the samples or a (years, values) pair) and compute the initial state."""
        P, key = {}, []
        for name, value in params.items():
            if isinstance(value, pd.Series):
                P[name] = (np.asarray(value.index, float), np.asarray(value.values, float))
                key.append((name, "series"))
            elif isinstance(value, tuple):
                P[name] = value
                key.append((name, "series"))
            elif isinstance(value, (int, float, np.floating, np.ndarray)) and not isinstance(value, bool):
                P[name] = value if isinstance(value, np.ndarray) else float(value)
                key.append((name, "number"))
            else:
                raise Unsupported(f"parameter {name!r} of type {type(value).__name__}")
        gen, make = self.generate(frozenset(key), vector)
        clock = _Clock()
        clock.t = t0
        H = helpers()
        H.update(_np_logical_not=np.logical_not, _np_logical_and=np.logical_and,
                 _np_logical_or=np.logical_or, _clock=clock, _t0=t0,
                 _sw_step=switches.step, _sw_pulse=switches.pulse, _sw_ramp=switches.ramp)
        T = self.parsed.lookups if vector else {k: (tuple(x.tolist()), tuple(v.tolist()))
                                                for k, (x, v) in self.parsed.lookups.items()}
        if not vector:
            P = {k: (tuple(v[0].tolist()), tuple(v[1].tolist())) if isinstance(v, tuple) else v
                 for k, v in P.items()}
        with np.errstate(all="ignore"):
            _r, _v, init, _b = make(P, H, T, {})
            y0, initial = init(t0)
            rhs, values, init, bp = make(P, H, T, initial)
            y0, _ = init(t0)
        points, cap = [], None
        for key_ in gen.time_tables:
            points.extend(float(x) for x in T[key_][0])
        for item in bp():
            if item[0] == "at":
                points.extend(np.atleast_1d(np.asarray(item[1], float)).tolist())
            elif item[0] == "every":
                periods = np.atleast_1d(np.asarray(item[1], float))
                offsets = np.atleast_1d(np.asarray(item[2], float))
                if not np.all(periods > 0):
                    cap = (tf - t0) / 400
                    continue
                for p in np.unique(periods):
                    for c in np.unique(offsets):
                        k = math.floor((t0 - abs(c)) / p) - 1
                        while k * p <= tf + p and len(points) < 1_000_000:
                            points.extend((float(k * p), float(k * p + c)))
                            k += 1
            else:
                cap = (tf - t0) / 400
        if gen.unrecognised_modulo:
            cap = (tf - t0) / 400
        if vector:
            y0 = np.stack([np.broadcast_to(np.asarray(v, float), (n,)) for v in y0])
        else:
            y0 = np.array([float(v) for v in y0])
        return Bound(y0=y0, rhs=rhs, values=values, points=[p for p in points if t0 < p < tf],
                     step_cap=cap)
