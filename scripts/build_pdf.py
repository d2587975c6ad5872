"""Print the whole book to one PDF, offline: the single-page HTML build, typeset by the
book's own MathJax in headless Chromium, sliders showing their first frame.

Usage: python scripts/build_pdf.py   (``make pdf``; needs Chromium at /usr/bin/chromium)
Writes _build/pdf/attention-is-a-kernel-method.pdf.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SINGLE = ROOT / "_build" / "singlehtml"
PDF = ROOT / "_build" / "pdf" / "attention-is-a-kernel-method.pdf"


def build_single_page() -> Path:
    subprocess.run([str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "--builder", "custom",
                    "--custom-builder", "singlehtml", "-W", "-n", "--keep-going"],
                   cwd=ROOT, check=True)
    # The single page is written as book/intro.html but links its assets relative to the
    # build's root; a copy at the root makes every asset and image resolve.
    page = SINGLE / "course.html"
    shutil.copyfile(SINGLE / "book" / "intro.html", page)
    return page


def print_page(page: Path, pdf: Path) -> None:
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        tab = browser.new_page()
        tab.goto(page.as_uri(), wait_until="load", timeout=300_000)
        # Wait until MathJax has typeset every formula, so no raw TeX is printed.
        tab.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise",
                              timeout=120_000)
        tab.evaluate("MathJax.startup.promise")
        tab.emulate_media(media="print")
        tab.pdf(path=str(pdf), format="A4", print_background=True, outline=True, tagged=True,
                margin={"top": "15mm", "bottom": "15mm", "left": "15mm", "right": "15mm"})
        browser.close()


def main() -> None:
    if not CHROMIUM.exists():
        sys.exit("make pdf needs Chromium at /usr/bin/chromium (apt-get install chromium)")
    start = time.perf_counter()
    print_page(build_single_page(), PDF)
    print(f"{PDF.relative_to(ROOT)}: {PDF.stat().st_size / 2**20:.1f} MiB "
          f"in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
