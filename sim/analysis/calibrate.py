"""Calibration against history and behaviour-reproduction statistics.

A *calibration spec* (YAML) names a model, the constants to fit and the historical
series to fit them to.  :func:`load_spec` reads and validates it against the model and
the data files, :func:`calibrate` fits the constants with
:func:`scipy.optimize.least_squares` (every model run goes through the injectable
``simulate``), and :func:`write_report` writes the numbers, tables and figures to a new
results folder.  :func:`fit_statistics` is the pure function behind the per-series
statistics (Sterman 1984, "Appropriate summary statistics for evaluating the historical
fit of system dynamics models", Dynamica 10(2)).

Spec format (paths are relative to the spec file, else to the project root)::

    name: logistic                  # optional, default: the spec file's stem
    model: logistic.mdl
    loss: linear                    # linear | soft_l1 | huber | cauchy | arctan
    f_scale: 0.1                    # robust-loss soft margin, in normalised residual units
    jacobian_step: 0.001            # finite-difference step, fraction of each bounds range
    max_nfev: 200                   # optional cap on least-squares residual evaluations
    simulate_options: {rtol: 1.0e-8}   # optional keyword arguments for simulate()
    levers: ../../scenarios/levers.yaml  # optional lever registry: its levers may not be fitted
    holdout_years: [2018, 2020]     # optional: data in these years are not fitted; the report
                                    # gives their out-of-sample statistics (an honest split)
    parameters:
      - {name: growth rate, initial: 0.2, bounds: [0.05, 1.0]}
    series:
      - name: population            # label; figure is fit_<name>.png
        data: history.csv           # CSV: indicator,year,value,unit,source_url,note
                                    # (or a list of such files, read as one table)
        indicator: population
        variable: population        # model variable (name as in the .mdl)
        scale: 0.01                 # data value * scale = model units (e.g. % -> fraction)
        weight: 1.0                 # multiplies the series' squared residuals
        years: [2005, 2015]         # optional inclusive window
        duplicates: first           # first | mean | {source: <substring of source_url>}
        normalise: mean_abs         # mean_abs | std | data | <positive number, model units>
        transform: level            # level | yoy_growth | yoy_change (see TRANSFORMS)

``normalise`` sets what a residual is divided by: the series' mean absolute value, its
standard deviation, a fixed number, or (``data``) each point's own absolute data value,
so that the series is fitted by relative errors, the quantity MAPE and per-point
percentage tolerances judge (the data must then have no zero).

``duplicates`` is required only when the indicator has more than one row for a year:
``first`` keeps the first row in file order, ``mean`` averages them, ``{source: text}``
keeps, in the years where a row's ``source_url`` contains ``text``, only those rows
(other years keep theirs; any year still repeated then takes the first).  Data years
outside the model's time span are left out and listed in the report's notes.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml
from scipy import optimize, stats

from sim.errors import SimError, suggest
from sim.run import DEFAULT_RESULTS_ROOT

PROJECT_ROOT = Path(__file__).resolve().parents[2]

LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")
DUPLICATE_RULES = ("first", "mean")
NORMALISATIONS = ("mean_abs", "std", "data")
CONTROL_CONSTANTS = {"INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER"}
DATA_COLUMNS = ("indicator", "year", "value")

TOP_KEYS = {"name", "model", "loss", "f_scale", "jacobian_step", "max_nfev",
            "simulate_options", "levers", "parameters", "series", "note", "holdout_years"}
PARAMETER_KEYS = {"name", "initial", "bounds", "note"}
SERIES_KEYS = {"name", "data", "indicator", "variable", "scale", "weight", "years",
               "duplicates", "normalise", "transform", "note"}

# Identifiability flags: thresholds (documented in the report).
CI_RANGE_RATIO = 1.0        # flag when the 95 % CI is wider than the bounds range
CORRELATION_LIMIT = 0.95    # flag when |correlation| with another parameter exceeds this
SINGULAR_RCOND = 1e-10      # smallest / largest singular value of J below this: singular
FAILED_RUN_RESIDUAL = 1e3   # normalised residual assigned to every point of a failed run


def _level(value_at: Callable, t: np.ndarray) -> np.ndarray:
    return value_at(t)


def _yoy_growth(value_at: Callable, t: np.ndarray) -> np.ndarray:
    return value_at(t) / value_at(t - 1.0) - 1.0


def _yoy_change(value_at: Callable, t: np.ndarray) -> np.ndarray:
    return value_at(t) - value_at(t - 1.0)


#: What a data series measures of its model variable v: name -> (years of history the
#: measure needs, function of (v at given times, times)).  ``yoy_growth`` is the
#: year-on-year growth v(t)/v(t-1) - 1 (Dmnl, e.g. real GDP growth), ``yoy_change`` the
#: difference v(t) - v(t-1) in the variable's units.
TRANSFORMS: dict[str, tuple[float, Callable]] = {
    "level": (0.0, _level), "yoy_growth": (1.0, _yoy_growth), "yoy_change": (1.0, _yoy_change)}


class CalibrationSpecError(SimError, ValueError):
    """A calibration spec is invalid; the message lists every problem (file: key: what)."""


# ----------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class ParameterSpec:
    """A model constant to fit: model name, start value and bounds (model units)."""

    name: str
    initial: float
    lower: float
    upper: float


@dataclass(frozen=True)
class SeriesSpec:
    """One historical series matched to one model variable.

    ``data`` is indexed by year (float) and already in model units (value * scale).
    """

    name: str
    data_file: Path | tuple[Path, ...]
    indicator: str
    variable: str
    scale: float
    weight: float
    years: tuple[float, float] | None
    duplicates: Any
    normalise: Any
    transform: str
    data_unit: str
    data: pd.Series = field(compare=False, hash=False)

    @property
    def normaliser(self) -> float:
        """Divisor turning the series' residuals into dimensionless numbers (model units);
        NaN for ``normalise: data``, where every point has its own (see :meth:`divisors`)."""
        if self.normalise == "data":
            return float("nan")
        if isinstance(self.normalise, (int, float)):
            return float(self.normalise)
        values = self.data.to_numpy(dtype=float)
        value = np.std(values) if self.normalise == "std" else np.mean(np.abs(values))
        return float(value) if value > 0 else 1.0

    def divisors(self, data_values) -> np.ndarray | float:
        """What the residuals at ``data_values`` (model units) are divided by: |data| point
        by point for ``normalise: data``, else the series' :attr:`normaliser`."""
        if self.normalise == "data":
            return np.abs(np.asarray(data_values, dtype=float))
        return self.normaliser


