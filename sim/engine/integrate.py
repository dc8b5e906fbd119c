"""Integrate a PySD model with SciPy's adaptive, error-controlled solvers.

PySD integrates with fixed-step Euler. This engine keeps PySD's translation and
equations and replaces only the time loop: the state vector is every dynamic stateful
element PySD keeps (stocks and the internal states of DELAY1/DELAY3/SMOOTH/TREND/...;
subscripted states are flattened), and :func:`scipy.integrate.solve_ivp` integrates it.

Conventions, stated once:

* **Discontinuities known in advance split the integration**: the switching times of
  STEP and PULSE, the start and end of RAMP, the points of lookups whose argument is
  ``Time`` (named tables and inline ``WITH LOOKUP``), comparisons of ``Time`` with a
  constant (``IF THEN ELSE(Time >= policy year, ...)``), and the index points of
  time-series parameters (e.g. a scenario's policy start year). Inside a segment the
  solver never sees a jump: a derivative requested exactly at a segment's end is
  evaluated just inside it (the segment's own regime).
* Jumps that depend on the state (``IF THEN ELSE(stock > x, ...)``) cannot be known in
  advance; the solver's step control handles them, at some cost in accuracy (about
  10-250 times rtol in the corpus; tighten rtol where it matters).
* **STEP and PULSE switch exactly at their time** (Vensim's definition: STEP is on
  for ``Time >= t``; PULSE is on for ``start <= Time < start + width``). PySD's Euler
  switches them half a TIME STEP early (it compares ``Time + TIME STEP/2``); the two
  agree as TIME STEP shrinks. Inside a segment the switch state is evaluated at the
  segment's midpoint, so the solver's stage at the segment end does not see the next
  segment's value. Outputs are right-continuous (the value after the switch).
* **Lookups** of one variable are evaluated with :func:`numpy.interp` (PySD goes
  through xarray at about 1 ms a call). Both hold the end values outside the table.
* **Loud failure**: solver failure, a NaN/inf derivative, or a stock whose lower
  limit in the units field is >= 0 (``~ Person [0,?]``) going below zero raise
  :class:`~sim.errors.SimulationError` naming the time and the variable.
* DELAY FIXED, DELAY N, SAMPLE IF TRUE and impulse PULSEs change state only at discrete
  steps; they are rejected with a clear :class:`~sim.errors.ModelError`.
* Each call works on a fresh PySD model object: the model handle is never modified.
"""
from __future__ import annotations

import ast
import dataclasses
import math
import os
import re
import types
import warnings
from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd
import xarray as xr
from pysd.py_backend.lookups import HardcodedLookups
from pysd.py_backend.output import ModelOutput
from pysd.py_backend.model import Macro
from pysd.py_backend.statefuls import Delay, DelayFixed, DelayN, Integ, SampleIfTrue
from scipy.integrate import solve_ivp

from sim.errors import ModelError, ParameterError, SimulationError, suggest
from sim.engine.flat import FlatModel, Unsupported
from sim.engine.load import LoadedModel, as_loaded

METHODS = ("RK45", "RK23", "DOP853", "LSODA", "Radau", "BDF")
SMALL = 1e-9  # relative tolerance used to compare times (years)


@dataclass(frozen=True)
class Event:
    """The first time ``variable`` crosses ``threshold``.

    ``direction``: ``"up"`` (value rises to >= threshold), ``"down"`` (falls to <=),
    or ``"either"``. If the condition already holds at the initial time, the event
    time is the initial time. ``name`` defaults to ``"<variable> <op> <threshold>"``.
    """

    variable: str
    threshold: float
    direction: str = "up"
    name: str | None = None

    @property
    def key(self) -> str:
        op = {"up": ">=", "down": "<=", "either": "=="}[self.direction]
        return self.name or f"{self.variable} {op} {self.threshold:g}"


# ---------------------------------------------------------------------------------
# discontinuity-aware replacements for PySD's STEP, PULSE and RAMP
# ---------------------------------------------------------------------------------
class Switches:
    """Records the switching times it sees and evaluates STEP/PULSE per segment."""

    def __init__(self, t0: float, tf: float):
        self.t0, self.tf = t0, tf
        self.breakpoints: set[float] = set()
        self.segment_mid: float | None = None  # None: evaluate at the actual time

    def _note(self, *times) -> None:
        for t in times:
            if t is None:
                continue
            arr = np.asarray(t.values if isinstance(t, xr.DataArray) else t, dtype=float).ravel()
            for v in arr:
                if self.t0 < v < self.tf:
                    self.breakpoints.add(float(v))

    def _switch_time(self, time) -> float:
        return time() if self.segment_mid is None else self.segment_mid

    def step(self, time, value, tstep):
        self._note(tstep)
        return value * (self._switch_time(time) >= tstep - SMALL)

    def pulse(self, time, start, repeat_time=0, width=None, magnitude=None, end=None):
        if width is None or magnitude is not None:
            raise ModelError("an impulse PULSE (no width, or a magnitude) puts a finite "
                             "quantity into a stock within one TIME STEP; it has no "
                             "continuous-time meaning and the engine does not integrate it")
        t = self._switch_time(time)
        if repeat_time == 0:
            self._note(start, start + width)
            return 1.0 * ((start - SMALL <= t) & (t < start + width - SMALL))
        stop = self.tf if end is None else min(end, self.tf)
        k = 0
        while start + k * repeat_time < stop and k < 10_000:
            self._note(start + k * repeat_time, start + k * repeat_time + width)
            k += 1
        if end is not None:
            self._note(end)
        on = (start - SMALL <= t) & (True if end is None else t < end)
        return 1.0 * on * (((t - start + SMALL) % repeat_time) < width)

    def ramp(self, time, slope, start, finish=None):
        self._note(start, finish)
        t = time()
        final = t if finish is None else np.minimum(finish, t)
        return (t > start) * slope * (final - start)


