"""The live policy explorer: sliders on the main levers, each move re-runs the model.

:class:`Explorer` builds one ipywidgets slider per lever (range and unit from the lever
registry ``scenarios/levers.yaml``, starting at the base scenario's value after its
policy start), and on every move

1. makes a what-if variant of the base scenario with the sliders' values, taking effect
   from the base scenario's ``policy_start`` as a scenario file would
   (:meth:`sim.analysis.whatif.Workspace.variant`; out-of-range values raise ValidationError),
2. runs it once per vantage, as the main job does (:meth:`Workspace.run_from_vantages`:
   the 2020 goals on the run seen from 2015, with the 2011–2015 calibration's constants
   and the levers from 2016; the 2030 goals on the run seen from 2020, sharing the real
   history to 2020, levers from 2021), with the main job's solver settings
   (:data:`sim.defaults.ENGINE_DEFAULTS`: RK45, ``rtol=1e-6``; a run costs about as much
   as at 1e-4, which misjudged the laid-off backlog's growth by 0.4 points a year),
   returning only the drawn variables and those the targets read,
3. judges each goal on the run of its vantage (:meth:`Workspace.judge`, the main job's
   :func:`sim.policy.vantage.vantage_scorecard`): the same verdicts as ``make run``,
4. redraws what changed: the explorer's line in each key-indicator panel, from the run
   seen from the latest vantage with the projection marked after it, as the main job's
   figures draw it (the reference scenarios as thin lines and the rest of the figure are
   drawn once and kept as a background bitmap; the whole figure is drawn again only when
   a line leaves its panel's y range), into a PNG shown by an ``ipywidgets.Image``, and
5. rebuilds the scorecard table (an ``ipywidgets.HTML``).

The explorer's runs skip the engine's crossing-time events (``year_reached`` comes from
the yearly values), which halves the run time. Labels (sliders, panels, table, legend)
follow ``lang``: a slider shows the lever's short name from the label table
(``sim/report/labels.yaml``), the registry's full description is its tooltip.

The sliders' values are therefore applied as the main job applies a scenario file's:
from 2016 in the run the 2020 goals are judged on, from 2021 in the run of the 2030 goals
(:meth:`Explorer.lever_timing`; scenarios/README.md, "Two vantage points"). A model
without a vantage constant has one run per move, judged on both horizons.

:meth:`Explorer.save` writes the current setting into a results folder: the setting as a
scenario file, the scorecard, one house-style goal dashboard per horizon and language,
and a manifest.

A slider sets a constant from the policy start; where the base scenario gives a lever as
a year → value table, the slider starts at the table's value in the policy-start year and
replaces the table by that constant.

:meth:`Explorer.update` does one move programmatically (headless tests, timing); the
notebook ``notebooks/06_live_explorer.ipynb`` displays :meth:`Explorer.widget`.
"""
from __future__ import annotations

import html
import io
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd
import PIL.Image
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.defaults import ENGINE_DEFAULTS
from sim.errors import suggest
from sim.provenance import sha256, write_manifest
from sim.report.fonts import register_cjk_font
from sim.report.style import mark_projection
from sim.report.tables import format_cell, html_table
from sim.plots import default_labels, plot_dashboard, save, scenario_colours
from sim.report.thresholds import goal_text
from sim.report.measures import as_figure_target
from sim.analysis.whatif import Workspace
from sim.policy.vantage import latest_vantage

