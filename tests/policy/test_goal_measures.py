"""Goal measures on arrays (samples × times): closed forms, row independence, exact pow."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim.policy.goal_measures import (margin_array, measure_array, measure_paths, meets_array,
                                      year_reached_array)
from sim.policy.targets import Target

YEARS = np.arange(2010.0, 2031.0)


def target(**kw) -> Target:
    base = dict(base_id="t", name={"zh": "目标", "en": "Target"}, horizon="first", year=2020.0,
                start=2015.0, indicator="x", measure="avg_growth", comparator=">=",
                threshold=5.0, unit="%/yr", clause="", basis="explicit")
    base.update(kw)
    return Target(**base)


def test_growth_of_several_samples_is_each_rows_geometric_mean():
    rates = np.array([0.03, 0.05, 0.08])
    x = 100.0 * (1.0 + rates[:, None]) ** (YEARS - 2010.0)
    got = measure_array(x, YEARS, target())
    np.testing.assert_allclose(got, 100 * rates, rtol=1e-12)
    # a row's value does not depend on the other rows
    assert measure_array(x[1:2], YEARS, target())[0] == got[1]
    assert list(meets_array(target(), got)) == [False, True, True]       # 5.0 met within REL_TOL
    np.testing.assert_allclose(margin_array(target(), got), 100 * rates - 5.0, atol=1e-12)


def test_growth_uses_the_c_librarys_pow_like_python_floats():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 3.0, size=(200, YEARS.size))
    got = measure_array(x, YEARS, target(start=2013.0))
    want = [100.0 * ((row[10] / row[3]) ** (1.0 / 7.0) - 1.0) for row in x.tolist()]
    assert got.tolist() == want                                          # bit for bit


def test_growth_of_a_non_positive_series_is_undefined_and_never_met():
    x = np.vstack([np.linspace(-1.0, 1.0, YEARS.size), np.full(YEARS.size, 2.0)])
    got = measure_array(x, YEARS, target())
    assert math.isnan(got[0]) and got[1] == 0.0
    assert not meets_array(target(), got).any()


def test_window_min_max_and_paths():
    x = np.vstack([np.sin(YEARS), np.cos(YEARS)])
    lo = measure_array(x, YEARS, target(measure="min_over", scale=2.0))
    window = (YEARS >= 2015) & (YEARS <= 2020)
    np.testing.assert_array_equal(lo, 2.0 * x[:, window].min(axis=1))
    paths = measure_paths(x, YEARS, target(measure="ratio_change"))
    assert np.isnan(paths[:, YEARS <= 2015]).all()
    np.testing.assert_allclose(paths[:, -1], x[:, -1] - x[:, 5])


def test_year_reached_level_is_interpolated_window_is_first_saved_year():
    x = np.vstack([YEARS - 2000.0, np.full(YEARS.size, 1.0)])           # 10 … 30, and flat
    level = target(measure="value_in_year", threshold=15.5, start=2010.0, year=2030.0)
    np.testing.assert_allclose(year_reached_array(x, YEARS, level), [2015.5, np.nan])
    growth = 100.0 * 1.1 ** (YEARS - 2010.0)
    y = year_reached_array(np.vstack([growth, growth[::-1]]), YEARS, target(threshold=9.99))
    np.testing.assert_allclose(y, [2016.0, np.nan])                     # first Y > start with 10 %/yr


def test_a_year_outside_the_results_is_an_error():
    with pytest.raises(ValueError, match="outside the results"):
        measure_array(np.ones((1, YEARS.size)), YEARS, target(year=2040.0))
