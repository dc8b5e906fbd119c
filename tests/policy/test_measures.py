"""The measures register (scenarios/measures.yaml): every measure once, real levers and
variables, every lever claimed; each error class is one line naming the file and the key."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from sim.modelfile.mdl import read_mdl
from sim.policy.measures import CLAUSES, STATUSES, load_measures, read_measures
from sim.policy.scenario import ValidationError, load_registry

ROOT = Path(__file__).resolve().parents[2]
REGISTER = ROOT / "scenarios" / "measures.yaml"
LEVERS = ROOT / "scenarios" / "levers.yaml"
MODEL = ROOT / "models" / "jingdezhen.mdl"
# The plan document is not part of the repository; on a machine that has it, point
# JDZ_PLAN_TEXT at it to check every quote against the document's clauses and sentences.
#: The plan document, copied into the repository (data/README.md); JDZ_PLAN_TEXT may name another copy.
SEED = Path(os.environ.get("JDZ_PLAN_TEXT", "") or Path(__file__).resolve().parents[2] / "data" / "plan" / "plan_zh.txt")


@pytest.fixture(scope="module")
def registry():
    return load_registry(LEVERS)


@pytest.fixture(scope="module")
def variables():
    return [e.name for e in read_mdl(MODEL).elements]


@pytest.fixture(scope="module")
def register(registry, variables):
    return load_measures(REGISTER, registry, variables)


def test_every_lever_is_claimed_and_every_named_lever_and_variable_exists(register, registry, variables):
    claimed = register.by_lever()
    assert set(registry) <= set(claimed), set(registry) - set(claimed)
    for m in register:
        assert set(m.levers) <= set(registry), m.id
        assert set(m.variables) <= set(variables), m.id


def test_every_measure_appears_exactly_once(register):
    ids = [m.id for m in register]
    assert len(ids) == len(set(ids))
    quotes = [(m.clause, m.quote) for m in register]
    assert len(quotes) == len(set(quotes)), "a measure is registered twice"
    # every clause with operational measures is covered, numbered 1..n in order
    for clause in CLAUSES:
        numbers = [int(m.id.split(".")[1]) for m in register if m.clause == clause]
        assert numbers == list(range(1, len(numbers) + 1)), clause
    assert 80 <= len(register) <= 130


def test_counts_add_up(register):
    counts = register.counts()
    assert counts["all"]["total"] == len(register)
    assert sum(counts["all"][s] for s in STATUSES) == len(register)
    assert sum(row["total"] for c, row in counts.items() if c != "all") == len(register)


def test_quotes_are_the_documents_words_in_the_stated_clause_and_sentence(register):
    text = SEED.read_text(encoding="utf-8")
    parts = re.split(r"\n\((.{1,3})\)", text)
    sentences = {}
    for i in range(1, len(parts), 2):
        body = parts[i + 1].strip().split("\n")[0]
        rest = body.partition("。")[2]
        sentences[parts[i]] = [s for s in rest.split("。") if s.strip()]
    for m in register:
        sentence = sentences[m.clause][m.sentence - 1]
        for fragment in re.split(r"…", m.quote):
            fragment = fragment.replace('"', "“", 1).replace('"', "”", 1) if '"' in fragment else fragment
            assert fragment in sentence, (m.id, fragment)


# ------------------------------------------------------------------ error classes
@pytest.fixture
def copy(tmp_path):
    dest = tmp_path / "measures.yaml"
    shutil.copy(REGISTER, dest)
    return dest


def mutate(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["measures"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def problems(path, registry, variables):
    with pytest.raises(ValidationError) as err:
        load_measures(path, registry, variables)
    for p in err.value.problems:
        assert "\n" not in str(p) and str(p).startswith(str(path))
    return err.value.problems


def _index(measures, mid):
    return next(i for i, m in enumerate(measures) if m["id"] == mid)


def test_misspelt_lever_names_the_key_and_suggests(copy, registry, variables):
    mutate(copy, lambda ms: ms[_index(ms, "十三.4")].update(lever="credit and bond"))
    (p,) = problems(copy, registry, variables)
    assert re.fullmatch(r"measures\[\d+\] \(十三\.4\)\.lever", p.key)
    assert "unknown lever 'credit and bond'" in p.message and "did you mean 'credit and bonds'" in p.message


def test_unclaimed_lever_is_a_problem(copy, registry, variables):
    def drop(ms):
        for m in ms:
            if m.get("lever") == "clay exploration spending":
                m.pop("lever"), m.pop("mapping"), m.pop("partial", None)
                m["out_of_scope"] = "test"
    mutate(copy, drop)
    (p,) = problems(copy, registry, variables)
    assert p.key == "measures" and "'clay exploration spending'" in p.message and "claimed by no measure" in p.message


def test_unknown_variable_duplicate_id_and_two_ways_are_each_reported(copy, registry, variables):
    def change(ms):
        ms[_index(ms, "四.3")]["structure"] = ["investment traditional ceramic"]
        ms[_index(ms, "四.5")]["id"] = "四.4"
        ms[_index(ms, "五.2")]["lever"] = "talent spending"
    mutate(copy, change)
    found = {(p.key, p.message.split(" (")[0]) for p in problems(copy, registry, variables)}
    keys = " ".join(k for k, _ in found)
    assert "(四.3).structure" in keys and "(四.4).id" in keys and "(五.2)" in keys
    messages = " ".join(m for _, m in found)
    assert "is not a variable of the model" in messages and "is also measures[" in messages
    assert "exactly one of lever, structure, out_of_scope" in messages


def test_lever_without_mapping_and_bad_clause(copy, registry, variables):
    def change(ms):
        ms[_index(ms, "六.5")].pop("mapping")
        ms[_index(ms, "六.6")]["clause"] = "十九"
    mutate(copy, change)
    msgs = {p.key.split(" ", 1)[1]: p.message for p in problems(copy, registry, variables)}
    assert msgs["(六.5).mapping"] == "missing"
    assert "expected one of 四" in msgs["(六.6).clause"]


def test_validate_command_reports_the_register(tmp_path, capsys):
    from sim.cli import main

    folder = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", folder)
    mutate(folder / "measures.yaml", lambda ms: ms[_index(ms, "七.2")].update(lever="retraning rate"))
    code = main(["validate", "--scenarios", str(folder), "--model", str(MODEL)])
    err = capsys.readouterr().err
    assert code != 0
    assert "measures.yaml: measures[" in err and "(七.2).lever: unknown lever 'retraning rate'" in err