#: Slider groups: {group key: levers (registry names)}; titles in GROUP_TITLES.
LEVER_GROUPS: dict[str, tuple[str, ...]] = {
    "investment": ("replacement investment share", "culture tourism investment weight",
                   "high tech ceramics investment weight", "auto aviation investment weight",
                   "biomed food investment weight", "modern services investment weight"),
    "retraining": ("retraining rate",),
    "energy": ("energy saving technology spending",),
    "circular": ("circular economy investment",),
    "transfers": ("central transfer", "provincial matching ratio"),
}
GROUP_TITLES = {
    "investment": {"en": "Investment allocation", "zh": "投资配置"},
    "retraining": {"en": "Retraining", "zh": "职业培训"},
    "energy": {"en": "Energy saving", "zh": "节能"},
    "circular": {"en": "Circular economy", "zh": "循环经济"},
    "transfers": {"en": "Transfers", "zh": "转移支付"},
}
#: Solver notes a looser tolerance (``rtol=1e-4``) produces and that change no drawn
#: number (a stock of a few persons whose relative accuracy is not controlled).
QUIET_NOTES = r".*falls below atol.*"
#: Model variables drawn, one panel each (names as in models/jingdezhen.mdl).
KEY_INDICATORS: tuple[str, ...] = ("GDP real", "replacement industry share", "energy intensity",
                                   "solid waste utilisation rate", "registered unemployment rate",
                                   "laid off workers")
EXPLORER_ID = "explorer"
EXPLORER_COLOUR = "#000000"
SLIDER_STEPS = 100          # slider resolution: (high - low) / SLIDER_STEPS
FIGSIZE = (11.0, 5.6)       # inches
DPI = 80                    # PNG resolution of the live figure (dots per inch)
YEAR_TICKS = (2010, 2015, 2020, 2025, 2030)
SETTING_ID = "explorer_setting"   # the saved setting's scenario id (and file name)
SAVE_DPI = 150                     # saved dashboards: sharp on screen, small files
SAVE_SOURCE = {"zh": "jdz-sim 实时探索器（与主运行同一口径：2020年目标自2015年视角、2030年目标自2020年视角）",
               "en": "jdz-sim live explorer (judged as the main run: 2020 goals seen from 2015, 2030 goals from 2020)"}
TEXT = {
    "met": {"en": "met", "zh": "达成"}, "missed": {"en": "missed", "zh": "未达成"},
    "target": {"en": "Target", "zh": "目标"}, "goal": {"en": "Goal", "zh": "目标值"},
    "year": {"en": "Year", "zh": "年份"},
    "explorer": {"en": "Your setting", "zh": "滑块设置"},
    "status": {"en": "{n_met}/{n} goals met · answered in {total:.2f} s",
               "zh": "达成 {n_met}/{n} 项目标 · 用时 {total:.2f} 秒"},
    "timing": {"en": "{years} goals: sliders from {start:g} (seen from {vantage:g})",
               "zh": "{years}年目标：滑块自{start:g}年起生效（{vantage:g}年视角）"},
    "timing_one": {"en": "{years} goals: sliders from {start:g}", "zh": "{years}年目标：滑块自{start:g}年起生效"},
}


