"""Project defaults, in the foundation room so every room can read them without importing a face.

Paths are relative to the working directory (the repository root for ``make``).
"""
DEFAULT_MODEL = "models/jingdezhen.mdl"
DEFAULT_SCENARIO_DIR = "scenarios"
DEFAULT_RESULTS_ROOT = "results"
#: Solver settings of a scenario run (:func:`sim.simulate` keywords); ``atol`` None = per-stock default.
ENGINE_DEFAULTS = {"method": "RK45", "rtol": 1e-6, "atol": None}
