"""Write the reader edition of every chapter: the notebook in plain Jupyter markdown.

The book's notebooks are written in MyST, which Jupyter, Colab and Binder do not
render. The reader edition of ``book/NN-name.ipynb`` is ``reader/NN-name.ipynb``, the
same notebook with

- every glued number (``{glue:text}`name:fmt` ``) replaced by its value, taken from the
  executed notebook's stored glue output and formatted as the book formats it;
- every directive turned into plain markdown: an exercise into a heading, an
  admonition or note into a block quote, ``{math}`` into ``$$`` display math;
- every role turned into a link to the published book (``{doc}``, ``{ref}``,
  ``{py:obj}``) or into author–year text (``{cite:p}``, ``{cite:t}``), with the cited
  works listed at the end;
- solutions folded: text in a ``<details>`` block, code cells collapsed (Jupyter's
  ``source_hidden`` and Colab's ``#@title Solution`` form);
- images beside the chapter linked by their address in the repository;
- cells hidden in the book (the glue bookkeeping) kept, so the notebook runs the same,
  with their code folded;
- all outputs cleared. The reader edition is for running: its first cell installs
  lenakernel on Colab, and a run takes seconds. The book shows the outputs; keeping a
  second copy of every figure here would double the repository's image weight with
  each ``make execute`` and add nothing a run does not give.

Anything this script does not know how to convert (a new directive or role) stops it
with an error naming the notebook and cell, rather than leaving raw markup behind.

Usage: python scripts/make_reader_editions.py [book/*.ipynb] [--out reader]
"""

from __future__ import annotations

import argparse
import ast
import codecs
import copy as copy_module
import functools
import importlib
import re
import sys
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec used for author names)
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
DEFAULT_OUT = ROOT / "reader"
GLUE_PREFIX = "application/papermill.record/"


class ConversionError(ValueError):
    """Markup that the reader edition cannot express (named with where it was found)."""


def _repository() -> tuple[str, str]:
    """(owner, name) of the course repository, from _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    owner, name = url.split("/")[-2:]
    return owner, name


OWNER, REPO = _repository()
# The published book (GitHub Pages of the repository): links for {doc}, {ref}, {py:obj}.
BOOK_URL = f"https://{OWNER.lower()}.github.io/{REPO}/"
COLAB_URL = f"https://colab.research.google.com/github/{OWNER}/{REPO}/blob/main/reader/"


# --------------------------------------------------------------------------- glue values

def format_glued_text(text: str, fmt_spec: str) -> str:
    """Format a glued text/plain value as myst-nb's ``{glue:text}`` role does."""
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if fmt_spec == "":
        return str(value)
    kind = fmt_spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, fmt_spec)


def glued_values(notebook) -> dict[str, dict]:
    """Every glued value of an executed notebook: name -> its mime bundle (prefix removed)."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if output.get("output_type") != "display_data" or not record:
                continue
            prefix = record.get("mime_prefix", "")
            values[record["name"]] = {
                mime[len(prefix):]: data for mime, data in output["data"].items()
                if mime.startswith(prefix)
            }
    return values


# --------------------------------------------------------------------------- the book's index

def _title_of(path: Path) -> str:
    """The first level-one heading of a notebook or markdown page."""
    if path.suffix == ".ipynb":
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                         if c.cell_type == "markdown")
    else:
        text = path.read_text()
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


@functools.lru_cache(maxsize=None)
def book_index() -> tuple[dict, dict]:
    """(documents, labels) of the book: doc name -> title; label -> (doc name, title)."""
    documents, labels = {}, {}
    for path in sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md")):
        doc = path.stem
        documents[doc] = _title_of(path)
        if path.suffix == ".ipynb":
            sources = [c.source for c in nbformat.read(path, as_version=4).cells
                       if c.cell_type == "markdown"]
        else:
            sources = [path.read_text()]
        for source in sources:
            for match in re.finditer(r"^\(([\w.-]+)\)=\s*\n+#+\s*(.*)$", source, re.M):
                labels[match.group(1)] = (doc, match.group(2).strip())
            for match in re.finditer(r"^\s*\$\$\s*\(([\w.-]+)\)\s*$", source, re.M):
                labels[match.group(1)] = (doc, "")
            for match in _DIRECTIVE_OPEN.finditer(source):
                block = source[match.end():]
                label = re.match(r"(?:\s*:\w[\w-]*:.*\n)*?\s*:label:\s*(\S+)", block)
                if label:
                    labels[label.group(1)] = (doc, match.group("argument").strip())
    return documents, labels


@functools.lru_cache(maxsize=None)
def chapter_numbers() -> dict:
    """doc name -> its chapter number, counted as the book counts them: the documents of
    the table of contents' numbered parts, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc.get("parts", []) if part.get("numbered")
             for entry in part["chapters"]]
    return {Path(f).name: number for number, f in enumerate(files, start=1)}


