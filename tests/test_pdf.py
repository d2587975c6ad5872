"""``make pdf``: the whole book in one PDF, with every chapter, typeset mathematics,
every figure and working internal links."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PDF = ROOT / "_build" / "pdf" / "attention-is-a-kernel-method.pdf"
CHROMIUM = Path("/usr/bin/chromium")


def toc_notebooks():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def title_of(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    first = next(c for c in cells if c["cell_type"] == "markdown")
    return re.search(r"^# (.+)$", "".join(first["source"]), flags=re.M).group(1).strip()


def stored_figures(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in output.get("data", {})
               for cell in cells if cell["cell_type"] == "code" for output in cell["outputs"])


@pytest.fixture(scope="module")
def pdf_text_and_reader():
    if not CHROMIUM.exists():
        pytest.skip("make pdf needs Chromium (apt-get install chromium)")
    made = subprocess.run(["make", "pdf"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    from pypdf import PdfReader

    reader = PdfReader(PDF)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text), reader


@pytest.mark.slow
def test_pdf_has_every_chapter_title(pdf_text_and_reader):
    text, _ = pdf_text_and_reader
    missing = [title_of(nb) for nb in toc_notebooks() if title_of(nb) not in text]
    assert not missing, f"chapter titles missing from the PDF: {missing}"


@pytest.mark.slow
def test_pdf_has_no_raw_tex(pdf_text_and_reader):
    text, _ = pdf_text_and_reader
    raw = [m.group(0) for m in re.finditer(r"\\\(|\\\[|\$\$|\\begin\{|\\frac\{", text)]
    assert not raw, f"untypeset TeX in the PDF: {raw[:5]}"


@pytest.mark.slow
def test_pdf_has_every_figure_and_internal_links(pdf_text_and_reader):
    _, reader = pdf_text_and_reader
    images = sum(len(page.images) for page in reader.pages)
    figures = sum(stored_figures(nb) for nb in toc_notebooks())
    assert images >= figures, f"{images} images in the PDF for {figures} stored figures"
    internal = 0
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            action = annotation.get("/A")
            if annotation.get("/Dest") is not None or (action and action.get("/S") == "/GoTo"):
                internal += 1
    assert internal >= 50, f"only {internal} internal links in the PDF"
