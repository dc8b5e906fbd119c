"""Chinese text in figures: register the Noto Sans CJK SC font shipped by ``mplfonts``.

Works on a fresh machine without root or system packages: the font file comes from the
PyPI package ``mplfonts`` (a project dependency), found with :mod:`importlib.resources`
and added to matplotlib's font manager at run time.

Only ``NotoSansCJKsc-Regular.otf`` (SIL Open Font License) is used. ``mplfonts`` also
ships ``SimHei.ttf``, whose licence is unclear: it is never touched here.

Export settings (measured with matplotlib 3.11 and this OTF, which has CFF outlines):

* ``pdf.fonttype = 3`` (matplotlib's default). With ``pdf.fonttype = 42`` matplotlib
  embeds the subset as ``/CIDFontType2`` with a ``/FontFile2`` stream, i.e. declares it
  TrueType, but the stream it writes starts with ``OTTO``: a CFF-flavoured OpenType font.
  The PDF specification (ISO 32000-1, 9.9) requires ``FontFile2`` to hold TrueType
  outlines; CFF belongs in ``FontFile3`` (``/CIDFontType0C`` or ``/OpenType``). Strict
  readers may refuse or blank such text. Type 3 draws each glyph from its outline inside
  the PDF, which is valid whatever the outline format. ``tests/test_plots.py`` checks the
  PDF we write contains Type 3 fonts and no OTTO stream declared as TrueType.
* ``svg.fonttype = "path"`` (the default): glyphs are written as paths, so the SVG shows
  the same letters on a machine that has no CJK font.
"""
from __future__ import annotations

import importlib.resources
import warnings
from functools import lru_cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager

#: File name of the one CJK font we use inside the ``mplfonts`` package (SIL OFL 1.1).
CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"

#: Export settings that work with the CFF-outline OTF (see module docstring).
EXPORT_RC = {
    "pdf.fonttype": 3,
    "ps.fonttype": 3,
    "svg.fonttype": "path",
}


class FontNotFoundError(RuntimeError):
    """The CJK font is not available (``mplfonts`` missing or incomplete)."""


def cjk_font_path() -> Path:
    """Path of ``NotoSansCJKsc-Regular.otf`` inside the installed ``mplfonts`` package."""
    try:
        root = importlib.resources.files("mplfonts")
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise FontNotFoundError(
            "package 'mplfonts' is not installed: it ships the Chinese font "
            f"{CJK_FONT_FILE} used for figures (pip install mplfonts; it is listed in "
            "pyproject.toml)"
        ) from exc
    path = Path(str(root / "fonts" / CJK_FONT_FILE))
    if not path.is_file():  # pragma: no cover - depends on the install
        raise FontNotFoundError(
            f"{path}: expected the font file {CJK_FONT_FILE} inside package 'mplfonts' "
            "(key 'fonts/'); reinstall mplfonts"
        )
    return path


@lru_cache(maxsize=1)
def register_cjk_font() -> str:
    """Add the Noto Sans CJK SC font to matplotlib; return its family name.

    Idempotent (cached). Does not change rcParams: :func:`install_cjk_font` and
    :func:`sim.plots.house_style` do.
    """
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def font_rc() -> dict:
    """rcParams that make the CJK font the first sans-serif font, plus export settings.

    DejaVu Sans stays as fallback for glyphs the CJK font lacks (e.g. U+2212 minus).
    """
    family = register_cjk_font()
    fallback = [f for f in matplotlib.rcParamsDefault["font.sans-serif"] if f != family]
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [family, *fallback],
        "axes.unicode_minus": True,
        **EXPORT_RC,
    }


def install_cjk_font() -> str | None:
    """Make the CJK font the first sans-serif font for EVERY figure; return its family.

    Called when :mod:`sim` is imported, so a figure drawn in a notebook (inline display,
    ``plt.show()``, ``fig.canvas.draw()``, outside :func:`sim.report.style.house_style`)
    renders Chinese labels instead of empty boxes. Puts the font at the head of
    ``rcParams["font.sans-serif"]`` (DejaVu Sans and the rest stay behind it as fallback,
    e.g. for U+2212) and does the same in ``rcParamsDefault``, so that
    ``plt.style.use("default")`` or ``plt.rcdefaults()`` keep it. Other rc settings are
    left alone. Without ``mplfonts`` it warns once and returns None (Latin text still
    works).
    """
    try:
        family = register_cjk_font()
    except FontNotFoundError as err:  # pragma: no cover - depends on the install
        warnings.warn(f"Chinese labels will not render: {err}", stacklevel=2)
        return None
    for rc in (matplotlib.rcParams, matplotlib.rcParamsDefault):
        current = [f for f in rc["font.sans-serif"] if f != family]
        rc["font.sans-serif"] = [family, *current]
    return family
