"""The vectorised path (sim/batch.py) gives the numbers of single engine runs."""
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.engine.batch import simulate_batch
from sim.errors import ModelError, ParameterError

CORPUS = Path(__file__).parents[1] / "models" / "corpus"
CONTROL = {"INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER"}


def scalar_corpus():
    """Corpus models without subscripts. state_event.mdl is left out: its jump at a
    state crossing sits at a different time in every sample, and resolving each of
    them to 1e-10 in the stacked state is slow (the engine's single runs handle it)."""
    for path in sorted(CORPUS.glob("*.mdl")):
        if "subscript" not in path.stem and path.stem != "state_event":
            yield path


@pytest.mark.parametrize("path", list(scalar_corpus()), ids=lambda p: p.stem)
def test_batch_matches_single_runs_on_the_corpus(path):
    model = sim.load_model(path)
    constants = [c for c in model.constants() if c not in CONTROL]
    if not constants:
        pytest.skip("no constant to sample")
    base = {c: float(model.fresh()[c]) for c in constants}
    rng = np.random.default_rng(7)
    n = 4
    samples = {c: v * rng.uniform(0.8, 1.2, n) if v else rng.uniform(0.0, 0.1, n)
               for c, v in base.items() if "order" not in c.lower()}
    ds = simulate_batch(model, samples, rtol=1e-10, atol=1e-12)
    for k in range(n):
        single = sim.simulate(model, params={c: float(a[k]) for c, a in samples.items()},
                              rtol=1e-10, atol=1e-12)
        for col in single.columns:
            if col not in ds:
                continue
            got, want = ds[col].values[k], single[col].to_numpy(dtype=float)
            scale = np.maximum(np.abs(want), 1e-6 * max(1.0, np.max(np.abs(want))))
            assert np.max(np.abs(got - want) / scale) < 1e-6, (path.stem, col, k)


def test_batch_rejects_subscripted_models_and_mismatched_samples():
    model = sim.load_model(CORPUS / "subscripted_stocks.mdl")
    constants = [c for c in model.constants() if c not in CONTROL]
    with pytest.raises(ModelError, match="subscripts"):
        simulate_batch(model, {constants[0]: np.ones(3)})
    plain = sim.load_model(next(scalar_corpus()))
    names = [c for c in plain.constants() if c not in CONTROL]
    with pytest.raises(ParameterError, match="one length"):
        simulate_batch(plain, {names[0]: np.ones(3), **({names[1]: np.ones(4)} if len(names) > 1 else {"x": np.ones((2, 2))})})


def test_per_sample_step_series_match_single_runs_and_the_analytic_stock():
    """A DataFrame sample (years × samples) is a per-sample time series: lever values that
    start in 2016 give S(2020) = 10 + 4.0005 a (not 10 + 10 a as a constant would), and each
    sample equals a single engine run with the same pandas.Series param."""
    import pandas as pd

    model = sim.load_model(Path(__file__).parents[1] / "models" / "optimize" / "linear.mdl")
    years = [2015.999, 2016.0]
    a_after = np.array([0.0, 2.5, 7.0])
    a = pd.DataFrame(np.vstack([np.zeros(3), a_after]), index=years)
    ds = simulate_batch(model, {"a": a, "b": np.array([1.0, 2.0, 3.0])}, rtol=1e-10, atol=1e-12)
    # the ramp over the 0.001-year step adds half its width times a
    np.testing.assert_allclose(ds["S"].sel(time=2020.0).values, 10 + (2020 - 2016 + 0.0005) * a_after,
                               rtol=1e-9)
    np.testing.assert_allclose(ds["S"].sel(time=2015.0).values, 10.0)
    for k in range(3):
        single = sim.simulate(model, params={"a": pd.Series([0.0, a_after[k]], index=years),
                                             "b": float(k + 1)}, rtol=1e-10, atol=1e-12)
        for col in ("S", "y", "z"):
            np.testing.assert_allclose(ds[col].values[k], single[col].to_numpy(float), rtol=1e-6, atol=1e-9)
    with pytest.raises(ParameterError, match="repeat"):
        simulate_batch(model, {"a": pd.DataFrame([[1.0], [2.0]], index=[2016.0, 2016.0])})
