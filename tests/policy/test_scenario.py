"""Scenario files: every validation error class, and how ``extends``/``policy_start`` resolve."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.run import validate_all
from sim.policy.scenario import (STEP_WIDTH_YEARS, ValidationError, load_registry, load_scenarios,
                          param_to_json, resolve)

HERE = Path(__file__).parents[1]   # tests/, where the test models are
FIXTURES = HERE / "models" / "scenario" / "scenarios"
TINY = HERE / "models" / "scenario" / "tiny.mdl"
ROOT = HERE.parent
SPAN = (2010.0, 2030.0)
DEFAULTS = {"growth rate": 0.08, "transfer": 5.0, "closure year": 2025.0, "efficiency gain": 0.02,
            "base share speed": 0.05}


@pytest.fixture
def folder(tmp_path) -> Path:
    """A writable copy of the tiny scenario folder."""
    dest = tmp_path / "scenarios"
    shutil.copytree(FIXTURES, dest)
    return dest


def edit(folder: Path, sid: str, mutate) -> None:
    path = folder / f"{sid}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def problems_of(folder: Path, span=SPAN):
    with pytest.raises(ValidationError) as err:
        load_scenarios(folder, time_span=span)
    return err.value.problems


def test_fixture_folder_is_valid():
    sset = load_scenarios(FIXTURES, time_span=SPAN)
    assert sset.ids() == ["baseline", "plan", "fast"]
    assert sset.meta()["fast"]["name"] == {"zh": "加速", "en": "Fast"}


# ------------------------------------------------------------------ one test per error class
def test_unknown_lever_suggests_the_close_name(folder):
    edit(folder, "plan", lambda d: d["levers"].update({"tranfser": 3}))
    (p,) = problems_of(folder)
    assert p.file.endswith("plan.yaml") and p.key == "levers.tranfser"
    assert "unknown lever" in p.message and "did you mean 'transfer'" in p.message


@pytest.mark.parametrize("value", [51, -1, {2016: 3, 2020: 60}])
def test_value_out_of_range(folder, value):
    edit(folder, "plan", lambda d: d["levers"].update(transfer=value))
    (p,) = problems_of(folder)
    assert "out of range [0, 50] CNY100M/Year" in p.message
    assert p.key.startswith("levers.transfer")


@pytest.mark.parametrize("value", ["high", True, [1, 2], None, {}])
def test_wrong_type(folder, value):
    edit(folder, "plan", lambda d: d["levers"].update(transfer=value))
    (p,) = problems_of(folder)
    assert p.key == "levers.transfer" and "wrong type" in p.message


def test_start_year_lever_takes_one_whole_year(folder):
    edit(folder, "plan", lambda d: d["levers"].update({"closure year": {2016: 2018}}))
    assert "start-year lever" in problems_of(folder)[0].message
    edit(folder, "plan", lambda d: d["levers"].update({"closure year": 2018.5}))
    assert "whole year" in problems_of(folder)[0].message


def test_stated_unit_must_equal_the_registry_unit(folder):
    edit(folder, "plan", lambda d: d["levers"].update(transfer={"value": 3, "unit": "CNY10K/Year"}))
    (p,) = problems_of(folder)
    assert p.key == "levers.transfer.unit" and "CNY100M/Year" in p.message
    edit(folder, "plan", lambda d: d["levers"].update(transfer={"value": 3, "unit": "CNY100M / Year"}))
    load_scenarios(folder, time_span=SPAN)                      # spacing is not a unit difference


def test_cyclic_extends(folder):
    edit(folder, "plan", lambda d: d.update(extends="fast"))
    problems = problems_of(folder)
    assert len(problems) == 1 and "cyclic extends" in problems[0].message
    assert "plan" in problems[0].message and "fast" in problems[0].message


def test_missing_parent_and_missing_extends_key(folder):
    edit(folder, "fast", lambda d: d.update(extends="plann"))
    (p,) = problems_of(folder)
    assert p.key == "extends" and "unknown scenario 'plann'" in p.message and "did you mean 'plan'" in p.message
    edit(folder, "fast", lambda d: d.pop("extends"))
    (p,) = problems_of(folder)
    assert p.file.endswith("fast.yaml") and p.key == "extends" and "missing" in p.message


def test_malformed_yaml_is_reported_with_its_line(folder):
    (folder / "broken.yaml").write_text("id: broken\nname: {zh: 坏, en: [Broken\n", encoding="utf-8")
    (p,) = problems_of(folder)
    assert p.file.endswith("broken.yaml") and "malformed YAML" in p.message and "line" in p.message


def test_yaml_is_data_never_code(folder):
    (folder / "evil.yaml").write_text("!!python/object/apply:os.system ['echo pwned']\n", encoding="utf-8")
    (p,) = problems_of(folder)
    assert p.file.endswith("evil.yaml") and "malformed YAML" in p.message


def test_missing_bilingual_names(folder):
    edit(folder, "plan", lambda d: (d["name"].pop("zh"), d["description"].update(en="")))
    keys = {p.key for p in problems_of(folder)}
    assert keys == {"name.zh", "description.en"}


@pytest.mark.parametrize("table, key, text", [
    ({2005: 0.03, 2020: 0.05}, "levers.efficiency gain.2005", "outside the model's time span"),
    ({"soon": 0.03, 2020: 0.05}, "levers.efficiency gain.soon", "not a number"),
])
def test_bad_table_years(folder, table, key, text):
    edit(folder, "plan", lambda d: d["levers"].update({"efficiency gain": table}))
    (p,) = problems_of(folder)
    assert p.key == key and text in p.message


def test_unsorted_table_years_are_fine(folder):
    edit(folder, "plan", lambda d: d["levers"].update({"efficiency gain": {2020: 0.05, 2016: 0.03}}))
    sset = load_scenarios(folder, time_span=SPAN)
    s = sset.resolve("plan", DEFAULTS)["efficiency gain"]
    assert list(s.index) == sorted(s.index)


def test_unknown_top_level_key_and_id_mismatch(folder):
    edit(folder, "plan", lambda d: (d.update(polcy_start=2017), d.update(id="plan2")))
    problems = problems_of(folder)
    assert {p.key for p in problems} == {"polcy_start", "id"}
    assert any("did you mean 'policy_start'" in p.message for p in problems)


def test_all_problems_are_reported_together_each_with_file_and_key(folder):
    edit(folder, "plan", lambda d: d["levers"].update(transfer=99, tranfser=1))
    edit(folder, "fast", lambda d: d["name"].pop("en"))
    problems = problems_of(folder)
    assert len(problems) == 3
    assert {(Path(p.file).name, p.key) for p in problems} == {
        ("plan.yaml", "levers.transfer"), ("plan.yaml", "levers.tranfser"), ("fast.yaml", "name.en")}
    assert all(str(p).startswith(p.file + ": " + p.key) for p in problems)


def test_registry_errors(tmp_path):
    path = tmp_path / "levers.yaml"
    path.write_text(yaml.safe_dump({"levers": [{"name": "a", "unit": "Dmnl", "range": [1, 0], "clause": "",
                                                "en": "A", "zh": "甲", "colour": "red"}]}), encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_registry(path)
    keys = {p.key for p in err.value.problems}
    assert keys == {"levers[0] (a).range", "levers[0] (a).colour"}


def test_validate_all_checks_years_against_the_model_and_levers_are_model_constants(folder):
    edit(folder, "plan", lambda d: d["levers"].update({"efficiency gain": {2031: 0.05}}))
    reg = yaml.safe_load((folder / "levers.yaml").read_text(encoding="utf-8"))
    reg["levers"][0]["name"] = "growth rat"
    reg["levers"][1]["unit"] = "CNY/Year"
    (folder / "levers.yaml").write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
    problems = validate_all(folder, TINY)
    messages = "\n".join(map(str, problems))
    assert "2031 is outside the model's time span 2010–2030" in messages
    assert "levers.yaml: growth rat: not a constant of the model (did you mean 'growth rate'" in messages
    assert "registry says 'CNY/Year' but the model says 'CNY100M/Year'" in messages
    assert "fast.yaml: levers.growth rate: unknown lever" in messages


# ------------------------------------------------------------------ resolution
def test_constant_steps_at_policy_start_over_the_model_default():
    sset = load_scenarios(FIXTURES, time_span=SPAN)
    p = sset.resolve("plan", DEFAULTS)
    tr = p["transfer"]
    assert isinstance(tr, pd.Series)
    assert np.interp(2015.5, tr.index, tr.values) == 5.0             # before 2016: the default
    assert np.interp(2016.0, tr.index, tr.values) == 20.0
    assert tr.index[-2] == pytest.approx(2016 - STEP_WIDTH_YEARS)
    assert p["closure year"] == 2018.0                                # start years are not gated


def test_table_replaces_parent_from_its_first_year():
    sset = load_scenarios(FIXTURES, time_span=SPAN)
    eg = sset.resolve("plan", DEFAULTS)["efficiency gain"]
    f = lambda t: float(np.interp(t, eg.index, eg.values))  # noqa: E731
    assert f(2012) == 0.02 and f(2016) == 0.03 and f(2018) == pytest.approx(0.04) and f(2030) == 0.05


def test_child_inherits_parent_levers_and_policy_start():
    sset = load_scenarios(FIXTURES, time_span=SPAN)
    plan, fast = sset.resolve("plan", DEFAULTS), sset.resolve("fast", DEFAULTS)
    assert set(fast) == set(plan) | {"growth rate"}
    pd.testing.assert_series_equal(fast["transfer"], plan["transfer"])
    gr = fast["growth rate"]
    assert np.interp(2015.0, gr.index, gr.values) == 0.08 and np.interp(2016.0, gr.index, gr.values) == 0.12
    assert sset.resolve("baseline", DEFAULTS) == {}


def test_child_constant_over_parent_table_keeps_parent_path_before_policy_start(folder):
    edit(folder, "fast", lambda d: d.update(policy_start=2018, levers={"efficiency gain": 0.09}))
    sset = load_scenarios(folder, time_span=SPAN)
    eg = sset.resolve("fast", DEFAULTS)["efficiency gain"]
    f = lambda t: float(np.interp(t, eg.index, eg.values))  # noqa: E731
    assert f(2014) == 0.02 and f(2017) == pytest.approx(0.035) and f(2018) == 0.09 and f(2030) == 0.09


def test_constant_from_the_start_needs_no_default_and_equal_values_stay_constant(folder):
    edit(folder, "plan", lambda d: d.update(policy_start=2010, levers={"transfer": 20}))
    sset = load_scenarios(folder, time_span=SPAN)
    assert sset.resolve("plan")["transfer"] == 20.0
    edit(folder, "plan", lambda d: d.update(policy_start=2016, levers={"transfer": 5}))
    assert load_scenarios(folder, time_span=SPAN).resolve("plan", DEFAULTS)["transfer"] == 5.0


def test_param_to_json_round_trips_series_as_year_value_pairs():
    s = pd.Series([1.0, 2.0], index=[2016.0, 2020.0])
    assert param_to_json(s) == [[2016.0, 1.0], [2020.0, 2.0]] and param_to_json(3) == 3.0


# ------------------------------------------------------------------ the project's own files
@pytest.mark.skipif(not (ROOT / "scenarios" / "levers.yaml").is_file()
                    or not (ROOT / "models" / "jingdezhen.mdl").is_file(),
                    reason="the Jingdezhen model or its lever registry is not there yet")
def test_project_scenarios_and_targets_validate_against_the_model():
    problems = validate_all(ROOT / "scenarios", ROOT / "models" / "jingdezhen.mdl")
    assert problems == [], "\n".join(map(str, problems))
    sset = load_scenarios(ROOT / "scenarios")
    required = {"baseline", "plan", "accelerated", "green_first", "social_first", "no_transfers"}
    assert required <= set(sset.ids())
    assert all(sset.scenarios[s].extends for s in required - {"baseline"})


def test_validate_command_lists_every_problem_and_exits_non_zero(folder, capsys):
    from sim.cli import main

    assert main(["validate", "--scenarios", str(folder), "--model", str(TINY)]) == 0
    edit(folder, "plan", lambda d: d["levers"].update(transfer=99, tranfser=1))
    code = main(["validate", "--scenarios", str(folder), "--model", str(TINY)])
    err = capsys.readouterr().err
    assert code != 0
    assert "plan.yaml: levers.transfer: value 99 out of range" in err
    assert "plan.yaml: levers.tranfser: unknown lever (did you mean 'transfer'" in err
