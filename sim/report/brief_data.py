"""What the policy brief and the slides read: a results folder and the judgements beside it.

Report room: this module reads files (never runs the engine) and returns plain data.

- ``manifest.json``, ``scorecard.csv`` (optional columns ``actual`` and ``actual_passed``,
  ``actual_source``) of the run;
- the policy search: ``goals.csv``/``levers.csv`` of an optimisation results folder (the run's
  own folder, ``search_dir``, or the newest sibling folder made with the same model file),
  else the committed ``docs/policy_search.md``, labelled as such;
- the ensemble: ``probabilities.csv`` of an ensemble folder found the same way;
- lever contributions: ``contributions_by_lever.csv`` and ``goals.csv`` of a contributions
  folder (``python -m sim contributions``), found like the policy search;
- traceability: ``traceability.csv`` in the run's folder or ``docs/traceability_<lang>.md``.

Anything missing is ``None``; the brief then says so instead of showing numbers.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from sim.provenance import INCOMPLETE, final_path
from sim.errors import SimError

#: The repository root (for the lever registry, the targets file and docs/ named in a manifest).
ROOT = Path(__file__).resolve().parents[2]
#: Scenario the sentences speak about, in order of preference.
REFERENCE_SCENARIOS = ("plan",)
#: Columns of scorecard.csv with the published outcome (``sim.history.REALITY_COLUMNS``: value,
#: its verdict, status, source); the first name found is used.
ACTUAL_VALUE_COLUMNS = ("actual_value", "actual")
ACTUAL_PASSED_COLUMNS = ("actual_passed", "passed_actual", "actual_verdict")
ACTUAL_STATUS_COLUMNS = ("actual_status",)
ACTUAL_SOURCE_COLUMNS = ("actual_source", "source_actual")


class BriefInputError(SimError):
    """The results folder lacks what the brief needs (message names the file and key)."""


@dataclass
class SearchData:
    """Policy-search results: ``goals`` (target, status in/aside/out, best, found), costs, levers."""

    goals: pd.DataFrame
    levers: pd.DataFrame
    cost: float
    ref_cost: float
    ref: str
    folder: str
    from_doc: bool
    #: the year the search's runs knew the history to, and the year its levers act from
    #: (None: not recorded, a search made before searches were judged from vantages)
    vantage: float | None = None
    levers_from: float | None = None


@dataclass
class EnsembleData:
    """Goal probabilities (``probabilities.csv``) and how they were sampled."""

    probabilities: pd.DataFrame
    rows: int
    method: str
    parameters: int
    folder: str


@dataclass
class ContributionData:
    """Shapley contributions of each lever to each goal (``by_lever``: target, lever, clause,
    shapley, one_at_a_time) and per goal the total change and the interaction (``goals``)."""

    by_lever: pd.DataFrame
    goals: pd.DataFrame
    scenario: str
    parent: str
    method: str
    folder: str


def read_contributions(folder: Path) -> ContributionData:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8")) \
        if (folder / "manifest.json").is_file() else {}
    return ContributionData(pd.read_csv(folder / "contributions_by_lever.csv"), pd.read_csv(folder / "goals.csv"),
                            str(manifest.get("scenario", "plan")), str(manifest.get("parent", "baseline")),
                            str(manifest.get("method", "")), final_path(folder).name)


@dataclass
class RunData:
    """Everything the brief shows, read from one results folder."""

    folder: Path
    manifest: dict
    card: pd.DataFrame
    targets: list[dict]
    scenarios: list[str]
    meta: dict
    levers: dict = field(default_factory=dict)
    search: SearchData | None = None
    ensemble: EnsembleData | None = None
    contributions: "ContributionData | None" = None
    traceability: dict | None = None
    #: Products computed once per run and language (figures as PNG bytes), shared by brief and slides.
    cache: dict = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The scenario the sentences speak about: ``plan`` if run, else the first non-baseline."""
        for sid in REFERENCE_SCENARIOS:
            if sid in self.scenarios:
                return sid
        others = [s for s in self.scenarios if s != "baseline"]
        return (others or self.scenarios)[0]

    @property
    def actual_column(self) -> str | None:
        return next((c for c in ACTUAL_VALUE_COLUMNS if c in self.card.columns), None)

    def has_actual(self) -> bool:
        """True when the scorecard has a column of published outcomes (even if all are missing)."""
        return self.actual_column is not None

    def actual_status(self, tid: str) -> str:
        """``published``, ``no published figure`` or ``not testable`` (from ``actual_status``;
        without that column: published when a value exists)."""
        rows = self.card[self.card["target"] == tid]
        col = next((c for c in ACTUAL_STATUS_COLUMNS if c in rows.columns), None)
        if col is not None and not rows.empty and isinstance(rows[col].iloc[0], str):
            return rows[col].iloc[0]
        return "published" if self.actual(tid)[0] is not None else "no published figure"

    def target(self, tid: str) -> dict:
        return next(t for t in self.targets if t["id"] == tid)

    def horizons(self) -> list[float]:
        return sorted({float(t["year"]) for t in self.targets})

    def cell(self, sid: str, tid: str):
        """The scorecard row of scenario ``sid`` and target ``tid`` (a Series), or None."""
        index = self.cache.get("cells")
        if index is None:   # built once: the brief asks for cells some 2,000 times
            index = self.cache["cells"] = {}
            for i, key in enumerate(zip(self.card["scenario"], self.card["target"])):
                index.setdefault(key, i)
        i = index.get((sid, tid))
        return None if i is None else self.card.iloc[i]

    def passed(self, sid: str, tid: str) -> bool | None:
        row = self.cell(sid, tid)
        return None if row is None else _bool(row["passed"])

    def goals_met(self, sid: str, year: float | None = None) -> tuple[int, int]:
        """(goals met, goals judged) for scenario ``sid`` (one horizon year or all)."""
        ids = [t["id"] for t in self.targets if year is None or float(t["year"]) == year]
        verdicts = [self.passed(sid, tid) for tid in ids]
        return sum(v is True for v in verdicts), sum(v is not None for v in verdicts)

    def actual(self, tid: str) -> tuple[float | None, bool | None, str]:
        """(published value, its verdict, source) of target ``tid``; Nones when not published."""
        col = self.actual_column
        if col is None:
            return None, None, ""
        rows = self.card[self.card["target"] == tid]
        vals = pd.to_numeric(rows[col], errors="coerce").dropna()
        if vals.empty:
            return None, None, ""
        value = float(vals.iloc[0])
        row = rows.loc[vals.index[0]]
        passed = None
        for col in ACTUAL_PASSED_COLUMNS:
            if col in rows.columns and _bool(row[col]) is not None:
                passed = _bool(row[col])
                break
        if passed is None:
            passed = _target_object(self.target(tid)).meets(value)
        source = next((str(row[c]) for c in ACTUAL_SOURCE_COLUMNS
                       if c in rows.columns and isinstance(row[c], str)), "")
        return value, passed, source


