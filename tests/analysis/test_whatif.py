"""What-if variants: validated like scenario files, levers take effect from the policy start."""
import numpy as np
import pytest

from sim.policy.scenario import ValidationError
from sim.analysis.whatif import Workspace


@pytest.fixture(scope="module")
def ws():
    return Workspace()


def test_misspelt_lever_is_refused_with_a_suggestion(ws):
    with pytest.raises(ValidationError) as err:
        ws.variant("plan", {"retrainig rate": 0.5})
    (problem,) = err.value.problems
    assert problem.file == "<what-if on plan>"
    assert problem.key == "levers.retrainig rate"
    assert "retraining rate" in problem.message


def test_value_outside_the_registry_range_is_refused(ws):
    high = ws.registry["retraining rate"].high
    with pytest.raises(ValidationError, match="out of range"):
        ws.variant("plan", {"retraining rate": high + 0.5})


def test_unknown_base_scenario_is_refused(ws):
    with pytest.raises(ValidationError, match="unknown scenario 'plna'"):
        ws.variant("plna", {})


def test_lever_takes_effect_from_the_base_policy_start(ws):
    start = ws.policy_start("plan")
    assert start is not None and start > ws.time_span[0]
    variant = ws.variant("plan", {"retraining rate": 0.9})
    before = ws.facts["defaults"]["retraining rate"]  # the plan does not move it before its start
    assert ws.lever_value(variant, "retraining rate", start - 1) == pytest.approx(before)
    assert ws.lever_value(variant, "retraining rate", start) == pytest.approx(0.9)
    assert ws.lever_value(variant, "retraining rate", ws.time_span[1]) == pytest.approx(0.9)
    # levers the variant does not set keep the base scenario's paths
    assert ws.lever_value(variant, "credit and bonds", 2025) == pytest.approx(
        ws.scenarios["plan"].levers["credit and bonds"])


def test_empty_variant_resolves_to_its_base(ws):
    base, variant = ws.params("plan"), ws.params(ws.variant("plan", {}))
    assert base.keys() == variant.keys()
    for name, value in base.items():
        assert np.allclose(np.asarray(variant[name], float), np.asarray(value, float)), name


def test_variant_run_keeps_history_and_changes_the_future(ws):
    start = ws.policy_start("plan")
    cols = ["laid off workers", "GDP real"]
    # two variants built the same way (same breakpoints), differing only in one lever's value
    same = ws.variant("plan", {"retraining rate": ws.lever_value("plan", "retraining rate", start)})
    more = ws.variant("plan", {"retraining rate": 0.95})
    base = ws.run(same, rtol=1e-4, events=False, return_columns=cols)
    changed = ws.run(more, rtol=1e-4, events=False, return_columns=cols)
    past = base.index <= start - 1
    np.testing.assert_allclose(changed.loc[past].to_numpy(), base.loc[past].to_numpy(), rtol=1e-9)
    later = base.index >= start + 2
    assert np.all(changed.loc[later, "laid off workers"] < base.loc[later, "laid off workers"])


def test_scorecard_uses_the_runs_event_times(ws):
    df = ws.run("baseline", rtol=1e-4)
    card = ws.scorecard({"baseline": df}).set_index("target")
    assert list(card.index) == [t.id for t in ws.targets]
    events = df.attrs["events"]
    for t in ws.targets:
        key = f"target:{t.id}"
        when = events.get(key)
        if when is not None and when > ws.time_span[0]:
            assert card.loc[t.id, "year_reached"] == pytest.approx(when)
            break
    else:
        pytest.skip("no level target is reached after the start in the baseline")
