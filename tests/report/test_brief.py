"""The policy brief and the slides: numbers from the run, sections that say what is missing,
a self-contained HTML page checked in a real browser, PDF pages checked as images."""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.report import brief
from sim.report.thresholds import threshold_words
from sim.report.brief_data import read_run
from sim.run import run_all

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A real run of the project model (baseline and plan), no figures or documents."""
    root = tmp_path_factory.mktemp("results")
    return run_all(ROOT / "scenarios", ROOT / "models" / "jingdezhen.mdl", results_root=root,
                   scenarios=["baseline", "plan"], figures=False, documents=False)


@pytest.fixture(scope="module")
def briefs(run_dir, tmp_path_factory):
    """Both briefs (HTML + PDF) of ``run_dir``, written into a copy of it."""
    folder = tmp_path_factory.mktemp("brief") / run_dir.name
    shutil.copytree(run_dir, folder)
    paths = {lang: brief.write_brief(folder, lang) for lang in ("zh", "en")}
    return folder, paths


def copy_run(run_dir: Path, tmp_path: Path, *, reality: bool = True) -> Path:
    """A copy of the run; ``reality=False`` drops the published outcomes from its scorecard."""
    dest = tmp_path / "results" / run_dir.name
    shutil.copytree(run_dir, dest)
    if not reality:
        card = pd.read_csv(dest / "scorecard.csv")
        card.drop(columns=[c for c in card.columns if c.startswith("actual") or c == "reality"]).to_csv(
            dest / "scorecard.csv", index=False)
    return dest


# ------------------------------------------------------------------ the words follow the numbers
def test_first_sentence_counts_the_goals_met_and_follows_a_changed_scorecard(run_dir, tmp_path):
    folder = copy_run(run_dir, tmp_path)
    card = pd.read_csv(folder / "scorecard.csv")
    plan20 = card[(card["scenario"] == "plan") & (card["horizon"] == 2020)]
    k, n = int(plan20["passed"].sum()), len(plan20)
    first = brief.five_sentences(read_run(folder), "en")[0]
    assert f"the Plan scenario meets {k} of {n} goals for 2020" in first
    # flip one missed 2020 goal of the plan to met: the sentence must say one more
    idx = plan20.index[~plan20["passed"]][0]
    card.loc[idx, "passed"] = True
    card.to_csv(folder / "scorecard.csv", index=False)
    assert f"meets {k + 1} of {n} goals for 2020" in brief.five_sentences(read_run(folder), "en")[0]


def test_thresholds_are_words_not_model_units(run_dir):
    run = read_run(run_dir)
    by_id = {t["id"]: t for t in run.targets}
    assert threshold_words(by_id["growth_above_province_2020"], "en") == "growing"   # real growth against Jiangxi: avg_growth > 0
    assert threshold_words(by_id["growth_above_province_2020"], "zh") == "增长"
    assert threshold_words(by_id["gdp_growth_2020"], "zh") == "≥ 14 %/年"
    assert threshold_words(by_id["gdp_per_capita_rank_2030"], "zh") == "≥ 1.29倍"
    table = brief.scorecard_table(run, "en")
    assert not any("Dmnl" in c["text"] for row in table["rows"] if isinstance(row, list) for c in row)


def test_actual_column_marks_the_verdicts_reality_reversed(run_dir, tmp_path):
    folder = copy_run(run_dir, tmp_path, reality=False)
    card = pd.read_csv(folder / "scorecard.csv")
    card["actual_value"] = np.nan
    card.loc[card["target"] == "gdp_total_2020", "actual_value"] = 957.14   # model: met; reality: missed
    card.loc[card["target"] == "gdp_growth_2020", "actual_value"] = 7.4     # model: missed; reality: missed
    card.to_csv(folder / "scorecard.csv", index=False)
    run = read_run(folder)
    assert run.has_actual()
    third = brief.five_sentences(run, "en")[2]
    assert "Of the 2 goals for 2020 with a published outcome" in third
    assert "confirmed the Plan scenario's verdict on 1 and reversed it on 1: GDP above 100 billion yuan" in third
    table = brief.scorecard_table(run, "en")
    assert table["columns"][-1] == "Actual (2020)"
    rows = {r[0]["text"]: r for r in table["rows"] if isinstance(r, list)}
    total = rows["GDP above 100 billion yuan"]
    assert [c["cls"] for c in total[2:4]] == ["reversed", "reversed"]
    assert total[-1]["text"] == "× 957" and total[-1]["cls"] == "missed"
    assert [c["cls"] for c in rows["GDP average annual growth"][2:4]] == ["missed", "missed"]
    assert rows["Replacement industries' share of GDP"][-1]["text"] == "no published figure"
    assert rows["Transformation essentially completed"][-1]["text"] == "no published figure"
    blocks = brief.build_blocks(run, "en", figures=False)
    items = next(b["items"] for b in blocks if b["kind"] == "ul")
    assert items == ["GDP above 100 billion yuan: the model says met in every scenario; in reality "
                     "missed (957 CNY 100 M/yr)"]


def test_the_runs_own_reality_check_reaches_the_brief(run_dir):
    card = pd.read_csv(run_dir / "scorecard.csv")
    if "actual_value" not in card.columns:
        pytest.skip("this checkout's run writes no published outcomes (actual_value)")
    run = read_run(run_dir)
    published = card[card["actual_status"] == "published"].drop_duplicates("target")
    plan = card[card["scenario"] == "plan"].set_index("target")
    reversed_ = [t for t in published["target"] if plan.loc[t, "reality"] == "reversed"]
    third = brief.five_sentences(run, "en")[2]
    assert f"Of the {len(published)} goals for 2020 with a published outcome" in third
    assert f"reversed it on {len(reversed_)}" in third
    table = brief.scorecard_table(run, "en")
    assert table["columns"][-1] == "Actual (2020)"
    n_rev = sum(c["cls"] == "reversed" for row in table["rows"] if isinstance(row, list) for c in row)
    assert n_rev == int((card["reality"] == "reversed").sum())


def test_missing_judgements_are_said_plainly_and_same_model_ensembles_are_used(run_dir, tmp_path):
    folder = copy_run(run_dir, tmp_path, reality=False)
    run = read_run(folder, search_doc=None)
    sentences = brief.five_sentences(run, "en")
    assert sentences[2] == brief.t("s_reality_none", "en")
    assert sentences[3] == brief.t("s_search_none", "en")
    assert sentences[4] == brief.t("s_sure_none", "en")
    notes = [b["text"] for b in brief.build_blocks(run, "en", figures=False) if b["kind"] == "note"]
    for key in ("sure_missing", "levers_missing", "reversed_missing"):
        assert brief.t(key, "en") in notes
    # an ensemble of another model beside the run is ignored; one of the same model is read
    sha = json.loads((folder / "manifest.json").read_text())["model"]["sha256"]
    targets = [t["id"] for t in run.targets]
    p = np.linspace(0, 1, len(targets))
    for name, model_sha in (("20990101T000000Z-ensemble-other", "0" * 64), ("20000101T000000Z-ensemble", sha)):
        ens = folder.parent / name
        ens.mkdir()
        pd.DataFrame({"scenario": "plan", "target": targets, "p": p}).to_csv(ens / "probabilities.csv", index=False)
        (ens / "manifest.json").write_text(json.dumps({"model": {"sha256": model_sha},
                                                       "sampling": {"rows": 640, "method": "lhs"},
                                                       "parameters": [{}] * 3}))
    run = read_run(folder, search_doc=None)
    assert run.ensemble is not None and run.ensemble.folder == "20000101T000000Z-ensemble"
    fifth = brief.five_sentences(run, "en")[4]
    hi, lo = int((p >= 0.9).sum()), int((p <= 0.1).sum())
    assert f"Across 640 runs per scenario varying 3 uncertain" in fifth
    assert f"meets {hi} goals in at least 90 % of runs and {lo} in at most 10 %" in fifth


def test_policy_search_from_the_committed_doc_is_labelled(run_dir):
    doc = ROOT / "docs" / "policy_search.md"
    if not doc.is_file():
        pytest.skip("docs/policy_search.md is not in this checkout")
    run = read_run(run_dir)
    assert run.search is not None and run.search.from_doc
    goals = run.search.goals.set_index("target")
    # the best value alone is the threshold plus the best margin (docs: -3.181 below 14 %/yr)
    text = doc.read_text(encoding="utf-8")
    row = re.search(r"^\| gdp_growth_2020 \|.*$", text, re.M).group(0).split("|")
    assert goals.loc["gdp_growth_2020", "best"] == pytest.approx(14 + float(row[8]))
    blocks = brief.search_blocks(run, "zh")
    assert blocks[1]["kind"] == "note" and "docs/policy_search.md" in blocks[1]["text"]
    assert "不是本次运行" in blocks[1]["text"]
    # the search says which goals and which vantage it answers, as the doc records them
    seen = re.search(r"\*\*Seen from (\d{4})\*\*.*?the levers act from (\d{4})", text)
    en = [b["text"] for b in brief.search_blocks(run, "en") if b["kind"] == "p"]
    assert "as many 2020 goals as possible" in en[0]
    assert f"knows the observed history to {seen.group(1)} only, and the levers act from {seen.group(2)}" in en[1]


def test_the_newest_search_is_read_by_when_it_was_made_not_by_its_name(run_dir, tmp_path):
    """A search folder named with --out (results/optimize_2030_from_2020) sorts after every
    timestamp by name; the brief takes the newest by the manifest's creation time, and says
    the horizon and the vantage that search answers."""
    folder = copy_run(run_dir, tmp_path)
    sha = json.loads((folder / "manifest.json").read_text())["model"]["sha256"]
    for name, created, goal, vantage in (("optimize_2030_from_2020", "2026-01-01T00:00:00+00:00",
                                          "replacement_share_2030", 2020),
                                         ("20260601T000000Z-optimize_plan", "2026-06-01T00:00:00+00:00",
                                          "gdp_growth_2020", 2015)):
        s = folder.parent / name
        s.mkdir()
        pd.DataFrame({"target": [goal], "comparator": [">="], "status": ["in the search"], "threshold": [1.0],
                      "best_alone": [2.0],
                      "value": [1.5]}).to_csv(s / "goals.csv", index=False)
        pd.DataFrame({"lever": ["retraining rate"], "unit": ["1/Year"], "baseline": [0.2], "start": [0.4],
                      "found": [0.5], "cost": [0.3]}).to_csv(s / "levers.csv", index=False)
        (s / "manifest.json").write_text(json.dumps({
            "model": {"sha256": sha}, "created_utc": created,
            "search": {"from": "plan", "cost": 0.3, "ref_cost": 1.0,
                       "vantage": {"history_end_year": vantage, "levers_from": vantage + 1}}}))
    run = read_run(folder)
    assert run.search.folder == "20260601T000000Z-optimize_plan" and run.search.vantage == 2015
    text = " ".join(b["text"] for b in brief.search_blocks(run, "en") if b["kind"] == "p")
    assert "2020 goals" in text and "history to 2015 only, and the levers act from 2016" in text


# ------------------------------------------------------------------ the files
class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def test_html_is_self_contained_and_its_font_has_every_character(briefs):
    from fontTools.ttLib import TTFont

    for lang in ("zh", "en"):
        page = (briefs[0] / f"brief_{lang}.html").read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page)
        srcs = re.findall(r'<img[^>]*src="([^"]{0,30})', page)
        assert len(srcs) >= 2 and all(s.startswith("data:image/png;base64,") for s in srcs)
        woff = base64.b64decode(re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page).group(1))
        cmap = TTFont(io.BytesIO(woff)).getBestCmap()
        parser = _Text()
        parser.feed(page)
        text = "".join(parser.parts)
        missing = sorted({c for c in text if not c.isspace() and ord(c) not in cmap})
        assert not missing, f"brief_{lang}.html: characters missing from the embedded font: {missing}"
        if lang == "zh":
            assert len(CJK.findall(text)) > 1000


def test_pdf_pages_render_as_images_with_the_cjk_font(briefs):
    pdf = briefs[0] / "brief_zh.pdf"
    data = pdf.read_bytes()
    assert b"/Subtype /Type3" in data          # glyphs drawn from the font's outlines
    assert not re.search(rb"/FontFile2", data)  # no CFF font mislabelled as TrueType
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian package poppler-utils) not found: the PDF pages were not "
                    "checked as images")
    out = pdf.parent / "pages"
    out.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(out / "p")], check=True, timeout=120)
    pages = sorted(out.glob("p-*.png"))
    assert len(pages) >= 4
    from PIL import Image

    first = np.asarray(Image.open(pages[0]).convert("L"), dtype=float)
    assert first.shape[0] > first.shape[1]                # A4 portrait
    title_band = first[int(0.06 * first.shape[0]):int(0.11 * first.shape[0])]
    assert (title_band < 100).mean() > 0.01               # the title is drawn (dark ink)
    for p in pages:
        img = np.asarray(Image.open(p).convert("L"), dtype=float)
        margin = np.concatenate([img[:, :int(0.05 * img.shape[1])], img[:, -int(0.05 * img.shape[1]):]], axis=1)
        assert (margin < 200).mean() < 0.002, f"{p.name}: ink in the side margins (something overflows)"


# ------------------------------------------------------------------ in a real browser
CHECK_JS = r"""
(async () => {
  await document.fonts.ready;
  const imgs = [...document.images];
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const viewport = document.documentElement.clientWidth;
  const overflow = [];
  for (const el of document.body.querySelectorAll('*')) {
    const cs = getComputedStyle(el);
    if (cs.display === 'inline' || cs.display === 'none') continue;
    const r = el.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1 && cs.overflowX === 'visible')
      overflow.push(`${el.tagName} ${el.className}: content ${el.scrollWidth}px in ${el.clientWidth}px: ${el.textContent.slice(0, 40)}`);
    if (r.right > viewport + 1) overflow.push(`${el.tagName} ${el.className}: right edge ${r.right}px beyond ${viewport}px`);
  }
  return {
    images: imgs.map(i => [i.naturalWidth, i.naturalHeight]),
    overflow: overflow,
    pageWidth: document.documentElement.scrollWidth, viewport: viewport,
    fonts: [...document.fonts].map(f => [f.family, f.status]),
  };
})()
"""


@pytest.fixture(scope="module")
def chromium():
    from tests.report.chromium import BINARIES, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip(f"no Chromium found (looked for {', '.join(BINARIES)}): install Debian's "
                    "`chromium` package (.ci/run does) to run the browser test of the brief")
    return binary


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("width", [1280, 900])
def test_brief_in_headless_chromium(briefs, chromium, lang, width):
    from tests.report.chromium import Browser

    folder = briefs[0]
    n_figures = len(re.findall(r"<figure", (folder / f"brief_{lang}.html").read_text(encoding="utf-8")))
    with Browser(chromium, width=width, height=1400) as browser:
        browser.open(folder / f"brief_{lang}.html")
        res = browser.evaluate(CHECK_JS)
        assert len(res["images"]) == n_figures >= 2
        assert all(w > 0 and h > 0 for w, h in res["images"]), res["images"]
        assert res["overflow"] == [], res["overflow"][:10]
        assert res["pageWidth"] <= res["viewport"]
        assert ["BriefSans", "loaded"] in res["fonts"]
        # every element holding Chinese is drawn with the embedded font alone (a missing glyph
        # would fall back to another font, or to boxes)
        nodes = browser.platform_fonts("h1, h2, h3, p, li, th, td, figcaption")
        chinese = [n for n in nodes if CJK.search(re.sub(r"<[^>]+>", "", n["html"]))]
        if lang == "zh":
            assert len(chinese) > 100
        for n in chinese:
            assert n["fonts"] and all(f["isCustomFont"] and "CJK" in f["familyName"] for f in n["fonts"]), n
        shot = browser.screenshot(folder / f"shot_{lang}_{width}.png")
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape[1] == width and (img < 100).mean() > 0.005   # text drawn, not a blank page


# ------------------------------------------------------------------ slides
def test_slides_are_16_9_fit_their_slide_and_carry_one_message_each(run_dir, tmp_path):
    from pptx import Presentation
    from pptx.util import Emu

    from sim.report import slides

    folder = copy_run(run_dir, tmp_path)
    path = slides.write_slides(folder, "zh")
    prs = Presentation(path)
    assert prs.slide_width * 9 == prs.slide_height * 16
    run = read_run(folder)
    k, n = run.goals_met("plan", 2020.0)
    titles = []
    for s in prs.slides:
        for sh in s.shapes:
            assert sh.left >= 0 and sh.top >= 0
            assert sh.left + sh.width <= prs.slide_width and sh.top + sh.height <= prs.slide_height, sh.name
        texts = [sh.text_frame.text for sh in s.shapes if sh.has_text_frame and sh.text_frame.text.strip()]
        titles.append(texts[0] if texts else "")
        for sh in s.shapes:
            if sh.has_table:
                assert len(sh.table.rows) <= slides.MAX_TABLE_ROWS + 2 or sh.table.rows[0].height < Emu(400000)
                sizes = {r.font.size.pt for row in sh.table.rows for c in row.cells
                         for p in c.text_frame.paragraphs for r in p.runs}
                assert min(sizes) >= 11 and max(sizes) >= 13
    assert any(f"2020年目标：规划方案情景达标{k}项（共{n}项）" in t for t in titles), titles
    assert len(set(titles)) >= len(titles) - 3          # titles are messages, not one repeated label
    assert sum(s.shapes[0].shape_type is not None for s in prs.slides) == len(prs.slides)
    with pytest.raises(FileExistsError):
        slides.write_slides(folder, "zh")


def test_cli_brief_writes_html_and_refuses_to_overwrite(run_dir, tmp_path, capsys):
    from sim.cli import main

    folder = copy_run(run_dir, tmp_path)
    assert main(["brief", str(folder), "--lang", "en", "--no-pdf"]) == 0
    assert (folder / "brief_en.html").is_file() and not (folder / "brief_en.pdf").exists()
    assert main(["brief", str(folder), "--lang", "en", "--no-pdf"]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert main(["brief", str(tmp_path / "nowhere")]) == 2
    assert "results folder not found" in capsys.readouterr().err


def test_the_main_job_leaves_both_briefs_and_the_slides(tmp_path):
    out = run_all(ROOT / "scenarios", ROOT / "models" / "jingdezhen.mdl", results_root=tmp_path,
                  scenarios=["baseline", "plan"], figures=False, documents=True)
    names = ["brief_zh.html", "brief_zh.pdf", "brief_en.html", "brief_en.pdf", "slides_zh.pptx"]
    for name in names:
        assert (out / name).stat().st_size > 10_000, name
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["documents"].startswith("written: ")
    assert set(names) <= set(manifest["outputs"])


def test_contributions_of_the_same_model_name_the_levers_that_move_each_goal(run_dir, tmp_path):
    folder = copy_run(run_dir, tmp_path)
    sha = json.loads((folder / "manifest.json").read_text())["model"]["sha256"]
    c = folder.parent / "20000101T000000Z-contributions-plan"
    c.mkdir()
    pd.DataFrame({"target": "gdp_growth_2020", "lever": ["retraining rate", "credit and bonds", "central transfer",
                                                          "talent spending"],
                  "clause": "", "shapley": [0.05, -0.4, 0.2, 0.01], "one_at_a_time": 0.0}).to_csv(
        c / "contributions_by_lever.csv", index=False)
    pd.DataFrame({"target": ["gdp_growth_2020"], "unit": ["%/yr"], "parent": [8.0], "scenario": [7.86],
                  "total": [-0.14], "interaction": [0.02], "passed": [False]}).to_csv(c / "goals.csv", index=False)
    (c / "manifest.json").write_text(json.dumps({"model": {"sha256": sha}, "scenario": "plan",
                                                 "parent": "baseline"}))
    run = read_run(folder)
    assert run.search is None or run.search.folder != c.name        # not mistaken for a policy search
    table = next(b for b in brief.contribution_blocks(run, "en") if b["kind"] == "table")
    (row,) = table["rows"]
    names = [brief.lever_name(run, lv, "en") for lv in ("credit and bonds", "central transfer", "retraining rate")]
    assert row[2]["text"] == f"{names[0]} −0.400; {names[1]} 0.200; {names[2]} 0.050"   # largest |value| first, top 3
    assert row[1]["text"] == "−0.140" and row[3]["text"] == "0.020" and row[1]["cls"] == "missed"
