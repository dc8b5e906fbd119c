"""A goal's threshold in words (sim.report.thresholds), and its one use everywhere: the
terminal goal matrix, scorecard.md, the brief and the figures print no model unit."""
from pathlib import Path

import pandas as pd
import pytest

from sim.policy.targets import SCORECARD_COLUMNS, load_targets
from sim.report.scorecard import format_matrix, format_table, goal_matrix, scorecard_markdown
from sim.report.thresholds import (goal_text, quantity_words, threshold_label, threshold_number,
                                   threshold_words, unit_words)

ROOT = Path(__file__).resolve().parents[2]
MODEL_UNITS = ("Dmnl", "CNY100M", "/Year", "Person10K", "tce/")


@pytest.fixture(scope="module")
def targets():
    return {t.id: t for t in load_targets(ROOT / "scenarios" / "targets.yaml")}


@pytest.fixture(scope="module")
def card(targets):
    """A scorecard of the real targets for two scenarios (values: the threshold, and one
    above it), as :func:`sim.policy.targets.scorecard` lays it out."""
    rows = []
    for sid, bump in (("baseline", 0.0), ("plan", 1.0)):
        for t in targets.values():
            row = dict.fromkeys(SCORECARD_COLUMNS)
            row.update(scenario=sid, target=t.id, indicator=t.indicator, measure=t.measure,
                       value=t.threshold + bump, threshold=t.threshold, comparator=t.comparator,
                       unit=t.unit, passed=bool(bump), margin=bump, basis=t.basis)
            rows.append(row)
    return pd.DataFrame(rows, columns=SCORECARD_COLUMNS)


# ------------------------------------------------------------------ the one function
@pytest.mark.parametrize("target_id, zh, en", [
    ("gdp_growth_2020", "≥ 14 %/年", "≥ 14 %/yr"),
    ("gdp_total_2020", "> 1000 亿元/年", "> 1000 CNY 100 M/yr"),
    ("gdp_per_capita_rank_2030", "≥ 1.29倍", "≥ 1.29×"),
    ("energy_intensity_rank_2030", "≤ 1倍", "≤ 1×"),
    ("gdp_rank_2030", "不下降", "not falling"),              # ratio_change >= 0
    ("growth_above_province_2020", "增长", "growing"),        # avg_growth > 0
    ("laid_off_backlog_2020", "逐年减少", "shrinking"),        # avg_growth < 0
    ("waste_stockpile_2030", "不增加", "not growing"),         # avg_growth <= 0
    ("clay_reserves_2030", "≥ −6.7 %/年", "≥ −6.7 %/yr"),
    ("replacement_share_2020", "≥ 60 %", "≥ 60 %"),
])
def test_threshold_words_in_both_languages(targets, target_id, zh, en):
    t = targets[target_id]
    assert threshold_words(t, "zh") == zh
    assert threshold_words(t, "en") == en
    assert threshold_words(t, "both") == (zh if zh == en else f"{zh} / {en}")


def test_any_form_of_a_target_reads_the_same(targets, card):
    """A Target, its dict and a scorecard row give the same words."""
    t = targets["waste_stockpile_2030"]
    as_dict = {"comparator": t.comparator, "threshold": t.threshold, "unit": t.unit, "measure": t.measure}
    row = card[card["target"] == t.id].iloc[0]
    assert threshold_words(t, "en") == threshold_words(as_dict, "en") == threshold_words(row, "en") \
        == "not growing"


def test_plain_words_are_ascii_for_the_terminal(targets):
    assert threshold_words(targets["gdp_per_capita_rank_2030"], "en", plain=True) == ">= 1.29x"
    assert threshold_words(targets["clay_reserves_2030"], "en", plain=True) == ">= -6.7 %/yr"
    assert threshold_words(targets["energy_intensity_rank_2030"], "en", plain=True) == "<= 1x"
    for t in targets.values():
        assert threshold_words(t, "en", plain=True).isascii(), t.id
        assert goal_text(t, "en", plain=True).isascii(), t.id


