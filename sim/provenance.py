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
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sim import __version__
from sim.errors import SimError, UsageError

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


#: Suffix of a results folder being written: ``<final name>.incomplete-<pid>``. It is
#: renamed to its final name when the command finishes, so an interrupted run leaves
#: nothing under the final name, only a folder marked incomplete.
INCOMPLETE = ".incomplete-"


def _free_name(root: Path, name: str, now: datetime | None = None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "run"
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 10_000):
        path = root / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
        if not path.exists() and not any(root.glob(path.name + INCOMPLETE + "*")):
            return path
    raise SimError(f"{root}: could not find a free results folder name for {stamp}-{safe}")


def new_results_dir(root: str | os.PathLike, name: str, now: datetime | None = None) -> Path:
    """Create and return ``<root>/<UTC timestamp>-<name>``, adding ``-2``, ``-3``… if taken
    (a folder created at once, for callers that do not stage; see :func:`make_results_dir`)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        path = _free_name(root, name, now)
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise SimError(f"{root}: could not find a free results folder name for {name}")


def _writable_ancestor(path: Path) -> tuple[Path, OSError | None]:
    """The nearest existing ancestor of ``path`` and the error creating something in it."""
    anc = path.absolute().parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    try:
        probe = Path(tempfile.mkdtemp(prefix=".sim-write-check-", dir=anc))
        probe.rmdir()
        return anc, None
    except OSError as err:
        return anc, err


def check_output(out, option: str = "--out", *, kind: str = "results folder") -> None:
    """Before any work: ``out`` must not exist and must be creatable (its nearest existing
    parent writable). Raises :class:`FileExistsError` or :class:`~sim.errors.UsageError`
    naming the option and the fix."""
    if out is None:
        return
    path = Path(out)
    if path.exists() or path.is_symlink():
        raise FileExistsError(f"{option} {out}: {kind} already exists; results are never "
                              "overwritten: choose a new name")
    anc, err = _writable_ancestor(path)
    if err is not None or not anc.is_dir():
        why = err.strerror if err is not None and err.strerror else (err or "not a folder")
        raise UsageError(f"{option} {out}: cannot be created ({anc}: {why}); choose a location "
                         "you can write to")


def refuse_existing(out, results_root: str | os.PathLike | None = None) -> None:
    """Raise before any work when ``out`` (a results folder to create) exists or cannot be
    created, or, without ``out``, when no folder can be created under ``results_root``
    (see :func:`check_output`)."""
    if out is None and results_root is not None:
        root = Path(results_root)
        probe = root / ".sim-probe" if root.is_dir() else root
        check_output(probe, f"results folder (default, under {root})")
    check_output(out)


def make_results_dir(out, results_root: str | os.PathLike, name: str) -> Path:
    """Create and return the STAGING folder of a results folder; call
    :func:`finish_results_dir` on it when everything is written.

    The final folder is ``out`` if given (an existing one is an error; results are never
    overwritten), else ``<results_root>/<UTC timestamp>-<name>``. Files are written into
    the sibling ``<final>.incomplete-<pid>`` and renamed into place at the end.
    """
    if out is None:
        root = Path(results_root)
        final = _free_name(root, name) if root.is_dir() else root / name
        check_output(final, f"results folder (default, under {root})")
        root.mkdir(parents=True, exist_ok=True)
        final = _free_name(root, name)
    else:
        check_output(out)
        final = Path(out)
        final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f"{final.name}{INCOMPLETE}{os.getpid()}"
    staging.mkdir()
    return staging


def final_path(folder: str | os.PathLike) -> Path:
    """The final name of a (staging) results folder."""
    folder = Path(folder)
    head, sep, tail = folder.name.rpartition(INCOMPLETE)
    return folder.with_name(head) if sep and tail.isdigit() else folder


def finish_results_dir(folder: str | os.PathLike, *, explicit: bool = False) -> Path:
    """Rename a staging folder to its final name and return it (a no-op for a folder that
    is not staged). When the final name was taken meanwhile: an explicit ``--out`` is an
    error (the staged folder stays, marked incomplete); a default name gets ``-2``…"""
    folder = Path(folder)
    final = final_path(folder)
    if final == folder:
        return folder
    if final.exists():
        if explicit:
            raise FileExistsError(f"{final}: appeared while this run was writing; its results "
                                  f"are in {folder}")
        m = re.match(r"(\d{8}T\d{6}Z)-(.*)$", final.name)
        final = _free_name(final.parent, m.group(2) if m else final.name)
    os.rename(folder, final)
    return final


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
        "name": name if name is not None else final_path(folder).name,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sim_version": __version__,
        "git": git_state(),
        "versions": versions(extra_versions),
        "model": dict(model) if model is not None else None,
        "files": {role: dict(v) if v is not None else {} for role, v in (files or {}).items()},
        **details,
        "outputs": sorted(outputs),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(jsonable(manifest), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a manifest
    return path


def read_manifest(folder: str | os.PathLike) -> dict:
    """The ``manifest.json`` of a results folder as a dict."""
    return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
