"""Read the historical statistics in ``data/`` and reconcile them into comparable series.

``read_history()`` returns every raw row of ``data/history_to_2015.csv`` and
``data/history_2016_2020.csv``; ``comparable_series()`` builds the series the model is
judged on by the choices written in ``data/reconciliation.yaml`` (one line per choice,
with its reason). No number is chosen in this module: which rows, which source wins where
two disagree, where a series breaks, the base year of an index and a unit factor all come
from the reconciliation file.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sim.errors import suggest
from sim.policy.scenario import Problem, ValidationError, check_bilingual, read_yaml

#: The project's data folder (top-level ``data/`` of the repository).
DATA_DIR = Path(__file__).resolve().parents[2] / "data"
#: The raw files, oldest first (a later file's row never replaces an earlier one: both are kept).
HISTORY_FILES = ("history_to_2015.csv", "history_2016_2020.csv")
RECONCILIATION_FILE = "reconciliation.yaml"
COLUMNS = ["indicator", "year", "value", "unit", "source_url", "note"]
DERIVATIONS = ("chain_index", "quotient")
SERIES_KEYS = {"name": True, "unit": True, "reason": True, "use": False, "prefer": False,
               "breaks": False, "derive": False, "of": False, "base": False, "factor": False}


@dataclass(frozen=True)
class SeriesSpec:
    """One reconciled series as declared in the reconciliation file."""

    id: str
    name: dict
    unit: str
    reason: str
    use: tuple = ()
    prefer: tuple = ()
    breaks: tuple = ()
    derive: str | None = None
    of: tuple = ()
    base: int | None = None
    factor: float = 1.0


@dataclass
class Reconciled:
    """Result of :func:`reconcile`: values (years x series), per-value provenance, specs."""

    values: pd.DataFrame
    provenance: pd.DataFrame
    specs: dict[str, SeriesSpec] = field(default_factory=dict)


def _data_dir(data_dir) -> Path:
    return Path(data_dir) if data_dir is not None else DATA_DIR


def read_history(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every raw row of the history files, long format.

    Columns: ``indicator, year (int), value (float; NaN where the row holds text such as
    '10.3:47.7:42.0'), unit, source_url, note, value_text (the value as written), file``.
    Rows are kept as published, duplicates included (two sources for one year are two rows).
    """
    folder = _data_dir(data_dir)
    frames = []
    for name in HISTORY_FILES:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: historical data file not found (expected in the "
                                    "project's data/ folder)")
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise ValidationError([Problem(str(path), "", f"missing column(s) {missing}; expected "
                                           f"{', '.join(COLUMNS)}")])
        years = pd.to_numeric(df["year"], errors="coerce")
        if years.isna().any():
            bad = df.loc[years.isna(), "year"].iloc[0]
            raise ValidationError([Problem(str(path), "year", f"expected a year, got {bad!r}")])
        df = df[COLUMNS].assign(year=years.astype(int), value_text=df["value"],
                                value=pd.to_numeric(df["value"], errors="coerce"), file=name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)[COLUMNS + ["value_text", "file"]]


# --------------------------------------------------------------------------- the choices
def _years(v) -> tuple[int, int] | None:
    if (isinstance(v, list) and len(v) == 2 and all(isinstance(y, int) and not isinstance(y, bool)
                                                    for y in v) and v[0] <= v[1]):
        return int(v[0]), int(v[1])
    return None


