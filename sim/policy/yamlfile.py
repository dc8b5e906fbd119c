"""Read a YAML data file strictly: one reader for scenarios, levers, targets,
uncertainties, calibration specs and label files.

``yaml.safe_load`` never runs code, but it silently keeps the last of two equal keys
(``2016`` and ``2016.0`` are one key to Python) and expands aliases, so a small file
can grow into a memory bomb. This reader refuses, each as one message naming the file,
the key path and the line:

- a file larger than :data:`MAX_BYTES` or not UTF-8;
- anchors and aliases (``&name`` / ``*name``, also the ``<<`` merge they enable);
- a key that appears twice in one mapping, compared after YAML typing (``2016`` and
  ``2016.0`` collide; ``"2016"`` is a different key and is caught by the table checks).
"""
from __future__ import annotations

from pathlib import Path

import yaml

#: Largest data file read (bytes); the repository's largest is about 20 kB.
MAX_BYTES = 2_000_000


class YamlFileError(ValueError):
    """A data file cannot be read strictly; ``key`` and ``line`` say where (may be empty)."""

    def __init__(self, message: str, key: str = "", line: int | None = None):
        self.key = key
        self.line = line
        super().__init__(message)


class _NoAliasComposer(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YamlFileError(f"alias *{event.anchor} at line {event.start_mark.line + 1}: "
                                "anchors and aliases are not allowed in data files; write the "
                                "values out", line=event.start_mark.line + 1)
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise YamlFileError(f"anchor &{anchor} at line {event.start_mark.line + 1}: anchors "
                                "and aliases are not allowed in data files; write the values out",
                                line=event.start_mark.line + 1)
        return super().compose_node(parent, index)


def _check_duplicates(node, loader: yaml.SafeLoader, path: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            try:
                key = loader.construct_object(key_node, deep=True)
            except yaml.YAMLError:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
            try:
                hash(key)
            except TypeError:
                key = repr(key)
            where = f"{path}.{key}" if path else str(key)
            if key in seen:
                raise YamlFileError(
                    f"{where}: duplicate key at line {key_node.start_mark.line + 1} (first at line "
                    f"{seen[key]}); YAML would silently keep only the last value: remove one",
                    key=where, line=key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark.line + 1
            _check_duplicates(value_node, loader, where)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, loader, f"{path}[{i}]")


def load_text(text: str):
    """Parse YAML text strictly (see the module docstring); raises :class:`YamlFileError`
    or :class:`yaml.YAMLError`."""
    loader = _NoAliasComposer(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_duplicates(node, loader, "")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_text(path: str | Path) -> str:
    """A data file's text: at most :data:`MAX_BYTES`, strict UTF-8 (the line of a bad byte
    is named). Raises :class:`OSError` or :class:`YamlFileError`."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlFileError(f"file is {size:,} bytes, more than the {MAX_BYTES:,} a data "
                            "file may have")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise YamlFileError(f"line {line}: not UTF-8 (byte 0x{data[err.start]:02x}); save the "
                            "file as UTF-8", line=line) from None


def describe(err: Exception) -> str:
    """One line for a read or parse error of a data file (no file name)."""
    if isinstance(err, OSError):
        return f"cannot read file: {err.strerror or err}"
    if isinstance(err, YamlFileError):
        return str(err)
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"malformed YAML{where}: {what}"


def load(path: str | Path):
    """Read and parse a data file strictly; raises :class:`OSError`,
    :class:`YamlFileError` or :class:`yaml.YAMLError`."""
    return load_text(read_text(path))
