"""The social-security module (models/jingdezhen.mdl, group "Social security"): the schemes as
they existed, the 2016 merger of the residents' medical schemes, enrolment moved by the mandate
and by subsidies, the minimum living guarantee and the unemployment-insurance adjustment fund.
Effects are checked by sign against the baseline; extreme settings keep coverage in [0, 1]."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
COVERAGES = ["urban medical insurance coverage", "urban employee medical coverage",
             "urban resident medical coverage", "NCMS coverage", "urban pension coverage",
             "resident pension coverage"]


@pytest.fixture(scope="module")
def model():
    return sim.load_model(ROOT / "models" / "jingdezhen.mdl")


@pytest.fixture(scope="module")
def base(model):
    return sim.simulate(model)


def run(model, **params):
    return sim.simulate(model, params={k.replace("_", " "): v for k, v in params.items()})


def test_urban_coverage_counts_both_schemes_over_all_urban_residents(base):
    both = (base["urban employee medical insured"] + base["urban medical insured"]) / base["urban population"]
    assert np.allclose(base["urban medical insurance coverage"], np.minimum(1, both), rtol=1e-9)


def test_merger_keeps_movers_insured_from_2016(base):
    transfers = base["merged scheme transfers to towns"]
    assert (transfers[base.index < 2016] == 0).all() and (transfers[base.index >= 2016] > 0).all()
    later = run(sim.load_model(ROOT / "models" / "jingdezhen.mdl"), resident_medical_merger_year=2030)
    # without the merger the movers lose their cover, so urban coverage is lower in 2020
    assert base.loc[2020, "urban medical insurance coverage"] > later.loc[2020, "urban medical insurance coverage"]


@pytest.mark.parametrize("lever, value, indicator", [
    ("employee insurance mandate rate", 0.2, "urban pension coverage"),
    ("employee insurance mandate rate", 0.2, "urban employee medical coverage"),
    ("insurance subsidy", 6.0, "resident pension coverage"),
    ("minimum living guarantee spending", 5.0, "NCMS coverage"),
    ("minimum living guarantee spending", 5.0, "urban resident medical coverage"),
    ("unemployment insurance adjustment fund", 2.0, "urban pension coverage"),
])
def test_policy_raises_coverage(model, base, lever, value, indicator):
    out = sim.simulate(model, params={lever: value})
    assert out.loc[2020, indicator] > base.loc[2020, indicator] + 1e-4


def test_guarantee_spending_costs_the_budget(model, base):
    out = sim.simulate(model, params={"minimum living guarantee spending": 10.0})
    assert (out["lever spending requested"] - base["lever spending requested"]).loc[2010] == pytest.approx(8.5, rel=1e-3)


@pytest.mark.parametrize("extreme", [
    {"employee insurance mandate rate": 0.5, "insurance subsidy": 15, "minimum living guarantee spending": 10,
     "unemployment insurance adjustment fund": 5},
    {"employee insurance mandate rate": 0.0, "insurance subsidy": 0, "minimum living guarantee spending": 0,
     "unemployment insurance adjustment fund": 0},
])
def test_extreme_settings_keep_coverage_between_zero_and_one(model, extreme):
    out = sim.simulate(model, params=extreme)
    for c in COVERAGES:
        assert out[c].between(0, 1).all(), c
    if extreme["employee insurance mandate rate"] == 0:
        # nobody enrols in the compulsory schemes: their coverage can only fall
        assert (np.diff(out["urban pension coverage"].to_numpy()) <= 1e-9).all()


def test_no_insured_population_without_eligible_people(model):
    out = sim.simulate(model, params={"low income share": 0.0})
    assert (out["minimum living guarantee recipients"] == 0).all()
    assert (out["minimum living guarantee enrolment urban"] == 0).all()