def _fast_lookup(obj: HardcodedLookups, model, switches: Switches):
    """Replace a one-dimensional lookup's xarray interpolation by numpy.interp.

    Also records the table's x points as breakpoints when it is called with ``Time``.
    """
    xs = np.asarray(obj.data["lookup_dim"].values, dtype=float)
    ys = np.asarray(obj.data.values, dtype=float)
    original = obj._call

    def call(data, x, final_subs=None):
        if data is not obj.data or isinstance(x, xr.DataArray):  # replaced or subscripted
            return original(data, x, final_subs)
        xf = float(x)
        if xf == model.time._time:
            switches._note(xs)
        return float(np.interp(xf, xs, ys))

    obj._call = call


def _numpy_for(model, switches: Switches):
    """A copy of the numpy namespace for one translated module whose ``interp`` records
    the table points of inline ``WITH LOOKUP(Time, ...)`` (PySD writes them as
    ``np.interp(time(), xs, ys)``) as breakpoints."""
    ns = types.ModuleType("numpy_for_model")
    ns.__dict__.update(np.__dict__)

    def interp(x, xp, fp, *args, **kwargs):
        if np.ndim(x) == 0 and float(x) == model.time._time:
            switches._note(xp)
        return np.interp(x, xp, fp, *args, **kwargs)

    ns.interp = interp
    return ns


_TIME_COMPARISON = re.compile(
    r"time\(\)\s*(?:>=|<=|>|<|==)\s*([A-Za-z_]\w*\(\)|[0-9][0-9.eE+-]*)"
    r"|([A-Za-z_]\w*\(\)|[0-9][0-9.eE+-]*)\s*(?:>=|<=|>|<|==)\s*time\(\)")


def time_comparison_points(model, py_file) -> list[float]:
    """Switching times of conditions like ``IF THEN ELSE(Time >= policy time, ...)``.

    Found in the translated module's source: a comparison of ``time()`` with a number
    or with a constant of the model. Only constants are used (a comparison with a
    dynamic variable is a state event the solver handles by step control).
    """
    points = []
    source = open(py_file, encoding="utf-8").read()
    for match in _TIME_COMPARISON.finditer(source):
        operand = match.group(1) or match.group(2)
        if operand.endswith("()"):
            name = operand[:-2]
            if name == "time" or model.cache_type.get(name) != "run":
                continue
            try:
                value = getattr(model.components, name)()
            except Exception:  # noqa: BLE001 - not a plain constant: skip
                continue
        else:
            value = operand
        try:
            points.extend(np.atleast_1d(np.asarray(value, dtype=float)).ravel().tolist())
        except (TypeError, ValueError):
            continue
    return points


_PERIODIC = re.compile(
    r"modulo\(\s*time\(\)\s*,\s*([A-Za-z_]\w*\(\)|[0-9][0-9.eE+-]*)\s*\)\s*(?:>=|<=|>|<|==|!=)\s*"
    r"([A-Za-z_]\w*\(\)|[0-9][0-9.eE+-]*)")


def _constant_values(model, operand: str) -> np.ndarray | None:
    """The values of a number or of a run-cached constant ``name()`` of the model (an
    array: a constant may be subscripted or sampled), else None."""
    if operand.endswith("()"):
        name = operand[:-2]
        if name == "time" or model.cache_type.get(name) != "run":
            return None
        try:
            value = getattr(model.components, name)()
            return np.atleast_1d(np.asarray(getattr(value, "values", value), dtype=float)).ravel()
        except Exception:  # noqa: BLE001 - not a plain constant
            return None
    try:
        return np.array([float(operand)])
    except ValueError:
        return None


def periodic_switch_points(model, py_file, t0: float, tf: float) -> tuple[list[float], float | None]:
    """Switching times of periodic conditions ``MODULO(Time, P) <op> C`` in ``[t0, tf]``.

    Returns the points ``k P`` and ``k P + C`` and a step cap: where ``MODULO(Time, ...)``
    appears in a form not recognised, the largest step is limited to a quarter of the
    shortest recognisable period, or to (tf - t0)/400 when none is known (None: no cap).
    """
    source = open(py_file, encoding="utf-8").read()
    points, cap = [], None
    for match in _PERIODIC.finditer(source):
        periods = _constant_values(model, match.group(1))
        offsets = _constant_values(model, match.group(2))
        if periods is None or offsets is None or not np.all(periods > 0):
            cap = (tf - t0) / 400
            continue
        for period in np.unique(periods):
            for offset in np.unique(offsets):
                k = math.floor((t0 - abs(offset)) / period) - 1
                while k * period <= tf + period and len(points) < 1_000_000:
                    points.extend((float(k * period), float(k * period + offset)))
                    k += 1
    if len(_PERIODIC.findall(source)) < source.count("modulo(time()"):
        cap = (tf - t0) / 400
    return [p for p in points if t0 < p < tf], cap


