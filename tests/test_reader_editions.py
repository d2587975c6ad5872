"""Tests for the reader editions (scripts/make_reader_editions.py, reader/*.ipynb) and the
student copies made from them: plain Jupyter markdown, with no MyST markup left.

The reader editions are committed; `make execute` regenerates them. A test regenerates
them into a temporary folder and compares, so a stale copy fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
BOOK_NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
READER = ROOT / "reader"
READER_NOTEBOOKS = sorted(READER.glob("*.ipynb"))

sys.path.insert(0, str(SCRIPTS))
import make_assignments  # noqa: E402
import make_reader_editions as reader  # noqa: E402

# What must never reach a reader: MyST roles and directives, rendered as CommonMark.
LEFTOVER = {
    "a glued value": re.compile(r"\{glue"),
    "a MyST role": re.compile(r"\{[A-Za-z][\w:.+-]*\}<code>"),
    "a colon-fence directive": re.compile(r":::+\s*\{"),
    "a doc/ref/cite/py role": re.compile(r"\{(doc|ref|numref|eq|cite[:\w]*|py:\w+)\}"),
}


def _tags(cell):
    return list(cell.get("metadata", {}).get("tags", []))


def problems_in(notebook) -> list[str]:
    """What a CommonMark renderer would show raw, in the markdown cells of ``notebook``."""
    renderer = MarkdownIt("commonmark")
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for token in renderer.parse(cell.source):
            if token.type == "fence" and token.info.strip().startswith("{"):
                found.append(f"cell {index}: a directive fence ```{token.info.strip()}")
        html = renderer.render(cell.source)
        for what, pattern in LEFTOVER.items():
            for match in pattern.finditer(html):
                found.append(f"cell {index}: {what}: ...{html[max(0, match.start() - 40):match.end() + 40]}...")
    return found


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("reader")
    result = subprocess.run([sys.executable, str(SCRIPTS / "make_reader_editions.py"),
                             *map(str, BOOK_NOTEBOOKS), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("assignments")
    chapters = [p for p in READER_NOTEBOOKS if p.name[:2].isdigit()]
    make_assignments.make_assignments(chapters, out)
    return out


def test_every_notebook_has_a_reader_edition():
    assert [p.name for p in READER_NOTEBOOKS] == [p.name for p in BOOK_NOTEBOOKS]


@pytest.mark.parametrize("source", BOOK_NOTEBOOKS, ids=[p.stem for p in BOOK_NOTEBOOKS])
def test_reader_edition_is_up_to_date(source, regenerated):
    committed = READER / source.name
    assert committed.read_bytes() == (regenerated / source.name).read_bytes(), (
        f"reader/{source.name} is stale: run `make execute` (or "
        f"python scripts/make_reader_editions.py) and commit reader/")


@pytest.mark.parametrize("path", READER_NOTEBOOKS, ids=[p.stem for p in READER_NOTEBOOKS])
def test_reader_edition_is_plain_markdown(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert not problems_in(notebook), "\n".join(problems_in(notebook))


@pytest.mark.parametrize("path", [p for p in READER_NOTEBOOKS if p.name[:2].isdigit()],
                         ids=[p.stem for p in READER_NOTEBOOKS if p.name[:2].isdigit()])
def test_student_copy_is_plain_markdown(path, student_dir):
    notebook = nbformat.read(student_dir / path.name, as_version=4)
    assert not problems_in(notebook), "\n".join(problems_in(notebook))
    assert not [c for c in notebook.cells if "solution" in _tags(c)]


@pytest.mark.parametrize("path", READER_NOTEBOOKS, ids=[p.stem for p in READER_NOTEBOOKS])
def test_reader_edition_folds_solutions_and_keeps_code(path):
    edition = nbformat.read(path, as_version=4)
    original = nbformat.read(ROOT / "book" / path.name, as_version=4)
    for cell in edition.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        if "solution" not in _tags(cell):
            continue
        if cell.cell_type == "markdown":
            assert cell.source.startswith("<details>") and cell.source.endswith("</details>")
        else:
            assert cell.source.startswith("#@title Solution\n")
            assert cell.metadata["cellView"] == "form"
            assert cell.metadata["jupyter"]["source_hidden"] is True
    # Every code cell of the chapter is there, in order (solutions carry a title line).
    code = [c.source.removeprefix("#@title Solution\n") for c in edition.cells
            if c.cell_type == "code"]
    assert code == [c.source for c in original.cells if c.cell_type == "code"]
    assert edition.cells[0].metadata["tags"] == ["reader-note"]
    assert "widgets" not in edition.metadata


def test_glued_numbers_are_formatted_as_the_book_does():
    assert reader.format_glued_text("0.123456", ".3g") == "0.123"
    assert reader.format_glued_text("12345.0", ",.0f") == "12,345"
    assert reader.format_glued_text("64", "s") == "64"
    assert reader.format_glued_text("64", ".0f") == "64"
    assert reader.format_glued_text("'a text'", "s") == "a text"


def _notebook_with(markdown, glue=None):
    cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell(markdown)]
    if glue:
        output = nbformat.v4.new_output(
            "display_data", data={reader.GLUE_PREFIX + "text/plain": glue[1]},
            metadata={"scrapbook": {"name": glue[0], "mime_prefix": reader.GLUE_PREFIX}})
        cells[0].outputs = [output]
    return nbformat.v4.new_notebook(cells=cells)


def _converted(markdown, glue=None):
    edition = reader.reader_edition(_notebook_with(markdown, glue), "00-test")
    return edition.cells[2].source


def test_roles_and_directives_become_markdown():
    text = _converted("The value is {glue:text}`ch0_x:.2f` (see {doc}`01-nadaraya-watson`, "
                      "{cite:t}`vaswani2017` and {py:obj}`lk.nadaraya_watson "
                      "<lenakernel.nadaraya_watson>`).\n\n"
                      ":::{admonition} Remember\n:class: tip\nA {cite:p}`vaswani2017` note.\n:::\n\n"
                      "```{math}\nx = 1\n```", glue=("ch0_x", "3.14159"))
    assert "The value is 3.14 (see [" in text
    assert "01-nadaraya-watson.html)" in text and "Vaswani et al. (2017)" in text
    assert "[`lk.nadaraya_watson`](" in text and "api.html#lenakernel." in text
    assert "> **Remember**" in text and "> A (Vaswani et al., 2017) note." in text
    assert "$$\nx = 1\n$$" in text
    boxed = _converted("```{note}\nSee\n\n$$\ny = 2\n$$\n```")
    assert boxed == "---\n\n**Note**\n\nSee\n\n$$\ny = 2\n$$\n\n---"  # no "> " inside math


def test_unknown_markup_fails_loudly():
    with pytest.raises(reader.ConversionError, match="directive"):
        _converted("```{figure} picture.png\nA caption.\n```")
    with pytest.raises(reader.ConversionError, match="role"):
        _converted("An {unknownrole}`thing`.")
    with pytest.raises(reader.ConversionError, match="glued value"):
        _converted("A {glue:text}`ch0_missing:.2f` value.")
    with pytest.raises(reader.ConversionError, match="references.bib"):
        _converted("A {cite:p}`nosuchkey2099` claim.")


def test_local_images_are_linked_from_the_repository():
    text = _converted('![a sketch](figures/sketch.png) <img src="figures/b.svg"> '
                      '![web](https://example.org/c.png)')
    raw = "https://raw.githubusercontent.com/lenatriestounderstand/lenakernel/main/book/"
    assert f"![a sketch]({raw}figures/sketch.png)" in text
    assert f'<img src="{raw}figures/b.svg">' in text
    assert "![web](https://example.org/c.png)" in text


def test_labelled_equations_keep_an_anchor():
    text = _converted("$$\nx = 1\n$$ (eq-one)\n\nSee above.")
    assert text == '$$\nx = 1\n$$\n<a id="eq-one"></a>\n\nSee above.'


def test_a_role_may_span_lines():
    text = _converted("As {cite:t}`vaswani2017` and {py:obj}`lk.nadaraya_watson\n"
                      "<lenakernel.nadaraya_watson>` show.")
    assert text.startswith("As Vaswani et al. (2017) and [`lk.nadaraya_watson`](")


def test_code_inside_plain_fences_is_left_alone():
    text = _converted("```python\nprint('{doc}`x`')\n```")
    assert text == "```python\nprint('{doc}`x`')\n```"


def test_launch_buttons_open_the_reader_edition():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import lenakernel_sphinx

    page = "book/03-the-gaussian-connection"
    base = "https://github.com/lenatriestounderstand/lenakernel"
    context = {"header_buttons": [{"type": "group", "buttons": [
        {"text": "Binder", "url": f"https://mybinder.org/v2/gh/o/r/main?urlpath=tree/{page}.ipynb"},
        {"text": "Colab", "url": f"https://colab.research.google.com/github/o/r/blob/main/{page}.ipynb"},
        {"text": "JupyterHub", "url": "https://hub/hub/user-redirect/git-pull?repo=x&urlpath="
                                      "tree%2Fr%2Fbook%2F03-the-gaussian-connection.ipynb"},
    ]}, {"text": "Download", "url": f"{base}/{page}.ipynb"}]}
    lenakernel_sphinx._launch_reader_editions(None, page, "page.html", context, None)
    binder, colab, hub = context["header_buttons"][0]["buttons"]
    assert binder["url"].endswith("urlpath=tree/reader/03-the-gaussian-connection.ipynb")
    assert colab["url"].endswith("/blob/main/reader/03-the-gaussian-connection.ipynb")
    assert hub["url"].endswith("tree%2Fr%2Freader%2F03-the-gaussian-connection.ipynb")
    assert context["header_buttons"][1]["url"].endswith(f"{page}.ipynb")  # not a launcher
    # A page without a reader edition keeps the theme's URL.
    assert lenakernel_sphinx.reader_edition_url("x/book/intro.ipynb", "book/intro") == "x/book/intro.ipynb"
