"""The ensemble's results folder: probabilities, samples, indicator paths, Sobol tables, fan charts.

:func:`write_results` writes a NEW folder for an :class:`sim.analysis.ensemble.Ensemble`;
:func:`main_ensemble` is the ``python -m sim ensemble`` job (run, analyse, write).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.ensemble import (DEFAULT_WORKERS, Ensemble, influence, probabilities, run_ensemble,
                                   sensitivity)
from sim.defaults import DEFAULT_MODEL, DEFAULT_RESULTS_ROOT, DEFAULT_SCENARIO_DIR
from sim.policy.scenario import param_to_json
from sim.provenance import (finish_results_dir, make_results_dir, netcdf_name, refuse_existing, sha256,
                            write_manifest)
from sim.report.fan import write_fan_charts
from sim.report.tables import markdown_table


def _md(frame) -> str:
    """A results table: 3 significant digits, years (columns ``year…``) to 0.1, vantage years whole."""
    return markdown_table(frame, digits=3, formats={**{c: ".1f" for c in frame.columns if str(c).startswith("year")},
                                                    "seen_from": ".0f"})


def write_results(ens: Ensemble, out=None, *, results_root=DEFAULT_RESULTS_ROOT, name: str | None = None,
                  figures: bool = True, formats: Sequence[str] = ("png",), lang: str = "both") -> Path:
    """Write a NEW results folder; return it.

    Files: ``samples.csv`` (parameter values per sample), ``probabilities.csv``/``.md``,
    ``ensemble.nc`` (target indicators, scenario × sample × time), ``sobol.csv`` and
    ``influence.md`` (Sobol method), ``figures/fan_<target>.png`` and ``manifest.json``.
    """
    t0 = time.perf_counter()
    out_dir = make_results_dir(out, results_root, name or f"ensemble-{ens.method}")
    ens.samples_frame().to_csv(out_dir / "samples.csv")
    for year, seen in _earlier(ens):   # runs seen from an earlier vantage: their own draws and paths
        if seen["values"] is not ens.values:
            pd.DataFrame(seen["values"], columns=ens.names).rename_axis("sample").to_csv(
                out_dir / f"samples_vantage_{year:g}.csv")
        _write_netcdf(ens, out_dir / f"ensemble_vantage_{year:g}.nc", seen)
    probs = probabilities(ens)
    probs.to_csv(out_dir / "probabilities.csv", index=False)
    text = ["# Probability of meeting each goal", "",
            f"{ens.rows} runs per scenario ({ens.method}, seed {ens.seed}); p ± se is the share "
            "of runs meeting the goal and its binomial standard error; year_p50 is the median "
            "year first met (level goals: interpolated crossing of the annual output)."
            + (" Each goal is judged on runs seen from its horizon's base year (seen_from), as the "
               "main run judges it." if ens.vantages else ""), "",
            _md(probs[["scenario", "target", *(["seen_from"] if ens.vantages else []), "comparator", "threshold", "unit", "p", "se",
                       "value_p05", "value_p50", "value_p95", "year_p50"]])]
    (out_dir / "probabilities.md").write_text("\n".join(text), encoding="utf-8")
    _write_netcdf(ens, out_dir / "ensemble.nc")
    sobol_note = "not computed: needs --method sobol"
    if ens.method == "sobol":
        sens = sensitivity(ens)
        sens.to_csv(out_dir / "sobol.csv", index=False)
        infl = influence(sens)
        infl.to_csv(out_dir / "influence.csv", index=False)
        (out_dir / "influence.md").write_text(
            "# Most influential uncertain parameters\n\nRanked by the largest total Sobol index "
            f"over all goals (N = {ens.n}, {ens.rows} runs per scenario; 95 % bootstrap "
            "intervals in sobol.csv).\n\n" + _md(infl), encoding="utf-8")
        sobol_note = "sobol.csv, influence.csv, influence.md"
    figure_note = "skipped"
    if figures:
        paths = write_fan_charts(out_dir / "figures", ens, lang=lang, formats=formats)
        figure_note = f"{len(paths)} files"
    study = ens.info.get("study")
    uncertain = ens.uncertainties
    loaded = getattr(study, "loaded", None)
    write_manifest(
        out_dir, "ensemble", extra_versions=("SALib", "dask", "distributed"),
        model={"path": str(getattr(loaded, "path", "")), "sha256": getattr(loaded, "sha256", None)},
        files={
            "uncertainties": {str(uncertain.path): sha256(uncertain.path)},
            "calibration": ({str(uncertain.calibration): sha256(uncertain.calibration)}
                            if uncertain.calibration_used else {}),
            "scenarios": {str(study.scenarios[s].path): sha256(study.scenarios[s].path)
                          for s in ens.series} if study else {},
            "registry": {str(study.registry_path): sha256(study.registry_path)} if study else {},
            "targets": {str(study.targets_path): sha256(study.targets_path)} if study else {},
        },
        sampling={"method": ens.method, "n": ens.n, "rows": ens.rows, "seed": ens.seed,
                  "unit_hypercube_mapped_by": "scipy.stats ppf"},
        parameters=[u.describe() for u in uncertain.parameters],
        execution={k: v for k, v in ens.info.items() if k not in ("study", "nfev")},
        scenarios={sid: {**ens.scenarios_meta.get(sid, {}),
                         "params": {k: param_to_json(v) for k, v in ens.params.get(sid, {}).items()}}
                   for sid in ens.series},
        targets=[t.id for t in ens.targets],
        year_reached="level goals: linear interpolation of the crossing between annual outputs; "
                     "window goals: first saved year meeting the goal",
        vantages={f"{v:g}": {"history_end_year": v, "levers_from": v + 1, "targets": seen["targets"],
                             "calibration": seen["calibration"],
                             "files": ("ensemble.nc, samples.csv" if "series" not in seen else
                                       f"ensemble_vantage_{v:g}.nc"
                                       + (f", samples_vantage_{v:g}.csv" if seen["values"] is not ens.values
                                          else ", samples.csv")),
                             "params": {sid: {k: param_to_json(x) for k, x in p.items()}
                                        for sid, p in seen["params"].items()}}
                  for v, seen in ens.vantages.items()},
        sobol=sobol_note, figures=figure_note, write_seconds=time.perf_counter() - t0)
    return finish_results_dir(out_dir, explicit=out is not None)


def _earlier(ens: Ensemble):
    """``(year, runs)`` of the vantages whose runs are not the ensemble's main series."""
    return [(v, seen) for v, seen in ens.vantages.items() if "series" in seen]