def test_number_form_units_and_values(targets):
    assert threshold_number(targets["waste_stockpile_2030"], "zh") == "≤ 0 %/年"
    assert threshold_number(targets["gdp_rank_2030"], "en") == "≥ 0"     # a change of a ratio: no ×
    assert unit_words(targets["gdp_total_2020"], "zh") == "亿元/年"
    assert unit_words("Dmnl", "en") == "" and unit_words("%/yr", "zh") == "%/年"
    assert quantity_words("1.40", targets["gdp_per_capita_rank_2030"], "zh") == "1.40倍"
    csv_row = pd.Series({"comparator": ">=", "threshold": 2.0, "unit": float("nan"), "measure": "value_in_year"})
    assert threshold_words(csv_row, "en") == "≥ 2×" and unit_words(float("nan"), "en") == ""  # empty CSV cell


def test_figure_legend_puts_words_first_and_the_line_s_number_after(targets):
    t = targets["waste_stockpile_2030"]
    assert threshold_label(t, "zh") == "目标：固废堆存量不增加（≤ 0 %/年）"
    assert threshold_label(t, "en") == "Target: waste stockpile not growing (≤ 0 %/yr)"
    assert threshold_label(targets["gdp_growth_2020"], "en") == "Target ≥ 14 %/yr"
    assert threshold_label(targets["gdp_growth_2020"], "both") == "目标 ≥ 14 %/年\nTarget ≥ 14 %/yr"


def test_goal_text_prefers_the_goal_s_own_words(targets):
    assert goal_text(targets["gdp_per_capita_rank_2030"], "en") == "GDP per capita ≥ 1.29 × Jiangxi's"
    assert goal_text(targets["gdp_growth_2020"], "en", nbsp=True) == "≥\u00a014\u00a0%/yr"


def test_every_real_goal_reads_without_a_model_unit(targets):
    for t in targets.values():
        for lang in ("zh", "en"):
            for text in (threshold_words(t, lang), threshold_label(t, lang), goal_text(t, lang)):
                assert not any(u in text for u in MODEL_UNITS), (t.id, lang, text)


# ------------------------------------------------------------------ its uses
def test_terminal_matrix_prints_goals_in_words(card):
    text = format_matrix(card)
    assert not any(u in text for u in MODEL_UNITS), text
    goal = goal_matrix(card)["goal"]
    assert goal["gdp_growth_2020"] == ">= 14 %/yr"
    assert goal["gdp_total_2020"] == "> 1000 CNY 100 M/yr"
    assert goal["gdp_per_capita_rank_2030"] == ">= 1.29x"
    assert goal["gdp_rank_2030"] == "not falling"
    assert goal["waste_stockpile_2030"] == "not growing"
    assert goal["laid_off_backlog_2020"] == "shrinking"
    assert all(g.isascii() for g in goal)                   # fixed-width columns stay aligned
    line = next(ln for ln in text.splitlines() if ln.startswith("waste_stockpile_2030"))
    assert line.split()[1:3] == ["not", "growing"]


def test_scorecard_markdown_and_table_print_goals_in_words(card, targets):
    actual = pd.DataFrame({"target": list(targets), "series": "", "value": float("nan"),
                           "passed": None, "status": "no published figure", "reason": "none",
                           "source": "", "note": ""})
    md = scorecard_markdown(card, actual)
    assert not any(u in md for u in MODEL_UNITS)
    header = md.splitlines()[0]
    assert "| goal |" in header and "comparator" not in header
    assert "| plan | gdp_per_capita_rank_2030 | 2.29 | ≥ 1.29× |" in md
    assert "| baseline | gdp_total_2020 | 1000.0 | > 1000 CNY 100 M/yr | CNY 100 M/yr |" in md
    table = format_table(card)
    assert not any(u in table for u in MODEL_UNITS) and "not growing" in table


def test_one_implementation_of_comparator_signs():
    """The comparator signs are defined once (sim/report/thresholds.py), not per output."""
    defined = [p for p in (ROOT / "sim").rglob("*.py")
               if "COMPARATOR_SIGNS = " in p.read_text(encoding="utf-8")]
    assert [p.name for p in defined] == ["thresholds.py"]
