"""Moved to :mod:`sim.engine.batch`; this name stays for existing notebooks and scripts."""
from sim.engine.batch import *  # noqa: F401,F403
from sim.engine.batch import simulate_batch  # noqa: F401
