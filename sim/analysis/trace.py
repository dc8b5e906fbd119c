"""Traceability: clause → measure → lever → model variables → targets, by walking the model.

The causal paths come from the model's equations (:func:`sim.modelfile.mdl.read_mdl`: each
element's ``dependencies``): a lever can move a target when the target's indicator lies
downstream of the lever in the dependency graph. Two kinds of path are told apart:

* **direct**: paths that do not pass through the lever programmes' shared budget demand
  (``lever spending requested``);
* **via the budget**: targets reachable only because a programme's spending request
  changes ``fiscal feasibility`` and so scales every other programme (crowding out).

:mod:`sim.report.traceability` renders the result (``python -m sim trace`` writes
``docs/traceability_zh.md`` and ``docs/traceability_en.md``; a test keeps the committed
files in step with a fresh generation).
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sim.modelfile.mdl import MdlModel, read_mdl
from sim.policy.measures import MeasureSet, load_measures
from sim.policy.scenario import Problem, ValidationError, load_registry
from sim.policy.targets import TargetSet, load_targets

#: Variables whose change reaches every programme through the shared budget.
BUDGET_NODES = ("lever spending requested",)
#: The tables name a lever's nearest targets: those at most this many links further than
#: its closest target (the economy's feedback loops - GDP, jobs, the budget - connect
#: every lever to almost every target in the end; those are counted, not named).
NEAR_WINDOW = 2


def dependents(model: MdlModel) -> dict[str, set[str]]:
    """``{variable: variables whose equation (or initial value) reads it}``."""
    out: dict[str, set[str]] = {e.name: set() for e in model.elements}
    for e in model.elements:
        for dep in e.dependencies:
            out.setdefault(dep, set()).add(e.name)
    return out


def downstream(graph: Mapping[str, set[str]], sources: Iterable[str],
               blocked: Iterable[str] = (), stop: Iterable[str] = ()) -> dict[str, int]:
    """``{variable: number of links on the shortest path}`` from ``sources`` (breadth first),
    never passing through a ``blocked`` variable (which is itself not reached); ``stop``
    variables are reached but the walk does not continue past them."""
    blocked, stop = set(blocked), set(stop)
    dist = {s: 0 for s in sources}
    queue = deque(dist)
    while queue:
        v = queue.popleft()
        if v in stop and dist[v] > 0:
            continue
        for w in sorted(graph.get(v, ())):
            if w not in dist and w not in blocked:
                dist[w] = dist[v] + 1
                queue.append(w)
    return dist


@dataclass(frozen=True)
class Reach:
    """What a lever (or a set of structure variables) acts on and which targets it can move."""

    acts_on: tuple          # variables reading the sources directly
    direct: dict            # {target id: links on the shortest path}, not via the budget
    via_budget: tuple       # target ids reachable only through the shared budget

    def nearest(self, window: int = NEAR_WINDOW) -> dict:
        """``{target id: links}`` of the targets within ``window`` links of the closest one."""
        if not self.direct:
            return {}
        first = min(self.direct.values())
        return {t: d for t, d in sorted(self.direct.items(), key=lambda kv: (kv[1], kv[0]))
                if d <= first + window}


def reach(model: MdlModel, sources: Iterable[str], targets: TargetSet,
          graph: Mapping[str, set[str]] | None = None) -> Reach:
    """Walk the model from ``sources`` to the targets' indicators."""
    graph = graph if graph is not None else dependents(model)
    sources = list(sources)
    free = downstream(graph, sources, blocked=BUDGET_NODES)
    full = downstream(graph, sources)
    acts_on = sorted({w for s in sources for w in graph.get(s, ())})
    direct, via = {}, []
    for t in targets:
        hops = [free[v] for v in t.variables() if v in free]
        if hops:
            direct[t.id] = min(hops)
        elif any(v in full for v in t.variables()):
            via.append(t.id)
    return Reach(tuple(acts_on), direct, tuple(via))


@dataclass
class Trace:
    """Everything the traceability tables show."""

    measures: MeasureSet
    registry: dict
    targets: TargetSet
    lever_reach: dict       # {lever name: Reach}
    measure_reach: dict     # {measure id: Reach} (levers combined, or structure variables)


def build(scenario_dir: str | os.PathLike = "scenarios", model: str | os.PathLike = "models/jingdezhen.mdl") -> Trace:
    """Read the register, the registry, the targets and the model; walk every lever and measure."""
    scenario_dir = Path(scenario_dir)
    mdl = read_mdl(model)
    names = [e.name for e in mdl.elements]
    registry = load_registry(scenario_dir / "levers.yaml")
    missing = [n for n in registry if n not in mdl]
    if missing:
        raise ValidationError([Problem(str(scenario_dir / "levers.yaml"), n, f"not a variable of {model}")
                               for n in missing])
    measures = load_measures(scenario_dir / "measures.yaml", registry, names)
    targets = load_targets(scenario_dir / "targets.yaml", names)
    graph = dependents(mdl)
    lever_reach = {n: reach(mdl, [n], targets, graph) for n in registry}
    measure_reach = {}
    for m in measures:
        sources = m.levers or m.variables
        if sources:
            measure_reach[m.id] = reach(mdl, sources, targets, graph)
    return Trace(measures, registry, targets, lever_reach, measure_reach)
