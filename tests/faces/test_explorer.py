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
    # drawn: the runs seen from 2020, as the main job's figures; the history to 2020 is
    # shared, the sliders act from 2021
    years = results.index.to_numpy()
    np.testing.assert_allclose(line_high[years <= 2020], line_low[years <= 2020], rtol=1e-6)
    assert np.all(line_high[years >= 2021] > line_low[years >= 2021])
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
    assert after[-1] < before[-1]                            # more retraining, fewer laid off


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


def _pixels(png: bytes) -> np.ndarray:
    import io

    import PIL.Image
    return np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB"))


def test_a_move_redraws_only_the_lines_and_looks_like_a_full_redraw(explorer):
    """Blitting: a move inside the panels' ranges draws no full figure, and the image it
    shows is pixel for pixel the one a full redraw of the same state gives."""
    explorer.update({SHARE: 0.5})
    full_before = explorer.full_redraws
    explorer.update({SHARE: 0.52})
    assert explorer.full_redraws == full_before
    partial = _pixels(explorer.image.value)
    explorer._background = None                      # force a full draw of the same state
    explorer._redraw()
    assert explorer.full_redraws == full_before + 1
    assert np.array_equal(partial, _pixels(explorer.image.value))


def test_a_line_leaving_its_panel_widens_the_range(explorer):
    explorer.update({SHARE: 0.8})
    ax = explorer.axes[explorer.indicators.index("replacement industry share")]
    y = explorer.plotted("replacement industry share")
    lo, hi = ax.get_ylim()
    assert lo <= np.nanmin(y) and np.nanmax(y) <= hi


def test_chinese_labels_on_sliders_and_table():
    ex = Explorer(Workspace(), base="plan", references=("plan",), lang="zh",
                  levers={"retraining": ("retraining rate",)}, indicators=("GDP real",))
    slider = ex.sliders["retraining rate"]
    assert any("\u4e00" <= c <= "\u9fff" for c in slider.description), slider.description
    assert "Dmnl" not in slider.description and "Dmnl" not in ex.table.value
    assert "目标" in ex.table.value


def test_slider_labels_are_the_short_names_of_the_label_table_in_either_language():
    """Labels follow lang: the label table's short lever name (as in every figure), the
    registry's long description in the tooltip; the legend names the setting in that language."""
    levers = {"investment": (SHARE,), "retraining": ("retraining rate",)}
    for lang, other in (("zh", "en"), ("en", "zh")):
        ex = Explorer(Workspace(), base="plan", references=("plan",), lang=lang, levers=levers,
                      indicators=("GDP real",))
        for name, slider in ex.sliders.items():
            short = ex.labels.name(name, lang)
            assert slider.description.startswith(short), (lang, slider.description)
            assert ex.labels.name(name, other) not in slider.description, (lang, slider.description)
            assert getattr(ex.ws.registry[name], lang) in slider.tooltip, (lang, slider.tooltip)
        has_cjk = any("\u4e00" <= c <= "\u9fff" for s in ex.sliders.values() for c in s.description)
        assert has_cjk == (lang == "zh")
        legend = [t.get_text() for t in ex.axes[0].get_legend().get_texts()]
        assert legend[-1] == {"zh": "滑块设置", "en": "Your setting"}[lang]


def test_a_move_emits_no_solver_note_at_the_explorers_tolerance(explorer):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # the plan's run at rtol 1e-4 used to warn about atol
        explorer.update({SHARE: 0.6, "retraining rate": 0.4})


def test_save_writes_a_scenario_file_that_reproduces_the_setting(explorer, tmp_path):
    """The saved scenario file, dropped into a copy of the scenario folder, resolves to the
    same lever paths as the explorer's run and its scorecard rows are the saved ones."""
    import json
    import shutil

    import pandas as pd
    from sim.explorer import SETTING_ID

    setting = {SHARE: 0.75, "retraining rate": 0.9}
    explorer.update({**{n: explorer.ws.lever_value("plan", n, 2016) for n in explorer.sliders}, **setting})
    assert explorer.setting() == pytest.approx(setting)
    written = explorer.save(tmp_path, langs=("zh", "en"))
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {f"scenario/{SETTING_ID}.yaml", "scorecard.csv", "levers.csv", "manifest.json",
            "dashboard_2020_zh.png", "dashboard_2030_en.png"} <= names
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)

    scen = tmp_path / "scen"
    shutil.copytree(explorer.ws.scenario_dir, scen)
    shutil.copy(tmp_path / "scenario" / f"{SETTING_ID}.yaml", scen)
    ws2 = Workspace(scen, explorer.ws.model_path)
    for name in explorer.ws.registry:             # every lever, every year: the same path
        for year in (2012, 2015, 2016, 2020, 2030):
            assert ws2.lever_value(SETTING_ID, name, year) == pytest.approx(
                explorer.ws.lever_value(explorer.scenario, name, year)), (name, year)
    for name, value in setting.items():
        assert ws2.lever_value(SETTING_ID, name, 2015) == pytest.approx(explorer.ws.lever_value("plan", name, 2015))
        assert ws2.lever_value(SETTING_ID, name, 2020) == pytest.approx(value)

    saved = pd.read_csv(tmp_path / "scorecard.csv")
    assert set(saved["scenario"]) == {"baseline", "plan", SETTING_ID}
    np.testing.assert_allclose(saved[saved.scenario == SETTING_ID]["value"].to_numpy(),
                               explorer_rows(explorer)["value"].to_numpy(), rtol=1e-12)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "explorer" and manifest["setting"] == pytest.approx(setting)