@dataclass
class CalibrationSpec:
    """A validated calibration spec with its model loaded and its data extracted."""

    path: Path
    name: str
    model_path: Path
    model: Any
    parameters: list[ParameterSpec]
    series: list[SeriesSpec]
    loss: str = "linear"
    f_scale: float = 0.1
    jacobian_step: float = 1e-3
    max_nfev: int | None = None
    simulate_options: dict = field(default_factory=dict)
    #: (first, last) years whose data are held out of the fit and judged out of sample
    holdout: tuple[float, float] | None = None

    def in_holdout(self, years) -> np.ndarray:
        """True for the years (array-like) that lie in the holdout window."""
        years = np.asarray(years, dtype=float)
        if self.holdout is None:
            return np.zeros(years.shape, dtype=bool)
        return (years >= self.holdout[0]) & (years <= self.holdout[1])


def _default_loader() -> Callable[[str | Path], Any]:
    from sim.engine.load import load_model

    return load_model


def _default_simulate() -> Callable[..., pd.DataFrame]:
    from sim.engine.integrate import simulate

    return simulate


def _model_doc(model) -> pd.DataFrame:
    """The PySD documentation table (Real Name, Py Name, Type) of a loaded model."""
    doc = getattr(model, "doc", None)   # sim.LoadedModel and PySD models both carry it
    if isinstance(doc, pd.DataFrame) and "Real Name" in doc.columns:
        return doc
    raise TypeError(f"cannot list the variables of model object {type(model).__name__}")


def model_names(model) -> tuple[dict[str, str], dict[str, str]]:
    """(constants, variables): each maps every accepted name (real or Python) to the real name.

    Constants exclude the simulation control constants (INITIAL TIME, ...).
    """
    doc = _model_doc(model)
    constants: dict[str, str] = {}
    variables: dict[str, str] = {}
    for _, row in doc.iterrows():
        real, py, kind = row["Real Name"], row.get("Py Name"), row.get("Type")
        if not isinstance(real, str) or real == "Time":
            continue
        names = {real} | ({py} if isinstance(py, str) else set())
        for name in names:
            variables[name] = real
            if kind == "Constant" and real not in CONTROL_CONSTANTS:
                constants[name] = real
    return constants, variables


