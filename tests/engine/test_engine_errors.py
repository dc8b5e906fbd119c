"""Bad input and failing runs give clear errors (issue 2, part 4).

Every error names the model file and the key at fault and says what was expected; a run
that goes wrong (NaN derivative, a non-negative stock going negative, solver failure)
raises :class:`sim.SimulationError` with the model time (years) and variable. The small
models are written into a temporary folder by :func:`write_model`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim

DECAY = Path(__file__).parents[1] / "models" / "analytic" / "exponential_decay.mdl"

CONTROL = """
********************************************************
	.Control
********************************************************~
		Simulation Control Parameters
	|

FINAL TIME  = 10
	~	Year
	~	|

INITIAL TIME  = 0
	~	Year
	~	|

SAVEPER  = 1
	~	Year
	~	|

TIME STEP  = 0.0625
	~	Year
	~	|

\\\\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
*View 1
///---\\\\\\
"""


def write_model(folder: Path, name: str, equations: str) -> Path:
    """Write ``equations`` plus a 0..10 year control section to ``folder/name.mdl``."""
    path = folder / f"{name}.mdl"
    path.write_text("{UTF-8}\n" + equations.strip() + "\n\n" + CONTROL, encoding="utf-8")
    return path


# --- bad model files ----------------------------------------------------------------------
def test_missing_file_is_a_model_error_naming_the_file(tmp_path):
    missing = tmp_path / "no_such_model.mdl"
    with pytest.raises(sim.ModelError, match="no_such_model.mdl.*not found"):
        sim.simulate(missing)


def test_unknown_file_format_is_a_model_error(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("stock = INTEG(1, 0)", encoding="utf-8")
    with pytest.raises(sim.ModelError, match=r"model\.txt.*unknown model format '\.txt'"):
        sim.simulate(path)


@pytest.mark.parametrize("text", [
    "this is not a model at all",                       # no equation structure
    "{UTF-8}\nstock = INTEG(flow, \n\t~\twidget\n\t~\t|\n",  # unbalanced parenthesis
], ids=["garbage", "unbalanced"])
def test_malformed_mdl_is_a_model_error_naming_the_file(tmp_path, text):
    path = tmp_path / "malformed.mdl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(sim.ModelError, match="malformed.mdl.*could not translate"):
        sim.simulate(path)


# --- bad parameters -----------------------------------------------------------------------
def test_unknown_parameter_names_the_file_and_suggests_the_closest_names():
    with pytest.raises(sim.ParameterError) as err:
        sim.simulate(DECAY, params={"decay tme": 3.0})
    message = str(err.value)
    assert "exponential_decay.mdl" in message
    assert "'decay tme'" in message and "did you mean 'decay time'" in message


def test_all_unknown_parameters_are_reported_together():
    with pytest.raises(sim.ParameterError) as err:
        sim.simulate(DECAY, params={"decay tme": 3.0, "intial stock": 50.0})
    message = str(err.value)
    assert "'decay tme'" in message and "'intial stock'" in message
    assert "'initial stock'" in message  # the suggestion for the second one


@pytest.mark.parametrize("value, expected", [
    ("fast", "expected a number"),
    ("4", "expected a number"),             # a numeric string is still not a number
    (None, "expected a number"),
    ([1.0, 2.0], "expected a number"),
    (True, "expected a number, got a boolean"),
    (math.nan, "not finite"),
    (math.inf, "not finite"),
    (pd.Series([1.0, 2.0], index=["a", "b"]), "numeric years"),
], ids=["word", "numeric-string", "none", "list", "bool", "nan", "inf", "series-text-index"])
def test_non_numeric_parameter_value_is_a_parameter_error(value, expected):
    with pytest.raises(sim.ParameterError) as err:
        sim.simulate(DECAY, params={"decay time": value})
    message = str(err.value)
    assert "exponential_decay.mdl" in message and "'decay time'" in message
    assert expected in message


def test_parameter_by_python_name_takes_effect():
    """The contract accepts PySD's Python names too; the value must reach the model."""
    df = sim.simulate(DECAY, params={"decay_time": 2.0}, times=[0.0, 20.0], rtol=1e-8, atol=1e-10)
    assert df["stock"].iloc[-1] == pytest.approx(100 * math.exp(-20 / 2.0), rel=1e-6)


def test_unknown_initial_condition_suggests_the_stock():
    with pytest.raises(sim.ParameterError, match="unknown stock 'stok'.*did you mean 'stock'"):
        sim.simulate(DECAY, initial_conditions={"stok": 3.0})


def test_initial_condition_on_a_constant_is_a_parameter_error():
    """Regression test for an engine bug found by the verification corpus (now fixed).

    ``initial_conditions={"decay time": 5}`` names a constant, not a stock. The engine's
    name check accepts any model element, so PySD raises a bare ``ValueError``
    ("Unrecognized stateful 'decay_time'...") that names neither the file nor the
    stocks one could mean. Expected: :class:`sim.ParameterError` naming the file and the
    key, checking the names against the model's stocks (``LoadedModel.stocks()``).
    """
    with pytest.raises(sim.ParameterError) as err:
        sim.simulate(DECAY, initial_conditions={"decay time": 5.0})
    assert "exponential_decay.mdl" in str(err.value) and "'decay time'" in str(err.value)