@functools.lru_cache(maxsize=None)
def bibliography():
    from pybtex.database import parse_file

    return parse_file(str(BOOK / "references.bib"))


def _plain(latex: str) -> str:
    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "")


def _authors_year(key: str) -> tuple[str, str]:
    try:
        entry = bibliography().entries[key]
    except KeyError:
        raise ConversionError(f"citation key {key!r} is not in book/references.bib") from None
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_plain(" ".join(p.prelast_names + p.last_names)) for p in people]
    if not names:
        authors = _plain(entry.fields.get("organization", entry.fields.get("title", key)))
    elif len(names) == 1:
        authors = names[0]
    elif len(names) == 2:
        authors = f"{names[0]} and {names[1]}"
    else:
        authors = f"{names[0]} et al."
    return authors, entry.fields.get("year", "n.d.")


def reference_list(keys) -> list[str]:
    """Markdown list items, one per cited work, in author–year order."""
    from pybtex.plugin import find_plugin

    style = find_plugin("pybtex.style.formatting", "plain")()
    data = bibliography()
    chosen = type(data)(entries={key: data.entries[key] for key in keys})
    items = []
    for entry in style.format_entries(chosen.entries.values()):
        authors, year = _authors_year(entry.key)
        text = entry.text.render_as("markdown").replace("\n", " ")
        items.append(((authors, year), f"- {text}"))
    return [text for _, text in sorted(items)]


def api_anchor(target: str) -> str | None:
    """The API page's anchor of a public lenakernel name, or None for another library's."""
    name = target.lstrip("~").removeprefix("lk.")
    if not name.startswith("lenakernel."):
        name = "lenakernel." + name
    parts = name.split(".")
    package = importlib.import_module("lenakernel")
    for namespace, rest in ((package, parts[1:]), (package.checks, parts[2:])):
        if not rest:
            continue
        obj = getattr(namespace, rest[0], None)
        module = getattr(obj, "__module__", None) or ""
        if module.startswith("lenakernel"):
            if module.startswith("lenakernel.checks"):
                module = "lenakernel.checks"
            return ".".join([module, *rest])
    return None


# --------------------------------------------------------------------------- MyST -> markdown

_DIRECTIVE_OPEN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<argument>.*)$",
    re.M)
_CODE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?!\{)")
_ROLE = re.compile(r"\{(?P<name>[A-Za-z][\w:.+-]*)\}`(?P<content>[^`]*)`")
_TITLED = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)

ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention",
               "danger", "error", "seealso"}


