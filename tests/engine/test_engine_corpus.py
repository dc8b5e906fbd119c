"""PySD's Euler converges to the SciPy engine on a corpus of small models (issue 2, part 4).

For each model in ``tests/models/corpus/`` the engine runs at a tight tolerance
(``rtol=1e-10``) and PySD's own ``run()`` (forward Euler) at TIME STEP 1/16, 1/64 and
1/256 year. Euler is first-order, so the gap between the two must fall in proportion to
the step: by about 4 for each fourfold refinement, checked as a ratio between 2 and 8.
At 1/256 the gap must be below 1e-3.

The gap of one variable is max over output times of |Euler - engine| divided by the
largest |engine| value of that variable (a relative measure that stays meaningful for
variables that pass through zero); the gap of a model is the largest over its variables.

Where outputs are compared: STEP and PULSE switch at ``Time + TIME STEP/2`` in PySD
and exactly at their time in the engine, and at a switching instant the two may report
opposite sides of the jump. Every switching instant in the corpus is a whole year (see
each model's comment), so the outputs are compared at half years (0.5, 1.5, ...), where
every auxiliary is away from its jumps. Stocks are continuous and unaffected.

Units: time in years; gaps are dimensionless (relative).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pytest

import sim

CORPUS = Path(__file__).parents[1] / "models" / "corpus"
EULER_STEPS = (1 / 16, 1 / 64, 1 / 256)    # years
ENGINE = dict(rtol=1e-10, atol=1e-12)
FINAL_GAP = 1e-3                           # required relative gap at dt = 1/256
NOISE = 1e-7       # relative gaps below this could be the engine's own error: no ratio check
CONTROL = {"FINAL TIME", "INITIAL TIME", "SAVEPER", "TIME STEP"}

# How each model's gap must fall. "first order": every fourfold refinement of the step
# divides the gap by 2..8. "jump at a state crossing": a flow jumps when a stock passes a
# threshold; Euler notices the crossing only at the next grid point, so part of its error
# depends on where the crossing falls between grid points and successive ratios are
# irregular (one refinement can even increase the gap). There the check is on the whole
# 16-fold refinement: the gap must fall by 4..64 (order between 1/2 and 3/2).
CONVERGENCE = {
    "step_ramp_pulse.mdl": "first order",
    "lookup_by_time.mdl": "first order",
    "lookup_by_variable.mdl": "first order",
    "delay1_delay3.mdl": "first order",
    "smooth_smooth3.mdl": "first order",
    "trend.mdl": "first order",
    "if_then_else.mdl": "first order",
    "subscripted_stocks.mdl": "first order",
    "computed_initial.mdl": "first order",
    "state_event.mdl": "jump at a state crossing",
    "subscripted_delays.mdl": "first order",
    "delay_n.mdl": "first order",
    "periodic_switch.mdl": "first order",
    "macro.mdl": "first order",
    # PySD lowers this DELAY3 to order 1 at TIME STEP 1/16 (3 x 1/16 > 0.1 Year) and keeps
    # order 3 at 1/256: its Euler gaps do not fall like dt. Checked against the Erlang(3)
    # closed form in tests/test_engine_constructs.py instead; here only the final gap.
    "short_delay.mdl": "closed form",
}

# Constructs the issue asks the corpus to cover: a pattern in the .mdl text each.
CONSTRUCTS = {
    "STEP": r"\bSTEP\s*\(",
    "RAMP": r"\bRAMP\s*\(",
    "PULSE": r"\bPULSE\s*\(",
    "lookup by time": r"\w\s*\(\s*Time\s*\)|WITH LOOKUP\s*\(\s*Time",
    "lookup by a variable": r"table\s*\(\s*[a-z][\w ]*/",
    "IF THEN ELSE": r"\bIF THEN ELSE\s*\(",
    "DELAY1": r"\bDELAY1I?\s*\(",
    "DELAY3": r"\bDELAY3I?\s*\(",
    "SMOOTH": r"\bSMOOTHI?\s*\(",
    "SMOOTH3": r"\bSMOOTH3I?\s*\(",
    "TREND": r"\bTREND\s*\(",
    "subscripted stock": r"^\w[\w ]*\[\w+\]\s*=\s*INTEG",
    "computed initial value": r"INTEG\s*\([^|]*,\s*[a-z][^|]*\)|\bINITIAL\s*\(",
    "DELAY N": r"\bDELAY N\s*\(",
    "SMOOTH N": r"\bSMOOTH N\s*\(",
    "subscripted delays": r"^\w[\w ]*\[\w+, *\w+\]\s*=\s*(SMOOTH|DELAY|TREND)",
    "macro": r"^:MACRO:",
    "periodic switch": r"MODULO\s*\(\s*Time",
}


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.mdl"))


def test_corpus_covers_the_constructs_the_issue_lists():
    files = corpus_files()
    assert len(files) >= 8
    assert {f.name for f in files} == set(CONVERGENCE), "every corpus model needs a convergence class"
    texts = {f.name: f.read_text(encoding="utf-8") for f in files}
    missing = [c for c, pattern in CONSTRUCTS.items()
               if not any(re.search(pattern, t, re.MULTILINE) for t in texts.values())]
    assert not missing, f"no corpus model uses: {missing}"
    undocumented = [n for n, t in texts.items() if ".Covers" not in t]
    assert not undocumented, f"corpus models without a '.Covers' comment: {undocumented}"


def half_years(final_time: float) -> np.ndarray:
    """Output times 0.5, 1.5, ... (years): away from every whole-year switching instant."""
    return np.arange(0.5, final_time, 1.0)


def relative_gap(result, reference, columns) -> float:
    """Largest over ``columns`` of max |result - reference| / max |reference|."""
    worst = 0.0
    for col in columns:
        ref = reference[col].to_numpy(float)
        scale = np.max(np.abs(ref))
        if scale > 0:
            worst = max(worst, np.max(np.abs(result[col].to_numpy(float) - ref)) / scale)
    return float(worst)


@functools.lru_cache(maxsize=None)
def comparison(name: str) -> dict:
    """Gaps to the tight engine run: PySD Euler at each of EULER_STEPS, and the engine
    at its default tolerance."""
    path = CORPUS / name
    # PySD side: a plain PySD model from the same translation; Euler at each step.
    pysd_model = sim.load_model(path).fresh()
    pysd_model.initialize()
    times = half_years(float(pysd_model.components.final_time()))
    engine = sim.simulate(path, times=times, **ENGINE)
    columns = [c for c in engine.columns if c not in CONTROL]
    euler_gaps = []
    for dt in EULER_STEPS:
        euler = pysd_model.run(time_step=dt, return_timestamps=times)
        assert set(euler.columns) - CONTROL == set(columns), "engine and PySD name columns alike"
        assert np.allclose(euler.index.to_numpy(float), times)
        euler_gaps.append(relative_gap(euler, engine, columns))
    default = sim.simulate(path, times=times)
    return {"euler": tuple(euler_gaps), "default": relative_gap(default, engine, columns)}


def gaps(name: str) -> tuple[float, ...]:
    return comparison(name)["euler"]


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_euler_converges_to_engine_in_proportion_to_step(name):
    g = gaps(name)
    assert g[-1] < FINAL_GAP, f"{name}: gap at dt=1/256 is {g[-1]:.2e}"
    assert g[0] > NOISE, f"{name}: Euler at 1/16 already matches; the model tests nothing"
    if CONVERGENCE[name] == "first order":
        for coarse, fine in zip(g[:-1], g[1:]):
            if fine > NOISE:
                assert 2 <= coarse / fine <= 8, f"{name}: gaps {g} do not fall like dt"
    elif CONVERGENCE[name] == "jump at a state crossing":
        assert 4 <= g[0] / g[-1] <= 64, f"{name}: gaps {g} do not fall roughly like dt"


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_engine_at_default_tolerance_is_within_the_issues_bar(name):
    """The engine as the project calls it (default rtol=1e-6) is within 1e-3 of the
    tight run, the bar the issue sets for Euler at 1/256. (Models with switches at
    state-dependent times come closest: about 100 times rtol, see docs/benchmarks.md.)"""
    assert comparison(name)["default"] < FINAL_GAP


# --- further claims of the engine, checked on corpus models -----------------------------
def step_ramp_pulse_input(t: float, c: dict) -> float:
    """Vensim's definition of the corpus input: STEP on for t >= its time, PULSE on for
    start <= t < start + width, RAMP continuous (widget/Year)."""
    step = c["step height"] * (t >= c["step time"])
    ramp = c["ramp slope"] * (min(max(t, c["ramp start"]), c["ramp end"]) - c["ramp start"])
    pulse = c["pulse height"] * (c["pulse start"] <= t < c["pulse start"] + c["pulse width"])
    return step + ramp + pulse


def test_step_and_pulse_switch_exactly_at_their_times_and_split_the_integration():
    """At a switching instant the engine reports the value after the switch."""
    switching = [4.0, 5.0, 9.0, 12.0, 14.0]
    times = np.array(sorted(switching + [0.0, 4.5, 13.0, 20.0]))
    df = sim.simulate(CORPUS / "step_ramp_pulse.mdl", times=times, **ENGINE)
    constants = {c: float(df[c].iloc[0]) for c in
                 ("step height", "step time", "ramp slope", "ramp start", "ramp end",
                  "pulse height", "pulse start", "pulse width")}
    expected = [step_ramp_pulse_input(t, constants) for t in times]
    np.testing.assert_allclose(df["input"].to_numpy(float), expected, rtol=0, atol=1e-12)
    assert set(switching) <= set(df.attrs["breakpoints"])


def test_inline_time_lookup_points_are_breakpoints(tmp_path):
    """Regression test for an engine bug found by the verification corpus (now fixed).

    The engine's docstring says the points of lookups whose argument is Time split the
    integration. That holds for named lookup tables (``demand table(Time)``: PySD
    builds a HardcodedLookups object that ``_fast_lookup`` wraps and records), but not for
    an inline ``WITH LOOKUP(Time, ...)``: PySD 3.14 translates it to a bare
    ``np.interp(time(), [0.0, 3.0, 6.0], [1.0, 1.5, 1.2])`` in the model module, which
    the engine never sees. In lookup_by_time.mdl the kinks are at years 1, 2, 3 (demand
    table) and 3 (price factor); to make the inline one visible on its own, this test
    gives the inline lookup its own kink year by moving ``price factor``'s middle point
    to year 4 in a copy of the model. The kink at year 4 is then missing from
    ``df.attrs["breakpoints"]``; the adaptive solver still crosses it accurately by shrinking its steps,
    so results stay right, but the documented segmentation is incomplete. A fix: also
    patch ``np.interp`` in the model module (like step/pulse/ramp) to note ``xp`` when
    the argument is the current time.
    """
    text = (CORPUS / "lookup_by_time.mdl").read_text(encoding="utf-8")
    moved = text.replace("(0,1),(3,1.5),(6,1.2)", "(0,1),(4,1.5),(6,1.2)")
    assert moved != text
    path = tmp_path / "lookup_by_time_inline_kink.mdl"
    path.write_text(moved, encoding="utf-8")
    df = sim.simulate(path, **ENGINE)
    assert {1.0, 2.0, 3.0} <= set(df.attrs["breakpoints"])  # the named table: recorded
    assert 4.0 in df.attrs["breakpoints"]                   # the inline WITH LOOKUP: missing


def test_jump_at_a_state_crossing_matches_closed_form():
    """state_event.mdl: the drain fraction jumps from 0.02 to 0.08 /year when the level
    (m3) first exceeds 50; inflow 5 m3/Year, level 10 m3 at t = 0. The engine, which does
    not know the crossing in advance, must still match the exact piecewise solution."""
    times = np.linspace(0, 20, 401)
    df = sim.simulate(CORPUS / "state_event.mdl", times=times, rtol=1e-8, atol=1e-10)
    c = {k: float(df[k].iloc[0]) for k in ("inflow", "threshold", "slow drain fraction",
                                             "fast drain fraction")}
    level0 = float(df["level"].iloc[0])
    slow_eq = c["inflow"] / c["slow drain fraction"]
    fast_eq = c["inflow"] / c["fast drain fraction"]
    crossing = np.log((slow_eq - level0) / (slow_eq - c["threshold"])) / c["slow drain fraction"]
    exact = np.where(
        times < crossing,
        slow_eq - (slow_eq - level0) * np.exp(-c["slow drain fraction"] * times),
        fast_eq - (fast_eq - c["threshold"]) * np.exp(-c["fast drain fraction"] * (times - crossing)))
    assert 0 < crossing < 20
    assert np.max(np.abs(df["level"].to_numpy(float) - exact) / exact) <= 1e-5


def test_switch_written_with_if_then_else_on_time_is_as_accurate_as_step(tmp_path):
    """A policy switch written ``IF THEN ELSE(Time >= policy time, 8, 5)`` is as accurate
    as ``5 + STEP(3, policy time)``.

    Before the engine found comparisons of Time with a constant in the translated module
    and made them breakpoints, RK45 stepped across the jump and its error estimate missed
    it: at rtol=1e-4 the IF THEN ELSE version was about 50 times further from the tight
    run (gap ~1.2e-3) than the STEP version (~2.6e-5).
    """
    text = (CORPUS / "if_then_else.mdl").read_text(encoding="utf-8")
    with_step = text.replace("IF THEN ELSE(Time >= policy time, 8, 5)", "5 + STEP(3, policy time)")
    assert with_step != text
    gaps_by_form = {}
    for form, body in (("if then else", text), ("step", with_step)):
        path = tmp_path / f"{form.replace(' ', '_')}.mdl"
        path.write_text(body, encoding="utf-8")
        times = half_years(20.0)
        reference = sim.simulate(path, times=times, **ENGINE)
        loose = sim.simulate(path, times=times, rtol=1e-4)
        gaps_by_form[form] = relative_gap(loose, reference, ["level"])
    assert gaps_by_form["if then else"] <= 5 * gaps_by_form["step"], gaps_by_form
