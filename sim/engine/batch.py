"""The vectorised twin of :func:`sim.engine.integrate.simulate`: many parameter samples in one run.

PySD's translated equations are plain arithmetic on the values its functions return. If
the constants that vary between samples return NumPy arrays of shape ``(N,)``, every
variable becomes an array over the samples, every stock holds ``N`` values, and one call
of the model's derivative evaluates all samples at once. The stacked state (all samples)
is integrated by ``solve_ivp`` with error control over every component, so each sample
is computed to the requested tolerance (the step size follows the hardest sample).

The same conventions as :mod:`sim.engine.integrate` hold (breakpoints, exact STEP/PULSE,
fast lookups), with these differences, stated plainly:

* only models without subscripts (the batch dimension is the only array dimension);
* no solver events; a non-negative stock is checked at the output times and segment
  ends, not located exactly;
* ``IF THEN ELSE`` is evaluated element-wise (``numpy.where``) when its condition
  differs between samples, and the ``float()`` PySD wraps around NumPy calls lets
  arrays through (both replaced in the translated module's namespace only).

A sampled constant may also be a per-sample time series (a :class:`pandas.DataFrame`
indexed by year, one column per sample), e.g. a policy lever that keeps its baseline value
until a start year and takes the sample's value from then on. It is interpolated linearly
between the years and held flat outside them, exactly as a ``pandas.Series`` param of
:func:`sim.engine.integrate.simulate`; its years are integration breakpoints.

Results must match single runs of the engine within 1e-6 relative
(``tests/test_batch.py`` checks it on the corpus and the Jingdezhen model).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr
from pysd.py_backend import functions as pysd_functions
from pysd.py_backend.lookups import HardcodedLookups
from pysd.py_backend import statefuls as pysd_statefuls
from scipy.integrate import solve_ivp

from sim.engine.integrate import (CONTROL_NAMES, MAX_EVALS, METHODS, SMALL, StateVector, Switches,
                                  check_settings, default_atol, dynamic_elements, eval_budget,
                                  inside_segment, install_switches, model_context, model_warnings,
                                  nonnegative_stocks, output_times_between, periodic_switch_points,
                                  prepare_params, resolve_names, stateful_names,
                                  time_comparison_points, tiny_state_warnings)
from sim.engine.flat import Unsupported
from sim.errors import ModelError, ParameterError, SimulationError
from sim.engine.load import LoadedModel, as_loaded


def _where(cond, if_true, if_false):
    """Vensim IF THEN ELSE that also takes an array condition (element-wise)."""
    if isinstance(cond, np.ndarray) and cond.ndim:
        if cond.all():
            return if_true()
        if not cond.any():
            return if_false()
        return np.where(cond, if_true(), if_false())
    return pysd_functions.if_then_else(cond, if_true, if_false)


def _zidz(numerator, denominator):
    """Vensim ZIDZ that also takes arrays over the samples."""
    if isinstance(denominator, np.ndarray) and denominator.ndim:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.abs(denominator) < pysd_functions.SMALL_VENSIM, 0.0,
                            numerator / denominator)
    return _ORIGINAL_ZIDZ(numerator, denominator)


def _xidz(numerator, denominator, x):
    """Vensim XIDZ that also takes arrays over the samples."""
    if isinstance(denominator, np.ndarray) and denominator.ndim:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.abs(denominator) < pysd_functions.SMALL_VENSIM, x,
                            numerator / denominator)
    return _ORIGINAL_XIDZ(numerator, denominator, x)


_ORIGINAL_ZIDZ, _ORIGINAL_XIDZ = pysd_functions.zidz, pysd_functions.xidz
# TREND and FORECAST call ZIDZ from PySD's statefuls module; the array-aware version
# behaves exactly like PySD's for numbers and xarray objects, so it can stand in there.
pysd_statefuls.zidz = _zidz


def _modulo(x, m):
    """Vensim MODULO that also takes arrays over the samples (PySD's tests ``m`` as a
    number); the result has the sign of ``m``, as PySD's."""
    if isinstance(m, np.ndarray) and m.ndim or isinstance(x, np.ndarray) and x.ndim:
        return np.mod(x, m)
    return _ORIGINAL_MODULO(x, m)


