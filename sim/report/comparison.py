"""Two scenarios side by side, for people: the comparison table that ``python -m sim compare``
prints and writes.

:func:`human_table` turns :func:`sim.run.compare`'s machine table (ids, raw floats,
True/False) into one a consultation group reads: goals by their Chinese and English
names with the horizon year, the goal in words or as threshold and unit, both values and
the difference to two decimals, and the verdicts; goals whose verdict flips come first.
Written with the one table writer (:mod:`sim.report.tables`).
"""
from __future__ import annotations

import unicodedata
from typing import Mapping, Sequence

import pandas as pd

from sim.report.labels import default_labels, pick
from sim.report.measures import as_figure_target
from sim.report.tables import format_cell, markdown_table
from sim.report.thresholds import goal_text

MARKS = {True: "✓", False: "✗"}
#: Verdict pair -> (zh, en) text.
VERDICTS = {(False, True): ("未达标 → 达标", "missed → met"),
            (True, False): ("达标 → 未达标", "met → missed"),
            (True, True): ("均达标", "both met"),
            (False, False): ("均未达标", "both missed")}


def _name(meta: Mapping | None, sid: str) -> str:
    node = (meta or {}).get(sid, {}).get("name")
    zh, en = pick(node, "zh", default=sid), pick(node, "en", default=sid)
    return zh if zh == en else f"{zh} {en}"


def human_table(table: pd.DataFrame, targets: Sequence, a: str, b: str,
                scenarios_meta: Mapping | None = None) -> pd.DataFrame:
    """The comparison for people (columns in Chinese and English), flips first.

    ``table``: :func:`sim.run.compare`'s table (``target``, ``<a>``, ``<b>``,
    ``difference``, ``passed_<a>``, ``passed_<b>``); ``targets``: the target definitions
    (names, thresholds, units). Values are text with two decimals.
    """
    labels = default_labels()
    by_id = {t.id: as_figure_target(t) for t in targets}
    name_a, name_b = _name(scenarios_meta, a), _name(scenarios_meta, b)
    rows = []
    for r in table.to_dict("records"):
        t = by_id[r["target"]]
        pa, pb = bool(r[f"passed_{a}"]), bool(r[f"passed_{b}"])
        zh_goal, en_goal = (goal_text(t, one, nbsp=True, labels=labels) for one in ("zh", "en"))
        rows.append({
            "目标 goal": f"{pick(t.name, 'zh')} / {pick(t.name, 'en')} ({t.year:g})",
            "目标值 threshold": zh_goal if zh_goal == en_goal else f"{zh_goal} / {en_goal}",
            name_a: f"{MARKS[pa]} {format_cell(r[a], fmt='.2f')}",
            name_b: f"{MARKS[pb]} {format_cell(r[b], fmt='.2f')}",
            f"差值 difference ({b} − {a})": format_cell(r["difference"], fmt="+.2f"),
            "判定 verdict": " / ".join(VERDICTS[(pa, pb)]),
            "_flip": pa != pb,
        })
    out = pd.DataFrame(rows)
    out = pd.concat([out[out["_flip"]], out[~out["_flip"]]]).drop(columns="_flip")
    return out.reset_index(drop=True)


def _width(text: str) -> int:
    """Terminal columns of ``text``: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def to_text(human: pd.DataFrame) -> str:
    """The human table for the terminal: left-aligned columns (CJK counted double width),
    no row numbers."""
    rows = [list(map(str, human.columns))] + [[str(v) for v in r] for r in human.itertuples(index=False)]
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    line = lambda cells: "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(rows[0]), line(["-" * w for w in widths])] + [line(r) for r in rows[1:]])


def to_markdown(human: pd.DataFrame, a: str, b: str, n_flips: int) -> str:
    """A heading line saying how many verdicts flip, then the table."""
    head = (f"**{a} → {b}**: {n_flips} verdict(s) flip "
            f"(listed first) · {n_flips} 项目标判定发生变化（列在最前）\n\n")
    return head + markdown_table(human)
