"""The policy brief: one results folder → a self-contained HTML file and a PDF of the same content.

``write_brief(results_dir, lang)`` writes ``brief_<lang>.html`` (figures and a subset of the
Noto Sans CJK font embedded as data URIs, so it renders the same on any machine, offline)
and ``brief_<lang>.pdf`` (drawn page by page with matplotlib's PdfPages and the house CJK
font: no browser, no system packages).

Report room: reads a results folder and the judgements beside it (:mod:`sim.report.brief_data`),
never runs the engine. Every sentence and number comes from the files read; a section whose
input is missing says so. All words come from ``brief_text.yaml``.

The content is built once as a list of blocks (:func:`build_blocks`), then rendered twice
(:func:`render_html`, :func:`render_pdf`). A block is a dict with ``kind``:
``h1``/``h2``/``p``/``note``/``ul`` (``text`` or ``items``), ``table`` (``columns``, ``rows``:
lists of cells ``{"text", "sub", "cls"}``; a row may be ``{"group": text}``) or ``figure``
(``png``: bytes, ``caption``).
"""
from __future__ import annotations

import base64
import html
import io
import math
import re
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import yaml

from sim.provenance import final_path
from sim.report.brief_data import RunData, read_run
from sim.report.labels import check_lang, default_labels, pick
from sim.report.tables import html_table
from sim.report.thresholds import quantity_words, threshold_words, unit_words

TEXT_FILE = Path(__file__).resolve().parent / "brief_text.yaml"
LANGS = ("zh", "en")
MARKS = {True: "✓", False: "×", None: "–"}
REVERSED_MARK = "⚠"
#: Figures embedded in the brief: pixel density (a 13.33 × 7.5 in figure is 1600 × 900 px).
FIGURE_DPI = 120
#: Probability bands for "sure" and "unlikely".
SURE, UNLIKELY = 0.9, 0.1
#: Key figures: the reference scenario's missed goals closest to their line, per horizon.
KEY_FIGURES_PER_HORIZON = 1
#: Levers named per goal in "which levers move which goal" (largest |Shapley value| first).
CONTRIBUTION_LEVERS = 3
CELL_COLOURS = {"met": "#D5EFE6", "missed": "#F8D9C8", "nodata": "#EEEEEE", "group": "#E4E8EE",
                "reversed": "#FFE9A8", "head": "#2B3A4A"}


# --------------------------------------------------------------------------- words
@lru_cache(maxsize=1)
def brief_text() -> dict:
    """The brief's text table (``brief_text.yaml``)."""
    return yaml.safe_load(TEXT_FILE.read_text(encoding="utf-8"))


def t(key: str, lang: str, **fmt) -> str:
    """Text ``key`` in ``lang`` with ``{fields}`` filled."""
    entry = brief_text()[key]
    return entry[lang].format(**fmt) if fmt else entry[lang]


def other(lang: str) -> str:
    return "en" if lang == "zh" else "zh"


def num(v, unit: str = "") -> str:
    """A number for readers: 3-4 significant digits, no exponent, typographic minus."""
    if v is None or not np.isfinite(v):
        return "–"
    a = abs(float(v))
    s = f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 1 else f"{v:.3f}"
    s = s.replace("-", "−")
    return f"{s} {unit}".strip() if unit else s


def goal_name(target: dict, lang: str) -> str:
    return pick(target.get("name"), lang, default=target["id"])


def scen_name(run: RunData, sid: str, lang: str) -> str:
    return pick((run.meta.get(sid) or {}).get("name"), lang, default=sid)


def lever_name(run: RunData, lever: str, lang: str) -> str:
    """A lever's short name: the figure label (``labels.yaml``), else the registry's
    description, else its model name."""
    labels = default_labels()
    if lever in labels.variables:
        return labels.name(lever, lang)
    return (run.levers.get(lever) or {}).get(lang) or lever


def value_words(target: dict, value, lang: str) -> str:
    """A measured value with the goal's unit (a ratio as ``1.40倍``)."""
    if value is None or not np.isfinite(value):
        return num(value)
    return quantity_words(num(value), target, lang)


def joined(items: Sequence[str], lang: str) -> str:
    return t("list_sep", lang).join(items) if items else t("none_list", lang)


def column_widths(b: dict) -> list[float]:
    """Relative column widths of a table block (sum 1): ``widths`` if given, else
    ``first_col_share`` (and ``second_col_share``) with the rest shared equally."""
    n = len(b["columns"])
    if b.get("widths"):
        w = [float(x) for x in b["widths"]]
        return [x / sum(w) for x in w]
    fixed = [b.get("first_col_share", 0.3)] + ([b["second_col_share"]] if "second_col_share" in b else [])
    rest = (1 - sum(fixed)) / max(n - len(fixed), 1)
    return fixed + [rest] * (n - len(fixed))


def cell(text: str, sub: str | None = None, cls: str | None = None) -> dict:
    return {"text": text, "sub": sub, "cls": cls}


# --------------------------------------------------------------------------- facts
def reversed_verdicts(run: RunData) -> list[tuple[dict, str, bool, bool, float]]:
    """(target, scenario, model verdict, actual verdict, actual value) wherever they differ."""
    out = []
    for tgt in run.targets:
        value, actual, _ = run.actual(tgt["id"])
        if actual is None:
            continue
        for sid in run.scenarios:
            model = run.passed(sid, tgt["id"])
            if model is not None and model != actual:
                out.append((tgt, sid, model, actual, value))
    return out


