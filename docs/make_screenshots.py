"""Screenshots of the policy brief's first page and of one slide for the README.

    python docs/make_screenshots.py RESULTS_DIR

The brief is opened in headless Chromium (tests/report/chromium.py: DevTools over a pipe) and its
first screen captured; the slides are converted with LibreOffice (``soffice --headless
--convert-to pdf``) and one page rasterised with ``pdftoppm``. Writes
``docs/brief_zh_page1.png`` and ``docs/slide_zh.png``.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

#: The slide shown in the README (1-based): the first scorecard slide.
SLIDE = 4


def main(results_dir: str) -> None:
    from tests.report.chromium import Browser, find_chromium

    folder = Path(results_dir)
    binary = find_chromium()
    if binary is None:
        raise SystemExit("no Chromium found: apt-get install chromium")
    with Browser(binary, width=1200, height=1500) as browser:
        browser.open(folder / "brief_zh.html")
        browser.evaluate("document.fonts.ready.then(() => true)")
        print(browser.screenshot(DOCS / "brief_zh_page1.png"))
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdftoppm") is None:
        raise SystemExit("no LibreOffice or pdftoppm: apt-get install libreoffice-impress poppler-utils")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp}/profile",
                        "--convert-to", "pdf", "--outdir", tmp, str(folder / "slides_zh.pptx")],
                       check=True, capture_output=True, timeout=300)
        subprocess.run(["pdftoppm", "-r", "96", "-png", "-f", str(SLIDE), "-l", str(SLIDE), "-singlefile",
                        str(Path(tmp) / "slides_zh.pdf"), str(DOCS / "slide_zh")], check=True, timeout=120)
    print(DOCS / "slide_zh.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
