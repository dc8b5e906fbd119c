"""Bad input, class *command line*: every mistake is one line ``error: ...`` naming the
option and the fix, exit 2, before any work. Every case failed on the code before issue 11
(a traceback, exit 0 with a changed meaning, or the check after the work).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main

HERE = Path(__file__).parent
ROOT = HERE.parent
DECAY = HERE / "models" / "analytic" / "exponential_decay.mdl"
SCEN = HERE / "models" / "scenario" / "scenarios"
TINY = HERE / "models" / "scenario" / "tiny.mdl"
UNC = """parameters:
  - name: transfer growth effect
    distribution: {kind: uniform, min: 0.0, max: 0.006}
    source: "assumption: test"
"""


def run_cli(argv, capsys):
    """(exit code, stderr lines) of ``python -m sim ...`` run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    return code, err


def one_line(code, err) -> str:
    assert code == 2, err
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


# --- --set ---------------------------------------------------------------------------------
def test_set_refuses_a_stock_and_points_to_initial(capsys):
    line = one_line(*run_cli(["simulate", DECAY, "--set", "stock=5"], capsys))
    assert line == "error: --set 'stock': a stock; set its initial value with --initial \"stock=VALUE\""


@pytest.mark.parametrize("name, option", [("INITIAL TIME", "--initial-time"),
                                          ("FINAL TIME", "--final-time"), ("SAVEPER", "--saveper")])
def test_set_refuses_control_variables_and_names_the_option(capsys, name, option):
    line = one_line(*run_cli(["simulate", DECAY, "--set", f"{name}=5"], capsys))
    assert line == f"error: --set '{name}': a control variable; use {option}"


def test_set_refuses_an_equation_and_unknown_names_with_suggestions(capsys):
    line = one_line(*run_cli(["simulate", DECAY, "--set", "outflow=3", "--set", "decay tme=3"], capsys))
    assert "--set 'outflow': computed by an equation (Auxiliary); --set takes constants only" in line
    assert "--set 'decay tme': not a variable of exponential_decay.mdl (did you mean 'decay time'?)" in line


def test_initial_and_output_window_options_do_what_set_refused(capsys, tmp_path):
    out = tmp_path / "o.csv"
    code, err = run_cli(["simulate", DECAY, "--initial", "stock=50", "--final-time", "8",
                         "--saveper", "2", "--columns", "stock", "-o", out], capsys)
    assert code == 0, err
    df = pd.read_csv(out, index_col=0)
    assert list(df.index) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert df["stock"].iloc[-1] == pytest.approx(50 * 2.718281828459045 ** (-2), rel=1e-5)


@pytest.mark.parametrize("argv, text", [
    (["--atol", "-1"], "argument --atol: '-1': expected a number greater than 0"),
    (["--rtol", "0"], "argument --rtol: '0': expected a number greater than 0"),
    (["--max-evals", "0"], "argument --max-evals: '0': expected a whole number at least 1"),
    (["--final-time", "99"], "--final-time 99: expected a time from 0 to the model's FINAL TIME 20"),
    (["--set", "decay time=nan"], "--set 'decay time=nan': value 'nan' is not a finite number"),
])
def test_bad_solver_and_time_options(capsys, argv, text):
    line = one_line(*run_cli(["simulate", DECAY, *argv], capsys))
    assert text in line


# --- ensemble options: refused before anything is read -------------------------------------
@pytest.mark.parametrize("argv, text", [
    (["--seed", "-1"], "argument --seed: '-1': expected a whole number at least 0"),
    (["--chunk-size", "-4"], "argument --chunk-size: '-4': expected a whole number at least 1"),
    (["--n", "0"], "argument --n: '0': expected a whole number at least 1"),
    (["--scheduler", "not a url"], "argument --scheduler: 'not a url' is not a Dask scheduler "
                                   "address; expected tcp://host:8786"),
])
def test_bad_ensemble_options(capsys, argv, text):
    line = one_line(*run_cli(["ensemble", "--n", "10", *argv], capsys))
    assert text in line and line.endswith("(see python -m sim ensemble --help)")