class Converter:
    """Converts the markdown cells of one notebook, collecting what it cites."""

    def __init__(self, doc: str, glue: dict):
        self.doc = doc
        self.glue = glue
        self.cited: list[str] = []
        self.where = doc

    # ---- blocks

    def convert(self, text: str) -> str:
        lines = text.split("\n")
        out: list[str] = []
        prose: list[str] = []  # plain lines, converted together (a role may span lines)

        def flush():
            if prose:
                out.append(self.inline("\n".join(prose)))
                prose.clear()

        i = 0
        while i < len(lines):
            line = lines[i]
            directive = _DIRECTIVE_OPEN.match(line)
            code = _CODE_OPEN.match(line)
            if directive:
                flush()
                end = self._closing(lines, i, directive.group("fence"))
                body = [l[len(directive.group("indent")):] for l in lines[i + 1:end]]
                out.append(self.directive(directive.group("name"),
                                          directive.group("argument").strip(), body))
                i = end + 1
            elif code:
                flush()
                try:
                    end = self._closing(lines, i, code.group("fence"))
                except ConversionError:
                    # CommonMark: an unclosed code fence runs to the end of the cell. An
                    # empty one is a stray fence (an empty code block in the book): dropped.
                    end = len(lines) - 1
                    if not "".join(lines[i + 1:]).strip():
                        print(f"make_reader_editions: {self.where}: stray code fence "
                              f"{line.strip()!r} at the end, dropped", file=sys.stderr)
                        i = len(lines)
                        continue
                out.extend(lines[i:end + 1])
                i = end + 1
            elif re.match(r"^\s*\$\$\s*\([\w.-]+\)\s*$", line):
                # The end of a labelled display equation: "$$ (label)".
                prose.append("$$")
                flush()
                out.append(f'<a id="{line.split("(")[1].split(")")[0]}"></a>')
                i += 1
            elif re.match(r"^\(([\w.-]+)\)=\s*$", line):
                flush()
                out.append(f'<a id="{line.strip()[1:-2]}"></a>')
                i += 1
            elif line.startswith("%") or line.strip() == "+++":
                i += 1  # a MyST comment or block break: nothing to show
            else:
                prose.append(line)
                i += 1
        flush()
        return "\n".join(out)

    def _closing(self, lines, start, fence):
        char, size = fence[0], len(fence)
        for j in range(start + 1, len(lines)):
            stripped = lines[j].strip()
            if stripped and set(stripped) == {char} and len(stripped) >= size:
                return j
        raise ConversionError(f"{self.where}: the fence opened by {lines[start]!r} is never closed")

    @staticmethod
    def _options(body):
        options, rest = {}, list(body)
        if rest and rest[0].strip() == "---":
            end = rest.index("---", 1)
            options = yaml.safe_load("\n".join(rest[1:end])) or {}
            rest = rest[end + 1:]
        while rest and re.match(r"^\s*:[\w-]+:", rest[0]):
            key, _, value = rest.pop(0).strip()[1:].partition(":")
            options[key] = value.strip()
        return options, "\n".join(rest).strip("\n")

    def directive(self, name, argument, body):
        options, text = self._options(body)
        anchor = f'<a id="{options["label"]}"></a>\n\n' if options.get("label") else ""
        if name == "exercise":
            title = self.inline(argument) if argument else ""
            heading = f"### Exercise: {title}" if title else "### Exercise"
            return f"{anchor}{heading}\n\n{self.convert(text)}"
        if name in ("solution-start", "solution-end"):
            return ""  # the folding of the solution's cells stands for these markers
        if name == "solution":
            return details("Solution", self.convert(text))
        if name == "admonition" or name in ADMONITIONS:
            title = self.inline(argument) if name == "admonition" else (
                "See also" if name == "seealso" else name.capitalize())
            inner = self.convert(text)
            if name != "admonition" and argument:
                inner = self.inline(argument) + ("\n\n" + inner if inner else "")
            block = f"**{title}**\n\n{inner}" if title else inner
            if "$$" in block:
                # Jupyter's math would see the "> " of a quote's lines: rules around instead.
                return f"{anchor}---\n\n{block}\n\n---"
            return anchor + quote(block)
        if name == "math":
            return f"{anchor}$$\n{text}\n$$"
        if name in ("glue", "glue:", "glue:any", "glue:figure", "glue:math", "glue:md"):
            return anchor + self.glue_block(name, argument, options, text)
        raise ConversionError(f"{self.where}: no plain-markdown form for the directive "
                              f"{{{name}}}; teach scripts/make_reader_editions.py one")

    # ---- inline

    def inline(self, text: str) -> str:
        return _ROLE.sub(lambda m: self.role(m.group("name"), m.group("content")), text)

    def role(self, name, content):
        titled = _TITLED.match(content)
        text, target = (titled.group("text"), titled.group("target")) if titled else (None, content)
        documents, labels = book_index()
        if name in ("glue", "glue:", "glue:text"):
            key, colon, fmt_spec = content.rpartition(":")
            if not colon:
                key, fmt_spec = content, "s"
            return format_glued_text(self._glued(key).get("text/plain", ""), fmt_spec)
        if name == "glue:md":
            key = content.split(":")[0]
            return self._glued(key).get("text/markdown", "")
        if name == "doc":
            doc = Path(target).name
            if doc not in documents:
                raise ConversionError(f"{self.where}: {{doc}}`{content}` names no page of the book")
            return f"[{text or documents[doc]}]({page_url(doc)})"
        if name in ("ref", "numref"):
            if target not in labels:
                raise ConversionError(f"{self.where}: {{{name}}}`{content}`: no such label")
            doc, title = labels[target]
            url = f"#{target}" if doc == self.doc else f"{page_url(doc)}#{target}"
            shown = text or title or target
            if name == "numref" and text and ("%s" in text or "{number}" in text):
                # A chapter's number, as the numbered table of contents gives it.
                if doc not in chapter_numbers():
                    raise ConversionError(f"{self.where}: {{numref}}`{content}`: {doc} is "
                                          "not a numbered chapter")
                number = str(chapter_numbers()[doc])
                shown = text.replace("%s", number).replace("{number}", number)
            return f"[{self.inline(shown)}]({url})"
        if name == "eq":
            if target not in labels:
                raise ConversionError(f"{self.where}: {{eq}}`{content}`: no such label")
            doc, _ = labels[target]
            url = f"#{target}" if doc == self.doc else f"{page_url(doc)}#{target}"
            return f"[{text or 'this equation'}]({url})"
        if name in ("cite", "cite:p", "cite:t"):
            keys = [key.strip() for key in target.split(",")]
            self.cited.extend(key for key in keys if key not in self.cited)
            found = [_authors_year(key) for key in keys]
            if name == "cite:t":
                return " and ".join(f"{authors} ({year})" for authors, year in found)
            return "(" + "; ".join(f"{authors}, {year}" for authors, year in found) + ")"
        if name.removeprefix("py:") in ("obj", "func", "class", "meth", "attr", "mod",
                                        "data", "exc", "const"):
            shown = text or (target.lstrip("~").split(".")[-1] if target.startswith("~")
                             else target)
            anchor = api_anchor(target)
            if anchor is None:
                return f"`{shown}`"
            return f"[`{shown}`]({BOOK_URL}book/api.html#{anchor})"
        if name == "math":
            return f"${content}$"
        if name in ("sub", "sup", "kbd"):
            return f"<{name}>{content}</{name}>"
        if name in ("term", "abbr", "dfn"):
            return f"*{text or target}*"
        raise ConversionError(f"{self.where}: no plain-markdown form for the role {{{name}}} "
                              f"(in {{{name}}}`{content}`); teach "
                              "scripts/make_reader_editions.py one")

    def _glued(self, key):
        if "::" in key:
            raise ConversionError(f"{self.where}: glue from another page ({key!r}) has no "
                                  "plain-markdown form; glue the value in this chapter")
        if key not in self.glue:
            raise ConversionError(f"{self.where}: no glued value named {key!r} in the executed "
                                  "notebook (run `make execute`)")
        return self.glue[key]

    def glue_block(self, name, argument, options, caption):
        bundle = self._glued(argument)
        if name == "glue:math":
            return f"$$\n{bundle.get('text/latex', '').strip().strip('$')}\n$$"
        if name == "glue:md":
            return bundle.get("text/markdown", "")
        for mime in ("image/png", "image/jpeg"):
            if mime in bundle:
                image = f'<img src="data:{mime};base64,{bundle[mime].strip()}" alt="{caption}">'
                return image + (f"\n\n*{self.convert(caption)}*" if caption else "")
        if "text/markdown" in bundle:
            return bundle["text/markdown"]
        return format_glued_text(bundle.get("text/plain", ""), "")


