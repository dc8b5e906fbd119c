"""Moved to :mod:`sim.engine.load`; this name stays for existing notebooks and scripts."""
from sim.engine.load import *  # noqa: F401,F403
from sim.engine.load import LoadedModel, as_loaded, load_model  # noqa: F401