def read_reconciliation(path: str | os.PathLike | None = None
                        ) -> tuple[dict[str, SeriesSpec], list[Problem]]:
    """Read the reconciliation file; return the series specs and every problem found."""
    path = Path(path) if path is not None else DATA_DIR / RECONCILIATION_FILE
    file = str(path)
    problems: list[Problem] = []
    data = read_yaml(path, problems)
    if problems:
        return {}, problems
    if not isinstance(data, Mapping) or not isinstance(data.get("series"), Mapping):
        return {}, [Problem(file, "series", "expected a mapping series id -> {name, unit, reason, ...}")]
    specs: dict[str, SeriesSpec] = {}
    ids = list(data["series"])
    for sid, s in data["series"].items():
        where = f"series.{sid}"
        if not isinstance(s, Mapping):
            problems.append(Problem(file, where, "expected a mapping"))
            continue
        n0 = len(problems)
        for k, required in SERIES_KEYS.items():
            if required and k not in s:
                problems.append(Problem(file, f"{where}.{k}", "missing"))
        for k in set(s) - set(SERIES_KEYS):
            problems.append(Problem(file, f"{where}.{k}", "unknown key" + suggest(str(k), SERIES_KEYS)))
        name = check_bilingual(s.get("name"), file, f"{where}.name", problems) if "name" in s else {}
        derive = s.get("derive")
        if derive is None and not s.get("use"):
            problems.append(Problem(file, where, "expected `use:` (raw indicators) or `derive:`"))
        if derive is not None and derive not in DERIVATIONS:
            problems.append(Problem(file, f"{where}.derive", f"unknown derivation {derive!r}; expected "
                                    f"one of {', '.join(DERIVATIONS)}"))
        if derive is not None:
            of = s.get("of")
            n = 1 if derive == "chain_index" else 2
            if not (isinstance(of, list) and len(of) == n):
                problems.append(Problem(file, f"{where}.of", f"{derive} expects a list of {n} series"))
            else:
                for o in of:
                    if o not in ids[:ids.index(sid)]:
                        problems.append(Problem(file, f"{where}.of", f"{o!r} is not a series defined "
                                                "above this one" + suggest(str(o), ids)))
            if derive == "chain_index" and not (isinstance(s.get("base"), int)):
                problems.append(Problem(file, f"{where}.base", "chain_index expects a base year"))
            factor = s.get("factor", 1)
            if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not factor:
                problems.append(Problem(file, f"{where}.factor", f"expected a non-zero number, got {factor!r}"))
        for key, need in (("use", ("indicator", "years", "reason")),
                          ("prefer", ("source", "years", "reason")),
                          ("breaks", ("between", "reason"))):
            for i, line in enumerate(s.get(key) or []):
                w = f"{where}.{key}[{i}]"
                if not isinstance(line, Mapping):
                    problems.append(Problem(file, w, "expected a mapping"))
                    continue
                for k in need:
                    if not line.get(k):
                        problems.append(Problem(file, f"{w}.{k}", "missing: every choice states its "
                                                + ("reason" if k == "reason" else k)))
                if key == "use" and "years" in line and _years(line["years"]) is None:
                    problems.append(Problem(file, f"{w}.years", f"expected [first, last], got {line['years']!r}"))
                if key in ("prefer",) and not (isinstance(line.get("years"), list)
                                               and all(isinstance(y, int) for y in line["years"])):
                    problems.append(Problem(file, f"{w}.years", "expected a list of years"))
                if key == "breaks" and _years(line.get("between")) is None:
                    problems.append(Problem(file, f"{w}.between", "expected [last year before, first after]"))
        if len(problems) > n0:
            continue
        specs[str(sid)] = SeriesSpec(
            id=str(sid), name=name, unit=str(s["unit"]), reason=str(s["reason"]),
            use=tuple(dict(u) for u in s.get("use") or ()),
            prefer=tuple(dict(p) for p in s.get("prefer") or ()),
            breaks=tuple(dict(b) for b in s.get("breaks") or ()), derive=derive,
            of=tuple(s.get("of") or ()), base=s.get("base"), factor=float(s.get("factor", 1)))
    return specs, problems