def test_unknown_return_column_is_a_parameter_error_with_suggestion():
    """Regression test for an engine bug found by the verification corpus (now fixed).

    ``return_columns=["stok"]`` reaches PySD unchecked, which raises a bare
    ``KeyError('stok not found as model element')``: no file, no suggestion. Expected: a
    :class:`sim.ParameterError` naming the file, the key and the closest names, as for
    ``params`` (``resolve_names`` does this already).
    """
    with pytest.raises(sim.ParameterError) as err:
        sim.simulate(DECAY, return_columns=["stok"])
    assert "exponential_decay.mdl" in str(err.value) and "did you mean 'stock'" in str(err.value)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(method="Euler"), "unknown method 'Euler'"),
    (dict(rtol=0), "rtol must be a positive number"),
    (dict(times=[0.0, 30.0]), r"times must lie within \[0, 20\]"),
], ids=["method", "rtol", "times"])
def test_bad_solver_settings_are_parameter_errors(kwargs, expected):
    with pytest.raises(sim.ParameterError, match=expected):
        sim.simulate(DECAY, **kwargs)


# --- runs that go wrong -------------------------------------------------------------------
def test_nan_derivative_names_the_stock_and_the_time(tmp_path):
    """level' = -(1 + sqrt(level - 5)) from level 10 (m3): the square root turns NaN when
    the level passes 5, at t* = 2 (sqrt 5 - ln(1 + sqrt 5)) = 2.123 years."""
    path = write_model(tmp_path, "nan_derivative", """
level = INTEG(-decline, 10)
	~	m3
	~	|

decline = 1 + SQRT(level - 5)
	~	m3/Year
	~	|
""")
    crossing = 2 * (math.sqrt(5) - math.log(1 + math.sqrt(5)))
    with pytest.raises(sim.SimulationError) as err:
        sim.simulate(path)
    assert err.value.variable == "level"
    # a Runge-Kutta stage may probe a state past the crossing slightly before t*
    assert err.value.time == pytest.approx(crossing, abs=0.05)
    assert "nan_derivative.mdl" in str(err.value) and "'level'" in str(err.value)


def test_division_by_zero_in_a_derivative_is_a_simulation_error(tmp_path):
    path = write_model(tmp_path, "zero_division", """
stock = INTEG(1 / capacity, 0)
	~	widget
	~	|

capacity = 0
	~	widget*Year
	~	|
""")
    with pytest.raises(sim.SimulationError, match="zero_division.mdl.*ZeroDivisionError"):
        sim.simulate(path)


def test_non_negative_stock_going_negative_names_the_stock_and_the_time(tmp_path):
    """Reserves of 10 t drained at 2 t/Year, marked ``[0,?]``: empty at exactly 5 years."""
    path = write_model(tmp_path, "depletion", """
reserves = INTEG(-extraction, 10)
	~	t [0,?]
	~	|

extraction = 2
	~	t/Year
	~	|
""")
    with pytest.raises(sim.SimulationError) as err:
        sim.simulate(path)
    assert err.value.variable == "reserves"
    assert err.value.time == pytest.approx(5.0, abs=1e-6)
    assert "depletion.mdl" in str(err.value) and "negative" in str(err.value)


def test_unmarked_stock_may_go_negative(tmp_path):
    """The same model without the [0,?] range runs: negativity is only an error when the
    units field says so."""
    path = write_model(tmp_path, "overdraft", """
balance = INTEG(-spending, 10)
	~	CNY
	~	|

spending = 2
	~	CNY/Year
	~	|
""")
    df = sim.simulate(path, rtol=1e-8)
    assert df["balance"].iloc[-1] == pytest.approx(10 - 2 * 10)


def test_solver_failure_reports_the_time_it_failed(tmp_path):
    """Regression test for an engine bug found by the verification corpus (now fixed).

    ``strain' = 1 / (level - 5)`` with ``level = 10 - 2 t`` is singular at t = 2.5 years:
    the solver gives up just before it ("Required step size is less than spacing between
    numbers") and the engine raises SimulationError, as it should. But the error's
    ``time`` is ``sol.t[-1]``, which with ``t_eval`` is the last *output* time reached
    (2.0), not where the solver stopped (~2.5); the message says only "between 0 and 10".
    Expected: the time the solver reached (e.g. track the last ``t`` passed to the
    right-hand side, or integrate without ``t_eval`` and use dense output).
    """
    path = write_model(tmp_path, "singular", """
level = INTEG(-2, 10)
	~	m3
	~	|

strain = INTEG(1 / (level - 5), 0)
	~	Dmnl
	~	|
""")
    with pytest.raises(sim.SimulationError) as err:
        sim.simulate(path)
    assert 2.4 < err.value.time <= 2.5 + 1e-9
