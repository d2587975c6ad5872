"""A release a class can pin: one version everywhere, a citation that validates, and
a wheel that installs cleanly (``make dist``)."""

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

import lenakernel

ROOT = Path(__file__).resolve().parents[1]
VERSION = lenakernel.__version__


def test_the_version_is_written_in_one_place():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"], "pyproject.toml must read the version, not state it"
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lenakernel._version.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)


def test_changelog_and_citation_name_the_current_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    newest = re.search(r"^## \[(\d+\.\d+\.\d+)\]", changelog, flags=re.M)
    assert newest and newest.group(1) == VERSION, "CHANGELOG.md's newest section must be this version"
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(VERSION)}$", citation, flags=re.M)


def _make(target):
    return subprocess.run(["make", target], cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_citation_cff_validates_against_the_cff_schema():
    made = _make("_build/release-venv/.installed-stamp")
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    checked = subprocess.run([str(ROOT / "_build/release-venv/bin/cffconvert"), "--validate",
                              "-i", str(ROOT / "CITATION.cff")],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_make_dist_builds_checks_and_installs_the_wheel():
    made = _make("dist")
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    built = sorted(p.name for p in (ROOT / "dist").iterdir())
    assert built == [f"lenakernel-{VERSION}-py3-none-any.whl", f"lenakernel-{VERSION}.tar.gz"]
    assert "every docstring example passed" in made.stdout


def test_the_introduction_cites_the_current_version():
    intro = (ROOT / "book" / "intro.md").read_text()
    cited = re.findall(r"version\s*=\s*\{([^}]*)\}", intro)
    assert cited == [VERSION], f"book/intro.md's citation names {cited}; the package is {VERSION}"


def test_install_instructions_pin_the_current_release():
    documents = [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md"))]
    for path in documents:
        text = path.read_text()
        assert "lenakernel@main" not in text, f"{path.name} installs from main, which moves"
        for version in re.findall(r"lenakernel(?:@v|==)(\d+\.\d+\.\d+)", text):
            assert version == VERSION, f"{path.name} installs {version}; the package is {VERSION}"
