"""Policy contributions: Shapley values and one-at-a-time changes add up to the total change
(conservation), agree with independent single runs, and have the signs the model's causal
structure implies."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.analysis import contributions as C
from sim.analysis.whatif import Workspace

ROOT = Path(__file__).resolve().parents[2]
LEVERS = ["circular economy investment", "insurance subsidy", "retraining rate", "credit and bonds"]
GOALS = ["waste_reuse_2020", "pension_urban_2020", "laid_off_backlog_2020", "gdp_growth_2020"]


def test_exact_shapley_of_a_known_game():
    # f(S) = 1·a + 2·b + 3·c + 4·a·b: the interaction 4 is shared equally by a and b
    masks = C._all_masks(3)
    f = (masks @ np.array([1.0, 2.0, 3.0]) + 4.0 * masks[:, 0] * masks[:, 1])[:, None]
    assert np.allclose(C.shapley_exact(f, 3)[:, 0], [3.0, 4.0, 3.0])


def test_sampled_shapley_is_exact_on_an_additive_game_and_conserves_on_any():
    w = np.array([1.0, -2.0, 0.5, 4.0])

    def additive(masks):
        return (masks @ w)[:, None]

    phi, se = C.shapley_sampled(additive, 4, C.orderings(4, 6, seed=3))
    assert np.allclose(phi[:, 0], w) and np.allclose(se, 0)

    def interacting(masks):
        return (masks @ w + 5.0 * masks[:, 1] * masks[:, 3] - masks.all(axis=1))[:, None]

    phi, _ = C.shapley_sampled(interacting, 4, C.orderings(4, 10, seed=1))
    full, none = interacting(np.ones((1, 4), bool)), interacting(np.zeros((1, 4), bool))
    assert phi.sum() == pytest.approx(float((full - none).item()), abs=1e-12)


@pytest.fixture(scope="module")
def ws():
    return Workspace(ROOT / "scenarios", ROOT / "models" / "jingdezhen.mdl")


@pytest.fixture(scope="module")
def exact(ws):
    return C.contributions("plan", levers=LEVERS, goals=GOALS, method="exact", workspace=ws)


def test_contributions_and_interaction_sum_to_the_total_change(exact):
    g = exact.goals.set_index("target")
    shap = exact.by_lever.groupby("target").shapley.sum()
    oat = exact.by_lever.groupby("target").one_at_a_time.sum()
    for t in GOALS:
        scale = max(1.0, abs(g.total[t]))
        assert shap[t] == pytest.approx(g.total[t], abs=1e-10 * scale)
        assert oat[t] + g.interaction[t] == pytest.approx(g.total[t], abs=1e-10 * scale)
        assert g.scenario[t] - g.parent[t] == pytest.approx(g.total[t], abs=1e-10 * scale)
    clause = exact.by_clause.groupby("target").shapley.sum()
    assert np.allclose(clause[GOALS], shap[GOALS], atol=1e-10)


def test_total_change_matches_independent_single_runs(ws, exact):
    # the plan with every other lever set back to its baseline value (from the same 2016 start)
    others = {n: ws.facts["defaults"][n] for n in ws.scenarios["plan"].levers if n not in LEVERS}
    variant = ws.variant("plan", others)
    # the 2020 goals are judged from 2015: single runs seen from there, as the main run sees them
    card = ws.scorecard({"base": ws.run("baseline", events=False, vantage=2015),
                         "var": ws.run(variant, events=False, vantage=2015)})
    card = card.set_index(["scenario", "target"])
    g = exact.goals.set_index("target")
    for t in GOALS:
        single = card.loc[("var", t), "value"] - card.loc[("base", t), "value"]
        # the solvers absolute tolerance scales with the largest stock, so a small stock's
        # growth rate (the laid-off backlog) agrees to about 0.01 %/yr
        assert g.total[t] == pytest.approx(single, rel=1e-3, abs=0.02), t


def test_known_signs(exact):
    s = exact.by_lever.set_index(["target", "lever"]).shapley
    assert s[("waste_reuse_2020", "circular economy investment")] > 1.0     # builds reuse capacity
    assert s[("pension_urban_2020", "insurance subsidy")] > 1.0            # pays enrolment
    assert s[("laid_off_backlog_2020", "retraining rate")] < 0             # shrinks the backlog
    assert s[("gdp_growth_2020", "credit and bonds")] > 0                  # more capital
    # a spending programme crowds the others out of the budget: it lowers growth
    assert s[("gdp_growth_2020", "circular economy investment")] < 0


def test_sampled_method_conserves_too(ws):
    c = C.contributions("plan", levers=LEVERS[:3], goals=GOALS[:2], method="permutations",
                        permutations=4, workspace=ws)
    g = c.goals.set_index("target")
    shap = c.by_lever.groupby("target").shapley.sum()
    for t in GOALS[:2]:
        assert shap[t] == pytest.approx(g.total[t], abs=1e-10 * max(1, abs(g.total[t])))


def test_bad_input_is_a_clear_error(ws):
    from sim.errors import SimError

    with pytest.raises(SimError, match="not changed by 'plan'"):
        C.contributions("plan", levers=["retraning rate"], workspace=ws)
    with pytest.raises(SimError, match="no parent"):
        C.contributions("baseline", workspace=ws)


def test_command_writes_tables_figures_and_manifest(tmp_path, capsys):
    import json

    import pandas as pd

    from sim.cli import main

    out = tmp_path / "contrib"
    code = main(["contributions", "--scenario", "plan", "--levers", "insurance subsidy", "retraining rate",
                 "--goals", "pension_urban_2020", "laid_off_backlog_2020", "--out", str(out)])
    assert code == 0 and "pension_urban_2020" in capsys.readouterr().out
    by_lever = pd.read_csv(out / "contributions_by_lever.csv")
    assert set(by_lever.lever) == {"insurance subsidy", "retraining rate"}
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["method"] == "exact"
    for lang in ("zh", "en"):
        assert (out / "figures" / f"contributions_{lang}.png").stat().st_size > 10_000
    assert main(["contributions", "--scenario", "plan", "--out", str(out)]) == 2   # never overwrites


def test_every_lever_has_a_short_figure_label():
    from sim.policy.scenario import load_registry
    from sim.report.labels import read_labels

    labels = read_labels()
    for name, lever in load_registry(ROOT / "scenarios" / "levers.yaml").items():
        label = labels.variable(name)
        assert label.model_unit == lever.unit, name
        assert label.name["zh"] != name and len(label.name["en"]) <= 40, name


def test_each_goal_is_decomposed_on_the_runs_of_its_vantage(tmp_path):
    """Tiny model with a `history end year` and a 2015 calibration (transfer growth effect
    0.001): the 2020 goals are decomposed on runs seen from 2015 (levers from 2016), the
    2030 goals on runs from 2020 (levers from 2021): the parent's and the scenario's values
    are the main run's scorecard values, and the transfer's Shapley value on 2020 growth is
    the analytic one."""
    import json
    import math

    from sim.defaults import ENGINE_DEFAULTS
    from sim.engine.integrate import simulate
    from sim.run import judge_from_vantages
    from tests.faces.test_vantage import SCEN, tiny_with_vantage

    model = tiny_with_vantage(tmp_path)
    cal = tmp_path / "calibration" / "vantage_2015"
    cal.mkdir(parents=True)
    (cal / "calibration.json").write_text(json.dumps(
        {"parameters": {"transfer growth effect": {"value": 0.001}}}), encoding="utf-8")
    ws = Workspace(SCEN, model)
    c = C.contributions("plan", method="exact", workspace=ws)
    assert set(c.info["vantages"]) == {"2015", "2020"}
    assert c.info["vantages"]["2020"]["levers_from"] == 2021
    assert all(t.endswith("_2020") for t in c.info["vantages"]["2015"]["targets"])
    _, _, _, _, card = judge_from_vantages(ws.study, ["baseline", "plan"], simulate, dict(ENGINE_DEFAULTS))
    card = card.set_index(["scenario", "target"])["value"]
    g = c.goals.set_index("target")
    for t in g.index:
        assert g.parent[t] == pytest.approx(card[("baseline", t)], rel=1e-4, abs=1e-6), t
        assert g.scenario[t] == pytest.approx(card[("plan", t)], rel=1e-4, abs=1e-6), t
    s = c.by_lever.set_index(["target", "lever"]).shapley
    # seen from 2015: growth 0.08 + 0.001 transfer; transfer 5 in 2015, 20 from 2016 (after a
    # 0.001-year ramp): its integral over 2015-20 is 5 (1 - 0.0005) + 20 (4 + 0.0005)
    plan = 100 * math.expm1((0.4 + 0.001 * (5 * 0.9995 + 20 * 4.0005)) / 5)
    base = 100 * math.expm1(0.085)
    assert s[("gdp_growth_2020", "transfer")] == pytest.approx(plan - base, rel=1e-4)
    assert s[("gdp_growth_2020", "efficiency gain")] == pytest.approx(0.0, abs=1e-9)
    # seen from 2020 the history to 2020 is shared: the lowest GDP of 2020-30 (2020's) is not moved
    assert g.total["gdp_floor_2030"] == pytest.approx(0.0, abs=1e-6 * g.parent["gdp_floor_2030"])
    shap = c.by_lever.groupby("target").shapley.sum()
    assert np.allclose(shap[g.index], g.total, atol=1e-9)
