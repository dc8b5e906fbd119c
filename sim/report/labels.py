"""The label table: every word a figure prints, in Chinese and English, from ``sim/labels.yaml``.

Labels are looked up by key (model variable, target unit, text key); nothing is decided by
``if`` chains. ``lang`` is ``"zh"``, ``"en"`` or ``"both"`` (Chinese first, then English).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import yaml

from sim.policy import yamlfile

LABELS_FILE = Path(__file__).resolve().parent / "labels.yaml"
LANGS = ("zh", "en", "both")
#: How the two languages are joined with ``lang="both"``, by kind of text.
BOTH_SEPARATORS = {"inline": " / ", "title": "\n"}


class LabelError(ValueError):
    """The label file is malformed or a language code is unknown."""


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is one of ``zh``, ``en``, ``both``; raise a clear error otherwise."""
    if lang not in LANGS:
        raise LabelError(f"lang={lang!r}: expected one of {', '.join(LANGS)}")
    return lang


def pick(text: Mapping[str, str] | str | None, lang: str, kind: str = "inline",
         default: str = "") -> str:
    """Choose the ``lang`` version of a ``{zh, en}`` mapping (both: joined by ``kind``)."""
    check_lang(lang)
    if text is None:
        return default
    if isinstance(text, str):
        return text
    if lang == "both":
        zh, en = text.get("zh", default), text.get("en", default)
        return zh if zh == en else f"{zh}{BOTH_SEPARATORS[kind]}{en}"
    return text.get(lang) or text.get("en") or default


def compose(lang: str, build, sep: str = "\n") -> str:
    """``build(one_lang)`` for ``zh``/``en``; for ``both`` the two joined by ``sep``.

    For texts assembled from several labels (a name, a colon, a status), where joining
    each part separately would interleave the languages.
    """
    check_lang(lang)
    if lang != "both":
        return build(lang)
    zh, en = build("zh"), build("en")
    return zh if zh == en else f"{zh}{sep}{en}"


@dataclass(frozen=True)
class VariableLabel:
    """Display name and unit of one model variable; display value = model value × scale."""

    name: dict
    unit: dict
    scale: float
    model_unit: str = ""


@dataclass(frozen=True)
class UnitLabel:
    """Display form of a target's unit string."""

    label: dict


@dataclass
class Labels:
    """The parsed label table (see ``sim/labels.yaml`` for the format)."""

    variables: dict[str, VariableLabel]
    units: dict[str, UnitLabel]
    text: dict[str, dict]
    history: dict[str, dict]
    source: Path = field(default=LABELS_FILE)

    # -- variables -------------------------------------------------------------------
    def variable(self, name: str) -> VariableLabel:
        """Label of model variable ``name``; unknown variables show their own name, scale 1."""
        if name in self.variables:
            return self.variables[name]
        return VariableLabel(name={"zh": name, "en": name}, unit={"zh": "", "en": ""},
                             scale=1.0)

    def name(self, variable: str, lang: str, kind: str = "inline") -> str:
        return pick(self.variable(variable).name, lang, kind)

    def unit(self, variable: str, lang: str) -> str:
        return pick(self.variable(variable).unit, lang)

    def scale(self, variable: str) -> float:
        return self.variable(variable).scale

    # -- target units ----------------------------------------------------------------
    def target_unit(self, unit: str | None) -> UnitLabel:
        """Display form of a target's unit string; unknown units are shown as written."""
        unit = unit or ""
        if unit in self.units:
            return self.units[unit]
        return UnitLabel(label={"zh": unit, "en": unit})

    def target_unit_text(self, unit: str | None, lang: str) -> str:
        return pick(self.target_unit(unit).label, lang)

    # -- free text -------------------------------------------------------------------
    def with_unit(self, text: str, unit: str, lang: str) -> str:
        """``text (unit)`` in one language (full-width brackets in Chinese)."""
        return self.t("with_unit", lang, text=text, unit=unit) if unit else text

    def t(self, key: str, lang: str, kind: str = "inline", **fmt) -> str:
        """Text ``key`` of the ``text:`` table in ``lang`` (``{name}`` fields from ``fmt``)."""
        if key not in self.text:
            raise LabelError(f"{self.source}: key 'text.{key}' is missing: expected "
                             "{zh: ..., en: ...}")
        return pick(self.text[key], lang, kind).format(**fmt)

    def all_chinese(self) -> list[str]:
        """Every Chinese string in the table (for the missing-glyph test)."""
        out = []
        for v in self.variables.values():
            out += [v.name["zh"], v.unit["zh"]]
        out += [u.label["zh"] for u in self.units.values()]
        out += [t["zh"] for t in self.text.values()]
        out += [h["zh"] for h in self.history.values()]
        return out


