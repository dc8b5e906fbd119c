"""Claims about the engine's interface and semantics (sim/engine.py, sim/model.py).

The analytic and convergence evidence lives in test_engine_analytic.py and
test_engine_corpus.py; bad-input errors in test_engine_errors.py.
"""
import math
import os
import time

import numpy as np
import pandas as pd
import pysd
import pytest

import sim
from sim.errors import ModelError, ParameterError, SimulationError

CONTROLS = """
INITIAL TIME = 0
	~	Year
	~		|
FINAL TIME = {final}
	~	Year
	~		|
TIME STEP = 0.125
	~	Year
	~		|
SAVEPER = 1
	~	Year
	~		|
"""

DECAY = """{{UTF-8}}
Stock = INTEG(-outflow, 100)
	~	Person [0,?]
	~		|
outflow = Stock / tau + extra
	~	Person/Year
	~		|
tau = 4
	~	Year
	~		|
extra = 0
	~	Person/Year
	~		|
""" + CONTROLS

LOOKUP = """{{UTF-8}}
Level = INTEG(growth, 1)
	~	Widget
	~		|
growth = effect(Level) + schedule(Time)
	~	Widget/Year
	~		|
effect([(0,0)-(10,10)],(0,0.5),(2,1.5),(5,0.2),(10,0))
	~	Widget/Year
	~		|
schedule([(0,0)-(20,5)],(0,0),(7,2),(13,0),(20,1))
	~	Widget/Year
	~		|
""" + CONTROLS


