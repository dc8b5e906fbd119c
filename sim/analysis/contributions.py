"""Policy contributions: how much each lever (and each clause) moves each goal's measure.

A scenario changes some levers relative to its parent (``plan`` against ``baseline``). Let
``f(S)`` be a goal's measure (in the goal's unit, e.g. %/yr) when the levers in ``S`` take
the scenario's paths and the others keep the parent's. Two decompositions of the total
change ``f(all) - f(none)``:

* **one at a time**: ``f({i}) - f(none)`` for each lever, and the **interaction** left
  over, ``total - Σ one-at-a-time``;
* **Shapley values**: ``φ_i = Σ_S |S|!(n-|S|-1)!/n! (f(S∪{i}) - f(S))``, exact over all
  ``2^n`` subsets when ``n ≤ max_exact``, otherwise estimated from random orderings of the
  levers (each ordering adds the levers one by one; ``φ_i`` is the mean of lever i's
  marginal change, with a standard error). Both sum exactly to the total change
  (efficiency), so there is no remainder.

A clause's contribution is the sum over the levers whose home clause it is (the first
clause of the lever's ``clause`` field in ``scenarios/levers.yaml``), so clauses add up to
the total too.

Each goal is decomposed on runs seen from its horizon's base year, as the main run judges
it (scenarios/README.md, "Two vantage points"; :func:`sim.policy.vantage.seen_from`): the
2020 goals on runs that know the history to 2015 (the 2015 calibration's constants, levers
from 2016), the 2030 goals on runs from the real 2020 (levers from 2021). So the parent's
and the scenario's values are the main run's scorecard values, and a lever whose change
is over before a vantage contributes exactly 0 to the goals judged from it. All runs use the vectorised batch path (:func:`sim.engine.batch.simulate_batch`)
and the goal measures on arrays of :mod:`sim.analysis.ensemble` (one implementation).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from sim.policy.goal_measures import indicator_array, measure_array
from sim.analysis.whatif import Workspace
from sim.engine.batch import simulate_batch
from sim.errors import SimError, suggest
from sim.policy.measures import CLAUSES
from sim.policy.vantage import vantage_calibration, vantage_groups

DEFAULT_MAX_EXACT = 12          # 2^12 = 4096 runs
DEFAULT_PERMUTATIONS = 128      # orderings for the sampled Shapley values (antithetic pairs)
CHUNK = 512                     # samples per batch call
RTOL = 1e-6


@dataclass
class Contributions:
    """Result tables (every value in the goal's unit) and how they were made."""

    scenario: str
    parent: str
    method: str                 # "exact" or "permutations"
    levers: list                # lever names (the changed ones, in registry order)
    clauses: dict               # {lever: home clause}
    goals: pd.DataFrame         # target, name_zh, name_en, unit, comparator, threshold, parent, scenario, total, interaction, passed
    by_lever: pd.DataFrame      # target, lever, clause, shapley, shapley_se, one_at_a_time
    by_clause: pd.DataFrame     # target, clause, shapley, one_at_a_time
    info: dict = field(default_factory=dict)

    def top(self, target: str, k: int = 3) -> pd.DataFrame:
        """The ``k`` levers with the largest |Shapley value| for one target."""
        rows = self.by_lever[self.by_lever.target == target]
        return rows.reindex(rows.shapley.abs().sort_values(ascending=False).index).head(k)


# --------------------------------------------------------------------------- lever paths
def _path_points(value) -> tuple[np.ndarray, np.ndarray] | None:
    """``(years, values)`` of a Series param, None for a constant."""
    if isinstance(value, pd.Series):
        return value.index.to_numpy(float), value.to_numpy(float)
    return None


def _at(value, years: np.ndarray) -> np.ndarray:
    pts = _path_points(value)
    if pts is None:
        return np.full(years.size, float(value))
    return np.interp(years, *pts)


def _same(a, b) -> bool:
    pa, pb = _path_points(a), _path_points(b)
    if pa is None and pb is None:
        return float(a) == float(b)
    years = np.union1d(pa[0] if pa else [], pb[0] if pb else [])
    return bool(np.array_equal(_at(a, years), _at(b, years)))


def lever_paths(ws: Workspace, scenario: str, parent: str, vantage: float | None = None) -> tuple[dict, dict]:
    """``(shared params, {lever: (parent path, scenario path)})`` for the changed levers,
    both scenarios seen from ``vantage`` (:meth:`Workspace.params`, i.e.
    :func:`sim.policy.vantage.seen_from`; None: as written).

    Paths are engine params (a number or a Series by year); unchanged levers go to the
    shared params with their (common) value, and so do the vantage's constants.
    """
    defaults = ws.facts["defaults"]
    p_params, s_params = ws.params(parent, vantage), ws.params(scenario, vantage)
    shared = {k: v for k, v in s_params.items() if k not in ws.registry}
    changed = {}
    for name in ws.registry:
        a = p_params.get(name, defaults.get(name))
        b = s_params.get(name, defaults.get(name))
        if a is None or b is None:
            continue
        if _same(a, b):
            if name in s_params:
                shared[name] = b
        else:
            changed[name] = (a, b)
    return shared, changed


def _samples(masks: np.ndarray, levers: Sequence[str], changed: dict) -> dict:
    """Batch samples: lever i follows the scenario's path where ``masks[:, i]``, else the parent's."""
    out = {}
    for i, name in enumerate(levers):
        a, b = changed[name]
        years = np.union1d(*(p[0] if (p := _path_points(v)) else np.array([]) for v in (a, b)))
        on = masks[:, i]
        if years.size == 0:
            out[name] = np.where(on, float(b), float(a))
            continue
        va, vb = _at(a, years), _at(b, years)
        table = np.where(on[None, :], vb[:, None], va[:, None])
        out[name] = pd.DataFrame(table, index=pd.Index(years, dtype=float))
    return out


def evaluate(ws: Workspace, masks: np.ndarray, levers: Sequence[str], changed: dict, shared: dict,
             targets: Sequence, *, rtol: float = RTOL, chunk: int = CHUNK, times=None) -> np.ndarray:
    """Goal measures (rows: masks, columns: targets) of the lever combinations ``masks``.
    With no lever (none changed, seen from a vantage) every row is the one shared run.
    ``times``: output years (default the model's; runs stop at the last)."""
    columns = list(dict.fromkeys(v for t in targets for v in t.variables()))
    out = np.empty((masks.shape[0], len(targets)))
    for lo in range(0, masks.shape[0], chunk):
        part = masks[lo:lo + chunk]
        if levers:
            samples, common = _samples(part, levers, changed), shared
        else:   # the batch needs a sampled constant: one shared value, the same in every row
            key = next(iter(shared))
            samples = {key: np.full(part.shape[0], float(shared[key]))}
            common = {k: v for k, v in shared.items() if k != key}
        ds = simulate_batch(ws.loaded, samples, common, rtol=rtol, return_columns=columns, times=times)
        times = ds["time"].values
        series = {v: ds[v].values for v in columns}
        for j, t in enumerate(targets):
            out[lo:lo + part.shape[0], j] = measure_array(indicator_array(series, t), times, t)
    return out


# --------------------------------------------------------------------------- Shapley values
def _all_masks(n: int) -> np.ndarray:
    idx = np.arange(2 ** n)
    return ((idx[:, None] >> np.arange(n)) & 1).astype(bool)


def shapley_exact(values: np.ndarray, n: int) -> np.ndarray:
    """Exact Shapley values from ``values[k]`` = f(subset with bit i set for lever i), k < 2^n.

    ``values`` has shape (2^n, G); returns (n, G)."""
    idx = np.arange(2 ** n)
    size = np.array([bin(k).count("1") for k in idx])
    weight = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) if s < n else 0.0
                       for s in size])
    phi = np.empty((n, values.shape[1]))
    for i in range(n):
        without = idx[(idx >> i) & 1 == 0]
        phi[i] = (weight[without][:, None] * (values[without | (1 << i)] - values[without])).sum(axis=0)
    return phi