def model_warnings(model, py_file) -> list[str]:
    """Equations that only make sense for Euler steps: those that use ``TIME STEP`` and
    those that compare ``Time`` for (in)equality. One message per equation."""
    tree = ast.parse(open(py_file, encoding="utf-8").read())
    rev = {v: k for k, v in model._namespace.items()}
    control = {"time_step", "saveper", "initial_time", "final_time", "time"}
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name in control or node.name.startswith("_"):
            continue
        uses_step = equality = False
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "time_step":
                uses_step = True
            if isinstance(sub, ast.Compare) and any(isinstance(o, (ast.Eq, ast.NotEq)) for o in sub.ops):
                operands = [sub.left, *sub.comparators]
                if any(isinstance(o, ast.Call) and isinstance(o.func, ast.Name) and o.func.id == "time"
                       for o in operands):
                    equality = True
        name = rev.get(node.name, node.name)
        if uses_step:
            out.append(f"{name!r} uses TIME STEP: it describes an Euler step, which the "
                       "continuous-time engine does not take; its value is the model's TIME STEP")
        if equality:
            out.append(f"{name!r} compares Time for equality: an adaptive solver almost never "
                       "lands exactly on that time, so the condition is (almost) never true")
    # stateful objects (INTEG, SMOOTH ...) are module-level calls: look at their lambdas
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            target = node.targets[0]
            if not isinstance(target, ast.Name):
                continue
            lambdas = [a for a in node.value.args if isinstance(a, ast.Lambda)]
            if any(isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)
                   and sub.func.id == "time_step" for lam in lambdas for sub in ast.walk(lam.body)):
                out.append(f"{target.id!r} uses TIME STEP in its equation: it describes an Euler "
                           "step, which the continuous-time engine does not take")
    return out


def tiny_state_warnings(states: np.ndarray, atol: float, label) -> list[str]:
    """States of one sign that fall below ``atol`` after having been large (1e3 atol): the
    solver controls their error only to ``atol``, so their relative error there is
    uncontrolled (prey near extinction comes back too early or too late). A state that
    changes sign by more than 10 atol is passing through zero, not vanishing: no warning.
    ``states`` has one row per output time; ``label(i)`` names column ``i``."""
    out = []
    for i in range(states.shape[1]):
        col = states[:, i]
        k = int(np.argmax(np.abs(col)))
        peak = col[k]
        after = col[k:] * np.sign(peak)
        if abs(peak) > 1e3 * atol and after.min() > -10 * atol and np.abs(after).min() < atol:
            out.append(f"{label(i)!r} falls below atol={atol:.3g} (to {np.abs(after).min():.3g}) "
                       f"after reaching {abs(peak):.3g}: its relative accuracy there is not "
                       "controlled; pass a smaller atol")
    return out


def prepare_delays(m) -> None:
    """Vensim's material delays in continuous time, for every delay of a fresh model
    (macros included), before initialisation:

    * the delay order is fixed at the order written in the model (PySD lowers it while
      order x TIME STEP exceeds the delay time; an Euler artefact), by giving the delay
      a zero time step;
    * DELAY N becomes the plain N-stage chain with the current delay time (PySD's
      ``Delay`` equations): the limit of PySD's rolled ``times`` array as TIME STEP -> 0.
      Order and initial value are fixed at initialisation, as in Vensim.
    """
    for el in _all_statefuls(m):
        if isinstance(el, (Delay, DelayN)):
            el.tstep = _zero
        if type(el) is DelayN:
            el.__class__ = ContinuousDelayN


def _zero() -> float:
    return 0.0


class ContinuousDelayN(DelayN):
    """DELAY N integrated as the N-stage chain with the current delay time."""

    __call__ = Delay.__call__
    ddt = Delay.ddt


def _all_statefuls(m) -> list:
    """Every stateful object of a model and of the macros inside it (recursively)."""
    out = []
    for el in m._stateful_elements.values():
        if isinstance(el, Macro):
            out.extend(_all_statefuls(el))
        else:
            out.append(el)
    return out


def dynamic_elements(m) -> list:
    """The model's dynamic stateful elements with every macro expanded into its own."""
    out = []
    for el in m._dynamicstateful_elements:
        if isinstance(el, Macro):
            out.extend(dynamic_elements(el))
        else:
            out.append(el)
    return out


# ---------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------
def resolve_names(names, namespace: dict[str, str], what: str, model_path) -> dict[str, str]:
    """Map user names (model names or Python names, any case) to Python names."""
    lookup = {k.lower(): v for k, v in namespace.items()}
    lookup.update({v.lower(): v for v in namespace.values()})
    resolved, problems = {}, []
    for name in names:
        py = lookup.get(str(name).lower())
        if py is None:
            problems.append(f"unknown {what} {name!r}{suggest(str(name), namespace.keys())}")
        else:
            resolved[name] = py
    if problems:
        raise ParameterError(f"{model_path}: " + "; ".join(problems))
    return resolved


def check_value(name: str, value) -> str | None:
    """Return a problem description if ``value`` is not a number or a numeric series."""
    if isinstance(value, bool):
        return f"{name!r}: expected a number, got a boolean"
    if isinstance(value, Real):
        return None if math.isfinite(float(value)) else f"{name!r}: value {value} is not finite"
    if isinstance(value, pd.Series):
        try:
            idx = np.asarray(value.index, dtype=float)
            vals = np.asarray(value.values, dtype=float)
        except (TypeError, ValueError):
            return f"{name!r}: a time series needs numeric years and numeric values"
        if len(idx) == 0 or not (np.all(np.isfinite(idx)) and np.all(np.isfinite(vals))):
            return f"{name!r}: a time series needs at least one point and finite numbers"
        return None
    if isinstance(value, xr.DataArray):
        return None
    return (f"{name!r}: expected a number or a pandas Series indexed by year, "
            f"got {type(value).__name__} {value!r}")