def _bool(x) -> bool | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    if isinstance(x, str):
        low = x.strip().lower()
        if low in ("true", "yes", "1", "met"):
            return True
        if low in ("false", "no", "0", "missed"):
            return False
        return None
    return bool(x)


def _target_object(t: dict):
    from sim.policy.targets import Target

    names = {f.name for f in dataclasses.fields(Target)}
    return Target(**{k: v for k, v in t.items() if k in names})


def _repo_path(p: str | Path) -> Path:
    """A path named in a manifest (relative to where the run started): as given, else in the repo."""
    p = Path(p)
    return p if p.exists() or p.is_absolute() else ROOT / p


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BriefInputError(f"{path}: not found; expected a results folder written by "
                              "python -m sim run") from None
    except json.JSONDecodeError as err:
        raise BriefInputError(f"{path}: not valid JSON ({err})") from None


def _targets(manifest: dict, mpath: Path) -> list[dict]:
    entries = manifest.get("targets")
    if not isinstance(entries, list) or not entries:
        raise BriefInputError(f"{mpath}: key 'targets' must be a non-empty list")
    if all(isinstance(e, dict) for e in entries):
        return [dict(e, id=e.get("id") or _target_object(e).id) for e in entries]
    from sim.policy.targets import load_targets

    recorded = (manifest.get("files") or {}).get("targets") or {}
    if not recorded:
        raise BriefInputError(f"{mpath}: key 'files.targets' is missing: cannot find the target definitions")
    by_id = load_targets(_repo_path(next(iter(recorded)))).by_id()
    return [{"id": tid, **dataclasses.asdict(by_id[tid])} for tid in entries if tid in by_id]