def _take(spec: SeriesSpec, raw: pd.DataFrame, file: str, problems: list[Problem]
          ) -> tuple[dict[int, float], list[dict]]:
    """Values and provenance rows of a series built from raw indicators (``use``/``prefer``)."""
    known = set(raw["indicator"])
    rows = []
    for i, u in enumerate(spec.use):
        if u["indicator"] not in known:
            problems.append(Problem(file, f"series.{spec.id}.use[{i}].indicator",
                                    f"{u['indicator']!r} is not an indicator of the data"
                                    + suggest(u["indicator"], known)))
            continue
        first, last = _years(u["years"])
        sel = raw[(raw["indicator"] == u["indicator"]) & raw["year"].between(first, last)
                  & raw["value"].notna()]
        rows.append(sel)
    if not rows:
        return {}, []
    sel = pd.concat(rows)
    values, prov = {}, []
    for year, grp in sel.groupby("year", sort=True):
        chosen, why = grp, ""
        if grp["value"].nunique() > 1:
            for j, p in enumerate(spec.prefer):
                if int(year) in p["years"]:
                    hit = grp[grp["source_url"].str.contains(str(p["source"]), regex=False)]
                    if hit.empty:
                        problems.append(Problem(file, f"series.{spec.id}.prefer[{j}]",
                                                f"{year}: no row's source contains {p['source']!r}"))
                    chosen, why = hit, p["reason"]
                    break
            else:
                vals = ", ".join(f"{v:g} ({u})" for v, u in zip(grp["value"], grp["source_url"]))
                problems.append(Problem(file, f"series.{spec.id}",
                                        f"{year}: sources disagree ({vals}); add a `prefer` line "
                                        "saying which wins and why"))
                continue
            if chosen.empty or chosen["value"].nunique() != 1:
                continue
        values[int(year)] = float(chosen["value"].iloc[0])
        prov.append({"series": spec.id, "year": int(year), "value": values[int(year)],
                     "unit": spec.unit, "indicator": "; ".join(dict.fromkeys(chosen["indicator"])),
                     "source_url": " ; ".join(dict.fromkeys(chosen["source_url"])),
                     "note": " | ".join(n for n in dict.fromkeys(chosen["note"]) if n),
                     "choice": why})
    return values, prov


def _derive(spec: SeriesSpec, done: Mapping[str, dict[int, float]]
            ) -> tuple[dict[int, float], list[dict]]:
    if spec.derive == "chain_index":
        g = done[spec.of[0]]
        out: dict[int, float] = {}
        if spec.base in g or (spec.base + 1) in g:
            out[spec.base] = 1.0
            y = spec.base
            while (y + 1) in g:                          # forward: I[y+1] = I[y] (1 + g[y+1])
                out[y + 1] = out[y] * (1 + g[y + 1] / 100.0)
                y += 1
            y = spec.base
            while y in g:                                # backward: I[y-1] = I[y] / (1 + g[y])
                out[y - 1] = out[y] / (1 + g[y] / 100.0)
                y -= 1
        how = f"chained from {spec.of[0]}, {spec.base} = 1"
    else:
        a, b = done[spec.of[0]], done[spec.of[1]]
        out = {y: a[y] / b[y] * spec.factor for y in sorted(set(a) & set(b)) if b[y]}
        how = f"{spec.of[0]} / {spec.of[1]}" + (f" x {spec.factor:g}" if spec.factor != 1 else "")
    prov = [{"series": spec.id, "year": y, "value": v, "unit": spec.unit, "indicator": how,
             "source_url": "derived: see " + " and ".join(spec.of), "note": "", "choice": spec.reason}
            for y, v in sorted(out.items())]
    return dict(sorted(out.items())), prov


def reconcile(data_dir: str | os.PathLike | None = None) -> Reconciled:
    """Build every series of the reconciliation file; raise ValidationError listing every problem."""
    folder = _data_dir(data_dir)
    path = folder / RECONCILIATION_FILE
    specs, problems = read_reconciliation(path)
    if problems:
        raise ValidationError(problems)
    raw = read_history(folder)
    done: dict[str, dict[int, float]] = {}
    prov: list[dict] = []
    for sid, spec in specs.items():
        vals, p = (_derive(spec, done) if spec.derive else _take(spec, raw, str(path), problems))
        done[sid] = vals
        prov += p
    if problems:
        raise ValidationError(problems)
    values = pd.DataFrame({sid: pd.Series(v, dtype=float) for sid, v in done.items()})
    values = values.reindex(range(int(values.index.min()), int(values.index.max()) + 1))
    values.index.name = "year"
    values.attrs["units"] = {sid: s.unit for sid, s in specs.items()}
    return Reconciled(values, pd.DataFrame(prov), specs)


