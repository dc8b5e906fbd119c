"""PNG files of matplotlib figures, encoded with one fixed row filter.

Why not ``savefig(format="png")``: Pillow, which matplotlib uses, tries all four PNG row
filters on every row and keeps the best. At the house size (4000 × 2250 px) that search is
most of a figure's cost. Figures are mostly flat colour, where the "Up" filter (each row
minus the row above) does as well: the files come out about as small, and the encoding
takes a fraction of the time (``bench/png_encoding.py``). The pixels are matplotlib's own:
the figure is rendered by ``savefig(format="rgba")``, the same Agg rendering as its PNG
writer, and ``tests/report/test_png.py`` checks the decoded file pixel for pixel against
matplotlib's PNG.

The format is the PNG specification's (ISO/IEC 15948): signature, ``IHDR``, ``pHYs`` (the
resolution, so slide software places the figure at its size in inches), ``tEXt``
(``Software``), one ``IDAT`` (zlib), ``IEND``.
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import matplotlib
import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: zlib level: 1 is about as small as 6 on filtered plot rows, and several times faster.
LEVEL = 1
UP = 2          # PNG filter type "Up"
INCH = 0.0254   # metres


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode(rgba: np.ndarray, dpi: float | None = None, level: int = LEVEL,
           software: str | None = None) -> bytes:
    """An image ``rgba`` (height × width × 4, uint8) as PNG bytes: RGB when every pixel is
    opaque, else RGBA; ``dpi`` recorded as the physical resolution when given."""
    rgba = np.asarray(rgba)
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected a height x width x 4 uint8 array, got {rgba.dtype} {rgba.shape}")
    height, width, _ = rgba.shape
    opaque = bool((rgba[..., 3] == 255).all())
    pixels = rgba[..., :3] if opaque else rgba
    rows = np.ascontiguousarray(pixels).reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = UP
    filtered[0, 1:] = rows[0]                       # the row above the first is zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])   # modulo 256, as the filter says
    header = struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0)
    out = [SIGNATURE, _chunk(b"IHDR", header)]
    if dpi:
        per_metre = round(dpi / INCH)
        out.append(_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)))
    if software:
        out.append(_chunk(b"tEXt", b"Software\x00" + software.encode("latin-1", "replace")))
    out += [_chunk(b"IDAT", zlib.compress(filtered.tobytes(), level)), _chunk(b"IEND", b"")]
    return b"".join(out)


def figure_rgba(fig, dpi: float) -> np.ndarray:
    """The figure rendered by matplotlib's Agg at ``dpi`` (as ``savefig`` would), as an
    array height × width × 4."""
    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=dpi)
    height = int(fig.get_figheight() * dpi)
    data = np.frombuffer(buf.getbuffer(), np.uint8)
    width = data.size // (4 * height)
    if width * height * 4 != data.size:   # pragma: no cover - Agg's size rule changed
        raise RuntimeError(f"rendered {data.size} bytes, not a multiple of 4 x {height} rows")
    return data.reshape(height, width, 4)


def save_png(fig, path: str | Path, dpi: float) -> Path:
    """Write ``fig`` as a PNG file at ``dpi``; return the path."""
    path = Path(path)
    path.write_bytes(encode(figure_rgba(fig, dpi), dpi,
                            software=f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/"))
    return path