def _require(mapping, key, where, expected, path):
    if not isinstance(mapping, dict) or key not in mapping:
        raise LabelError(f"{path}: key '{where}.{key}' is missing: expected {expected}")
    return mapping[key]


def _bilingual(node, where, path, allowed=()) -> dict:
    """A ``{zh, en}`` mapping; other keys (beyond ``allowed``) are errors: an unquoted comma
    in a YAML flow mapping (``{en: a, b}``) would otherwise silently cut the text."""
    extra = set(node) - {"zh", "en", *allowed} if isinstance(node, dict) else set()
    if (not isinstance(node, dict) or extra
            or not all(isinstance(node.get(k), str) for k in ("zh", "en"))):
        hint = f" (unexpected keys {sorted(map(str, extra))}: quote text containing commas)" \
            if extra else ""
        raise LabelError(f"{path}: key '{where}' must be {{zh: text, en: text}}, got "
                         f"{node!r}{hint}")
    return {"zh": node["zh"], "en": node["en"]}


def _number(node, where, path) -> float:
    try:
        value = float(node)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value == 0:
        raise LabelError(f"{path}: key '{where}' must be a non-zero number, got {node!r}")
    return value


def parse_labels(data: dict, path: Path | str = "<labels>") -> Labels:
    """Validate and convert the raw YAML mapping; errors name the file and the key."""
    if not isinstance(data, dict):
        raise LabelError(f"{path}: expected a mapping with keys variables, units, text, history")
    variables = {}
    for var, node in (_require(data, "variables", "", "a mapping", path) or {}).items():
        w = f"variables.{var}"
        variables[var] = VariableLabel(
            name=_bilingual(node, w, path, allowed=("unit", "scale", "model_unit")),
            unit=_bilingual(_require(node, "unit", w, "{zh, en}", path), f"{w}.unit", path),
            scale=_number(_require(node, "scale", w, "a number", path), f"{w}.scale", path),
            model_unit=str(node.get("model_unit", "")),
        )
    units = {}
    for unit, node in (data.get("units") or {}).items():
        w = f"units.{unit}"
        units[str(unit)] = UnitLabel(label=_bilingual(node, w, path))
    text = {k: _bilingual(v, f"text.{k}", path)
            for k, v in (_require(data, "text", "", "a mapping", path) or {}).items()}
    history = {}
    for ind, node in (data.get("history") or {}).items():
        w = f"history.{ind}"
        history[ind] = {
            "variable": str(_require(node, "variable", w, "a model variable name", path)),
            "scale": _number(_require(node, "scale", w, "a number", path), f"{w}.scale", path),
            **_bilingual(node, w, path, allowed=("variable", "scale")),
        }
    return Labels(variables, units, text, history, Path(path))


def read_labels(path: Path | str = LABELS_FILE) -> Labels:
    """Read a label file (default ``sim/labels.yaml``)."""
    path = Path(path)
    try:
        data = yamlfile.load(path)
    except (OSError, yamlfile.YamlFileError, yaml.YAMLError) as exc:
        raise LabelError(f"{path}: {yamlfile.describe(exc)}") from None
    return parse_labels(data, path)


@lru_cache(maxsize=1)
def default_labels() -> Labels:
    """The project's label table, read once."""
    return read_labels(LABELS_FILE)