def five_sentences(run: RunData, lang: str) -> list[str]:
    """The answer in five sentences, each generated from the run's numbers."""
    ref, years = run.ref, run.horizons()
    k1, n1 = run.goals_met(ref, years[0])
    k2, n2 = run.goals_met(ref, years[-1]) if len(years) > 1 else (0, 0)
    totals = {s: run.goals_met(s) for s in run.scenarios}
    top = max(totals[s][0] for s in run.scenarios)
    best = [s for s in run.scenarios if totals[s][0] == top]          # every scenario tied at the top
    out = [t("s_reach", lang, ref=scen_name(run, ref, lang), k1=k1, n1=n1, k2=k2, n2=n2,
             nsc=len(run.scenarios), best=joined([scen_name(run, s, lang) for s in best], lang),
             kb=top, n=totals[best[0]][1])]
    every = [goal_name(g, lang) for g in run.targets
             if all(run.passed(s, g["id"]) is True for s in run.scenarios)]
    none = [goal_name(g, lang) for g in run.targets
            if all(run.passed(s, g["id"]) is False for s in run.scenarios)]
    out.append(t("s_all_none", lang, all=joined(every, lang), none=joined(none, lang)))
    # reality
    if run.has_actual():
        judged = [(g, run.actual(g["id"])[1]) for g in run.targets if run.actual(g["id"])[1] is not None]
        rev = [goal_name(g, lang) for g, a in judged if run.passed(ref, g["id"]) not in (None, a)]
        out.append(t("s_reality", lang, m=len(judged), ref=scen_name(run, ref, lang),
                     c=len(judged) - len(rev), r=len(rev), names=joined(rev, lang)))
    else:
        out.append(t("s_reality_none", lang))
    # what it would take
    s = run.search
    if s is not None:
        names = {g["id"]: goal_name(g, lang) for g in run.targets}
        out_names = [names.get(g, g) for g in s.goals.loc[s.goals["status"] == "out", "target"]]
        aside = [names.get(g, g) for g in s.goals.loc[s.goals["status"] == "aside", "target"]]
        src = t("search_src_doc" if s.from_doc else "search_src_run", lang, folder=s.folder)
        out.append(t("s_search", lang, src=src, out=joined(out_names, lang), years=search_years(run, lang),
                     aside=t("s_search_aside", lang, names=joined(aside, lang)) if aside else "",
                     k=int((s.goals["status"] == "in").sum()), cost=num(s.cost),
                     ref=scen_name(run, s.ref, lang), ref_cost=num(s.ref_cost)))
    else:
        out.append(t("s_search_none", lang))
    # how sure
    e = run.ensemble
    probs = e.probabilities[e.probabilities["scenario"] == ref] if e is not None else None
    if probs is not None and not probs.empty:
        names = {g["id"]: goal_name(g, lang) for g in run.targets}
        mid = probs[(probs["p"] > UNLIKELY) & (probs["p"] < SURE)].sort_values("p")
        mid_text = joined([f"{names.get(r.target, r.target)} ({r.p:.2f})" for r in mid.itertuples()][:4], lang) \
            if not mid.empty else t("s_sure_nomid", lang)
        out.append(t("s_sure", lang, p=e.parameters, rows=f"{e.rows:,}", ref=scen_name(run, ref, lang),
                     hi=int((probs["p"] >= SURE).sum()), lo=int((probs["p"] <= UNLIKELY).sum()),
                     mid=mid_text, folder=e.folder))
    else:
        out.append(t("s_sure_none", lang))
    return out


# --------------------------------------------------------------------------- figures
def _png(fig, dpi: int = FIGURE_DPI) -> bytes:
    import matplotlib.pyplot as plt

    from sim.report.style import house_style

    buf = io.BytesIO()
    with house_style():
        fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def _cached(fn):
    """Keep a figure's PNG on the RunData (``run.cache``), so the slides reuse the brief's."""
    def wrapper(run: RunData, *args):
        key = (fn.__name__, *(a["id"] if isinstance(a, dict) else a for a in args))
        if key not in run.cache:
            run.cache[key] = fn(run, *args)
        return run.cache[key]
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


@_cached
def goals_met_figure(run: RunData, lang: str) -> bytes:
    """Horizontal bars: goals met per scenario, one colour per horizon, ``k/n`` at the bar end."""
    from sim.report.style import OKABE_ITO, house_style, new_figure

    years = run.horizons()
    colours = [OKABE_ITO["blue"], OKABE_ITO["sky_blue"], OKABE_ITO["orange"]]
    with house_style():
        fig, axes = new_figure(lang=lang, figsize=(13.33, 6.0))
        ax = axes[0][0]
        ids = list(reversed(run.scenarios))
        y = np.arange(len(ids))
        left = np.zeros(len(ids))
        for i, year in enumerate(years):
            k = np.array([run.goals_met(s, year)[0] for s in ids], dtype=float)
            ax.barh(y, k, left=left, color=colours[i % len(colours)], height=0.62,
                    label=t("horizon_row", lang, year=f"{year:g}"))
            for yy, kk, ll in zip(y, k, left):
                if kk > 0:
                    ax.text(ll + kk / 2, yy, f"{kk:.0f}", ha="center", va="center", color="white", fontsize=16)
            left += k
        n_all = len(run.targets)
        for yy, s in zip(y, ids):
            ax.text(left[list(ids).index(s)] + 0.2, yy, t("of", lang, k=run.goals_met(s)[0], n=n_all),
                    va="center", fontsize=16)
        ax.set_yticks(y, [scen_name(run, s, lang) for s in ids])
        ax.set_xlim(0, n_all + 2.5)
        ax.set_xlabel(t("goals_met_axis", lang))
        ax.set_title(t("goals_met_fig", lang), loc="left")
        ax.legend(loc="lower right", ncols=len(years))
        ax.grid(axis="y", visible=False)
        return _png(fig)


def key_targets(run: RunData) -> list[dict]:
    """The reference scenario's missed goals closest to their line (relative margin), per horizon."""
    out = []
    for year in run.horizons():
        missed = []
        for g in run.targets:
            if float(g["year"]) != year or run.passed(run.ref, g["id"]) is not False:
                continue
            row = run.cell(run.ref, g["id"])
            rel = abs(float(row["margin"])) / max(abs(float(g["threshold"])), 1.0)
            missed.append((rel, g))
        out += [g for _, g in sorted(missed, key=lambda x: x[0])[:KEY_FIGURES_PER_HORIZON]]
    return out


@_cached
def target_figure(run: RunData, target: dict, lang: str) -> bytes | None:
    """The goal's indicator figure (:func:`sim.report.indicators.plot_target_indicator`) from the
    saved time series; None when the series are not in the folder."""
    from sim.report.indicators import plot_target_indicator
    from sim.report.measures import MissingDataError
    from sim.report.style import house_style

    results = {}
    for sid in run.scenarios:
        csv = run.folder / "timeseries" / f"{sid}.csv"
        if not csv.is_file():
            return None
        df = pd.read_csv(csv, index_col=0)
        df.index = df.index.astype(float)
        results[sid] = df
    try:
        with house_style():
            fig = plot_target_indicator(results, target, run.card, run.meta, lang=lang,
                                        horizons=run.horizons())
            return _png(fig)
    except MissingDataError:
        return None


