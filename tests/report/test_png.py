"""The figure PNG writer (sim.report.png) against matplotlib's own: the same pixels, the
same size and resolution, RGBA kept where the figure is transparent, and a filter that
survives values wrapping modulo 256."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from sim.report import png  # noqa: E402
from sim.report.style import house_style, save  # noqa: E402


def chinese_figure():
    with house_style():
        fig, ax = plt.subplots(figsize=(6, 3.375))
        x = np.linspace(2010, 2030, 50)
        for i in range(4):
            ax.plot(x, np.sin(x / 3 + i) * i, label=f"情景 {i}")
        ax.fill_between(x, -1, np.cos(x), alpha=0.3)
        ax.legend()
        ax.set_title("替代产业占GDP比重 Replacement share")
    return fig


def decoded(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


@pytest.mark.parametrize("dpi", [50, 120])
def test_pixels_size_and_resolution_match_matplotlibs_png(dpi):
    fig = chinese_figure()
    with house_style():
        ref = io.BytesIO()
        fig.savefig(ref, format="png", dpi=dpi)
        ours = png.encode(png.figure_rgba(fig, dpi), dpi)
    plt.close(fig)
    a, b = decoded(ref.getvalue()), decoded(ours)
    assert b.size == a.size and b.mode == "RGB"               # an opaque figure: no alpha channel
    assert np.array_equal(np.asarray(b), np.asarray(a.convert("RGB")))
    assert b.info["dpi"] == pytest.approx(a.info["dpi"], abs=1e-3)
    assert b.info["dpi"] == pytest.approx((dpi, dpi), abs=0.0254)   # whole dots per metre


def test_a_transparent_figure_keeps_its_alpha():
    fig = chinese_figure()
    with house_style():
        ref = io.BytesIO()
        fig.savefig(ref, format="png", dpi=40, transparent=True)
        fig.patch.set_alpha(0.0)
        for ax in fig.axes:
            ax.patch.set_alpha(0.0)
        rgba = png.figure_rgba(fig, 40)
    plt.close(fig)
    b = decoded(png.encode(rgba, 40))
    assert b.mode == "RGBA"
    assert np.array_equal(np.asarray(b), np.asarray(decoded(ref.getvalue()).convert("RGBA")))


def test_up_filter_wraps_modulo_256():
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, size=(17, 23, 4), dtype=np.uint8)   # every difference, both signs
    assert np.array_equal(np.asarray(decoded(png.encode(rgba))), rgba)
    rgba[..., 3] = 255
    assert np.array_equal(np.asarray(decoded(png.encode(rgba))), rgba[..., :3])


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="height x width x 4 uint8"):
        png.encode(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="height x width x 4 uint8"):
        png.encode(np.zeros((4, 4, 4), np.float64))


def test_the_house_save_writes_png_through_it(tmp_path):
    fig = chinese_figure()
    with house_style():
        ref = io.BytesIO()
        fig.savefig(ref, format="png", dpi=60)
    path, = save(fig, tmp_path / "f", formats=("png",), dpi=60)
    b = decoded(path.read_bytes())
    assert b.info.get("Software", "").startswith("Matplotlib version")
    assert np.array_equal(np.asarray(b), np.asarray(decoded(ref.getvalue()).convert("RGB")))
