"""Tests for scripts/make_assignments.py: the student copies, made from the reader
editions of the chapters (reader/NN-name.ipynb), have no solutions, show every exercise
stub, and run, with each check cell saying "Not solved yet" instead of raising.

Running them (on a simulated Colab runtime) is tested in tests/test_colab_runtime.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_assignments.py"
# The chapters (NN-name.ipynb) carry the exercises; the appendix is reading only.
NOTEBOOKS = sorted((ROOT / "reader").glob("[0-9][0-9]-*.ipynb"))
IDS = [path.stem for path in NOTEBOOKS]

sys.path.insert(0, str(SCRIPT.parent))
import make_assignments  # noqa: E402


def _tags(cell):
    return list(cell.get("metadata", {}).get("tags", []))


def _is_check_cell(cell):
    return cell.cell_type == "code" and "lk.checks.check_" in cell.source and not _tags(cell)


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("assignments")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, NOTEBOOKS), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"{len(NOTEBOOKS)} student copies" in result.stdout
    return out


def test_every_notebook_has_a_student_copy(student_dir):
    assert sorted(p.name for p in student_dir.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_solutions_removed_and_stubs_shown(source, student_dir):
    original = nbformat.read(source, as_version=4)
    copy = nbformat.read(student_dir / source.name, as_version=4)
    nbformat.validate(copy)

    assert not [c for c in copy.cells if "solution" in _tags(c)], "a solution cell remains"
    for cell in copy.cells:
        assert "<summary>Solution" not in cell.source and "#@title Solution" not in cell.source

    stubs_before = [c.source for c in original.cells if "exercise-stub" in _tags(c)]
    stubs_after = [c for c in copy.cells if "exercise-stub" in _tags(c)]
    assert [c.source for c in stubs_after] == stubs_before
    assert all("remove-cell" not in _tags(c) for c in stubs_after), "a stub is still hidden"

    # Everything except the solutions and the reader's note is kept, in order.
    kept = [c.source for c in original.cells
            if "solution" not in _tags(c) and "reader-note" not in _tags(c)]
    assert [c.source for c in copy.cells[1:]] == kept
    checks_before = sum(_is_check_cell(c) for c in original.cells)
    assert sum(_is_check_cell(c) for c in copy.cells) == checks_before


@pytest.mark.parametrize("source", NOTEBOOKS, ids=IDS)
def test_outputs_cleared_and_note_on_top(source, student_dir):
    copy = nbformat.read(student_dir / source.name, as_version=4)
    note = copy.cells[0]
    assert note.cell_type == "markdown" and note.source.startswith("> **Student copy.**")
    assert "Keep the function and parameter names as written" in note.source
    assert not [c for c in copy.cells if "reader-note" in _tags(c)]
    for cell in copy.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "widgets" not in copy.metadata
    # The Colab install cell, where the chapter has one, is still the first code cell.
    original = nbformat.read(source, as_version=4)
    if any("google.colab" in c.source for c in original.cells if c.cell_type == "code"):
        first_code = next(c for c in copy.cells if c.cell_type == "code")
        assert "google.colab" in first_code.source


def test_the_original_notebook_is_not_modified():
    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    before = nbformat.writes(notebook)
    make_assignments.student_copy(notebook)
    assert nbformat.writes(notebook) == before


def test_local_files_are_copied(tmp_path):
    book = tmp_path / "book"
    (book / "figures").mkdir(parents=True)
    (book / "figures" / "diagram.png").write_bytes(b"png")
    (book / "data.csv").write_text("x,y\n")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("![a diagram](figures/diagram.png) and [a web link](https://example.org/x.png)"),
        nbformat.v4.new_code_cell('import numpy as np\nnp.loadtxt("data.csv")\nprint("missing.txt")'),
        nbformat.v4.new_code_cell("print(1)", metadata={"tags": ["solution"]}),
    ])
    nbformat.write(notebook, book / "00-test.ipynb")
    out = tmp_path / "out"
    make_assignments.make_assignments([book / "00-test.ipynb"], out)
    assert (out / "figures" / "diagram.png").read_bytes() == b"png"
    assert (out / "data.csv").exists()
    assert not (out / "missing.txt").exists()
    assert len(nbformat.read(out / "00-test.ipynb", as_version=4).cells) == 3  # note + 2


# Running the student copies is tested on a simulated Colab runtime, in
# tests/test_colab_runtime.py (each copy alone in an empty folder).
