"""Calibration against history and behaviour-reproduction statistics.

:func:`calibrate` fits the constants of a calibration spec
(:mod:`sim.analysis.calibration_spec`, which documents the spec format) with
:func:`scipy.optimize.least_squares` (every model run goes through the injectable
``simulate``) and returns a :class:`CalibrationResult`: the fitted constants with
confidence intervals and identifiability flags, and the fit to every series.
:func:`fit_statistics` is the pure function behind the per-series statistics (Sterman
1984, "Appropriate summary statistics for evaluating the historical fit of system
dynamics models", Dynamica 10(2)). :mod:`sim.report.calibration` writes the results
folder (numbers, tables, figures, manifest).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sim.analysis.calibration_spec import (  # noqa: F401  (the spec's names, importable from here as before)
    CONTROL_CONSTANTS, DATA_COLUMNS, DUPLICATE_RULES, LOSSES, NORMALISATIONS, PARAMETER_KEYS, PROJECT_ROOT,
    SERIES_KEYS, TOP_KEYS, TRANSFORMS, CalibrationSpec, CalibrationSpecError, ParameterSpec, SeriesSpec,
    load_spec, model_names, shown_path)
from sim.provenance import jsonable

# Identifiability flags: thresholds (documented in the report).
CI_RANGE_RATIO = 1.0        # flag when the 95 % CI is wider than the bounds range
CORRELATION_LIMIT = 0.95    # flag when |correlation| with another parameter exceeds this
SINGULAR_RCOND = 1e-10      # smallest / largest singular value of J below this: singular
FAILED_RUN_RESIDUAL = 1e3   # normalised residual assigned to every point of a failed run


def _default_simulate() -> Callable[..., pd.DataFrame]:
    from sim.engine.integrate import simulate

    return simulate


# ----------------------------------------------------------------------- statistics


def fit_statistics(model_values, data_values) -> dict[str, float]:
    """Behaviour-reproduction statistics of a model series against data (Sterman 1984).

    Both inputs are in the same units; pandas Series are aligned on their index, arrays
    must have equal length.  Pairs with a missing value are dropped.  Returns:

    - ``n``: number of pairs used;
    - ``RMSE``, ``MAE``, ``mean_error`` (model − data), in the data's units;
    - ``RMSPE``, ``MAPE``: root-mean-square and mean absolute percent error, in percent
      of the data (points where the data are zero are left out of these two);
    - ``R2``: squared Pearson correlation of model and data (Sterman's R²), Dmnl;
    - ``R2_determination``: 1 − SSE/SS_tot, Dmnl (can be negative);
    - ``MSE`` and its Theil decomposition ``U_M`` (bias), ``U_S`` (unequal variation),
      ``U_C`` (unequal covariation), Dmnl, summing to 1 (NaN when MSE = 0).
    """
    if isinstance(model_values, pd.Series) and isinstance(data_values, pd.Series):
        model_values, data_values = model_values.align(data_values, join="inner")
    m = np.asarray(model_values, dtype=float).ravel()
    d = np.asarray(data_values, dtype=float).ravel()
    if m.shape != d.shape:
        raise ValueError(f"fit_statistics: model has {m.size} values, data {d.size}; "
                         "expected equal lengths")
    keep = np.isfinite(m) & np.isfinite(d)
    m, d = m[keep], d[keep]
    n = int(m.size)
    nan = float("nan")
    out = {"n": n}
    if n == 0:
        return out | dict.fromkeys(("RMSE", "MAE", "mean_error", "RMSPE", "MAPE", "R2",
                                    "R2_determination", "MSE", "U_M", "U_S", "U_C"), nan)
    error = m - d
    mse = float(np.mean(error ** 2))
    nonzero = d != 0
    relative = error[nonzero] / np.abs(d[nonzero])
    sm, sd = float(np.std(m)), float(np.std(d))          # population (1/n) std, as Theil
    cov = float(np.mean((m - m.mean()) * (d - d.mean())))
    r2 = cov ** 2 / (sm * sd) ** 2 if sm > 0 and sd > 0 else nan
    ss_tot = float(np.sum((d - d.mean()) ** 2))
    out.update(
        RMSE=math.sqrt(mse), MAE=float(np.mean(np.abs(error))), mean_error=float(error.mean()),
        RMSPE=float(100 * np.sqrt(np.mean(relative ** 2))) if relative.size else nan,
        MAPE=float(100 * np.mean(np.abs(relative))) if relative.size else nan,
        R2=float(r2),
        R2_determination=1 - float(np.sum(error ** 2)) / ss_tot if ss_tot > 0 else nan,
        MSE=mse)
    if mse > 0:
        out.update(U_M=float((m.mean() - d.mean()) ** 2 / mse), U_S=(sm - sd) ** 2 / mse,
                   U_C=2 * (sm * sd - cov) / mse)     # = 2(1 - r) Sm Sd / MSE
    else:
        out.update(U_M=nan, U_S=nan, U_C=nan)
    return out


# ---------------------------------------------------------------------- calibration


@dataclass
class CalibrationResult:
    """Fitted constants, their uncertainty and the fit to every series.

    ``parameters``: index = constant name; columns ``initial, lower, upper, value,
    stderr, ci_low, ci_high`` (model units) and ``identifiable`` (bool), ``flags`` (str).
    ``statistics``: index = series name; :func:`fit_statistics` columns.
    ``comparison``: one row per data point used: ``series, year, data, model,
    model_initial`` (model units; model at the fitted and at the initial values).
    ``fitted`` / ``initial_run``: model runs at the fitted / initial values.
    """

    spec: CalibrationSpec
    parameters: pd.DataFrame
    covariance: pd.DataFrame
    correlation: pd.DataFrame
    statistics: pd.DataFrame
    comparison: pd.DataFrame
    fitted: pd.DataFrame
    initial_run: pd.DataFrame
    optimizer: dict
    notes: list[str]

    @property
    def values(self) -> dict[str, float]:
        """Fitted constants, name → value (model units), ready as ``simulate`` params."""
        return {name: float(v) for name, v in self.parameters["value"].items()}


class _Problem:
    """Residuals of the spec's series as a function of the fitted constants."""

    def __init__(self, spec: CalibrationSpec, simulate: Callable):
        self.spec, self.simulate = spec, simulate
        self.names = [p.name for p in spec.parameters]
        self.columns = sorted({s.variable for s in spec.series})
        self.runs = 0
        self.failed = 0
        self.first_failure: str | None = None
        self._cache: dict[tuple, pd.DataFrame | None] = {}
        self.series_data: list[pd.Series] = [s.data for s in spec.series]

    def run(self, x) -> pd.DataFrame | None:
        key = tuple(float(v) for v in x)
        if key not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            self.runs += 1
            params = dict(zip(self.names, key))
            try:
                df = self.simulate(self.spec.model, params=params, return_columns=self.columns,
                                   **self.spec.simulate_options)
                if not np.all(np.isfinite(df[self.columns].to_numpy(dtype=float))):
                    raise FloatingPointError("non-finite values")
            except Exception as err:  # a failed run is penalised, counted and reported
                self.failed += 1
                self.first_failure = self.first_failure or f"{params}: {type(err).__name__}: {err}"
                df = None
            self._cache[key] = df
        return self._cache[key]

    def restrict_to(self, times: pd.Index) -> list[str]:
        """Drop data points the model cannot be compared with (outside the simulated time
        span, or too early for the series' transform); returns notes."""
        notes, kept = [], []
        for s, data in zip(self.spec.series, self.series_data):
            first = times.min() + TRANSFORMS[s.transform][0]
            inside = data[(data.index >= first) & (data.index <= times.max())]
            if len(inside) < len(data):
                dropped = ", ".join(f"{y:g}" for y in data.index.difference(inside.index))
                notes.append(f"series {s.name!r}: data years {dropped} lie outside "
                             f"{first:g}-{times.max():g}, where the model gives its "
                             f"{s.transform}, and were not used")
            kept.append(inside)
        self.series_data = kept
        return notes

    def model_at_data(self, df: pd.DataFrame, i: int) -> np.ndarray:
        """Model values of series i at its data years (model units)."""
        return model_measure(df, self.spec.series[i], self.series_data[i].index)

    def residuals(self, x) -> np.ndarray:
        df = self.run(x)
        parts = []
        for i, s in enumerate(self.spec.series):
            data = self.series_data[i].to_numpy(dtype=float)
            if df is None:
                parts.append(np.full(data.size, FAILED_RUN_RESIDUAL))
                continue
            parts.append(math.sqrt(s.weight) * (self.model_at_data(df, i) - data) / s.divisors(data))
        return np.concatenate(parts) if parts else np.zeros(0)


def model_measure(df: pd.DataFrame, series: SeriesSpec, times=None) -> np.ndarray:
    """What ``series`` measures of a run (its transform of the variable) at ``times``
    (default: the run's own times; linear interpolation between output times)."""
    grid = df.index.to_numpy(dtype=float)
    values = df[series.variable].to_numpy(dtype=float)
    t = grid if times is None else np.asarray(times, dtype=float)
    return TRANSFORMS[series.transform][1](lambda when: np.interp(when, grid, values), t)


def _jacobian(problem: _Problem, x: np.ndarray, lower, upper, step: float) -> np.ndarray:
    """Central-difference Jacobian of the residuals, one-sided at a bound; step is a
    fraction of each parameter's bounds range."""
    columns = []
    for j in range(x.size):
        h = step * (upper[j] - lower[j])
        up, down = x.copy(), x.copy()
        up[j] = min(x[j] + h, upper[j])
        down[j] = max(x[j] - h, lower[j])
        columns.append((problem.residuals(up) - problem.residuals(down)) / (up[j] - down[j]))
    return np.column_stack(columns)


def _uncertainty(jac: np.ndarray, residuals: np.ndarray, names: list[str], lower, upper):
    """Covariance s²(JᵀJ)⁻¹, 95 % t-interval half-widths, correlations and flags.

    (JᵀJ)⁻¹ is formed from the singular value decomposition of J; directions whose
    singular value is below ``SINGULAR_RCOND`` × the largest are not constrained by the
    data: they are left out of the (pseudo-)inverse, and every parameter with weight in
    such a direction gets an infinite standard error and a flag.
    """
    n, p = jac.shape
    dof = n - p
    s2 = float(residuals @ residuals / dof) if dof > 0 else float("nan")
    _, sv, vt = np.linalg.svd(jac, full_matrices=True)
    sv = np.concatenate([sv, np.zeros(p - sv.size)])          # n < p: missing ones are 0
    largest = float(sv.max()) if sv.size else 0.0
    null = sv <= SINGULAR_RCOND * largest if largest > 0 else np.ones(p, dtype=bool)
    with np.errstate(divide="ignore"):
        inverse_sq = np.where(null, 0.0, 1.0 / np.where(null, 1.0, sv) ** 2)
    cov = s2 * (vt.T * inverse_sq) @ vt
    unconstrained = np.any(np.abs(vt[null]) > 0.1, axis=0) if null.any() else np.zeros(p, bool)
    finite_sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(finite_sd, finite_sd)
    np.fill_diagonal(corr, 1.0)
    stderr = np.where(unconstrained, np.inf, finite_sd)
    t = stats.t.ppf(0.975, dof) if dof > 0 else float("nan")
    half = t * stderr
    flags: dict[str, list[str]] = {name: [] for name in names}
    for j, name in enumerate(names):
        if unconstrained[j]:
            flags[name].append("JᵀJ singular: the data do not constrain this parameter "
                               "(alone or in a combination with others)")
        width, span = 2 * half[j], upper[j] - lower[j]
        if not np.isfinite(width) or width > CI_RANGE_RATIO * span:
            flags[name].append(f"95 % CI width {width:.3g} exceeds the bounds range {span:.3g}")
        for k, other in enumerate(names):
            if k != j and np.isfinite(corr[j, k]) and abs(corr[j, k]) > CORRELATION_LIMIT:
                flags[name].append(f"|correlation| with {other!r} is {abs(corr[j, k]):.3f} "
                                   f"> {CORRELATION_LIMIT}")
    smallest = float(sv.min()) if sv.size else 0.0
    info = {"dof": dof, "s2": s2, "t_975": float(t), "singular": bool(null.any()),
            "condition_number": largest / smallest if smallest > 0 else float("inf")}
    return cov, stderr, half, corr, flags, info


def calibrate(spec: CalibrationSpec | str | Path,
              simulate: Callable | None = None) -> CalibrationResult:
    """Fit the spec's constants to its series by (robust) weighted least squares.

    ``simulate(model, params=..., return_columns=..., **spec.simulate_options)`` must
    return a DataFrame indexed by time (years) with columns named as in the model; it
    defaults to :func:`sim.simulate`.
    Residuals are (model − data) / series normaliser (or / |data|) × √weight, so series in
    different units combine.  Confidence intervals use the residual Jacobian at the optimum:
    covariance = s² (JᵀJ)⁻¹ with s² = Σr² / (n − p), 95 % from Student's t; with a
    robust loss they are an approximation (the Gauss–Newton formula ignores the loss).
    """
    if not isinstance(spec, CalibrationSpec):
        spec = load_spec(spec)
    problem = _Problem(spec, simulate or _default_simulate())
    names = problem.names
    lower = np.array([p.lower for p in spec.parameters])
    upper = np.array([p.upper for p in spec.parameters])
    span = upper - lower
    x0 = np.array([p.initial for p in spec.parameters])

    initial_run = problem.run(x0)
    if initial_run is None:
        raise RuntimeError(f"{spec.path}: the model run at the initial parameter values "
                           f"failed: {problem.first_failure}")
    notes = problem.restrict_to(initial_run.index)
    for s, data in zip(spec.series, problem.series_data):
        if data.empty:
            raise CalibrationSpecError(f"{spec.path}: series {s.name!r}: no data inside the "
                                       "model's time span")
    n_points = sum(len(d) for d in problem.series_data)

    # Optimise in bounds-normalised coordinates u = (x - lower) / span, u in [0, 1].
    def residuals_u(u):
        return problem.residuals(lower + span * u)

    fit = optimize.least_squares(
        residuals_u, (x0 - lower) / span, bounds=(0.0, 1.0), loss=spec.loss,
        f_scale=spec.f_scale, diff_step=spec.jacobian_step, max_nfev=spec.max_nfev,
        x_scale="jac")
    x = lower + span * np.clip(fit.x, 0.0, 1.0)
    residuals = problem.residuals(x)
    jac = _jacobian(problem, x, lower, upper, spec.jacobian_step)
    cov, stderr, half, corr, flags, info = _uncertainty(jac, residuals, names, lower, upper)

    at_bound = [n for n, u in zip(names, fit.x) if min(u, 1.0 - u) < 1e-6]
    for name in at_bound:
        flags[name].append("estimate sits on a bound: the interval is not reliable")
    parameters = pd.DataFrame({
        "initial": x0, "lower": lower, "upper": upper, "value": x, "stderr": stderr,
        "ci_low": x - half, "ci_high": x + half,
        "identifiable": [not flags[n] for n in names],
        "flags": ["; ".join(flags[n]) for n in names]}, index=pd.Index(names, name="parameter"))
    fitted = problem.run(x)
    if fitted is None:
        raise RuntimeError(f"{spec.path}: the model run at the fitted parameter values failed")
    comparison = pd.concat([
        pd.DataFrame({"series": s.name, "year": problem.series_data[i].index,
                      "data": problem.series_data[i].to_numpy(dtype=float),
                      "model": problem.model_at_data(fitted, i),
                      "model_initial": problem.model_at_data(initial_run, i)})
        for i, s in enumerate(spec.series)], ignore_index=True)
    statistics = pd.DataFrame(
        {name: fit_statistics(rows["model"], rows["data"])
         for name, rows in comparison.groupby("series", sort=False)}).T
    statistics.index.name = "series"
    if problem.failed:
        notes.append(f"{problem.failed} of {problem.runs} model runs failed and were penalised; "
                     f"first failure at {problem.first_failure}")
    if spec.loss != "linear":
        notes.append(f"robust loss {spec.loss!r} (f_scale {spec.f_scale:g}): confidence intervals use "
                     "the plain Gauss-Newton covariance and are approximate")
    optimizer = {
        "success": bool(fit.success), "status": int(fit.status), "message": str(fit.message),
        "nfev": int(fit.nfev), "model_runs": problem.runs, "failed_runs": problem.failed,
        "cost": float(fit.cost), "sum_squared_residuals": float(residuals @ residuals),
        "n_points": n_points, "n_parameters": len(names), "loss": spec.loss,
        "f_scale": spec.f_scale, "jacobian_step": spec.jacobian_step, **info}
    return CalibrationResult(
        spec=spec, parameters=parameters,
        covariance=pd.DataFrame(cov, index=names, columns=names),
        correlation=pd.DataFrame(corr, index=names, columns=names),
        statistics=statistics, comparison=comparison, fitted=fitted, initial_run=initial_run,
        optimizer=optimizer, notes=notes)


def result_to_dict(result: CalibrationResult) -> dict:
    """Every number of a calibration as plain JSON-ready data."""
    spec = result.spec
    return jsonable({
        "spec": {"name": spec.name, "path": shown_path(spec.path), "model": shown_path(spec.model_path),
                 "loss": spec.loss, "f_scale": spec.f_scale},
        "optimizer": result.optimizer,
        "parameters": {name: row.to_dict() for name, row in result.parameters.iterrows()},
        "covariance": result.covariance.to_numpy().tolist(),
        "correlation": result.correlation.to_numpy().tolist(),
        "parameter_order": list(result.parameters.index),
        "series": {
            s.name: {"indicator": s.indicator, "variable": s.variable, "transform": s.transform,
                     "data_file": shown_path(s.data_file),
                     "data_unit": s.data_unit, "scale": s.scale, "weight": s.weight,
                     "normaliser": s.normaliser, "duplicates": s.duplicates,
                     "years": list(s.years) if s.years else None,
                     "statistics": result.statistics.loc[s.name].to_dict(),
                     "points": result.comparison.loc[result.comparison["series"] == s.name,
                                                     ["year", "data", "model", "model_initial"]]
                                                .to_dict(orient="records")}
            for s in spec.series},
        "notes": result.notes,
        "thresholds": {"ci_range_ratio": CI_RANGE_RATIO, "correlation_limit": CORRELATION_LIMIT,
                       "singular_rcond": SINGULAR_RCOND},
    })
