"""Results folders and the one manifest schema (sim.provenance)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import numpy as np
import pytest

import sim
from sim.provenance import (COMMON_KEYS, final_path, jsonable, make_results_dir, new_results_dir,
                            write_manifest)


def test_manifest_has_the_common_keys_and_lists_itself(tmp_path):
    folder = make_results_dir(None, tmp_path, "demo run")
    (folder / "sub").mkdir()
    (folder / "sub" / "a.csv").write_text("x\n1\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: demo\n")
    path = write_manifest(folder, "calibration", model={"path": "m.mdl", "sha256": "0" * 64},
                          files={"spec": {str(spec): hashlib.sha256(spec.read_bytes()).hexdigest()}},
                          figures=["f.png"], value=np.float64(np.nan), count=np.int64(3))
    m = json.loads(path.read_text(encoding="utf-8"))
    assert list(m)[:8] == ["schema", "kind", "name", "created_utc", "sim_version", "git", "versions", "model"]
    assert set(COMMON_KEYS) <= set(m) and list(m)[-1] == "outputs"
    # the folder is the staging folder; the manifest carries the final name
    assert m["kind"] == "calibration" and m["name"] == final_path(folder).name
    assert m["name"].endswith("-demo_run") and m["sim_version"] == sim.__version__
    assert m["outputs"] == ["manifest.json", "sub/a.csv"]
    assert m["value"] is None and m["count"] == 3 and m["figures"] == ["f.png"]
    assert list(m["files"]["spec"].values()) == [hashlib.sha256(b"name: demo\n").hexdigest()]
    created = datetime.fromisoformat(m["created_utc"])
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 600
    assert {"python", "numpy", "scipy", "pandas", "pysd"} <= set(m["versions"])


def test_a_kind_cannot_overwrite_a_common_key(tmp_path):
    with pytest.raises(ValueError, match="outputs"):
        write_manifest(tmp_path, "run", outputs=["x"])
    assert not (tmp_path / "manifest.json").exists()


def test_results_folders_are_never_reused(tmp_path):
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    first = new_results_dir(tmp_path, "a/b c", now=now)
    second = new_results_dir(tmp_path, "a/b c", now=now)
    assert first.name == "20260102T030405Z-a_b_c" and second.name == first.name + "-2"
    with pytest.raises(FileExistsError, match="never overwritten"):
        make_results_dir(first, tmp_path, "x")


def test_jsonable_keeps_structure_and_drops_non_finite_numbers(tmp_path):
    assert jsonable({1: (np.float32(0.5), np.inf, np.bool_(True), tmp_path)}) == \
        {"1": [0.5, None, True, str(tmp_path)]}
