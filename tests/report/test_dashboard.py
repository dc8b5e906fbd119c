"""The goal dashboard on a 16:9 slide (issue 14, item 6): one figure per horizon with a
goals-met row; goals in words where a number says nothing; no year under a missed goal;
years floored; no text outside its cell or over its neighbour; share axes from zero."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from sim import plots  # noqa: E402
from sim.policy.targets import load_targets, scorecard  # noqa: E402
from sim.report.thresholds import goal_text  # noqa: E402
from sim.report.labels import default_labels  # noqa: E402
from sim.report.measures import as_figure_target  # noqa: E402
from sim.report.style import FIGSIZE  # noqa: E402
from tests.report.test_plots import META, TARGETS, synthetic_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PROJECT_TARGETS = list(load_targets(ROOT / "scenarios" / "targets.yaml"))
YEAR = re.compile(r"(19|20)\d\d")


@pytest.fixture(scope="module")
def results():
    return synthetic_results()


@pytest.fixture(scope="module")
def card(results):
    return scorecard(results, TARGETS)


def _texts(fig, prefix):
    ax = fig.axes[0]
    patches = {p.get_gid(): p for p in ax.patches if (p.get_gid() or "").startswith(prefix)}
    out = {}
    for t in ax.texts:
        x, y = t.get_position()
        for gid, p in patches.items():
            if p.get_x() <= x <= p.get_x() + 1 and p.get_y() <= y <= p.get_y() + 1:
                out[gid] = t
    return patches, out


def test_one_16_9_figure_per_horizon(card):
    figs = plots.plot_dashboards(card, TARGETS, META, lang="en")
    assert sorted(figs) == [2020.0, 2030.0]
    for year, fig in figs.items():
        assert tuple(fig.get_size_inches()) == pytest.approx(FIGSIZE)
        cells = [p.get_gid() for p in fig.axes[0].patches if p.get_gid().startswith("cell:")]
        ids = {g.split(":")[2] for g in cells}
        assert ids == {t.id for t in TARGETS if t.year == year}


def test_goals_met_row_counts_the_green_cells(card):
    fig = plots.plot_dashboard(card, TARGETS, META, lang="zh", horizon=2020)
    _, texts = _texts(fig, "goals_met:")
    n = sum(t.year == 2020 for t in TARGETS)
    for sid in META:
        rows = card[(card.scenario == sid) & card.target.isin([t.id for t in TARGETS if t.year == 2020])]
        assert texts[f"goals_met:{sid}"].get_text() == f"{int(rows.passed.sum())} / {n}"


def test_no_year_under_a_missed_goal_and_years_floored(card):
    edited = card.copy()
    edited["year_reached"] = 2025.05            # every goal "first reached" early in 2025
    fig = plots.plot_dashboard(edited, TARGETS, META, lang="en", horizon=2020)
    _, texts = _texts(fig, "cell:")
    assert texts
    for gid, t in texts.items():
        sid, tid = gid.split(":")[1:]
        passed = bool(edited[(edited.scenario == sid) & (edited.target == tid)].passed.iloc[0])
        if passed:
            assert "2025" in t.get_text() and "2026" not in t.get_text(), t.get_text()
        else:
            assert not YEAR.search(t.get_text()), f"{gid}: year under a missed goal: {t.get_text()!r}"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_project_goal_reads_in_words_or_a_unit(lang):
    """No bare "> 0" / "≤ 1" and no "Dmnl": pure-ratio goals and zero thresholds are worded."""
    labels = default_labels()
    for t in PROJECT_TARGETS:
        text = goal_text(as_figure_target(t), lang, labels=labels)
        assert "Dmnl" not in text
        if t.unit == "Dmnl" or t.threshold == 0:
            assert labels.goal_words(t.id, lang), f"{t.id}: add goal words in labels.yaml (goals:)"


def _project_card():
    rng = np.random.default_rng(3)
    rows = []
    for sid in ("baseline", "plan", "accelerated", "green_first", "social_first", "no_transfers"):
        for t in PROJECT_TARGETS:
            passed = bool(rng.random() < 0.5)
            rows.append({"scenario": sid, "target": t.id, "passed": passed,
                         "margin": rng.normal(0, 30), "value": 1.0,
                         "year_reached": 2016.4 if passed else np.nan})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("lang", ["zh", "en", "both"])
def test_no_text_leaves_its_cell_or_overlaps_another(lang):
    """Rendered extents: each cell's text inside its cell; goal texts inside the goal
    column; target names left of the table; no two row labels overlapping."""
    card = _project_card()
    meta = {s: {"name": {"zh": s, "en": s.replace("_", " ").title()}} for s in card.scenario.unique()}
    for year, fig in plots.plot_dashboards(card, PROJECT_TARGETS, meta, lang=lang).items():
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        patches, texts = _texts(fig, "cell:")
        for gid, t in texts.items():
            box, cell = t.get_window_extent(renderer), patches[gid].get_window_extent(renderer)
            assert cell.x0 - 1 <= box.x0 and box.x1 <= cell.x1 + 1, f"{year} {gid}: text wider than its cell"
            assert cell.y0 - 1 <= box.y0 and box.y1 <= cell.y1 + 1, f"{year} {gid}: text taller than its cell"
        table_left = min(p.get_window_extent(renderer).x0 for p in patches.values())
        axes_left = ax.get_window_extent(renderer).x0
        goals = [t for t in ax.texts if (t.get_gid() or "").startswith("goal:")]
        assert goals
        for t in goals:
            box = t.get_window_extent(renderer)
            assert axes_left - 1 <= box.x0 and box.x1 <= table_left + 1, f"{t.get_gid()} overflows"
        boxes = [lab.get_window_extent(renderer) for lab in ax.get_yticklabels()]
        for b in boxes:
            assert b.x1 <= axes_left + 1
        boxes.sort(key=lambda b: b.y0)
        for lower, upper in zip(boxes, boxes[1:]):
            assert lower.y1 <= upper.y0 + 1, f"{year}: row labels overlap"
        matplotlib.pyplot.close(fig)


def test_share_axis_includes_zero_and_the_threshold(results, card):
    share = next(t for t in TARGETS if t.unit == "%" and t.measure == "value_in_year")
    fig = plots.plot_target_indicator(results, share, card, META, lang="en")
    lo, hi = fig.axes[0].get_ylim()
    assert lo <= 0 and lo > -1 and hi >= share.threshold
    growth = next(t for t in TARGETS if t.measure == "avg_growth")
    fig = plots.plot_target_indicator(results, growth, card, META, lang="en")
    lo, hi = fig.axes[0].get_ylim()
    assert lo <= growth.threshold <= hi


def test_window_measure_axis_names_the_indicator(results, card):
    growth = next(t for t in TARGETS if t.measure == "avg_growth")
    fig = plots.plot_target_indicator(results, growth, card, META, lang="en")
    label = fig.axes[0].get_ylabel().replace("\n", " ")
    assert default_labels().name(growth.indicator, "en") in label and "since 2015" in label


def test_actual_column_only_where_some_goal_can_be_checked(card):
    """A slide whose goals all lie in the future (2030: "not testable") gets no Actual column;
    one with a published outcome does, and its goals-met cell counts met / published."""
    edited = card.copy()
    edited["actual_status"] = "not testable"
    edited["actual_value"], edited["actual_passed"], edited["reality"] = np.nan, None, None
    first = next(t.id for t in TARGETS if t.year == 2020)
    published = edited["target"] == first
    edited.loc[published, ["actual_status", "actual_value", "actual_passed"]] = ["published", 1e6, "True"]
    figs = plots.plot_dashboards(edited, TARGETS, META, lang="en")
    gids = {y: {p.get_gid() for p in f.axes[0].patches} for y, f in figs.items()}
    assert f"cell:actual:{first}" in gids[2020.0] and "goals_met:actual" in gids[2020.0]
    assert not any(g.startswith("cell:actual:") for g in gids[2030.0])
    _, texts = _texts(figs[2020.0], "goals_met:")
    assert texts["goals_met:actual"].get_text() == "1 / 1"
