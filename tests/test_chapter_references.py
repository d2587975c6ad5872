"""Chapters are numbered by the table of contents, and the prose refers to them by
cross-reference, so the numbers it prints are always the chapters' real numbers."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from scripts.link_chapter_references import BOOK, PAGES, chapter_files, label_of, link_markdown

TOC = yaml.safe_load((BOOK.parent / "_toc.yml").read_text())
CHAPTER_NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]*-*.ipynb"))


def markdown_of(path: Path) -> list[str]:
    if path.suffix == ".md":
        return [path.read_text()]
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]


def test_every_chapter_part_is_numbered_and_reference_parts_are_not():
    for part in TOC["parts"]:
        files = [entry["file"] for entry in part["chapters"]]
        has_chapter = any(re.match(r"book/\d\d", f) for f in files)
        assert part.get("numbered", False) == has_chapter, part["caption"]


@pytest.mark.parametrize("path", CHAPTER_NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_carries_its_label(path):
    assert markdown_of(path)[0].startswith(f"({label_of(path)})=\n")


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")) + [BOOK / p for p in PAGES],
                         ids=lambda p: p.name)
def test_prose_names_chapters_only_by_cross_reference(path):
    chapters = chapter_files()
    labels = {label_of(p) for p in CHAPTER_NOTEBOOKS}
    for source in markdown_of(path):
        assert link_markdown(source, chapters) == source, (
            f"{path.name} names a chapter by a typed number; run scripts/link_chapter_references.py")
        for target in re.findall(r"\{numref\}`[^`<]*<(chapter-[^>]+)>`", source):
            assert target in labels, f"{path.name}: no chapter is labelled {target}"
