"""Traceability: the dependency walk, what it finds in the Jingdezhen model, and the committed
docs/traceability_*.md being what `python -m sim trace` writes now."""
from __future__ import annotations

from pathlib import Path

import pytest

from sim.analysis import trace

ROOT = Path(__file__).resolve().parents[1]


def test_downstream_counts_links_and_respects_blocked_and_stop():
    graph = {"a": {"b"}, "b": {"c", "budget"}, "budget": {"d"}, "c": {"d"}, "d": set()}
    assert trace.downstream(graph, ["a"]) == {"a": 0, "b": 1, "c": 2, "budget": 2, "d": 3}
    assert "budget" not in trace.downstream(graph, ["a"], blocked=["budget"])
    assert trace.downstream(graph, ["a"], stop=["b"]) == {"a": 0, "b": 1}


@pytest.fixture(scope="module")
def built():
    return trace.build(ROOT / "scenarios", ROOT / "models" / "jingdezhen.mdl")


def test_levers_reach_the_targets_their_clauses_aim_at(built):
    near = {name: set(r.nearest()) for name, r in built.lever_reach.items()}
    assert {"waste_reuse_2020", "waste_stockpile_2030"} <= near["circular economy investment"]
    assert {"energy_intensity_2020"} <= near["energy saving technology spending"]
    assert "laid_off_backlog_2020" in near["retraining rate"]
    assert {"pension_urban_2020", "medical_urban_2020"} <= near["insurance subsidy"]
    assert near["clay exploration spending"] == {"clay_reserves_2030"}
    # spending programmes reach the economy only through the shared budget (crowding out)
    assert "gdp_growth_2020" in built.lever_reach["circular economy investment"].via_budget
    assert "gdp_growth_2020" not in built.lever_reach["credit and bonds"].via_budget


def test_out_of_scope_measures_have_no_reach_and_every_other_has_some(built):
    for m in built.measures:
        if m.kind == "out_of_scope":
            assert m.id not in built.measure_reach
        else:
            assert built.measure_reach[m.id].direct or built.measure_reach[m.id].via_budget, m.id


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_committed_traceability_docs_are_current(built, lang):
    committed = (ROOT / "docs" / trace.OUT_FILES[lang]).read_text(encoding="utf-8")
    assert committed == trace.render(built, lang), (
        f"docs/{trace.OUT_FILES[lang]} is stale: run `python -m sim trace`")


def test_trace_command_writes_both_languages(tmp_path):
    from sim.cli import main

    assert main(["trace", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == set(trace.OUT_FILES.values())
    zh = (tmp_path / "traceability_zh.md").read_text(encoding="utf-8")
    assert "## 各条款措施的建模情况" in zh and "| (六) |" in zh
