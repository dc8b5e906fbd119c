"""sim.history: the data copies are complete, the reconciliation follows its file, and
the choices it makes are the documented ones (values checked against the raw rows)."""
import ast
import csv
import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.history import (DATA_DIR, HISTORY_FILES, breaks_of, comparable_series, provenance,
                         read_history, read_reconciliation, reconcile, series_info, source_of)
from sim.policy.scenario import ValidationError

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- delivered README below, verbatim (checksummed in checksums.csv) -->\n"


def _checksums():
    with open(DATA_DIR / "checksums.csv", encoding="utf-8") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


@pytest.mark.parametrize("name", HISTORY_FILES)
def test_data_copies_are_complete_and_unchanged(name):
    """Same bytes and the same number of rows as the delivered files (checksums recorded
    when they were copied, so this holds on a clone without the originals)."""
    expected = _checksums()[name]
    path = DATA_DIR / name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected["sha256"]
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == int(expected["rows"])
    # every row keeps its source (one delivered row names it in the note instead of the URL)
    assert all(r["source_url"].startswith("http") or r["note"] for r in rows)
    assert len(read_history().query("file == @name")) == int(expected["rows"])


def test_delivered_readme_is_reproduced_verbatim():
    text = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert MARKER in text
    delivered = text.split(MARKER, 1)[1]
    expected = _checksums()["README.md (delivered part)"]
    assert hashlib.sha256(delivered.encode("utf-8")).hexdigest() == expected["sha256"]
    assert len(delivered.splitlines()) == int(expected["rows"])


def _raw(indicator, year, source=None):
    raw = read_history()
    sel = raw[(raw["indicator"] == indicator) & (raw["year"] == year)]
    if source:
        sel = sel[sel["source_url"].str.contains(source, regex=False)]
    assert len(sel) == 1, sel
    return float(sel["value"].iloc[0])


def test_gdp_2020_is_the_published_post_census_figure_and_the_break_is_declared():
    obs = comparable_series()
    assert obs.at[2020, "gdp"] == _raw("gdp", 2020) == pytest.approx(957.1364)
    assert obs.at[2017, "gdp"] == _raw("gdp", 2017) and obs.at[2018, "gdp"] == _raw("gdp", 2018)
    assert [b["between"] for b in breaks_of("gdp")] == [[2017, 2018]]
    assert obs.attrs["units"]["gdp"] == "亿元"


def test_disagreeing_sources_are_settled_by_the_declared_preference():
    obs = comparable_series()
    assert obs.at[2007, "gdp"] == _raw("gdp", 2007, "eileenCHEN-9")      # not 270.1
    assert obs.at[2019, "gdp_real_growth"] == _raw("gdp_real_growth", 2019, "mudaan.com")  # 7.8
    p = provenance().set_index(["series", "year"])
    assert "press-conference" in p.at[("gdp", 2007), "choice"]
    assert "eileenCHEN-9" in source_of("gdp", [2007])


def test_population_is_the_census_revised_series():
    obs = comparable_series()
    assert obs.at[2020, "population"] == _raw("resident_population_census", 2020)
    assert obs.at[2019, "population"] == _raw("resident_population_revised_series", 2019)
    # the contemporaneous (pre-census) estimate is not used
    assert obs.at[2019, "population"] < _raw("resident_population_yearend", 2019) * 0.97


def test_derived_series_follow_their_definition():
    obs = comparable_series()
    g = obs["gdp_real_growth"]
    idx = obs["gdp_real_index"]
    assert idx[2015] == 1.0
    assert idx[2020] == pytest.approx(((1 + g.loc[2016:2020] / 100).prod()))
    assert idx[2014] == pytest.approx(1 / (1 + g[2015] / 100))
    assert obs.at[2020, "gdp_per_capita"] == pytest.approx(
        obs.at[2020, "gdp"] / obs.at[2020, "population"] * 1e4)
    # the derived 2020 per-capita figure agrees with CSMAR's published one within 0.1 %
    assert obs.at[2020, "gdp_per_capita"] == pytest.approx(_raw("gdp_per_capita", 2020, "eileenCHEN-9"), rel=1e-3)
    rel = obs["real_gdp_relative_to_jiangxi"]
    assert rel[2015] == 1.0
    # Jingdezhen grew slower than Jiangxi in every year 2016-2020 (data): the ratio falls each year
    jx = obs["jx_gdp_real_growth"]
    assert all(g[y] < jx[y] for y in range(2016, 2021))
    assert all(rel[y] < rel[y - 1] for y in range(2016, 2021))
    assert set(series_info().loc["gdp_per_capita_relative_to_jiangxi", "breaks"].split("; ")) == {
        "2017|2018 (gdp)", "2015|2016 (jx_gdp_per_capita)"}


def _copy_data(tmp_path):
    for p in DATA_DIR.iterdir():
        if p.is_file():
            shutil.copy(p, tmp_path / p.name)
    return tmp_path


def test_a_disagreement_without_a_preference_is_an_error(tmp_path):
    folder = _copy_data(tmp_path)
    spec = yaml.safe_load((folder / "reconciliation.yaml").read_text(encoding="utf-8"))
    del spec["series"]["gdp"]["prefer"]
    (folder / "reconciliation.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"series\.gdp: 2007: sources disagree .*add a `prefer` line"):
        reconcile(folder)


def test_every_choice_must_state_its_reason(tmp_path):
    folder = _copy_data(tmp_path)
    spec = yaml.safe_load((folder / "reconciliation.yaml").read_text(encoding="utf-8"))
    del spec["series"]["population"]["use"][0]["reason"]
    spec["series"]["gdp"]["use"][0]["indicator"] = "gpd"
    spec["series"]["jx_gdp_real_index"]["of"] = ["nope"]
    (folder / "reconciliation.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    specs, problems = read_reconciliation(folder / "reconciliation.yaml")
    text = "\n".join(map(str, problems))
    assert "series.population.use[0].reason: missing" in text
    assert "series.jx_gdp_real_index.of: 'nope' is not a series defined above" in text
    spec["series"]["population"]["use"][0]["reason"] = "r"
    spec["series"]["jx_gdp_real_index"]["of"] = ["jx_gdp_real_growth"]
    (folder / "reconciliation.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"'gpd' is not an indicator of the data \(did you mean 'gdp'"):
        reconcile(folder)


def test_the_history_room_imports_only_errors_and_policy():
    allowed = ("sim.errors", "sim.policy", "sim.history")
    for path in (ROOT / "sim" / "history").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                if n.startswith("sim"):
                    assert n.startswith(allowed), f"{path.name} imports {n}"


def test_the_plan_document_copy_is_unchanged():
    """The plan text the measures register quotes is the delivered document, byte for byte."""
    expected = _checksums()["plan/plan_zh.txt"]
    path = DATA_DIR / "plan" / "plan_zh.txt"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected["sha256"]
    assert "城市转型发展工作意见" in path.read_text(encoding="utf-8")
