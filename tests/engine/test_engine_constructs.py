"""Constructs the engine integrates in continuous time, each against a closed form or an
equivalent model (issue 15). Corpus models in ``tests/models/corpus/``; PySD's refined
Euler for each is in ``tests/test_engine_corpus.py``.

Units: time in years; tolerances relative unless stated.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import sim
from sim.engine.batch import simulate_batch
from sim.errors import SimulationError

CORPUS = Path(__file__).parents[1] / "models" / "corpus"
TIGHT = dict(rtol=1e-10, atol=1e-12)
CONTROL_TEXT = (CORPUS / "periodic_switch.mdl").read_text(encoding="utf-8").split(".Control")[1]


def with_control(body: str) -> str:
    """A model text: ``body`` and the corpus' control section (0..20 years)."""
    return ("{UTF-8}\n" + body + "\n********************************************************\n\t.Control"
            + CONTROL_TEXT)


def erlang_cdf(x, order: int, mean: float):
    return stats.gamma.cdf(np.maximum(x, 0.0), a=order, scale=mean / order)


def test_delay_n_with_constant_delay_time_is_the_erlang_response():
    """DELAY N(input, 4, 10, 5) of 10 + STEP(5, 2): 10 + 5 x Erlang(5, mean 4)(t - 2)."""
    times = np.linspace(0, 20, 161)
    df = sim.simulate(CORPUS / "delay_n.mdl", times=times, **TIGHT)
    exact = 10 + 5 * erlang_cdf(times - 2, 5, 4.0)
    np.testing.assert_allclose(df["output constant"].to_numpy(float), exact, rtol=1e-8)


def test_delay_n_with_changing_delay_time_equals_five_explicit_stocks():
    df = sim.simulate(CORPUS / "delay_n.mdl", times=np.linspace(0, 20, 81), **TIGHT)
    np.testing.assert_allclose(df["output changing"], df["flow 5"], rtol=1e-8)
    # the delay time really changes, so the two outputs differ
    assert np.max(np.abs(df["output changing"] - df["output constant"])) > 0.1


def test_delay_keeps_its_order_when_the_delay_time_is_shorter_than_order_steps():
    """DELAY3 with delay time 0.1 < 3 x TIME STEP: Vensim's order 3 (Erlang(3)), not
    PySD's order 1 (a plain exponential)."""
    times = 1 + np.linspace(0, 0.5, 51)
    df = sim.simulate(CORPUS / "short_delay.mdl", times=times, **TIGHT)
    got = df["quick arrivals"].to_numpy(float)
    np.testing.assert_allclose(got, 1 + erlang_cdf(times - 1, 3, 0.1), rtol=1e-8)
    first_order = 1 + erlang_cdf(times - 1, 1, 0.1)
    assert np.max(np.abs(got - first_order)) > 0.1


def periodic_level(times, period: float, on: float = 2.0, inflow: float = 10.0, drain: float = 10.0):
    """level' = inflow * [MODULO(t, period) < on] - level / drain, level(0) = 0, solved
    exactly segment by segment (widget)."""
    edges = sorted({0.0, *[k * period for k in range(1, 40)], *[k * period + on for k in range(40)]})
    out = []
    for t in times:
        level, a = 0.0, 0.0
        for b in edges[1:]:
            end = min(b, t)
            if end <= a:
                break
            u = inflow if (a % period) < on - 1e-12 else 0.0
            decay = np.exp(-(end - a) / drain)
            level = level * decay + u * drain * (1 - decay)
            a = end
        out.append(level)
    return np.array(out)


