"""Every public docstring renders as numpydoc: napoleon parses it with no stray sections.

A line such as "Derived in chapter 2." placed after ``Returns`` is read by napoleon as
one more return value; a parameter missing from ``Parameters`` leaves a reader guessing.
Each public function and class of ``lenakernel`` (and each public method) is parsed with
``sphinx.ext.napoleon``'s ``NumpyDocstring``, as the API page is built.
"""

from __future__ import annotations

import inspect
import re

import pytest
from sphinx.ext.napoleon import Config
from sphinx.ext.napoleon.docstring import NumpyDocstring

import lenakernel
import lenakernel.reference

SECTIONS = {"Parameters", "Returns", "Yields", "Raises", "Warns", "Attributes", "Notes", "Examples",
            "See Also", "References", "Other Parameters", "Methods"}
HEADER = re.compile(r"^(\S[^\n]*)\n(-{3,})$", re.M)


def _documented():
    """(qualified name, object) for every public function, class and public method."""
    found = []
    modules = [("lenakernel", name) for name in lenakernel.__all__]
    modules += [("lenakernel.reference", name) for name in lenakernel.reference.__all__]
    for home, name in modules:
        obj = getattr(lenakernel if home == "lenakernel" else lenakernel.reference, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        found.append((name, obj))
        if inspect.isclass(obj) and not issubclass(obj, tuple):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    found.append((f"{name}.{attr}", member))
    return found


def _sections(doc):
    return [m.group(1).strip() for m in HEADER.finditer(doc)]


def _signature_parameters(obj):
    function = obj.__init__ if inspect.isclass(obj) else obj
    names = []
    for p in inspect.signature(function).parameters.values():
        if p.name in ("self", "cls"):
            continue
        names.append(("**" if p.kind is p.VAR_KEYWORD else "*" if p.kind is p.VAR_POSITIONAL else "") + p.name)
    return names


def _documented_parameters(doc):
    match = re.search(r"^Parameters\n-+\n(.*?)(?=^\S[^\n]*\n-{3,}$|\Z)", doc, re.M | re.S)
    if not match:
        return []
    names = []
    for line in match.group(1).splitlines():
        if line and not line.startswith(" "):
            names += [n.strip() for n in line.split(" : ")[0].split(",")]
    return names


@pytest.mark.parametrize("name, obj", _documented(), ids=[n for n, _ in _documented()])
def test_docstring_renders_without_stray_sections(name, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    sections = _sections(doc)
    assert set(sections) <= SECTIONS, f"{name}: unknown sections {set(sections) - SECTIONS}"
    assert len(sections) == len(set(sections)), f"{name}: a section appears twice: {sections}"
    rendered = str(NumpyDocstring(doc, Config(napoleon_use_rtype=False), what="function", name=name, obj=obj))
    # Text after Returns that napoleon would read as a return value or parameter.
    for field in re.findall(r"^:(?:returns|param \w+|type \w+):.*$", rendered, re.M):
        assert "Derived in chapter" not in field, f"{name}: 'Derived in chapter' parsed as a field: {field}"
    first = HEADER.search(doc)
    summary = doc if first is None else doc[: first.start()]
    home = getattr(obj, "__module__", "")
    derived = "." not in name and not home.endswith(("notebook", "viz", "reference")) and not (
        inspect.isclass(obj) and issubclass(obj, tuple))
    if derived:  # the package's mathematics names the chapter that derives it
        assert re.search(r"^Derived in chapters? ", summary, re.M), f"{name}: no 'Derived in chapter N.' line before the first section"
    if "." not in name and not (inspect.isclass(obj) and issubclass(obj, tuple)):  # results are shown by their makers
        assert "Examples" in sections, f"{name}: no Examples section"


@pytest.mark.parametrize("name, obj", [(n, o) for n, o in _documented() if not (inspect.isclass(o) and issubclass(o, tuple))],
                         ids=[n for n, o in _documented() if not (inspect.isclass(o) and issubclass(o, tuple))])
def test_parameters_section_matches_the_signature(name, obj):
    doc = inspect.getdoc(obj)
    expected = [p.lstrip("*") for p in _signature_parameters(obj)]
    documented = [p.lstrip("*") for p in _documented_parameters(doc)]
    if not expected:
        return
    missing = [p for p in expected if p not in documented]
    extra = [p for p in documented if p not in expected]
    assert not missing and not extra, f"{name}: undocumented {missing}, documented but not in the signature {extra}"
