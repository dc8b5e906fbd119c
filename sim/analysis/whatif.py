"""What-if runs in memory: a scenario plus lever changes, run and judged without a results folder.

:class:`Workspace` reads the model, the scenario folder, the lever registry and the
targets once (:func:`sim.policy.study.read_study`, the step the main run uses: every
problem of every file is raised together) and then serves many
quick runs, for notebooks, sweeps and the live explorer (:mod:`sim.explorer`).

A *variant* is an in-memory child scenario of a scenario file: it ``extends`` that
scenario and sets some levers, which take effect from the parent's ``policy_start``
exactly as they would in a scenario file (:func:`sim.policy.scenario.resolve` builds the lever
paths; before the policy start the parent's path holds). Lever values are in the
registry's units (``scenarios/levers.yaml``) and are validated against it, so a
misspelt lever or an out-of-range value raises :class:`sim.policy.scenario.ValidationError`
naming the variant and the key.

Runs can be *seen from a vantage* as the main job sees them (``vantage=2015``: the
constants fitted on the data known then, every lever change moved after the vantage;
:func:`sim.policy.vantage.seen_from`), and :meth:`Workspace.judge` judges each target on
the run of its own vantage (:func:`sim.policy.vantage.vantage_scorecard`), as
:func:`sim.run.judge_from_vantages` does: the same steps, not a copy.

Results are :func:`sim.simulate` DataFrames (index: float years; columns: model names)
and scorecards are :func:`sim.policy.targets.scorecard` frames.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sim.defaults import DEFAULT_MODEL, DEFAULT_SCENARIO_DIR, ENGINE_DEFAULTS
from sim.engine.integrate import simulate
from sim.errors import suggest
from sim.policy.scenario import Scenario, ValidationError, policy_start_of, resolve, validate_scenarios
from sim.policy.study import read_study, target_events
from sim.policy.targets import TargetSet, scorecard
from sim.policy.vantage import seen_from, vantage_scorecard, vantages


class Workspace:
    """Model, scenarios, lever registry and targets, read once for many in-memory runs.

    ``scenario_dir``: the scenario folder; ``model``: the .mdl path; ``targets`` and
    ``registry`` default to ``targets.yaml`` and ``levers.yaml`` in the scenario folder.
    Raises :class:`sim.policy.scenario.ValidationError` listing every problem of those files.
    """

    def __init__(self, scenario_dir: str | os.PathLike = DEFAULT_SCENARIO_DIR,
                 model: str | os.PathLike = DEFAULT_MODEL, *, targets=None, registry=None):
        self.scenario_dir = Path(scenario_dir)
        self.model_path = Path(model)
        self.study = read_study(self.scenario_dir, self.model_path, targets, registry)
        self.loaded = self.study.loaded
        self.registry = self.study.levers
        self.facts = self.study.facts
        self.time_span: tuple[float, float] = self.study.time_span
        self.scenario_set = self.study.scenario_set()
        self.scenarios: dict[str, Scenario] = dict(self.scenario_set.scenarios)
        self.targets: TargetSet = self.study.targets
        self.events = target_events(self.targets)

    # ------------------------------------------------------------------ scenarios
    def ids(self) -> list[str]:
        """Ids of the scenario files, parents before children."""
        return self.scenario_set.ids()

    def meta(self, *extra: Scenario) -> dict[str, dict]:
        """Scenario metadata (``{id: {"name": {zh, en}, ...}}``) for figures, variants included."""
        out = self.scenario_set.meta()
        out.update({sc.id: sc.meta() for sc in extra})
        return out

    def variant(self, base: str, levers: Mapping[str, object], *, id: str | None = None,
                name: Mapping[str, str] | None = None) -> Scenario:
        """An in-memory child of scenario ``base`` that sets ``levers`` from its policy start.

        ``levers``: ``{lever name: value}`` in the registry's units (a number or a
        ``{year: value}`` table, as in a scenario file). Raises ValidationError (unknown
        base or lever, value out of range, bad table year) naming ``<what-if on base>``.
        """
        sid = id or f"{base}+what-if"
        sc = Scenario(id=sid, path=Path(f"<what-if on {base}>"),
                      name=dict(name or {"zh": f"{base}（调整）", "en": f"{base} (adjusted)"}),
                      description={"zh": "", "en": ""}, extends=base, policy_start=None,
                      levers=dict(levers))
        problems = validate_scenarios({**self.scenarios, sid: sc}, self.registry, self.time_span)
        mine = [p for p in problems if p.file == str(sc.path)]
        if mine:
            raise ValidationError(mine)
        return sc

    def _scenario(self, scenario: str | Scenario) -> tuple[str, dict[str, Scenario]]:
        if isinstance(scenario, Scenario):
            return scenario.id, {**self.scenarios, scenario.id: scenario}
        if scenario not in self.scenarios:
            raise KeyError(f"{self.scenario_dir}: unknown scenario {scenario!r}" + suggest(scenario, self.scenarios))
        return scenario, self.scenarios

    def params(self, scenario: str | Scenario, vantage: float | None = None) -> dict:
        """Engine params of a scenario id or variant: ``{lever: float or Series(year → value)}``;
        with ``vantage`` (a year) as the main job's run seen from that year takes them
        (:func:`sim.policy.vantage.seen_from`)."""
        sid, scenarios = self._scenario(scenario)
        params = resolve(sid, scenarios, self.registry, defaults=self.facts["defaults"],
                         time_span=self.time_span)
        return params if vantage is None else seen_from(params, self.facts["defaults"], self.model_path, vantage)

    def vantages(self) -> dict[float | None, list]:
        """The targets grouped by the vantage they are judged from, ``{base year: targets}``
        (``{None: all}`` for a model without a vantage constant), as in the main job."""
        return vantages(self.study)

    def lever_value(self, scenario: str | Scenario, lever: str, year: float,
                    vantage: float | None = None) -> float:
        """The value lever ``lever`` takes in ``year`` (registry units) under a scenario
        (seen from ``vantage``, when given)."""
        if lever not in self.registry:
            raise KeyError(f"unknown lever {lever!r}" + suggest(lever, self.registry))
        value = self.params(scenario, vantage).get(lever, self.facts["defaults"].get(lever))
        if isinstance(value, pd.Series):
            return float(np.interp(year, value.index.to_numpy(float), value.to_numpy(float)))
        return float(value)

    def policy_start(self, scenario: str | Scenario) -> float | None:
        """The year a scenario's constant levers take effect (inherited from its parents)."""
        sid, scenarios = self._scenario(scenario)
        return policy_start_of(sid, scenarios)

    # ------------------------------------------------------------------ runs
    def run(self, scenario: str | Scenario, *, rtol: float = ENGINE_DEFAULTS["rtol"],
            method: str = ENGINE_DEFAULTS["method"], events: bool = True,
            return_columns: Iterable[str] | None = None, vantage: float | None = None) -> pd.DataFrame:
        """Run a scenario id or variant; ``df.attrs["events"]`` holds the targets' crossing times.

        ``events=False`` skips the crossing-time events (faster; the scorecard's
        ``year_reached`` then comes from the saved yearly values). ``vantage``: the run
        seen from that year (:meth:`params`), recording the events of the targets judged
        from it, as the main job does.
        """
        if vantage is None:
            wanted = self.events
        else:
            wanted = target_events(self.vantages().get(float(vantage), []))
        return simulate(self.loaded, params=self.params(scenario, vantage), method=method, rtol=rtol,
                        events=wanted if events else None,
                        return_columns=None if return_columns is None else list(return_columns))

    def run_from_vantages(self, scenario: str | Scenario, **engine) -> dict[float | None, pd.DataFrame]:
        """``{vantage: results}``: the scenario run once per vantage (:meth:`vantages`), as the
        main job runs it; ``engine``: :meth:`run`'s keywords."""
        return {v: self.run(scenario, vantage=v, **engine) for v in self.vantages()}

    def run_many(self, scenarios: Iterable[str | Scenario], **engine) -> dict[str, pd.DataFrame]:
        """``{scenario id: results}`` for several scenario ids or variants (same engine settings)."""
        out = {}
        for sc in scenarios:
            out[sc.id if isinstance(sc, Scenario) else sc] = self.run(sc, **engine)
        return out

    def scorecard(self, results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """The scorecard of ``{scenario id: results}``, using each run's event times when present."""
        event_times = {sid: dict(df.attrs.get("events") or {}) for sid, df in results.items()}
        return scorecard(results, self.targets, event_times)

    def judge(self, runs: Mapping[float | None, Mapping[str, pd.DataFrame]]) -> pd.DataFrame:
        """The main job's scorecard of ``{vantage: {scenario id: results}}``: each target judged
        on the run seen from its own vantage (:func:`sim.policy.vantage.vantage_scorecard`),
        with each run's event times when present; rows by scenario, then target-file order."""
        event_times = {v: {sid: dict(df.attrs.get("events") or {}) for sid, df in by_id.items()}
                       for v, by_id in runs.items()}
        return vantage_scorecard(runs, self.vantages(), event_times, targets=self.targets)
