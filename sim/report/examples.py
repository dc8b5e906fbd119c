"""Example figures from made-up data, for the docs (``python -m sim.report.examples``).

The data are smooth synthetic paths, not model results; every example's caption says so.
Real figures come from ``sim.run.run_all`` (``results/<run>/figures``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sim.report.dashboard import plot_dashboard
from sim.report.indicators import plot_target_indicator
from sim.report.labels import default_labels
from sim.report.panels import SECTORS, plot_gdp_by_sector
from sim.report.style import save

SCENARIOS = {
    "baseline": {"zh": "基准情景", "en": "Baseline"},
    "plan": {"zh": "规划方案", "en": "Plan"},
    "accelerated": {"zh": "加速转型", "en": "Accelerated"},
    "green_first": {"zh": "绿色优先", "en": "Green first"},
    "social_first": {"zh": "民生优先", "en": "Social first"},
    "no_transfers": {"zh": "无转移支付", "en": "No transfers"},
}
#: Made-up strength of each scenario's push from 2016 (0 = none).
PUSH = {"baseline": 0.0, "plan": 1.0, "accelerated": 1.6, "green_first": 1.1,
        "social_first": 0.9, "no_transfers": 0.4}


def example_results(years=np.arange(2010.0, 2031.0)) -> dict[str, pd.DataFrame]:
    """Synthetic results with the design's variable names (values in model units)."""
    t = years - 2010
    after = np.clip(years - 2015, 0, None)
    out = {}
    for sid, push in PUSH.items():
        cols = {}
        for j, (name, _, repl) in enumerate(SECTORS):
            base = [38, 25, 60, 150, 40, 20, 30, 15, 80][j]
            rate = (0.12 + 0.025 * push * (after > 0)) if repl else 0.06 - 0.01 * push * (after > 0)
            cols[name] = base * np.exp(np.cumsum(np.r_[0, rate[1:]]))
        df = pd.DataFrame(cols, index=years)
        gdp = df.sum(axis=1)
        df["GDP real"] = gdp
        df["replacement industry share"] = df[[n for n, _, r in SECTORS if r]].sum(axis=1) / gdp
        df["energy intensity"] = 0.9 * np.exp(-(0.03 + 0.01 * push * (after > 0)) * t)
        df["solid waste utilisation rate"] = np.clip(0.45 + 0.008 * t + 0.01 * push * after, 0, 1)
        df["urban pension coverage"] = np.clip(0.7 + 0.012 * t + 0.006 * push * after, 0, 1)
        out[sid] = df
    return out


def example_targets():
    """A few targets shaped like ``scenarios/targets.yaml`` entries (thresholds of the plan)."""
    from sim.policy.targets import Target

    def t(tid, zh, en, indicator, measure, comparator, threshold, unit, scale=1.0):
        return Target(base_id=tid, name={"zh": zh, "en": en}, horizon="first", year=2020.0,
                      start=2015.0, indicator=indicator, measure=measure,
                      comparator=comparator, threshold=threshold, unit=unit, clause="(三)",
                      basis="explicit", scale=scale)
    return [
        t("gdp_growth", "地区生产总值年均增长", "GDP average annual growth", "GDP real",
          "avg_growth", ">=", 14.0, "%/yr"),
        t("replacement_share", "接续替代产业比重", "Replacement industries' share",
          "replacement industry share", "value_in_year", ">=", 60.0, "%", 100.0),
        t("energy_intensity", "万元GDP能耗年均下降", "Energy intensity, annual change",
          "energy intensity", "avg_growth", "<=", -3.2, "%/yr"),
        t("waste_reuse", "工业固废综合利用率", "Solid-waste utilisation rate",
          "solid waste utilisation rate", "value_in_year", ">=", 60.0, "%", 100.0),
        t("pension_urban", "城镇职工养老保险覆盖率", "Urban employees' pension coverage",
          "urban pension coverage", "value_in_year", ">=", 90.0, "%", 100.0),
    ]


def example_figures() -> dict:
    """{file stem: Figure} of the docs' examples, captioned as synthetic data."""
    from sim.policy.targets import scorecard

    results = example_results()
    targets = example_targets()
    card = scorecard(results, targets)
    meta = {sid: {"name": name} for sid, name in SCENARIOS.items()}
    source = default_labels().text["example_source"]
    return {
        "example_dashboard_zh": plot_dashboard(card, targets, meta, lang="zh", source=source),
        "example_target_replacement_share_zh": plot_target_indicator(
            results, targets[1], card, meta, lang="zh", source=source),
        "example_gdp_by_sector_en": plot_gdp_by_sector(results, scenarios_meta=meta,
                                                       lang="en", source=source),
    }


def write_examples(docs_dir="docs", dpi: int = 150) -> list[Path]:
    """Write the example PNGs of the docs; return their paths."""
    out = []
    for stem, fig in example_figures().items():
        out += save(fig, Path(docs_dir) / stem, formats=("png",), dpi=dpi)
    return out


if __name__ == "__main__":  # pragma: no cover
    for path in write_examples(*sys.argv[1:2]):
        print(path)
