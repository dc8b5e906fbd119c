"""Exports people ask for: the run as one Excel workbook, units beside the time series,
and time series without the model's constants.

- :func:`series_columns`: the columns worth a time series (model constants left out
  unless asked for: they are flat lines, and the run's manifest records their values);
- :func:`units_table`: ``variable, unit`` for the sidecar ``timeseries_units.csv`` (the
  CSV files keep one header row, so ``pandas.read_csv`` reads them as before);
- :func:`write_workbook`: ``results.xlsx`` (openpyxl): a ``scorecard`` sheet, the published
  outcomes (``actual``, as ``actual.csv``, with their sources), then one sheet per scenario with the variable names in the first header row and their units in
  the second.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

#: Excel's limit on sheet names, and the characters it refuses in them.
SHEET_NAME_MAX = 31
SHEET_NAME_BAD = re.compile(r"[\[\]\*\?/\\:]")
TIME_UNIT = "Year"


def series_columns(frame: pd.DataFrame, constants: Iterable[str], keep_constants: bool = False) -> list[str]:
    """Columns of ``frame`` to write: all, or all but the model's constants."""
    if keep_constants:
        return list(frame.columns)
    drop = set(constants)
    return [c for c in frame.columns if c not in drop]


def units_table(columns: Iterable[str], units: Mapping[str, str]) -> pd.DataFrame:
    """``variable, unit`` for each column (unit as in the model file; empty if unknown)."""
    return pd.DataFrame({"variable": list(columns),
                         "unit": [units.get(c, "") or "" for c in columns]})


def sheet_name(sid: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name for scenario ``sid``."""
    base = SHEET_NAME_BAD.sub("_", sid)[:SHEET_NAME_MAX] or "scenario"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f"~{n}"
        name, n = base[:SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _cell(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):          # numpy scalars
        v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
    return v


def _table_sheet(wb, title: str, table: pd.DataFrame, first: bool = False) -> None:
    """A sheet holding ``table`` as is: a header row, then one row per record."""
    ws = wb.active if first else wb.create_sheet(title)
    ws.title = title
    ws.append(list(map(str, table.columns)))
    for row in table.itertuples(index=False):
        ws.append([_cell(v) for v in row])
    ws.freeze_panes = "A2"


def write_workbook(path: str | Path, results: Mapping[str, pd.DataFrame], scorecard: pd.DataFrame,
                   units: Mapping[str, str], actual: pd.DataFrame | None = None) -> Path:
    """The run as one workbook: ``scorecard`` first; with ``actual`` (the published
    outcomes, :func:`sim.history.actual_outcomes`: one row per target with its value,
    status and source) an ``actual`` sheet next; then one sheet per scenario (row 1:
    ``time`` and the variable names; row 2: ``Year`` and their units; then one row per
    saved time). Non-finite numbers and missing texts are empty cells. Returns the path."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    _table_sheet(wb, "scorecard", scorecard, first=True)
    taken = {"scorecard"}
    if actual is not None:
        _table_sheet(wb, "actual", actual)
        taken.add("actual")
    italic = Font(italic=True, color="666666")
    for sid, frame in results.items():
        ws = wb.create_sheet(sheet_name(sid, taken))
        ws.append(["time", *map(str, frame.columns)])
        ws.append([TIME_UNIT, *(units.get(c, "") or "" for c in frame.columns)])
        for cell in ws[2]:
            cell.font = italic
        for t, row in zip(frame.index, frame.itertuples(index=False)):
            ws.append([_cell(t), *(_cell(v) for v in row)])
        ws.freeze_panes = "B3"
    path = Path(path)
    wb.save(path)
    return path