def _write_netcdf(ens: Ensemble, path: Path, seen: dict | None = None) -> None:
    import xarray as xr

    series, values, times = ((ens.series, ens.values, ens.times) if seen is None
                             else (seen["series"], seen["values"], seen["times"]))
    ids = list(series)
    cols = list(next(iter(series.values())))
    data = {netcdf_name(c): xr.DataArray(np.stack([series[s][c] for s in ids]),
                                      dims=("scenario", "sample", "time"), attrs={"long_name": c})
            for c in cols}
    data["parameter_values"] = xr.DataArray(values, dims=("sample", "parameter"))
    ds = xr.Dataset(data, coords={"scenario": np.array(ids, dtype=object),
                                  "sample": np.arange(ens.rows), "time": times,
                                  "parameter": np.array(ens.names, dtype=object)})
    ds.to_netcdf(path, engine="scipy")


def main_ensemble(scenarios, n: int, method: str = "lhs", seed: int = 0, *, scheduler=None,
                  out=None, chunk_size: int | None = None, workers: int = DEFAULT_WORKERS,
                  uncertainty_file=None, scenario_dir=DEFAULT_SCENARIO_DIR,
                  model=DEFAULT_MODEL, progress: bool = True,
                  figures: bool = True) -> tuple[Path, Ensemble]:
    """The ``ensemble`` command: run, analyse, write the results folder (its location is
    checked before the runs)."""
    refuse_existing(out, DEFAULT_RESULTS_ROOT)
    ens = run_ensemble(scenarios, n, method, seed, uncertainty_file=uncertainty_file,
                       scenario_dir=scenario_dir, model=model, chunk_size=chunk_size,
                       scheduler=scheduler, workers=workers, progress=progress)
    return write_results(ens, out, figures=figures), ens
