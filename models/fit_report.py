"""Fit of models/jingdezhen.mdl to the 2010-2020 data: figure and error table.

Regenerate with ``.venv/bin/python models/fit_report.py`` (``make calibrate`` runs it
last). It runs the baseline (the constants fitted on 2011-2020) and the same model with
the constants of the 2011-2017 split fit, compares six series with the project's data
files (``data/``; nothing outside the repository is read) and writes

* ``docs/model_vs_data.png`` (model against data, six panels; the split fit dashed,
  the years it did not see shaded),
* the table between the ``fit-table`` markers in ``models/README.md``,
* between the ``calibration-tables`` markers there, the fitted-parameter and
  behaviour-reproduction tables copied verbatim from the committed calibration report
  ``models/calibration/report/report.md``, and between the ``split-tables`` markers the
  split's fitted parameters and out-of-sample statistics from
  ``models/calibration/split/report.md`` (never typed by hand).

Series (units as in the data files): nominal GDP (亿元, ``gdp``, as published: the old
basis to 2017, the post-census basis from 2018), real growth (%/yr,
``gdp_real_growth``, model: GDP real(t)/GDP real(t-1) - 1), secondary and tertiary
shares (%), year-end resident population on the census-revised basis (万人,
``resident_population_revised_series``, 2010 the census) and fiscal revenue (亿元).
Where two sources give a year, the choice is data/reconciliation.yaml's: CSMAR's GDP,
the bulletin's 2019 growth (7.8).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "jingdezhen.mdl"
README = ROOT / "models" / "README.md"
FIGURE = ROOT / "docs" / "model_vs_data.png"
DATA_FILES = [ROOT / "data" / "history_to_2015.csv", ROOT / "data" / "history_2016_2020.csv"]
SPLIT_REPORT = ROOT / "models" / "calibration" / "split"
SPLIT_BEGIN = "<!-- BEGIN split-tables (models/fit_report.py, from calibration/split/report.md) -->"
SPLIT_END = "<!-- END split-tables -->"
SPLIT_SECTIONS = ("## Fitted parameters", "## Out of sample")
HOLDOUT = (2018, 2020)
BEGIN, END = "<!-- BEGIN fit-table (models/fit_report.py) -->", "<!-- END fit-table -->"
CALIBRATION_REPORT = ROOT / "models" / "calibration" / "report" / "report.md"
CAL_BEGIN = "<!-- BEGIN calibration-tables (models/fit_report.py, from calibration/report/report.md) -->"
CAL_END = "<!-- END calibration-tables -->"
#: Sections of the calibration report copied into the README (heading prefixes).
CALIBRATION_SECTIONS = ("## Fitted parameters", "## Behaviour reproduction")
TOLERANCE = 0.10

#: (label, data indicator, model column, scale of the model value to the data unit, unit)
SERIES = [
    ("Nominal GDP 名义GDP", "gdp", "GDP nominal", 1.0, "亿元"),
    ("Real GDP growth 实际增长", "gdp_real_growth", "GDP real growth (annual)", 100.0, "%"),
    ("Secondary share 第二产业比重", "industry_structure_secondary_share", "secondary industry share", 100.0, "%"),
    ("Tertiary share 第三产业比重", "industry_structure_tertiary_share", "tertiary industry share", 100.0, "%"),
    ("Population 常住人口(七普修订)", "resident_population_revised_series", "total population", 1.0, "万人"),
    ("Fiscal revenue 财政总收入", "fiscal_total_revenue", "fiscal revenue nominal", 1.0, "亿元"),
]
#: where two rows give a year: the source (substring of source_url) that wins
PREFER = {"gdp": "CRE_Gdpct", "gdp_real_growth": "mudaan.com"}


def read_history(paths=DATA_FILES) -> pd.DataFrame:
    """The project's data files, one table, with numeric values (ratio rows such as
    '17.9:47.3:34.8' become NaN)."""
    d = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    d["value"] = pd.to_numeric(d["value"], errors="coerce")
    return d


def data_series(history: pd.DataFrame, indicator: str) -> pd.Series:
    """Values 2010-2020 of one indicator, one per year (the PREFER source where there are
    two); the population series starts from the 2010 census."""
    rows = history[(history.indicator == indicator) & history.year.between(2010, 2020)]
    if indicator in PREFER:
        chosen = rows[rows.source_url.str.contains(PREFER[indicator], regex=False)]
        rows = pd.concat([chosen, rows[~rows.year.isin(chosen.year)]])
    series = rows.groupby("year")["value"].first().sort_index()
    if indicator == "resident_population_revised_series":
        census = history[(history.indicator == "resident_population_census") & (history.year == 2010)]
        series = pd.concat([pd.Series({2010: float(census["value"].iloc[0])}), series])
    return series


def run_baseline(params: dict | None = None) -> pd.DataFrame:
    """Baseline run (optionally with other constants), annual, with the annual real growth
    rate added (fraction per year)."""
    sys.path.insert(0, str(ROOT))
    import sim

    df = sim.simulate(sim.load_model(MODEL), params=params or {})
    df["GDP real growth (annual)"] = df["GDP real"].pct_change()
    return df


def split_constants() -> dict:
    """The constants of the 2011-2017 split fit (models/calibration/split/calibration.json)."""
    import json

    numbers = json.loads((SPLIT_REPORT / "calibration.json").read_text(encoding="utf-8"))
    return {name: p["value"] for name, p in numbers["parameters"].items()}


def fit_table(run: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """One row per series and year: data, model, relative error (model / data - 1)."""
    rows = []
    for label, indicator, column, scale, unit in SERIES:
        data = data_series(history, indicator)
        for year, value in data.items():
            model = run.loc[float(year), column] * scale
            if np.isnan(model):
                continue  # growth in the first model year needs the year before
            rows.append(dict(series=label, indicator=indicator, unit=unit, year=int(year),
                             data=value, model=model, rel_error=model / value - 1.0))
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    lines = ["| series | unit | year | data | model | error |", "|---|---|---:|---:|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {r.series} (`{r.indicator}`) | {r.unit} | {r.year} | {r.data:.4g} | "
                     f"{r.model:.4g} | {100 * r.rel_error:+.1f} % |")
    worst = table.loc[table.rel_error.abs().groupby(table.indicator).idxmax()]
    lines.append("")
    lines.append("Largest error per series: " + "; ".join(
        f"`{r.indicator}` {100 * r.rel_error:+.1f} % ({r.year})" for r in worst.itertuples())
        + f". Tolerance: ±{100 * TOLERANCE:.0f} % per point (checked in tests/test_jingdezhen_model.py).")
    return "\n".join(lines)


def figure(run: pd.DataFrame, table: pd.DataFrame, split: pd.DataFrame | None = None):
    from sim.report.fonts import font_rc

    plt.rcParams.update(font_rc())
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    for ax, (label, indicator, column, scale, unit) in zip(axes.flat, SERIES):
        years = run.index[run.index <= 2020]
        ax.axvspan(HOLDOUT[0] - 0.5, HOLDOUT[1] + 0.5, color="0.93", zorder=0,
                   label="not seen by the split fit")
        ax.plot(years, run.loc[years, column] * scale, color="tab:blue", label="model, fit 2011-2020")
        if split is not None:
            ax.plot(years, split.loc[years, column] * scale, color="tab:orange", ls="--",
                    label="model, fit 2011-2017")
        t = table[table.indicator == indicator]
        ax.plot(t.year, t.data, "o", color="black", ms=4, label="data (markers)")
        ax.set_title(label)
        ax.set_ylabel(unit)
        ax.set_xlim(2009.5, 2020.5)
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Jingdezhen model vs data 2010-2020 (data/: city statistics; GDP as published, "
                 "post-census basis from 2018; population census-revised)")
    fig.tight_layout()
    return fig


def update_readme(text: str, block: str) -> str:
    """Replace the fit table between the markers (append a section if there are none)."""
    body = f"{BEGIN}\n{block}\n{END}"
    if BEGIN in text and END in text:
        return re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _m: body, text, flags=re.S)
    return text.rstrip("\n") + "\n\n## Fit to 2010–2020 data\n\n" + body + "\n"


def report_sections(report: str, headings=CALIBRATION_SECTIONS) -> str:
    """The named ``##`` sections of a calibration report.md (heading, table and the note
    under it), their headings demoted to ``####`` for the README."""
    parts = re.split(r"(?m)^(?=## )", report)
    found = []
    for heading in headings:
        section = next((p for p in parts if p.startswith(heading)), None)
        if section is None:
            raise ValueError(f"{CALIBRATION_REPORT}: no section starting {heading!r}")
        found.append("##" + section.strip())
    return "\n\n".join(found)


