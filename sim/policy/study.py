"""A study: the scenario folder, lever registry, targets and model, read and validated together.

:func:`read_study` is the one "read and validate everything" step that the main run, the
ensemble, the policy search and the what-if workspace share: every problem of every file
is collected and raised together (:class:`~sim.policy.scenario.ValidationError`) before
anything runs. :func:`validate_study` returns the problems instead.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.defaults import DEFAULT_MODEL, DEFAULT_SCENARIO_DIR
from sim.errors import SimError, suggest
from sim.policy.scenario import (Problem, Scenario, ScenarioSet, ValidationError, check_registry_against_model,
                                 load_registry, read_scenarios, validate_scenarios)
from sim.policy.measures import DEFAULT_FILE as MEASURES_FILE, read_measures
from sim.policy.targets import TargetSet, events_needed, read_targets


def study_paths(scenario_dir, targets=None, registry=None) -> tuple[Path, Path, Path]:
    """``(scenario folder, targets file, registry file)``; the files default to
    ``targets.yaml`` and ``levers.yaml`` in the scenario folder."""
    scenario_dir = Path(scenario_dir)
    return (scenario_dir,
            Path(targets) if targets is not None else scenario_dir / "targets.yaml",
            Path(registry) if registry is not None else scenario_dir / "levers.yaml")


def model_facts(loaded, lever_names: Iterable[str] = ()) -> dict:
    """What validation and resolution need from a loaded model (a :class:`sim.engine.load.LoadedModel`).

    Returns ``time_span`` (INITIAL TIME, FINAL TIME; years), ``variables`` (every name
    in the .mdl), ``constants``, ``units`` ({name: units string}) and ``defaults``
    ({lever name: the model's own value}, for the levers that are model constants).
    """
    m = loaded.fresh()
    variables = loaded.names()
    constants = loaded.constants()
    units = {}
    for name in variables:
        try:
            units[name] = loaded.units(name)
        except KeyError:
            pass
    defaults = {}
    for name in lever_names:
        if name in constants:
            try:
                value = m[name]
            except Exception:  # noqa: BLE001 - a subscripted or odd constant: no default
                continue
            if np.ndim(value) == 0:
                defaults[name] = float(value)
    return {"time_span": (float(m.time.initial_time()), float(m.time.final_time())),
            "variables": variables, "constants": constants, "units": units, "defaults": defaults}


def target_events(targets: Iterable | None) -> list:
    """The engine events that record the targets' crossing times (none without targets)."""
    from sim.engine.integrate import Event

    return [Event(r.variable, r.threshold, r.direction, name=r.key)
            for r in events_needed(targets)] if targets else []


def select_scenarios(requested, available: Iterable[str]) -> list[str]:
    """The scenario ids to run: all of ``available`` when ``requested`` is None, else
    ``requested`` (one id or several); an unknown id raises ValidationError with a suggestion."""
    available = list(available)
    if requested is None:
        return available
    requested = [requested] if isinstance(requested, str) else list(requested)
    unknown = [s for s in requested if s not in available]
    if unknown:
        raise ValidationError([Problem("scenarios", s, "unknown scenario" + suggest(s, available))
                               for s in unknown])
    return requested


@dataclass
class Study:
    """What :func:`read_study` read: levers, scenarios, targets, the loaded model and its facts."""

    levers: dict
    scenarios: dict[str, Scenario]
    targets: TargetSet | None
    loaded: object | None            # sim.engine.load.LoadedModel, None without a model
    facts: dict | None               # model_facts(loaded, levers), None without a model
    scenario_dir: Path
    targets_path: Path
    registry_path: Path

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        """``(scenario folder, targets file, registry file)``."""
        return self.scenario_dir, self.targets_path, self.registry_path

    @property
    def time_span(self) -> tuple[float, float] | None:
        return self.facts["time_span"] if self.facts else None

    @property
    def defaults(self) -> dict:
        """``{lever: the model's own value}`` for levers that are model constants."""
        return self.facts["defaults"] if self.facts else {}

    def scenario_set(self) -> ScenarioSet:
        """The validated scenarios with the registry and the model's time span."""
        return ScenarioSet(self.scenarios, self.levers, self.registry_path, self.time_span)

    def select(self, requested=None) -> list[str]:
        """Scenario ids in run order (parents first), or the ``requested`` ones, checked."""
        return select_scenarios(requested, self.scenario_set().ids())


def _load_model(model, load_model, problems: list[Problem]):
    if model is None:
        return None
    if load_model is None:
        from sim.engine.load import load_model
    try:
        return load_model(model)
    except SimError as err:
        problems.append(Problem(str(model), "", str(err).removeprefix(f"{model}: ")))
    except OSError as err:
        problems.append(Problem(str(model), "", f"cannot read model: {err}"))
    return None


def validate_study(scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL, targets=None, registry=None, *,
                   load_model: Callable | None = None) -> tuple[list[Problem], Study | None]:
    """Every problem of the scenario folder, registry, targets and model, and what was read.

    With a ``model`` (path), levers must be model constants with the model's units, table
    years must lie in its time span and target indicators must be model variables.
    The study is None only when the scenario folder does not exist.
    """
    scenario_dir, targets_path, registry_path = study_paths(scenario_dir, targets, registry)
    problems: list[Problem] = []
    if not scenario_dir.is_dir():
        problems.append(Problem(str(scenario_dir), "", "scenario folder not found"))
        return problems, None
    levers = load_registry(registry_path, problems)
    registry_ok = not problems or bool(levers)
    loaded = _load_model(model, load_model, problems)
    facts = model_facts(loaded, levers) if loaded is not None else None
    if facts is not None:
        problems += check_registry_against_model(levers, str(registry_path), facts["constants"], facts["units"])
    scenarios = read_scenarios(scenario_dir, problems)
    if not scenarios:
        problems.append(Problem(str(scenario_dir), "", "no scenario files (*.yaml) found"))
    problems += validate_scenarios(scenarios, levers if registry_ok else None,
                                   facts["time_span"] if facts else None)
    target_set, target_problems = read_targets(targets_path, facts["variables"] if facts else None)
    problems += target_problems
    measures_path = scenario_dir / MEASURES_FILE
    if measures_path.is_file():  # optional: a scenario folder may have no measures register
        problems += read_measures(measures_path, list(levers) if registry_ok else None,
                                  facts["variables"] if facts else None)[1]
    return problems, Study(levers, scenarios, target_set, loaded, facts, scenario_dir, targets_path,
                           registry_path)


def read_study(scenario_dir: str | os.PathLike = DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL, targets=None,
               registry=None, *, load_model: Callable | None = None) -> Study:
    """:func:`validate_study`, raising :class:`ValidationError` with every problem."""
    problems, study = validate_study(scenario_dir, model, targets, registry, load_model=load_model)
    if problems:
        raise ValidationError(problems)
    return study
