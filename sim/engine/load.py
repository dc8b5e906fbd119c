"""Load a Vensim (or XMILE) model through PySD, with a translation cache.

PySD translates a ``.mdl`` file into a Python module; translation takes seconds, so the
translated module is cached under a key made of the model file's SHA-256 and the PySD
version. Editing the model file changes the key and triggers a new translation.

Data files the model reads (``GET XLS ...``, ``GET DIRECT ...``: any quoted name in the
model text that is a file inside the model's folder) are copied next to the translation,
at the same relative path, and their hashes are part of the key. Names that lead out of
the model's folder are not followed.

The cache lives in ``$SIM_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/jdz-sim`` or
``~/.cache/jdz-sim``. Each translation is written to a temporary folder and renamed into
place, so parallel test workers never read a half-written module.

A model file is untrusted text: it is translated through :mod:`sim.engine.untrusted`,
which refuses or neutralises everything PySD would paste into Python unescaped, and
every translated module (new or cached) is checked before it is imported.

A :class:`LoadedModel` is a read-only handle: :meth:`LoadedModel.fresh` returns a new
PySD model object for each run, so no run can leave parameters or run settings behind
on the handle (PySD's ``run()`` keeps both on the model object).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pysd

from sim.engine import untrusted
from sim.errors import ModelError

VENSIM_SUFFIXES = {".mdl"}
XMILE_SUFFIXES = {".xmile", ".xml", ".stmx", ".itmx"}


def cache_dir() -> Path:
    """Folder that holds translated models (created on demand)."""
    if os.environ.get("SIM_CACHE_DIR"):
        return Path(os.environ["SIM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "jdz-sim"


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class LoadedModel:
    """A translated model, ready to be run any number of times.

    Attributes
    ----------
    path: the model file (``.mdl`` or XMILE).
    sha256: hash of the model file's bytes when it was loaded.
    py_file: the cached PySD translation.
    doc: PySD's documentation table (Real Name, Py Name, Units, Limits, Type, Subtype,
        Comment), one row per model element.
    tracker: parameters already set on a user's PySD model that this handle wraps;
        re-applied to every fresh copy.
    """

    path: Path
    sha256: str
    py_file: Path
    doc: pd.DataFrame = field(repr=False, compare=False)
    tracker: dict = field(default_factory=dict, repr=False, compare=False)

    def fresh(self) -> pysd.py_backend.model.Model:
        """A new, uninitialised PySD model object from the cached translation."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pysd.load(str(self.py_file), initialize=False)
            if self.tracker:
                model.set_components(dict(self.tracker))
        return model

    def control(self) -> dict[str, float]:
        """The model's control values: ``initial_time``, ``final_time``, ``saveper``,
        ``time_step`` (years)."""
        m = self.fresh()
        m.components._init_outer_references({"scope": m, "time": m.time})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {k: float(getattr(m.time, k)()) for k in
                    ("initial_time", "final_time", "saveper", "time_step")}

    # -- what the model contains ------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.stem

    def names(self) -> list[str]:
        """Every element's name as written in the model file."""
        return list(self.doc["Real Name"])

    def stocks(self) -> list[str]:
        """Names of the stocks (INTEG elements)."""
        d = self.doc
        return list(d.loc[d["Type"].eq("Stateful") & d["Subtype"].astype(str).str.contains("Integ"),
                          "Real Name"])

    def constants(self) -> list[str]:
        """Names of the constants (candidates for parameters and levers)."""
        d = self.doc
        return list(d.loc[d["Type"].eq("Constant"), "Real Name"])

    def units(self, name: str) -> str | None:
        """Units string of an element, as written in the model file."""
        row = self.doc.loc[self.doc["Real Name"].eq(name)]
        if row.empty:
            raise KeyError(name)
        value = row["Units"].iloc[0]
        return None if pd.isna(value) else str(value)

    def limits(self, name: str) -> tuple[float, float]:
        """Range ``(min, max)`` from the units field (NaN where unbounded)."""
        row = self.doc.loc[self.doc["Real Name"].eq(name)]
        if row.empty:
            raise KeyError(name)
        lim = row["Limits"].iloc[0]
        if not isinstance(lim, tuple):
            return (float("nan"), float("nan"))
        return tuple(float("nan") if v is None else float(v) for v in lim)  # type: ignore[return-value]


_QUOTED = re.compile(r"'([^'\n]{1,255})'")


