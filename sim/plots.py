"""Figures in the house style, in Chinese, English or both: the public entry points.

Every function takes data (results DataFrames, the scorecard, target definitions) and
never runs the model. Implementation in :mod:`sim.report`:

- :mod:`sim.report.style`: palette (one fixed colour per scenario), sizes, caption, export;
- :mod:`sim.report.labels`: the label table ``sim/labels.yaml``;
- :mod:`sim.report.measures`: a target's measure as a path over time;
- :mod:`sim.report.indicators`, ``dashboard``, ``panels``, ``history``: the figures;
- :mod:`sim.report.figure_set`: the whole set, and rebuilding it from a results folder.
"""
from sim.report.dashboard import plot_dashboard, plot_dashboards
from sim.report.figure_set import compare_figure, figure_files, figure_tasks, regenerate, write_figure_set
from sim.report.history import plot_model_vs_history
from sim.report.indicators import plot_target_indicator
from sim.report.labels import default_labels, read_labels
from sim.report.panels import THEMES, plot_gdp_by_sector, plot_theme
from sim.report.style import (FIXED_SCENARIO_COLOURS, FORMATS, STATUS_COLOURS, house_style,
                               save, scenario_colours)

__all__ = [
    "FIXED_SCENARIO_COLOURS", "FORMATS", "STATUS_COLOURS", "THEMES", "compare_figure", "figure_files",
    "figure_tasks",
    "default_labels", "house_style", "plot_dashboard", "plot_dashboards", "plot_gdp_by_sector",
    "plot_model_vs_history", "plot_target_indicator", "plot_theme", "read_labels",
    "regenerate", "save", "scenario_colours", "write_figure_set",
]
