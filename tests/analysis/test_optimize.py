"""Policy search (sim/optimize.py) on a linear model whose least-cost answer is known.

tests/models/optimize/linear.mdl: y = a + b, z = b + c, v = 3 c, S' = a (S(2010) = 10).
Levers a, b in [0, 10] (cost 1, 4), c in [0, 2] (cost 1); baseline a = b = 0, c = 1; the
start scenario sets a = b = 1 from 2016. Levers act from 2016 through a 0.001-year ramp,
so S(2020) = 10 + k a with k = 4.0005. Normalised cost 0.1 a + 0.4 b + 0.5 |c - 1|.
Goals: S(2020) >= 30 (a >= 20/k), y >= 6, z >= 3, v >= 9 (c <= 2: out of reach).
Least cost by hand: c = 1 (raising c costs 0.5 per unit of z, b only 0.4), b = 2,
a = 20/k; y = a + b > 6 then holds with room.
"""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.analysis import optimize as opt
from sim.report.policy_search import optimize
from sim.cli import main as cli_main
from sim.policy.scenario import ValidationError, load_scenarios

HERE = Path(__file__).parents[1] / "models" / "optimize"
MODEL = HERE / "linear.mdl"
SCENARIOS = HERE / "scenarios"
K = 2020 - 2016 + 0.0005


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    out = tmp_path_factory.mktemp("opt") / "run"
    result, folder = optimize("start", scenario_dir=SCENARIOS, model=MODEL, out=out, floor=0.0)
    return result, folder


def test_finds_the_hand_derived_least_cost_vertex(solved):
    result, _ = solved
    a, b, c = result.x
    assert a == pytest.approx(20 / K, abs=1e-3)
    assert b == pytest.approx(2.0, abs=1e-3)
    assert c == pytest.approx(1.0, abs=1e-3)
    assert result.cost == pytest.approx(0.1 * 20 / K + 0.4 * 2, abs=1e-3)
    # the verification run at the default tolerance meets every reachable goal
    card = result.verified.set_index("target")
    assert card.loc[["level_y_2020", "level_z_2020", "stock_s_2020"], "passed"].all()
    assert card.loc["level_y_2020", "value"] == pytest.approx(20 / K + 2, abs=1e-3)


def test_converged_search_says_optimal_and_a_stopped_one_does_not(solved, tmp_path, monkeypatch):
    result, _ = solved
    assert result.status == "optimal"
    monkeypatch.setattr(opt, "MAXITER_COST", 1)     # SLSQP stops after one iteration
    stopped, _ = optimize("start", scenario_dir=SCENARIOS, model=MODEL, out=tmp_path / "run", floor=0.0)
    assert "optimal" not in stopped.status and "stopped before" in stopped.status
    assert stopped.cost >= result.cost - 1e-9


def test_unreachable_goal_is_reported_with_its_analytic_best_margin(solved):
    result, folder = solved
    reach = {r.target: r for r in result.reach}
    v = reach["level_v_2020"]
    assert not v.reachable
    assert v.best_margin == pytest.approx((6 - 9) / 9, abs=1e-6)     # c = 2 → v = 6
    assert all(reach[g].reachable for g in ("level_y_2020", "level_z_2020", "stock_s_2020"))
    goals = pd.read_csv(folder / "goals.csv").set_index("target")
    assert goals.loc["level_v_2020", "status"] == "out of reach"
    assert goals.loc["level_v_2020", "best_alone"] == pytest.approx(-3.0, abs=1e-5)
    report = (folder / "policy_search.md").read_text(encoding="utf-8")
    assert "**level_v_2020** cannot be met" in report
    # a local maximum: c is pinned at its upper bound, a and b do not move v
    assert v.stationarity == pytest.approx(0.0, abs=1e-6)
    assert "value 6 against >= 9" in report and "upper bound there: c;" in report


def test_lever_table_shares_and_written_scenario_validates(solved, tmp_path):
    result, folder = solved
    levers = pd.read_csv(folder / "levers.csv").set_index("lever")
    assert levers["cost_share"].sum() == pytest.approx(1.0)
    assert levers.loc["b", "cost_share"] == pytest.approx(0.8 / result.cost, abs=1e-3)
    assert list(levers.loc["a", ["low", "high", "baseline", "start"]]) == [0, 10, 0, 1]
    # the scenario file goes into a copy of the scenario folder and validates there
    written = folder / "scenario" / "optimised_start.yaml"
    data = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert data["extends"] == "start" and data["policy_start"] == 2016
    copy = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, copy)
    shutil.copy(written, copy)
    sset = load_scenarios(copy, time_span=(2010.0, 2020.0))
    params = sset.resolve("optimised_start", defaults={"a": 0.0, "b": 0.0, "c": 1.0})
    assert isinstance(params["a"], pd.Series)                      # a step at 2016
    assert params["a"].loc[2016.0] == pytest.approx(20 / K, abs=1e-3)
    assert params["a"].iloc[0] == 0.0
    manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    assert '"out_of_reach"' in manifest and "level_v_2020" in manifest


