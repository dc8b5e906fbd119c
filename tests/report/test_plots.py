"""Figures: content checks on synthetic results (no model run).

Claims checked: one line per scenario; thresholds where the target puts them (in the
figure's unit); the drawn measure equals the scorecard's value at the horizon; axis
labels carry units; dashboard colours follow pass/fail; a scenario keeps its colour in
every figure; every Chinese label renders with the bundled font (no missing glyph); PDF
and SVG export of the CFF-outline font; the figure set in both languages; rebuilding it
from a results folder.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from sim import plots  # noqa: E402
from sim.report.labels import LabelError, compose, default_labels, parse_labels  # noqa: E402
from sim.report.measures import as_figure_target, measure_path  # noqa: E402
from sim.report.style import (EXTRA_SCENARIO_COLOURS, FIGSIZE,  # noqa: E402
                               FIXED_SCENARIO_COLOURS, STATUS_COLOURS, house_style,
                               scenario_colours)
from sim.report.fonts import CJK_FONT_FILE, cjk_font_path, register_cjk_font  # noqa: E402
from sim.policy.targets import Target, scorecard  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
YEARS = np.arange(2010.0, 2031.0)
SCENARIOS = ["baseline", "plan", "green_first", "zz_custom"]   # zz_custom: not a known id
META = {"baseline": {"name": {"zh": "基准情景", "en": "Baseline"}},
        "plan": {"name": {"zh": "规划方案", "en": "Plan"}},
        "green_first": {"name": {"zh": "绿色优先", "en": "Green first"}},
        "zz_custom": {"name": {"zh": "自定义情景", "en": "Custom"}}}
SECTORS = ["VA agriculture", "VA mining", "VA traditional ceramics", "VA other industry",
           "VA culture tourism", "VA high tech ceramics", "VA auto aviation",
           "VA biomed food", "VA modern services"]
REPLACEMENT = SECTORS[4:]


def synthetic_results(ids=SCENARIOS) -> dict[str, pd.DataFrame]:
    """Smooth made-up paths; scenario k pushes the transition harder from 2016."""
    out = {}
    t = YEARS - 2010
    after = np.clip(YEARS - 2015, 0, None)
    for k, sid in enumerate(ids):
        cols = {}
        for j, s in enumerate(SECTORS):
            growth = (0.10 + 0.012 * k if s in REPLACEMENT else 0.04) + 0.002 * j
            cols[s] = (20 + 10 * j) * np.exp(growth * t + (0.01 * k * after if s in REPLACEMENT
                                                             else 0))
        df = pd.DataFrame(cols, index=YEARS)
        df["GDP real"] = df[SECTORS].sum(axis=1)
        df["GDP nominal"] = df["GDP real"] * 1.02 ** t
        df["replacement industry share"] = df[REPLACEMENT].sum(axis=1) / df["GDP real"]
        df["energy use"] = 700 * 1.03 ** t
        df["energy intensity"] = df["energy use"] / df["GDP real"]
        df["industrial solid waste generation"] = 500 * 1.02 ** t
        df["solid waste utilisation rate"] = np.clip(0.45 + 0.01 * t + 0.01 * k * after / 5, 0, 1)
        df["industrial solid waste utilised"] = (df["solid waste utilisation rate"]
                                                 * df["industrial solid waste generation"])
        for j, v in enumerate(["urban medical insurance coverage", "NCMS coverage",
                               "urban pension coverage"]):
            df[v] = np.clip(0.75 + 0.01 * t + 0.004 * k * t - 0.03 * j, 0, 1)
        df["labour force"] = 100 + 0.5 * t
        df["unemployed"] = 5 - 0.1 * t - 0.03 * k * t
        df["employment total"] = df["labour force"] - df["unemployed"]
        df["registered unemployment rate"] = df["unemployed"] / df["labour force"]
        df["laid off workers"] = 3 * np.exp(-(0.05 + 0.03 * k) * t)
        df["total population"] = 160 + 0.8 * t
        df["GDP per capita"] = df["GDP nominal"] * 1e4 / df["total population"]
        df["secondary industry share"] = 0.6 - 0.005 * t
        out[sid] = df
    return out


def target(base_id, indicator, measure, comparator, threshold, unit, *, year=2020.0,
           start=2015.0, scale=1.0, zh="目标", en="Target") -> Target:
    return Target(base_id=base_id, name={"zh": zh, "en": en}, horizon="h", year=year,
                  start=start, indicator=indicator, measure=measure, comparator=comparator,
                  threshold=threshold, unit=unit, clause="(三)", basis="explicit", scale=scale)


TARGETS = [
    target("gdp_growth", "GDP real", "avg_growth", ">=", 9.0, "%/yr",
           zh="地区生产总值年均增长", en="GDP average annual growth"),
    target("replacement_share", "replacement industry share", "value_in_year", ">=", 60.0,
           "%", scale=100, zh="接续替代产业比重", en="Replacement share"),
    # same variable, threshold in the model's own unit (Dmnl, scale 1): drawn at 70 %
    target("replacement_share_dmnl", "replacement industry share", "value_in_year", ">=",
           0.70, "Dmnl", year=2030.0, start=2020.0, zh="接续替代产业比重", en="Replacement share"),
    target("energy_intensity", "energy intensity", "avg_growth", "<=", -3.2, "%/yr",
           zh="万元GDP能耗年均下降", en="Energy intensity change"),
    target("unemployment_cap", "registered unemployment rate", "max_over", "<=", 4.8, "%",
           scale=100, zh="城镇登记失业率", en="Registered unemployment"),
    target("share_gain", "replacement industry share", "ratio_change", ">=", 10.0, "pp",
           year=2030.0, start=2020.0, scale=100, zh="比重提高", en="Share gain"),
]


@pytest.fixture(scope="module")
def results():
    return synthetic_results()


@pytest.fixture(scope="module")
def card(results):
    return scorecard(results, TARGETS)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def lines_by_prefix(fig, prefix: str):
    return [ln for ax in fig.axes for ln in ax.get_lines()
            if (ln.get_gid() or "").startswith(prefix)]


def line_colours(fig) -> dict[str, str]:
    out = {}
    for ln in lines_by_prefix(fig, "scenario:"):
        sid = ln.get_gid().split(":", 1)[1]
        assert out.setdefault(sid, to_hex(ln.get_color())) == to_hex(ln.get_color())
    return out


# --------------------------------------------------------------------------- colours
def test_known_scenarios_keep_their_colour_whatever_the_company():
    alone = scenario_colours(["plan"])
    crowd = scenario_colours(["zeta", "plan", "alpha", "baseline"])
    assert alone["plan"] == crowd["plan"] == FIXED_SCENARIO_COLOURS["plan"]
    assert crowd["baseline"] == FIXED_SCENARIO_COLOURS["baseline"]


def test_other_scenarios_get_free_colours_deterministically():
    a = scenario_colours(["baseline", "zeta", "alpha"])
    b = scenario_colours(["alpha", "zeta", "baseline"])
    assert a == b                                   # order of the input does not matter
    assert a["alpha"] == EXTRA_SCENARIO_COLOURS[0] and a["zeta"] == EXTRA_SCENARIO_COLOURS[1]
    assert not set(EXTRA_SCENARIO_COLOURS) & set(FIXED_SCENARIO_COLOURS.values())
    everyone = scenario_colours([*FIXED_SCENARIO_COLOURS, "x1", "x2", "x3"])
    assert len(set(everyone.values())) == len(everyone)


def test_each_scenario_has_the_same_colour_in_every_figure(results, card):
    expected = scenario_colours(results)
    figs = [plots.plot_target_indicator(results, t, card, META) for t in TARGETS[:2]]
    figs += [plots.plot_theme(results, v["variables"], targets=TARGETS, scenarios_meta=META)
             for v in plots.THEMES.values()]
    history = pd.DataFrame({"indicator": ["gdp"], "year": [2012], "value": [600.0]})
    figs.append(plots.plot_model_vs_history(history, results, scenarios_meta=META))
    for fig in figs:
        assert line_colours(fig) == {s: to_hex(c) for s, c in expected.items()}
    # the dashboard's column headers and the sector panels' titles use the same colours
    dash = plots.plot_dashboard(card, TARGETS, META)
    heads = [to_hex(t.get_color()) for t in dash.axes[0].get_xticklabels()][1:]  # [0]: goal column
    assert heads == [to_hex(expected[s]) for s in results]
    sectors = plots.plot_gdp_by_sector(results, scenarios_meta=META)
    titles = {t.get_gid().split(":", 1)[1]: to_hex(t.get_color()) for t in sectors.findobj(
        lambda a: (a.get_gid() or "").startswith("scenario-title:"))}
    assert titles == {s: to_hex(c) for s, c in expected.items()}


# --------------------------------------------------------------------------- target figures
@pytest.mark.parametrize("tgt", TARGETS, ids=lambda t: t.id)
def test_target_figure_lines_threshold_and_value_at_horizon(results, card, tgt):
    fig = plots.plot_target_indicator(results, tgt, card, META, lang="en")
    lines = lines_by_prefix(fig, "scenario:")
    assert len(lines) == len(results)
    [threshold] = lines_by_prefix(fig, "threshold")
    assert np.allclose(threshold.get_ydata(), tgt.threshold)
    for ln in lines:
        sid = ln.get_gid().split(":", 1)[1]
        x, y = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
        row = card[(card.scenario == sid) & (card.target == tgt.id)].iloc[0]
        # what the scorecard judged is read off the drawn line: the value at the horizon,
        # or for min/max measures the extreme inside the shaded window
        reading = {"min_over": lambda w: w.min(), "max_over": lambda w: w.max()}.get(
            tgt.measure, lambda w: w[-1])
        window = y[(x >= tgt.start) & (x <= tgt.year)]
        assert reading(window) == pytest.approx(row["value"], rel=1e-9)
        markers = lines_by_prefix(fig, f"reached:{sid}")
        if math.isfinite(row["year_reached"]):
            assert markers and markers[0].get_xdata()[0] == pytest.approx(row["year_reached"])
        else:
            assert not markers


def test_year_reached_is_marked_for_some_and_not_all(card):
    # precondition of the test above: the synthetic data exercise both branches
    reached = card["year_reached"].apply(math.isfinite)
    assert reached.any() and not reached.all()


def test_target_axis_labels_carry_units(results, card):
    labels = default_labels()
    for lang in ("zh", "en"):
        fig = plots.plot_target_indicator(results, TARGETS[0], card, META, lang=lang)
        ax = fig.axes[0]
        assert labels.target_unit_text("%/yr", lang) in ax.get_ylabel()
        assert ax.get_xlabel() == labels.t("year", lang)
    fig = plots.plot_target_indicator(results, TARGETS[1], card, META, lang="zh")
    assert fig.axes[0].get_ylabel() == "接续替代产业占GDP比重（%）"


def test_horizons_are_marked(results, card):
    fig = plots.plot_target_indicator(results, TARGETS[0], card, META,
                                      horizons=[2020, 2030])
    gids = {ln.get_gid() for ln in fig.axes[0].get_lines()}
    assert {"horizon:2020", "horizon:2030"} <= gids


def test_caption_names_source_and_scenarios(results, card):
    fig = plots.plot_target_indicator(results, TARGETS[0], card, META, lang="en",
                                      source={"zh": "测试", "en": "unit test"})
    [caption] = [t for t in fig.texts if t.get_gid() == "caption"]
    text = caption.get_text()
    assert "unit test" in text and all(META[s]["name"]["en"] in text for s in results)


def test_both_languages_in_one_figure(results, card):
    fig = plots.plot_target_indicator(results, TARGETS[1], card, META, lang="both")
    ylabel = fig.axes[0].get_ylabel()
    assert "接续替代产业占GDP比重" in ylabel and "Replacement industries' share" in ylabel
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("基准情景" in t and "Baseline" in t for t in legend)


# --------------------------------------------------------------------------- dashboard
def test_dashboard_colours_match_pass_fail(results, card):
    assert card["passed"].any() and not card["passed"].all()   # both colours exercised
    fig = plots.plot_dashboard(card, TARGETS, META)
    cells = {p.get_gid(): to_hex(p.get_facecolor()) for p in fig.axes[0].patches
             if (p.get_gid() or "").startswith("cell:")}
    assert len(cells) == len(results) * len(TARGETS)
    for row in card.itertuples():
        assert cells[f"cell:{row.scenario}:{row.target}"] == to_hex(STATUS_COLOURS[bool(row.passed)])


def test_dashboard_marks_missing_rows_grey(results, card):
    partial = card[~((card.scenario == "plan") & (card.target == TARGETS[0].id))]
    fig = plots.plot_dashboard(partial, TARGETS, META)
    [cell] = [p for p in fig.axes[0].patches if p.get_gid() == f"cell:plan:{TARGETS[0].id}"]
    assert to_hex(cell.get_facecolor()) == to_hex(STATUS_COLOURS[None])


# --------------------------------------------------------------------------- thematic figures
def test_theme_thresholds_in_display_units(results):
    fig = plots.plot_theme(results, ["replacement industry share"], targets=TARGETS,
                           scenarios_meta=META)
    ax = fig.axes[0]
    drawn = {ln.get_gid(): (np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float))
             for ln in ax.get_lines() if (ln.get_gid() or "").startswith("threshold:")}
    # 60 % (unit %, scale 100) and 0.70 Dmnl (scale 1) both land on the panel's % axis
    assert drawn["threshold:replacement_share_2020"][1][0] == pytest.approx(60.0)
    assert drawn["threshold:replacement_share_dmnl_2030"][1][0] == pytest.approx(70.0)
    # the change target (+10 pp from 2020 to 2030) is the path from the 2020 value
    x, y = drawn["threshold:share_gain_2030"]
    start = 100 * results["baseline"].loc[2020.0, "replacement industry share"]
    assert (x[0], x[-1]) == (2020.0, 2030.0)
    assert (y[0], y[-1]) == (pytest.approx(start), pytest.approx(start + 10.0))
    # the lines are in % too
    y = np.asarray(lines_by_prefix(fig, "scenario:baseline")[0].get_ydata())
    assert y[0] == pytest.approx(100 * results["baseline"]["replacement industry share"].iloc[0])


def test_theme_growth_target_is_the_path_that_just_meets_it(results):
    fig = plots.plot_theme(results, ["energy intensity"], targets=TARGETS)
    [path] = lines_by_prefix(fig, "threshold:energy_intensity_2020")
    x, y = np.asarray(path.get_xdata(), float), np.asarray(path.get_ydata(), float)
    x0 = results["baseline"].loc[2015.0, "energy intensity"]
    assert x[0] == 2015.0 and x[-1] == 2020.0
    assert y[-1] == pytest.approx(x0 * (1 - 0.032) ** 5)
    # the scorecard's own measure of that path is exactly the threshold
    from sim.policy.goal_measures import MEASURES
    assert MEASURES["avg_growth"](y[None, :], x, 2015.0, 2020.0, 1.0)[0] == pytest.approx(-3.2)


@pytest.mark.parametrize("theme", list(plots.THEMES))
def test_theme_panels_have_units_and_one_line_per_scenario(results, theme):
    labels = default_labels()
    variables = plots.THEMES[theme]["variables"]
    fig = plots.plot_theme(results, variables, targets=TARGETS, scenarios_meta=META, lang="en")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(variables)
    for ax, var in zip(axes, variables):
        assert labels.unit(var, "en") in ax.get_ylabel()
        assert len([ln for ln in ax.get_lines()
                    if (ln.get_gid() or "").startswith("scenario:")]) == len(results)


def test_theme_skips_missing_variables_with_a_warning(results):
    with pytest.warns(UserWarning, match="not a variable"):
        fig = plots.plot_theme(results, ["energy use", "not a variable"])
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 1


def test_gdp_by_sector_stacks_to_gdp(results):
    fig = plots.plot_gdp_by_sector(results, scenarios_meta=META, lang="en")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(results)
    for ax, sid in zip(visible, results):
        tops = [c for c in ax.collections if (c.get_gid() or "") == "sector:VA modern services"]
        top = tops[0].get_paths()[0].vertices[:, 1].max()
        assert top == pytest.approx(results[sid]["GDP real"].max(), rel=1e-9)
        assert default_labels().unit("VA mining", "en") in visible[0].get_ylabel()


def test_history_figure_draws_every_data_point_in_model_units(results):
    data = pd.DataFrame({
        "indicator": ["secondary_share"] * 3 + ["gdp", "gdp", "other"],
        "year": [2010, 2011, 2011, 2010, 2015, 2012],
        "value": [60.78, 62.0, 61.5, 461.5, 700.0, 1.0],
    })
    fig = plots.plot_model_vs_history(data, results, scenarios_meta=META, lang="en")
    points = {ln.get_gid(): np.asarray(ln.get_ydata()) for ln in lines_by_prefix(fig, "data:")}
    # % data -> Dmnl model unit (x0.01) -> % display (x100): unchanged; duplicates kept
    assert np.allclose(points["data:secondary_share"], [60.78, 62.0, 61.5])
    assert np.allclose(points["data:gdp"], [461.5, 700.0])
    assert len(lines_by_prefix(fig, "scenario:")) == 2 * len(results)


# --------------------------------------------------------------------------- fonts
def _chinese_strings() -> list[str]:
    """Every Chinese label of the figure set: the label table, scenario and target names
    (the synthetic ones and those of the project's scenario files, where present)."""
    texts = list(default_labels().all_chinese())
    texts += [m["name"]["zh"] for m in META.values()] + [t.name["zh"] for t in TARGETS]
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data.get("name"), dict):
            texts.append(str(data["name"].get("zh", "")))
        for t in data.get("targets") or []:
            if isinstance(t, dict) and isinstance(t.get("name"), dict):
                texts.append(str(t["name"].get("zh", "")))
        for h in (data.get("horizons") or {}).values():
            if isinstance(h, dict) and isinstance(h.get("name"), dict):
                texts.append(str(h["name"].get("zh", "")))
    texts += ["✓ × – ≥ ≤ −3.2\u00a0% （）：、"]   # marks and punctuation the figures print
    return [t for t in texts if t]


