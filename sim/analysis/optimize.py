"""Policy search: the least-cost lever mix that reaches a set of goals (issue 7, part 5).

Problem
-------
Levers ``i`` (default: every lever of the registry whose unit is not ``Year``) take a
constant value ``x_i`` from the policy start year on; before it each keeps the path of
the starting scenario (``plan`` by default), exactly as a scenario file would set it
(:mod:`sim.policy.scenario`: a step of width ``STEP_WIDTH_YEARS`` at the start year). Every other
lever keeps the starting scenario's path.

Vantage: the goals are judged as the main run judges them (scenarios/README.md, "Two
vantage points"): from their horizon's base year. Every run of the search, and the
verification run, is the starting scenario seen from that year
(:func:`sim.policy.vantage.seen_from`: the constants of the calibration made then, the
observed history to that year, every lever change after it), so the 2020 goals are
searched from 2015 (levers from 2016) and the 2030 goals from the real 2020 (levers from
2021). Goals asked from different years are refused together (search one horizon at a
time); the default start is the scenario's policy start, no earlier than the vantage + 1.

Cost (dimensionless, "normalised effort")::

    cost(x) = sum_i cost_i * |x_i - b_i| / (high_i - low_i)

``cost_i`` is the registry's ``cost`` weight (1 when the registry gives none), ``[low_i,
high_i]`` its range and ``b_i`` the lever's baseline: its value just before the policy
start (the model's own value for ``plan``). No smoothing is needed: the cost search splits
each move into ``up - down`` (both >= 0, in range units), which makes the cost linear and
exact (at the optimum one of the two is 0).

Goals are targets of ``scenarios/targets.yaml`` (default: every target of the horizon,
2020). A goal's normalised margin is the scorecard's ``margin`` (positive = met) divided
by ``|threshold|``, or by 1 unit of the target when the threshold is 0, so that goals in
different units are comparable. The search asks for ``margin >= floor`` (default
``MARGIN_FLOOR``, a small safety room so that strict comparators and the final run at
the default tolerance also pass).

Method (``scipy.optimize.minimize``, SLSQP, levers scaled to ``u = (x - low)/(high - low)``
in [0, 1], the registry ranges as bounds):

1. every goal's margin and its Jacobian with respect to all levers come from ONE call of
   :func:`sim.engine.batch.simulate_batch` with ``n + 1`` samples (the point and one forward
   step ``FD_STEP`` of the range per lever; a step that would leave the box goes
   backwards). The samples share the solver's steps, so the differences are smooth;
2. reachability: a goal not met at the start is tried at the vertex of the box its local
   gradient points to, and failing that maximised alone (SLSQP, from the start and from
   that vertex). If even its maximum is below the floor it is *out of reach* within the
   ranges; its best margin is reported. This is a local search: for a non-convex
   response "out of reach" means "not reached from these starting points";
3. if the reachable goals are not all met at the start, the smallest of their margins is
   maximised (SLSQP on ``max t`` s.t. ``margin_g >= t``, stopping once all are met with
   room ``MAXIMIN_ROOM``). If even that maximum is below the floor the goals cannot all be
   met together: the hardest of the goals binding there is set aside (reported as out of
   reach together, with the margins at that point) and the step repeats. From the feasible
   point the cost is minimised subject to ``margin_g >= floor``; the cheapest feasible
   point SLSQP visits is kept;
4. the found scenario is written as a scenario file, read back and validated, and
   verified by one run of :func:`sim.engine.integrate.simulate` at the default tolerance; the
   scorecard of that run is what is reported.

:func:`find_policy` returns a :class:`SearchResult`; :mod:`sim.report.policy_search`
writes a new results folder (``levers.csv``, ``goals.csv``, ``policy_search.md``, the
scenario YAML, ``manifest.json``); its ``optimize`` does both.
"""
from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import minimize

from sim.engine.batch import simulate_batch
from sim.errors import SimError, suggest
from sim.defaults import DEFAULT_MODEL, DEFAULT_SCENARIO_DIR, ENGINE_DEFAULTS
from sim.policy.scenario import (Lever, Problem, ValidationError, points_before, policy_start_of,
                                 read_scenarios, resolve, validate_scenarios)
from sim.policy.study import Study, read_study, target_events
from sim.policy.vantage import seen_from, vantage_calibration, vantage_groups
from sim.policy.goal_measures import indicator_array, margin_array, measure_array
from sim.policy.targets import Target, scorecard

