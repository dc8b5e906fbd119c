"""The brief's embedded font: every character, the same outlines, advances and hints as the
house font, the layout features a browser applies by default and none that only CSS asks for."""
from __future__ import annotations

import io

import pytest
from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.ttLib import TTFont

from sim.report.brief import font_subset_woff
from sim.report.fonts import cjk_font_path

TEXT = "目标：2030 年城镇化率 ≥ 65 %（基准情景）。Goals met: 3 of 12 — “plan” scenario, × –"
CSS_ONLY = {"aalt", "fwid", "hwid", "pwid", "dlig", "hist"}


@pytest.fixture(scope="module")
def fonts():
    full = TTFont(str(cjk_font_path()), lazy=True)
    woff = font_subset_woff(TEXT)
    return full, TTFont(io.BytesIO(woff)), woff


def outline(font: TTFont, ch: str):
    name = font.getBestCmap()[ord(ch)]
    glyphs = font.getGlyphSet()
    pen = DecomposingRecordingPen(glyphs)
    glyphs[name].draw(pen)
    return pen.value, font["hmtx"][name][0]


def operators(font: TTFont, ch: str) -> list[str]:
    """The charstring operators of ``ch``'s glyph with subroutine calls expanded."""
    top = font["CFF "].cff.topDictIndex[0]
    name = font.getBestCmap()[ord(ch)]
    private = top.FDArray[top.FDSelect[font.getGlyphID(name)]].Private if hasattr(top, "FDArray") else top.Private
    subrs = getattr(private, "Subrs", [])
    cs = top.CharStrings[name]
    cs.decompile()
    return _inlined(cs.program, subrs, top.GlobalSubrs)


def _bias(table) -> int:
    return 107 if len(table) < 1240 else 1131 if len(table) < 33900 else 32768


def _inlined(program, subrs, gsubrs) -> list[str]:
    out, stack = [], []
    for tok in program:
        if tok in ("callsubr", "callgsubr"):
            table = subrs if tok == "callsubr" else gsubrs
            sub = table[stack.pop() + _bias(table)]
            sub.decompile()
            out += _inlined([t for t in sub.program if t != "return"], subrs, gsubrs)
        elif isinstance(tok, str):
            out.append(tok)
            stack = []
        else:
            stack.append(tok)
    return out


def test_the_subset_is_woff_with_every_character_of_the_text(fonts):
    full, sub, woff = fonts
    assert woff[:4] == b"wOFF"
    cmap = sub.getBestCmap()
    assert [c for c in TEXT if ord(c) not in cmap] == [c for c in TEXT if ord(c) not in full.getBestCmap()]
    assert all(ord(c) in cmap for c in TEXT if not c.isspace())
    assert "CJK" in sub["name"].getDebugName(1)       # the browser test reads the family name


@pytest.mark.parametrize("ch", ["目", "城", "（", "：", "A", "g", "5", "%", "—"])
def test_outlines_and_advances_are_the_house_fonts(fonts, ch):
    full, sub, _ = fonts
    assert outline(sub, ch) == outline(full, ch)


@pytest.mark.parametrize("ch", ["目", "城", "A"])
def test_hints_are_kept(fonts, ch):
    full, sub, _ = fonts
    hints = [op for op in operators(full, ch) if "stem" in op or "mask" in op]
    assert hints and [op for op in operators(sub, ch) if "stem" in op or "mask" in op] == hints


def test_default_layout_features_kept_and_css_only_ones_dropped(fonts):
    full, sub, _ = fonts

    def tags(font):
        return {fr.FeatureTag for t in ("GSUB", "GPOS") for fr in font[t].table.FeatureList.FeatureRecord}
    assert CSS_ONLY <= tags(full)                      # the house font has them...
    assert {"locl", "kern", "vert"} <= tags(sub)       # ...the subset keeps the default ones
    assert not tags(sub) & CSS_ONLY
    assert "vmtx" in full and "vmtx" not in sub and "hmtx" in sub