# --------------------------------------------------------------------------- the blocks
def scorecard_table(run: RunData, lang: str, year: float | None = None,
                    targets: Sequence[dict] | None = None, *, groups: bool = True,
                    totals: bool = True) -> dict:
    """Goals × scenarios (+ the actual column when the results have one) as a table block."""
    has_actual = run.has_actual()
    cols = [t("col_goal", lang), t("col_threshold", lang)] + [scen_name(run, s, lang) for s in run.scenarios]
    cols += [t("col_actual", lang)] if has_actual else []
    rows: list = []
    targets = list(targets) if targets is not None else run.targets
    for h in run.horizons():
        if year is not None and h != year:
            continue
        these = [g for g in targets if float(g["year"]) == h]
        if not these:
            continue
        if groups:
            rows.append({"group": t("horizon_row", lang, year=f"{h:g}")})
        for g in these:
            value, actual, _ = run.actual(g["id"])
            sub = goal_name(g, other(lang))
            row = [cell(goal_name(g, lang), sub), cell(threshold_words(g, lang),
                                                       t("interpretation", lang) if g.get("basis") == "interpretation" else None)]
            for sid in run.scenarios:
                r = run.cell(sid, g["id"])
                passed = run.passed(sid, g["id"])
                text = f"{MARKS[passed]} {num(r['value']) if r is not None else ''}".strip()
                rev = actual is not None and passed is not None and passed != actual
                row.append(cell(text + (f" {REVERSED_MARK}" if rev else ""), None,
                                "reversed" if rev else {True: "met", False: "missed", None: "nodata"}[passed]))
            if has_actual:
                status = run.actual_status(g["id"])
                row.append(cell(f"{MARKS[actual]} {num(value)}", None, "met" if actual else "missed")
                           if actual is not None else
                           cell(t("not_testable" if status == "not testable" else "no_actual", lang), None, "nodata"))
            rows.append(row)
        if totals:
            met = [cell(t("goals_met_row", lang), None, "total"), cell("", None, "total")]
            met += [cell(t("of", lang, k=run.goals_met(s, h)[0], n=len(these)), None, "total")
                    for s in run.scenarios]
            if has_actual:
                judged = [run.actual(g["id"])[1] for g in these]
                judged = [a for a in judged if a is not None]
                met.append(cell(t("of", lang, k=sum(judged), n=len(judged)) if judged else "", None, "total"))
            rows.append(met)
    return {"kind": "table", "columns": cols, "rows": rows, "first_col_share": 0.25, "second_col_share": 0.115,
            "name": "scorecard"}


def search_years(run: RunData, lang: str) -> str:
    """The horizon years of the policy search's goals (``2020``, ``2030``), joined."""
    years = {float(g["year"]) for g in run.targets if g["id"] in set(run.search.goals["target"])}
    return joined([f"{y:g}" for y in sorted(years)], lang) or "?"


def search_blocks(run: RunData, lang: str) -> list[dict]:
    s = run.search
    blocks: list[dict] = [{"kind": "h2", "text": t("search_h", lang)}]
    if s is None:
        return blocks + [{"kind": "note", "text": t("s_search_none", lang)}]
    if s.from_doc:
        blocks.append({"kind": "note", "text": t("search_label_doc", lang, folder=s.folder)})
    by_id = {g["id"]: g for g in run.targets}
    blocks.append({"kind": "p", "text": t("search_intro", lang, ref=scen_name(run, s.ref, lang),
                                          years=search_years(run, lang))})
    if s.vantage is not None and s.levers_from is not None:
        blocks.append({"kind": "p", "text": t("search_seen_from", lang, vantage=f"{s.vantage:g}",
                                              start=f"{s.levers_from:g}")})
    rows = []
    status_cls = {"in": "met", "aside": "nodata", "out": "missed"}
    for r in s.goals.itertuples():
        g = by_id.get(r.target, {"id": r.target, "name": {}, "unit": "", "comparator": ">=",
                                 "threshold": math.nan})
        rows.append([cell(goal_name(g, lang), goal_name(g, other(lang))),
                     cell(threshold_words(g, lang)),
                     cell(t(f"status_{r.status}", lang), None, status_cls[r.status]),
                     cell(value_words(g, r.best, lang)),
                     cell(value_words(g, r.found, lang))])
    blocks.append({"kind": "table", "columns": [t("col_goal", lang), t("col_threshold", lang), t("col_status", lang),
                                                t("col_best", lang), t("col_found", lang)],
                   "rows": rows, "widths": [30, 14, 18, 19, 19], "name": "search"})
    moved = s.levers[(s.levers["found"] - s.levers["baseline"]).abs() > 1e-9 * (s.levers["baseline"].abs() + 1)]
    lrows = []
    for r in moved.itertuples():
        lrows.append([cell(lever_name(run, r.lever, lang), r.lever), cell(str(r.unit)),
                      cell(num(r.baseline)), cell(num(r.start)), cell(num(r.found))])
    blocks.append({"kind": "h3", "text": t("search_levers", lang)})
    blocks.append({"kind": "table", "columns": [t("col_lever", lang), t("col_unit", lang), t("col_baseline", lang),
                                                scen_name(run, s.ref, lang), t("col_found_value", lang)],
                   "rows": lrows, "first_col_share": 0.45, "name": "search_levers"})
    blocks.append({"kind": "p", "text": t("search_cost", lang, cost=num(s.cost), ref=scen_name(run, s.ref, lang),
                                          ref_cost=num(s.ref_cost))})
    return blocks


def sure_blocks(run: RunData, lang: str) -> list[dict]:
    e = run.ensemble
    blocks: list[dict] = [{"kind": "h2", "text": t("sure_h", lang)}]
    if e is None:
        return blocks + [{"kind": "note", "text": t("sure_missing", lang)}]
    blocks.append({"kind": "p", "text": t("sure_intro", lang, rows=f"{e.rows:,}", method=e.method,
                                          p=e.parameters, folder=e.folder)})
    p = e.probabilities.pivot_table(index="target", columns="scenario", values="p", aggfunc="first")
    ids = [s for s in run.scenarios if s in p.columns] + [s for s in p.columns if s not in run.scenarios]
    rows = []
    for g in run.targets:
        if g["id"] not in p.index:
            continue
        row = [cell(goal_name(g, lang), goal_name(g, other(lang))), cell(threshold_words(g, lang))]
        for sid in ids:
            v = p.loc[g["id"], sid]
            cls = "met" if v >= SURE else "missed" if v <= UNLIKELY else "nodata"
            row.append(cell(f"{v:.2f}" if np.isfinite(v) else "–", None, cls))
        rows.append(row)
    blocks.append({"kind": "table", "columns": [t("col_goal", lang), t("col_threshold", lang)]
                   + [scen_name(run, s, lang) for s in ids], "rows": rows, "first_col_share": 0.28,
                   "second_col_share": 0.115,
                   "name": "probabilities"})
    return blocks


