"""Forum slides: one results folder → a 16:9 ``.pptx`` (python-pptx), one message per slide title.

``write_slides(results_dir, lang)`` writes ``slides_<lang>.pptx``: the question and the
answer, goals met per scenario, the scorecard split so every table fits (at most
:data:`MAX_TABLE_ROWS` goals a slide, type ≥ 14 pt), the verdicts reality reversed (when the
results have an ``actual`` column), the key goal figures, the policy search and the goal
probabilities (when found). Every title is generated from the run's numbers; the words come
from ``brief_text.yaml``. Report room: reads results, never runs the engine.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

from sim.provenance import final_path
from sim.report.brief import (CELL_COLOURS, SURE, UNLIKELY, five_sentences, goal_name, goals_met_figure,
                              joined, key_targets, reversed_verdicts, scen_name, scorecard_table, search_blocks,
                              sure_blocks, t, target_figure, value_words)
from sim.report.brief_data import RunData, read_run
from sim.report.thresholds import threshold_words

SLIDE_EMU = (12192000, 6858000)          # PowerPoint's 16:9 (13.333 × 7.5 in), exactly
SLIDE_W, SLIDE_H = SLIDE_EMU[0] / 914400, SLIDE_EMU[1] / 914400   # inches
MAX_TABLE_ROWS = 6                       # goals per scorecard slide (two-line bilingual names)
TITLE_PT, BODY_PT, TABLE_PT, SUB_PT, FOOT_PT = 28, 18, 13, 11, 10
#: Inner left/right margin of table cells (inches): narrow, so a value and its marks fit a line.
CELL_MARGIN = 0.05
LATIN_FONT, EA_FONT = "Arial", "Microsoft YaHei"
DARK = "1D242B"


def _rgb(hex_colour: str):
    from pptx.dml.color import RGBColor

    return RGBColor.from_string(hex_colour.lstrip("#").upper())


def _style_run(run, size: float, *, bold: bool = False, colour: str = DARK) -> None:
    """Font size, weight and colour; Latin and East Asian typefaces both set."""
    from pptx.oxml.ns import qn
    from pptx.util import Pt

    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = LATIN_FONT
    run.font.color.rgb = _rgb(colour)
    rpr = run._r.get_or_add_rPr()
    for tag in ("a:ea", "a:cs"):
        el = rpr.find(qn(tag))
        if el is None:
            el = rpr.makeelement(qn(tag), {})
            rpr.append(el)
        el.set("typeface", EA_FONT)


def _text(slide, x, y, w, h, paragraphs: Sequence, size: float, *, bold=False, colour=DARK,
          bullets: bool = False):
    """A text box; ``paragraphs``: strings (or ``(text, size, colour)``)."""
    from pptx.util import Inches, Pt

    box = slide.shapes.add_textbox(Inches(x), Inches(y), Inches(w), Inches(h))
    tf = box.text_frame
    tf.word_wrap = True
    for i, para in enumerate(paragraphs):
        text, psize, pcolour = para if isinstance(para, tuple) else (para, size, colour)
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.space_after = Pt(6)
        r = p.add_run()
        r.text = (f"{i + 1}. " if bullets else "") + text
        _style_run(r, psize, bold=bold, colour=pcolour)
    return box


def title_lines(text: str) -> int:
    """Lines a slide title takes at :data:`TITLE_PT` (measured with the house font)."""
    from sim.report.brief import TextMeasure

    return len(TextMeasure().wrap(text, TITLE_PT * 1.05, (SLIDE_W - 1.2) * 72))


def _title(slide, text: str) -> float:
    """Draw the title; return the top (inches) of the space below it."""
    lines = title_lines(text)
    _text(slide, 0.5, 0.3, SLIDE_W - 1.0, 0.2 + 0.55 * lines, [text], TITLE_PT, bold=True)
    return 0.55 + 0.55 * lines + 0.15


def _footer(slide, run: RunData, lang: str, page: int):
    m = run.manifest
    commit = ((m.get("git") or {}).get("commit") or "")[:10]
    sha = ((m.get("model") or {}).get("sha256") or "")[:12]
    _text(slide, 0.5, SLIDE_H - 0.45, SLIDE_W - 1.6, 0.35,
          [f"{t('title', lang)} · {final_path(run.folder).name} · {sha} · {commit}"], FOOT_PT, colour="777777")
    _text(slide, SLIDE_W - 1.0, SLIDE_H - 0.45, 0.6, 0.35, [str(page)], FOOT_PT, colour="777777")


def _picture(slide, png: bytes, top: float | None = None, bottom: float = 0.55):
    """The figure as large as the space under the title allows, centred."""
    from PIL import Image
    from pptx.util import Inches

    top = slide.content_top if top is None else top
    w_px, h_px = Image.open(io.BytesIO(png)).size
    avail_w, avail_h = SLIDE_W - 1.0, SLIDE_H - top - bottom
    w = min(avail_w, avail_h * w_px / h_px)
    h = w * h_px / w_px
    slide.shapes.add_picture(io.BytesIO(png), Inches((SLIDE_W - w) / 2), Inches(top), Inches(w), Inches(h))


def _table(slide, block: dict, widths: Sequence[float], top: float | None = None, row_h: float = 0.5):
    """A native table from a brief table block (cells: text, sub line, colour class)."""
    from pptx.util import Inches

    top = slide.content_top if top is None else top
    rows = [r for r in block["rows"] if not isinstance(r, dict)]
    n_rows, n_cols = len(rows) + 1, len(block["columns"])
    total_w = SLIDE_W - 1.0
    shape = slide.shapes.add_table(n_rows, n_cols, Inches(0.5), Inches(top), Inches(total_w),
                                   Inches(row_h * n_rows))
    table = shape.table
    for row in table.rows:
        row.height = Inches(row_h)
    for j, w in enumerate(widths):
        table.columns[j].width = Inches(total_w * w)
    for j, head in enumerate(block["columns"]):
        c = table.cell(0, j)
        c.margin_left = c.margin_right = Inches(CELL_MARGIN)
        c.fill.solid()
        c.fill.fore_color.rgb = _rgb(CELL_COLOURS["head"])
        c.text_frame.paragraphs[0].text = ""
        r = c.text_frame.paragraphs[0].add_run()
        r.text = head
        _style_run(r, TABLE_PT, bold=True, colour="FFFFFF")
    for i, row in enumerate(rows, 1):
        for j, cl in enumerate(row):
            c = table.cell(i, j)
            c.margin_left = c.margin_right = Inches(CELL_MARGIN)
            colour = CELL_COLOURS.get(cl.get("cls") or "", "FFFFFF")
            c.fill.solid()
            c.fill.fore_color.rgb = _rgb(colour)
            tf = c.text_frame
            tf.word_wrap = True
            r = tf.paragraphs[0].add_run()
            r.text = cl["text"]
            _style_run(r, TABLE_PT, bold=cl.get("cls") in ("total", "reversed"))
            if cl.get("sub"):
                p = tf.add_paragraph()
                r = p.add_run()
                r.text = cl["sub"]
                _style_run(r, SUB_PT, colour="555555")
    return table


def _chunks(items: list, size: int) -> list[list]:
    """``items`` in nearly equal parts of at most ``size``."""
    parts = max(1, -(-len(items) // size))
    per = -(-len(items) // parts)
    return [items[i:i + per] for i in range(0, len(items), per)]


def build_deck(run: RunData, lang: str):
    """The presentation object (python-pptx), slide by slide."""
    from pptx import Presentation
    from pptx.util import Emu

    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(SLIDE_EMU[0]), Emu(SLIDE_EMU[1])
    blank = prs.slide_layouts[6]
    pages = []

    def new_slide(title: str | None):
        s = prs.slides.add_slide(blank)
        s.content_top = _title(s, title) if title else 1.0
        pages.append(s)
        return s

    ref = run.ref
    years = run.horizons()
    # 1. title
    s = new_slide(None)
    _text(s, 0.8, 1.4, SLIDE_W - 1.6, 0.6, [t("kind", lang)], 20, colour="0072B2")
    _text(s, 0.8, 2.0, SLIDE_W - 1.6, 1.5, [t("title", lang)], 40, bold=True)
    _text(s, 0.8, 3.6, SLIDE_W - 1.6, 1.5, [t("question", lang)], 22)
    m = run.manifest
    _text(s, 0.8, 5.4, SLIDE_W - 1.6, 0.8,
          [t("subtitle", lang, run=final_path(run.folder).name, date=str(m.get("created_utc", ""))[:10],
             model=Path((m.get("model") or {}).get("path") or "?").name,
             sha=((m.get("model") or {}).get("sha256") or "")[:12])], 14, colour="555555")
    # 2. the answer
    k1, n1 = run.goals_met(ref, years[0])
    k2, n2 = run.goals_met(ref, years[-1])
    s = new_slide(t("slide_answer", lang, ref=scen_name(run, ref, lang), k1=k1, n1=n1, k2=k2, n2=n2,
                    y1=f"{years[0]:g}", y2=f"{years[-1]:g}"))
    _text(s, 0.6, s.content_top, SLIDE_W - 1.2, 5.6, five_sentences(run, lang), 16, bullets=True)
    # 3. goals met per scenario
    totals = {sid: run.goals_met(sid)[0] for sid in run.scenarios}
    hi, lo = max(totals.values()), min(totals.values())
    names = lambda k: joined([scen_name(run, x, lang) for x in run.scenarios if totals[x] == k], lang)  # noqa: E731
    s = new_slide(t("slide_goals_met", lang, best=names(hi), kb=hi, worst=names(lo), kw=lo))
    _picture(s, goals_met_figure(run, lang))
    # 4. the scorecard, split to fit
    for year in years:
        these = [g for g in run.targets if float(g["year"]) == year]
        parts = _chunks(these, MAX_TABLE_ROWS)
        k, n = run.goals_met(ref, year)
        for i, part in enumerate(parts, 1):
            title = t("slide_scorecard", lang, year=f"{year:g}", ref=scen_name(run, ref, lang), k=k, n=n)
            if len(parts) > 1:
                title += t("slide_scorecard_part", lang, i=i, m=len(parts))
            s = new_slide(title)
            block = scorecard_table(run, lang, year, part, groups=False, totals=i == len(parts))
            n_sc = len(block["columns"]) - 2
            goal_w, thr_w = 0.245, 0.105
            _table(s, block, [goal_w, thr_w] + [(1 - goal_w - thr_w) / n_sc] * n_sc)
    # 5. what reality reversed
    if run.has_actual():
        rev = reversed_verdicts(run)
        if rev:
            s = new_slide(t("slide_reversed", lang, r=len({(g["id"]) for g, *_ in rev})))
            seen, items = set(), []
            for g, sid, model_v, actual, value in rev:
                if g["id"] in seen:
                    continue
                seen.add(g["id"])
                sids = [x[1] for x in rev if x[0]["id"] == g["id"]]
                scen = t("all_scenarios", lang) if len(sids) == len(run.scenarios) else \
                    joined([scen_name(run, x, lang) for x in sids], lang)
                items.append(t("reversed_item", lang, goal=goal_name(g, lang), scen=scen,
                               model=t("met" if model_v else "missed", lang),
                               actual=t("met" if actual else "missed", lang), value=value_words(g, value, lang)))
            _text(s, 0.6, s.content_top, SLIDE_W - 1.2, 5.4, items, BODY_PT, bullets=True)
    # 6. key figures
    for g in key_targets(run):
        png = target_figure(run, g, lang)
        if png is None:
            continue
        row = run.cell(ref, g["id"])
        verdict = t("met" if run.passed(ref, g["id"]) else "missed", lang)
        s = new_slide(t("slide_target", lang, goal=goal_name(g, lang), ref=scen_name(run, ref, lang),
                        verdict=verdict, value=value_words(g, row["value"], lang),
                        threshold=threshold_words(g, lang)))
        _picture(s, png)
    # 7. what it would take
    if run.search is not None:
        sr = run.search
        by_id = {g["id"]: g for g in run.targets}
        out = sr.goals[sr.goals["status"] != "in"]
        names = [goal_name(by_id[x], lang) if x in by_id else x for x in out.loc[out["status"] == "out", "target"]]
        s = new_slide(t("slide_search", lang, out=joined(names, lang)))
        table = next(b for b in search_blocks(run, lang) if b.get("name") == "search")
        table = {**table, "rows": [r for r, st in zip(table["rows"], sr.goals["status"]) if st != "in"]}
        note = next((b["text"] for b in search_blocks(run, lang) if b["kind"] == "note"), None)
        _table(s, table, [0.3, 0.14, 0.18, 0.19, 0.19])
        paragraphs = [t("search_cost", lang, cost=f"{sr.cost:.3g}", ref=scen_name(run, sr.ref, lang),
                        ref_cost=f"{sr.ref_cost:.3g}")] + ([(note, 12, "555555")] if note else [])
        _text(s, 0.5, SLIDE_H - 1.6, SLIDE_W - 1.0, 1.0, paragraphs, 14)
    # 8. how sure
    e = run.ensemble
    if e is not None:
        probs = e.probabilities[e.probabilities["scenario"] == ref]
        if not probs.empty:
            table = next(b for b in sure_blocks(run, lang) if b["kind"] == "table")
            s = new_slide(t("slide_sure", lang, ref=scen_name(run, ref, lang), hi=int((probs["p"] >= SURE).sum()),
                            lo=int((probs["p"] <= UNLIKELY).sum())))
            # the probabilities of the reference scenario only, largest first, split to fit
            col = table["columns"].index(scen_name(run, ref, lang))
            rows = sorted(table["rows"], key=lambda r: -float(r[col]["text"]) if r[col]["text"] != "–" else 1)
            rows = [[{**r[0], "sub": None}, r[1], r[col]] for r in rows]
            half = _chunks(rows, 11)
            for i, part in enumerate(half):
                block = {"columns": [table["columns"][0], table["columns"][1], table["columns"][col]], "rows": part}
                if i:
                    s = new_slide(t("slide_sure", lang, ref=scen_name(run, ref, lang),
                                    hi=int((probs["p"] >= SURE).sum()), lo=int((probs["p"] <= UNLIKELY).sum()))
                                  + t("slide_scorecard_part", lang, i=i + 1, m=len(half)))
                _table(s, block, [0.55, 0.25, 0.20], row_h=0.4)
    for i, s in enumerate(pages, 1):
        _footer(s, run, lang, i)
    return prs


def write_slides(results_dir, lang: str = "zh", *, out=None, search_dir=None, ensemble_dir=None,
                 run: RunData | None = None) -> Path:
    """Write ``slides_<lang>.pptx`` into the results folder (or ``out``); never overwrites."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang={lang!r}: expected zh or en")
    run = run or read_run(results_dir, search_dir=search_dir, ensemble_dir=ensemble_dir, lang=lang)
    path = Path(out) if out is not None else Path(results_dir) / f"slides_{lang}.pptx"
    if path.exists():
        raise FileExistsError(f"{path}: already exists; slides are never overwritten")
    build_deck(run, lang).save(path)
    return path