def _resolve_path(raw: str, spec_dir: Path) -> Path:
    path = Path(raw).expanduser()
    if path.is_absolute():
        return path
    for base in (spec_dir, PROJECT_ROOT):
        if (base / path).exists():
            return (base / path).resolve()
    return (spec_dir / path).resolve()


def shown_path(path: str | Path) -> str:
    """A path as reports show it: relative to the project root when it lies in the
    project (``models/...``, ``data/...``), else absolute (a report that reads a file from
    outside the project says so plainly)."""
    path = Path(path).resolve()
    if path.is_relative_to(PROJECT_ROOT):
        return os.path.relpath(path, PROJECT_ROOT)
    return str(path)


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _read_data(path: Path | tuple[Path, ...], cache: dict) -> pd.DataFrame:
    """One data table; a tuple of files is read as their rows one after the other."""
    if path not in cache:
        paths = path if isinstance(path, tuple) else (path,)
        cache[path] = pd.concat([pd.read_csv(p, dtype={"indicator": str}) for p in paths],
                                ignore_index=True)
    return cache[path]


def _extract_series(table: pd.DataFrame, indicator: str, duplicates, years, where: str,
                    errors: list[str]) -> tuple[pd.Series, str]:
    """Rows of one indicator as a year-indexed Series (data units); collects errors."""
    rows = table[table["indicator"] == indicator].copy()
    rows["year"] = pd.to_numeric(rows["year"], errors="coerce")
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    rows = rows.dropna(subset=["year", "value"])
    if years is not None:
        rows = rows[(rows["year"] >= years[0]) & (rows["year"] <= years[1])]
    if rows.empty:
        errors.append(f"{where}.indicator: no numeric rows for {indicator!r}"
                      + (f" in years {years[0]:g}-{years[1]:g}" if years else ""))
        return pd.Series(dtype=float), ""
    unit = rows["unit"].iloc[0] if "unit" in rows else ""
    unit = "" if pd.isna(unit) else str(unit)
    if isinstance(duplicates, dict):
        source = str(duplicates.get("source", ""))
        urls = rows.get("source_url", pd.Series("", index=rows.index)).astype(str)
        matched = rows[urls.str.contains(source, regex=False)]
        if matched.empty:
            errors.append(f"{where}.duplicates.source: {source!r} matches no source_url "
                          f"of {indicator!r}")
        # years the source covers keep its rows; other years keep theirs
        rows = rows[~rows["year"].isin(matched["year"]) | rows.index.isin(matched.index)]
    counts = rows["year"].value_counts()
    repeated = sorted(counts[counts > 1].index)
    if repeated and duplicates is None:
        errors.append(f"{where}.duplicates: {indicator!r} has several rows for years "
                      f"{', '.join(f'{y:g}' for y in repeated)}; expected first, mean or "
                      f"{{source: <substring of source_url>}}")
    if duplicates == "mean":
        series = rows.groupby("year")["value"].mean()
    else:  # "first", a source filter (then the first of what is left), or no duplicates
        series = rows.groupby("year", sort=True)["value"].first()
    series.index = series.index.astype(float)
    return series.sort_index(), unit