_LOCAL_IMAGE = re.compile(r"""(!\[[^\]]*\]\(|<img[^>]*\bsrc=["'])(?![a-z][\w+.-]*:|/|#)([^)"'\s]+)""")


def absolute_images(markdown: str) -> str:
    """Images next to the chapter (``figures/x.png``) by their address in the repository,
    so they show wherever the reader edition is opened (Colab opens it alone)."""
    raw = f"https://raw.githubusercontent.com/{OWNER}/{REPO}/main/book/"
    return _LOCAL_IMAGE.sub(lambda m: m.group(1) + raw + m.group(2), markdown)


def page_url(doc: str) -> str:
    return f"{BOOK_URL}book/{doc}.html"


def quote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.split("\n"))


def details(summary: str, text: str) -> str:
    return f"<details>\n<summary>{summary}</summary>\n\n{text}\n\n</details>"


# --------------------------------------------------------------------------- notebooks

def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _fold_code(cell, title: str | None = None):
    """Collapse a code cell in Jupyter (source_hidden) and, given a title, in Colab."""
    cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    if title:
        cell.metadata["cellView"] = "form"
        if not cell.source.startswith("#@title"):
            cell.source = f"#@title {title}\n" + cell.source


def reader_edition(notebook, doc: str):
    """Return the reader edition of ``notebook`` (executed chapter ``doc``); not in place."""
    edition = copy_module.deepcopy(notebook)
    converter = Converter(doc, glued_values(notebook))
    documents, _ = book_index()
    first_code = _first_code(edition)  # the install cell stays in view
    cells = []
    in_solution = False
    for index, cell in enumerate(edition.cells):
        converter.where = f"{doc}.ipynb, cell {index}"
        tags = _tags(cell)
        starts = cell.cell_type == "markdown" and "{solution-start}" in cell.source
        ends = cell.cell_type == "markdown" and "{solution-end}" in cell.source
        solution = "solution" in tags or in_solution or starts
        in_solution = (in_solution or starts) and not ends
        if cell.cell_type == "markdown":
            cell.source = absolute_images(converter.convert(cell.source).strip("\n"))
            if not cell.source.strip():
                continue  # only markers (a solution's start or end): nothing to show
            if solution:
                cell.source = details("Solution", cell.source)
        elif cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            if solution:
                _fold_code(cell, "Solution")
            elif cell is not first_code and "exercise-stub" not in tags and (
                    {"remove-cell", "remove-input", "hide-input", "hide-cell"} & set(tags)):
                _fold_code(cell)  # hidden in the book: kept (later cells may need it), folded
        if solution and "solution" not in tags:
            cell.metadata["tags"] = [*tags, "solution"]
        cells.append(cell)
    if in_solution:
        raise ConversionError(f"{doc}.ipynb: a {{solution-start}} has no {{solution-end}}")
    title = documents.get(doc, doc)
    note = nbformat.v4.new_markdown_cell(
        f"> *{title}* is a chapter of the course [Attention Is a Kernel Method]({BOOK_URL}); "
        f"this is its runnable edition ([the chapter in the book]({page_url(doc)})). Run the "
        "cells from the top: on Colab the first cell installs `lenakernel`, the course's "
        "package. Solutions are folded: open one only after trying the exercise.",
        metadata={"tags": ["reader-note"]})
    note["id"] = "reader-note"
    cells.insert(0, note)
    if converter.cited:
        references = nbformat.v4.new_markdown_cell(
            "## References\n\n" + "\n".join(reference_list(converter.cited)),
            metadata={"tags": ["reader-references"]})
        references["id"] = "reader-references"
        cells.append(references)
    edition.cells = cells
    edition.metadata.pop("widgets", None)
    edition.metadata["colab"] = {"provenance": [], "toc_visible": True}
    return edition


def _first_code(notebook):
    return next((c for c in notebook.cells if c.cell_type == "code"), None)


def write_each(paths, out: Path, transform) -> list[Path]:
    """Write ``transform(notebook, name)`` of each notebook in ``paths`` into ``out``, under
    the same file name; return the written paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in paths:
        path = Path(name)
        result = transform(nbformat.read(path, as_version=4), path.stem)
        nbformat.validate(result)
        target = out / path.name
        nbformat.write(result, target)
        written.append(target)
    return written


def make_reader_editions(paths, out: Path = DEFAULT_OUT) -> list[Path]:
    """Write the reader edition of each notebook in ``paths`` into ``out``."""
    return write_each(paths, out, reader_edition)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="executed chapters (default: every book/*.ipynb)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default: reader/)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(BOOK.glob("*.ipynb"))
    try:
        written = make_reader_editions(paths, args.out)
    except ConversionError as error:
        print(f"make_reader_editions: {error}", file=sys.stderr)
        return 1
    print(f"{len(written)} reader editions in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