def prepare_params(params: dict | None, model, path) -> dict:
    if not params:
        return {}
    resolved = resolve_names(params, model._namespace, "parameter", path)
    problems = [p for p in (check_value(k, v) for k, v in params.items()) if p]
    if problems:
        raise ParameterError(f"{path}: " + "; ".join(problems))
    out = {}
    for name, value in params.items():
        if isinstance(value, pd.Series):
            value = pd.Series(np.asarray(value.values, dtype=float),
                              index=np.asarray(value.index, dtype=float)).sort_index()
        elif isinstance(value, Real):
            value = float(value)
        out[resolved[name]] = value
    return out


# ---------------------------------------------------------------------------------
# the state vector
# ---------------------------------------------------------------------------------
class StateVector:
    """Flattens PySD's dynamic stateful elements into one float vector and back."""

    def __init__(self, model):
        self.elements = dynamic_elements(model)
        for el in self.elements:
            if isinstance(el, (DelayFixed, SampleIfTrue)) or type(el) is DelayN:
                kind = {DelayFixed: "DELAY FIXED", SampleIfTrue: "SAMPLE IF TRUE",
                        DelayN: "DELAY N"}[type(el)]
                raise ModelError(f"{el.py_name}: {kind} changes state only at discrete time "
                                 "steps; the continuous-time engine cannot integrate it "
                                 "(use DELAY1/DELAY3/SMOOTH, or PySD's own run())")
        self.shapes = [np.shape(self._values(el.state)) for el in self.elements]
        self.sizes = [int(np.prod(s)) if s else 1 for s in self.shapes]
        self.scalar = all(s == () for s in self.shapes)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.n = int(self.offsets[-1])

    @staticmethod
    def _values(v):
        return v.values if isinstance(v, xr.DataArray) else v

    def get(self) -> np.ndarray:
        if self.scalar:
            return np.fromiter((float(el.state) for el in self.elements), float, self.n)
        return np.concatenate([np.asarray(self._values(el.state), dtype=float).ravel()
                               for el in self.elements])

    def set(self, y: np.ndarray) -> None:
        if self.scalar:
            for el, v in zip(self.elements, y):
                el._state = float(v)
            return
        for el, a, b, shape in zip(self.elements, self.offsets[:-1], self.offsets[1:], self.shapes):
            if shape == ():
                el._state = float(y[a])
            elif el.shape_info:
                el._state = xr.DataArray(data=y[a:b].reshape(shape), **el.shape_info)
            else:
                el._state = y[a:b].reshape(shape).copy()

    def derivative(self, model) -> np.ndarray:
        if self.scalar:
            return np.fromiter((float(el.ddt()) for el in self.elements), float, self.n)
        return np.concatenate([np.asarray(self._values(el.ddt()), dtype=float).ravel()
                               for el in self.elements])

    def label(self, index: int, names: dict[str, str]) -> str:
        """Model name of the element owning position ``index`` of the vector."""
        k = int(np.searchsorted(self.offsets, index, side="right") - 1)
        py = self.elements[k].py_name
        return names.get(py, py)


def stateful_names(model) -> dict[str, str]:
    """Map internal stateful object names (``_integ_stock_a``) to model names."""
    out = {}
    rev = {v: k for k, v in model._namespace.items()}
    for py, deps in model._dependencies.items():
        if isinstance(deps, dict):
            for dep in deps:
                if isinstance(dep, str) and dep.startswith("_") and py in rev:
                    out.setdefault(dep, rev[py])
    return out


def nonnegative_stocks(model, sv: StateVector, names: dict[str, str]) -> list[tuple[int, str]]:
    """Vector positions of stocks whose lower limit is >= 0 (from the units field)."""
    doc = model.doc
    lower = {}
    for _, row in doc.iterrows():
        lim = row["Limits"]
        if isinstance(lim, tuple) and lim[0] is not None and not pd.isna(lim[0]) and lim[0] >= 0:
            lower[row["Real Name"]] = float(lim[0])
    out = []
    for el, a, b in zip(sv.elements, sv.offsets[:-1], sv.offsets[1:]):
        name = names.get(el.py_name, el.py_name)
        if isinstance(el, Integ) and (name in lower or type(el).__name__ == "NonNegativeInteg"):
            out.extend((i, name) for i in range(a, b))
    return out


# ---------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------
def _output_times(model, times) -> np.ndarray:
    return output_times_between(float(model.time.initial_time()), float(model.time.final_time()),
                                float(model.time.saveper()), times)


def output_times_between(t0: float, tf: float, saveper: float, times) -> np.ndarray:
    """The output times of a run: ``times`` checked to lie in [t0, tf], or t0..tf every
    ``saveper`` (years)."""
    if times is None:
        dt = saveper
        n = int(round((tf - t0) / dt))
        out = t0 + dt * np.arange(n + 1)
    else:
        out = np.atleast_1d(np.asarray(times, dtype=float))
    out = np.unique(out)
    if out.size == 0 or out[0] < t0 - SMALL or out[-1] > tf + SMALL:
        raise ParameterError(f"requested times must lie within [{t0:g}, {tf:g}]")
    return np.clip(out, t0, tf)


