"""Provenance: results folders that are never overwritten, and their ``manifest.json``.

One manifest schema for every results folder (the main run, calibration, ensemble,
policy search); ``docs/design.md`` documents it. :func:`write_manifest` fills the common
keys (``schema``, ``kind``, ``name``, ``created_utc``, ``sim_version``, ``git``,
``versions``, ``outputs``); the caller gives ``model``, ``files`` and its own keys.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sim import __version__
from sim.errors import SimError

#: Version of the manifest layout; bump when a common key changes meaning.
MANIFEST_SCHEMA = 1
#: Packages whose versions every manifest records (import names).
PACKAGES = ("numpy", "scipy", "pandas", "xarray", "pysd", "yaml")
#: Keys :func:`write_manifest` sets; a caller's ``details`` may not use them.
COMMON_KEYS = ("schema", "kind", "name", "created_utc", "sim_version", "git", "versions", "model",
               "files", "outputs")


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def git_state(repo: str | os.PathLike | None = None) -> dict:
    """``{"commit": sha or None, "dirty": bool or None}``; dirty means tracked files changed."""
    repo = Path(repo) if repo is not None else Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=20, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def versions(extra: Iterable[str] = ()) -> dict:
    """Versions of Python, ``sim`` and the numerical packages a run depends on.

    ``extra``: more distribution names (e.g. ``"SALib"``), read from package metadata;
    a missing package is recorded as None, never an error.
    """
    out = {"python": platform.python_version(), "sim": __version__}
    for pkg in PACKAGES:
        try:
            out[pkg] = __import__(pkg).__version__
        except (ImportError, AttributeError):
            out[pkg] = None
    for pkg in extra:
        try:
            from importlib.metadata import version
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a version is information, never a failure
            out[pkg] = None
    return out


def jsonable(x):
    """``x`` with numpy scalars, paths and tuples made JSON-ready; non-finite floats become None."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, Path):
        return str(x)
    return x


def new_results_dir(root: str | os.PathLike, name: str, now: datetime | None = None) -> Path:
    """Create and return ``<root>/<UTC timestamp>-<name>``, adding ``-2``, ``-3``… if taken."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "run"
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = root / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise SimError(f"{root}: could not find a free results folder name for {stamp}-{safe}")


def refuse_existing(out) -> None:
    """Raise FileExistsError when ``out`` (a results folder to create) already exists."""
    if out is not None and Path(out).exists():
        raise FileExistsError(f"{out}: results folder already exists; results are never overwritten")


def make_results_dir(out, results_root: str | os.PathLike, name: str) -> Path:
    """Create and return the results folder: ``out`` if given (an existing one is an
    error; results are never overwritten), else ``new_results_dir(results_root, name)``."""
    if out is None:
        return new_results_dir(results_root, name)
    refuse_existing(out)
    out_dir = Path(out)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir()  # FileExistsError if it appeared meanwhile
    return out_dir


def netcdf_name(name: str) -> str:
    """A netCDF-safe variable name for a model variable ('/' is not allowed)."""
    return name.replace("/", " per ")


def file_hashes(paths: Iterable[str | os.PathLike], shown=str) -> dict:
    """``{shown(path): sha256}`` for each path (``shown`` turns a path into the recorded text)."""
    return {shown(p): sha256(p) for p in paths}


def write_manifest(folder: str | os.PathLike, kind: str, *, name: str | None = None,
                   model: Mapping | None = None, files: Mapping[str, Mapping[str, str]] | None = None,
                   extra_versions: Iterable[str] = (), **details) -> Path:
    """Write ``folder/manifest.json`` in the one manifest schema and return its path.

    ``kind``: ``"run"``, ``"calibration"``, ``"ensemble"``, ``"optimize"``, …;
    ``name``: default the folder's name; ``model``: ``{"path", "sha256", …}``;
    ``files``: the inputs by role, ``{role: {path: sha256}}``; ``details``: the kind's own
    keys (JSON-ready after :func:`jsonable`). ``outputs`` lists every file in the folder,
    ``manifest.json`` included, as sorted relative paths.
    """
    folder = Path(folder)
    clash = sorted(set(details) & set(COMMON_KEYS))
    if clash:
        raise ValueError(f"manifest details may not set common keys: {', '.join(clash)}")
    path = folder / "manifest.json"
    outputs = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} | {path.name}
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "kind": kind,
        "name": name if name is not None else folder.name,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sim_version": __version__,
        "git": git_state(),
        "versions": versions(extra_versions),
        "model": dict(model) if model is not None else None,
        "files": {role: dict(v) if v is not None else {} for role, v in (files or {}).items()},
        **details,
        "outputs": sorted(outputs),
    }
    path.write_text(json.dumps(jsonable(manifest), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def read_manifest(folder: str | os.PathLike) -> dict:
    """The ``manifest.json`` of a results folder as a dict."""
    return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
