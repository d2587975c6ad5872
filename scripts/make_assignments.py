"""Write a student copy of each notebook: solutions out, exercise stubs in.

For every notebook given, the student copy in the output folder (default
``_build/assignments/``)

- drops every cell tagged ``solution`` (the solution and its dropdown markers);
- shows every cell tagged ``exercise-stub`` (its ``remove-cell`` tag, which hides it in
  the book, is stripped), so the student sees the function to fill in;
- keeps every other cell, the check cells included;
- has all outputs, execution counts and stored widget state cleared;
- opens with a short note saying it is a student copy.

Local files the notebooks refer to (images in markdown, data files named in code) are
copied alongside, keeping their paths relative to the notebook.

Usage: python scripts/make_assignments.py book/*.ipynb [--out _build/assignments]
"""

from __future__ import annotations

import argparse
import copy as copy_module
import re
import shutil
import sys
from pathlib import Path

import nbformat

REPOSITORY = "https://github.com/lenatriestounderstand/lenakernel"
DEFAULT_OUT = Path("_build/assignments")

NOTE = """\
> **Student copy.** This is *{title}* with the solutions taken out.
> Each machine-checked exercise has a cell that raises `NotImplementedError`: replace its
> body with your code, run it, then run the check cell below it
> (`lk.checks.check_...`), which prints a verdict and returns `True` or `False`.
> Run the notebook from the top: the first cell installs `lenakernel` on Colab.
> The full chapter, with solutions, is in the course repository: {repository}"""

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


def student_copy(notebook):
    """Return a new notebook: the student copy of ``notebook`` (which is not changed)."""
    copy = copy_module.deepcopy(notebook)
    cells = []
    for cell in copy.cells:
        tags = _tags(cell)
        if "solution" in tags:
            continue
        if "exercise-stub" in tags:
            tags = [t for t in tags if t != "remove-cell"]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        cells.append(cell)
    title = _title(copy, "this chapter")
    note = nbformat.v4.new_markdown_cell(NOTE.format(title=title, repository=REPOSITORY))
    note.metadata["tags"] = ["student-note"]
    copy.cells = [note] + cells
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
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in paths:
        path = Path(name)
        notebook = nbformat.read(path, as_version=4)
        copy = student_copy(notebook)
        nbformat.validate(copy)
        target = out / path.name
        nbformat.write(copy, target)
        written.append(target)
        for relative in sorted(referenced_files(notebook, path.parent)):
            destination = out / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path.parent / relative, destination)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="the notebooks, e.g. book/*.ipynb")
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