_ORIGINAL_MODULO = pysd_functions.modulo


def _float(x):
    """PySD wraps NumPy calls in ``float()``; keep arrays over the samples as arrays."""
    if isinstance(x, np.ndarray) and x.ndim:
        return x
    return float(x)


def _batch_lookup(obj: HardcodedLookups, model, switches: Switches):
    xs = np.asarray(obj.data["lookup_dim"].values, dtype=float)
    ys = np.asarray(obj.data.values, dtype=float)

    def call(data, x, final_subs=None):
        if np.ndim(x) == 0:
            xf = float(x)
            if xf == model.time._time:
                switches.note(xs)
            return float(np.interp(xf, xs, ys))
        return np.interp(np.asarray(x, dtype=float), xs, ys)

    obj._call = call


def _set_array_constant(m, py_name: str, values: np.ndarray) -> None:
    """Make a constant return an array over the samples (PySD refuses arrays)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.set_components({py_name: 0.0})  # PySD's own bookkeeping (dependencies, cache)
    original = getattr(m.components, py_name)

    def constant():
        return values

    constant.__name__ = py_name
    constant.__dict__.update(getattr(original, "__dict__", {}))
    m.components._set_component(py_name, constant)


def _set_series_constant(m, py_name: str, years: np.ndarray, values: np.ndarray) -> None:
    """Make a constant a per-sample time series: ``values`` has shape (len(years), N).

    Linear between ``years`` (sorted, float), flat outside them, as PySD's Series params.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PySD's bookkeeping: the constant depends on time
        m.set_components({py_name: pd.Series([0.0] * years.size, index=years)})
    original = getattr(m.components, py_name)
    last = years.size - 1

    def series():
        t = float(m.time())
        if t <= years[0]:
            return values[0]
        if t >= years[last]:
            return values[last]
        i = int(np.searchsorted(years, t, side="right")) - 1
        w = (t - years[i]) / (years[i + 1] - years[i])
        return values[i] + w * (values[i + 1] - values[i])

    series.__name__ = py_name
    series.__dict__.update(getattr(original, "__dict__", {}))
    m.components._set_component(py_name, series)


def _sample_table(name, value) -> tuple[np.ndarray, np.ndarray]:
    """A per-sample series as (sorted years, values of shape (len(years), N))."""
    years = np.asarray(value.index, dtype=float)
    values = value.to_numpy(dtype=float)
    if years.size == 0 or not np.all(np.isfinite(years)) or not np.all(np.isfinite(values)):
        raise ParameterError(f"sampled series {name!r}: expected finite years and values, "
                             "at least one year")
    if np.unique(years).size != years.size:
        raise ParameterError(f"sampled series {name!r}: its years repeat")
    order = np.argsort(years)
    return years[order], values[order]


class _BatchState(StateVector):
    """State vector whose elements carry a trailing sample dimension of size ``n``."""

    def __init__(self, model, n: int):
        for el in dynamic_elements(model):
            if getattr(el, "shape_info", None):
                raise ModelError(f"{el.py_name}: batch runs support models without "
                                 "subscripts only; run such a model sample by sample")
            s = np.asarray(el.state, dtype=float)
            if s.ndim == 0:
                s = np.full(n, float(s))
            elif s.shape[-1] != n:
                s = np.repeat(s[..., None], n, axis=-1)
            el._state = s.copy()
        super().__init__(model)
        self.scalar = False

    def derivative(self, model) -> np.ndarray:
        return np.concatenate([np.broadcast_to(np.asarray(el.ddt(), dtype=float), shape).ravel()
                               for el, shape in zip(self.elements, self.shapes)])

    def set(self, y: np.ndarray) -> None:
        for el, a, b, shape in zip(self.elements, self.offsets[:-1], self.offsets[1:], self.shapes):
            el._state = y[a:b].reshape(shape)


