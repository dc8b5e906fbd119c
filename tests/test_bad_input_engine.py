"""Bad input, class *engine*: a stiff model, bad solver settings, parameters that would
change the model's meaning, equations that fail or go non-finite outside the derivatives.

Every case failed on the code before issue 11: RK45 ran for minutes on the stiff model,
a negative atol was a SciPy traceback, a stock set as a parameter became a constant, a
control variable was ignored, a constant dividing by zero was a ZeroDivisionError
traceback, and NaN outputs were returned as blanks.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

import sim

HERE = Path(__file__).parent
STIFF = HERE / "models" / "stiff" / "stiff_relaxation.mdl"
DECAY = HERE / "models" / "analytic" / "exponential_decay.mdl"


def _decay_with(tmp_path, name: str, extra: str) -> Path:
    text = DECAY.read_text(encoding="utf-8").replace("decay time = 4", extra + "\n\ndecay time = 4")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the stiff model ------------------------------------------------------------------------
def test_stiff_model_under_rk45_stops_at_the_budget_and_names_stiffness():
    t0 = time.perf_counter()
    with pytest.raises(sim.SimulationError) as err:
        sim.simulate(STIFF)  # default method RK45, default budget
    assert time.perf_counter() - t0 < 120
    msg = str(err.value)
    assert "RK45 spent its budget of 200,000 derivative evaluations" in msg
    assert "the model looks stiff" in msg and "'LSODA' or 'BDF'" in msg
    assert 0 < err.value.time < 1  # it stalled at the start, as a stiff model does


@pytest.mark.parametrize("method", ["BDF", "LSODA"])
def test_the_hinted_methods_solve_the_stiff_model(method):
    """Control (passes on the old code too): the hint is right, BDF and LSODA solve it."""
    out = sim.simulate(STIFF, method=method, rtol=1e-8, return_columns=["x"])
    t = out.index.to_numpy(float)[1:]
    # after the 1e-7-year transient x follows cos(t); the lag is sin(t)/k = 1e-7
    assert np.max(np.abs(out["x"].to_numpy(float)[1:] - np.cos(t))) < 1e-5
    assert out.attrs["nfev"] < 20_000


def test_budget_is_configurable_and_an_implicit_method_gets_another_hint():
    with pytest.raises(sim.SimulationError, match=r"BDF spent its budget of 50 derivative "
                                                  r"evaluations .*raise max_evals"):
        sim.simulate(STIFF, method="BDF", max_evals=50)


def test_batch_has_the_same_budget():
    from sim.engine.batch import simulate_batch

    with pytest.raises(sim.SimulationError, match=r"RK45 spent its budget of 3,000 .*looks stiff"):
        simulate_batch(STIFF, {"k": np.array([1e7, 2e7])}, max_evals=3000)


# --- solver settings ------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, text", [
    ({"atol": -1}, "atol must be a positive number, got -1"),
    ({"atol": math.nan}, "atol must be a positive number, got nan"),
    ({"rtol": math.inf}, "rtol must be a positive number, got inf"),
    ({"max_evals": 0}, "max_evals must be a positive whole number, got 0"),
])
def test_bad_settings_are_parameter_errors(kwargs, text):
    with pytest.raises(sim.ParameterError, match=text):
        sim.simulate(DECAY, **kwargs)


# --- parameters that would change the model's meaning --------------------------------------
def test_a_stock_is_not_a_parameter():
    with pytest.raises(sim.ParameterError, match=r"'stock' is a stock; set its initial value "
                                                 r"with initial_conditions"):
        sim.simulate(DECAY, params={"stock": 5})


@pytest.mark.parametrize("name", ["INITIAL TIME", "final_time", "SAVEPER", "TIME STEP"])
def test_a_control_variable_is_not_a_parameter(name):
    with pytest.raises(sim.ParameterError, match=rf"'{name}' is a control variable; choose the "
                                                 r"output times with times="):
        sim.simulate(DECAY, params={name: 5})


# --- failures outside the derivatives -------------------------------------------------------
def test_a_constant_dividing_by_zero_names_the_variable(tmp_path):
    path = _decay_with(tmp_path, "div.mdl", "ratio = initial stock / nothing\n\t~\tDmnl\n\t~\tr\n\t|"
                       "\n\nnothing = 0\n\t~\twidget\n\t~\tz\n\t|")
    with pytest.raises(sim.SimulationError) as err:
        sim.simulate(path)
    assert str(err.value).startswith(f"{path}: variable 'ratio' cannot be computed at time 0: "
                                     "ZeroDivisionError")
    assert err.value.variable == "ratio" and err.value.time == 0


def test_an_output_dividing_by_zero_later_names_variable_and_time(tmp_path):
    # stock = 100 exp(-t/4) reaches 100 exp(-1) ... never 0; (stock - 100) is 0 at t = 0
    path = _decay_with(tmp_path, "div2.mdl", "ratio = stock / (stock - 100)\n\t~\tDmnl\n\t~\tr\n\t|")
    with pytest.raises(sim.SimulationError, match=r"variable 'ratio' cannot be computed at time 0"):
        sim.simulate(path)


def test_nan_in_the_output_is_an_error_naming_variable_and_time(tmp_path):
    # SQRT(stock - 50) is NaN once stock < 50, i.e. after t = 4 ln 2 = 2.77
    path = _decay_with(tmp_path, "nan.mdl", "root = SQRT(stock - 50)\n\t~\tDmnl\n\t~\tr\n\t|")
    with pytest.raises(sim.SimulationError) as err:
        sim.simulate(path)
    assert "variable 'root' is nan at time 3" in str(err.value)
    assert "--allow-nonfinite" in str(err.value)
    assert err.value.variable == "root" and err.value.time == 3
    kept = sim.simulate(path, allow_nonfinite=True)
    assert kept["root"].isna().sum() == 18 and kept["root"].iloc[2] == pytest.approx(
        math.sqrt(100 * math.exp(-0.5) - 50), rel=1e-5)
