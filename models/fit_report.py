"""Fit of models/jingdezhen.mdl to the 2010-2015 data: figure and error table.

Regenerate with ``.venv/bin/python models/fit_report.py`` (``make calibrate`` runs it
last). It runs the baseline, compares four series with the data file and writes

* ``docs/model_vs_data.png`` (model against data, four panels),
* the table between the ``fit-table`` markers in ``models/README.md``, and
* between the ``calibration-tables`` markers there, the fitted-parameter and
  behaviour-reproduction tables copied verbatim from the committed calibration report
  ``models/calibration/report/report.md`` (never typed by hand).

Series (units as in the data file): nominal GDP (亿元, ``gdp``), real growth
(%/yr, ``gdp_real_growth``, model: GDP real(t)/GDP real(t-1) - 1), secondary-industry
share (%, ``industry_structure_secondary_share``) and year-end population (万人,
``total_population_yearend_csmar``). Where two sources give a year, the CSMAR row is
used: it is one consistent series, and its 2015 value matches the second source.
"""
from __future__ import annotations

import os
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
DATA_CANDIDATES = [Path(os.environ.get("JDZ_HISTORY", "/work/shared/data/history_to_2015.csv")),
                   ROOT.parent / "shared" / "data" / "history_to_2015.csv"]
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
    ("Population 年末总人口", "total_population_yearend_csmar", "total population", 1.0, "万人"),
]


def read_history(path: Path | None = None) -> pd.DataFrame:
    """The data file with numeric values (ratio rows such as '17.9:47.3:34.8' become NaN)."""
    path = path or next((p for p in DATA_CANDIDATES if p.exists()), None)
    if path is None:
        raise FileNotFoundError("history_to_2015.csv not found in: " + ", ".join(map(str, DATA_CANDIDATES)))
    d = pd.read_csv(path)
    d["value"] = pd.to_numeric(d["value"], errors="coerce")
    return d


def data_series(history: pd.DataFrame, indicator: str) -> pd.Series:
    """Values 2010-2015 of one indicator, one per year, the CSMAR row where there are two."""
    rows = history[(history.indicator == indicator) & history.year.between(2010, 2015)]
    csmar = rows[rows.note.fillna("").str.contains("CSMAR")]
    rows = csmar if not csmar.empty else rows
    return rows.groupby("year")["value"].last()


def run_baseline() -> pd.DataFrame:
    """Baseline run, annual, with the annual real growth rate added (fraction per year)."""
    sys.path.insert(0, str(ROOT))
    import sim

    df = sim.simulate(sim.load_model(MODEL))
    df["GDP real growth (annual)"] = df["GDP real"].pct_change()
    return df


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


def figure(run: pd.DataFrame, table: pd.DataFrame):
    from sim.report.fonts import font_rc

    plt.rcParams.update(font_rc())
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (label, indicator, column, scale, unit) in zip(axes.flat, SERIES):
        years = run.index[run.index <= 2020]
        ax.plot(years, run.loc[years, column] * scale, color="tab:blue", label="model (baseline)")
        t = table[table.indicator == indicator]
        ax.fill_between(t.year, t.data * (1 - TOLERANCE), t.data * (1 + TOLERANCE), color="0.85",
                        label="data ±10 %")
        ax.plot(t.year, t.data, "o", color="black", label="data")
        ax.axvline(2015.5, color="0.6", lw=0.8, ls=":")
        ax.set_title(label)
        ax.set_ylabel(unit)
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Jingdezhen model vs data 2010-2015 (data after 2015 held back)")
    fig.tight_layout()
    return fig


def update_readme(text: str, block: str) -> str:
    """Replace the fit table between the markers (append a section if there are none)."""
    body = f"{BEGIN}\n{block}\n{END}"
    if BEGIN in text and END in text:
        return re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _m: body, text, flags=re.S)
    return text.rstrip("\n") + "\n\n## Fit to 2010–2015 data\n\n" + body + "\n"


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
    fig = figure(run, table)
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=110)
    text = update_readme(README.read_text(encoding="utf-8"), markdown(table))
    calibration = report_sections(CALIBRATION_REPORT.read_text(encoding="utf-8"))
    text = replace_block(text, CAL_BEGIN, CAL_END, calibration)
    README.write_text(text, encoding="utf-8")
    print(table.assign(rel_error=table.rel_error.round(3)).to_string(index=False))
    print(f"wrote {FIGURE} and the fit table in {README}")


if __name__ == "__main__":
    main()
