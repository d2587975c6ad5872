"""Turn every "chapter N" in the book's prose into a numbered cross-reference.

Each chapter gets a label above its title, ``(chapter-<name>)=``, and the prose refers to
it with ``{numref}`%s <chapter-<name>>```, which Sphinx renders as the chapter's number in
the numbered table of contents. A chapter inserted or moved renumbers every reference.

The numbers this script reads are the ones in the chapter files' names (``06-...`` is
"chapter 6"), and "the layer chapter" names the chapter without one; run it once after
writing prose with plain numbers. It is idempotent.

Usage: python scripts/link_chapter_references.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAGES = ["intro.md", "closing.md", "instructors.md"]
LAYER_CHAPTER = "05b-from-one-head-to-a-layer"

# Code spans, math and existing roles are left alone.
PROTECTED = re.compile(r"(\{[a-z:]+\}`[^`]*`|``[^`]*``|`[^`]*`|\$\$.*?\$\$|\$[^$\n]*\$)", re.S)
NUMBERED = re.compile(r"\b([Cc]hapters?)(\s+)(\d+(?:(?:\s*,\s*|\s+and\s+|\s+or\s+|\s*[–-]\s*|\s+to\s+)\d+)*)\b")
LAYER = re.compile(r"\b([Tt])he layer chapter\b")


def label_of(path: Path) -> str:
    return "chapter-" + re.sub(r"^\d+[a-z]?-", "", path.stem)


def chapter_files() -> dict[str, Path]:
    return {str(int(p.name[:2])): p for p in sorted(BOOK.glob("[0-9][0-9]-*.ipynb"))}


def link_text(text: str, chapters: dict[str, Path]) -> str:
    def numbers(match):
        def one(number):
            path = chapters.get(number.group(0))
            if path is None:
                raise SystemExit(f"'{match.group(0)}' names a chapter that does not exist")
            return f"{{numref}}`%s <{label_of(path)}>`"

        return match.group(1) + match.group(2) + re.sub(r"\d+", one, match.group(3))

    def layer(match):
        return f"{match.group(1)}he layer chapter ({{numref}}`chapter %s <{label_of(Path(LAYER_CHAPTER))}>`)"

    pieces = PROTECTED.split(text)
    for i in range(0, len(pieces), 2):  # even pieces are outside code, math and roles
        pieces[i] = NUMBERED.sub(numbers, pieces[i])
        if (BOOK / f"{LAYER_CHAPTER}.ipynb").exists():
            pieces[i] = LAYER.sub(layer, pieces[i])
    return "".join(pieces)


def link_markdown(source: str, chapters: dict[str, Path]) -> str:
    out, open_fences = [], []  # the fences open at this line: (marker, is_code)
    for line in source.splitlines(keepends=True):
        fence = re.match(r"\s*(```+|~~~+|:::+)(.*)", line)
        if fence:
            marker, rest = fence.group(1), fence.group(2).strip()
            if open_fences and not rest and marker == open_fences[-1][0]:
                open_fences.pop()  # closes the innermost fence
            else:
                # A directive fence ({name}) holds prose; any other fence holds code.
                open_fences.append((marker, not rest.startswith("{")))
            out.append(line)
            continue
        in_code = any(is_code for _, is_code in open_fences)
        out.append(line if in_code else link_text(line, chapters))
    return "".join(out)


def add_label(notebook, label: str) -> None:
    first = next(cell for cell in notebook.cells if cell.cell_type == "markdown")
    if not first.source.startswith(f"({label})="):
        first.source = f"({label})=\n{first.source}"


def main() -> None:
    chapters = chapter_files()
    notebooks = sorted(BOOK.glob("*.ipynb"))
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        before = nbformat.writes(notebook)
        if re.match(r"\d\d", path.name):
            add_label(notebook, label_of(path))
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                cell.source = link_markdown(cell.source, chapters)
        if nbformat.writes(notebook) != before:
            nbformat.write(notebook, path)
            print(f"linked {path.relative_to(ROOT)}")
    for name in PAGES:
        path = BOOK / name
        text = path.read_text()
        linked = link_markdown(text, chapters)
        if linked != text:
            path.write_text(linked)
            print(f"linked {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