def contribution_blocks(run: RunData, lang: str) -> list[dict]:
    """Per goal: the total change from the parent scenario, the levers contributing most
    (Shapley values, in the goal's unit) and what one-at-a-time changes leave over."""
    c = run.contributions
    blocks: list[dict] = [{"kind": "h2", "text": t("levers_h", lang)}]
    if c is None or c.by_lever.empty:
        return blocks + [{"kind": "note", "text": t("levers_missing", lang)}]
    blocks.append({"kind": "p", "text": t("levers_intro", lang, scen=scen_name(run, c.scenario, lang),
                                          parent=scen_name(run, c.parent, lang), folder=c.folder,
                                          n=CONTRIBUTION_LEVERS)})
    by_id = {g["id"]: g for g in run.targets}
    goals = c.goals.set_index("target")
    rows = []
    for tid in [g["id"] for g in run.targets if g["id"] in goals.index]:
        g, row = by_id[tid], goals.loc[tid]
        part = c.by_lever[c.by_lever["target"] == tid]
        top = part.reindex(part["shapley"].abs().sort_values(ascending=False).index).head(CONTRIBUTION_LEVERS)
        top = top[top["shapley"].abs() > 1e-9 * max(1.0, abs(float(row["total"])))]
        names = [f"{lever_name(run, r.lever, lang)} {num(r.shapley)}" for r in top.itertuples()]
        passed = _bool_or_none(row.get("passed"))
        rows.append([cell(goal_name(g, lang), goal_name(g, other(lang))),
                     cell(num(row["total"]), unit_words(g, lang) or None,
                          {True: "met", False: "missed", None: None}[passed]),
                     cell("；".join(names) if lang == "zh" else "; ".join(names)),
                     cell(num(row["interaction"]))])
    blocks.append({"kind": "table", "columns": [t("col_goal", lang), t("total_change", lang), t("col_top_levers", lang),
                                                t("interaction", lang)],
                   "rows": rows, "widths": [26, 12, 50, 12], "name": "contributions"})
    return blocks


def _bool_or_none(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    if isinstance(x, str):
        return {"true": True, "false": False}.get(x.strip().lower())
    return bool(x)


def trace_blocks(run: RunData, lang: str) -> list[dict]:
    blocks: list[dict] = [{"kind": "h2", "text": t("trace_h", lang)}]
    tr = run.traceability
    if tr is not None:
        blocks.append({"kind": "note", "text": t("trace_src", lang, src=tr["source"])})
        for heading, table in tr["tables"]:
            if heading:
                blocks.append({"kind": "h3", "text": heading})
            wide = len(table.columns) > 4
            blocks.append({"kind": "table", "columns": [str(c) for c in table.columns],
                           "rows": [[cell(_shorten_list(str(v).replace("`", ""))) for v in row]
                                    for row in table.itertuples(index=False)],
                           "first_col_share": 0.07 if wide else 0.2, "name": "traceability", "small": wide})
        return blocks
    blocks.append({"kind": "note", "text": t("trace_missing", lang, code=lang)})
    rows = [[cell(str(e.get("clause") or "–")), cell(e.get(lang) or name, name)]
            for name, e in run.levers.items()]
    blocks.append({"kind": "table", "columns": [t("col_clause", lang), t("col_lever", lang)], "rows": rows,
                   "first_col_share": 0.2, "name": "traceability"})
    return blocks


#: A cell listing more comma-separated items than this shows the first ones and the count left.
LIST_ITEMS_SHOWN = 4


def _shorten_list(text: str) -> str:
    """``a (7), b (7), c (8), d (8), e (9)`` → ``a (7), b (7), c (8), d (8) … (+1)``."""
    items = [x.strip() for x in re.split(r",\s+(?![^()]*\))", text)]
    if len(items) <= LIST_ITEMS_SHOWN:
        return text
    return ", ".join(items[:LIST_ITEMS_SHOWN]) + f" … (+{len(items) - LIST_ITEMS_SHOWN})"


def manifest_blocks(run: RunData, lang: str) -> list[dict]:
    m = run.manifest
    model = m.get("model") or {}
    git = m.get("git") or {}
    unknown = t("unknown", lang)
    commit = (git.get("commit") or unknown) + (t("m_dirty", lang) if git.get("dirty") else "")
    engine = m.get("engine") or {}
    targets = (m.get("files") or {}).get("targets") or {}
    scen_files = (m.get("files") or {}).get("scenarios") or {}
    rows = [
        (t("m_folder", lang), final_path(run.folder).name),
        (t("m_model", lang), model.get("path") or unknown),
        (t("m_sha", lang), model.get("sha256") or unknown),
        (t("m_date", lang), m.get("created_utc") or unknown),
        (t("m_commit", lang), commit),
        (t("m_version", lang), f"jdz-sim {m.get('sim_version') or unknown}"),
        (t("m_engine", lang), ", ".join(f"{k} {v}" for k, v in engine.items()) or unknown),
        (t("m_targets", lang), "; ".join(f"{p} ({h[:12]})" for p, h in targets.items()) or unknown),
        (t("m_scenarios", lang), "; ".join(f"{Path(p).name} ({h[:12]})" for p, h in scen_files.items()) or unknown),
        (t("m_brief", lang), datetime.now(timezone.utc).isoformat(timespec="seconds")),
    ]
    return [{"kind": "h2", "text": t("manifest_h", lang)},
            {"kind": "table", "columns": ["", ""], "rows": [[cell(k), cell(v)] for k, v in rows],
             "first_col_share": 0.28, "name": "manifest", "header": False}]


def build_blocks(run: RunData, lang: str, *, figures: bool = True) -> list[dict]:
    """The brief's content in order (see the module docstring for the block kinds)."""
    check_lang(lang)
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r}: the brief is written in one language, zh or en")
    m = run.manifest
    model = m.get("model") or {}
    blocks: list[dict] = [
        {"kind": "h1", "text": t("title", lang), "sub": t("kind", lang)},
        {"kind": "note", "text": t("subtitle", lang, run=final_path(run.folder).name, date=str(m.get("created_utc", ""))[:10],
                                   model=Path(model.get("path") or "?").name,
                                   sha=(model.get("sha256") or "")[:12])},
        {"kind": "h2", "text": t("question_h", lang)},
        {"kind": "p", "text": t("question", lang), "cls": "question"},
        {"kind": "ol", "items": five_sentences(run, lang), "cls": "answer"},
        {"kind": "h2", "text": t("scorecard_h", lang)},
        {"kind": "note", "text": t("scorecard_note", lang)},
        scorecard_table(run, lang),
    ]
    if run.has_actual():
        rev = reversed_verdicts(run)
        blocks.append({"kind": "h3", "text": t("reversed_h", lang)})
        if rev:
            grouped: dict = {}
            for g, sid, model_v, actual, value in rev:
                grouped.setdefault((g["id"], model_v, actual), (g, [], value))[1].append(sid)
            items = []
            for (tid, model_v, actual), (g, sids, value) in grouped.items():
                scen = t("all_scenarios", lang) if len(sids) == len(run.scenarios) else \
                    joined([scen_name(run, s, lang) for s in sids], lang)
                items.append(t("reversed_item", lang, goal=goal_name(g, lang), scen=scen,
                               model=t("met" if model_v else "missed", lang),
                               actual=t("met" if actual else "missed", lang), value=value_words(g, value, lang)))
            blocks.append({"kind": "ul", "items": items})
        else:
            blocks.append({"kind": "p", "text": t("reversed_none", lang)})
    else:
        blocks.append({"kind": "note", "text": t("reversed_missing", lang)})
    if figures:
        blocks.append({"kind": "h2", "text": t("key_figures_h", lang)})
        blocks.append({"kind": "figure", "png": goals_met_figure(run, lang),
                       "caption": t("fig_caption_goals", lang), "name": "goals_met"})
        for g in key_targets(run):
            png = target_figure(run, g, lang)
            if png is not None:
                row = run.cell(run.ref, g["id"])
                blocks.append({"kind": "figure", "png": png, "name": f"target_{g['id']}",
                               "caption": t("fig_caption_target", lang, goal=f"{goal_name(g, lang)}（{g['year']:g}）"
                                            if lang == "zh" else f"{goal_name(g, lang)} ({g['year']:g})",
                                            ref=scen_name(run, run.ref, lang),
                                            value=value_words(g, row["value"], lang),
                                            threshold=threshold_words(g, lang))})
    blocks += search_blocks(run, lang)
    blocks += sure_blocks(run, lang)
    blocks += contribution_blocks(run, lang)
    interp = [goal_name(g, lang) for g in run.targets if g.get("basis") == "interpretation"]
    limits = [pick(x, lang) for x in brief_text()["limits"]]
    limits.append(t("limits_interp", lang, k=len(interp), names=joined(interp, lang)))
    if run.ensemble is None:
        limits.append(t("limits_uncertainty", lang))
    blocks += [{"kind": "h2", "text": t("limits_h", lang)}, {"kind": "ul", "items": limits}]
    blocks += trace_blocks(run, lang)
    blocks += manifest_blocks(run, lang)
    blocks.append({"kind": "note", "text": t("footer", lang)})
    return blocks


