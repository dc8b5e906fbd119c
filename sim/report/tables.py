"""The one table writer: Markdown (reports, results folders) and HTML (the explorer, the brief).

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


def _html_cell(c, attrs: str = "") -> str:
    """One ``<td>``: ``c`` is text, or ``{"text", "sub", "cls"}`` (``sub``: a second line in
    ``<span class="sub">``; ``cls``: the cell's CSS class)."""
    if not isinstance(c, Mapping):
        return f"<td{attrs}>{html.escape(str(c))}</td>"
    cls = f' class="{html.escape(str(c["cls"]))}"' if c.get("cls") else ""
    sub = f'<span class="sub">{html.escape(str(c["sub"]))}</span>' if c.get("sub") else ""
    return f"<td{cls}{attrs}>{html.escape(str(c['text']))}{sub}</td>"


def html_table(header: Sequence[str] | None, rows: Sequence, *,
               styles: Sequence[Sequence[str | None]] | None = None,
               titles: Sequence[Sequence[str | None]] | None = None, style: str = "",
               widths: Sequence[float] | None = None, cls: str | None = None,
               name: str | None = None) -> str:
    """An HTML table, every text escaped here.

    ``header``: the column headings (None: no heading row). ``rows``: each a sequence of
    cells, or a group row ``{"group": text}`` (one cell across all columns, in
    ``<tr class="group">``). A cell is text or ``{"text", "sub", "cls"}``: ``sub`` a second
    line (``<span class="sub">``), ``cls`` the cell's CSS class.
    ``styles``/``titles``: per-cell CSS and tooltip, shaped like ``rows`` (None: none).
    ``widths``: column shares (fractions of the table's width, a ``<colgroup>`` in percent).
    ``style``, ``cls``, ``name``: the table's CSS, class and ``data-name`` (None/"": none,
    except ``name=""`` which writes an empty ``data-name``).
    """
    def attrs(i, j):
        out = ""
        if styles is not None and styles[i][j]:
            out += f' style="{html.escape(styles[i][j])}"'
        if titles is not None and titles[i][j]:
            out += f' title="{html.escape(titles[i][j])}"'
        return out

    n = len(header) if header is not None else len(widths) if widths is not None else \
        max((len(r) for r in rows if not isinstance(r, Mapping)), default=1)
    table_attrs = (f' class="{html.escape(cls)}"' if cls else "") + \
        (f' data-name="{html.escape(name)}"' if name is not None else "") + \
        (f' style="{html.escape(style)}"' if style else "")
    out = [f"<table{table_attrs}>"]
    if widths is not None:
        out.append("<colgroup>" + "".join(f'<col style="width:{100 * w:.2f}%">' for w in widths) + "</colgroup>")
    if header is not None:
        out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr></thead>")
    out.append("<tbody>")
    for i, row in enumerate(rows):
        if isinstance(row, Mapping):
            out.append(f'<tr class="group"><td colspan="{n}">{html.escape(str(row["group"]))}</td></tr>')
        else:
            out.append("<tr>" + "".join(_html_cell(c, attrs(i, j)) for j, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)