def replace_block(text: str, begin: str, end: str, block: str) -> str:
    """Replace what lies between two markers; the markers must be present."""
    if begin not in text or end not in text:
        raise ValueError(f"{README}: markers {begin!r} ... {end!r} not found")
    body = f"{begin}\n{block}\n{end}"
    return re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _m: body, text, flags=re.S)


def main() -> None:
    run = run_baseline()
    table = fit_table(run, read_history())
    split = run_baseline(split_constants()) if (SPLIT_REPORT / "calibration.json").exists() else None
    fig = figure(run, table, split)
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=110)
    text = update_readme(README.read_text(encoding="utf-8"), markdown(table))
    calibration = report_sections(CALIBRATION_REPORT.read_text(encoding="utf-8"))
    text = replace_block(text, CAL_BEGIN, CAL_END, calibration)
    if (SPLIT_REPORT / "report.md").exists():
        split_tables = report_sections((SPLIT_REPORT / "report.md").read_text(encoding="utf-8"),
                                       SPLIT_SECTIONS)
        text = replace_block(text, SPLIT_BEGIN, SPLIT_END, split_tables)
    README.write_text(text, encoding="utf-8")
    print(table.assign(rel_error=table.rel_error.round(3)).to_string(index=False))
    print(f"wrote {FIGURE} and the fit table in {README}")


if __name__ == "__main__":
    main()