def write(tmp_path, name, text, final=20):
    path = tmp_path / name
    path.write_text(text.format(final=final), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def decay(tmp_path_factory):
    return sim.load_model(write(tmp_path_factory.mktemp("decay"), "decay.mdl", DECAY))


def test_exponential_decay_matches_closed_form(decay):
    df = sim.simulate(decay, rtol=1e-10, atol=1e-12)
    t = df.index.to_numpy()
    np.testing.assert_allclose(df["Stock"], 100 * np.exp(-t / 4), rtol=1e-7)
    assert list(t) == list(range(21))  # SAVEPER grid by default
    assert df.attrs["nfev"] > 0


def test_event_time_is_the_exact_crossing(decay):
    df = sim.simulate(decay, rtol=1e-10, atol=1e-12,
                      events=[sim.Event("Stock", 50.0, direction="down", name="half")])
    assert df.attrs["events"]["half"] == pytest.approx(4 * math.log(2), abs=1e-6)


def test_event_never_crossed_is_none_and_already_met_is_initial_time(decay):
    df = sim.simulate(decay, events=[sim.Event("Stock", 1e-3, direction="down"),
                                     sim.Event("Stock", 200.0, direction="down", name="met")])
    assert df.attrs["events"]["Stock <= 0.001"] is None
    assert df.attrs["events"]["met"] == 0.0


def test_params_do_not_stick_to_the_model(decay):
    before = sim.simulate(decay)["Stock"]
    changed = sim.simulate(decay, params={"tau": 2})["Stock"]
    after = sim.simulate(decay)["Stock"]
    assert changed.iloc[-1] < before.iloc[-1]
    pd.testing.assert_series_equal(before, after)


def test_python_names_and_model_names_are_both_accepted(decay):
    a = sim.simulate(decay, params={"tau": 3})["Stock"]
    b = sim.simulate(decay, params={"TAU": 3})["Stock"]
    pd.testing.assert_series_equal(a, b)


def test_time_series_parameter_is_interpolated_and_splits_the_run(decay):
    # tau steps from 4 to 2 over [5, 5.5]: the index points become breakpoints
    tau = pd.Series([4.0, 4.0, 2.0], index=[0, 5, 5.5])
    df = sim.simulate(decay, params={"tau": tau}, rtol=1e-10, atol=1e-12)
    assert 5.0 in df.attrs["breakpoints"] and 5.5 in df.attrs["breakpoints"]
    s5 = 100 * math.exp(-5 / 4)
    # on [5, 5.5] tau = 4 - 4 (t - 5); d ln S / dt = -1 / tau
    integral = -0.25 * (math.log(2.0) - math.log(4.0))  # ∫ dt / (4 - 4(t-5)) over [5, 5.5]
    s55 = s5 * math.exp(-integral)
    expected_10 = s55 * math.exp(-(10 - 5.5) / 2)
    assert df.loc[10.0, "Stock"] == pytest.approx(expected_10, rel=1e-6)


def test_initial_conditions_override(decay):
    df = sim.simulate(decay, initial_conditions={"Stock": 10.0}, rtol=1e-10, atol=1e-12)
    assert df["Stock"].iloc[0] == 10.0
    assert df.loc[4.0, "Stock"] == pytest.approx(10 * math.exp(-1), rel=1e-7)


def test_requested_times_and_return_columns(decay):
    df = sim.simulate(decay, times=[0, 2.5, 7.25], return_columns=["Stock"])
    assert list(df.index) == [0, 2.5, 7.25]
    assert list(df.columns) == ["Stock"]
    with pytest.raises(ParameterError, match="within"):
        sim.simulate(decay, times=[30])


@pytest.mark.parametrize("method", ["LSODA", "Radau", "BDF", "DOP853"])
def test_other_solvers_agree(decay, method):
    ref = sim.simulate(decay, rtol=1e-10, atol=1e-12)["Stock"]
    got = sim.simulate(decay, method=method, rtol=1e-8, atol=1e-10)["Stock"]
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_unknown_method_is_rejected(decay):
    with pytest.raises(ParameterError, match="RK45"):
        sim.simulate(decay, method="Euler")


def test_non_negative_stock_going_negative_names_time_and_variable(decay):
    # outflow = S/4 + 20: S(t) = -80 + 180 e^{-t/4} hits 0 at t = 4 ln(180/80)
    with pytest.raises(SimulationError) as info:
        sim.simulate(decay, params={"extra": 20}, rtol=1e-10, atol=1e-12)
    assert info.value.variable == "Stock"
    assert info.value.time == pytest.approx(4 * math.log(180 / 80), abs=1e-3)
    assert "Stock" in str(info.value) and "negative" in str(info.value)


def test_nan_derivative_names_the_variable(tmp_path):
    text = """{{UTF-8}}
X = INTEG(rate, 4)
	~	Dmnl
	~		|
rate = -1 + 0 * SQRT(X - 1)
	~	1/Year
	~		|
""" + CONTROLS
    with pytest.raises(SimulationError) as info:
        sim.simulate(write(tmp_path, "nan.mdl", text))
    assert info.value.variable == "X"
    assert info.value.time == pytest.approx(3.0, abs=0.05)


def test_fast_lookups_give_pysd_values_and_time_lookup_points_are_breakpoints(tmp_path):
    path = write(tmp_path, "lookup.mdl", LOOKUP)
    df = sim.simulate(path, rtol=1e-10, atol=1e-12)
    assert {7.0, 13.0}.issubset(df.attrs["breakpoints"])
    # the same lookups evaluated by PySD's xarray path
    model = pysd.read_vensim(str(tmp_path / "lookup_copy.mdl") if False else str(path))
    for x in [-1.0, 0.0, 0.3, 1.7, 2.0, 4.99, 7.5, 10.0, 12.0]:
        assert model.components.effect(x) == pytest.approx(float(np.interp(x, [0, 2, 5, 10], [0.5, 1.5, 0.2, 0])))
    # and the run agrees with PySD's Euler at a small step
    ref = model.run(time_step=1 / 512, saveper=1, return_columns=["Level"])["Level"]
    np.testing.assert_allclose(df["Level"].to_numpy(), ref.to_numpy(), rtol=2e-3)


def test_step_switches_at_its_time_not_half_a_step_early(tmp_path):
    text = """{{UTF-8}}
Acc = INTEG(STEP(1, 5), 0)
	~	Widget
	~		|
""" + CONTROLS
    df = sim.simulate(write(tmp_path, "step.mdl", text), times=[5, 6, 10], rtol=1e-10, atol=1e-12)
    assert df.loc[5.0, "Acc"] == pytest.approx(0.0, abs=1e-9)
    assert df.loc[6.0, "Acc"] == pytest.approx(1.0, rel=1e-9)
    assert df.attrs["breakpoints"] == [5.0]


def test_discrete_delay_fixed_is_rejected(tmp_path):
    text = """{{UTF-8}}
Acc = INTEG(lagged, 0)
	~	Widget
	~		|
lagged = DELAY FIXED(1, 2, 0)
	~	Widget/Year
	~		|
""" + CONTROLS
    with pytest.raises(ModelError, match="DELAY FIXED"):
        sim.simulate(write(tmp_path, "fixed.mdl", text))


def test_translation_is_cached_and_refreshed_when_the_file_changes(tmp_path):
    path = write(tmp_path, "cache.mdl", DECAY)
    first = sim.load_model(path)
    t = time.perf_counter()
    again = sim.load_model(path)
    assert again.py_file == first.py_file
    assert time.perf_counter() - t < 5  # a generous bound: loading, not translating
    mtime = os.path.getmtime(first.py_file)
    path.write_text(DECAY.replace("tau = 4", "tau = 5").format(final=20), encoding="utf-8")
    changed = sim.load_model(path)
    assert changed.py_file != first.py_file
    assert os.path.getmtime(first.py_file) == mtime
    assert sim.simulate(changed, return_columns=["tau"])["tau"].iloc[0] == 5


def test_a_pysd_model_object_is_accepted_and_left_as_found(tmp_path):
    path = write(tmp_path, "obj.mdl", DECAY)
    model = pysd.read_vensim(str(path))
    model.set_components({"tau": 2})
    df = sim.simulate(model, params={"extra": -1})
    assert df["tau"].iloc[0] == 2  # parameters already set on the object are kept
    assert "extra" not in model._components_setter_tracker
    assert model.components.extra() == 0


def test_saveper_equal_to_time_step_is_vensims_default(tmp_path):
    text = DECAY.replace("SAVEPER = 1", "SAVEPER = TIME STEP")
    df = sim.simulate(write(tmp_path, "saveper.mdl", text))
    assert df.index[1] == 0.125 and df.index[-1] == 20


def test_integration_stops_at_the_last_requested_time(decay):
    short = sim.simulate(decay, times=[0, 5])
    full = sim.simulate(decay)
    assert short.attrs["nfev"] < full.attrs["nfev"]
    assert short.loc[5.0, "Stock"] == pytest.approx(full.loc[5.0, "Stock"], rel=1e-5)
