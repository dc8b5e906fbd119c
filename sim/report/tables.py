"""The one table writer: Markdown (reports, results folders) and HTML (the explorer).

Cells are formatted by :func:`format_cell`: booleans as ``yes``/``no``, missing or
non-finite numbers as ``—``, other floats to ``digits`` significant digits (or a
per-column format spec), strings as they are. Markdown cells are made one line and
``|`` is escaped; HTML cells are escaped with :func:`html.escape`.
"""
from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

MISSING = "—"


def format_cell(v, digits: int = 4, fmt: str | None = None) -> str:
    """One cell as text: ``yes``/``no``, ``—`` for None/NaN/inf, floats with ``fmt``
    (a format spec such as ``".1f"``) or ``digits`` significant digits, else ``str(v)``."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if v is None:
        return MISSING
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return MISSING
        return format(float(v), fmt or f".{digits}g")
    if isinstance(v, (int, np.integer)) and fmt:
        return format(v, fmt)
    return str(v)


def _md_cell(text: str) -> str:
    return str(text).replace("\r", " ").replace("\n", " ").replace("|", "\\|")


def markdown_table(frame: pd.DataFrame, *, digits: int = 4, formats: Mapping[str, str] | None = None,
                   index: bool = False) -> str:
    """``frame`` as a Markdown table ending in a newline.

    ``formats``: ``{column: format spec}`` for float columns; ``index``: add the index as
    the first column (headed by the index's name).
    """
    formats = formats or {}
    columns = [str(c) for c in frame.columns]
    header = ([str(frame.index.name or "")] if index else []) + columns
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    for label, row in zip(frame.index, frame.itertuples(index=False)):
        cells = [format_cell(v, digits, formats.get(c)) for v, c in zip(row, columns)]
        if index:
            cells.insert(0, format_cell(label, digits))
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], *,
               styles: Sequence[Sequence[str | None]] | None = None,
               titles: Sequence[Sequence[str | None]] | None = None, style: str = "") -> str:
    """An HTML table of text cells (escaped here); ``styles``/``titles``: per-cell CSS and
    tooltip, shaped like ``rows`` (None: none); ``style``: the table's CSS."""
    def attrs(i, j):
        out = ""
        if styles is not None and styles[i][j]:
            out += f' style="{html.escape(styles[i][j])}"'
        if titles is not None and titles[i][j]:
            out += f' title="{html.escape(titles[i][j])}"'
        return out
    head = "<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td{attrs(i, j)}>{html.escape(str(c))}</td>" for j, c in enumerate(row))
                   + "</tr>" for i, row in enumerate(rows))
    return f'<table style="{html.escape(style)}">' + head + body + "</table>" if style else \
        "<table>" + head + body + "</table>"
