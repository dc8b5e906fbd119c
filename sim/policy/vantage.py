"""Vantage points (issue 12): each horizon's goals are asked from its base year.

The 2020 goals are judged on runs that know the observed history to 2015 (levers from the
scenarios' policy start, 2016); the 2030 goals on runs that know it to 2020 (every
scenario shares that history, levers from 2021). The model is told by one constant,
:data:`VANTAGE_CONSTANT`; a calibration made on the data known at a vantage
(``<model dir>/calibration/vantage_<year>/calibration.json``) gives that vantage's runs
its fitted constants. Design and reasons: scenarios/README.md, "Two vantage points".
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sim.policy.scenario import STEP_WIDTH_YEARS

#: The model constant saying up to which year a run knows the observed history.
VANTAGE_CONSTANT = "history end year"


def from_vantage(params: Mapping, defaults: Mapping[str, float], vantage: float) -> dict:
    """Scenario ``params`` seen from ``vantage`` (a year): the model's own lever values (the
    history every scenario shares) up to ``vantage``, the scenario's path from
    ``vantage + 1``, and :data:`VANTAGE_CONSTANT` set to ``vantage``. A lever whose path
    changes nothing up to ``vantage + 1`` is kept as it is; a param that is no lever (no
    default) too."""
    start = float(vantage) + 1.0
    out = {}
    for name, value in params.items():
        if name not in defaults:
            out[name] = value
            continue
        base = float(defaults[name])
        if isinstance(value, pd.Series):
            years, values = value.index.to_numpy(dtype=float), value.to_numpy(dtype=float)
            at_start = float(np.interp(start, years, values))
            if np.allclose(np.append(values[years < start], at_start), base):
                out[name] = value
                continue
            points = {start - STEP_WIDTH_YEARS: base, start: at_start,
                      **{float(y): float(v) for y, v in zip(years, values) if y > start}}
        else:
            if float(value) == base:
                out[name] = value
                continue
            points = {start - STEP_WIDTH_YEARS: base, start: float(value)}
        out[name] = pd.Series(list(points.values()), index=pd.Index(list(points), dtype=float, name="year"),
                              dtype=float)
    out[VANTAGE_CONSTANT] = float(vantage)
    return out


def vantage_constants(model_path, vantage: float | None) -> dict[str, float]:
    """The constants fitted on the data known at ``vantage``: the fitted values of
    ``calibration/vantage_<year>/calibration.json`` beside the model file (written by
    ``make calibrate`` from ``calibration/jingdezhen_<year>.yaml``), or none when there is
    no such calibration (the model's own constants, the latest refit, then hold)."""
    if vantage is None or model_path is None:
        return {}
    path = Path(model_path).parent / "calibration" / f"vantage_{vantage:g}" / "calibration.json"
    if not path.is_file():
        return {}
    numbers = json.loads(path.read_text(encoding="utf-8"))
    return {name: float(p["value"]) for name, p in numbers["parameters"].items()}


def vantage_groups(targets: Iterable | None, horizons: Mapping, model_constants: Iterable[str]
                   ) -> dict[float | None, list]:
    """The targets grouped by the year they are asked from: their horizon's ``base_year``.
    A model without :data:`VANTAGE_CONSTANT` has one group, ``None`` (no vantage)."""
    targets = list(targets or [])
    if VANTAGE_CONSTANT not in set(model_constants):
        return {None: targets}
    groups: dict[float | None, list] = {}
    for t in targets:
        groups.setdefault(float(horizons[t.horizon].base_year), []).append(t)
    return groups or {None: []}


def latest_vantage(runs: Mapping):
    """The latest vantage year among the keys of ``runs`` (None, no vantage, counts as earliest)."""
    return max(runs, key=lambda v: -math.inf if v is None else v)


def vantage_views(runs: Mapping, target_ids: Mapping, scenarios_meta: Mapping) -> tuple[dict, dict, dict]:
    """What the figures draw when the goals are judged from several vantages.

    ``runs``: {vantage year or None: {scenario id: DataFrame}}; ``target_ids``: {vantage:
    ids of the targets judged from it}; ``scenarios_meta``: {id: {...}}. Returns the runs
    seen from the latest vantage, their meta with ``projection_start`` the year after it,
    and ``target_runs`` ({target id: (runs, meta)}) for the targets judged from an earlier
    vantage, so each target's figure draws the runs its verdict rests on."""
    latest = latest_vantage(runs)

    def seen(vantage):
        if vantage is None:
            return dict(scenarios_meta)
        return {sid: {**m, "projection_start": float(vantage) + 1} for sid, m in scenarios_meta.items()}
    target_runs = {tid: (runs[v], seen(v)) for v, ids in target_ids.items()
                   if v is not None and v != latest and v in runs for tid in ids}
    return runs[latest], seen(latest), target_runs