def install_switches(m, times) -> tuple[float, np.ndarray, Switches]:
    """Prepare a fresh PySD model for the engine: wire its control variables (they may
    refer to each other, SAVEPER = TIME STEP), choose the output times, and put the
    discontinuity-aware STEP/PULSE/RAMP and ``numpy.interp`` into the translated module,
    before initialisation so that initial values use them too.

    Returns the initial time, the output times (the run stops at the last one) and the
    :class:`Switches` that collects breakpoints.
    """
    m.components._init_outer_references({"scope": m, "time": m.time})
    t0 = float(m.time.initial_time())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_times = _output_times(m, times)
    switches = Switches(t0, float(out_times[-1]))
    module = m.components._components
    for fname in ("step", "pulse", "ramp"):
        if hasattr(module, fname):
            setattr(module, fname, getattr(switches, fname))
    if hasattr(module, "np"):
        module.np = _numpy_for(m, switches)
    prepare_delays(m)
    return t0, out_times, switches


CONTROL_NAMES = ("initial_time", "final_time", "time_step", "saveper")


@dataclass
class ModelContext:
    """What every run of one translated model shares, built once per model and kept:
    an initialised PySD model with the default constants (names, state layout, output
    columns, the check of the flat right-hand side), and the flat model itself."""

    template: object
    t0: float
    tf: float
    saveper: float
    sv: "StateVector"
    names: dict
    nonneg: list
    notes: list
    columns: list          # (output column, python name), PySD's order
    real_names: dict       # python name -> model name
    flat: FlatModel | None
    flat_reason: str | None


_CONTEXTS: dict = {}


