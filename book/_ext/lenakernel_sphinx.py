"""Small fixes for the book's HTML build (a Sphinx extension, loaded from _config.yml).

1. Public names. The API page documents each function in its module
   (``lenakernel.smoothing.nadaraya_watson``) while readers, chapters and docstrings say
   ``lenakernel.nadaraya_watson``. A cross-reference to ``lenakernel.<name>`` (or to a
   bare ``<name>`` from inside the package) that Sphinx cannot find is resolved to the
   module that defines the object.
2. Repeated scripts. sphinx-thebe and sphinx-togglebutton add inline scripts after the
   HTML builder has started, so Sphinx 7 lists them twice; the second
   ``const THEBE_JS_URL`` is a JavaScript error on every page. Each page keeps one copy.
3. Launch buttons. The theme's Binder, Colab and JupyterHub buttons open the page's
   source notebook, written in MyST, which those tools show raw. Where the chapter has
   a reader edition (``reader/<name>.ipynb``, plain Jupyter markdown), they open that.
4. One search box per page (the theme shows two).
5. Accessibility (issue 16; tests/test_book_in_browser.py runs axe-core on every page):

   - myst-nb's hidden-cell toggles are ``<summary aria-label="Toggle hidden content">``
     around a visible "Show code cell source": a name that does not contain the visible
     text (axe: label-content-name-mismatch). Our summary has no aria-label, so its name
     is the prompt it shows.
   - The references page (sphinxcontrib-bibtex through Sphinx's citation HTML) lists its
     entries as ``role="list"`` holding ``role="doc-biblioentry"`` items: a role ARIA
     has deprecated, and a list without list items (aria-deprecated-role,
     aria-required-children). Each entry becomes a list item.
"""

from __future__ import annotations

import importlib
from html import escape
from pathlib import Path
from urllib.parse import quote

from myst_nb.sphinx_ import HideCodeCellNode
from sphinx.util.nodes import make_refnode

# The buttons of sphinx-book-theme's launch menu that open a notebook in a live kernel.
LAUNCHERS = {"Binder", "Colab", "JupyterHub", "Deepnote", "JupyterLite"}
READER = Path(__file__).resolve().parents[2] / "reader"


def _resolve_public_name(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    inside = str(node.get("py:module") or "").startswith("lenakernel")
    if not (target.startswith("lenakernel.") or inside):
        return None
    name, _, rest = target.removeprefix("lenakernel.").partition(".")
    package = importlib.import_module("lenakernel")
    for namespace in (package, package.checks):
        module = getattr(getattr(namespace, name, None), "__module__", None) or ""
        if not module.startswith("lenakernel"):
            continue
        if module.startswith("lenakernel.checks"):
            module = "lenakernel.checks"  # checkers are documented through the package
        full = ".".join(part for part in (module, name, rest) if part)
        found = env.get_domain("py").objects.get(full)
        if found is not None:
            return make_refnode(app.builder, node["refdoc"], found.docname, found.node_id,
                                contnode, full)
    return None


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # An inline script has filename None or "" depending on how it was added.
        key = (getattr(script, "filename", None) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _one_search_box(app, config):
    # The theme puts a search box in the sidebar and another in the header bar; one is
    # enough (and two read twice to a screen reader). _config.yml cannot set this key
    # without replacing every other theme option Jupyter Book derives from it.
    config.html_theme_options["navbar_persistent"] = []


def reader_edition_url(url: str, pagename: str) -> str:
    """``url`` (a launch button's) pointed at the reader edition of ``pagename``, if any."""
    name = pagename.rsplit("/", 1)[-1]
    if not (READER / f"{name}.ipynb").exists():
        return url
    source, edition = f"{pagename}.ipynb", f"reader/{name}.ipynb"
    for old, new in ((source, edition), (quote(source, safe=""), quote(edition, safe=""))):
        url = url.replace(old, new)
    return url


def _launch_reader_editions(app, pagename, templatename, context, doctree):
    def visit(buttons):
        for button in buttons:
            if not isinstance(button, dict):
                continue
            if button.get("text") in LAUNCHERS and "url" in button:
                button["url"] = reader_edition_url(button["url"], pagename)
            visit(button.get("buttons", []))

    visit(context.get("header_buttons", []))


def _visit_hidden_cell(self, node):
    # As myst-nb's visitor, without the summary's aria-label: the one prompt the reader
    # sees ("Show code cell source" or, opened, "Hide code cell source") names it.
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def _depart_hidden_cell(self, node):
    self.body.append("</details>\n")


def _bibliography_list_items(app, pagename, templatename, context, doctree):
    body = context.get("body") or ""
    if 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app):
    app.connect("config-inited", _one_search_box)
    # Drawn for the single-page build too (make pdf): myst-nb registers "html" only.
    hidden_cell = (_visit_hidden_cell, _depart_hidden_cell)
    app.add_node(HideCodeCellNode, override=True, html=hidden_cell, singlehtml=hidden_cell)
    app.connect("html-page-context", _bibliography_list_items)
    app.connect("missing-reference", _resolve_public_name)
    app.connect("html-page-context", _unique_scripts, priority=900)
    # After sphinx-book-theme adds its launch buttons (priority 501).
    app.connect("html-page-context", _launch_reader_editions, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
