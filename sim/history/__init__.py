"""History: the observed statistics in ``data/`` and what they say about the targets.

Sits between ``sim.policy`` and ``sim.analysis``: imports only ``sim.errors`` and
``sim.policy``; never reads a path outside the repository.

API (all functions take an optional ``data_dir``, default the repository's ``data/``):

``read_history()``        every raw row of ``history_to_2015.csv`` and
                          ``history_2016_2020.csv``: DataFrame with ``indicator, year,
                          value (float, NaN for text), unit, source_url, note, value_text,
                          file``; duplicates (two sources for a year) are kept.
``comparable_series()``   the reconciled series: DataFrame indexed by ``year`` (int), one
                          float column per series of ``data/reconciliation.yaml`` (``gdp``,
                          ``gdp_real_growth``, ``gdp_real_index``, ``population``,
                          ``gdp_per_capita``, sector shares, ``jx_*`` …);
                          ``.attrs["units"]`` gives each column's unit.
``series_info()``         per series: unit, zh/en name, reason, derivation, level breaks.
``provenance()``          per reconciled value: raw indicator(s), source URL(s), note and
                          the reason of the choice that settled a disagreement.
``source_of(series, years)``  the source URLs behind a series in some years (through
                          derivations).
``breaks_of(series)``     level breaks of a series (through quotients).
``read_reconciliation()`` the reconciliation file's specs and problems (validation).

``actual_outcomes(targets)``  per target, the published outcome computed with the
                          scorecard's own :func:`sim.policy.targets.measure` on the observed
                          series named by the target's ``actual:`` key (value, met, source,
                          status ``published`` / ``no published figure`` / ``not testable``).
``reality_check(card, actual)``  the scorecard with the actual columns and, per scenario
                          row, ``reality``: ``confirmed`` / ``reversed`` / the actual status.
``check_actuals(targets)`` problems of the targets' ``actual:`` keys (unknown series).
"""
from sim.history.data import (DATA_DIR, HISTORY_FILES, RECONCILIATION_FILE, breaks_of,
                              comparable_series,
                              last_year, provenance, read_history, read_reconciliation,
                              reconcile, series_info, source_of)

from sim.history.actual import (ACTUAL_COLUMNS, CONFIRMED, NO_FIGURE, NOT_TESTABLE, PUBLISHED,
                                REALITY_COLUMNS, REVERSED, actual_outcome, actual_outcomes,
                                check_actuals, reality_check)

__all__ = ["ACTUAL_COLUMNS", "CONFIRMED", "NO_FIGURE", "NOT_TESTABLE", "PUBLISHED",
           "REALITY_COLUMNS", "REVERSED", "actual_outcome", "actual_outcomes", "check_actuals",
           "reality_check",
           "DATA_DIR", "HISTORY_FILES", "RECONCILIATION_FILE", "breaks_of", "comparable_series", "last_year",
           "provenance", "read_history", "read_reconciliation", "reconcile", "series_info",
           "source_of"]