def test_periodic_switch_in_time_matches_the_closed_form_and_its_points_are_breakpoints():
    """Inflow 10 for two years of every three, drained over 10 years: the engine at a loose
    rtol matches the segment-by-segment solution because the switches are breakpoints."""
    times = np.arange(0.0, 20.5, 0.5)
    df = sim.simulate(CORPUS / "periodic_switch.mdl", times=times, rtol=1e-4)
    exact = periodic_level(times, 3.0)
    np.testing.assert_allclose(df["level"].to_numpy(float), exact, rtol=1e-5, atol=1e-9)
    assert {2.0, 3.0, 5.0, 6.0, 17.0, 18.0} <= set(df.attrs["breakpoints"])
    ds = simulate_batch(CORPUS / "periodic_switch.mdl", {"period": np.array([3.0, 4.0])},
                        times=times, rtol=1e-4)
    np.testing.assert_allclose(ds["level"].values[0], exact, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(ds["level"].values[1], periodic_level(times, 4.0), rtol=1e-5, atol=1e-9)


def held_exact(t, decay_time):
    """The macro's stock: u T, with the input u stepping from 2 to 5 at year 3."""
    t = np.asarray(t, float)
    return np.where(t < 3, 2 * decay_time,
                    5 * decay_time - 3 * decay_time * np.exp(-(t - 3) / decay_time))


def test_macro_states_are_integrated_in_engine_and_batch():
    times = np.linspace(0, 20, 41)
    df = sim.simulate(CORPUS / "macro.mdl", times=times, **TIGHT)
    np.testing.assert_allclose(df["held"], held_exact(times, 4.0), rtol=1e-8)
    np.testing.assert_allclose(df["held fast"], held_exact(times, 1.0), rtol=1e-8)
    ds = simulate_batch(CORPUS / "macro.mdl", {"decay time": np.array([2.0, 4.0])}, times=times, **TIGHT)
    for k, T in enumerate((2.0, 4.0)):
        np.testing.assert_allclose(ds["held"].values[k], held_exact(times, T), rtol=1e-8)


def test_subscripted_delays_in_two_dimensions_match_closed_forms():
    """SMOOTH of a linear input b + c t from b: b + c t - c T (1 - exp(-t/T)) (+ the
    sine, checked via DELAY1 = SMOOTH for a first-order delay)."""
    times = np.linspace(0, 20, 41)
    df = sim.simulate(CORPUS / "subscripted_delays.mdl", times=times, **TIGHT)
    for region in ("north", "south"):
        for product in ("cups", "bowls", "vases"):
            key = f"[{region},{product}]"
            # DELAY1 and SMOOTH of the same input from the same start are the same ODE
            np.testing.assert_allclose(df["arrivals first order" + key], df["smoothed" + key], rtol=1e-9)
            # DELAY3 and SMOOTH3 likewise
            np.testing.assert_allclose(df["arrivals third order" + key],
                                       df["smoothed third order" + key], rtol=1e-9)
    # SMOOTH of sin from 0 has a closed form; test one element through its linear part
    T, b, g = 2.0, 10.0, 0.05
    c = b * g
    lin = b + c * times - c * T * (1 - np.exp(-times / T))
    sine = (2 / (1 + T**2)) * (np.sin(times) - T * np.cos(times) + T * np.exp(-times / T))
    np.testing.assert_allclose(df["smoothed[north,cups]"], lin + sine, rtol=1e-8)
    assert df.filter(like="regional smoothed").shape[1] == 2


def test_nonnegative_guard_fires_at_zero(tmp_path):
    path = tmp_path / "drain.mdl"
    path.write_text(with_control("stock = INTEG(-1, 0.5)\n\t~\twidget [0,?]\n\t~\t|\n"), encoding="utf-8")
    with pytest.raises(SimulationError, match="goes negative") as info:
        sim.simulate(path)
    assert info.value.time == pytest.approx(0.5, abs=1e-12)


def test_warnings_for_euler_constructs_and_vanishing_states(tmp_path):
    path = tmp_path / "euler.mdl"
    path.write_text(with_control(
        "kick = IF THEN ELSE(Time = 5, 1 / TIME STEP, 0)\n\t~\twidget/Year\n\t~\t|\n\n"
        "stock = INTEG(kick, 0)\n\t~\twidget\n\t~\t|\n\n"
        "prey = INTEG(-3 * prey, 1000)\n\t~\twidget\n\t~\t|\n"), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = sim.simulate(path)
    notes = df.attrs["warnings"]
    assert any("'kick' uses TIME STEP" in n for n in notes), notes
    assert any("'kick' compares Time for equality" in n for n in notes), notes
    assert any("'prey'" in n and "falls below atol" in n for n in notes), notes
    assert len(notes) == 3
    assert sum("falls below atol" in str(w.message) for w in caught) == 1
    plain = sim.simulate(CORPUS / "delay_n.mdl")
    assert plain.attrs["warnings"] == []


def test_data_files_named_by_a_model_are_found_inside_its_folder_only(tmp_path):
    """The translation cache copies a model's data files (quoted names of files inside the
    model's folder) next to the translation and keys the cache on their hashes. Names
    leading out of the folder are not followed. (sim.engine.untrusted currently refuses
    the GET XLS/DIRECT functions in a model file altogether; the refusal is checked here
    too, so that lifting it makes this test point at the copy.)"""
    from sim.engine.load import data_files
    from sim.errors import ModelError

    (tmp_path / "models" / "data").mkdir(parents=True)
    (tmp_path / "models" / "data" / "rates.csv").write_text("name,value\nrate,0.25\n", encoding="utf-8")
    (tmp_path / "secret.csv").write_text("x\n", encoding="utf-8")
    path = tmp_path / "models" / "decay.mdl"
    path.write_text(with_control(
        "rate = GET DIRECT CONSTANTS('data/rates.csv', ',', 'B2')\n\t~\t1/Year\n\t~\t|\n\n"
        "other = GET DIRECT CONSTANTS('../secret.csv', ',', 'A1')\n\t~\t1/Year\n\t~\t|\n\n"
        "stock = INTEG(-rate * stock, 100)\n\t~\twidget\n\t~\t|\n"), encoding="utf-8")
    assert data_files(path) == [Path("data/rates.csv")]
    with pytest.raises(ModelError, match="external file"):
        sim.simulate(path)
