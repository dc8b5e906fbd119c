"""The measures added with the register (group "Transformation measures" of the model): the
new-energy sector, ecological restoration, closure of backward capacity beyond ceramics and
start-up support. Each lever's effect has the sign its mechanism implies; extreme settings
keep the stocks in range; with the baseline values the calibrated history is unchanged."""
from __future__ import annotations

from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return sim.load_model(ROOT / "models" / "jingdezhen.mdl")


@pytest.fixture(scope="module")
def base(model):
    return sim.simulate(model)


def delta(model, base, lever, value, column, year=2020):
    out = sim.simulate(model, params={lever: value})
    return out.loc[year, column] - base.loc[year, column]


@pytest.mark.parametrize("lever, value, column, sign", [
    # a replacement industry: raises the share, but polysilicon is energy-hungry
    ("new energy project investment", 5, "replacement industry share", +1),
    ("new energy project investment", 5, "energy intensity", +1),
    # closing backward plants and small coal mines: less energy and waste, a little less GDP
    ("backward capacity retirement rate other industry", 0.1, "energy intensity", -1),
    ("backward capacity retirement rate other industry", 0.1, "solid waste stockpile", -1),
    ("backward capacity retirement rate other industry", 0.1, "GDP real", -1),
    # restoration fills subsidence land with stockpiled waste
    ("ecological restoration spending", 2, "solid waste stockpile", -1),
    ("ecological restoration spending", 2, "solid waste utilisation rate", +1),
    ("ecological restoration spending", 2, "restored land", +1),
    # start-ups add capital to the replacement sectors
    ("entrepreneurship support spending", 2, "replacement industry share", +1),
    ("entrepreneurship support spending", 2, "GDP real", +1),
])
def test_sign_of_each_new_lever(model, base, lever, value, column, sign):
    assert sign * delta(model, base, lever, value, column) > 0


def test_baseline_values_leave_the_new_blocks_idle(base):
    assert (base["VA new energy"] == 0).all()
    assert (base["closure of backward other industry"] == 0).all()
    assert (base["energy use change backward other industry"] == 0).all()
    assert (base["waste used in land restoration"] == 0).all()


def test_extreme_settings_keep_stocks_in_range(model):
    out = sim.simulate(model, params={"ecological restoration spending": 10,
                                      "backward capacity retirement rate other industry": 0.3,
                                      "new energy project investment": 20,
                                      "entrepreneurship support spending": 5})
    for stock in ["degraded mining land", "backward capital other industry", "backward capital mining",
                  "capital other industry", "capital mining", "solid waste stockpile", "capital new energy"]:
        assert (out[stock] >= -1e-9).all(), stock
    # restoration stops when no degraded land is left: never more than there was
    assert out["restored land"].iloc[-1] <= 3000 + 0.2 * out["coal extraction"].sum() + 1e-6
    assert out["solid waste utilisation rate"].between(0, 1).all()


def test_land_is_conserved(model):
    out = sim.simulate(model, params={"ecological restoration spending": 2})
    import numpy as np

    t = out.index.to_numpy()
    created = np.trapezoid(out["mining land degradation"].to_numpy(), t)
    total = out["degraded mining land"] + out["restored land"]
    assert total.iloc[-1] - total.iloc[0] == pytest.approx(created, rel=2e-2)
