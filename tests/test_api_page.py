"""The API reference page (book/api.md) covers every public name of lenakernel.

Two checks: api.md documents, with ``:members:``, every module that defines a public
name (always run); and the built page _build/html/book/api.html has an entry for every
public name (run when a build newer than api.md exists, skipped otherwise).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import lenakernel
import lenakernel.checks

ROOT = Path(__file__).resolve().parents[1]
API_SOURCE = ROOT / "book" / "api.md"
API_HTML = ROOT / "_build" / "html" / "book" / "api.html"


def _public_objects():
    """(name, object) for every name in lenakernel.__all__ and lenakernel.checks.__all__."""
    found = [(name, getattr(lenakernel, name)) for name in lenakernel.__all__]
    found += [(f"checks.{name}", getattr(lenakernel.checks, name)) for name in lenakernel.checks.__all__]
    return found


def _home(name, obj):
    """The module that defines a public name: its ``__module__``, or the module whose
    ``__all__`` lists it (for constants, which have no ``__module__``)."""
    module = getattr(obj, "__module__", None)
    if module is None:
        module = next((m for m, mod in sorted(sys.modules.items())
                       if m.startswith("lenakernel.") and name in getattr(mod, "__all__", ())), None)
    # Checkers live in lenakernel.checks.chapterNN and are documented through the
    # package lenakernel.checks, which re-exports them in its __all__.
    if module and module.startswith("lenakernel.checks"):
        module = "lenakernel.checks"
    return module


def _automodules_with_members(text):
    """Module names that api.md documents with ``automodule`` and ``:members:``."""
    modules = set()
    for block in re.findall(r"```\{eval-rst\}\n(.*?)```", text, flags=re.S):
        for module, options in re.findall(r"\.\. automodule:: (\S+)\n((?:[ \t]+:.*\n?)*)", block):
            if re.search(r":members:", options):
                modules.add(module)
    return modules


def test_public_names_are_unique():
    names = [name for name, _ in _public_objects()]
    assert len(names) == len(set(names))


def test_api_source_covers_every_public_name():
    documented = _automodules_with_members(API_SOURCE.read_text())
    missing = []
    for name, obj in _public_objects():
        module = _home(name.split(".")[-1], obj)
        if module not in documented:
            missing.append(f"{name} (from {module})")
    assert not missing, f"book/api.md has no `automodule ... :members:` for: {missing}"


def test_every_package_module_is_on_the_page():
    documented = _automodules_with_members(API_SOURCE.read_text())
    expected = {f"lenakernel.{m}" for m in ("kernels", "smoothing", "attention", "metric_learning", "training",
                                           "in_context", "feature_maps", "linear", "favor",
                                           "random_feature_smoothing", "feature_error", "checks", "viz",
                                           "notebook")}
    assert expected <= documented, f"missing from book/api.md: {sorted(expected - documented)}"


def test_built_page_has_an_entry_for_every_public_name():
    if not API_HTML.exists():
        pytest.skip("the book is not built: run `make book` (or the browser test) first")
    sources = [API_SOURCE, *(ROOT / "lenakernel").rglob("*.py")]
    if API_HTML.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        pytest.skip("the built api.html is older than book/api.md or the package: "
                    "rebuild with `make book`")
    html = API_HTML.read_text(encoding="utf-8")
    missing = []
    for name, obj in _public_objects():
        short = name.split(".")[-1]
        module = _home(short, obj)
        if f'id="{module}.{short}"' not in html:
            missing.append(f"{module}.{short}")
    assert not missing, f"no entry in the built API page for: {missing}"