def test_goals_that_exclude_each_other_are_set_aside_with_the_maximin_margins(tmp_path):
    """S >= 30 needs a >= 20/k; y <= 3 needs a + b <= 3. Each alone is reachable, not both.
    The best compromise has b = 0 and equal normalised margins (k a - 20)/30 = (3 - a)/3,
    a = 50/(k + 10). S is the harder goal (best alone (10 + 10k - 30)/30 < 1), so it is set
    aside; y <= 3 then costs nothing: the levers return to the baseline."""
    folder = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, folder)
    targets = yaml.safe_load((folder / "targets.yaml").read_text(encoding="utf-8"))
    cap = dict(targets["targets"][0], id="cap_y", comparator="<=", threshold=3)
    targets["targets"] = [targets["targets"][2], cap]
    (folder / "targets.yaml").write_text(yaml.safe_dump(targets, allow_unicode=True), encoding="utf-8")
    p = opt.setup("start", scenario_dir=folder, model=MODEL, floor=0.0)
    result = opt.search(p)
    assert result.dropped == ["stock_s_2020"]
    a = 50 / (K + 10)
    joint = result.joint_margins["stock_s_2020"]
    assert joint["cap_y_2020"] == pytest.approx((3 - a) / 3, abs=1e-3)
    assert joint["stock_s_2020"] == pytest.approx((3 - a) / 3, abs=1e-3)
    assert list(result.x) == [0.0, 0.0, 1.0]          # back to the baseline exactly (tidied)
    assert result.cost == pytest.approx(0.0, abs=1e-4)


def test_bad_inputs_name_the_file_and_the_key():
    with pytest.raises(ValidationError, match=r"targets.yaml: level_x_2020: unknown target id.*level_y_2020"):
        opt.setup("start", goals=["level_x_2020"], scenario_dir=SCENARIOS, model=MODEL)
    with pytest.raises(ValidationError, match=r"levers.yaml: d: not a lever"):
        opt.setup("start", levers=["d"], scenario_dir=SCENARIOS, model=MODEL)
    with pytest.raises(ValidationError, match="unknown starting scenario"):
        opt.setup("strat", scenario_dir=SCENARIOS, model=MODEL)
    with pytest.raises(ValidationError, match="no target has the horizon year 2030"):
        opt.setup("start", horizon=2030, scenario_dir=SCENARIOS, model=MODEL)


def test_cli_writes_a_new_results_folder_with_the_report(tmp_path, capsys):
    out = tmp_path / "cli"
    code = cli_main(["optimize", "--scenarios", str(SCENARIOS), "--model", str(MODEL), "--from", "start",
                     "--goals", "level_z_2020", "--levers", "b", "c", "--out", str(out),
                     "--doc", str(tmp_path / "doc.md")])
    assert code == 0
    # z = b + c >= 3 with b (0.4 per unit) cheaper than c (0.5 per unit): b = 2.001 (floor 1e-3)
    levers = pd.read_csv(out / "levers.csv").set_index("lever")
    assert levers.loc["b", "found"] == pytest.approx(2 + 3 * opt.MARGIN_FLOOR, abs=1e-4)
    assert levers.loc["c", "found"] == pytest.approx(1.0, abs=1e-4)
    assert "results: " in capsys.readouterr().out
    doc = (tmp_path / "doc.md").read_text(encoding="utf-8")
    assert f"Generated from the results folder `{out}`" in doc and "| b |" in doc
    assert cli_main(["optimize", "--scenarios", str(SCENARIOS), "--model", str(MODEL), "--from", "start",
                     "--out", str(out)]) == 2   # an existing folder is never overwritten


# --------------------------------------------------------------------------- vantages
VSCEN = Path(__file__).parents[1] / "models" / "scenario" / "scenarios"


@pytest.mark.parametrize("horizon, vantage", [(2030, 2020.0), (2020, 2015.0)])
def test_search_judges_its_goals_from_their_vantage_as_the_main_run(tmp_path, horizon, vantage):
    """On the tiny model with a `history end year`: the 2030 goals are searched from 2020
    (levers from 2021), the 2020 goals from 2015 with the 2015 calibration's constants; the
    verification run's scorecard equals the main run's for the found scenario."""
    import json

    from sim.policy.study import read_study
    from sim.run import judge_from_vantages
    from sim.engine.integrate import simulate
    from sim.defaults import ENGINE_DEFAULTS
    from tests.faces.test_vantage import tiny_with_vantage

    model = tiny_with_vantage(tmp_path)
    cal = tmp_path / "calibration" / "vantage_2015"
    cal.mkdir(parents=True)           # seen from 2015 the economy grows more slowly
    (cal / "calibration.json").write_text(json.dumps(
        {"parameters": {"transfer growth effect": {"value": 0.001}}}), encoding="utf-8")
    result, folder = optimize("plan", horizon=horizon, scenario_dir=VSCEN, model=model,
                              out=tmp_path / "run")
    p = result.problem
    assert p.vantage == vantage and p.start == vantage + 1
    assert {g.year for g in p.goals} == {float(horizon)}
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["search"]["vantage"]["history_end_year"] == vantage
    assert manifest["search"]["vantage"]["levers_from"] == vantage + 1
    assert manifest["search"]["vantage"]["constants"].endswith("vantage_2015/calibration.json") == (vantage == 2015)
    assert f"**Seen from {vantage:g}**" in (folder / "policy_search.md").read_text(encoding="utf-8")
    # the main run on the scenario folder with the written scenario added
    scen = tmp_path / "scenarios"
    shutil.copytree(VSCEN, scen)
    shutil.copy(folder / "scenario" / f"{result.scenario_id}.yaml", scen)
    study = read_study(scen, model)
    _, _, _, _, card = judge_from_vantages(study, [result.scenario_id], simulate, dict(ENGINE_DEFAULTS))
    main = card.set_index("target").loc[[g.id for g in p.goals]]
    mine = result.verified.set_index("target")
    np.testing.assert_allclose(mine["value"].to_numpy(float), main["value"].to_numpy(float), rtol=1e-9)
    assert list(mine["passed"]) == list(main["passed"])
    assert mine["passed"].all()
    # the search's own runs (batch, search tolerance) saw the same vantage
    np.testing.assert_allclose(result.margins, mine["normalised_margin"].to_numpy(float), atol=1e-4)