def model_context(handle: LoadedModel) -> ModelContext:
    """The shared context of a model (cached per translation; a handle that carries
    parameters set on a PySD model object gets its own, uncached)."""
    key = (str(handle.py_file), handle.sha256)
    if not handle.tracker and key in _CONTEXTS:
        ctx = _CONTEXTS[key]
        if ctx.flat is not None and os.environ.get("SIM_FLAT") == "0":
            return dataclasses.replace(ctx, flat=None, flat_reason="the flat right-hand side is "
                                       "switched off (SIM_FLAT=0)")
        return ctx
    m = handle.fresh()
    t0, out_times, switches = install_switches(m, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m._stepper_mode = False
        m._config_simulation({}, None, list(out_times), "original",
                             None, None, None, cache_output=False, progress=False)
        for el in m._lookup_elements:
            if isinstance(el, HardcodedLookups) and el.is_float and el.interp == "interpolate":
                _fast_lookup(el, m, switches)
        sv = StateVector(m)
        names = stateful_names(m)
        m.output = ModelOutput(None)
        m.output.set_capture_elements(m.capture_elements)
        m.output.initialize(m)
        m.output.update(m)
        sample = ModelOutput.collect(m)
    real_names = {py: real for real, py in m._namespace.items()}
    columns = [(c, m._namespace.get(c, c)) for c in sample.columns]
    flat, reason = None, None
    if handle.tracker:
        reason = "parameters set on a PySD model object are applied through PySD"
    elif os.environ.get("SIM_FLAT") == "0":
        reason = "the flat right-hand side is switched off (SIM_FLAT=0)"
    else:
        try:
            layout = {el.py_name: (int(el.order) if hasattr(el, "order") and el.order is not None
                                   else int(np.size(sv._values(el.state))))
                      for el in sv.elements}
            if any(getattr(el, "shape_info", None) for el in sv.elements):
                raise Unsupported("the model has subscripted states")
            if m._macro_elements:
                raise Unsupported("the model uses macros")
            if m._external_elements or m._data_elements:
                raise Unsupported("the model reads external data")
            missing = [py for _, py in columns if py not in m._namespace.values()]
            if missing:
                raise Unsupported(f"output columns without a component: {missing[:3]}")
            flat = FlatModel(open(handle.py_file, encoding="utf-8").read(), layout, handle.path.name)
            verify_flat(flat, m, sv, t0, float(out_times[-1]))
        except Unsupported as err:
            flat, reason = None, str(err)
            warnings.warn(f"{handle.path.name}: the flat right-hand side does not handle this "
                          f"model ({reason}); PySD's slower evaluation is used", stacklevel=3)
    ctx = ModelContext(template=m, t0=t0, tf=float(m.time.final_time()),
                       saveper=float(m.time.saveper()), sv=sv, names=names,
                       nonneg=nonnegative_stocks(m, sv, names), notes=model_warnings(m, handle.py_file),
                       columns=columns, real_names=real_names, flat=flat, flat_reason=reason)
    if not handle.tracker:
        _CONTEXTS[key] = ctx
    return ctx


def pysd_derivative(m, sv: "StateVector", t: float, y: np.ndarray) -> np.ndarray:
    """PySD's own derivative of an initialised model at time ``t`` and state ``y``."""
    sv.set(np.asarray(y, float))
    m.time._time = float(t)
    m.clean_caches()
    return sv.derivative(m)


def verify_flat(flat: FlatModel, m, sv, t0: float, tf: float, samples: int = 4,
                rtol: float = 1e-9, seed: int = 15) -> float:
    """Check the flat model against PySD's evaluation: the initial state, and the
    derivative at ``samples`` perturbed states and times. Raises :class:`Unsupported`
    on a mismatch; returns the largest relative difference."""
    bound = flat.bind({}, Switches(t0, tf), t0, tf)
    y0 = sv.get()
    worst = 0.0
    scale = np.maximum(np.abs(y0), 1e-12 * max(1.0, float(np.max(np.abs(y0), initial=0.0))))
    diff = float(np.max(np.abs(bound.y0 - y0) / scale, initial=0.0))
    if not diff <= rtol:
        i = int(np.argmax(np.abs(bound.y0 - y0) / scale))
        raise Unsupported(f"the initial state of {sv.label(i, stateful_names(m))!r} differs from "
                          f"PySD's ({bound.y0[i]!r} against {y0[i]!r})")
    rng = np.random.default_rng(seed)
    for k in range(samples):
        t = t0 if k == 0 else t0 + (tf - t0) * rng.uniform()
        y = y0 if k == 0 else y0 * (1 + 0.05 * rng.standard_normal(y0.size))
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = pysd_derivative(m, sv, t, y)
        except Exception:  # noqa: BLE001 - PySD cannot evaluate there: no comparison
            continue
        with np.errstate(all="ignore"):
            got = bound.rhs(t, y)
        sc = np.maximum(np.abs(want), 1e-12 * max(1.0, float(np.max(np.abs(want), initial=0.0))))
        d = np.abs(got - want) / sc
        d = np.where(np.isnan(got) & np.isnan(want), 0.0, d)
        worst = max(worst, float(np.max(d, initial=0.0)))
        if not np.all(d <= rtol):
            i = int(np.argmax(np.where(np.isnan(d), np.inf, d)))
            raise Unsupported(f"the derivative of {sv.label(i, stateful_names(m))!r} differs from "
                              f"PySD's at time {t:g} ({got[i]!r} against {want[i]!r})")
    sv.set(y0)
    m.time._time = t0
    m.clean_caches()
    return worst


def inside_segment(t: float, end: float | None) -> float:
    """The time at which to evaluate the derivative for solver time ``t`` while
    integrating a segment that ends at ``end`` (None: no segment). The solver's last
    stage sits exactly on the breakpoint; evaluating just inside it keeps the segment's
    own regime (left limit) rather than the next one's."""
    if end is not None and t >= end:
        return end - 1e-10 * max(1.0, abs(end))
    return t


def default_atol(y0: np.ndarray, rtol: float) -> float:
    """``rtol * 1e-3`` times the largest initial state magnitude (at least 1e-12)."""
    scale = float(np.max(np.abs(y0))) if y0.size else 1.0
    return max(rtol * 1e-3 * max(scale, 1.0), 1e-12)


def simulate(model, params: dict | None = None, *, method: str = "RK45", rtol: float = 1e-6,
             atol: float | None = None, times=None, return_columns=None,
             initial_conditions: dict | None = None, events=None,
             max_step: float = np.inf, first_step: float | None = None) -> pd.DataFrame:
    """Run a model with ``scipy.integrate.solve_ivp``; return a DataFrame indexed by time.

    Parameters
    ----------
    model: a model file path, a :class:`~sim.engine.load.LoadedModel`, or a PySD model.
    params: ``{name: number or pandas.Series indexed by year}``; names as in the model
        file or PySD's Python names. A Series is interpolated linearly and held flat
        outside its points, which become integration breakpoints.
    method: a ``solve_ivp`` method (RK45, RK23, DOP853, LSODA, Radau, BDF).
    rtol, atol: solver tolerances; ``atol`` defaults to ``rtol * 1e-3`` times the
        largest initial state magnitude (at least ``1e-12``).
    times: output times (years); default INITIAL TIME..FINAL TIME every SAVEPER.
    return_columns: names to return (default: every variable, as PySD's ``run``).
    initial_conditions: ``{stock name: value}`` overriding initial values.
    events: :class:`Event` objects; their first crossing times are in
        ``df.attrs["events"]`` (``None`` where never crossed).

    ``df.attrs`` also holds ``nfev`` (right-hand-side evaluations), ``method``,
    ``rtol``, ``atol``, ``breakpoints``, ``warnings`` (equations that only make sense for
    Euler steps, states that vanish below ``atol``) and ``rhs`` (``"flat"``: the generated
    right-hand side of :mod:`sim.engine.flat`; ``"pysd"``: PySD's own evaluation, with
    ``rhs_reason`` saying why).
    """
    if method not in METHODS:
        raise ParameterError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if not (isinstance(rtol, Real) and rtol > 0):
        raise ParameterError(f"rtol must be a positive number, got {rtol!r}")
    handle: LoadedModel = as_loaded(model)
    ctx = model_context(handle)
    tpl = ctx.template
    path = handle.path
    p = prepare_params(params, tpl, path)
    ic = None
    if initial_conditions:
        resolve_names(initial_conditions, tpl._namespace, "stock", path)
        stateful = set(handle.doc.loc[handle.doc["Type"].eq("Stateful"), "Real Name"])
        by_lower = {n.lower(): n for n in stateful}
        by_lower.update({tpl._namespace[n].lower(): n for n in stateful if n in tpl._namespace})
        not_stocks = [k for k in initial_conditions if str(k).lower() not in by_lower]
        if not_stocks:
            raise ParameterError(f"{path}: initial conditions apply to stocks only; "
                                 + "; ".join(f"{k!r} is not a stock{suggest(str(k), stateful)}"
                                             for k in not_stocks))
        bad = [x for x in (check_value(k, v) for k, v in initial_conditions.items()) if x]
        if bad:
            raise ParameterError(f"{path}: " + "; ".join(bad))
        ic = (ctx.t0, dict(initial_conditions))
    events = list(events or [])
    for ev in events:
        if ev.direction not in ("up", "down", "either"):
            raise ParameterError(f"event {ev.key!r}: direction must be up, down or either")
    py_event_vars = {ev.key: resolve_names([ev.variable], tpl._namespace, "event variable", path)[ev.variable]
                     for ev in events}
    columns = None
    if return_columns is not None and not isinstance(return_columns, str):
        columns = resolve_names(return_columns, tpl._namespace, "return column", path)

    reason = ctx.flat_reason
    if ctx.flat is not None:
        if ic:
            reason = "initial conditions are set through PySD"
        elif isinstance(return_columns, str):
            reason = f"return_columns={return_columns!r} is handled by PySD"
        elif any(k in CONTROL_NAMES for k in p):
            reason = "a parameter changes a control variable"
    if ctx.flat is not None and reason is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out_times = output_times_between(ctx.t0, ctx.tf, ctx.saveper, times)
        t0, tf = ctx.t0, float(out_times[-1])
        switches = Switches(t0, tf)
        try:
            bound = ctx.flat.bind(p, switches, t0, tf)
        except Unsupported as err:
            reason = str(err)
    if ctx.flat is not None and reason is None:
        sv, names, notes = ctx.sv, ctx.names, list(ctx.notes)
        y0 = bound.y0
        switches._note(bound.points)
        for value in p.values():
            if isinstance(value, pd.Series):
                switches._note(np.asarray(value.index, dtype=float))
        if bound.step_cap is not None:
            max_step = min(max_step, bound.step_cap)
        evaluate = bound.rhs
        values_fn = bound.values

        def value_of_py(py, t, y):
            return float(np.max(values_fn(t, y)[py]))

        def collect(out_times, states):
            rows = [values_fn(float(t), yt) for t, yt in zip(out_times, states)]
            cols = ctx.columns if columns is None else [(c, py) for c, py in
                                                        ((ctx.real_names.get(py, py), py)
                                                         for py in columns.values())]
            data = np.array([[r[py] for _, py in cols] for r in rows], dtype=float).reshape(len(rows), len(cols))
            return pd.DataFrame(data, columns=[c for c, _ in cols],
                                index=pd.Index(np.asarray(out_times, float), name="time"))
        rhs_kind = "flat"
    else:
        m = handle.fresh()
        t0, out_times, switches = install_switches(m, times)
        tf = float(out_times[-1])  # integrate only as far as the last output time
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m._stepper_mode = False
            m._config_simulation(p, return_columns, list(out_times), ic if ic else "original",
                                 None, None, None, cache_output=False, progress=False)
        for el in m._lookup_elements:
            if isinstance(el, HardcodedLookups) and el.is_float and el.interp == "interpolate":
                _fast_lookup(el, m, switches)
        switches._note(time_comparison_points(m, handle.py_file))
        periodic, cap = periodic_switch_points(m, handle.py_file, t0, tf)
        switches._note(periodic)
        if cap is not None:
            max_step = min(max_step, cap)
        notes = list(ctx.notes)
        names = stateful_names(m)
        sv = StateVector(m)
        y0 = sv.get()
        for value in p.values():
            if isinstance(value, pd.Series):
                switches._note(np.asarray(value.index, dtype=float))

        def evaluate(t, y):
            set_time_state(t, y)
            return sv.derivative(m)

        def set_time_state(t, y):
            sv.set(y)
            m.time._time = float(t)  # xarray refuses to broadcast NumPy scalars
            m.clean_caches()

        def value_of_py(py, t, y):
            set_time_state(t, y)
            v = getattr(m.components, py)()
            return float(np.asarray(v.values if isinstance(v, xr.DataArray) else v).max())

        def collect(out_times, states):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m.output = ModelOutput(None)
                m.output.set_capture_elements(m.capture_elements)
                m.output.initialize(m)
                for t, yt in zip(out_times, states):
                    set_time_state(float(t), yt)
                    m.output.update(m)
                df = ModelOutput.collect(m)
            df.index = pd.Index(out_times, name="time")
            return df
        rhs_kind = "pysd"

    atol = default_atol(y0, rtol) if atol is None else atol
    nonneg = ctx.nonneg
    nfev = [0]
    last_t = [t0]
    segment_end = [None]  # right end of the segment being integrated

    def rhs(t, y):
        nfev[0] += 1
        last_t[0] = t
        t = inside_segment(t, segment_end[0])
        try:
            d = evaluate(t, y)
        except (ZeroDivisionError, FloatingPointError, OverflowError) as err:
            raise SimulationError(f"{path}: {type(err).__name__} while evaluating the "
                                  f"derivatives at time {t:g}: {err}", time=t) from err
        if not np.all(np.isfinite(d)):
            i = int(np.flatnonzero(~np.isfinite(d))[0])
            var = sv.label(i, names)
            raise SimulationError(f"{path}: the derivative of {var!r} is {d[i]} at time {t:g}",
                                  time=t, variable=var)
        return d

    def value_of(variable, t, y):
        return value_of_py(py_event_vars_by_var[variable], t, y)

    py_event_vars_by_var = {ev.variable: py_event_vars[ev.key] for ev in events}

    def event_fn(ev):
        py = py_event_vars[ev.key]

        def f(t, y):
            return value_of_py(py, t, y) - ev.threshold
        f.terminal = False
        f.direction = {"up": 1, "down": -1, "either": 0}[ev.direction]
        return f

    def negative_fn(i):
        def f(t, y):
            return y[i]
        f.terminal = True
        f.direction = -1
        return f

    # ---- probe: learn the switching times before integrating ----
    probe_times = np.linspace(t0, tf, 9)
    with np.errstate(all="ignore"):
        for t in probe_times:
            try:
                rhs(t, y0)
            except SimulationError:
                pass
    nfev[0] = 0

    event_times: dict[str, float | None] = {}
    for ev in events:  # already met at the start?
        v = value_of(ev.variable, t0, y0)
        met = {"up": v >= ev.threshold, "down": v <= ev.threshold, "either": v == ev.threshold}[ev.direction]
        event_times[ev.key] = t0 if met else None
    for i, name in nonneg:
        if y0[i] < 0:
            raise SimulationError(f"{path}: stock {name!r} starts negative ({y0[i]:g}) at time {t0:g}",
                                  time=t0, variable=name)

    # integrate segment by segment; repeat if a new switching time shows up
    for _attempt in range(4):
        known = set(switches.breakpoints)
        edges = np.array(sorted({t0, tf, *known}))
        states = np.empty((out_times.size, y0.size))
        filled = np.zeros(out_times.size, bool)
        y = y0.copy()
        nfev[0] = 0
        ev_found = dict(event_times)
        ev_fns = [event_fn(ev) for ev in events if ev_found[ev.key] is None]
        ev_keys = [ev.key for ev in events if ev_found[ev.key] is None]
        neg_fns = [negative_fn(i) for i, _ in nonneg]
        for a, b in zip(edges[:-1], edges[1:]):
            if b - a <= SMALL * max(1.0, abs(b)):
                continue
            switches.segment_mid = 0.5 * (a + b)
            segment_end[0] = b
            inside = (out_times >= a - SMALL) & (out_times <= b + SMALL) & ~filled
            t_eval = np.unique(np.append(np.clip(out_times[inside], a, b), b))
            with np.errstate(all="ignore"):
                sol = solve_ivp(rhs, (a, b), y, method=method, rtol=rtol, atol=atol,
                                t_eval=t_eval, events=ev_fns + neg_fns or None,
                                max_step=max_step, first_step=first_step)
            segment_end[0] = None
            if sol.status == -1:
                raise SimulationError(f"{path}: solver {method} failed at time {last_t[0]:g} "
                                      f"(integrating from {a:g} to {b:g}): {sol.message}",
                                      time=float(last_t[0]))
            if neg_fns and sol.status == 1:
                for (i, name), te in zip(nonneg, sol.t_events[len(ev_fns):]):
                    if te.size:
                        raise SimulationError(
                            f"{path}: stock {name!r} goes negative at time {te[0]:g}; its units "
                            f"field marks it non-negative", time=float(te[0]), variable=name)
            for key, te in zip(ev_keys, sol.t_events[:len(ev_fns)] if ev_fns else []):
                if te.size and ev_found[key] is None:
                    ev_found[key] = float(te[0])
            if inside.any():
                pos = np.searchsorted(sol.t, np.clip(out_times[inside], a, b))
                states[inside] = sol.y.T[np.minimum(pos, sol.t.size - 1)]
                filled |= inside
            y = sol.y[:, -1]
            # a jump at the boundary may cross an event threshold
            switches.segment_mid = None
            for ev in events:
                if ev_found[ev.key] is None:
                    v = value_of(ev.variable, b, y)
                    if {"up": v >= ev.threshold, "down": v <= ev.threshold,
                        "either": v == ev.threshold}[ev.direction]:
                        ev_found[ev.key] = b
            ev_fns = [event_fn(ev) for ev in events if ev_found[ev.key] is None]
            ev_keys = [ev.key for ev in events if ev_found[ev.key] is None]
        switches.segment_mid = None
        if switches.breakpoints <= known:
            break
    event_times = ev_found
    notes += tiny_state_warnings(states, atol, lambda i: sv.label(i, names))
    for note in notes:
        warnings.warn(f"{path.name}: {note}", stacklevel=2)

    # ---- collect outputs exactly as PySD's run() names them ----
    df = collect(out_times, states)
    df.attrs.update(events=event_times, nfev=nfev[0], method=method, rtol=rtol, atol=atol,
                    breakpoints=sorted(switches.breakpoints), model=str(path), warnings=notes,
                    rhs=rhs_kind, rhs_reason=reason)
    return df


def crossing_time(df: pd.DataFrame, column: str, threshold: float, direction: str = "up") -> float | None:
    """First time a saved series meets a threshold, by linear interpolation between
    output times (a results-only fallback to the engine's exact event detection)."""
    s = df[column]
    t = np.asarray(s.index, dtype=float)
    v = np.asarray(s.values, dtype=float) - threshold
    if direction == "down":
        v = -v
    if v[0] >= 0:
        return float(t[0])
    for i in range(1, len(v)):
        if v[i] >= 0:
            return float(t[i - 1] + (t[i] - t[i - 1]) * (-v[i - 1]) / (v[i] - v[i - 1]))
    return None
