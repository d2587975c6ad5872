"""The book's accessibility fixes in its Sphinx extension (book/_ext/lenakernel_sphinx.py).

The browser test checks the built pages with axe-core; these check the two HTML fixes
directly and fast, without building the book.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("myst_nb")

_PATH = Path(__file__).resolve().parents[1] / "book" / "_ext" / "lenakernel_sphinx.py"
_SPEC = importlib.util.spec_from_file_location("lenakernel_sphinx", _PATH)
ext = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ext)


def test_reference_entries_become_list_items():
    body = ('<div role="list" class="citation-list">'
            '<div class="citation" id="a" role="doc-biblioentry">A</div>'
            '<div class="citation" id="b" role="doc-biblioentry">B</div></div>')
    context = {"body": body}
    ext._bibliography_list_items(None, "book/references", "page.html", context, None)
    assert "doc-biblioentry" not in context["body"]
    assert context["body"].count('role="listitem"') == 2


def test_pages_without_references_are_left_alone():
    context = {"body": '<p role="note">text</p>'}
    ext._bibliography_list_items(None, "book/intro", "page.html", context, None)
    assert context["body"] == '<p role="note">text</p>'


def test_hidden_cell_toggle_is_named_by_its_visible_prompt():
    translator = SimpleNamespace(body=[])
    node = {"classes": ["tag_hide-input"], "prompt_show": "Show code cell source",
            "prompt_hide": "Hide code cell <source>"}
    ext._visit_hidden_cell(translator, node)
    ext._depart_hidden_cell(translator, node)
    html = "".join(translator.body)
    assert "aria-label" not in html
    assert "<summary>" in html and html.count("</summary>") == 1
    assert "Show code cell source" in html
    assert "Hide code cell &lt;source&gt;" in html  # escaped
    assert html.startswith('<details class="admonition hide tag_hide-input">')
    assert html.rstrip().endswith("</details>")