@lru_cache(maxsize=4)
def _cached(folder: str, stamp: tuple) -> Reconciled:
    return reconcile(folder)


def _reconciled(data_dir=None) -> Reconciled:
    folder = _data_dir(data_dir)
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*")) if p.is_file())
    return _cached(str(folder), stamp)


def comparable_series(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The reconciled series: index ``year`` (int, every year from the first to the last
    value), one float column per series of ``data/reconciliation.yaml`` (NaN where there is
    no value). ``.attrs["units"]`` maps each column to its unit; :func:`series_info` and
    :func:`provenance` give names, reasons, breaks and the source of every value."""
    r = _reconciled(data_dir)
    out = r.values.copy()
    out.attrs["units"] = dict(r.values.attrs["units"])
    return out


def provenance(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per reconciled value: ``series, year, value, unit, indicator (raw indicator(s)
    or the derivation), source_url, note (of the raw rows), choice (the reason of the
    ``prefer`` line that settled a disagreement, or of the derivation)``."""
    return _reconciled(data_dir).provenance.copy()


def series_info(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per series: ``unit, zh, en, reason, derive, breaks`` (``"2017|2018 (gdp)"``:
    the years either side of each level break and the series that declares it)."""
    specs = _reconciled(data_dir).specs
    return pd.DataFrame(
        [{"series": s.id, "unit": s.unit, "zh": s.name.get("zh", ""), "en": s.name.get("en", ""),
          "reason": s.reason, "derive": s.derive or "",
          "breaks": "; ".join(f"{b['between'][0]}|{b['between'][1]} ({b['series']})"
                              for b in breaks_of(s.id, data_dir))}
         for s in specs.values()]).set_index("series")


def source_of(series: str, years, data_dir: str | os.PathLike | None = None) -> str:
    """The sources behind ``series`` in ``years``, following derivations down to raw rows
    (distinct URLs joined by " ; ")."""
    r = _reconciled(data_dir)
    if series not in r.specs:
        raise KeyError(f"{DATA_DIR / RECONCILIATION_FILE}: no series {series!r}"
                       + suggest(series, r.specs))
    spec = r.specs[series]
    years = [int(y) for y in years]
    if spec.derive:
        if spec.derive == "chain_index":  # a chained index depends on every growth year between
            lo, hi = min(years + [spec.base]), max(years + [spec.base])
            years = list(range(lo + 1, hi + 1))   # I[y] uses g[base+1..y] (or g[y+1..base])
        urls = [source_of(o, years, data_dir) for o in spec.of]
        return " ; ".join(dict.fromkeys(u for s in urls for u in s.split(" ; ") if u))
    p = r.provenance
    sel = p[(p["series"] == series) & p["year"].isin(years)]
    return " ; ".join(dict.fromkeys(u for s in sel["source_url"] for u in s.split(" ; ") if u))


def breaks_of(series: str, data_dir: str | os.PathLike | None = None) -> list[dict]:
    """Level breaks of a series, following quotients down to their inputs (a chained real
    index has none: it is built from growth rates). Each: ``{between: [y0, y1], reason,
    series: where it was declared}``."""
    specs = _reconciled(data_dir).specs
    spec = specs[series]
    own = [{"between": list(b["between"]), "reason": b["reason"], "series": series}
           for b in spec.breaks]
    if spec.derive == "quotient":
        for o in spec.of:
            own += [b for b in breaks_of(o, data_dir) if b not in own]
    return own


def last_year(series: str, data_dir: str | os.PathLike | None = None) -> int | None:
    """Last year with a value of ``series`` (None when it has none)."""
    col = comparable_series(data_dir)[series].dropna()
    return int(col.index.max()) if not col.empty else None