def _glyph_warnings(texts) -> list[str]:
    with house_style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plt.figure(figsize=(10, 0.3 * len(texts) + 1))
        for i, text in enumerate(texts):
            fig.text(0.01, 1 - (i + 1) / (len(texts) + 1), text, fontsize=10)
        fig.canvas.draw()
        plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_every_chinese_label_renders_without_missing_glyphs():
    texts = _chinese_strings()
    assert len(texts) > 60
    assert _glyph_warnings(texts) == []


def test_missing_glyph_check_can_fail():
    # a private-use code point no font has: the check above would catch it
    assert _glyph_warnings(["\ue000"]) != []


def test_font_is_noto_sans_cjk_from_mplfonts():
    path = cjk_font_path()
    assert path.name == CJK_FONT_FILE and path.parent.parent.name == "mplfonts"
    assert register_cjk_font() == "Noto Sans CJK SC"
    from matplotlib import font_manager
    with house_style():
        found = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    assert Path(found).name == CJK_FONT_FILE           # not SimHei, not a system font


def test_pdf_and_svg_export_with_cff_font(tmp_path, results, card):
    fig = plots.plot_target_indicator(results, TARGETS[1], card, META, lang="zh")
    pdf, svg = plots.save(fig, tmp_path / "fig", formats=("pdf", "svg"))
    raw = pdf.read_bytes()
    assert raw.startswith(b"%PDF")
    assert b"NotoSansCJKsc-Regular" in raw
    assert re.search(rb"/Subtype\s*/Type3", raw)          # glyphs drawn from outlines
    assert b"/FontFile2" not in raw                       # no CFF font declared TrueType
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text and "<text" not in text         # glyphs as paths


