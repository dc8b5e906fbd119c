"""results.xlsx: the published outcomes (``actual``) as a sheet of their own, read back."""
from pathlib import Path

import pandas as pd
import pytest

from sim.history import PUBLISHED, actual_outcomes
from sim.policy.targets import load_targets
from sim.report.exports import write_workbook

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def actual():
    return actual_outcomes(load_targets(ROOT / "scenarios" / "targets.yaml"))


def test_workbook_has_the_published_outcomes_with_their_sources(tmp_path, actual):
    from openpyxl import load_workbook

    card = pd.DataFrame({"scenario": ["actual"], "target": ["gdp_total_2020"], "value": [1180.0]})
    series = {"actual": pd.DataFrame({"x": [1.0, 2.0]}, index=[2015.0, 2016.0])}  # a scenario named "actual"
    path = write_workbook(tmp_path / "results.xlsx", series, card, {"x": "Dmnl"}, actual)
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames[:2] == ["scorecard", "actual"]
    assert len(wb.sheetnames) == 3 and wb.sheetnames[2] != "actual"   # the scenario's own sheet renamed
    back = pd.read_excel(path, sheet_name="actual", engine="openpyxl")
    assert list(back.columns) == list(actual.columns) and "source" in back.columns
    assert len(back) == len(actual) == 22
    back = back.set_index("target")
    gdp = back.loc["gdp_total_2020"]
    assert gdp["status"] == PUBLISHED and gdp["value"] == pytest.approx(957.1364, abs=1e-4)
    assert bool(gdp["passed"]) is False and "oracleblog" in gdp["source"]
    published = back[back["status"] == PUBLISHED]
    assert len(published) >= 2 and published["source"].str.startswith("http").all()
    missing = back.loc["replacement_share_2020"]
    assert missing["status"] != PUBLISHED and pd.isna(missing["value"])
    assert pd.isna(missing["source"]) or missing["source"] == ""


def test_workbook_without_actual_keeps_its_sheets(tmp_path):
    from openpyxl import load_workbook

    card = pd.DataFrame({"scenario": ["plan"], "target": ["t"], "value": [1.0]})
    path = write_workbook(tmp_path / "r.xlsx", {"plan": pd.DataFrame({"x": [1.0]}, index=[2015.0])},
                          card, {})
    assert load_workbook(path, read_only=True).sheetnames == ["scorecard", "plan"]