def load_spec(path: str | Path, *, load_model: Callable | None = None) -> CalibrationSpec:
    """Read and validate a calibration spec YAML.

    Every problem is collected and raised together as :class:`CalibrationSpecError`,
    each line naming the file and the key.  ``load_model`` defaults to
    :func:`sim.load_model`.
    """
    path = Path(path).resolve()
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CalibrationSpecError(f"{where}: cannot read calibration spec: {exc}") from exc
    if not isinstance(raw, dict):
        raise CalibrationSpecError(f"{where}: expected a mapping at the top level")
    errors: list[str] = []
    for key in sorted(set(raw) - TOP_KEYS):
        errors.append(f"{key}: unknown key{suggest(key, sorted(TOP_KEYS))}; "
                      f"expected one of {sorted(TOP_KEYS)}")

    model = None
    model_path = _resolve_path(str(raw.get("model", "")), path.parent)
    if not raw.get("model"):
        errors.append("model: missing; expected the path of a .mdl file")
    elif not model_path.exists():
        errors.append(f"model: file {model_path} does not exist")
    else:
        model = (load_model or _default_loader())(model_path)
    constants, variables = model_names(model) if model is not None else ({}, {})

    loss = raw.get("loss", "linear")
    if loss not in LOSSES:
        errors.append(f"loss: {loss!r} unknown; expected one of {list(LOSSES)}")
    options = {}
    for key, default in (("f_scale", 0.1), ("jacobian_step", 1e-3)):
        value = _number(raw.get(key, default))
        if value is None or value <= 0:
            errors.append(f"{key}: expected a positive number, got {raw.get(key)!r}")
        options[key] = value
    max_nfev = raw.get("max_nfev")
    if max_nfev is not None and (type(max_nfev) is not int or max_nfev < 1):
        errors.append(f"max_nfev: expected a positive integer, got {max_nfev!r}")
    simulate_options = raw.get("simulate_options") or {}
    if not isinstance(simulate_options, dict):
        errors.append("simulate_options: expected a mapping of keyword arguments")
        simulate_options = {}

    parameters = _parse_parameters(raw.get("parameters"), constants, variables, model, errors)
    if raw.get("levers"):
        _check_not_levers(parameters, _resolve_path(str(raw["levers"]), path.parent), errors)
    series = _parse_series(raw.get("series"), variables, model, path.parent, errors)
    holdout = raw.get("holdout_years")
    if holdout is not None:
        pair = ([_number(y) for y in holdout]
                if isinstance(holdout, (list, tuple)) and len(holdout) == 2 else [None])
        if None in pair or pair[0] > pair[1]:
            errors.append(f"holdout_years: expected [first, last] with first <= last, got {holdout!r}")
            holdout = None
        else:
            holdout = (pair[0], pair[1])

    if errors:
        raise CalibrationSpecError(f"{where}: invalid calibration spec:\n  - " + "\n  - ".join(errors))
    return CalibrationSpec(
        path=path, name=str(raw.get("name") or path.stem), model_path=model_path, model=model,
        parameters=parameters, series=series, loss=loss, f_scale=options["f_scale"],
        jacobian_step=options["jacobian_step"], max_nfev=max_nfev, simulate_options=simulate_options,
        holdout=holdout)


