"""The SciPy engine against closed-form solutions (issue 2, part 4).

Each model in ``tests/models/analytic/`` has a known exact solution. The engine, run at
``rtol=1e-8, atol=1e-10``, must match it to a maximum relative error of 1e-5. The
constants of each closed form are read from the engine's own output columns (constants
are returned as columns), so the test and the model file cannot silently disagree.

Units: time in years; stocks in the units of each model (widget, Person, Meter).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import sim

ANALYTIC = Path(__file__).parents[1] / "models" / "analytic"
TOLERANCE = 1e-5          # maximum relative error the issue allows
SOLVER = dict(rtol=1e-8, atol=1e-10)


def constant(df, name: str) -> float:
    """A model constant from a results frame (its column is flat)."""
    values = df[name].to_numpy(dtype=float)
    assert np.ptp(values) == 0, f"{name!r} is not constant"
    return float(values[0])


def max_relative_error(got, exact) -> float:
    got, exact = np.asarray(got, float), np.asarray(exact, float)
    return float(np.max(np.abs(got - exact) / np.abs(exact)))


def test_exponential_decay_matches_closed_form():
    times = np.linspace(0, 20, 81)
    df = sim.simulate(ANALYTIC / "exponential_decay.mdl", times=times, **SOLVER)
    s0, tau = constant(df, "initial stock"), constant(df, "decay time")
    exact = s0 * np.exp(-times / tau)
    assert max_relative_error(df["stock"], exact) <= TOLERANCE
    # the flow is evaluated from the integrated state, so it is as accurate
    assert max_relative_error(df["outflow"], exact / tau) <= TOLERANCE


def test_engine_error_shrinks_with_tolerance():
    """The error control works: a tolerance 1e4 times tighter gives a smaller error."""
    times = np.linspace(0, 20, 21)
    errors = []
    for rtol in (1e-4, 1e-8):
        df = sim.simulate(ANALYTIC / "exponential_decay.mdl", times=times, rtol=rtol,
                          atol=rtol * 1e-2)
        exact = constant(df, "initial stock") * np.exp(-times / constant(df, "decay time"))
        errors.append(max_relative_error(df["stock"], exact))
    assert errors[1] < errors[0] / 100
    assert errors[0] > 1e-8  # the loose run is visibly loose: the comparison means something


def test_logistic_growth_matches_closed_form():
    times = np.linspace(0, 20, 81)
    df = sim.simulate(ANALYTIC / "logistic_growth.mdl", times=times, **SOLVER)
    r, k = constant(df, "growth rate"), constant(df, "carrying capacity")
    p0 = constant(df, "initial population")
    exact = k / (1 + (k / p0 - 1) * np.exp(-r * times))
    assert max_relative_error(df["population"], exact) <= TOLERANCE


# --- harmonic oscillator ------------------------------------------------------------
OSCILLATOR = ANALYTIC / "harmonic_oscillator.mdl"
CYCLES = 10  # FINAL TIME 50 years, period 5 years


def downward_zero_crossings(times, position, velocity) -> np.ndarray:
    """Times (years) where the position falls through zero.

    Refined by one Newton step from the sample just before each sign change, using the
    velocity (the exact derivative). At a zero of x = A cos(w t) the curvature x'' = -w^2 x
    vanishes, so the step is third-order accurate: with samples 0.01 year apart the
    refinement error is far below the tolerance under test.
    """
    idx = np.flatnonzero((position[:-1] > 0) & (position[1:] <= 0))
    return times[idx] - position[idx] / velocity[idx]


def oscillator_amplitude(position, velocity, omega) -> np.ndarray:
    """Amplitude sqrt(x^2 + (v/w)^2) (Meter): constant along the exact solution."""
    return np.sqrt(position ** 2 + (velocity / omega) ** 2)


def test_oscillator_keeps_amplitude_and_period_over_ten_cycles():
    times = np.linspace(0, 50, 5001)
    df = sim.simulate(OSCILLATOR, times=times, **SOLVER)
    period, x0 = constant(df, "period"), constant(df, "initial position")
    omega = constant(df, "angular frequency")
    x, v = df["position"].to_numpy(), df["velocity"].to_numpy()

    amplitude = oscillator_amplitude(x, v, omega)
    assert np.max(np.abs(amplitude - x0)) / x0 <= TOLERANCE

    crossings = downward_zero_crossings(times, x, v)
    assert len(crossings) == CYCLES
    periods = np.diff(crossings)
    assert np.max(np.abs(periods - period)) / period <= TOLERANCE
    # phase: the first crossing is at a quarter period, the last CYCLES-1 periods later
    assert abs(crossings[-1] - (CYCLES - 0.75) * period) / period <= TOLERANCE

    # and pointwise, relative to the amplitude (x itself crosses zero)
    assert np.max(np.abs(x - x0 * np.cos(omega * times))) / x0 <= TOLERANCE


def test_pysd_euler_at_the_models_step_drifts_where_the_engine_does_not():
    """Contrast: PySD's forward Euler at the model's TIME STEP (1/16 year).

    Each Euler step multiplies x^2 + (v/w)^2 by exactly 1 + (w dt)^2, and rotates the
    phase by atan(w dt) instead of w dt, so after n steps the amplitude is
    (1 + (w dt)^2)^(n/2) and the period is 2 pi dt / atan(w dt). The test checks PySD
    shows this drift, far beyond the engine's 1e-5.
    """
    pysd_model = sim.load_model(OSCILLATOR).fresh()
    euler = pysd_model.run(return_timestamps=np.linspace(0, 50, 801))
    dt = float(euler["TIME STEP"].iloc[0])
    omega, x0 = constant(euler, "angular frequency"), constant(euler, "initial position")
    x, v = euler["position"].to_numpy(), euler["velocity"].to_numpy()
    times = euler.index.to_numpy(dtype=float)

    amplitude = oscillator_amplitude(x, v, omega)
    n_steps = round(50 / dt)
    predicted = x0 * (1 + (omega * dt) ** 2) ** (n_steps / 2)
    assert amplitude[-1] == pytest.approx(predicted, rel=1e-9)
    assert amplitude[-1] > 2 * x0            # grows more than twofold in ten cycles

    euler_period = np.mean(np.diff(downward_zero_crossings(times, x, v)))
    period = constant(euler, "period")
    # the Newton refinement is exact only for the exact solution; the Euler curve is
    # sampled at its own steps, so compare with a loose tolerance to the Euler theory
    assert euler_period == pytest.approx(2 * math.pi * dt / math.atan(omega * dt), rel=1e-3)
    assert abs(euler_period - period) / period > 100 * TOLERANCE


# --- first-order material delay -------------------------------------------------------
def test_first_order_material_delay_matches_closed_form():
    """Both the explicit stock-and-flow delay and DELAY1I follow the exact lag of a
    sinusoidal input: y(t) = yp(t) + (y0 - yp(0)) exp(-t/D)."""
    times = np.linspace(0, 24, 97)
    df = sim.simulate(ANALYTIC / "material_delay.mdl", times=times, **SOLVER)
    base, swing = constant(df, "base shipments"), constant(df, "shipment swing")
    omega, delay = constant(df, "swing frequency"), constant(df, "delay time")
    y0 = constant(df, "initial arrivals")

    def steady(t):
        return base + swing * (np.sin(omega * t) - omega * delay * np.cos(omega * t)) / (
            1 + (omega * delay) ** 2)

    exact = steady(times) + (y0 - steady(0.0)) * np.exp(-times / delay)
    assert max_relative_error(df["arrivals"], exact) <= TOLERANCE
    assert max_relative_error(df["arrivals via delay1"], exact) <= TOLERANCE
    assert max_relative_error(df["goods in transit"], exact * delay) <= TOLERANCE
