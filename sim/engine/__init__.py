"""The engine room: load and cache a PySD translation, integrate it with SciPy's
``solve_ivp``, and the vectorised batch twin. It knows nothing of scenarios, targets or
figures.

- :mod:`sim.engine.load`: read a ``.mdl``/XMILE through PySD, cache the translation;
- :mod:`sim.engine.integrate`: :func:`simulate`, one run with breakpoints and events;
- :mod:`sim.engine.batch`: :func:`simulate_batch`, N parameter samples in one integration.
"""
from sim.engine.integrate import METHODS, Event, simulate
from sim.engine.load import LoadedModel, as_loaded, load_model

__all__ = ["METHODS", "Event", "LoadedModel", "as_loaded", "load_model", "simulate"]
