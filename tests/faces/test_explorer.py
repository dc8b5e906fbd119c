"""The live explorer, headless: sliders exist, and a move changes the plotted data and the scorecard."""
import numpy as np
import pytest

from sim.explorer import EXPLORER_ID, LEVER_GROUPS, Explorer
from sim.policy.scenario import ValidationError
from sim.analysis.whatif import Workspace

SHARE = "replacement investment share"


@pytest.fixture(scope="module")
def explorer():
    return Explorer(Workspace(), base="plan", references=("baseline", "plan"))


def explorer_rows(ex):
    return ex.card[ex.card["scenario"] == EXPLORER_ID].set_index("target")


def test_one_slider_per_lever_with_the_registry_range_and_the_plan_value(explorer):
    ws = explorer.ws
    expected = [name for names in LEVER_GROUPS.values() for name in names]
    assert list(explorer.sliders) == expected
    plan = ws.scenarios["plan"].levers
    for name, slider in explorer.sliders.items():
        lever = ws.registry[name]
        assert (slider.min, slider.max) == (lever.low, lever.high), name
        # the plan's value where plan.yaml sets it, else the model's own (baseline) value
        start_value = plan[name] if name in plan else ws.facts["defaults"][name]
        assert slider.value == pytest.approx(start_value), name


def test_at_the_plan_values_the_explorer_reproduces_the_plan(explorer):
    explorer.update({SHARE: explorer.ws.lever_value("plan", SHARE, 2020)})
    plan = explorer.references["plan"]
    for var in explorer.indicators:
        scale = explorer.labels.scale(var)
        np.testing.assert_allclose(explorer.plotted(var), plan[var].to_numpy() * scale, rtol=1e-9,
                                   err_msg=var)
    reference = explorer.reference_card.query("scenario == 'plan'").set_index("target")["value"]
    np.testing.assert_allclose(explorer_rows(explorer)["value"], reference.loc[explorer_rows(explorer).index],
                               rtol=1e-9)


def test_update_changes_plotted_data_scorecard_figure_and_table(explorer):
    explorer.update({SHARE: 0.3})
    line_low = explorer.plotted("replacement industry share").copy()
    value_low = explorer_rows(explorer).loc["replacement_share_2020", "value"]
    image_low, table_low = explorer.image.value, explorer.table.value

    results, card = explorer.update({SHARE: 0.8})
    assert explorer.sliders[SHARE].value == pytest.approx(0.8)
    line_high = explorer.plotted("replacement industry share")
    # the plotted line is the run's column in display units (%)
    np.testing.assert_allclose(line_high, results["replacement industry share"].to_numpy() * 100)
    year = results.index.to_numpy() >= 2018
    assert np.all(line_high[year] > line_low[year])
    value_high = explorer_rows(explorer).loc["replacement_share_2020", "value"]
    assert value_high > value_low
    assert card is explorer.card and set(card["scenario"]) == {"baseline", "plan", EXPLORER_ID}
    assert explorer.image.value != image_low and bytes(explorer.image.value)[:4] == b"\x89PNG"
    assert explorer.table.value != table_low
    assert set(explorer.timings) == {"run", "redraw", "total", "cpu"}


def test_moving_a_slider_reruns_the_model(explorer):
    explorer.update({"retraining rate": 0.1})
    before = explorer.plotted("laid off workers").copy()
    explorer.sliders["retraining rate"].value = 0.9          # what a user's drag does
    after = explorer.plotted("laid off workers")
    assert explorer.values()["retraining rate"] == pytest.approx(0.9)
    assert after[-10] < before[-10]                          # more retraining, fewer laid off


def test_bad_values_are_refused_before_any_slider_moves(explorer):
    before = explorer.values()
    with pytest.raises(ValidationError, match="out of range"):
        explorer.update({"retraining rate": 5.0})
    with pytest.raises(KeyError, match="did you mean"):
        explorer.update({"retrainig rate": 0.5})
    assert explorer.values() == before


def test_widget_holds_sliders_figure_and_scorecard(explorer):
    box = explorer.widget()

    def leaves(w):
        kids = getattr(w, "children", ())
        return [w] + [x for k in kids for x in leaves(k)]
    found = leaves(box)
    assert all(s in found for s in explorer.sliders.values())
    assert explorer.image in found and explorer.table in found and explorer.status in found