# --------------------------------------------------------------------------- figure set
def test_write_figure_set_both_languages(tmp_path, results, card):
    out = plots.write_figure_set(tmp_path / "figures", results, card, TARGETS[:2], META,
                                 lang="both", formats=("png",), dpi=30, history=None)
    zh = sorted(p.name for p in (tmp_path / "figures" / "zh").iterdir())
    en = sorted(p.name for p in (tmp_path / "figures" / "en").iterdir())
    assert zh == en
    expected = {*(f"dashboard_{y:g}.png" for y in {t.year for t in TARGETS[:2]}),
                "gdp_by_sector.png", *(f"{k}.png" for k in plots.THEMES),
                *(f"target_{t.id}.png" for t in TARGETS[:2])}
    assert set(zh) == expected and len(out) == 2 * len(expected)
    from PIL import Image
    with Image.open(tmp_path / "figures" / "en" / "energy.png") as im:
        assert im.size == (round(FIGSIZE[0] * 30), round(FIGSIZE[1] * 30))


def test_write_figure_set_skips_figures_without_data(tmp_path, results, card):
    slim = {s: df.drop(columns=[c for c in df.columns if c.startswith("VA ")])
            for s, df in results.items()}
    with pytest.warns(UserWarning, match="gdp_by_sector"):
        out = plots.write_figure_set(tmp_path, slim, card, TARGETS[:1], META, lang="en",
                                     formats=("png",), dpi=20, history=None)
    assert "gdp_by_sector.png" not in {p.name for p in out}


