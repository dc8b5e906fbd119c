"""Chinese labels render in a fresh kernel, outside the house style (issue 14, item 1).

A notebook draws figures with ``plt.show()`` under the inline backend or with
``fig.canvas.draw()``, long after any ``house_style()`` context has closed. Importing
``sim`` (or ``sim.plots``) must be enough for Chinese text to find a glyph. Each check runs
in a fresh interpreter (matplotlib's rcParams and font cache are per process), and fails
on any "Glyph ... missing from font" warning.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Draws Chinese text three ways a notebook does; prints the missing-glyph warnings.
SCRIPT = """
import warnings
warnings.simplefilter("always")
{import_line}
import matplotlib
import matplotlib.pyplot as plt
from IPython.core.pylabtools import print_figure   # what inline display calls

caught = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fig, ax = plt.subplots()
    ax.plot([2015, 2020], [-1.5, 2.0], label="规划方案")
    ax.set_title("接续替代产业占GDP比重（2020）")
    ax.set_xlabel("年份"); ax.set_ylabel("较2015年的变化（个百分点）")
    ax.legend()
    fig.canvas.draw()                       # 1. explicit draw, no context manager
    png = print_figure(fig, "png")          # 2. the inline backend's rendering of plt.show()
    assert png[:4] == b"\\x89PNG"
    plt.style.use("default")                # 3. after a style reset
    fig2, ax2 = plt.subplots()
    ax2.set_title("社会保险覆盖率")
    fig2.canvas.draw()
print("BACKEND", matplotlib.get_backend())
for w in caught:
    if "missing from font" in str(w.message):
        print("MISSING", w.message)
"""


def _run(import_line: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT.format(import_line=import_line))],
                          capture_output=True, text=True, env=env, cwd=ROOT / "notebooks", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "BACKEND module://matplotlib_inline.backend_inline" in proc.stdout, proc.stdout
    return proc.stdout


@pytest.mark.parametrize("import_line", ["import sim", "import sim.plots"])
def test_importing_sim_is_enough_for_chinese_labels(import_line):
    out = _run(import_line)
    missing = [line for line in out.splitlines() if line.startswith("MISSING")]
    assert not missing, "\n".join(missing)


def test_the_check_fails_without_sim():
    """Without the import, matplotlib's default font (DejaVu Sans) lacks the glyphs: the
    warning the test above looks for really is raised."""
    out = _run("pass")
    assert any(line.startswith("MISSING") for line in out.splitlines()), out