DEFAULT_FROM = "plan"
#: Relative tolerance of the search runs. One batch of 21 samples on the Jingdezhen model
#: to 2020 takes about 0.4 s at 1e-6 and hardly less at 1e-5, so the default tolerance is kept.
SEARCH_RTOL = 1e-6
#: Forward-difference step, as a fraction of each lever's range.
FD_STEP = 1e-3
#: Normalised margin every goal must keep in the search (0.1 % of its threshold).
MARGIN_FLOOR = 1e-3
#: A goal counts as met in the search when its normalised margin is at least this far
#: below the floor (SLSQP's constraint tolerance).
FEAS_TOL = 1e-6
#: Iterations of SLSQP when one goal is maximised alone (per starting point), when the
#: smallest margin is maximised, and in the cost search.
MAXITER_ALONE = 40
MAXITER_MAXIMIN = 60
MAXITER_COST = 100
#: The maximin step stops once every goal is this far above the floor (normalised).
MAXIMIN_ROOM = 1e-2
#: Normalised margin given to a goal whose measure is undefined (e.g. growth of a
#: quantity that reached zero), so that the optimiser moves away from it.
NAN_MARGIN = -10.0


# --------------------------------------------------------------------------- set-up
@dataclass
class PolicyProblem:
    """Everything the search needs: levers, their paths, goals and the model."""

    loaded: object
    from_id: str
    start: float
    levers: list[Lever]
    baseline: np.ndarray          # b_i, lever units
    x_start: np.ndarray           # the starting scenario's value from the start year on
    weights: np.ndarray           # cost_i (1 when the registry has none)
    assumed_weights: list[str]    # levers whose cost weight was assumed
    parents: dict                 # lever name -> path before the start (float or points)
    shared: dict                  # engine params of the other levers (starting scenario)
    goals: list[Target]
    scales: np.ndarray            # normalisation of each goal's margin
    times: np.ndarray             # output years of the search runs
    study: Study                  # what read_study read (scenarios, registry, targets, facts)
    #: the year the goals are asked from (their horizon's base year, as the main run judges
    #: them: :mod:`sim.policy.vantage`); None for a model without a vantage constant
    vantage: float | None = None
    rtol: float = SEARCH_RTOL
    floor: float = MARGIN_FLOOR
    runs: int = 0                 # batch calls so far
    samples: int = 0              # samples simulated so far
    progress: object = None       # callable(str) for progress messages, or None
    _cache: dict = field(default_factory=dict)

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(f"[{self.runs} batch runs] {message}")

    @property
    def lo(self) -> np.ndarray:
        return np.array([lv.low for lv in self.levers])

    @property
    def hi(self) -> np.ndarray:
        return np.array([lv.high for lv in self.levers])

    def to_x(self, u: np.ndarray) -> np.ndarray:
        return self.lo + np.clip(u, 0.0, 1.0) * (self.hi - self.lo)

    def to_u(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float) - self.lo) / (self.hi - self.lo)

    # ---- cost
    def cost_terms(self, x: np.ndarray) -> np.ndarray:
        """Exact cost of each lever: ``cost_i |x_i - b_i| / (high_i - low_i)``."""
        return self.weights * np.abs(np.asarray(x) - self.baseline) / (self.hi - self.lo)

    # ---- goals
    def _lever_table(self, name: str, values: np.ndarray) -> pd.DataFrame:
        points = points_before(self.parents[name], self.start)
        years = [y for y, _ in points] + [self.start]
        before = np.array([v for _, v in points])
        table = np.vstack([np.repeat(before[:, None], values.size, axis=1), values[None, :]])
        return pd.DataFrame(table, index=pd.Index(years, dtype=float))

    def margins_of(self, X: np.ndarray) -> np.ndarray:
        """Normalised goal margins of lever vectors ``X`` (shape (N, n)) → shape (N, G)."""
        X = np.atleast_2d(X)
        samples = {lv.name: self._lever_table(lv.name, X[:, i]) for i, lv in enumerate(self.levers)}
        columns = list(dict.fromkeys(v for g in self.goals for v in g.variables()))
        ds = simulate_batch(self.loaded, samples, self.shared, rtol=self.rtol, times=self.times,
                            return_columns=columns)
        self.runs += 1
        self.samples += X.shape[0]
        out = np.empty((X.shape[0], len(self.goals)))
        t = ds["time"].values
        for j, g in enumerate(self.goals):
            x = indicator_array({v: ds[v].values for v in g.variables()}, g)
            out[:, j] = margin_array(g, measure_array(x, t, g)) / self.scales[j]
        return np.where(np.isfinite(out), out, NAN_MARGIN)

    def evaluate(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(margins (G,), Jacobian (G, n) in u)`` at ``u``, from one batch of n + 1 runs."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        key = u.tobytes()
        if key not in self._cache:
            steps = np.where(u + FD_STEP <= 1.0, FD_STEP, -FD_STEP)
            U = np.vstack([u, u + np.diag(steps)])
            M = self.margins_of(np.array([self.to_x(r) for r in U]))
            jac = ((M[1:] - M[0]) / steps[:, None]).T
            self._cache[key] = (M[0], jac)
            if self.runs % 25 == 0:
                self.say(f"… now at a point of cost {self.cost_terms(self.to_x(u)).sum():.4g}")
            if len(self._cache) > 500:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[key]


def _goal_scale(t: Target) -> float:
    return abs(t.threshold) if t.threshold != 0 else 1.0


def setup(from_id: str = DEFAULT_FROM, goals: Sequence[str] | None = None,
          levers: Sequence[str] | None = None, start: float | None = None, *,
          horizon: float | None = None, scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL,
          rtol: float = SEARCH_RTOL, floor: float = MARGIN_FLOOR, progress=None) -> PolicyProblem:
    """Read and check every input; raise :class:`~sim.policy.scenario.ValidationError` on bad input.

    ``goals``: target ids (``gdp_growth_2020``); default every target whose horizon year is
    ``horizon`` (default 2020, the first horizon). ``levers``: lever names; default every
    registry lever whose unit is not ``Year``. ``start``: policy start year; default the
    starting scenario's ``policy_start`` (seen from the goals' vantage: no earlier than the
    year after it). ``progress``: a callable taking a message (str).
    """
    study = read_study(scenario_dir, model)
    registry: dict[str, Lever] = study.levers
    scenarios = study.scenarios
    registry_file = str(study.registry_path)
    targets_file = str(study.targets_path)
    if from_id not in scenarios:
        raise ValidationError([Problem(str(scenario_dir), from_id, "unknown starting scenario"
                                       + suggest(from_id, scenarios))])
    # goals
    by_id = study.targets.by_id()
    if goals:
        unknown = [g for g in goals if g not in by_id]
        if unknown:
            raise ValidationError([Problem(targets_file, g, "unknown target id (ids carry the horizon "
                                           "year, e.g. gdp_growth_2020)" + suggest(g, by_id))
                                   for g in unknown])
        chosen = [by_id[g] for g in dict.fromkeys(goals)]
    else:
        year = 2020.0 if horizon is None else float(horizon)
        chosen = [t for t in study.targets if t.year == year]
        if not chosen:
            years = sorted({t.year for t in study.targets})
            raise ValidationError([Problem(targets_file, "horizons", f"no target has the horizon year "
                                           f"{year:g}; years present: {', '.join(f'{y:g}' for y in years)}")])
    vantage = goal_vantage(chosen, study, targets_file)
    # levers
    if levers:
        unknown = [n for n in levers if n not in registry]
        if unknown:
            raise ValidationError([Problem(registry_file, n, "not a lever of the registry"
                                           + suggest(n, registry)) for n in unknown])
        years = [n for n in levers if registry[n].is_year]
        if years:
            raise ValidationError([Problem(registry_file, n, "a start-year lever (unit Year) is a whole "
                                           "year, not a continuous quantity; the search cannot move it")
                                   for n in years])
        chosen_levers = [registry[n] for n in dict.fromkeys(levers)]
    else:
        chosen_levers = [lv for lv in registry.values() if not lv.is_year]
    flat = [lv.name for lv in chosen_levers if not lv.high > lv.low]
    if flat:
        raise ValidationError([Problem(registry_file, f"{n}.range", "the search needs low < high")
                               for n in flat])
    # policy start and lever paths
    facts = study.facts
    t0, tf = facts["time_span"]
    if start is not None and vantage is not None and float(start) < vantage + 1:
        raise ValidationError([Problem(targets_file, "horizons", f"the goals are asked from {vantage:g} "
                                       f"(their horizon's base_year): levers can act from {vantage + 1:g} "
                                       f"on, got start {float(start):g}")])
    if start is None:   # the scenario's policy start, seen from the vantage (no earlier than vantage + 1)
        start = policy_start_of(from_id, scenarios)
        if vantage is not None:
            start = max(start if start is not None else -math.inf, vantage + 1.0)
    start = None if start is None else float(start)
    if start is None or not t0 < start < tf:
        raise ValidationError([Problem(str(scenarios[from_id].path), "policy_start",
                                       f"the search needs a policy start year inside the model's time span "
                                       f"{t0:g}–{tf:g}, got {start!r}; pass start=")])
    params = seen_from(resolve(from_id, scenarios, registry, defaults=facts["defaults"], time_span=(t0, tf)),
                       facts["defaults"], _model_path(study), vantage)
    parents, x_start, baseline = {}, [], []
    for lv in chosen_levers:
        p = params.get(lv.name, facts["defaults"].get(lv.name))
        if p is None:
            raise SimError(f"{registry_file}: {lv.name}: the model gives no value for this lever")
        path = float(p) if not isinstance(p, pd.Series) else [(float(y), float(v)) for y, v in p.items()]
        parents[lv.name] = path
        x_start.append(float(np.interp(start, *zip(*path))) if isinstance(path, list) else path)
        baseline.append(points_before(path, start)[-1][1])
    x_start = np.clip(np.array(x_start), [lv.low for lv in chosen_levers], [lv.high for lv in chosen_levers])
    shared = {k: v for k, v in params.items() if k not in parents}
    horizon_year = max(t.year for t in chosen)
    times = np.arange(t0, horizon_year + 1.0)
    times = times[times <= tf]
    return PolicyProblem(
        loaded=study.loaded, from_id=from_id, start=float(start), levers=chosen_levers,
        baseline=np.array(baseline), x_start=x_start,
        weights=np.array([1.0 if lv.cost is None else float(lv.cost) for lv in chosen_levers]),
        assumed_weights=[lv.name for lv in chosen_levers if lv.cost is None],
        parents=parents, shared=shared, goals=chosen,
        scales=np.array([_goal_scale(t) for t in chosen]), times=times, study=study, vantage=vantage,
        rtol=rtol, floor=floor, progress=progress)


def _model_path(study: Study):
    return getattr(study.loaded, "path", None)


def goal_vantage(goals: Sequence[Target], study: Study, targets_file: str = "targets.yaml") -> float | None:
    """The one vantage the ``goals`` are judged from (their horizons' base year, as in the
    main run: :func:`sim.policy.vantage.vantage_groups`); None for a model without a vantage
    constant. Goals asked from different years cannot share one search: ValidationError."""
    groups = vantage_groups(goals, study.targets.horizons, study.facts["constants"])
    if len(groups) > 1:
        which = "; ".join(f"{v:g}: {', '.join(t.id for t in ts)}" for v, ts in groups.items())
        raise ValidationError([Problem(targets_file, "goals", f"the goals are asked from different years "
                                       f"({which}); the search runs from one vantage: search one horizon "
                                       "at a time (--horizon)")])
    return next(iter(groups))


def vantage_note(p: PolicyProblem) -> dict:
    """What the search's runs knew: ``history_end_year`` (the vantage), ``levers_from`` and
    ``constants`` (the vantage's calibration file, or the model's own)."""
    cal = vantage_calibration(_model_path(p.study), p.vantage)
    if cal is not None and cal.resolve().is_relative_to(Path.cwd().resolve()):
        cal = cal.resolve().relative_to(Path.cwd().resolve())
    return {"history_end_year": p.vantage, "levers_from": p.start,
            "constants": str(cal) if cal is not None else "the model's own"}


# --------------------------------------------------------------------------- search
@dataclass
class GoalReach:
    """How far one goal can go on its own within the lever ranges."""

    target: str
    start_margin: float           # normalised, at the starting scenario
    best_margin: float            # normalised, the largest found
    reachable: bool
    how: str                      # "met at start", "box vertex", "maximised alone"
    best_x: np.ndarray | None = None
    #: for a goal maximised alone: the largest ascent slope left at its best point (normalised
    #: margin per lever range, along levers not pinned at a bound); ~0 = a local maximum
    stationarity: float = math.nan


@dataclass
class SearchResult:
    problem: PolicyProblem
    x: np.ndarray                  # found lever values
    reach: list[GoalReach]
    dropped: list[str]             # reachable alone but not together with the others
    joint_margins: dict            # target -> normalised margin at the maximin point when dropped
    margins: np.ndarray            # normalised, search tolerance, at x
    status: str
    message: str
    seconds: float
    verified: pd.DataFrame | None = None   # scorecard of the verification run
    scenario_yaml: str = ""
    scenario_id: str = ""
    params: dict = field(default_factory=dict)   # engine params of the written scenario

    @property
    def cost(self) -> float:
        return float(self.problem.cost_terms(self.x).sum())


class _Reached(Exception):
    """A goal maximised alone crossed the floor: it is reachable (stops that search)."""

    def __init__(self, u, margin):
        super().__init__()
        self.u, self.margin = u, margin


def _slsqp(fun, jac, u0, n, constraints=(), maxiter=100):
    return minimize(fun, u0, jac=jac, method="SLSQP", bounds=[(0.0, 1.0)] * n,
                    constraints=list(constraints), options={"maxiter": maxiter, "ftol": 1e-9})


def _ascent_left(u: np.ndarray, grad: np.ndarray, tol: float = 1e-6) -> float:
    """Largest slope of a maximised margin along a lever not blocked by its bound."""
    blocked = ((u >= 1 - tol) & (grad > 0)) | ((u <= tol) & (grad < 0))
    return float(np.max(np.abs(np.where(blocked, 0.0, grad)))) if grad.size else 0.0


def _reach(p: PolicyProblem, u0: np.ndarray, m0: np.ndarray, J0: np.ndarray) -> list[GoalReach]:
    """Step 2 of the method: which goals can be met at all, and how close the others get."""
    floor = p.floor - FEAS_TOL
    out: list[GoalReach | None] = [None] * len(p.goals)
    # the vertex of the box each goal's gradient points to, all goals in one batch
    V = np.array([np.where(J0[j] > 0, 1.0, np.where(J0[j] < 0, 0.0, u0)) for j in range(len(p.goals))])
    MV = p.margins_of(np.array([p.to_x(v) for v in V]))
    still = []
    for j, g in enumerate(p.goals):
        best, where = (MV[j, j], V[j]) if MV[j, j] > m0[j] else (m0[j], u0)
        if m0[j] >= floor:
            out[j] = GoalReach(g.id, m0[j], best, True, "met at start", p.to_x(where))
        elif MV[j, j] >= floor:
            out[j] = GoalReach(g.id, m0[j], best, True, "box vertex", p.to_x(where))
        else:
            still.append((j, V[j], MV[j, j]))
    for j, v, mv in still:  # maximise the goal alone, from its vertex and from the start
        best_m, best_u = max((m0[j], u0), (mv, v), key=lambda t: t[0])
        p.say(f"{p.goals[j].id}: not met at the start ({m0[j]:.3g}) nor at its vertex ({mv:.3g}); "
              "maximising it alone")

        def neg_margin(u, j=j):
            m = p.evaluate(u)[0][j]
            if m >= floor:  # reached: no need to go on
                raise _Reached(np.clip(u, 0, 1), m)
            return -m

        for s in (v, u0):
            try:
                res = _slsqp(neg_margin, lambda u, j=j: -p.evaluate(u)[1][j], s, u0.size, maxiter=MAXITER_ALONE)
                uj = np.clip(res.x, 0, 1)
                mj = p.evaluate(uj)[0][j]
            except _Reached as hit:
                uj, mj = hit.u, hit.margin
            if mj > best_m:
                best_m, best_u = mj, uj
            if best_m >= floor:
                break
        slope = _ascent_left(best_u, p.evaluate(best_u)[1][j])
        p.say(f"{p.goals[j].id}: best margin alone {best_m:.4g} (ascent slope left {slope:.2g})")
        out[j] = GoalReach(p.goals[j].id, m0[j], best_m, best_m >= floor, "maximised alone",
                           p.to_x(best_u), slope)
    return out


def _feasible(p: PolicyProblem, u: np.ndarray, idx: list[int]) -> bool:
    return bool(np.all(p.evaluate(u)[0][idx] >= p.floor - FEAS_TOL))


class _Split:
    """``u = ub + up - down`` with ``up, down >= 0``: the cost ``sum w (up + down)`` is linear,
    so ``|u - ub|`` needs no smoothing (at the optimum one of ``up``, ``down`` is 0)."""

    def __init__(self, p: PolicyProblem):
        self.p, self.ub, self.n = p, p.to_u(p.baseline), len(p.levers)
        self.grad = np.concatenate([p.weights, p.weights])
        self.bounds = [(0.0, 1.0 - b) for b in self.ub] + [(0.0, b) for b in self.ub]

    def u(self, z: np.ndarray) -> np.ndarray:
        return np.clip(self.ub + z[:self.n] - z[self.n:], 0.0, 1.0)

    def z(self, u: np.ndarray) -> np.ndarray:
        d = np.asarray(u) - self.ub
        return np.concatenate([np.maximum(d, 0.0), np.maximum(-d, 0.0)])


def _min_cost(p: PolicyProblem, u0: np.ndarray, idx: list[int]) -> tuple[np.ndarray | None, str, bool]:
    """Minimise the exact cost subject to ``margin_g >= floor`` for the goals ``idx``.

    Returns the cheapest feasible point SLSQP visited (None if none), its message, and
    whether it converged (False: stopped at its iteration limit or failed).
    """
    sp = _Split(p)
    best = {"u": None, "cost": math.inf}

    def margins(z):
        u = sp.u(z)
        m = p.evaluate(u)[0][idx]
        if np.all(m >= p.floor - FEAS_TOL):
            c = float(p.cost_terms(p.to_x(u)).sum())
            if c < best["cost"]:
                best.update(u=u, cost=c)
        return m - p.floor

    cons = {"type": "ineq", "fun": margins,
            "jac": lambda z: np.hstack([p.evaluate(sp.u(z))[1][idx], -p.evaluate(sp.u(z))[1][idx]])}
    res = minimize(lambda z: float(sp.grad @ z), sp.z(u0), jac=lambda z: sp.grad, method="SLSQP",
                   bounds=sp.bounds, constraints=[cons],
                   options={"maxiter": MAXITER_COST, "ftol": 1e-10})
    margins(res.x)
    return best["u"], str(res.message), bool(res.success)


def _maximin(p: PolicyProblem, u0: np.ndarray, idx: list[int]) -> tuple[np.ndarray, float]:
    """Maximise the smallest normalised margin of the goals ``idx``: ``(u, that margin)``.

    Stops as soon as every goal is ``MAXIMIN_ROOM`` above the floor (a feasible start for
    the cost search is all that is needed then).
    """
    n = u0.size
    z0 = np.append(u0, float(np.min(p.evaluate(u0)[0][idx])))

    def room(z):
        m = p.evaluate(z[:n])[0][idx]
        if m.min() >= p.floor + MAXIMIN_ROOM:
            raise _Reached(np.clip(z[:n], 0, 1), float(m.min()))
        return m - z[n]

    cons = {"type": "ineq", "fun": room,
            "jac": lambda z: np.hstack([p.evaluate(z[:n])[1][idx], -np.ones((len(idx), 1))])}
    grad = np.append(np.zeros(n), -1.0)
    try:
        res = minimize(lambda z: -z[n], z0, jac=lambda z: grad, method="SLSQP",
                       bounds=[(0.0, 1.0)] * n + [(None, None)], constraints=[cons],
                       options={"maxiter": MAXITER_MAXIMIN, "ftol": 1e-9})
    except _Reached as hit:
        return hit.u, hit.margin
    u = np.clip(res.x[:n], 0, 1)
    return u, float(np.min(p.evaluate(u)[0][idx]))


def _tidy(p: PolicyProblem, x: np.ndarray, snap: float = 1e-7) -> np.ndarray:
    """Lever values within ``snap`` of the range from a bound or the baseline are set to it
    (SLSQP leaves 1e-12-size residues), then rounded to 6 significant digits."""
    span = p.hi - p.lo
    x = np.where(np.abs(x - p.baseline) <= snap * span, p.baseline, x)
    x = np.where(np.abs(x - p.lo) <= snap * span, p.lo, x)
    x = np.where(np.abs(x - p.hi) <= snap * span, p.hi, x)
    return np.array([_round(v, lv) for v, lv in zip(x, p.levers)])


def search(p: PolicyProblem) -> SearchResult:
    """Steps 1–3 of the method on a prepared problem (no verification, nothing written)."""
    t_begin = time.time()
    u0 = p.to_u(p.x_start)
    m0, J0 = p.evaluate(u0)
    p.say(f"start {p.from_id!r}: {int(np.sum(m0 >= p.floor - FEAS_TOL))} of {len(p.goals)} goals met")
    reach = _reach(p, u0, m0, J0)
    idx = [j for j, r in enumerate(reach) if r.reachable]
    p.say(f"reachable alone: {len(idx)} of {len(p.goals)}")
    dropped, joint = [], {}
    status, message = "optimal", ""
    u = u_best = u0
    while idx:
        if not _feasible(p, u, idx):
            p.say(f"not all {len(idx)} goals met: maximising the smallest margin")
            u, worst = _maximin(p, u, idx)
            p.say(f"smallest margin {worst:.4g}")
            if worst < p.floor - FEAS_TOL:
                m = p.evaluate(u)[0]
                # at the maximin point the binding goals tie: set aside the hardest of them
                # (the smallest margin it reaches on its own)
                tied = [j for j in idx if m[j] <= worst + 1e-3]
                j_worst = min(tied, key=lambda j: reach[j].best_margin)
                joint[p.goals[j_worst].id] = {p.goals[j].id: float(m[j]) for j in idx}
                dropped.append(p.goals[j_worst].id)
                p.say(f"the goals cannot all be met together: setting aside {p.goals[j_worst].id}")
                idx = [j for j in idx if j != j_worst]
                status = "optimal for the goals kept (some set aside)"
                continue
        p.say(f"minimising the cost subject to {len(idx)} goals")
        u_cost, message, converged = _min_cost(p, u, idx)
        if u_cost is None:  # SLSQP never stood on a feasible point: keep the one we had
            u_best, status = u, "feasible, cost not minimised"
        else:
            u_best = u_cost
            if not converged:   # the cheapest point seen, not a proven minimum
                status = ("cheapest feasible mix found" + (" for the goals kept" if dropped else "")
                          + "; the search stopped before it could show this is the least cost")
        break
    if not idx:
        u_best, status, message = u0, "no goal reachable", "no goal can be met within the lever ranges"
    x = _tidy(p, p.to_x(u_best))
    u_best = p.to_u(x)
    return SearchResult(problem=p, x=x, reach=reach, dropped=dropped, joint_margins=joint,
                        margins=p.evaluate(u_best)[0], status=status, message=message,
                        seconds=time.time() - t_begin)


# --------------------------------------------------------------------------- scenario file
def _round(x: float, lv: Lever) -> float:
    """A tidy value for the scenario file: 6 significant digits, inside the range."""
    r = float(f"{x:.6g}")
    return min(max(r, lv.low), lv.high)


def scenario_document(result: SearchResult, sid: str | None = None) -> tuple[str, str]:
    """``(scenario id, YAML text)`` of the found lever mix, in the scenario file format."""
    p = result.problem
    sid = sid or f"optimised_{p.from_id}"
    goals = ", ".join(g.id for g, r in zip(p.goals, result.reach) if r.reachable and g.id not in result.dropped)
    out_of_reach = [r.target for r in result.reach if not r.reachable] + result.dropped
    doc = {
        "id": sid,
        "name": {"zh": f"最低成本政策组合（起点：{p.from_id}）",
                 "en": f"Least-cost lever mix (from {p.from_id})"},
        "description": {
            "zh": f"由 python -m sim optimize 求得的最低成本杠杆组合，满足目标：{goals or '无'}。"
                  + (f"在杠杆范围内无法达到：{', '.join(out_of_reach)}。" if out_of_reach else ""),
            "en": f"Least-cost lever mix found by python -m sim optimize; goals met: {goals or 'none'}."
                  + (f" Out of reach within the lever ranges: {', '.join(out_of_reach)}." if out_of_reach else "")
                  + f" Normalised cost {result.cost:.4g}."
                  + (f" Searched as seen from {p.vantage:g} (the goals' base year)." if p.vantage is not None else "")},
        "extends": p.from_id,
        "policy_start": int(p.start) if float(p.start).is_integer() else p.start,
        "levers": {lv.name: _round(x, lv) for lv, x in zip(p.levers, result.x)},
    }
    head = (f"# Written by sim.analysis.optimize ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC): the least-cost\n"
            f"# lever mix from {p.from_id!r}; cost = sum cost_i |x_i - b_i| / (high_i - low_i).\n")
    return sid, head + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)