def test_scheduler_from_the_environment_is_checked_too(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SIM_DASK_SCHEDULER", "bogus")
    unc = tmp_path / "u.yaml"
    unc.write_text(UNC, encoding="utf-8")
    line = one_line(*run_cli(["ensemble", "--n", "4", "--scenarios", SCEN, "--model", TINY,
                              "--uncertainties", unc, "--out", tmp_path / "o"], capsys))
    assert line == ("error: $SIM_DASK_SCHEDULER 'bogus': expected a Dask scheduler address like "
                    "tcp://host:8786")


def test_n_too_large_is_refused_with_the_largest_that_fits(capsys):
    line = one_line(*run_cli(["ensemble", "--n", "100000000"], capsys))
    assert line.startswith("error: --n 100,000,000: the ensemble needs about ")
    assert "GiB available; the largest --n that fits is " in line


def test_memory_estimate_arithmetic():
    from sim.analysis.ensemble import check_memory, memory_estimate
    from sim.errors import UsageError

    need = memory_estimate(1000, 2, 1, 3, 21, 500, 1)
    assert need == 8 * (2 * 1000 * 2 + 2 * 3 * 1000 * 21) + 300 * 2**20 + 8 * 500 * 21 * (3 + 8 + 64)
    check_memory(1000, "lhs", 2, 1, 3, 21, 500, 1, available=2 * need)
    with pytest.raises(UsageError, match=r"largest --n that fits is 65,536"):
        check_memory(10**9, "sobol", 2, 1, 3, 21, 500, 1, available=1 * 2**30)


# --- output locations are checked before the work ------------------------------------------
def _must_not_run(*args, **kwargs):
    raise AssertionError("the work started before the output location was checked")


@pytest.mark.parametrize("command, target", [
    (["ensemble", "--n", "4"], "sim.report.ensemble.run_ensemble"),
    (["calibrate", "models/calibration/jingdezhen.yaml"], "sim.report.calibration.calibrate"),
    (["run"], "sim.run.read_study"),
    (["optimize"], "sim.report.policy_search.find_policy"),
])
@pytest.mark.parametrize("where", ["/sys/x", "existing"])
def test_out_is_checked_before_any_work(capsys, monkeypatch, tmp_path, command, target, where):
    monkeypatch.setattr(target, _must_not_run)
    out = tmp_path if where == "existing" else Path(where)
    line = one_line(*run_cli([*command, "--out", out], capsys))
    if where == "existing":
        assert line == (f"error: --out {out}: results folder already exists; results are never "
                        "overwritten: choose a new name")
    else:
        assert line == ("error: --out /sys/x: cannot be created (/sys: Operation not permitted); "
                        "choose a location you can write to")


def test_simulate_output_file_is_new_and_writable(capsys, tmp_path):
    existing = tmp_path / "old.csv"
    existing.write_text("keep me", encoding="utf-8")
    line = one_line(*run_cli(["simulate", DECAY, "-o", existing], capsys))
    assert line == (f"error: -o {existing}: output file already exists; results are never "
                    "overwritten: choose a new name")
    assert existing.read_text(encoding="utf-8") == "keep me"
    line = one_line(*run_cli(["simulate", DECAY, "-o", "/sys/x.csv"], capsys))
    assert line.startswith("error: -o /sys/x.csv: cannot be created")


# --- the rest of the one error path ---------------------------------------------------------
def test_compare_the_same_scenario_twice(capsys):
    line = one_line(*run_cli(["compare", "plan", "plan"], capsys))
    assert line == ("error: compare plan plan: the same scenario twice; name two different "
                    "scenarios (e.g. compare baseline plan)")


def test_figures_on_a_folder_without_manifest(capsys, tmp_path):
    line = one_line(*run_cli(["figures", tmp_path], capsys))
    assert line == (f"error: {tmp_path}/manifest.json: not found; {tmp_path} is not a results "
                    "folder: give a folder written by `python -m sim run`")


def test_figures_on_a_broken_manifest(capsys, tmp_path):
    (tmp_path / "manifest.json").write_text('{"scenarios": {', encoding="utf-8")
    line = one_line(*run_cli(["figures", tmp_path], capsys))
    assert line.startswith(f"error: {tmp_path}/manifest.json: not a readable manifest (")


def test_non_utf8_scenario_through_run_is_one_problem_line(capsys, tmp_path):
    folder = tmp_path / "s"
    shutil.copytree(SCEN, folder)
    plan = folder / "plan.yaml"
    plan.write_bytes(plan.read_text(encoding="utf-8").encode("gbk"))
    code, err = run_cli(["run", "--scenarios", folder, "--model", TINY, "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert any(ln.strip().startswith(f"{plan}: line ") and "not UTF-8" in ln for ln in err), err
    assert not (tmp_path / "o").exists()
