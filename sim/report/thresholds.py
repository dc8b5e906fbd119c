"""A goal's threshold in words, in Chinese or English: the one implementation behind the
brief, the slides, the indicator and fan figures, the dashboard, the terminal goal matrix
and ``scorecard.md``. Never a model unit (``Dmnl``, ``CNY100M/Year``): units are read
through the label table's ``units:`` (``labels.yaml``), words from its ``text:``.

A *target* is anything with ``comparator``, ``threshold``, ``unit`` and ``measure``: a
target dict (``brief_data``), a scorecard row (:class:`pandas.Series`), a
:class:`~sim.report.measures.FigureTarget` or :class:`~sim.policy.targets.Target`.

- :func:`unit_words`: the unit as displayed (``%/年``, ``CNY 100 M/yr``; a pure ratio: ``""``);
- :func:`quantity_words`: a number with the goal's unit (``14 %/年``, ``1.29倍``);
- :func:`threshold_number`: comparator, number and unit (``≥ 14 %/yr``, ``≥ 1.29×``);
- :func:`threshold_words`: as a reader says it: a zero threshold on a change is a word
  (``rising``, ``not growing``), anything else :func:`threshold_number`;
- :func:`goal_text`: the goal's own words (``goals:``) where the label table has them,
  else :func:`threshold_words`;
- :func:`threshold_label`: the threshold line's legend in a figure (``Target ≥ 14 %/yr``,
  ``Target: waste stockpile not growing (≤ 0 %/yr)``).

``plain=True`` gives ASCII text (``>= 1.29x``, ``-6.7``) for fixed-width terminal tables,
where ``≥``, ``×`` and ``−`` are of ambiguous width; use it with ``lang="en"``.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from sim.report.labels import Labels, compose, default_labels

COMPARATOR_SIGNS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
#: Typographic characters → their ASCII spelling (for ``plain=True``).
PLAIN = str.maketrans({"≥": ">=", "≤": "<=", "\u2212": "-", "×": "x", "\u00a0": " "})
#: Units of a pure ratio (shown as a multiple: ``1.29倍`` / ``1.29×``).
RATIO_UNITS = ("Dmnl", "")
#: Zero threshold on a change: (measure, comparator) → ``text:`` key of the word.
ZERO_WORDS = {
    ("ratio_change", ">"): "threshold_rising", ("ratio_change", ">="): "threshold_not_falling",
    ("ratio_change", "<"): "threshold_falling", ("ratio_change", "<="): "threshold_not_rising",
    ("avg_growth", ">"): "threshold_growth_rising", ("avg_growth", ">="): "threshold_growth_not_falling",
    ("avg_growth", "<"): "threshold_growth_falling", ("avg_growth", "<="): "threshold_growth_not_rising",
}


def field(target, name: str, default=None):
    """``target[name]`` of a mapping or row, else ``target.name``; ``default`` if absent."""
    if isinstance(target, (Mapping, pd.Series)):
        return target.get(name, default)
    return getattr(target, name, default)


def unit_of(target) -> str:
    """The target's unit string; ``""`` when absent (None, or NaN as read from a CSV cell)."""
    unit = field(target, "unit")
    return unit if isinstance(unit, str) else ""


def number_text(value: float) -> str:
    """A threshold as written in the targets file (``14``, ``1.29``, ``−6.7``; typographic minus)."""
    return f"{float(value):g}".replace("-", "\u2212")


def _both(lang: str, build, plain: bool = False) -> str:
    text = compose(lang, build, sep=" / ")
    return text.translate(PLAIN) if plain else text


def unit_words(target_or_unit, lang: str, labels: Labels | None = None) -> str:
    """The unit of a target (or a unit string) as displayed: ``%/年``, ``CNY 100 M/yr``;
    ``""`` for a pure ratio (``Dmnl``)."""
    unit = target_or_unit if isinstance(target_or_unit, str) else \
        "" if target_or_unit is None or isinstance(target_or_unit, float) else unit_of(target_or_unit)
    return (labels or default_labels()).target_unit_text(unit, lang)


def quantity_words(text: str, target, lang: str, labels: Labels | None = None) -> str:
    """``text`` (a number already formatted) with the target's unit: ``14 %/年``; a pure
    ratio as a multiple (``1.29倍``, ``1.29×``), a change of a ratio bare (``0.3``)."""
    labels = labels or default_labels()
    if unit_of(target) in RATIO_UNITS:
        if field(target, "measure") == "ratio_change":
            return text
        return f"{text}{labels.t('times_unit', lang)}"
    unit = unit_words(target, lang, labels)
    return f"{text} {unit}" if unit else text


def threshold_number(target, lang: str, *, plain: bool = False, labels: Labels | None = None) -> str:
    """Comparator, threshold and unit: ``≥ 14 %/年``, ``> 1000 CNY 100 M/yr``, ``≥ 1.29×``."""
    labels = labels or default_labels()
    comp = str(field(target, "comparator"))

    def one(lg):
        return f"{COMPARATOR_SIGNS.get(comp, comp)} " \
               f"{quantity_words(number_text(field(target, 'threshold')), target, lg, labels)}"
    return _both(lang, one, plain)


def threshold_words(target, lang: str, *, plain: bool = False, labels: Labels | None = None) -> str:
    """The threshold as a reader says it: ``≥ 14 %/年``, ``≥ 1.29倍``; a zero threshold on
    a change in words: ``上升`` / ``rising`` (a ratio), ``增长`` / ``growing``, ``not
    growing`` (a growth rate). Never a model unit."""
    labels = labels or default_labels()
    key = ZERO_WORDS.get((field(target, "measure"), str(field(target, "comparator"))))
    if key and float(field(target, "threshold")) == 0:
        return _both(lang, lambda lg: labels.t(key, lg), plain)
    return threshold_number(target, lang, plain=plain, labels=labels)


def goal_text(target, lang: str, *, plain: bool = False, nbsp: bool = False,
              labels: Labels | None = None) -> str:
    """The goal in one phrase: its own words where the label table has them (``goals:``,
    e.g. ``GDP per capita ≥ 1.29 × Jiangxi's``), else :func:`threshold_words` (with
    ``nbsp``: joined by no-break spaces, so a wrapped label keeps ``≥ 14 %/yr`` together)."""
    labels = labels or default_labels()
    words = labels.goal_words(str(field(target, "id", "")), lang)
    if words:
        return words.translate(PLAIN) if plain else words
    text = threshold_words(target, lang, plain=plain, labels=labels)
    return text.replace(" ", "\u00a0") if nbsp and not plain else text


def threshold_label(target, lang: str, labels: Labels | None = None) -> str:
    """The threshold line's legend entry: ``目标 ≥ 14 %/年``; where the label table words the
    goal, the words first and the number after (the line sits at the number):
    ``Target: waste stockpile not growing (≤ 0 %/yr)``."""
    labels = labels or default_labels()

    def one(lg):
        formula = threshold_number(target, lg, labels=labels)
        words = labels.goal_words(str(field(target, "id", "")), lg)
        if not words:
            return f"{labels.t('threshold', lg)} {formula}"
        return labels.t("threshold_with_words", lg, words=words, formula=formula)
    return compose(lang, one)
