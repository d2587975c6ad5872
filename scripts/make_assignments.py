"""Write a student copy of each chapter: solutions out, exercise stubs in.

Student copies are made from the reader editions (``reader/NN-name.ipynb``, written by
scripts/make_reader_editions.py), which are already plain Jupyter markdown: numbers in
the text, exercises as headings, links instead of MyST roles. For every notebook given,
the student copy in the output folder (default ``_build/assignments/``)

- drops every cell tagged ``solution`` (the folded solutions);
- shows every cell tagged ``exercise-stub`` (its ``remove-cell`` tag, which hides it in
  the book, is stripped), so the student sees the function to fill in;
- keeps every other cell, the check cells included;
- has all outputs, execution counts and stored widget state cleared;
- opens with a short note saying it is a student copy (in place of the reader
  edition's note), and that function and parameter names must stay as written.

Each step is a small function (``drop_solutions``, ``show_stubs``, ``clear_outputs``,
``add_note``) so that a grading tool can be put on top of the same steps.

Local files the notebooks refer to (images in markdown, data files named in code) are
copied alongside, keeping their paths relative to the notebook.

Usage: python scripts/make_assignments.py reader/[0-9]*.ipynb [--out _build/assignments]
"""

from __future__ import annotations

import argparse
import copy as copy_module
import re
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_reader_editions import BOOK_URL, write_each  # noqa: E402  (the book's address)

DEFAULT_OUT = Path("_build/assignments")

NOTE = """\
> **Student copy.** This is *{title}* with the solutions taken out.
> Each machine-checked exercise has a cell that raises `NotImplementedError`: replace its
> body with your code, run it, then run the check cell below it
> (`lk.checks.check_...`), which prints a verdict and returns `True` or `False`.
> **Keep the function and parameter names as written:** the checker calls your function
> by its name, with keyword arguments.
> Run the notebook from the top: the first cell installs `lenakernel` on Colab.
> The chapter in the book, with solutions: {book_page}"""

# Relative paths in markdown images/links and in quoted strings in code.
_MARKDOWN_PATH = re.compile(r"""(?:!\[[^\]]*\]\(|<img[^>]*src=["'])([^)"'\s#?]+)""")
_CODE_STRING = re.compile(r"""["']([\w./-]+\.\w{1,5})["']""")


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _title(notebook, fallback: str) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def drop_solutions(cells):
    """The cells without those tagged ``solution``."""
    return [cell for cell in cells if "solution" not in _tags(cell)]


def show_stubs(cells):
    """Strip ``remove-cell`` from the exercise stubs (in place), so students see them."""
    for cell in cells:
        tags = _tags(cell)
        if "exercise-stub" in tags:
            tags = [t for t in tags if t != "remove-cell"]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
    return cells


def clear_outputs(cells):
    """Clear the outputs and execution counts of the code cells (in place)."""
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    return cells


def add_note(cells, title: str, book_page: str):
    """The cells with the student note first (replacing a reader edition's note)."""
    cells = [cell for cell in cells if "reader-note" not in _tags(cell)]
    note = nbformat.v4.new_markdown_cell(NOTE.format(title=title, book_page=book_page))
    note.metadata["tags"] = ["student-note"]
    note["id"] = "student-note"
    return [note, *cells]


def student_copy(notebook, name: str = ""):
    """Return a new notebook: the student copy of ``notebook`` (which is not changed).

    ``name`` is the chapter's file name without suffix, for the link to the book.
    """
    copy = copy_module.deepcopy(notebook)
    cells = clear_outputs(show_stubs(drop_solutions(copy.cells)))
    title = _title(copy, "this chapter")
    book_page = f"{BOOK_URL}book/{name}.html" if name else BOOK_URL
    copy.cells = add_note(cells, title, book_page)
    copy.metadata.pop("widgets", None)  # widget state belongs to the cleared outputs
    return copy


def referenced_files(notebook, folder: Path) -> set[Path]:
    """Local files that ``notebook`` (living in ``folder``) refers to, relative to it."""
    found = set()
    for cell in notebook.cells:
        pattern = _MARKDOWN_PATH if cell.cell_type == "markdown" else _CODE_STRING
        for match in pattern.finditer(cell.source):
            name = match.group(1)
            if "://" in name or name.startswith("/"):
                continue
            path = (folder / name).resolve()
            if path.is_file() and folder.resolve() in path.parents and path.suffix != ".ipynb":
                found.add(path.relative_to(folder.resolve()))
    return found


def make_assignments(paths, out: Path = DEFAULT_OUT) -> list[Path]:
    """Write the student copies of ``paths`` into ``out``; return the written notebooks."""
    written = write_each(paths, out, student_copy)
    # A student copy carries the files its notebook reads.
    for name in paths:
        path = Path(name)
        notebook = nbformat.read(path, as_version=4)
        for relative in sorted(referenced_files(notebook, path.parent)):
            destination = Path(out) / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path.parent / relative, destination)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="the reader editions, e.g. reader/[0-9]*.ipynb")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    written = make_assignments(args.notebooks, args.out)
    stubs = sum(
        "exercise-stub" in _tags(cell)
        for path in written for cell in nbformat.read(path, as_version=4).cells
    )
    print(f"{len(written)} student copies with {stubs} exercise stubs in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
