"""The calibration report: a NEW results folder with the numbers, tables and figures.

:func:`write_report` writes ``calibration.json`` (all numbers), ``comparison.csv``,
``report.md``, ``fit_<series>.png`` and ``manifest.json``; :func:`main_calibrate` is the
``python -m sim calibrate`` job (read the spec, fit, write).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sim.analysis.calibrate import (CORRELATION_LIMIT, TRANSFORMS, CalibrationResult,
                                    calibrate, load_spec, model_measure, result_to_dict, shown_path)
from sim.defaults import DEFAULT_RESULTS_ROOT
from sim.provenance import finish_results_dir, make_results_dir, refuse_existing, sha256, write_manifest
from sim.report.tables import markdown_table


def _md(frame: pd.DataFrame, digits: int = 4) -> str:
    """A report table: the frame's index as the first column."""
    return markdown_table(frame, digits=digits, index=True).rstrip("\n")


def report_markdown(result: CalibrationResult) -> str:
    """The calibration report as Markdown tables."""
    spec, opt = result.spec, result.optimizer
    params = result.parameters.drop(columns=["flags"])
    flagged = result.parameters[~result.parameters["identifiable"]]
    stats_cols = ["n", "RMSE", "MAPE", "R2", "R2_determination", "U_M", "U_S", "U_C"]
    lines = [
        f"# Calibration: {spec.name}", "",
        f"- spec: `{shown_path(spec.path)}`", f"- model: `{shown_path(spec.model_path)}`",
        f"- loss: {spec.loss} (f_scale {spec.f_scale:g}); {opt['n_points']} data points, "
        f"{opt['n_parameters']} parameters, {opt['dof']} degrees of freedom",
        f"- optimiser: {'converged' if opt['success'] else 'NOT converged'} ({opt['message']}); "
        f"{opt['model_runs']} model runs, {opt['failed_runs']} failed",
        f"- residual variance s² = {opt['s2']:.4g} (normalised units); "
        f"condition number of J = {opt['condition_number']:.3g}", "",
        "## Fitted parameters (model units, 95 % confidence intervals)", "",
        _md(params), "",
        "Intervals: covariance = s² (JᵀJ)⁻¹ from the residual Jacobian at the optimum, "
        "half-width = t(0.975, n − p) × standard error.", "",
        "## Identifiability", "",
    ]
    if flagged.empty:
        lines.append("Every parameter is identified by the data (CI narrower than its bounds range, "
                     f"|correlation| ≤ {CORRELATION_LIMIT}, JᵀJ not singular).")
    else:
        lines += [f"- **{name}**: {row['flags']}" for name, row in flagged.iterrows()]
    lines += ["", "## Parameter correlation", "", _md(result.correlation.rename_axis("parameter"), 3), "",
              "## Behaviour reproduction (per series, model units)", "",
              _md(result.statistics[stats_cols]), "",
              "MAPE in percent of the data; R2 = squared correlation (Sterman 1984); "
              "R2_determination = 1 − SSE/SS_tot. Theil: U_M bias, U_S unequal variation, "
              "U_C unequal covariation (U_M + U_S + U_C = 1). A good fit has small MAPE and most "
              "of its error in U_C (unsystematic).", "",
              "## Series", "",
              _md(pd.DataFrame(
                  {"indicator": [s.indicator for s in spec.series],
                   "variable": [s.variable if s.transform == "level"
                                else f"{s.transform}({s.variable})" for s in spec.series],
                   "data unit": [s.data_unit for s in spec.series],
                   "scale": [s.scale for s in spec.series],
                   "weight": [s.weight for s in spec.series],
                   "duplicates": [str(s.duplicates) for s in spec.series],
                   "normalise": [str(s.normalise) for s in spec.series],
                   "figure": [f"![{s.name}](fit_{s.name}.png)" for s in spec.series]},
                  index=pd.Index([s.name for s in spec.series], name="series"))), ""]
    if result.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in result.notes], ""]
    return "\n".join(lines)


def plot_fit(result: CalibrationResult, series_name: str, path: Path) -> Path:
    """Figure of one series: data points, the fitted and the initial model run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    spec = result.spec
    s = next(x for x in spec.series if x.name == series_name)
    row = result.statistics.loc[series_name]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    try:
        lag = TRANSFORMS[s.transform][0]
        for run, style in ((result.initial_run, dict(color="0.6", linestyle="--", label="model, initial values")),
                           (result.fitted, dict(color="tab:blue", label="model, fitted"))):
            t = run.index[run.index >= run.index.min() + lag]
            ax.plot(t, model_measure(run, s, t), **style)
        ax.scatter(s.data.index, s.data.values, color="black", zorder=3, s=18,
                   label=f"data: {s.indicator} × {s.scale:g}")
        ax.set_xlabel("year")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(s.variable if s.transform == "level" else f"{s.transform} of {s.variable}")
        ax.set_title(f"{s.name}: RMSE {row['RMSE']:.3g}, MAPE {row['MAPE']:.2f} %, R² {row['R2']:.3f}\n"
                     f"Theil U_M {row['U_M']:.2f}, U_S {row['U_S']:.2f}, U_C {row['U_C']:.2f}",
                     fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path


def write_report(result: CalibrationResult, out_dir: str | Path | None = None, *,
                 results_root: str | Path = DEFAULT_RESULTS_ROOT) -> Path:
    """Write a calibration into a NEW results folder and return its path.

    ``out_dir``: the folder to create (an existing one is an error, never written into);
    default ``<results_root>/<UTC timestamp>-calibration-<spec name>`` (``-2``… if taken).
    Files: ``calibration.json`` (all numbers), ``comparison.csv`` (data against model,
    point by point), ``report.md`` (tables),
    ``fit_<series>.png`` (model against data) and ``manifest.json`` (spec, model and data
    file hashes, package versions, git commit).
    """
    spec = result.spec
    folder = make_results_dir(out_dir, results_root, f"calibration-{spec.name}")
    (folder / "calibration.json").write_text(
        json.dumps(result_to_dict(result), indent=2, ensure_ascii=False), encoding="utf-8")
    result.comparison.to_csv(folder / "comparison.csv", index=False)
    (folder / "report.md").write_text(report_markdown(result), encoding="utf-8")
    figures = [plot_fit(result, s.name, folder / f"fit_{s.name}.png").name for s in spec.series]
    write_manifest(folder, "calibration", name=spec.name,
                   model={"path": shown_path(spec.model_path), "sha256": sha256(spec.model_path)},
                   files={"spec": {shown_path(spec.path): sha256(spec.path)},
                          "data": {shown_path(p): sha256(p) for p in sorted({s.data_file for s in spec.series})}},
                   figures=figures)
    return finish_results_dir(folder, explicit=out_dir is not None)


def main_calibrate(spec_path: str, out: str | None = None) -> Path:
    """``python -m sim calibrate SPEC [--out DIR]``: load, fit, write a new results folder.

    ``out`` is the folder to create (must not exist); default
    ``results/<UTC timestamp>-calibration-<spec name>``.  Returns the folder.
    """
    refuse_existing(out, DEFAULT_RESULTS_ROOT)  # before the fit, not after it
    result = calibrate(load_spec(spec_path))
    return write_report(result, out)
