"""Bad input, class *output and interruption*: an interrupted command leaves nothing
under its final name; ensemble workers die with their parent.

Every case failed on the code before issue 11: an interrupted run left a results folder
with its normal name and some of its files, and two worker processes outlived a killed
ensemble.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from sim.run import run_all

HERE = Path(__file__).parent
ROOT = HERE.parent
SCEN = HERE / "models" / "scenario" / "scenarios"
TINY = HERE / "models" / "scenario" / "tiny.mdl"


def test_interrupted_run_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    import sim.run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.run, "write_netcdf", interrupted)
    out = tmp_path / "results"
    with pytest.raises(KeyboardInterrupt):
        run_all(SCEN, TINY, out=out, figures=False)
    assert not out.exists()
    (left,) = tmp_path.iterdir()  # the partial folder is there, marked incomplete
    assert left.name == f"results.incomplete-{os.getpid()}"
    assert (left / "scorecard.csv").exists() is False and (left / "timeseries").is_dir()


def test_finished_run_has_its_final_name_and_an_atomic_manifest(tmp_path):
    out = run_all(SCEN, TINY, results_root=tmp_path, name="tiny", figures=False)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    assert ".incomplete" not in out.name
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["name"] == "tiny"
    assert not list(out.glob("*.tmp"))
    assert "manifest.json" in manifest["outputs"]


_WORKER_SCRIPT = """
import os, sys, time
import numpy as np
import sim.analysis.chunks as chunks

pid_dir = sys.argv[1]

def slow(task):
    open(os.path.join(pid_dir, str(os.getpid())), "w").close()
    time.sleep(120)
    return {}

chunks.run_chunk = slow  # the forked workers inherit this
tasks = [chunks.ChunkTask("m.mdl", {}, ("a",), np.zeros((1, 1)), ("x",), {}, i, "s") for i in range(4)]
chunks.execute(tasks, workers=2)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_ensemble_workers_die_with_their_parent(tmp_path, sig):
    script = tmp_path / "ens.py"
    script.write_text(_WORKER_SCRIPT, encoding="utf-8")
    pids = tmp_path / "pids"
    pids.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    parent = subprocess.Popen([sys.executable, str(script), str(pids)], env=env)
    try:
        deadline = time.time() + 120
        while len(list(pids.iterdir())) < 2 and time.time() < deadline:
            time.sleep(0.2)
        workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.time() + 10
        while any(_alive(w) for w in workers) and time.time() < deadline:
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers)
    finally:
        for p in pids.iterdir():
            try:
                os.kill(int(p.name), signal.SIGKILL)
            except ProcessLookupError:
                pass
        if parent.poll() is None:
            parent.kill()


def test_interrupted_simulate_output_leaves_no_file(tmp_path, monkeypatch):
    import pandas as pd

    from sim.cli import main

    def broken(self, path, *args, **kwargs):
        Path(path).write_text("time,sto", encoding="utf-8")  # half a file, then the interrupt
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    out = tmp_path / "o.csv"
    code = main(["simulate", str(HERE / "models" / "analytic" / "exponential_decay.mdl"), "-o", str(out)])
    assert code == 130
    assert not out.exists()