def test_default_export_is_300_dpi_png_svg_pdf():
    assert plots.FORMATS == ("png", "svg", "pdf")
    from sim.report.style import DPI
    assert DPI == 300


def _results_folder(tmp_path, results, card, targets_entries) -> Path:
    folder = tmp_path / "run"
    (folder / "timeseries").mkdir(parents=True)
    for sid, df in results.items():
        df.to_csv(folder / "timeseries" / f"{sid}.csv", index_label="time")
    card.to_csv(folder / "scorecard.csv", index=False)
    targets_file = tmp_path / "targets.yaml"
    targets_file.write_text(yaml.safe_dump({
        "horizons": {"first": {"year": 2020, "base_year": 2015}},
        "targets": [{"id": "gdp_growth", "name": {"zh": "地区生产总值年均增长", "en": "GDP growth"},
                     "horizon": "first", "indicator": "GDP real", "measure": "avg_growth",
                     "comparator": ">=", "threshold": 9.0, "unit": "%/yr", "clause": "(三)",
                     "basis": "explicit"}]}, allow_unicode=True), encoding="utf-8")
    import hashlib
    manifest = {"scenarios": {s: {"id": s, **META[s]} for s in results},
                "targets": targets_entries,
                "files": {"targets": {str(targets_file):
                                      hashlib.sha256(targets_file.read_bytes()).hexdigest()}}}
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False),
                                          encoding="utf-8")
    return folder


