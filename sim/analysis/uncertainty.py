"""Uncertain model parameters: read the uncertainty file, check it, draw samples.

The uncertainty file (``scenarios/uncertainties.yaml``) is data, read with
:func:`yaml.safe_load` and checked before anything runs, like a scenario file: every
problem is collected and reported together (:class:`sim.policy.scenario.ValidationError`), each
naming the file and the key. Format::

    calibration: ../models/calibration/report/calibration.json   # optional, relative to this file
    parameters:
      - name: depreciation rate     # a constant of the model, not a policy lever
        distribution: {kind: triangular, min: 0.04, mode: 0.06, max: 0.09}
        source: "assumption: asset lives of 11 to 25 years"

Distribution kinds (:data:`KINDS`; values in the parameter's own model unit):

``uniform``      ``min``, ``max``
``triangular``   ``min``, ``mode``, ``max``
``truncnormal``  ``mean``, ``sd``, ``min``, ``max`` (a normal cut to [min, max])
``calibrated``   the fitted ``value`` of the calibration report as the mean, its 95 %
                 confidence interval as ±1.96 sd, cut to the calibration's fitting bounds
                 (and to optional ``min``/``max``); when the report is absent, lacks the
                 parameter or flags it unidentifiable, the ``fallback`` distribution
                 (any other kind) is used and the manifest says so.

Every distribution is bounded; its support must lie inside the Vensim range
``[min,max]`` of the parameter's units field. A ``source`` starts with one of
:data:`SOURCE_KINDS` (``data:`` a row of the history file, ``clause:`` the plan
document, ``calibration:``, ``assumption:`` with the reasoning).

Sampling (:func:`sample_unit`, :func:`to_values`): the unit hypercube is sampled with
NumPy (``mc``) or SALib (``lhs``: :func:`SALib.sample.latin.sample`; ``sobol``:
:func:`SALib.sample.sobol.sample`, Saltelli's scheme without second-order terms) and
mapped through each distribution's ``scipy.stats`` inverse CDF (``ppf``). A seed gives
the same samples bit for bit.

The file never chooses where work runs: a ``scheduler`` key is refused (a data file that
points the ensemble at a network address would have its results unpickled here); the
Dask address comes only from ``--scheduler`` or ``$SIM_DASK_SCHEDULER``.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from sim.errors import SimError, suggest
from sim.policy.scenario import Problem, ValidationError, load_registry, read_yaml

DEFAULT_FILE = "scenarios/uncertainties.yaml"
FILE_KEYS = ("calibration", "chunk_size", "parameters")
ENTRY_KEYS = ("name", "distribution", "source", "note")
SOURCE_KINDS = ("data:", "clause:", "calibration:", "assumption:")
METHODS = ("lhs", "sobol", "mc")
#: Confidence level of the calibration report's intervals (sim.analysis.calibrate: 95 % t-intervals).
CALIBRATION_CI_LEVEL = 0.95


# --------------------------------------------------------------------------- distributions
def _uniform(p):
    return stats.uniform(loc=p["min"], scale=p["max"] - p["min"])


def _triangular(p):
    width = p["max"] - p["min"]
    return stats.triang(c=(p["mode"] - p["min"]) / width, loc=p["min"], scale=width)


def _truncnormal(p):
    a, b = (p["min"] - p["mean"]) / p["sd"], (p["max"] - p["mean"]) / p["sd"]
    return stats.truncnorm(a, b, loc=p["mean"], scale=p["sd"])


def _check_uniform(p):
    return [] if p["min"] < p["max"] else ["min must be below max"]


def _check_triangular(p):
    out = _check_uniform(p)
    if not out and not p["min"] <= p["mode"] <= p["max"]:
        out.append("mode must lie in [min, max]")
    return out


def _check_truncnormal(p):
    out = _check_uniform(p)
    if p["sd"] <= 0:
        out.append("sd must be positive")
    return out


@dataclass(frozen=True)
class Kind:
    """A distribution kind: its numeric keys, a check and the ``scipy.stats`` builder."""

    required: tuple[str, ...]
    check: object
    build: object
    optional: tuple[str, ...] = ()


#: kind → required numbers, check, frozen scipy distribution builder
KINDS: dict[str, Kind] = {
    "uniform": Kind(("min", "max"), _check_uniform, _uniform),
    "triangular": Kind(("min", "mode", "max"), _check_triangular, _triangular),
    "truncnormal": Kind(("mean", "sd", "min", "max"), _check_truncnormal, _truncnormal),
    "calibrated": Kind((), None, None, optional=("min", "max")),
}


@dataclass(frozen=True)
class Uncertain:
    """One uncertain parameter with its resolved distribution (model units)."""

    name: str
    kind: str                       # the kind actually used (``calibrated`` resolved)
    params: dict                    # the numbers of that kind
    source: str
    declared: str = ""              # the kind written in the file
    note: str = ""                  # how a calibrated entry was resolved

    @property
    def dist(self):
        """Frozen ``scipy.stats`` distribution."""
        return KINDS[self.kind].build(self.params)

    @property
    def support(self) -> tuple[float, float]:
        return float(self.params["min"]), float(self.params["max"])

    def describe(self) -> dict:
        return {"name": self.name, "distribution": {"kind": self.kind, **self.params},
                "declared": self.declared or self.kind, "source": self.source,
                **({"note": self.note} if self.note else {})}


@dataclass
class UncertaintySet:
    """The parsed uncertainty file."""

    path: Path
    parameters: list[Uncertain]
    chunk_size: int | None = None
    calibration: Path | None = None
    calibration_used: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [u.name for u in self.parameters]

    def __len__(self):
        return len(self.parameters)


# --------------------------------------------------------------------------- reading
def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def read_calibration(path: Path | None) -> dict | None:
    """``{name: {value, ci_low, ci_high, lower, upper, identifiable, ...}}`` or None if absent."""
    if path is None or not Path(path).is_file():
        return None
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return dict(data.get("parameters") or {})


def _from_calibration(entry: Mapping, fit: Mapping | None) -> tuple[dict, str] | None:
    """Truncated-normal numbers from a calibration row, or None when it is unusable."""
    if not fit:
        return None
    value, lo, hi = fit.get("value"), fit.get("ci_low"), fit.get("ci_high")
    if not all(_is_num(v) for v in (value, lo, hi)) or hi <= lo or fit.get("identifiable") is False:
        return None
    z = stats.norm.ppf(0.5 + CALIBRATION_CI_LEVEL / 2)
    sd = (hi - lo) / (2 * z)
    low = max(v for v in (fit.get("lower"), entry.get("min")) if _is_num(v)) \
        if any(_is_num(v) for v in (fit.get("lower"), entry.get("min"))) else value - 4 * sd
    high = min(v for v in (fit.get("upper"), entry.get("max")) if _is_num(v)) \
        if any(_is_num(v) for v in (fit.get("upper"), entry.get("max"))) else value + 4 * sd
    return ({"mean": float(value), "sd": float(sd), "min": float(low), "max": float(high)},
            f"fitted {value:.6g}, 95 % CI [{lo:.6g}, {hi:.6g}] from the calibration report")


def _check_numbers(dist: Mapping, kind: str, file: str, key: str, problems: list[Problem]) -> dict | None:
    spec = KINDS[kind]
    allowed = {"kind", *spec.required, *spec.optional, *(("fallback",) if kind == "calibrated" else ())}
    for extra in dist:
        if extra not in allowed:
            problems.append(Problem(file, f"{key}.{extra}", f"unknown key for a {kind} distribution"
                                    + suggest(str(extra), sorted(allowed))
                                    + f"; expected {', '.join(spec.required) or 'fallback'}"))
    numbers, ok = {}, True
    for k in (*spec.required, *spec.optional):
        if k not in dist:
            if k in spec.required:
                problems.append(Problem(file, f"{key}.{k}", f"missing; a {kind} distribution needs "
                                        f"{', '.join(spec.required)}"))
                ok = False
            continue
        if not _is_num(dist[k]):
            problems.append(Problem(file, f"{key}.{k}", f"expected a finite number, got {dist[k]!r}"))
            ok = False
            continue
        numbers[k] = float(dist[k])
    if not ok:
        return None
    if spec.check is not None:
        msgs = spec.check(numbers)
        problems += [Problem(file, key, m) for m in msgs]
        if msgs:
            return None
    return numbers


def _kind_of(dist, file: str, key: str, problems: list[Problem]) -> str | None:
    if not isinstance(dist, Mapping):
        problems.append(Problem(file, key, "expected a mapping {kind: ..., <numbers>}, got "
                                f"{type(dist).__name__}"))
        return None
    kind = dist.get("kind")
    if kind not in KINDS:
        problems.append(Problem(file, f"{key}.kind", f"unknown distribution {kind!r}"
                                + suggest(str(kind), KINDS) + f"; expected one of {', '.join(KINDS)}"))
        return None
    return kind


def _resolve_entry(name: str, dist, file: str, key: str, calibration: dict | None,
                   problems: list[Problem]) -> tuple[str, dict, str] | None:
    """(kind used, numbers, note) for one distribution mapping, or None after problems."""
    kind = _kind_of(dist, file, key, problems)
    if kind is None:
        return None
    numbers = _check_numbers(dist, kind, file, key, problems)
    if numbers is None:
        return None
    if kind != "calibrated":
        return kind, numbers, ""
    fallback = dist.get("fallback")
    fb = None
    if fallback is not None:
        fb_kind = _kind_of(fallback, file, f"{key}.fallback", problems)
        if fb_kind == "calibrated":
            problems.append(Problem(file, f"{key}.fallback.kind", "a fallback cannot itself be calibrated"))
        elif fb_kind is not None:
            fb_numbers = _check_numbers(fallback, fb_kind, file, f"{key}.fallback", problems)
            fb = None if fb_numbers is None else (fb_kind, fb_numbers)
    got = _from_calibration(numbers, (calibration or {}).get(name))
    if got is not None:
        numbers, note = got
        if numbers["min"] >= numbers["max"]:
            problems.append(Problem(file, key, f"calibrated bounds [{numbers['min']:g}, {numbers['max']:g}] "
                                    "are empty"))
            return None
        return "truncnormal", numbers, note
    if fb is None:
        if fallback is None:
            why = "no calibration report" if calibration is None else "the calibration report has no usable fit"
            problems.append(Problem(file, f"{key}.fallback", f"{why} for {name!r} and no fallback "
                                    "distribution is given"))
        return None
    why = ("calibration report not found" if calibration is None else
           "not fitted (or unidentifiable) in the calibration report")
    return fb[0], fb[1], f"fallback used: {why}"


def load_uncertainties(path: str | os.PathLike = DEFAULT_FILE, model=None,
                       levers: Iterable[str] | str | os.PathLike | None = None,
                       calibration: str | os.PathLike | None = None) -> UncertaintySet:
    """Read and check an uncertainty file; raise :class:`ValidationError` listing every problem.

    ``model``: a path or :class:`sim.engine.load.LoadedModel`; with it, names must be model
    constants and supports must lie in the Vensim ranges. ``levers``: lever names or the
    registry file (default ``levers.yaml`` beside the uncertainty file); levers are refused.
    ``calibration``: a calibration.json used instead of the file's ``calibration`` key (the
    calibration made at a vantage: :func:`sim.policy.vantage.vantage_calibration`).
    """
    path = Path(path)
    file = str(path)
    problems: list[Problem] = []
    data = read_yaml(path, problems)
    if problems:
        raise ValidationError(problems)
    if not isinstance(data, Mapping):
        raise ValidationError([Problem(file, "", "expected a mapping with a 'parameters' list")])
    for k in data:
        if k == "scheduler":
            problems.append(Problem(file, "scheduler", "a data file may not choose a network "
                                    "address: remove it and pass --scheduler tcp://host:port "
                                    "(or set SIM_DASK_SCHEDULER)"))
        elif k not in FILE_KEYS:
            problems.append(Problem(file, str(k), "unknown key" + suggest(str(k), FILE_KEYS)))

    lever_names = _lever_names(levers, path, problems)
    handle = None
    if model is not None:
        from sim.engine.load import as_loaded
        handle = as_loaded(model)
    constants = set(handle.constants()) if handle else None
    variables = handle.names() if handle else None

    cal_path = None
    if data.get("calibration") is not None:
        if not isinstance(data["calibration"], str):
            problems.append(Problem(file, "calibration", "expected a path to calibration.json"))
        else:
            cal_path = (path.parent / data["calibration"]).resolve()
    if calibration is not None:
        cal_path = Path(calibration).resolve()
    try:
        calibration = read_calibration(cal_path)
    except (OSError, ValueError) as err:
        problems.append(Problem(file, "calibration", f"cannot read {cal_path}: {err}"))
        calibration = None

    chunk = data.get("chunk_size")
    if chunk is not None and (not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1):
        problems.append(Problem(file, "chunk_size", f"expected a positive whole number, got {chunk!r}"))
        chunk = None

    entries = data.get("parameters")
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(file, "parameters", "expected a non-empty list of parameters"))
        entries = []
    out, seen = [], set()
    for i, entry in enumerate(entries):
        key = f"parameters[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(Problem(file, key, "expected a mapping with name, distribution, source"))
            continue
        name = entry.get("name")
        if isinstance(name, str) and name:
            key = name
        for k in entry:
            if k not in ENTRY_KEYS:
                problems.append(Problem(file, f"{key}.{k}", "unknown key" + suggest(str(k), ENTRY_KEYS)))
        if not isinstance(name, str) or not name:
            problems.append(Problem(file, f"{key}.name", "missing; expected a model constant's name"))
            continue
        if name in seen:
            problems.append(Problem(file, key, "listed twice"))
            continue
        seen.add(name)
        name_ok = True
        if name in lever_names:
            problems.append(Problem(file, key, "is a policy lever (scenarios/levers.yaml): scenarios set "
                                    "levers; list behavioural constants here"))
            name_ok = False
        elif handle is not None and name not in constants:
            if name in variables:
                problems.append(Problem(file, key, "is a model variable but not a constant; only "
                                        "constants can be sampled"))
            else:
                problems.append(Problem(file, key, "not a variable of the model"
                                        + suggest(name, sorted(constants))))
            name_ok = False
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip().startswith(SOURCE_KINDS):
            problems.append(Problem(file, f"{key}.source", "expected text starting with one of "
                                    f"{', '.join(SOURCE_KINDS)} (a data row, a clause, the calibration "
                                    f"or the reasoning of an assumption), got {source!r}"))
        resolved = _resolve_entry(name, entry.get("distribution"), file, f"{key}.distribution",
                                  calibration, problems)
        if resolved is None or not name_ok:
            continue
        kind, numbers, note = resolved
        declared = entry["distribution"]["kind"]
        u = Uncertain(name, kind, numbers, str(source or ""), declared, note)
        if handle is not None:
            lo, hi = handle.limits(name)
            smin, smax = u.support
            if (math.isfinite(lo) and smin < lo) or (math.isfinite(hi) and smax > hi):
                problems.append(Problem(file, f"{key}.distribution", f"support [{smin:g}, {smax:g}] leaves "
                                        f"the model's range [{_fmt(lo)}, {_fmt(hi)}] ({handle.units(name)})"))
                continue
        out.append(u)
    if problems:
        raise ValidationError(problems)
    return UncertaintySet(path=path, parameters=out, chunk_size=chunk,
                          calibration=cal_path, calibration_used=calibration is not None)


def _fmt(x: float) -> str:
    return "?" if not math.isfinite(x) else f"{x:g}"


def _lever_names(levers, path: Path, problems: list[Problem]) -> set[str]:
    if levers is None:
        levers = path.parent / "levers.yaml"
        if not levers.is_file():
            return set()
    if isinstance(levers, (str, os.PathLike)):
        return set(load_registry(levers, problems))
    return set(levers)


# --------------------------------------------------------------------------- sampling
class SamplingError(SimError, ValueError):
    """A sampling request that cannot be met (method, size)."""


def unit_problem(d: int) -> dict:
    """SALib problem for ``d`` independent U(0, 1) inputs (names ``u0`` … ``u{d-1}``)."""
    return {"num_vars": d, "names": [f"u{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}


def check_sampling(method: str, n: int, seed: int) -> None:
    """Refuse a bad method, size or seed before any work or allocation."""
    if method not in METHODS:
        raise SamplingError(f"unknown sampling method {method!r}; expected one of {', '.join(METHODS)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SamplingError(f"--n {n!r}: the sample size must be a positive whole number")
    if method == "sobol" and n & (n - 1):
        raise SamplingError(f"--n {n}: Sobol (Saltelli) sampling needs a power of two as n "
                            f"(e.g. {1 << max(0, int(n).bit_length() - 1)})")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise SamplingError(f"--seed {seed!r}: expected a whole number from 0 to {2**32 - 1}")


def sample_unit(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """Points in the unit hypercube, shape ``(rows, d)``.

    ``mc``: ``n`` rows from ``numpy.random.default_rng(seed)``; ``lhs``: ``n`` rows, one
    per stratum of width 1/n in every column (SALib); ``sobol``: Saltelli's scheme for
    first-order and total indices, ``n * (d + 2)`` rows (``n`` a power of two; SALib,
    scrambled Sobol sequence).
    """
    check_sampling(method, n, seed)
    if method == "mc":
        return np.random.default_rng(seed).random((n, d))
    if method == "lhs":
        from SALib.sample import latin
        return np.asarray(latin.sample(unit_problem(d), n, seed=seed), dtype=float)
    from SALib.sample import sobol
    if n & (n - 1):
        raise SamplingError(f"Sobol (Saltelli) sampling needs a power of two as n, got {n}")
    return np.asarray(sobol.sample(unit_problem(d), n, calc_second_order=False, scramble=True,
                                   seed=seed), dtype=float)


def to_values(unit: np.ndarray, parameters: list[Uncertain]) -> np.ndarray:
    """Map unit-hypercube points to parameter values through each inverse CDF (model units)."""
    unit = np.asarray(unit, dtype=float)
    if unit.ndim != 2 or unit.shape[1] != len(parameters):
        raise ValueError(f"expected points of shape (n, {len(parameters)}), got {unit.shape}")
    return np.column_stack([u.dist.ppf(unit[:, j]) for j, u in enumerate(parameters)])


def draw(uset: UncertaintySet | list[Uncertain], method: str, n: int, seed: int) -> np.ndarray:
    """Parameter values, shape ``(rows, d)``, columns in the file's order."""
    params = uset.parameters if isinstance(uset, UncertaintySet) else list(uset)
    return to_values(sample_unit(method, n, len(params), seed), params)
