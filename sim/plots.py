"""Figures in the house style, in Chinese, English or both: the public entry points.

Every function takes data (results DataFrames, the scorecard, target definitions) and
never runs the model. Implementation in :mod:`sim.figures`:

- :mod:`sim.figures.style`: palette (one fixed colour per scenario), sizes, caption, export;
- :mod:`sim.figures.labels`: the label table ``sim/labels.yaml``;
- :mod:`sim.figures.measures`: a target's measure as a path over time;
- :mod:`sim.figures.indicators`, ``dashboard``, ``panels``, ``history``: the figures;
- :mod:`sim.figures.figure_set`: the whole set, and rebuilding it from a results folder.
"""
from sim.figures.dashboard import plot_dashboard
from sim.figures.figure_set import compare_figure, regenerate, write_figure_set
from sim.figures.history import plot_model_vs_history
from sim.figures.indicators import plot_target_indicator
from sim.figures.labels import default_labels, read_labels
from sim.figures.panels import THEMES, plot_gdp_by_sector, plot_theme
from sim.figures.style import (FIXED_SCENARIO_COLOURS, FORMATS, STATUS_COLOURS, house_style,
                               save, scenario_colours)

__all__ = [
    "FIXED_SCENARIO_COLOURS", "FORMATS", "STATUS_COLOURS", "THEMES", "compare_figure",
    "default_labels", "house_style", "plot_dashboard", "plot_gdp_by_sector",
    "plot_model_vs_history", "plot_target_indicator", "plot_theme", "read_labels",
    "regenerate", "save", "scenario_colours", "write_figure_set",
]