def _parse_parameters(entries, constants, variables, model, errors) -> list[ParameterSpec]:
    if not isinstance(entries, list) or not entries:
        errors.append("parameters: expected a non-empty list of {name, initial, bounds}")
        return []
    parameters: list[ParameterSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        key = f"parameters[{i}]"
        if not isinstance(entry, dict):
            errors.append(f"{key}: expected a mapping with name, initial, bounds")
            continue
        for extra in sorted(set(entry) - PARAMETER_KEYS):
            errors.append(f"{key}.{extra}: unknown key; expected {sorted(PARAMETER_KEYS)}")
        name = str(entry.get("name", ""))
        real = constants.get(name)
        if model is not None and real is None:
            if name in variables:
                errors.append(f"{key}.name: {name!r} is a model variable but not a constant; "
                              "only constants can be fitted")
            else:
                hint = suggest(name, sorted(set(constants.values())))
                errors.append(f"{key}.name: {name!r} is not a constant of the model{hint}")
        real = real or name
        if real in seen:
            errors.append(f"{key}.name: {real!r} listed twice")
        seen.add(real)
        bounds = entry.get("bounds")
        low, high = (None, None)
        if isinstance(bounds, (list, tuple)) and len(bounds) == 2:
            low, high = _number(bounds[0]), _number(bounds[1])
        if low is None or high is None or not low < high:
            errors.append(f"{key}.bounds: expected [lower, upper], two finite numbers with "
                          f"lower < upper, got {bounds!r}")
            low, high = (-np.inf, np.inf)
        initial = _number(entry.get("initial"))
        if initial is None:
            errors.append(f"{key}.initial: expected a finite number, got {entry.get('initial')!r}")
        elif not low <= initial <= high:
            errors.append(f"{key}.initial: {initial:g} lies outside bounds [{low:g}, {high:g}]")
        parameters.append(ParameterSpec(real, initial if initial is not None else np.nan, low, high))
    return parameters


def _check_not_levers(parameters: list[ParameterSpec], registry: Path, errors: list[str]):
    """Policy levers are set by scenarios; fitting one to history would blur the two."""
    try:
        entries = (yaml.safe_load(registry.read_text(encoding="utf-8")) or {}).get("levers") or []
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        errors.append(f"levers: cannot read lever registry {registry}: {exc}")
        return
    levers = {e.get("name") for e in entries if isinstance(e, dict)}
    for i, p in enumerate(parameters):
        if p.name in levers:
            errors.append(f"parameters[{i}].name: {p.name!r} is a policy lever in {registry}; "
                          "levers are set by scenarios, not fitted to history")


def _parse_series(entries, variables, model, spec_dir: Path, errors) -> list[SeriesSpec]:
    if not isinstance(entries, list) or not entries:
        errors.append("series: expected a non-empty list of {name, data, indicator, variable, ...}")
        return []
    tables: dict[Path, pd.DataFrame] = {}
    result: list[SeriesSpec] = []
    names: set[str] = set()
    for i, entry in enumerate(entries):
        key = f"series[{i}]"
        if not isinstance(entry, dict):
            errors.append(f"{key}: expected a mapping")
            continue
        for extra in sorted(set(entry) - SERIES_KEYS):
            errors.append(f"{key}.{extra}: unknown key{suggest(extra, sorted(SERIES_KEYS))}; "
                          f"expected {sorted(SERIES_KEYS)}")
        indicator = str(entry.get("indicator", ""))
        name = str(entry.get("name") or indicator)
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            errors.append(f"{key}.name: {name!r} must be letters, digits, '_', '-' or '.' "
                          "(it names a figure file)")
        if name in names:
            errors.append(f"{key}.name: {name!r} used twice")
        names.add(name)
        variable = str(entry.get("variable", ""))
        if model is not None and variable not in variables:
            hint = suggest(variable, sorted(set(variables.values())))
            errors.append(f"{key}.variable: {variable!r} is not a model variable{hint}")
        variable = variables.get(variable, variable)
        scale = _number(entry.get("scale", 1.0))
        if scale is None or scale == 0:
            errors.append(f"{key}.scale: expected a non-zero number, got {entry.get('scale')!r}")
            scale = 1.0
        weight = _number(entry.get("weight", 1.0))
        if weight is None or weight <= 0:
            errors.append(f"{key}.weight: expected a positive number, got {entry.get('weight')!r}")
            weight = 1.0
        years = entry.get("years")
        if years is not None:
            pair = ([_number(y) for y in years]
                    if isinstance(years, (list, tuple)) and len(years) == 2 else [None])
            if None in pair or pair[0] > pair[1]:
                errors.append(f"{key}.years: expected [first, last] with first <= last, got {years!r}")
                years = None
            else:
                years = (pair[0], pair[1])
        duplicates = entry.get("duplicates")
        if duplicates is not None and duplicates not in DUPLICATE_RULES and not (
                isinstance(duplicates, dict) and set(duplicates) == {"source"}):
            errors.append(f"{key}.duplicates: {duplicates!r} unknown; expected first, mean "
                          "or {source: <substring of source_url>}")
            duplicates = "first"
        normalise = entry.get("normalise", "mean_abs")
        if normalise not in NORMALISATIONS and not (_number(normalise) or 0) > 0:
            errors.append(f"{key}.normalise: expected mean_abs, std, data or a positive number, "
                          f"got {normalise!r}")
            normalise = "mean_abs"
        transform = entry.get("transform", "level")
        if transform not in TRANSFORMS:
            errors.append(f"{key}.transform: {transform!r} unknown; expected one of {list(TRANSFORMS)}")
            transform = "level"
        raw_data = entry.get("data")
        raw_files = raw_data if isinstance(raw_data, list) else [raw_data]
        data_files = tuple(_resolve_path(str(f or ""), spec_dir) for f in raw_files)
        data_file = data_files[0] if len(data_files) == 1 else data_files
        data, unit = pd.Series(dtype=float), ""
        absent = [f for f in data_files if not f.exists()]
        if not raw_data or not all(raw_files):
            errors.append(f"{key}.data: missing; expected the path of a CSV file (or a list of them)")
        elif absent:
            errors.append(f"{key}.data: file {absent[0]} does not exist")
        else:
            table = _read_data(data_file, tables)
            missing = [c for c in DATA_COLUMNS if c not in table.columns]
            if missing:
                errors.append(f"{key}.data: {data_file} lacks columns {missing}")
            elif indicator not in set(table["indicator"]):
                errors.append(f"{key}.indicator: {indicator!r} not found in {data_file}"
                              f"{suggest(indicator, table['indicator'].dropna().unique())}")
            else:
                data, unit = _extract_series(table, indicator, duplicates, years, key, errors)
                if normalise == "data" and (data == 0).any():
                    zero = ", ".join(f"{y:g}" for y in data.index[data == 0])
                    errors.append(f"{key}.normalise: data (relative errors) needs non-zero data; "
                                  f"{indicator!r} is 0 in {zero}")
        result.append(SeriesSpec(name, data_file, indicator, variable, scale, weight, years,
                                 duplicates, normalise, transform, unit, data * scale))
    return result


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
    ``holdout``: with a spec's ``holdout_years``, the :func:`fit_statistics` of the held-out
    points per series (model at the fitted values; the fit never saw them), else empty;
    their points are the ``comparison`` rows whose ``sample`` is ``holdout``.
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
    holdout: pd.DataFrame = field(default_factory=pd.DataFrame)

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
        self.series_data: list[pd.Series] = [s.data[~spec.in_holdout(s.data.index)] for s in spec.series]
        self.holdout_data: list[pd.Series] = [s.data[spec.in_holdout(s.data.index)] for s in spec.series]

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
        self.holdout_data = [h[(h.index >= times.min() + TRANSFORMS[s.transform][0]) & (h.index <= times.max())]
                             for s, h in zip(self.spec.series, self.holdout_data)]
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
    def rows(i, s, data, sample):
        return pd.DataFrame({"series": s.name, "year": data.index, "data": data.to_numpy(dtype=float),
                             "model": model_measure(fitted, s, data.index),
                             "model_initial": model_measure(initial_run, s, data.index),
                             "sample": sample})
    comparison = pd.concat(
        [rows(i, s, problem.series_data[i], "fit") for i, s in enumerate(spec.series)]
        + [rows(i, s, problem.holdout_data[i], "holdout") for i, s in enumerate(spec.series)
           if len(problem.holdout_data[i])], ignore_index=True)
    in_fit = comparison[comparison["sample"] == "fit"]
    statistics = pd.DataFrame(
        {name: fit_statistics(part["model"], part["data"])
         for name, part in in_fit.groupby("series", sort=False)}).T
    statistics.index.name = "series"
    held = comparison[comparison["sample"] == "holdout"]
    holdout = pd.DataFrame({name: fit_statistics(part["model"], part["data"])
                            for name, part in held.groupby("series", sort=False)}).T
    holdout.index.name = "series"
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
        optimizer=optimizer, notes=notes, holdout=holdout)


