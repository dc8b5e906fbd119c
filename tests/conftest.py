"""Shared test set-up: a headless matplotlib and a per-session translation cache."""
import os

import matplotlib

matplotlib.use("Agg")


def pytest_configure(config):
    # Keep translations of test models out of the user's cache, but share them between
    # the test files of one run (and between xdist workers of that run).
    if not os.environ.get("SIM_CACHE_DIR"):
        root = os.path.join(str(config.rootpath), ".sim_cache")
        os.environ["SIM_CACHE_DIR"] = root