def test_regenerate_from_a_results_folder(tmp_path, results, card):
    folder = _results_folder(tmp_path, results, card[card.target == "gdp_growth_2020"],
                             ["gdp_growth_2020"])
    data = pd.DataFrame({"indicator": ["gdp"], "year": [2012], "value": [600.0]})
    out = plots.regenerate(folder, "en", formats=("png",), dpi=30, history=data)
    names = {p.name for p in out}
    assert {"target_gdp_growth_2020.png", "dashboard_2020.png", "model_vs_history.png"} <= names
    assert all(p.parent == folder / "figures" / "en" for p in out)
    # again: the figures already there stay as they were; the new ones go to a new folder
    before = {p: p.read_bytes() for p in out}
    again = plots.regenerate(folder, "en", formats=("png",), dpi=20, history=data)
    assert all(p.read_bytes() == b for p, b in before.items())
    new, = {p.parent.parent for p in again}
    assert new.parent == folder and new.name.endswith("-figures") and len(again) == len(out)
    with pytest.raises(FileExistsError, match="out_dir .*never overwritten"):
        plots.regenerate(folder, "en", formats=("png",), out_dir=new, history=data)


def test_regenerate_names_unknown_targets(tmp_path, results, card):
    folder = _results_folder(tmp_path, results, card, ["no_such_target_2020"])
    with pytest.raises(ValueError, match="no_such_target_2020"):
        plots.regenerate(folder, "en", formats=("png",), history=None)