# -------------------------------------------------------------------------- report


def result_to_dict(result: CalibrationResult) -> dict:
    """Every number of a calibration as plain JSON-ready data."""
    from sim.run import _jsonable

    spec = result.spec
    return _jsonable({
        "spec": {"name": spec.name, "path": shown_path(spec.path), "model": shown_path(spec.model_path),
                 "loss": spec.loss, "f_scale": spec.f_scale},
        "optimizer": result.optimizer,
        "parameters": {name: row.to_dict() for name, row in result.parameters.iterrows()},
        "covariance": result.covariance.to_numpy().tolist(),
        "correlation": result.correlation.to_numpy().tolist(),
        "parameter_order": list(result.parameters.index),
        "series": {
            s.name: {"indicator": s.indicator, "variable": s.variable, "transform": s.transform,
                     "data_file": _shown_files(s.data_file),
                     "data_unit": s.data_unit, "scale": s.scale, "weight": s.weight,
                     "normaliser": s.normaliser, "duplicates": s.duplicates,
                     "years": list(s.years) if s.years else None,
                     "statistics": result.statistics.loc[s.name].to_dict(),
                     "points": result.comparison.loc[(result.comparison["series"] == s.name)
                                                     & (result.comparison["sample"] == "fit"),
                                                     ["year", "data", "model", "model_initial"]]
                                                .to_dict(orient="records"),
                     **({"holdout_statistics": result.holdout.loc[s.name].to_dict(),
                         "holdout_points": result.comparison.loc[
                             (result.comparison["series"] == s.name)
                             & (result.comparison["sample"] == "holdout"),
                             ["year", "data", "model"]].to_dict(orient="records")}
                        if s.name in result.holdout.index else {})}
            for s in spec.series},
        "holdout_years": list(spec.holdout) if spec.holdout else None,
        "notes": result.notes,
        "thresholds": {"ci_range_ratio": CI_RANGE_RATIO, "correlation_limit": CORRELATION_LIMIT,
                       "singular_rcond": SINGULAR_RCOND},
    })