# --------------------------------------------------------------------------- HTML
CSS = """
@font-face { font-family: "BriefSans"; src: url(data:font/woff;base64,%(font)s) format("woff"); }
html { background: #F4F5F7; }
body { font-family: "BriefSans", "Noto Sans CJK SC", sans-serif; color: #1D242B; margin: 0 auto;
       max-width: 1100px; padding: 32px 40px 48px; background: white; line-height: 1.55; font-size: 16px; }
h1 { font-size: 30px; margin: 0 0 4px; line-height: 1.3; }
h1 .kind { display: block; font-size: 15px; color: #0072B2; letter-spacing: 0.08em; margin-bottom: 6px; }
h2 { font-size: 22px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #0072B2; }
h3 { font-size: 18px; margin: 20px 0 6px; }
p.note { color: #555; font-size: 14px; }
p.question { font-size: 18px; font-weight: bold; }
ol.answer li { margin-bottom: 6px; }
.table-wrap { width: 100%%; }
table { border-collapse: collapse; width: 100%%; font-size: 13.5px; table-layout: fixed; margin: 8px 0 12px; }
th { background: #2B3A4A; color: white; font-weight: normal; padding: 6px 5px; text-align: left;
     overflow-wrap: anywhere; }
td { border-bottom: 1px solid #DDD; padding: 5px 5px; vertical-align: top; overflow-wrap: anywhere; }
td .sub { display: block; color: #666; font-size: 12px; }
td.met { background: #D5EFE6; } td.missed { background: #F8D9C8; } td.nodata { background: #EEE; }
td.reversed { background: #FFE9A8; font-weight: bold; } td.total { font-weight: bold; border-top: 2px solid #2B3A4A; }
tr.group td { background: #E4E8EE; font-weight: bold; }
table.kv td:first-child { color: #555; }
table.small { font-size: 12px; }
figure { margin: 14px 0 18px; }
figure img { width: 100%%; height: auto; display: block; border: 1px solid #EEE; box-sizing: border-box; }
figcaption { font-size: 14px; color: #444; margin-top: 4px; }
"""


def _esc(s) -> str:
    return html.escape(str(s))


def _block_text(blocks: Sequence[dict]) -> str:
    """Every character the blocks print (for the font subset)."""
    parts = []
    for b in blocks:
        parts += [b.get("text", ""), b.get("sub", "") or "", b.get("caption", "") or ""]
        parts += b.get("items", [])
        parts += b.get("columns", [])
        for row in b.get("rows", []):
            if isinstance(row, dict):
                parts.append(row["group"])
            else:
                parts += [c["text"] + (c.get("sub") or "") for c in row]
    return "".join(parts)


#: Characters always in the embedded font (digits, punctuation, printable ASCII).
FONT_BASE_CHARS = frozenset(" 0123456789.,:;%()[]-+/×–−") | {chr(c) for c in range(0x20, 0x7F)}


def font_subset_woff(text: str) -> bytes:
    """Noto Sans CJK SC (the house font) cut down to the characters of ``text``, as WOFF.

    Kept: the layout features a browser applies by default (fontTools' default list:
    ``ccmp``, ``locl``, ``liga``, ``kern``, ``mark``..., vertical and East Asian spacing ones);
    dropped: the ones only CSS ``font-feature-settings`` would ask for (``aalt``, ``fwid``,
    ``pwid``, ``dlig``...), which the page never does, the name records beyond IDs 0-6 and the vertical metrics
    (``vhea``, ``vmtx``, ``VORG``: the page has no vertical text). Outlines and
    hints are unchanged; subroutines are inlined (``desubroutinize``), which skips fontTools'
    pass over unused subroutines. Cached per process by character set.
    """
    return _font_subset_woff("".join(sorted(set(text) | FONT_BASE_CHARS)))