def integrate_segments(rhs, y0, t0, tf, out_times, switches: Switches, segment_end: list,
                       nfev: list, *, method, rtol, atol, max_step, path) -> np.ndarray:
    """Integrate ``rhs`` from ``t0`` to ``tf`` segment by segment between the known switching
    times, repeating (up to four times) when a new switching time shows up; the states at
    ``out_times`` (times × states). ``segment_end`` and ``nfev`` are the right-hand side's
    one-element cells (the current segment's end; the evaluation count, reset per attempt).

    First a probe: ``rhs`` at nine times across the span, so the switching times it meets
    are known before the first segment (a failing probe point is skipped: the integration
    itself reports a real failure)."""
    with np.errstate(all="ignore"):
        for t in np.linspace(t0, tf, 9):
            try:
                rhs(t, y0)
            except SimulationError:
                pass
    for _attempt in range(4):
        known = set(switches.breakpoints)
        edges = np.array(sorted({t0, tf, *known}))
        states = np.empty((out_times.size, y0.size))
        filled = np.zeros(out_times.size, bool)
        y = y0.copy()
        nfev[0] = 0
        for a, b in zip(edges[:-1], edges[1:]):
            if b - a <= SMALL * max(1.0, abs(b)):
                continue
            switches.segment_mid = 0.5 * (a + b)
            inside = (out_times >= a - SMALL) & (out_times <= b + SMALL) & ~filled
            t_eval = np.unique(np.append(np.clip(out_times[inside], a, b), b))
            segment_end[0] = b
            with np.errstate(all="ignore"):
                sol = solve_ivp(rhs, (a, b), y, method=method, rtol=rtol, atol=atol, t_eval=t_eval,
                                max_step=max_step)
            segment_end[0] = None
            if sol.status == -1:
                raise SimulationError(f"{path}: solver {method} failed between {a:g} and {b:g}: "
                                      f"{sol.message}", time=a)
            if inside.any():
                pos = np.searchsorted(sol.t, np.clip(out_times[inside], a, b))
                states[inside] = sol.y.T[np.minimum(pos, sol.t.size - 1)]
                filled |= inside
            y = sol.y[:, -1]
        switches.segment_mid = None
        if switches.breakpoints <= known:
            break
    return states