# --------------------------------------------------------------------------- label table
def test_label_table_covers_design_variables():
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    table = design.split("## Key model variables", 1)[1].split("\n## ", 1)[0]
    names = {n for cell in re.findall(r"^\| (.+?) \|", table, flags=re.M)
             for n in re.findall(r"`([^`]+)`", cell)}
    assert names and names <= set(default_labels().variables)


def test_label_units_match_design_units():
    labels = default_labels()
    for name, v in labels.variables.items():
        if v.model_unit == "Dmnl" and v.unit["en"] == "%":
            assert v.scale == 100, name


def test_unquoted_comma_in_label_is_an_error():
    bad = yaml.safe_load("text: {year: {zh: 年份, en: Year, month}}\nvariables: {}\n")
    with pytest.raises(LabelError, match=r"text\.year.*quote"):
        parse_labels(bad, "labels.yaml")


def test_missing_unit_is_an_error_naming_the_key():
    bad = {"variables": {"GDP real": {"zh": "GDP", "en": "GDP", "scale": 1}}, "text": {}}
    with pytest.raises(LabelError, match=r"labels\.yaml: key 'variables\.GDP real\.unit'"):
        parse_labels(bad, "labels.yaml")


def test_compose_both_joins_whole_phrases():
    labels = default_labels()
    both = compose("both", lambda one: labels.t("with_unit", one, text=labels.t("year", one),
                                                unit="x"))
    assert both == "年份（x）\nYear (x)"
    with pytest.raises(LabelError, match="lang='fr'"):
        compose("fr", str)