@lru_cache(maxsize=4)
def _font_subset_woff(chars: str) -> bytes:
    from fontTools import subset

    from sim.report.fonts import cjk_font_path

    options = subset.Options()
    options.flavor = "woff"
    options.notdef_outline = True
    options.desubroutinize = True
    options.drop_tables += ["vhea", "vmtx", "VORG"]   # vertical metrics: the page is horizontal
    font = subset.load_font(str(cjk_font_path()), options, lazy=True)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=[ord(c) for c in chars])
    sub.subset(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, options)
    return buf.getvalue()


def render_html(blocks: Sequence[dict], lang: str) -> str:
    """A self-contained HTML page: CSS, the font subset and the figures inline."""
    body = []
    for b in blocks:
        k = b["kind"]
        if k == "h1":
            body.append(f'<h1><span class="kind">{_esc(b.get("sub", ""))}</span>{_esc(b["text"])}</h1>')
        elif k in ("h2", "h3"):
            body.append(f"<{k}>{_esc(b['text'])}</{k}>")
        elif k == "p":
            cls = f' class="{b["cls"]}"' if b.get("cls") else ""
            body.append(f"<p{cls}>{_esc(b['text'])}</p>")
        elif k == "note":
            body.append(f'<p class="note">{_esc(b["text"])}</p>')
        elif k in ("ul", "ol"):
            cls = f' class="{b["cls"]}"' if b.get("cls") else ""
            body.append(f"<{k}{cls}>" + "".join(f"<li>{_esc(i)}</li>" for i in b["items"]) + f"</{k}>")
        elif k == "table":
            kind = "kv" if b.get("header") is False else "grid small" if b.get("small") else "grid"
            table = html_table(b["columns"] if b.get("header", True) else None, b["rows"],
                               widths=column_widths(b), cls=kind, name=str(b.get("name", "")))
            body.append(f'<div class="table-wrap">{table}</div>')
        elif k == "figure":
            data = base64.b64encode(b["png"]).decode("ascii")
            body.append(f'<figure data-name="{_esc(b.get("name", ""))}"><img alt="{_esc(b["caption"])}" '
                        f'src="data:image/png;base64,{data}"><figcaption>{_esc(b["caption"])}</figcaption></figure>')
        else:
            raise ValueError(f"unknown block kind {k!r}")
    title = next((b["text"] for b in blocks if b["kind"] == "h1"), "")
    font = base64.b64encode(font_subset_woff(_block_text(blocks) + title)).decode("ascii")
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_esc(title)}</title>\n'
            f"<style>{CSS % {'font': font}}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


# --------------------------------------------------------------------------- PDF
PAGE = (8.27, 11.69)       # A4, inches
MARGIN = 0.65              # inches
PDF_SIZES = {"h1": 19, "h1sub": 10, "h2": 13, "h3": 11, "p": 9.5, "note": 8.5, "li": 9.5,
             "table": 7.4, "sub": 6.4, "caption": 8.5, "footer": 7}
LEADING = 1.42
#: Characters that never start a line (Chinese line-breaking rules): kept with the one before.
NO_LINE_START = "，。、；：？！）」』”’》〉】%．,.;:!?)"


class TextMeasure:
    """Text widths and ascents in points with the house CJK font (FreeType, the font matplotlib
    draws with)."""

    def __init__(self):
        from matplotlib.ft2font import FT2Font

        from sim.report.fonts import cjk_font_path

        self.font = FT2Font(str(cjk_font_path()))
        self.font.set_size(self.REF_SIZE, 72)
        self.advance: dict[str, float] = {}
        self.top: dict[str, float] = {}
        os2, head = self.font.get_sfnt_table("OS/2"), self.font.get_sfnt_table("head")
        #: The font's typographic ascender per point of size (matplotlib's least line ascent).
        self.typo_ascent = os2["sTypoAscender"] / head["unitsPerEm"]

    #: Advances are read once per character at this size (points) and scaled linearly.
    REF_SIZE = 100.0
    #: Kerning and hinting are ignored: widths get this much slack.
    SLACK = 1.05

    def _load(self, ch: str):
        from matplotlib.ft2font import LoadFlags

        if self.font.get_char_index(ord(ch)) == 0 and not ch.isspace():
            # not in the CJK font: measured as matplotlib draws it (a fallback font if the house
            # style finds one, else the missing-glyph box); ink width as the advance is close
            # enough for line breaks. FreeType's load_char would raise here.
            from matplotlib.font_manager import FontProperties
            from matplotlib.textpath import text_to_path

            w, h, d = text_to_path.get_text_width_height_descent(ch, FontProperties(size=self.REF_SIZE), False)
            self.advance[ch], self.top[ch] = w, h - d
            return
        glyph = self.font.load_char(ord(ch), flags=LoadFlags.NO_HINTING)
        self.advance[ch] = glyph.linearHoriAdvance / 65536.0
        self.top[ch] = glyph.bbox[3] / 64.0

    def width(self, text: str, size: float) -> float:
        total = 0.0
        for ch in text:
            if ch not in self.advance:
                self._load(ch)
            total += self.advance[ch]
        return total * size / self.REF_SIZE * self.SLACK

    def ascent(self, text: str, size: float) -> float:
        """Points from the top of a one-line ``fig.text(..., va="top")`` to its baseline: the
        tallest glyph's top or the font's typographic ascender, whichever is higher (as
        matplotlib's text layout does)."""
        for ch in text:
            if ch not in self.top:
                self._load(ch)
        return max(max((self.top[ch] for ch in text), default=0.0) / self.REF_SIZE, self.typo_ascent) * size

    def wrap(self, text: str, size: float, width_pt: float) -> list[str]:
        """Greedy line breaks: between words in Latin script, between any two CJK characters."""
        lines = []
        for para in str(text).split("\n"):
            tokens, word = [], ""
            for ch in para:
                if ch in NO_LINE_START and (tokens or word):
                    if word:
                        word += ch
                    else:
                        tokens[-1] += ch
                elif ord(ch) >= 0x2E80 or ch in "/":
                    tokens += [word, ch] if word else [ch]
                    word = ""
                elif ch == " ":
                    tokens += [word, " "] if word else [" "]
                    word = ""
                else:
                    word += ch
            tokens += [word] if word else []
            line = ""
            for tok in tokens:
                if line.strip() and tok != " " and self.width(line + tok, size) > width_pt:
                    lines.append(line.rstrip())
                    line = tok
                    while self.width(line, size) > width_pt and len(line) > 1:  # one over-long word
                        cut = max(1, int(len(line) * width_pt / self.width(line, size)) - 1)
                        lines.append(line[:cut])
                        line = line[cut:]
                else:
                    line += tok
            lines.append(line.rstrip())
        return lines