def simulate_batch(model, samples: dict[str, np.ndarray], params: dict | None = None, *,
                   method: str = "RK45", rtol: float = 1e-6, atol: float | None = None,
                   times=None, return_columns=None, max_evals: int = MAX_EVALS) -> xr.Dataset:
    """Run ``N`` parameter samples at once; return an ``xarray.Dataset`` (sample × time).

    Parameters
    ----------
    model: path, :class:`~sim.engine.load.LoadedModel` or PySD model (never modified).
    samples: ``{constant name: array of N values}``; every array has the same length.
        A value may instead be a ``pandas.DataFrame`` indexed by year with N columns:
        one time series per sample (linear between years, flat outside them).
    params: values shared by all samples, as in :func:`sim.engine.integrate.simulate` (numbers or
        ``pandas.Series`` indexed by year, e.g. a scenario's levers).
    method, rtol, atol, times, return_columns, max_evals: as in
        :func:`sim.engine.integrate.simulate` (one budget for the whole batch call);
        ``atol`` defaults to ``rtol * 1e-3`` times the largest initial state magnitude.

    The Dataset has one variable per returned model variable (its name as in the model
    file), dims ``("sample", "time")``; ``attrs`` hold ``nfev``, ``method``, ``rtol``,
    ``atol`` and ``breakpoints``.
    """
    if method not in METHODS:
        raise ParameterError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    check_settings(rtol, atol, max_evals)
    handle: LoadedModel = as_loaded(model)
    ctx = model_context(handle)
    m = ctx.template  # names only; a fresh PySD model is made below if PySD evaluates
    path = handle.path
    if not samples:
        raise ParameterError("simulate_batch needs at least one sampled constant")
    tables = {k: _sample_table(k, v) for k, v in samples.items() if isinstance(v, pd.DataFrame)}
    arrays = {k: tables[k][1][0] if k in tables else np.atleast_1d(np.asarray(v, dtype=float))
              for k, v in samples.items()}
    sizes = {a.shape for a in arrays.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        raise ParameterError(f"every sample array must be one-dimensional and of one length, "
                             f"got shapes {sorted(sizes)}")
    n = next(iter(sizes))[0]
    resolved = resolve_names(arrays, m._namespace, "sampled parameter", path)
    shared = prepare_params(params, m, path)
    overlap = set(shared) & set(resolved.values())
    if overlap:
        raise ParameterError(f"{sorted(overlap)} given both as shared params and as samples")

    reason = ctx.flat_reason
    if ctx.flat is not None and any(k in CONTROL_NAMES for k in [*shared, *resolved.values()]):
        reason = "a parameter changes a control variable"
    elif ctx.flat is not None:
        try:
            return _simulate_batch_flat(ctx, handle, arrays, tables, resolved, shared, n, method,
                                        rtol, atol, times, return_columns, max_evals)
        except Unsupported as err:
            reason = str(err)
    m = handle.fresh()
    t0, out_times, switches = install_switches(m, times)
    tf = float(out_times[-1])
    module = m.components._components
    if hasattr(module, "if_then_else"):
        module.if_then_else = _where
    module.float = _float  # shadows the builtin inside the translated module only
    for fname, fn in (("zidz", _zidz), ("xidz", _xidz), ("modulo", _modulo)):
        if hasattr(module, fname):
            setattr(module, fname, fn)
    for name, values in arrays.items():
        if name in tables:
            _set_series_constant(m, resolved[name], *tables[name])
            switches.note(tables[name][0])
        else:
            _set_array_constant(m, resolved[name], values)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m._stepper_mode = False
        m._config_simulation(shared, return_columns, list(out_times), "original",
                             None, None, None, cache_output=False, progress=False)
    for el in m._lookup_elements:
        if isinstance(el, HardcodedLookups) and el.is_float and el.interp == "interpolate":
            _batch_lookup(el, m, switches)
    switches.note(time_comparison_points(m, handle.py_file))
    periodic, cap = periodic_switch_points(m, handle.py_file, t0, tf)
    switches.note(periodic)
    max_step = np.inf if cap is None else cap
    notes = model_warnings(m, handle.py_file)
    for value in shared.values():
        if isinstance(value, pd.Series):
            switches.note(np.asarray(value.index, dtype=float))

    names = stateful_names(m)
    sv = _BatchState(m, n)
    y0 = sv.get()
    atol = default_atol(y0, rtol) if atol is None else atol
    nfev = [0]
    spend = eval_budget(path, method, max_evals, t0, tf)
    segment_end = [None]

    def set_time_state(t, y):
        sv.set(y)
        m.time._time = float(t)  # xarray refuses to broadcast NumPy scalars
        m.clean_caches()

    def rhs(t, y):
        nfev[0] += 1
        spend(t)
        t = inside_segment(t, segment_end[0])
        set_time_state(t, y)
        d = sv.derivative(m)
        if not np.all(np.isfinite(d)):
            i = int(np.flatnonzero(~np.isfinite(d))[0])
            var = sv.label(i, names)
            raise SimulationError(f"{path}: the derivative of {var!r} is {d[i]} at time {t:g} "
                                  f"(in sample {(i - sv.offsets[np.searchsorted(sv.offsets, i, 'right') - 1]) % n})",
                                  time=t, variable=var)
        return d

    states = integrate_segments(rhs, y0, t0, tf, out_times, switches, segment_end, nfev,
                                method=method, rtol=rtol, atol=atol, max_step=max_step, path=path)

    for i, name in nonnegative_stocks(m, sv, names):
        neg = np.flatnonzero(states[:, i] < 0)
        if neg.size:
            k = i - sv.offsets[np.searchsorted(sv.offsets, i, "right") - 1]
            raise SimulationError(f"{path}: stock {name!r} goes negative by time "
                                  f"{out_times[neg[0]]:g} in sample {k}; its units field marks it "
                                  "non-negative", time=float(out_times[neg[0]]), variable=name)

    notes += tiny_state_warnings(states, atol, lambda i: sv.label(i, names))
    for note in notes:
        warnings.warn(f"{path.name}: {note}", stacklevel=2)

    # ---- outputs: every captured variable, evaluated for all samples at once ----
    capture = list(m.capture_elements["step"]) + list(m.capture_elements["run"])
    rev = {v: k for k, v in m._namespace.items()}
    data = {py: np.empty((n, out_times.size)) for py in capture}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j, (t, yt) in enumerate(zip(out_times, states)):
            set_time_state(float(t), yt)
            for py in capture:
                data[py][:, j] = np.broadcast_to(np.asarray(getattr(m.components, py)(), dtype=float), (n,))
    ds = xr.Dataset({rev.get(py, py): (("sample", "time"), arr) for py, arr in data.items()},
                    coords={"sample": np.arange(n), "time": out_times})
    ds.attrs.update(nfev=nfev[0], method=method, rtol=rtol, atol=atol,
                    breakpoints=sorted(switches.breakpoints), model=str(path), warnings=notes,
                    rhs="pysd", rhs_reason=reason)
    return ds


def _simulate_batch_flat(ctx, handle, arrays, tables, resolved, shared, n, method, rtol, atol,
                         times, return_columns, max_evals) -> xr.Dataset:
    """simulate_batch through the vectorised flat right-hand side (sim.engine.flat): the
    state is an (n_states, N) array, flattened state-major as PySD's path does."""
    path = handle.path
    tpl = ctx.template
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_times = output_times_between(ctx.t0, ctx.tf, ctx.saveper, times)
    t0, tf = ctx.t0, float(out_times[-1])
    switches = Switches(t0, tf)
    P = dict(shared)
    for name, values in arrays.items():
        if name in tables:
            years, table = tables[name]
            P[resolved[name]] = (years, table)
            switches.note(years)
        else:
            P[resolved[name]] = np.asarray(values, dtype=float)
    bound = ctx.flat.bind(P, switches, t0, tf, vector=True, n=n)
    switches.note(bound.points)
    for value in shared.values():
        if isinstance(value, pd.Series):
            switches.note(np.asarray(value.index, dtype=float))
    max_step = np.inf if bound.step_cap is None else bound.step_cap
    notes = list(ctx.notes)
    ns = bound.y0.shape[0]
    y0 = bound.y0.ravel()
    atol = default_atol(y0, rtol) if atol is None else atol
    nfev = [0]
    segment_end = [None]
    sv, names = ctx.sv, ctx.names

    spend = eval_budget(path, method, max_evals, t0, tf)

    def rhs(t, y):
        nfev[0] += 1
        spend(t)
        t = inside_segment(t, segment_end[0])
        d = bound.rhs(t, y.reshape(ns, n)).ravel()
        if not np.all(np.isfinite(d)):
            i = int(np.flatnonzero(~np.isfinite(d))[0])
            var = sv.label(i // n, names)
            raise SimulationError(f"{path}: the derivative of {var!r} is {d[i]} at time {t:g} "
                                  f"(in sample {i % n})", time=t, variable=var)
        return d

    states = integrate_segments(rhs, y0, t0, tf, out_times, switches, segment_end, nfev,
                                method=method, rtol=rtol, atol=atol, max_step=max_step, path=path)
    for i, name in ctx.nonneg:
        block = states[:, i * n:(i + 1) * n]
        bad = np.argwhere(block < 0)
        if bad.size:
            j, k = bad[0]
            raise SimulationError(f"{path}: stock {name!r} goes negative by time "
                                  f"{out_times[j]:g} in sample {k}; its units field marks it "
                                  "non-negative", time=float(out_times[j]), variable=name)
    notes += tiny_state_warnings(states, atol, lambda i: sv.label(i // n, names))
    for note in notes:
        warnings.warn(f"{path.name}: {note}", stacklevel=3)
    if return_columns is None:
        cols = ctx.columns
    else:
        names_ = [return_columns] if isinstance(return_columns, str) else list(return_columns)
        res = resolve_names(names_, tpl._namespace, "return column", path)
        cols = [(ctx.real_names.get(py, py), py) for py in res.values()]
    data = {c: np.empty((n, out_times.size)) for c, _ in cols}
    with np.errstate(all="ignore"):
        for j, (t, yt) in enumerate(zip(out_times, states)):
            vals = bound.values(float(t), yt.reshape(ns, n))
            for c, py in cols:
                data[c][:, j] = np.broadcast_to(np.asarray(vals[py], dtype=float), (n,))
    ds = xr.Dataset({c: (("sample", "time"), arr) for c, arr in data.items()},
                    coords={"sample": np.arange(n), "time": out_times})
    ds.attrs.update(nfev=nfev[0], method=method, rtol=rtol, atol=atol,
                    breakpoints=sorted(switches.breakpoints), model=str(path), warnings=notes,
                    rhs="flat", rhs_reason=None)
    return ds