def _levers(manifest: dict) -> dict:
    recorded = (manifest.get("files") or {}).get("registry") or {}
    path = _repo_path(next(iter(recorded))) if recorded else ROOT / "scenarios" / "levers.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError:
        return {}
    return {e["name"]: e for e in data.get("levers", []) if isinstance(e, dict) and "name" in e}


def _sha(manifest: dict) -> str | None:
    return (manifest.get("model") or {}).get("sha256")


def _candidates(folder: Path, explicit, marker: str, model_sha: str | None) -> list[Path]:
    """Folders that may hold ``marker``: the explicit one, the run's own, then siblings made
    with the same model file, newest first by their manifest's ``created_utc`` (a folder
    given its own name with ``--out`` sorts by when it was made, not by its name)."""
    if explicit is not None:
        path = Path(explicit)
        if not (path / marker).is_file():
            raise BriefInputError(f"{path / marker}: not found")
        return [path]
    if (folder / marker).is_file():
        return [folder]
    found = []
    parent = folder.resolve().parent
    for sib in parent.iterdir():
        if not sib.is_dir() or sib == folder.resolve() or INCOMPLETE in sib.name:  # still writing
            continue
        if not (sib / marker).is_file() or not (sib / "manifest.json").is_file():
            continue
        try:
            manifest = json.loads((sib / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if model_sha is not None and _sha(manifest) == model_sha:
            found.append((str(manifest.get("created_utc") or ""), sib.name, sib))
    return [sib for *_, sib in sorted(found, key=lambda f: f[:2], reverse=True)]


# --------------------------------------------------------------------------- policy search
SEARCH_STATUS = {"in the search": "in", "set aside (not together)": "aside", "out of reach": "out"}


def _best_value(row) -> float:
    """The goal's value at its best margin alone (margin is positive when met)."""
    sign = 1.0 if row["comparator"] in (">=", ">") else -1.0
    return float(row["threshold"]) + sign * float(row["best_alone"])


def _search_frame(goals: pd.DataFrame, levers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    g = pd.DataFrame({"target": goals["target"].astype(str),
                      "status": goals["status"].map(SEARCH_STATUS).fillna("in"),
                      "best": [_best_value(r) for _, r in goals.iterrows()],
                      "found": pd.to_numeric(goals.get("value"), errors="coerce")
                      if "value" in goals else math.nan,
                      "passed": goals["passed"].map(_bool) if "passed" in goals else None})
    lv = levers[["lever", "unit", "baseline", "start", "found"]].copy()
    for c in ("baseline", "start", "found"):
        lv[c] = pd.to_numeric(lv[c], errors="coerce")
    return g, lv


def read_search(folder: Path) -> SearchData:
    """Policy search of an optimisation results folder (``goals.csv``, ``levers.csv``)."""
    goals = pd.read_csv(folder / "goals.csv")
    levers = pd.read_csv(folder / "levers.csv")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8")) \
        if (folder / "manifest.json").is_file() else {}
    search = manifest.get("search") or {}
    g, lv = _search_frame(goals, levers)
    cost = float(search["cost"]) if "cost" in search else float(pd.to_numeric(levers["cost"]).sum())
    ref_cost = float(pd.to_numeric(levers["start_cost"]).sum()) if "start_cost" in levers else math.nan
    seen = search.get("vantage") if isinstance(search.get("vantage"), dict) else {}
    return SearchData(g, lv, cost, ref_cost, str(search.get("from", "plan")), folder.name, from_doc=False,
                      vantage=_year(seen.get("history_end_year")), levers_from=_year(seen.get("levers_from")))


def _year(x) -> float | None:
    try:
        return float(x) if x is not None else None
    except (TypeError, ValueError):
        return None


def markdown_table(text: str, heading: str) -> pd.DataFrame | None:
    """The first Markdown table after the line ``heading`` (cells as strings), or None."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        return None
    rows = []
    for line in lines[start + 1:]:
        s = line.strip()
        if s.startswith("|"):
            rows.append([c.strip() for c in s.strip("|").split("|")])
        elif rows:
            break
        elif s.startswith("#"):
            return None
    if len(rows) < 2:
        return None
    return pd.DataFrame(rows[2:], columns=rows[0])


def read_search_doc(path: Path) -> SearchData | None:
    """The committed ``docs/policy_search.md`` (written by ``python -m sim optimize --doc``)."""
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    goals, levers = markdown_table(text, "## Goals"), markdown_table(text, "## Levers")
    costs = re.search(r"Cost of the starting scenario `([^`]+)`: ([-\d.eE+]+); cost of the found mix: "
                      r"\*\*([-\d.eE+]+)\*\*", text)
    folder = re.search(r"Generated from the results folder `([^`]+)`", text)
    if goals is None or levers is None or costs is None:
        return None
    for col in ("threshold", "best_alone", "value"):
        goals[col] = pd.to_numeric(goals[col], errors="coerce")
    seen = re.search(r"\*\*Seen from (\d{4})\*\*.*?the levers act from (\d{4})", text)
    g, lv = _search_frame(goals, levers)
    return SearchData(g, lv, float(costs.group(3)), float(costs.group(2)), costs.group(1),
                      Path(folder.group(1)).name if folder else str(path), from_doc=True,
                      vantage=float(seen.group(1)) if seen else None,
                      levers_from=float(seen.group(2)) if seen else None)


# --------------------------------------------------------------------------- ensemble
def read_ensemble(folder: Path) -> EnsembleData:
    probs = pd.read_csv(folder / "probabilities.csv")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8")) \
        if (folder / "manifest.json").is_file() else {}
    sampling = manifest.get("sampling") or {}
    return EnsembleData(probs, int(sampling.get("rows", 0)), str(sampling.get("method", "?")),
                        len(manifest.get("parameters") or []), final_path(folder).name)


# --------------------------------------------------------------------------- traceability
def markdown_tables(text: str) -> list[tuple[str, pd.DataFrame]]:
    """Every Markdown table of ``text`` with the heading above it (``""`` when none)."""
    out, heading, rows = [], "", []
    for line in text.splitlines() + [""]:
        st = line.strip()
        if st.startswith("|"):
            rows.append([c.strip() for c in st.strip("|").split("|")])
            continue
        if len(rows) >= 2:
            out.append((heading, pd.DataFrame(rows[2:], columns=rows[0])))
        rows = []
        if st.startswith("#"):
            heading = st.lstrip("#").strip()
    return out


def read_traceability(folder: Path, lang: str) -> dict | None:
    """``{"tables": [(heading, DataFrame)], "source": str}`` from ``traceability.csv`` in the
    run's folder or the tables of ``docs/traceability_<lang>.md``; None when neither exists."""
    csv = folder / "traceability.csv"
    if csv.is_file():
        return {"tables": [("", pd.read_csv(csv, dtype=str).fillna(""))], "source": csv.name}
    md = ROOT / "docs" / f"traceability_{lang}.md"
    if md.is_file():
        tables = markdown_tables(md.read_text(encoding="utf-8"))
        if tables:
            return {"tables": tables, "source": f"docs/{md.name}"}
    return None


# --------------------------------------------------------------------------- the whole run
def read_run(results_dir, *, search_dir=None, ensemble_dir=None, contributions_dir=None, lang: str = "en",
             search_doc: Path | None = ROOT / "docs" / "policy_search.md") -> RunData:
    """Read a results folder of ``python -m sim run`` and what belongs with it."""
    folder = Path(results_dir)
    if not folder.is_dir():
        raise BriefInputError(f"{folder}: results folder not found")
    mpath = folder / "manifest.json"
    manifest = _read_json(mpath)
    cpath = folder / "scorecard.csv"
    if not cpath.is_file():
        raise BriefInputError(f"{cpath}: not found; expected the scorecard of python -m sim run")
    card = pd.read_csv(cpath)
    missing = {"scenario", "target", "value", "passed"} - set(card.columns)
    if missing:
        raise BriefInputError(f"{cpath}: missing column(s) {sorted(missing)}")
    meta = manifest.get("scenarios")
    if not isinstance(meta, dict) or not meta:
        raise BriefInputError(f"{mpath}: key 'scenarios' must map scenario ids to their metadata")
    scenarios = [s for s in meta if s in set(card["scenario"])]
    run = RunData(folder, manifest, card, _targets(manifest, mpath), scenarios, meta, _levers(manifest))
    sha = _sha(manifest)
    found = _candidates(folder, search_dir, "levers.csv", sha)
    run.search = read_search(found[0]) if found else (read_search_doc(search_doc) if search_doc else None)
    found = _candidates(folder, ensemble_dir, "probabilities.csv", sha)
    run.ensemble = read_ensemble(found[0]) if found else None
    found = _candidates(folder, contributions_dir, "contributions_by_lever.csv", sha)
    run.contributions = read_contributions(found[0]) if found else None
    run.traceability = read_traceability(folder, lang)
    return run