def orderings(n: int, count: int, seed: int) -> np.ndarray:
    """``count`` orderings of ``range(n)``: random ones and their reverses (antithetic pairs)."""
    rng = np.random.default_rng(seed)
    half = [rng.permutation(n) for _ in range((count + 1) // 2)]
    return np.array([p for q in half for p in (q, q[::-1])][:count])


def _chain_masks(orders: np.ndarray, n: int) -> np.ndarray:
    """The masks along each ordering (none, first lever, first two, …, all): (K·(n+1), n)."""
    chains = np.zeros((orders.shape[0], n + 1, n), dtype=bool)
    for k, order in enumerate(orders):
        for j, i in enumerate(order):
            chains[k, j + 1:, i] = True
    return chains.reshape(-1, n)


def shapley_sampled(values_of, n: int, orders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shapley values from orderings: ``values_of(masks)`` gives f for boolean masks (M, n).

    Returns ``(phi (n, G), standard error (n, G))``; Σ_i phi_i = f(all) - f(none) exactly."""
    flat = _chain_masks(orders, n)
    unique, inverse = np.unique(flat, axis=0, return_inverse=True)
    f = values_of(unique)[inverse.reshape(-1)].reshape(orders.shape[0], n + 1, -1)
    steps = np.diff(f, axis=1)                          # (K, n, G): change when the j-th lever enters
    marg = np.empty_like(steps)
    for k, order in enumerate(orders):
        marg[k, order] = steps[k]
    phi = marg.mean(axis=0)
    se = marg.std(axis=0, ddof=1) / np.sqrt(orders.shape[0]) if orders.shape[0] > 1 else np.full_like(phi, np.nan)
    return phi, se


# --------------------------------------------------------------------------- main computation
def _decompose(ws: Workspace, names: list[str], changed: dict, shared: dict, targets: Sequence, method: str,
               permutations: int, seed: int, rtol: float) -> dict:
    """One vantage's decomposition: ``none``, ``full`` (G,), ``oat``, ``phi``, ``se`` (n, G), ``runs``.
    The runs stop at the targets' last horizon year."""
    n = len(names)
    count = [0]
    ctl = ws.loaded.control()
    last = max(t.year for t in targets)
    times = (np.arange(float(ctl["initial_time"]), last + ctl["saveper"] / 2, float(ctl["saveper"]))
             if last < float(ctl["final_time"]) else None)

    def values_of(masks):
        count[0] += masks.shape[0]
        return evaluate(ws, masks, names, changed, shared, targets, rtol=rtol, times=times)

    # Every run in ONE evaluation, so the one-at-a-time changes, the Shapley values and the
    # total come from the same integrations (the batch's step grid follows its hardest
    # sample; mixing batches would leave differences of the solver tolerance).
    ends = np.vstack([np.zeros(n, bool), np.eye(n, dtype=bool), np.ones(n, bool)])
    if method == "exact" or n == 0:
        masks = _all_masks(n)              # includes the ends
        f_all = values_of(masks)
        bits = 1 << np.arange(n)
        none, alone, full = f_all[0], f_all[bits], f_all[-1]
        phi, se = shapley_exact(f_all, n), np.zeros((n, len(targets)))
    else:
        orders = orderings(n, permutations, seed)
        cache: dict = {}

        def cached(masks):
            return np.array([cache[m.tobytes()] for m in masks])

        chain = _chain_masks(orders, n)
        wanted = np.unique(np.vstack([ends, chain]), axis=0)
        for m, v in zip(wanted, values_of(wanted)):
            cache[m.tobytes()] = v
        f_ends = cached(ends)
        none, alone, full = f_ends[0], f_ends[1:n + 1], f_ends[-1]
        phi, se = shapley_sampled(cached, n, orders)
    return {"none": none, "full": full, "oat": alone - none, "phi": phi, "se": se, "runs": count[0]}


def home_clause(clause: str) -> str:
    """The first clause of a registry ``clause`` field (``"四、九"`` → ``"四"``)."""
    return (clause or "").replace("，", "、").replace(",", "、").split("、")[0].strip() or "—"


def contributions(scenario: str = "plan", parent: str | None = None, *, levers: Iterable[str] | None = None,
                  goals: Iterable[str] | None = None, method: str = "auto",
                  max_exact: int = DEFAULT_MAX_EXACT, permutations: int = DEFAULT_PERMUTATIONS,
                  seed: int = 0, rtol: float = RTOL, workspace: Workspace | None = None,
                  scenario_dir="scenarios", model="models/jingdezhen.mdl") -> Contributions:
    """Each changed lever's contribution to each goal's measure, scenario against parent.

    ``parent``: default the scenario's ``extends``. ``levers``: restrict to these changed
    levers (the others keep the parent's paths, so the total is the subset's change).
    ``goals``: target ids (default all). ``method``: ``exact``, ``permutations`` or
    ``auto`` (exact when at most ``max_exact`` levers). Raises SimError on bad input.
    """
    ws = workspace or Workspace(scenario_dir, model)
    if scenario not in ws.scenarios:
        raise SimError(f"{ws.scenario_dir}: unknown scenario {scenario!r}" + suggest(scenario, ws.scenarios))
    parent = parent or ws.scenarios[scenario].extends
    if parent is None or parent not in ws.scenarios:
        raise SimError(f"{ws.scenario_dir}: scenario {scenario!r} has no parent to compare with; "
                       "name one with --against" + (suggest(parent, ws.scenarios) if parent else ""))
    targets = list(ws.targets)
    if goals is not None:
        by_id = ws.targets.by_id()
        bad = [g for g in goals if g not in by_id]
        if bad:
            raise SimError(f"unknown target ids {bad}" + suggest(bad[0], by_id))
        targets = [by_id[g] for g in dict.fromkeys(goals)]
    groups = vantage_groups(targets, ws.targets.horizons, ws.facts["constants"])
    seen = {v: lever_paths(ws, scenario, parent, v) for v in groups}       # {vantage: (shared, changed)}
    union = {n for _, changed in seen.values() for n in changed}
    names = [n for n in ws.registry if n in union]
    if levers is not None:
        wanted = list(dict.fromkeys(levers))
        bad = [n for n in wanted if n not in union]
        if bad:
            raise SimError(f"levers not changed by {scenario!r} against {parent!r}: {bad}"
                           + suggest(bad[0], names))
        names = [n for n in names if n in wanted]
    if not names:
        raise SimError(f"scenario {scenario!r} changes no lever against {parent!r}")
    n = len(names)
    if method == "auto":
        method = "exact" if n <= max_exact else "permutations"
    if method not in ("exact", "permutations"):
        raise SimError(f"unknown method {method!r}; expected exact, permutations or auto")

    G = len(targets)
    column = {t.id: j for j, t in enumerate(targets)}
    none, full = np.empty(G), np.empty(G)
    oat, phi, se = np.zeros((n, G)), np.zeros((n, G)), np.zeros((n, G))
    runs, by_vantage = 0, {}
    for vantage, group in groups.items():
        shared, changed = seen[vantage]
        shared = dict(shared)
        for name in changed:
            if name not in names:
                shared[name] = changed[name][0]       # held at the parent's path
        mine = [name for name in names if name in changed]
        cols = [column[t.id] for t in group]
        part = _decompose(ws, mine, changed, shared, group, method, permutations, seed, rtol)
        rows = [names.index(name) for name in mine]
        none[cols], full[cols] = part["none"], part["full"]
        for r, i in enumerate(rows):
            oat[i, cols], phi[i, cols], se[i, cols] = part["oat"][r], part["phi"][r], part["se"][r]
        runs += part["runs"]
        if vantage is not None:
            cal = vantage_calibration(ws.model_path, vantage)
            by_vantage[f"{vantage:g}"] = {"history_end_year": vantage, "levers_from": vantage + 1,
                                          "constants": str(cal) if cal is not None else "the model's own",
                                          "targets": [t.id for t in group], "levers": mine,
                                          "runs": part["runs"]}
    total = full - none
    clauses = {name: home_clause(ws.registry[name].clause) for name in names}

    meets = [t.meets for t in targets]
    goal_rows = []
    for j, t in enumerate(targets):
        goal_rows.append({"target": t.id, "name_zh": t.name.get("zh", t.id), "name_en": t.name.get("en", t.id),
                          "unit": t.unit, "comparator": t.comparator, "threshold": t.threshold,
                          "parent": none[j], "scenario": full[j], "total": total[j],
                          "interaction": total[j] - oat[:, j].sum(), "passed": bool(meets[j](full[j]))})
    lever_rows = [{"target": t.id, "lever": name, "clause": clauses[name], "shapley": phi[i, j],
                   "shapley_se": se[i, j], "one_at_a_time": oat[i, j]}
                  for j, t in enumerate(targets) for i, name in enumerate(names)]
    by_lever = pd.DataFrame(lever_rows)
    by_clause = (by_lever.groupby(["target", "clause"], sort=False)[["shapley", "one_at_a_time"]].sum()
                 .reset_index())
    order = {c: k for k, c in enumerate(CLAUSES)}
    by_clause = by_clause.sort_values(["target", "clause"], key=lambda col: col.map(
        {t.id: k for k, t in enumerate(targets)} if col.name == "target" else lambda c: order.get(c, 99)),
        kind="stable").reset_index(drop=True)
    info = {"runs": runs, "permutations": permutations if method == "permutations" else None,
            "seed": seed if method == "permutations" else None, "rtol": rtol,
            "shared_params": sorted({k for shared, _ in seen.values() for k in shared}),
            **({"vantages": by_vantage} if by_vantage else {})}
    return Contributions(scenario, parent, method, names, clauses, pd.DataFrame(goal_rows), by_lever,
                         by_clause, info)
