"""Bad input, class *data files* (scenarios, levers, targets, uncertainties, calibration specs).

Each case is a file that the old reader accepted with a changed meaning or answered with
a traceback; now ``validate`` (or the loader) prints one line naming the file and the key
and exits 2. Every case failed on the code before issue 11.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from sim.cli import main

HERE = Path(__file__).parent
FIXTURES = HERE / "models" / "scenario" / "scenarios"
TINY = HERE / "models" / "scenario" / "tiny.mdl"
ROOT = HERE.parent

PLAN = """id: plan
name: {{zh: 规划, en: Plan}}
description: {{zh: 测试规划方案, en: Test plan scenario}}
extends: baseline
policy_start: 2016
levers:
{levers}
"""


@pytest.fixture
def folder(tmp_path) -> Path:
    dest = tmp_path / "scenarios"
    shutil.copytree(FIXTURES, dest)
    return dest


def validate(folder, capsys) -> tuple[int, list[str]]:
    code = main(["validate", "--scenarios", str(folder), "--model", str(TINY)])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    return code, lines


def write_plan(folder, levers: str) -> Path:
    path = folder / "plan.yaml"
    path.write_text(PLAN.format(levers=levers), encoding="utf-8")
    return path


def test_duplicate_key_is_refused_not_silently_last_wins(folder, capsys):
    path = write_plan(folder, "  transfer: 20\n  transfer: 30\n")
    code, lines = validate(folder, capsys)
    assert code == 2
    assert f"{path}: levers.transfer: duplicate key at line 8 (first at line 7)" in lines[0]


@pytest.mark.parametrize("value", ["", ' ""'])
def test_empty_extends_does_not_make_a_second_root(folder, capsys, value):
    path = folder / "fast.yaml"
    text = path.read_text(encoding="utf-8").replace("extends: plan", f"extends:{value}")
    path.write_text(text, encoding="utf-8")
    code, lines = validate(folder, capsys)
    assert code == 2
    assert lines[0].startswith(f"{path}: extends: empty: name the parent scenario")


def test_table_year_given_twice_as_number_and_float(folder, capsys):
    path = write_plan(folder, "  efficiency gain: {2016: 0.03, 2016.0: 0.04, 2020: 0.05}\n")
    code, lines = validate(folder, capsys)
    assert code == 2
    assert f"{path}: levers.efficiency gain.2016.0: duplicate key" in lines[0]


def test_table_year_as_text_is_not_a_second_2016(folder, capsys):
    path = write_plan(folder, '  efficiency gain: {2016: 0.03, "2016": 0.04, 2020: 0.05}\n')
    code, lines = validate(folder, capsys)
    assert code == 2
    assert lines[0] == (f"{path}: levers.efficiency gain.2016: table year '2016' is not a number; "
                        "write it without quotes")


def test_alias_bomb_is_refused_at_once(folder, capsys):
    bomb = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 12):
        bomb.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    path = folder / "plan.yaml"
    path.write_text(PLAN.format(levers="  transfer: 20") + "\n".join(bomb) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    code, lines = validate(folder, capsys)
    assert time.perf_counter() - t0 < 10
    assert code == 2
    assert f"{path}: anchor &a0 at line 8: anchors and aliases are not allowed" in lines[0]


@pytest.mark.parametrize("name", ["plan.yaml", "levers.yaml", "targets.yaml"])
def test_non_utf8_file_is_one_line_naming_the_file(folder, capsys, name):
    path = folder / name
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.encode("gbk"))
    code, lines = validate(folder, capsys)
    assert code == 2
    assert any(ln.startswith(f"{path}: line ") and "not UTF-8" in ln and "save the file as UTF-8" in ln
               for ln in lines), lines
    assert not any("Traceback" in ln for ln in lines)


def test_oversized_file_is_refused(folder, capsys):
    path = folder / "plan.yaml"
    path.write_text(PLAN.format(levers="  transfer: 20") + "#" + "x" * 2_100_000 + "\n", encoding="utf-8")
    code, lines = validate(folder, capsys)
    assert code == 2
    assert lines[0].startswith(f"{path}: file is ") and "more than the 2,000,000" in lines[0]


# --- uncertainties: data never chooses a network address -----------------------------------
UNC = """parameters:
  - name: growth rate
    distribution: {kind: uniform, min: 0.05, max: 0.1}
    source: "assumption: test"
"""


def test_uncertainty_file_may_not_name_a_scheduler(tmp_path):
    from sim.analysis.uncertainty import load_uncertainties
    from sim.policy.scenario import ValidationError

    path = tmp_path / "uncertainties.yaml"
    path.write_text("scheduler: tcp://203.0.113.7:8786\n" + UNC, encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_uncertainties(path, levers=[])
    (p,) = err.value.problems
    assert str(p).startswith(f"{path}: scheduler: a data file may not choose a network address")


def test_uncertainty_file_non_utf8_and_duplicate(tmp_path):
    from sim.analysis.uncertainty import load_uncertainties
    from sim.policy.scenario import ValidationError

    path = tmp_path / "uncertainties.yaml"
    path.write_text(UNC + "parameters: []\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"parameters: duplicate key at line 5"):
        load_uncertainties(path, levers=[])
    path.write_bytes(("# 不确定性\n" + UNC).encode("gbk"))
    with pytest.raises(ValidationError, match=r"uncertainties.yaml: line 1: not UTF-8"):
        load_uncertainties(path, levers=[])


def test_calibration_spec_duplicate_key_is_one_line(tmp_path):
    from sim.analysis.calibrate import CalibrationSpecError, load_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text("model: a.mdl\nmodel: b.mdl\n", encoding="utf-8")
    with pytest.raises(CalibrationSpecError) as err:
        load_spec(spec)
    assert str(err.value) == (f"{spec}: cannot read calibration spec: model: duplicate key at "
                              "line 2 (first at line 1); YAML would silently keep only the last "
                              "value: remove one")