def verify(result: SearchResult, directory: Path, sid: str | None = None) -> pd.DataFrame:
    """Write the scenario file into ``directory``, read it back, validate it against the
    registry and run it once with :func:`sim.engine.integrate.simulate` at the default tolerance,
    seen from the goals' vantage as the main run sees it (:func:`sim.policy.vantage.seen_from`).
    Returns the scorecard of the goals (and fills ``result.verified``; ``result.params``: the
    params of that run)."""
    from sim.engine.integrate import simulate

    p = result.problem
    sid, text = scenario_document(result, sid)
    path = Path(directory) / f"{sid}.yaml"
    path.write_text(text, encoding="utf-8")
    problems: list[Problem] = []
    read = read_scenarios(directory, problems)
    if sid not in read:
        raise ValidationError(problems or [Problem(str(path), "", "written scenario could not be read back")])
    scenarios = {**p.study.scenarios, sid: read[sid]}
    problems += validate_scenarios(scenarios, p.study.levers, p.study.time_span)
    if problems:
        raise ValidationError(problems)
    params = seen_from(resolve(sid, scenarios, p.study.levers, defaults=p.study.defaults,
                               time_span=p.study.time_span), p.study.defaults, _model_path(p.study), p.vantage)
    df = simulate(p.loaded, params=params, events=target_events(p.goals), **ENGINE_DEFAULTS)
    card = scorecard({sid: df}, p.goals, {sid: dict(df.attrs.get("events") or {})})
    card["normalised_margin"] = card["margin"].to_numpy() / p.scales
    result.verified, result.scenario_yaml, result.scenario_id, result.params = card, text, sid, params
    return card


