"""What actually happened to each target: the published outcome, judged like the model.

A target's ``actual:`` key (``scenarios/targets.yaml``) names the reconciled series that
stands for its model indicator. :func:`actual_outcomes` applies the scorecard's own
:func:`sim.policy.targets.measure` (same measure, window and scale) to that series and
says whether the goal was met; :func:`reality_check` sets that beside each scenario's
verdict: ``confirmed`` (reality agrees with the model) or ``reversed``.

Statuses of an outcome (``status``):

``published``            a value, computed from published figures (``source`` lists them);
``no published figure``  the target has no ``actual:`` series, or the data lack a year the
                         measure needs;
``not testable``         the horizon lies after the data, or the window crosses a declared
                         level break of the series (``data/reconciliation.yaml``).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from sim.errors import suggest
from sim.history.data import (RECONCILIATION_FILE, breaks_of, comparable_series, reconcile,
                              source_of)
from sim.policy.scenario import Problem
from sim.policy.targets import Target, measure

PUBLISHED, NO_FIGURE, NOT_TESTABLE = "published", "no published figure", "not testable"
CONFIRMED, REVERSED = "confirmed", "reversed"
ACTUAL_COLUMNS = ["target", "series", "value", "passed", "status", "reason", "source", "note"]
#: Columns :func:`reality_check` adds to a scorecard.
REALITY_COLUMNS = ["actual_value", "actual_passed", "actual_status", "actual_source", "reality"]
#: Measures that read every year of their window (the others read its two ends).
WHOLE_WINDOW = ("min_over", "max_over")


def check_actuals(targets: Iterable[Target], targets_file: str = "targets",
                  data_dir: str | os.PathLike | None = None) -> list[Problem]:
    """Problems of the targets' ``actual:`` keys: series not defined in the reconciliation."""
    known = list(reconcile(data_dir).specs)
    return [Problem(targets_file, f"{t.id}.actual.series",
                    f"{t.actual['series']!r} is not a series of data/{RECONCILIATION_FILE}"
                    + suggest(t.actual["series"], known))
            for t in targets if t.actual and t.actual["series"] not in known]


def _needed_years(target: Target) -> list[int]:
    start, end = int(round(target.start)), int(round(target.year))
    if target.measure == "value_in_year":
        return [end]
    if target.measure in WHOLE_WINDOW:
        return list(range(start, end + 1))
    return [start, end]


def actual_outcome(target: Target, observed: pd.DataFrame | None = None,
                   data_dir: str | os.PathLike | None = None) -> dict:
    """One row of :func:`actual_outcomes` for ``target``."""
    obs = comparable_series(data_dir) if observed is None else observed
    spec = target.actual or {}
    series = spec.get("series", "")
    row = {"target": target.id, "series": series, "value": math.nan, "passed": None,
           "status": NO_FIGURE, "reason": "", "source": "", "note": spec.get("note", "")}
    data_end = int(obs.dropna(how="all").index.max())
    if target.year > data_end:
        reason = f"the horizon {target.year:g} lies after the data (last year {data_end})"
        if series in obs.columns and obs[series].notna().any():   # what the data last said
            last = obs[series].dropna()
            reason += f"; {series} in {int(last.index[-1])}: {last.iloc[-1]:.4g}"
        return row | {"status": NOT_TESTABLE, "reason": reason}
    if not series:
        return row | {"reason": "no observed series stands for this indicator"}
    if series not in obs.columns:
        raise KeyError(f"target {target.id}: actual series {series!r} is not a reconciled series"
                       + suggest(series, obs.columns))
    years = _needed_years(target)
    col = obs[series].dropna()
    missing = [y for y in years if y not in col.index]
    if missing:
        return row | {"reason": f"{series} has no value for {', '.join(map(str, missing))}"}
    if len(years) > 1:
        crossed = [b for b in breaks_of(series, data_dir)
                   if years[0] <= b["between"][0] and b["between"][1] <= years[-1]]
        if crossed:
            return row | {"status": NOT_TESTABLE, "reason": "the window crosses a level break: " + "; ".join(
                f"{b['between'][0]}|{b['between'][1]} in {b['series']}" for b in crossed)}
    s = pd.Series(col.to_numpy(float) * spec.get("factor", 1.0),
                  index=col.index.to_numpy(float), name=series)
    value = measure(s, target)
    return row | {"value": value, "passed": bool(target.meets(value)), "status": PUBLISHED,
                  "source": source_of(series, years, data_dir)}


def actual_outcomes(targets: Iterable[Target], data_dir: str | os.PathLike | None = None
                    ) -> pd.DataFrame:
    """Per target (rows in the targets' order, columns :data:`ACTUAL_COLUMNS`): the published
    outcome by the target's own measure on its ``actual:`` series (``value`` in the target's
    unit, ``passed``: met or not, None without a value), ``status`` and ``reason`` (why no
    value), ``source`` (URLs of the raw rows used) and the target's ``note``."""
    obs = comparable_series(data_dir)
    rows = [actual_outcome(t, obs, data_dir) for t in targets]
    return pd.DataFrame(rows, columns=ACTUAL_COLUMNS)


def reality_check(card: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """The scorecard with :data:`REALITY_COLUMNS` added: the actual value, whether it met the
    goal, its status and source, and ``reality``: ``confirmed`` / ``reversed`` where a
    published value exists, else the status (``no published figure`` / ``not testable``)."""
    a = actual.set_index("target")
    out = card.copy()
    out["actual_value"] = out["target"].map(a["value"]).astype(float)
    out["actual_passed"] = out["target"].map(a["passed"])
    out["actual_status"] = out["target"].map(a["status"]).fillna(NO_FIGURE)
    out["actual_source"] = out["target"].map(a["source"]).fillna("")
    published = out["actual_status"] == PUBLISHED
    agree = out["passed"].astype(bool) == out["actual_passed"].fillna(False).astype(bool)
    out["reality"] = np.where(published, np.where(agree, CONFIRMED, REVERSED), out["actual_status"])
    return out