def _text_line_artist():
    """The class :class:`_TextLine` (built on first use: matplotlib is imported lazily here)."""
    import matplotlib as mpl
    from matplotlib import colors as mcolors
    from matplotlib.artist import Artist

    class _TextLine(Artist):
        """One line of text drawn straight with the renderer's ``draw_text``: the same call, glyphs
        and baseline as ``fig.text(x, y, s, va="top")``, without matplotlib's text layout pass
        (which measures every string once more; the page layout has measured it already)."""

        zorder = 3

        def __init__(self, xy, text: str, prop, color, ascent: float):
            super().__init__()
            self.xy, self.s, self.prop, self.ascent = xy, text, prop, ascent
            self.rgba = mcolors.to_rgba(color)

        def draw(self, renderer):
            if not self.get_visible():
                return
            fig = self.get_figure(root=True)
            x, y = fig.transFigure.transform(self.xy)
            y -= self.ascent * fig.dpi / 72
            if renderer.flipy():
                y = renderer.get_canvas_width_height()[1] - y
            gc = renderer.new_gc()
            gc.set_foreground(self.rgba, isRGBA=True)
            gc.set_alpha(None)
            gc.set_antialiased(mpl.rcParams["text.antialiased"])
            renderer.draw_text(gc, x, y, self.s, self.prop, 0.0, ismath=False, mtext=None)
            gc.restore()
            self.stale = False

    return _TextLine


class _Pages:
    """A flow layout on A4 pages: blocks go top to bottom; a block that does not fit opens a page."""

    def __init__(self, pdf, footer: str):
        self.pdf, self.footer, self.fig, self.page = pdf, footer, None, 0
        import matplotlib as mpl

        self.m = TextMeasure()
        self.width = (PAGE[0] - 2 * MARGIN) * 72
        self._line_cls, self._props, self._rc_text_color = _text_line_artist(), {}, mpl.rcParams["text.color"]
        self.new_page()

    # coordinates: points from the page's top-left corner
    def _xy(self, x_pt, y_pt):
        return (MARGIN * 72 + x_pt) / (PAGE[0] * 72), 1 - (MARGIN * 72 + y_pt) / (PAGE[1] * 72)

    def new_page(self):
        import matplotlib.pyplot as plt

        if self.fig is not None:
            self.finish_page()
        self.fig = plt.figure(figsize=PAGE)
        self.page += 1
        self.y = 0.0

    def finish_page(self):
        import matplotlib.pyplot as plt

        x, y = self._xy(0, (PAGE[1] - 2 * MARGIN) * 72 + 14)
        self.fig.text(x, y, self.footer, fontsize=PDF_SIZES["footer"], color="#777777", va="top")
        x2, _ = self._xy(self.width, 0)
        self.fig.text(x2, y, str(self.page), fontsize=PDF_SIZES["footer"], color="#777777", va="top", ha="right")
        self.pdf.savefig(self.fig)
        plt.close(self.fig)
        self.fig = None

    @property
    def room(self) -> float:
        return (PAGE[1] - 2 * MARGIN) * 72 - self.y

    def need(self, height: float):
        if height > self.room and self.y > 0:
            self.new_page()

    def text(self, x, y, s, size, *, weight="normal", **kw):
        """Draw ``s`` with its top at ``y``; the house font has one weight, so bold is drawn as a
        thin outline stroke. Plain left-aligned lines go through :func:`_text_line_artist`'s
        artist (no second measuring pass); the rest through ``fig.text``."""
        from matplotlib import patheffects

        if weight != "bold" and kw.get("ha", "left") == "left" and "$" not in s and set(kw) <= {"color", "ha"}:
            if s:
                color = kw.get("color") or self._rc_text_color
                self.fig.add_artist(self._line_cls(self._xy(x, y), s, self._prop(size), color,
                                                   self.m.ascent(s, size)))
            return
        if weight == "bold":
            kw["path_effects"] = [patheffects.withStroke(linewidth=size / 22, foreground=kw.get("color", "#1D242B"))]
        self.fig.text(*self._xy(x, y), s, fontsize=size, va="top", ha=kw.pop("ha", "left"), **kw)

    def _prop(self, size: float):
        """The font properties ``fig.text(fontsize=size)`` would use (one object per size)."""
        from matplotlib.font_manager import FontProperties

        if size not in self._props:
            self._props[size] = FontProperties(size=size)
        return self._props[size]

    def paragraph(self, text, size, *, indent=0.0, gap_before=0.0, gap_after=4.0, color="#1D242B",
                  bullet=None, weight="normal", keep_with=0.0):
        lines = self.m.wrap(text, size, self.width - indent)
        lh = size * LEADING
        self.need(gap_before + lh * min(len(lines), 2) + keep_with)
        self.y += gap_before
        for i, line in enumerate(lines):
            self.need(lh)
            if bullet and i == 0:
                self.text(indent - 12, self.y, bullet, size, color=color)
            self.text(indent, self.y, line, size, color=color, weight=weight)
            self.y += lh
        self.y += gap_after

    def rule(self, colour="#0072B2", lw=1.4):
        from matplotlib.lines import Line2D

        x0, y0 = self._xy(0, self.y)
        x1, _ = self._xy(self.width, self.y)
        self.fig.add_artist(Line2D([x0, x1], [y0, y0], color=colour, lw=lw, transform=self.fig.transFigure))

    def rect(self, x, y, w, h, colour):
        from matplotlib.patches import Rectangle

        x0, y0 = self._xy(x, y + h)
        self.fig.add_artist(Rectangle((x0, y0), w / (PAGE[0] * 72), h / (PAGE[1] * 72), facecolor=colour,
                                      edgecolor="none", transform=self.fig.transFigure, zorder=0))

    def image(self, png: bytes, caption: str):
        from PIL import Image

        # 8-bit pixels as in the PNG (matplotlib's imread gives floats, which imshow turns back
        # into the same bytes at extra cost)
        img = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
        h = self.width * img.shape[0] / img.shape[1]
        cap_lines = self.m.wrap(caption, PDF_SIZES["caption"], self.width)
        self.need(h + len(cap_lines) * PDF_SIZES["caption"] * LEADING + 8)
        x0, y0 = self._xy(0, self.y + h)
        ax = self.fig.add_axes((x0, y0, self.width / (PAGE[0] * 72), h / (PAGE[1] * 72)))
        ax.imshow(img, interpolation="none")
        ax.set_axis_off()
        self.y += h + 4
        self.paragraph(caption, PDF_SIZES["caption"], color="#444444", gap_after=10)

    def table(self, b: dict):
        size, sub_size = PDF_SIZES["table"], PDF_SIZES["sub"]
        if b.get("small"):
            size, sub_size = size * 0.88, sub_size * 0.88
        widths = [self.width * w for w in column_widths(b)]
        pad = 3.0
        lh, sub_lh = size * 1.32, sub_size * 1.3

        def cell_lines(c, w):
            main = self.m.wrap(c["text"], size, w - 2 * pad)
            sub = self.m.wrap(c["sub"], sub_size, w - 2 * pad) if c.get("sub") else []
            return main, sub, len(main) * lh + len(sub) * sub_lh + 2 * pad

        def draw_header():
            if b.get("header", True) is False:
                return
            heads = [self.m.wrap(c, size, w - 2 * pad) for c, w in zip(b["columns"], widths)]
            h = max(len(x) for x in heads) * lh + 2 * pad
            self.need(h + 3 * lh)
            self.rect(0, self.y, self.width, h, CELL_COLOURS["head"])
            x = 0.0
            for lines, w in zip(heads, widths):
                for i, line in enumerate(lines):
                    self.text(x + pad, self.y + pad + i * lh, line, size, color="white")
                x += w
            self.y += h

        draw_header()
        for row in b["rows"]:
            if isinstance(row, dict):
                lines = self.m.wrap(row["group"], size, self.width - 2 * pad)
                h = len(lines) * lh + 2 * pad
                if h + 2 * lh > self.room:
                    self.new_page()
                    draw_header()
                self.rect(0, self.y, self.width, h, CELL_COLOURS["group"])
                for i, line in enumerate(lines):
                    self.text(pad, self.y + pad + i * lh, line, size, weight="bold")
                self.y += h
                continue
            laid = [cell_lines(c, w) for c, w in zip(row, widths)]
            h = max(x[2] for x in laid)
            if h > self.room:
                self.new_page()
                draw_header()
            x = 0.0
            for c, (main, sub, _), w in zip(row, laid, widths):
                colour = CELL_COLOURS.get(c.get("cls") or "")
                if colour:
                    self.rect(x + 0.6, self.y + 0.6, w - 1.2, h - 1.2, colour)
                weight = "bold" if c.get("cls") in ("total", "reversed") else "normal"
                for i, line in enumerate(main):
                    self.text(x + pad, self.y + pad + i * lh, line, size, weight=weight)
                for i, line in enumerate(sub):
                    self.text(x + pad, self.y + pad + len(main) * lh + i * sub_lh, line, sub_size, color="#666666")
                x += w
            self.y += h
            self.rule("#DDDDDD", 0.5)
        self.y += 8