def test_target_dicts_and_objects_draw_alike(results):
    obj = TARGETS[0]
    as_dict = {"id": obj.id, "name": obj.name, "indicator": obj.indicator,
               "measure": obj.measure, "comparator": obj.comparator,
               "threshold": obj.threshold, "unit": obj.unit, "horizon_year": obj.year,
               "base_year": obj.start}
    a = measure_path(results["plan"], as_figure_target(obj))
    b = measure_path(results["plan"], as_figure_target(as_dict))
    pd.testing.assert_series_equal(a, b)
    with pytest.raises(ValueError, match="missing key"):
        as_figure_target({"id": "x", "measure": "avg_growth"})


def test_crossing_times_are_shown_as_the_year_they_happen_in_floored():
    from sim.report.indicators import legend_status
    labels = default_labels()
    row = pd.Series({"year_reached": 2017.3, "passed": True})
    assert legend_status(row, labels, "en") == "met, first in 2017"
    row = pd.Series({"year_reached": 2025.05, "passed": True})
    assert legend_status(row, labels, "en") == "met, first in 2025"      # not 2026
    row = pd.Series({"year_reached": 2026.2, "passed": False})
    assert legend_status(row, labels, "en", 2020.0) == "missed, reached only in 2026"
    row = pd.Series({"year_reached": 2016.0, "passed": False})     # met, then lost
    assert legend_status(row, labels, "en", 2020.0) == "missed (met in 2016, not held)"
    assert legend_status(pd.Series({"year_reached": np.nan, "passed": False}),
                         labels, "zh") == labels.t("missed", "zh")