class Explorer:
    """Sliders on the main levers, the key indicators and the scorecard, kept in step.

    ``workspace``: a :class:`sim.analysis.whatif.Workspace` (default: the project's scenarios and
    model); ``base``: the scenario the sliders start from and adjust; ``references``:
    scenarios drawn and judged for comparison (run once per vantage); ``levers``: {group:
    lever names}; ``indicators``: model variables to draw; ``rtol``: the solver tolerance
    of every run (default: the main job's); ``lang``: ``"en"`` or ``"zh"`` for labels.
    """

    def __init__(self, workspace: Workspace | None = None, base: str = "plan",
                 references: Sequence[str] = ("baseline", "plan"),
                 levers: Mapping[str, Sequence[str]] = LEVER_GROUPS,
                 indicators: Sequence[str] = KEY_INDICATORS, rtol: float = ENGINE_DEFAULTS["rtol"],
                 lang: str = "en"):
        if lang not in ("en", "zh"):
            raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
        self.ws = workspace or Workspace()
        self.base, self.rtol, self.lang = base, float(rtol), lang
        self.indicators = list(indicators)
        self.groups = {g: list(names) for g, names in levers.items()}
        self.labels = default_labels()
        self.start_year = self.ws.policy_start(base) or self.ws.time_span[0]
        self.vantages = self.ws.vantages()          # {vantage year or None: its targets}
        self.latest = latest_vantage(self.vantages)
        # the reference scenarios run from every vantage (every column, for notebooks);
        # drawn: the runs seen from the latest vantage, as in the main job's figures
        self.reference_runs = {v: {sid: self._run(sid, vantage=v) for sid in references}
                               for v in self.vantages}
        self.references = self.reference_runs[self.latest]
        self.reference_card = self.ws.judge(self.reference_runs)
        self.colours = scenario_colours(list(self.references))
        self.sliders = {name: self._slider(name) for names in self.groups.values() for name in names}
        self.image = widgets.Image(format="png")
        self.table = widgets.HTML()
        self.status = widgets.HTML()
        self.figure, self.axes, self.lines = self._draw_axes()
        self.canvas = FigureCanvasAgg(self.figure)
        self._background = None
        self.full_redraws = 0           # draws of the whole figure (first one, range changes)
        self.columns = list(dict.fromkeys([*self.indicators, *self.ws.targets.indicators()]))
        self.results: pd.DataFrame | None = None      # the move's run seen from the latest vantage
        self.runs: dict = {}                           # the move's runs {vantage: DataFrame}
        self.scenario = None            # the what-if scenario of the last move
        self.card: pd.DataFrame | None = None
        self.timings: dict[str, float] = {}
        self._busy = False
        for slider in self.sliders.values():
            slider.observe(self._on_slider, names="value")
        self.update()

    # ------------------------------------------------------------------ widgets
    def _run(self, scenario, **kw) -> pd.DataFrame:
        """One run at the explorer's tolerance, without crossing-time events (``vantage=``:
        seen from that year, as in the main job)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=QUIET_NOTES, category=UserWarning)
            return self.ws.run(scenario, rtol=self.rtol, events=False, **kw)

    def _text(self, key: str, **fmt) -> str:
        return TEXT[key][self.lang].format(**fmt)

    def _slider(self, name: str) -> widgets.FloatSlider:
        lever = self.ws.registry[name]
        value = self.ws.lever_value(self.base, name, self.start_year)
        # The lever's short name in the label table (as in the figures), the registry's
        # long description in the tooltip. Units as displayed elsewhere ("Dmnl" shows nothing).
        label = self.labels.name(name, self.lang)
        unit = self.labels.target_unit_text(lever.unit, self.lang)
        tooltip = f"{lever.en} ({name})" if self.lang == "en" else f"{lever.zh}（{name}）"
        return widgets.FloatSlider(
            value=value, min=lever.low, max=lever.high, step=(lever.high - lever.low) / SLIDER_STEPS,
            description=f"{label}（{unit}）" if unit and self.lang == "zh" else
            (f"{label} ({unit})" if unit else label), tooltip=tooltip,
            continuous_update=False, readout_format=".3g",
            style={"description_width": "260px"}, layout=widgets.Layout(width="560px"))

    def values(self) -> dict[str, float]:
        """The sliders' current values ``{lever name: value in the registry's unit}``."""
        return {name: float(s.value) for name, s in self.sliders.items()}

    def widget(self) -> widgets.Widget:
        """Sliders by group, the status line, the indicator figure and the scorecard."""
        boxes = []
        for group, names in self.groups.items():
            title = widgets.HTML(f"<b>{html.escape(GROUP_TITLES.get(group, {}).get(self.lang, group))}</b>")
            boxes.append(widgets.VBox([title, *(self.sliders[n] for n in names)]))
        timing = widgets.HTML("<i>" + html.escape(" · ".join(self.timing_text())) + "</i>")
        return widgets.VBox([widgets.VBox(boxes), timing, self.status, self.image, self.table])

    def _on_slider(self, change) -> None:
        if not self._busy:
            self.update()

    # ------------------------------------------------------------------ one move
    def update(self, changes: Mapping[str, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Set some sliders (``{lever: value}``), re-run, redraw; return ``(results, scorecard)``.

        The scorecard holds the reference scenarios and the explorer's setting (scenario id
        ``"explorer"``), each goal judged on the run of its vantage as in the main job;
        ``results`` is the run seen from the latest vantage (the one drawn), ``self.runs``
        holds every vantage's. Values are checked against the registry before any slider moves.
        ``self.timings`` records the wall-clock seconds spent running (``run``), redrawing
        figure and table (``redraw``), both (``total``), and this process's CPU seconds for
        the move (``cpu``; what the move costs when the machine is not shared).
        """
        unknown = [k for k in (changes or {}) if k not in self.sliders]
        if unknown:
            raise KeyError(f"no slider for lever {unknown[0]!r}" + suggest(unknown[0], self.sliders))
        values = {**self.values(), **{k: float(v) for k, v in (changes or {}).items()}}
        variant = self.ws.variant(self.base, values, id=EXPLORER_ID,
                                  name={"en": f"{self.base} + sliders", "zh": f"{self.base} + 滑块"})
        t0, cpu0 = time.perf_counter(), time.process_time()
        self._busy = True
        try:
            for name, value in (changes or {}).items():
                self.sliders[name].value = float(value)
        finally:
            self._busy = False
        runs = {v: self._run(variant, vantage=v, return_columns=self.columns) for v in self.vantages}
        results = runs[self.latest]
        self.runs, self.results, self.scenario = runs, results, variant
        self.card = pd.concat([self.reference_card,
                               self.ws.judge({v: {EXPLORER_ID: df} for v, df in runs.items()})],
                              ignore_index=True)
        t1 = time.perf_counter()
        self._redraw()
        self.table.value = self.scorecard_html()
        t2 = time.perf_counter()
        self.timings = {"run": t1 - t0, "redraw": t2 - t1, "total": t2 - t0,
                        "cpu": time.process_time() - cpu0}
        mine = self.card[self.card["scenario"] == EXPLORER_ID]
        self.status.value = self._text("status", n_met=int(mine["passed"].sum()), n=len(mine),
                                       total=self.timings["run"] + self.timings["redraw"])
        return results, self.card

    # ------------------------------------------------------------------ drawing
    def _font(self) -> dict:
        # the CJK font, DejaVu Sans for glyphs it lacks (only fonts that exist: no findfont noise)
        return {"fontfamily": [register_cjk_font(), "DejaVu Sans"]} if self.lang == "zh" else {}

    def _draw_axes(self):
        fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        n = len(self.indicators)
        ncols = min(3, n)
        axes = fig.subplots((n + ncols - 1) // ncols, ncols, squeeze=False).ravel()
        font = self._font()
        lines = {}
        for ax, var in zip(axes, self.indicators):
            scale = self.labels.scale(var)
            for sid, df in self.references.items():
                ax.plot(df.index, df[var] * scale, color=self.colours[sid], lw=1.2, alpha=0.8,
                        label=self._scenario_name(sid))
            mark_projection(ax, self.projection_start(), self.labels, self.lang)
            (lines[var],) = ax.plot([], [], color=EXPLORER_COLOUR, lw=2.2, label=self._scenario_name(EXPLORER_ID))
            self._mark_goals(ax, var, scale)
            ax.set_title(self.labels.name(var, self.lang), fontsize=10, **font)
            ax.set_ylabel(self.labels.unit(var, self.lang), fontsize=8, **font)
            ax.set_xticks(YEAR_TICKS, [f"{y:d}" for y in YEAR_TICKS])
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
        for ax in axes[n:]:
            ax.set_visible(False)
        axes[0].legend(fontsize=8, prop={"family": font["fontfamily"]} if font else None)
        fig.draw_without_rendering()      # lay out once (constrained), then freeze the layout:
        fig.set_layout_engine("none")     # each redraw skips the costly layout pass
        for ax in axes[:n]:               # fixed limits: a move redraws only the black lines
            ax.set_autoscale_on(False)
        return fig, axes[:n], lines

    def projection_start(self) -> float:
        """First projected year of the drawn runs: the year after the latest vantage (as in
        the main job's figures), or the base's policy start for a model without vantages."""
        return self.start_year if self.latest is None else float(self.latest) + 1

    # ------------------------------------------------------------------ lever timing
    def lever_timing(self) -> pd.DataFrame:
        """When the sliders act in each run, as the main job applies a scenario file: one row
        per vantage (index), ``years`` (the horizons judged on that run), ``levers_from``
        (first year the sliders act: the policy start, or the year after the vantage if later)."""
        rows = []
        for v, targets in self.vantages.items():
            start = self.start_year if v is None else max(self.start_year, float(v) + 1)
            rows.append({"vantage": v, "years": "/".join(f"{y:g}" for y in sorted({t.year for t in targets})),
                         "levers_from": start})
        return pd.DataFrame(rows).set_index("vantage")

    def timing_text(self, lang: str | None = None) -> list[str]:
        """:meth:`lever_timing` in words, one phrase per vantage (``lang``: default the explorer's)."""
        lang = lang or self.lang
        return [TEXT["timing_one" if v is None else "timing"][lang].format(
                    years=row.years, start=row.levers_from, vantage=v)
                for v, row in self.lever_timing().iterrows()]

    def applied(self, lever: str, years: Sequence[float]) -> pd.DataFrame:
        """The setting's ``lever`` as each run applies it: rows ``years``, one column per
        vantage (registry units; :meth:`sim.analysis.whatif.Workspace.lever_value`)."""
        scenario = self.scenario if self.scenario is not None else self.base
        return pd.DataFrame({v: [self.ws.lever_value(scenario, lever, y, v) for y in years]
                             for v in self.vantages}, index=pd.Index(list(years), name="year"))

    def _scenario_name(self, sid: str) -> str:
        if sid == EXPLORER_ID:
            return self._text("explorer")
        meta = self.ws.meta().get(sid, {})
        return (meta.get("name") or {}).get(self.lang, sid)

    def _mark_goals(self, ax, var: str, scale: float) -> None:
        """A cross at each level goal (``value_in_year``) on this variable, in display units,
        for the goals judged on the drawn runs (those of the latest vantage): an earlier
        vantage's goal (2020, judged on the run seen from 2015) is not marked beside a line
        that is not the one it is judged on; the scorecard holds its verdict."""
        drawn = {t.id for t in self.vantages[self.latest]}
        for t in self.ws.targets:
            if t.id in drawn and t.indicator == var and t.measure == "value_in_year" and t.denominator is None:
                ax.plot([t.year], [t.threshold / t.scale * scale], marker="x", ms=8, mew=2,
                        color="#c0392b", zorder=5)

    def _draw_background(self) -> None:
        """Full draw of everything but the explorer's lines; keep it for :meth:`_redraw`."""
        for line in self.lines.values():
            line.set_visible(False)
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        for line in self.lines.values():
            line.set_visible(True)

    def _fit_limits(self) -> bool:
        """Widen a panel's y range when the explorer's line leaves it (with a 5 % margin);
        True if any panel changed (then the background is drawn again)."""
        changed = False
        for ax, var in zip(self.axes, self.indicators):
            y = self.plotted(var)
            y = y[np.isfinite(y)]
            if not y.size:
                continue
            lo, hi = ax.get_ylim()
            if y.min() < lo or y.max() > hi:
                data = [y] + [ln.get_ydata() for ln in ax.get_lines() if ln is not self.lines[var]]
                both = np.concatenate([np.asarray(d, float).ravel() for d in data])
                both = both[np.isfinite(both)]
                pad = 0.05 * (both.max() - both.min() or 1.0)
                ax.set_ylim(min(lo, both.min() - pad), max(hi, both.max() + pad))
                changed = True
        return changed

    def _redraw(self) -> None:
        """Only what a move changes: the explorer's line in each panel, drawn over the kept
        background (blitting); the whole figure only when a line leaves its panel's range."""
        for var in self.indicators:
            scale = self.labels.scale(var)
            self.lines[var].set_data(self.results.index.to_numpy(float),
                                     self.results[var].to_numpy(float) * scale)
        if self._fit_limits() or getattr(self, "_background", None) is None:
            self._draw_background()
            self.full_redraws += 1
        self.canvas.restore_region(self._background)
        for ax, var in zip(self.axes, self.indicators):
            ax.draw_artist(self.lines[var])
        rgba = PIL.Image.frombuffer("RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba(),
                                    "raw", "RGBA", 0, 1)
        buf = io.BytesIO()
        rgba.convert("RGB").save(buf, format="png", compress_level=1)  # fast compression
        self.image.value = buf.getvalue()

    def plotted(self, variable: str) -> np.ndarray:
        """The explorer line's y data in panel ``variable`` (display units)."""
        return np.asarray(self.lines[variable].get_ydata(), dtype=float)

    # ------------------------------------------------------------------ goals
    def goals(self, lang: str | None = None) -> pd.DataFrame:
        """The scorecard, one row per goal (index: target id, in the targets file's order):
        ``goal`` (name and year), ``aim`` (the goal in words, as on the dashboards), then
        per scenario its measured ``value`` (in the goal's unit) and ``met``; the
        explorer's setting is the scenario ``"explorer"``. Labels in ``lang`` (default:
        the explorer's)."""
        lang = lang or self.lang
        wide = self.card.pivot(index="target", columns="scenario", values="value")
        met = self.card.pivot(index="target", columns="scenario", values="passed").astype(bool)
        ids = list(dict.fromkeys(self.card["scenario"]))
        order = [t.id for t in self.ws.targets]
        out = pd.DataFrame({"goal": [f"{t.name.get(lang, t.id)} ({t.year:g})" for t in self.ws.targets],
                            "aim": [goal_text(as_figure_target(t), lang, labels=self.labels) for t in self.ws.targets]},
                           index=pd.Index(order, name="target"))
        for sid in ids:
            out[sid] = wide.loc[order, sid]
            out[f"{sid} met"] = met.loc[order, sid]
        return out

    # ------------------------------------------------------------------ saving
    def setting(self) -> dict[str, float]:
        """The sliders that differ from the base scenario (``{lever: value}``, registry units)."""
        return {name: value for name, value in self.values().items()
                if not np.isclose(value, self.ws.lever_value(self.base, name, self.start_year),
                                  rtol=0, atol=1e-12)}

    def scenario_yaml(self, sid: str = SETTING_ID) -> str:
        """The current setting as a scenario file (``scenarios/<sid>.yaml``): it extends the
        base scenario and sets the levers that differ, from the base's policy start."""
        moved = self.setting()
        listing = {"zh": "、".join(f"{self.labels.name(n, 'zh')} {v:.3g}" for n, v in moved.items()) or "无",
                   "en": ", ".join(f"{self.labels.name(n, 'en')} {v:.3g}" for n, v in moved.items()) or "none"}
        data = {"id": sid,
                "name": {"zh": f"{self._scenario_meta_name(self.base, 'zh')} + 滑块设置",
                         "en": f"{self._scenario_meta_name(self.base, 'en')} + explorer setting"},
                "description": {"zh": f"实时探索器中的设置：{listing['zh']}（{'；'.join(self.timing_text('zh'))}）。",
                                "en": f"Setting chosen in the live explorer: {listing['en']} "
                                      f"({'; '.join(self.timing_text('en'))})."},
                "extends": self.base,
                "levers": {n: round(float(v), 6) for n, v in moved.items()}}
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)

    def save(self, folder, langs: Sequence[str] = ("zh", "en"), formats: Sequence[str] = ("png",),
             dpi: int = SAVE_DPI) -> list[Path]:
        """Write the current setting into ``folder`` (which must exist; use a new one, e.g.
        :func:`sim.provenance.new_results_dir`): ``scenario/explorer_setting.yaml``,
        ``scorecard.csv`` (reference scenarios and the setting), ``levers.csv`` (every slider,
        the base's value and the setting's), ``dashboard_<year>_<lang>.<fmt>`` per horizon
        (house style, 16:9) and ``manifest.json``. Returns the files written."""
        folder = Path(folder)
        written = []
        (folder / "scenario").mkdir(exist_ok=True)
        yaml_path = folder / "scenario" / f"{SETTING_ID}.yaml"
        yaml_path.write_text(self.scenario_yaml(), encoding="utf-8")
        card = self.card.assign(scenario=self.card["scenario"].replace(EXPLORER_ID, SETTING_ID))
        card.to_csv(folder / "scorecard.csv", index=False)
        levers = pd.DataFrame([{"lever": n, "zh": self.labels.name(n, "zh"), "en": self.labels.name(n, "en"),
                                "unit": self.ws.registry[n].unit, self.base: self.ws.lever_value(self.base, n, self.start_year),
                                SETTING_ID: v} for n, v in self.values().items()])
        levers.to_csv(folder / "levers.csv", index=False)
        written += [yaml_path, folder / "scorecard.csv", folder / "levers.csv"]
        ids = list(dict.fromkeys(card["scenario"]))
        meta = {**self.ws.meta(), SETTING_ID: {"name": {"zh": self._text_in("explorer", "zh"),
                                                        "en": self._text_in("explorer", "en")}}}
        colours = scenario_colours(ids)
        for year in sorted({t.year for t in self.ws.targets}):
            for lang in langs:
                fig = plot_dashboard(card, list(self.ws.targets), meta, lang=lang, scenario_ids=ids,
                                     colours=colours, horizon=year, source=SAVE_SOURCE)
                written += save(fig, folder / f"dashboard_{year:g}_{lang}", formats=formats, dpi=dpi)
        registry_path = self.ws.study.registry_path
        write_manifest(folder, "explorer",
                       model={"path": str(self.ws.model_path),
                              "sha256": getattr(self.ws.loaded, "sha256", None) or sha256(self.ws.model_path)},
                       files={"scenarios": {str(self.ws.scenarios[s].path): sha256(self.ws.scenarios[s].path)
                                            for s in ids if s in self.ws.scenarios},
                              "registry": {str(registry_path): sha256(registry_path)},
                              "targets": {str(self.ws.study.targets_path): sha256(self.ws.study.targets_path)}},
                       base=self.base, policy_start=self.start_year, setting=self.setting(),
                       vantages={("none" if v is None else f"{v:g}"): {
                           "history_end_year": v, "levers_from": row.levers_from,
                           "targets": [t.id for t in self.vantages[v]]}
                           for v, row in self.lever_timing().iterrows()},
                       engine={"rtol": self.rtol, "events": False})
        return written + [folder / "manifest.json"]

    def _text_in(self, key: str, lang: str) -> str:
        return TEXT[key][lang]

    def _scenario_meta_name(self, sid: str, lang: str) -> str:
        return (self.ws.meta().get(sid, {}).get("name") or {}).get(lang, sid)

    # ------------------------------------------------------------------ scorecard
    def scorecard_html(self) -> str:
        """The scorecard as an HTML table: one row per target, one value column per scenario."""
        card = self.card
        ids = list(dict.fromkeys(card["scenario"]))
        wide = card.pivot(index="target", columns="scenario", values="value")
        passed = card.pivot(index="target", columns="scenario", values="passed")
        header = [self._text("target"), self._text("goal"), *(self._scenario_name(s) for s in ids)]
        rows, styles, titles = [], [], []
        for t in self.ws.targets:
            row = [f"{t.name.get(self.lang, t.id)} ({t.year:g})",
                   goal_text(as_figure_target(t), self.lang, nbsp=True, labels=self.labels)]
            style, title = [None, None], [None, None]
            for s in ids:
                ok = bool(passed.loc[t.id, s])
                row.append(format_cell(wide.loc[t.id, s], 3))
                style.append(f"background:{'#d5f5e3' if ok else '#fadbd8'};"
                             f"font-weight:{'bold' if s == EXPLORER_ID else 'normal'};text-align:right")
                title.append(self._text("met" if ok else "missed"))
            rows.append(row)
            styles.append(style)
            titles.append(title)
        return html_table(header, rows, styles=styles, titles=titles,
                          style="font-size:12px;border-collapse:collapse")