def render_pdf(blocks: Sequence[dict], path, lang: str) -> Path:
    """The same blocks as an A4 PDF (matplotlib PdfPages, house CJK font as Type 3 glyphs)."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from sim.report.style import house_style

    path = Path(path)
    footer = next((b["text"] for b in blocks if b["kind"] == "h1"), "")
    # zlib level 1 for the page streams: same pages, about 8 % larger, about 9 % less time
    with house_style(), plt.rc_context({"axes.grid": False, "pdf.compression": 1}):
        with PdfPages(path, metadata={"Title": footer, "Creator": "jdz-sim brief"}) as pdf:
            pages = _Pages(pdf, footer)
            for i, b in enumerate(blocks):
                k = b["kind"]
                nxt = blocks[i + 1] if i + 1 < len(blocks) else {}
                keep = 0.56 * pages.width if nxt.get("kind") == "figure" else 60
                if k == "h1":
                    pages.paragraph(b.get("sub", ""), PDF_SIZES["h1sub"], color="#0072B2", gap_after=2)
                    pages.paragraph(b["text"], PDF_SIZES["h1"], weight="bold", gap_after=4)
                elif k == "h2":
                    pages.paragraph(b["text"], PDF_SIZES["h2"], weight="bold", gap_before=12, gap_after=2,
                                    keep_with=keep)
                    pages.rule()
                    pages.y += 6
                elif k == "h3":
                    pages.paragraph(b["text"], PDF_SIZES["h3"], weight="bold", gap_before=6, keep_with=30)
                elif k == "p":
                    bold = b.get("cls") == "question"
                    pages.paragraph(b["text"], PDF_SIZES["p"] + (1 if bold else 0),
                                    weight="bold" if bold else "normal", gap_after=6)
                elif k == "note":
                    pages.paragraph(b["text"], PDF_SIZES["note"], color="#555555", gap_after=6)
                elif k in ("ul", "ol"):
                    for i, item in enumerate(b["items"], 1):
                        pages.paragraph(item, PDF_SIZES["li"], indent=16,
                                        bullet=f"{i}." if k == "ol" else "•", gap_after=3)
                    pages.y += 4
                elif k == "table":
                    pages.table(b)
                elif k == "figure":
                    pages.image(b["png"], b["caption"])
            pages.finish_page()
    return path


# --------------------------------------------------------------------------- entry point
def write_brief(results_dir, lang: str = "zh", *, out_dir=None, search_dir=None, ensemble_dir=None,
                pdf: bool = True, run: RunData | None = None) -> list[Path]:
    """Write ``brief_<lang>.html`` (and ``brief_<lang>.pdf``) into ``out_dir`` (default: the
    results folder); return the paths. An existing brief of the same name is an error."""
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r}: expected one of {', '.join(LANGS)}")
    run = run or read_run(results_dir, search_dir=search_dir, ensemble_dir=ensemble_dir, lang=lang)
    out_dir = Path(out_dir) if out_dir is not None else Path(results_dir)
    html_path, pdf_path = out_dir / f"brief_{lang}.html", out_dir / f"brief_{lang}.pdf"
    for p in (html_path, pdf_path) if pdf else (html_path,):
        if p.exists():
            raise FileExistsError(f"{p}: already exists; a brief is never overwritten")
    blocks = build_blocks(run, lang)
    html_path.write_text(render_html(blocks, lang), encoding="utf-8")
    out = [html_path]
    if pdf:
        out.append(render_pdf(blocks, pdf_path, lang))
    return out
