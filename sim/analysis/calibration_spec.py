"""Calibration specs: read and validate what to fit, to which data.

A *calibration spec* (YAML) names a model, the constants to fit and the historical
series to fit them to.  :func:`load_spec` reads and validates it against the model and
the data files (every problem in one :class:`CalibrationSpecError`); the fit itself is
:func:`sim.analysis.calibrate.calibrate` and its report :mod:`sim.report.calibration`.

Spec format (paths are relative to the spec file, else to the project root)::

    name: logistic                  # optional, default: the spec file's stem
    model: logistic.mdl
    loss: linear                    # linear | soft_l1 | huber | cauchy | arctan
    f_scale: 0.1                    # robust-loss soft margin, in normalised residual units
    jacobian_step: 0.001            # finite-difference step, fraction of each bounds range
    max_nfev: 200                   # optional cap on least-squares residual evaluations
    simulate_options: {rtol: 1.0e-8}   # optional keyword arguments for simulate()
    levers: ../../scenarios/levers.yaml  # optional lever registry: its levers may not be fitted
    parameters:
      - {name: growth rate, initial: 0.2, bounds: [0.05, 1.0]}
    series:
      - name: population            # label; figure is fit_<name>.png
        data: history.csv           # CSV: indicator,year,value,unit,source_url,note
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

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml

from sim.errors import SimError, suggest
from sim.policy import yamlfile

PROJECT_ROOT = Path(__file__).resolve().parents[2]

LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")
DUPLICATE_RULES = ("first", "mean")
NORMALISATIONS = ("mean_abs", "std", "data")
CONTROL_CONSTANTS = {"INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER"}
DATA_COLUMNS = ("indicator", "year", "value")

TOP_KEYS = {"name", "model", "loss", "f_scale", "jacobian_step", "max_nfev",
            "simulate_options", "levers", "parameters", "series", "note"}
PARAMETER_KEYS = {"name", "initial", "bounds", "note"}
SERIES_KEYS = {"name", "data", "indicator", "variable", "scale", "weight", "years",
               "duplicates", "normalise", "transform", "note"}

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
    data_file: Path
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


def _default_loader() -> Callable[[str | Path], Any]:
    from sim.engine.load import load_model

    return load_model


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


def _read_data(path: Path, cache: dict) -> pd.DataFrame:
    if path not in cache:
        cache[path] = pd.read_csv(path, dtype={"indicator": str})
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
        raw = yamlfile.load(path)
    except (OSError, yamlfile.YamlFileError, yaml.YAMLError) as exc:
        raise CalibrationSpecError(f"{where}: cannot read calibration spec: "
                                   f"{yamlfile.describe(exc)}") from None
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

    if errors:
        raise CalibrationSpecError(f"{where}: invalid calibration spec:\n  - " + "\n  - ".join(errors))
    return CalibrationSpec(
        path=path, name=str(raw.get("name") or path.stem), model_path=model_path, model=model,
        parameters=parameters, series=series, loss=loss, f_scale=options["f_scale"],
        jacobian_step=options["jacobian_step"], max_nfev=max_nfev, simulate_options=simulate_options)


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
        entries = (yamlfile.load(registry) or {}).get("levers") or []
    except (OSError, yamlfile.YamlFileError, yaml.YAMLError, AttributeError) as exc:
        errors.append(f"levers: cannot read lever registry {registry}: {yamlfile.describe(exc)}")
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
        data_file = _resolve_path(str(entry.get("data", "")), spec_dir)
        data, unit = pd.Series(dtype=float), ""
        if not entry.get("data"):
            errors.append(f"{key}.data: missing; expected the path of a CSV file")
        elif not data_file.exists():
            errors.append(f"{key}.data: file {data_file} does not exist")
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
