"""Jingdezhen transition simulator: PySD models integrated with SciPy, scenarios, targets.

Data flows one way: model file -> :mod:`sim.model` -> :mod:`sim.engine` -> results ->
:mod:`sim.targets` (scorecard) and :mod:`sim.plots` (figures).
"""
__version__ = "0.1.0"

from .engine import Event, simulate  # noqa: E402
from .errors import ModelError, ParameterError, SimError, SimulationError  # noqa: E402
from .model import LoadedModel, load_model  # noqa: E402

__all__ = ["Event", "LoadedModel", "ModelError", "ParameterError", "SimError",
           "SimulationError", "load_model", "simulate"]
