"""Vantage points (issue 12): each horizon's goals are asked from its base year.

The 2020 goals are judged on runs that know the observed history to 2015 (levers from the
scenarios' policy start, 2016); the 2030 goals on runs that know it to 2020 (every
scenario shares that history, levers from 2021). The model is told by one constant,
:data:`VANTAGE_CONSTANT`; a calibration made on the data known at a vantage
(``<model dir>/calibration/vantage_<year>/calibration.json``) gives that vantage's runs
its fitted constants. Design and reasons: scenarios/README.md, "Two vantage points".

The main job (:func:`sim.run.judge_from_vantages`) and the what-if workspace behind the
live explorer (:class:`sim.analysis.whatif.Workspace`) share these steps: the vantage
groups of a study (:func:`vantages`), a scenario's params as a run from a vantage sees
them (:func:`seen_from`) and the scorecard that judges each target on the run of its own
vantage (:func:`vantage_scorecard`).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sim.policy.scenario import STEP_WIDTH_YEARS
from sim.policy.targets import scorecard

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


def vantages(study) -> dict[float | None, list]:
    """A study's targets grouped by the vantage they are judged from (their horizon's base
    year; one group ``None`` for a model without :data:`VANTAGE_CONSTANT`).  ``study``: a
    :class:`sim.policy.study.Study`."""
    horizons = study.targets.horizons if study.targets is not None else {}
    return vantage_groups(study.targets, horizons, study.facts["constants"] if study.facts else ())


def seen_from(params: Mapping, defaults: Mapping[str, float], model_path, vantage: float | None) -> dict:
    """A scenario's engine ``params`` as the run seen from ``vantage`` takes them: the
    constants of the calibration made then (:func:`vantage_constants`), then the params
    with every lever change moved after the vantage (:func:`from_vantage`). ``vantage``
    None: the params unchanged."""
    if vantage is None:
        return dict(params)
    return {**vantage_constants(model_path, vantage), **from_vantage(params, defaults, vantage)}


def vantage_scorecard(runs: Mapping, groups: Mapping, event_times: Mapping | None = None,
                      order: Iterable[str] | None = None, targets: Iterable | None = None) -> pd.DataFrame:
    """Each target judged on the run of its own vantage: ``runs`` {vantage: {scenario id:
    DataFrame}}, ``groups`` {vantage: targets} (:func:`vantages`), ``event_times``
    {vantage: {scenario id: {...}}} (optional). Rows in scenario order (``order``, default
    that of the runs), then target order (``targets``, default the groups' order)."""
    cards = [scorecard(runs[v], group, (event_times or {}).get(v)) for v, group in groups.items()]
    card = pd.concat(cards, ignore_index=True)
    ids = list(order) if order is not None else list(dict.fromkeys(s for r in runs.values() for s in r))
    targets = list(targets) if targets is not None else [t for group in groups.values() for t in group]
    rank_target = {t.id: i for i, t in enumerate(targets)}
    rank = {sid: i for i, sid in enumerate(ids)}
    card = card.sort_values(["scenario", "target"], kind="stable",
                            key=lambda col: col.map(rank if col.name == "scenario" else rank_target))
    return card.reset_index(drop=True)


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