def data_files(src: Path) -> list[Path]:
    """Files inside the model's folder named in quotes in the model text (the data files of
    GET XLS/GET DIRECT ... functions), as paths relative to that folder, sorted."""
    text = src.read_text(encoding="utf-8", errors="replace")
    folder = src.parent.resolve()
    out = set()
    for name in _QUOTED.findall(text):
        name = name.strip()
        if not name or name.startswith("?"):
            continue
        try:
            candidate = (folder / name).resolve()
        except (OSError, ValueError):
            continue
        if candidate != src and candidate.is_file() and candidate.is_relative_to(folder):
            out.add(candidate.relative_to(folder))
    return sorted(out)


def safe_stem(src: Path) -> str:
    """The file name PySD sees: ASCII letters, digits and ``_`` only (it is pasted into
    the generated Python), never empty."""
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", src.stem).strip("_")
    return stem if stem and not stem[0].isdigit() else "model_" + stem


def _translate(src: Path, dest_dir: Path, shown: str | None = None) -> Path:
    """Translate ``src`` into ``dest_dir`` atomically through
    :func:`sim.engine.untrusted.translate`; return the ``.py`` file."""
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest_dir.name + ".tmp-", dir=dest_dir.parent))
    try:
        copy = tmp / (safe_stem(src) + src.suffix.lower())
        shutil.copyfile(src, copy)
        for rel in data_files(src):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src.parent / rel, tmp / rel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            untrusted.translate(copy, shown or str(src))
        try:
            os.rename(tmp, dest_dir)
        except OSError:
            # another process finished first: use its translation
            shutil.rmtree(tmp, ignore_errors=True)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest_dir / (safe_stem(src) + ".py")


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Load a model file, translating it with PySD unless a current translation is cached.

    Raises :class:`~sim.errors.ModelError` naming the file when it is missing, has an
    unknown format, or PySD cannot translate or import it.
    """
    src = Path(path).expanduser().resolve()
    if not src.is_file():
        raise ModelError(f"{path}: model file not found")
    suffix = src.suffix.lower()
    if suffix not in VENSIM_SUFFIXES | XMILE_SUFFIXES:
        raise ModelError(f"{path}: unknown model format {suffix!r}; expected a Vensim "
                         f".mdl or an XMILE file ({', '.join(sorted(XMILE_SUFFIXES))})")
    sha = file_sha256(src)
    cached = _LOADED.get((src, sha))
    if (cached is not None and all(file_sha256(src.parent / rel) == h for rel, h in cached[1])
            and cached[0].py_file.is_file() and file_sha256(cached[0].py_file) == cached[2]):
        return cached[0]  # same model, data files and translation (else: checked again below)
    digest = sha
    for rel in data_files(src):  # a changed data file needs a new translation too
        digest = hashlib.sha256(f"{digest}{rel}{file_sha256(src.parent / rel)}".encode()).hexdigest()
    key = f"{safe_stem(src)}-{digest[:16]}-pysd{pysd.__version__}-{untrusted.RULES_VERSION}"
    target = cache_dir() / key
    py_file = target / (safe_stem(src) + ".py")
    if not py_file.is_file():
        try:
            py_file = _translate(src, target, str(path))
        except ModelError:
            raise
        except Exception as err:  # PySD raises many kinds; name the file and the cause
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise ModelError(f"{path}: PySD could not translate the model: "
                             f"{type(err).__name__}: {first}".strip()) from err
    else:  # a cached module is checked again before it is imported
        for generated in py_file.parent.glob("*.py"):
            untrusted.check_generated(generated, str(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            template = pysd.load(str(py_file), initialize=False)
    except Exception as err:
        raise ModelError(f"{path}: the translated model does not import: "
                         f"{type(err).__name__}: {err}") from err
    loaded = LoadedModel(path=src, sha256=sha, py_file=py_file, doc=template.doc)
    _LOADED[(src, sha)] = (loaded, [(rel, file_sha256(src.parent / rel)) for rel in data_files(src)],
                           file_sha256(py_file))
    return loaded


# (model path, sha256) -> (LoadedModel, [(data file, sha256)]): a model file loaded once per
# process is not imported again (PySD's import of a large model takes about a second)
_LOADED: dict = {}


def as_loaded(model) -> LoadedModel:
    """Accept a path, a :class:`LoadedModel` or a PySD model object; return a handle.

    A PySD model keeps the parameters already set on it (they are re-applied to every
    fresh copy); the object itself is never modified.
    """
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    if isinstance(model, pysd.py_backend.model.Model):
        py_file = Path(model.py_model_file)
        mdl = py_file.with_suffix(".mdl")
        src = mdl if mdl.is_file() else py_file
        return LoadedModel(path=src, sha256=file_sha256(src), py_file=py_file,
                           doc=model.doc, tracker=dict(model._components_setter_tracker))
    raise TypeError(f"expected a model path, a LoadedModel or a PySD model, got {type(model).__name__}")
