"""The brief's PDF text lines: drawn by a small artist that skips matplotlib's text layout pass,
they must land where ``fig.text(x, y, s, va="top")`` puts the same string, with the same
font size and colour; and the page layout measures characters the CJK font lacks."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends import backend_pdf  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402

from sim.report import brief  # noqa: E402
from sim.report.style import house_style  # noqa: E402

#: Chinese, Latin with descenders, capitals taller than the font's ascender, the brief's marks,
#: and a letter the CJK font lacks.
STRINGS = ["目标：城镇化率（2030）", "gap yq 12.5 %", "ÅÉ Ångström", "✓ × – ⚠", "Ǻ fallback", "a"]
SIZES = [6.4, 7.4, 9.5, 19.0]
pytestmark = pytest.mark.filterwarnings("ignore:Glyph 506:UserWarning")


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    calls = []
    original = backend_pdf.RendererPdf.draw_text

    def record(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        calls.append((s, prop.get_size_in_points(), round(x, 6), y, gc.get_rgb()[:3]))
        return original(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    monkeypatch.setattr(backend_pdf.RendererPdf, "draw_text", record)
    return calls, tmp_path


def test_text_lines_land_where_fig_text_puts_them(drawn):
    calls, tmp_path = drawn
    line = brief._text_line_artist()
    with house_style():
        m = brief.TextMeasure()
        fig = plt.figure(figsize=brief.PAGE)
        y = 0.95
        for s in STRINGS:
            for size in SIZES:
                fig.text(0.1, y, s, fontsize=size, va="top", color="#1D242B")
                fig.add_artist(line((0.55, y), s, FontProperties(size=size), "#1D242B", m.ascent(s, size)))
                y -= 0.035
        fig.savefig(tmp_path / "lines.pdf")
        plt.close(fig)
    by_text = {}
    for s, size, x, y, rgb in calls:
        by_text.setdefault((s, size), []).append((x, y, rgb))
    assert len(by_text) == len(STRINGS) * len(SIZES)
    for (s, size), pair in by_text.items():
        assert len(pair) == 2, (s, size, pair)
        (x1, y1, c1), (x2, y2, c2) = sorted(pair)
        assert x2 > x1 and c1 == c2
        # points: FreeType's 26.6 rounding at the drawn size vs at the reference size is at most
        # 1/64 pt (0.005 mm); strings no taller than the ascender match exactly
        assert y2 == pytest.approx(y1, abs=1 / 64), (s, size)
        if s[0] in "目g✓a":
            assert y2 == pytest.approx(y1, abs=1e-9), (s, size)


def test_ascent_follows_tall_glyphs_and_a_missing_character_is_measured():
    with house_style():
        m = brief.TextMeasure()
        plain = m.ascent("目标 gap", 10)
        assert plain == pytest.approx(m.typo_ascent * 10)
        assert m.ascent("Å", 10) > plain + 0.5                  # ring above the ascender
        assert m.font.get_char_index(ord("Ǻ")) == 0                 # not in the CJK font...
        assert m.width("Ǻ", 10) > 3 and m.ascent("Ǻ", 10) >= plain  # ...measured, not an error
        assert m.width("目标", 10) == pytest.approx(2 * 10 * m.SLACK)   # full-width ideographs