def test_a_goal_met_lost_and_met_again_says_when_it_came_back():
    """GDP per capita ≥ 1.29× Jiangxi: above in 2010 (before the census re-basing), far
    below in 2020, above again by 2030. 'First met in 2010' would mislead: the legend gives
    the year it comes back for good, and the ring sits there."""
    from sim.report.indicators import legend_status, met_again_from
    target = as_figure_target({"id": "rank_2030", "indicator": "r", "measure": "value_in_year",
                               "comparator": ">=", "threshold": 1.29, "year": 2030, "start": 2010,
                               "unit": "Dmnl"})
    x = np.arange(2010.0, 2031.0)
    y = np.r_[1.30, np.linspace(1.2, 1.04, 10), np.linspace(1.1, 1.34, 10)]   # 2010 | 2011-20 | 2021-30
    again = met_again_from(x, y, target, 2010.0)
    k = int(np.argmax((x > 2020) & (y >= 1.29)))                 # first output meeting it again
    assert x[k - 1] < again <= x[k]
    assert np.interp(again, x[k - 1:k + 1], y[k - 1:k + 1]) == pytest.approx(1.29)
    row = pd.Series({"year_reached": 2010.0, "passed": True})
    assert legend_status(row, default_labels(), "en", 2030.0, again) == f"met, again from {int(again)}"
    assert "重新达到" in legend_status(row, default_labels(), "zh", 2030.0, again)
    # met throughout, or met from its first crossing on: nothing to add
    assert met_again_from(x, np.full(x.size, 1.5), target, 2010.0) is None
    assert met_again_from(x, np.linspace(1.0, 1.5, x.size), target, 2021.6) is None   # crosses at 2021.6
    # a dip after the horizon does not count
    assert met_again_from(x, np.r_[np.full(20, 1.5), 1.0], dataclasses.replace(target, year=2029),
                          2010.0) is None


def test_history_points_are_the_reconciled_series_of_the_data_folder():
    from sim.history import comparable_series
    from sim.report.history import find_history
    points = find_history()
    gdp = points[points["indicator"] == "gdp"].set_index("year")
    assert gdp.at[2020, "value"] == pytest.approx(957.1364) and gdp.at[2020, "unit"] == "亿元"
    assert len(points) == int(comparable_series().notna().sum().sum())   # one point per value
    assert set(default_labels().history) <= set(points["indicator"])


def test_compare_figure_writes_the_requested_format(tmp_path, results):
    [path] = plots.compare_figure(tmp_path / "cmp.svg", results, "baseline", "plan", TARGETS[:2],
                                  META, lang="en")            # both targets: horizon 2020
    text = path.read_text(encoding="utf-8")
    assert path.name == "cmp_2020.svg" and "<svg" in text
    # one cell per scenario x target, coloured as the scorecard says (ids in the SVG)
    assert len(re.findall(r'id="cell:(?:baseline|plan):', text)) == 4
    with pytest.raises(KeyError, match="nope"):
        plots.compare_figure(tmp_path / "x.png", results, "baseline", "nope", TARGETS[:1])


def test_figure_variables_exist_in_the_model_with_the_labelled_units():
    """Every variable the figures and the label table name is in models/jingdezhen.mdl,
    with the units the label table's scale assumes (guards against renames)."""
    path = ROOT / "models" / "jingdezhen.mdl"
    if not path.is_file():
        pytest.skip("models/jingdezhen.mdl not written yet")
    from sim.report.panels import SECTORS
    from sim.modelfile.mdl import read_mdl
    units = {e.name: e.units for e in read_mdl(path).elements}
    labels = default_labels()
    needed = (set(labels.variables) | {s for s, _, _ in SECTORS}
              | {v for theme in plots.THEMES.values() for v in theme["variables"]}
              | {h["variable"] for h in labels.history.values()})
    assert sorted(needed - set(units)) == []
    squash = lambda u: u.replace(" ", "")  # noqa: E731
    mismatched = {n: (units[n], v.model_unit) for n, v in labels.variables.items()
                  if squash(units[n]) != squash(v.model_unit)}
    assert mismatched == {}


def test_docs_examples_are_captioned_as_synthetic():
    from sim.report.examples import example_figures
    figs = example_figures()
    assert set(figs) == {"example_dashboard_zh", "example_target_replacement_share_zh",
                         "example_gdp_by_sector_en"}
    labels = default_labels()
    for stem, fig in figs.items():
        [caption] = [t.get_text() for t in fig.texts if t.get_gid() == "caption"]
        lang = stem.rsplit("_", 1)[1]
        assert labels.t("example_source", lang) in caption