def find_policy(from_id: str = DEFAULT_FROM, goals: Sequence[str] | None = None,
                levers: Sequence[str] | None = None, start: float | None = None, *,
                horizon: float | None = None, scenario_dir=DEFAULT_SCENARIO_DIR, model=DEFAULT_MODEL,
                rtol: float = SEARCH_RTOL, floor: float = MARGIN_FLOOR, progress=None) -> SearchResult:
    """Set up, search and verify (the scenario file is checked in a temporary folder);
    ``result.scenario_yaml`` holds the verified file. :func:`sim.report.policy_search.optimize`
    also writes the results folder."""
    p = setup(from_id, goals, levers, start, horizon=horizon, scenario_dir=scenario_dir, model=model,
              rtol=rtol, floor=floor, progress=progress)
    result = search(p)
    with tempfile.TemporaryDirectory(prefix="policy-search-") as tmp:
        verify(result, Path(tmp))
    return result


# --------------------------------------------------------------------------- tables
def lever_table(result: SearchResult) -> pd.DataFrame:
    """One row per lever: baseline, start and found value, range, weight, cost and its share."""
    p = result.problem
    terms = p.cost_terms(result.x)
    total = terms.sum()
    return pd.DataFrame({
        "lever": [lv.name for lv in p.levers], "unit": [lv.unit for lv in p.levers],
        "baseline": p.baseline, "start": p.x_start, "found": [_round(x, lv) for lv, x in zip(p.levers, result.x)],
        "low": p.lo, "high": p.hi, "cost_weight": p.weights, "cost": terms,
        "cost_share": terms / total if total > 0 else np.zeros_like(terms),
        "start_cost": p.cost_terms(p.x_start)})


def goal_table(result: SearchResult) -> pd.DataFrame:
    """One row per goal: start and found margins, verification, reachability."""
    p = result.problem
    card = result.verified.set_index("target") if result.verified is not None else None
    rows = []
    for j, (g, r) in enumerate(zip(p.goals, result.reach)):
        status = ("out of reach" if not r.reachable else
                  "set aside (not together)" if g.id in result.dropped else "in the search")
        row = {"target": g.id, "indicator": g.label, "comparator": g.comparator, "threshold": g.threshold,
               "unit": g.unit, "scale": p.scales[j], "status": status,
               "start_margin": r.start_margin * p.scales[j], "best_alone": r.best_margin * p.scales[j],
               "best_alone_normalised": r.best_margin, "ascent_left": r.stationarity,
               "found_margin_search": result.margins[j] * p.scales[j]}
        if card is not None:
            row.update(value=card.loc[g.id, "value"], margin=card.loc[g.id, "margin"],
                       normalised_margin=card.loc[g.id, "normalised_margin"], passed=bool(card.loc[g.id, "passed"]))
        rows.append(row)
    return pd.DataFrame(rows)