# ---------------------------------------------------------------- the main job's verdicts
def main_job_card(scenario_dir, ids, engine=None):
    """The main job's scorecard (``sim.run.judge_from_vantages``, the function ``make run``
    uses) of the scenario files in ``scenario_dir``, indexed by (scenario, target)."""
    from sim.defaults import ENGINE_DEFAULTS
    from sim.engine.integrate import simulate
    from sim.policy.study import read_study
    from sim.run import judge_from_vantages

    study = read_study(scenario_dir, Workspace().model_path)
    card = judge_from_vantages(study, ids, simulate, {**ENGINE_DEFAULTS, **(engine or {})})[-1]
    return card.set_index(["scenario", "target"])


def assert_same_card(mine, theirs, rtol):
    """Verdict for verdict, value to ``rtol`` (near-zero values to ``rtol`` absolute)."""
    assert list(mine.index) == list(theirs.index)
    flipped = mine.index[mine["passed"].to_numpy(bool) != theirs["passed"].to_numpy(bool)]
    assert flipped.empty, f"verdicts differ from the main job's: {list(flipped)}"
    np.testing.assert_allclose(mine["value"].to_numpy(float), theirs["value"].to_numpy(float),
                               rtol=rtol, atol=rtol, err_msg="values differ from the main job's")


@pytest.mark.parametrize("setting", [{}, {SHARE: 0.8, "retraining rate": 1.0}], ids=["plan", "share0.8"])
def test_the_explorers_scorecard_is_the_main_jobs(setting, tmp_path):
    """For the plan and a changed setting (saved as a scenario file and run by the main
    job's judge_from_vantages, events and all), the explorer's scorecard is the main job's:
    both horizons, each from its vantage, verdict for verdict and value to 1e-6."""
    import shutil

    from sim.explorer import SETTING_ID

    ws = Workspace()
    ex = Explorer(ws, base="plan", references=("plan",), indicators=("GDP real",),
                  levers={"investment": (SHARE,), "retraining": ("retraining rate",)})
    ex.update(setting)
    assert ex.setting() == pytest.approx(setting)
    scen = tmp_path / "scen"
    shutil.copytree(ws.scenario_dir, scen)
    (scen / f"{SETTING_ID}.yaml").write_text(ex.scenario_yaml(), encoding="utf-8")
    theirs = main_job_card(scen, ["plan", SETTING_ID])

    card = ex.card.set_index(["scenario", "target"])
    assert_same_card(card.loc[EXPLORER_ID], theirs.loc[SETTING_ID], 1e-6)
    assert_same_card(card.loc["plan"], theirs.loc["plan"], 1e-6)
    if setting:     # a real change: the setting's goals moved away from the plan's
        moved = (card.loc[EXPLORER_ID, "value"] - theirs.loc["plan", "value"]).abs()
        assert moved.max() > 1.0


def test_the_sliders_act_from_2016_for_2020_goals_and_from_2021_for_2030_goals(explorer):
    explorer.update({SHARE: 0.75})
    timing = explorer.lever_timing()
    assert timing.to_dict("index") == {2015.0: {"years": "2020", "levers_from": 2016.0},
                                       2020.0: {"years": "2030", "levers_from": 2021.0}}
    applied = explorer.applied(SHARE, [2015, 2016, 2020, 2021, 2030])
    before = explorer.ws.facts["defaults"][SHARE]           # the model's own (history) value
    assert applied[2015.0].tolist() == pytest.approx([before, 0.75, 0.75, 0.75, 0.75])
    assert applied[2020.0].tolist() == pytest.approx([before, before, before, 0.75, 0.75])
    assert explorer.timing_text("en") == ["2020 goals: sliders from 2016 (seen from 2015)",
                                          "2030 goals: sliders from 2021 (seen from 2020)"]
    # the figure marks the projection after the latest vantage, as the main job's figures
    marks = [ln for ln in explorer.axes[0].get_lines() if ln.get_gid() == "projection_start"]
    assert marks and marks[0].get_xdata()[0] == pytest.approx(2020.5)