def _shown_files(files) -> str | list[str]:
    return [shown_path(f) for f in files] if isinstance(files, tuple) else shown_path(files)


def _md_table(frame: pd.DataFrame, digits: int = 4) -> str:
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "–" if not math.isfinite(v) else f"{v:.{digits}g}"
        return str(v).replace("|", "\\|")
    header = "| " + " | ".join([str(frame.index.name or "")] + [str(c) for c in frame.columns]) + " |"
    rule = "|" + "---|" * (len(frame.columns) + 1)
    rows = ["| " + " | ".join([cell(i)] + [cell(v) for v in row]) + " |"
            for i, row in zip(frame.index, frame.itertuples(index=False))]
    return "\n".join([header, rule, *rows])


def report_markdown(result: CalibrationResult) -> str:
    """The calibration report as Markdown tables."""
    spec, opt = result.spec, result.optimizer
    params = result.parameters.drop(columns=["flags"])
    flagged = result.parameters[~result.parameters["identifiable"]]
    stats_cols = ["n", "RMSE", "MAPE", "R2", "R2_determination", "U_M", "U_S", "U_C"]
    lines = [
        f"# Calibration: {spec.name}", "",
        f"- spec: `{shown_path(spec.path)}`", f"- model: `{shown_path(spec.model_path)}`",
        f"- loss: {spec.loss} (f_scale {spec.f_scale:g}); {opt['n_points']} data points, "
        f"{opt['n_parameters']} parameters, {opt['dof']} degrees of freedom",
        f"- optimiser: {'converged' if opt['success'] else 'NOT converged'} ({opt['message']}); "
        f"{opt['model_runs']} model runs, {opt['failed_runs']} failed",
        f"- residual variance s² = {opt['s2']:.4g} (normalised units); "
        f"condition number of J = {opt['condition_number']:.3g}", "",
        "## Fitted parameters (model units, 95 % confidence intervals)", "",
        _md_table(params), "",
        "Intervals: covariance = s² (JᵀJ)⁻¹ from the residual Jacobian at the optimum, "
        "half-width = t(0.975, n − p) × standard error.", "",
        "## Identifiability", "",
    ]
    if flagged.empty:
        lines.append("Every parameter is identified by the data (CI narrower than its bounds range, "
                     f"|correlation| ≤ {CORRELATION_LIMIT}, JᵀJ not singular).")
    else:
        lines += [f"- **{name}**: {row['flags']}" for name, row in flagged.iterrows()]
    lines += ["", "## Parameter correlation", "", _md_table(result.correlation.rename_axis("parameter"), 3), "",
              "## Behaviour reproduction (per series, model units)", "",
              _md_table(result.statistics[stats_cols]), "",
              "MAPE in percent of the data; R2 = squared correlation (Sterman 1984); "
              "R2_determination = 1 − SSE/SS_tot. Theil: U_M bias, U_S unequal variation, "
              "U_C unequal covariation (U_M + U_S + U_C = 1). A good fit has small MAPE and most "
              "of its error in U_C (unsystematic).", ""]
    if spec.holdout is not None:
        first, last = (f"{y:g}" for y in spec.holdout)
        lines += [f"## Out of sample ({first}–{last}, held out of the fit)", "",
                  _md_table(result.holdout[stats_cols]) if not result.holdout.empty
                  else "No data point lies in the holdout years.", "",
                  f"The constants were fitted without the {first}–{last} data; these statistics "
                  "judge the model on years it did not see (same definitions as above).", ""]
    lines += [
              "## Series", "",
              _md_table(pd.DataFrame(
                  {"indicator": [s.indicator for s in spec.series],
                   "variable": [s.variable if s.transform == "level"
                                else f"{s.transform}({s.variable})" for s in spec.series],
                   "data unit": [s.data_unit for s in spec.series],
                   "scale": [s.scale for s in spec.series],
                   "weight": [s.weight for s in spec.series],
                   "duplicates": [str(s.duplicates) for s in spec.series],
                   "normalise": [str(s.normalise) for s in spec.series],
                   "figure": [f"![{s.name}](fit_{s.name}.png)" for s in spec.series]},
                  index=pd.Index([s.name for s in spec.series], name="series"))), ""]
    if result.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in result.notes], ""]
    return "\n".join(lines)


def plot_fit(result: CalibrationResult, series_name: str, path: Path) -> Path:
    """Figure of one series: data points, the fitted and the initial model run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    spec = result.spec
    s = next(x for x in spec.series if x.name == series_name)
    row = result.statistics.loc[series_name]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    try:
        lag = TRANSFORMS[s.transform][0]
        for run, style in ((result.initial_run, dict(color="0.6", linestyle="--", label="model, initial values")),
                           (result.fitted, dict(color="tab:blue", label="model, fitted"))):
            t = run.index[run.index >= run.index.min() + lag]
            ax.plot(t, model_measure(run, s, t), **style)
        held = spec.in_holdout(s.data.index)
        ax.scatter(s.data.index[~held], s.data.values[~held], color="black", zorder=3, s=18,
                   label=f"data: {s.indicator} × {s.scale:g}")
        if held.any():
            ax.scatter(s.data.index[held], s.data.values[held], facecolor="white", edgecolor="black",
                       zorder=3, s=22, label="data held out of the fit")
        ax.set_xlabel("year")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(s.variable if s.transform == "level" else f"{s.transform} of {s.variable}")
        ax.set_title(f"{s.name}: RMSE {row['RMSE']:.3g}, MAPE {row['MAPE']:.2f} %, R² {row['R2']:.3f}\n"
                     f"Theil U_M {row['U_M']:.2f}, U_S {row['U_S']:.2f}, U_C {row['U_C']:.2f}",
                     fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path


def write_report(result: CalibrationResult, out_dir: str | Path | None = None, *,
                 results_root: str | Path = DEFAULT_RESULTS_ROOT) -> Path:
    """Write a calibration into a NEW results folder and return its path.

    ``out_dir``: the folder to create (an existing one is an error, never written into);
    default ``<results_root>/<UTC timestamp>-calibration-<spec name>`` (``-2``… if taken).
    Files: ``calibration.json`` (all numbers), ``comparison.csv`` (data against model,
    point by point), ``report.md`` (tables),
    ``fit_<series>.png`` (model against data) and ``manifest.json`` (spec, model and data
    file hashes, package versions, git commit).
    """
    from sim.run import git_state, make_results_dir, sha256, versions

    spec = result.spec
    folder = make_results_dir(out_dir, results_root, f"calibration-{spec.name}")
    (folder / "calibration.json").write_text(
        json.dumps(result_to_dict(result), indent=2, ensure_ascii=False), encoding="utf-8")
    result.comparison.to_csv(folder / "comparison.csv", index=False)
    (folder / "report.md").write_text(report_markdown(result), encoding="utf-8")
    figures = [plot_fit(result, s.name, folder / f"fit_{s.name}.png").name for s in spec.series]
    package_versions = versions()
    manifest = {
        "kind": "calibration", "name": spec.name,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spec_file": shown_path(spec.path), "spec_sha256": sha256(spec.path),
        "model_file": shown_path(spec.model_path), "model_sha256": sha256(spec.model_path),
        "data_files": {shown_path(p): sha256(p) for p in sorted(
            {f for s in spec.series for f in (s.data_file if isinstance(s.data_file, tuple) else (s.data_file,))})},
        "package": "jdz-sim", "package_version": package_versions["sim"], "versions": package_versions,
        "git": git_state(),
        "files": ["calibration.json", "comparison.csv", "report.md", *figures],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder


def main_calibrate(spec_path: str, out: str | None = None) -> Path:
    """``python -m sim calibrate SPEC [--out DIR]``: load, fit, write a new results folder.

    ``out`` is the folder to create (must not exist); default
    ``results/<UTC timestamp>-calibration-<spec name>``.  Returns the folder.
    """
    result = calibrate(load_spec(spec_path))
    return write_report(result, out)
