"""The Python floor the documents state is the one the pinned environment needs.

The floor is derived from the ``Requires-Python`` metadata of every package pinned in
requirements.txt (as installed in the running environment, which ``make test`` builds
from that file), then compared with pyproject.toml and with every "Python 3.N or newer"
in the documents a reader follows.
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
# Every Python 3 release up to 3.19.30, in order: a floor may sit at a patch release
# (soupsieve 3 and 4 need 3.11.5), which "Python 3.11 or newer" would misstate.
CANDIDATES = [(minor, micro) for minor in range(8, 20) for micro in range(31)]
DOCUMENTS = ["README.md", "book/intro.md", "book/instructors.md", "CONTRIBUTING.md"]


def pinned_packages():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


def lowest_python(specifier: SpecifierSet) -> tuple[int, int]:
    """The first Python 3 release, as (minor, micro), that the specifier admits."""
    for minor, micro in CANDIDATES:
        if specifier.contains(f"3.{minor}.{micro}", prereleases=True):
            return minor, micro
    raise AssertionError(f"no Python 3 release admitted by {specifier}")


def test_every_pinned_package_is_installed_at_its_pin():
    wrong = {}
    for name, version in pinned_packages().items():
        installed = metadata.version(name)
        if installed.split("+")[0] != version:
            wrong[name] = (version, installed)
    assert not wrong, f"installed versions differ from requirements.txt: {wrong}"


def pinned_floor():
    needs = {}
    for name in pinned_packages():
        requires = metadata.metadata(name).get("Requires-Python")
        if requires:
            needs[name] = lowest_python(SpecifierSet(requires))
    return max(needs.values()), needs


def test_pyproject_states_the_floor_the_pins_need():
    floor, needs = pinned_floor()
    stated = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert lowest_python(SpecifierSet(stated)) == floor, (
        f"pyproject says {stated!r}; the pins need 3.{floor[0]}.{floor[1]} "
        f"({sorted(n for n, m in needs.items() if m == floor)})")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_documents_state_the_same_floor(document):
    floor, _ = pinned_floor()
    text = (ROOT / document).read_text()
    # "Python 3.11 or newer" claims 3.11.0; "Python 3.11.5 or newer" claims 3.11.5.
    stated = {(int(minor), int(micro or 0))
              for minor, micro in re.findall(r"Python 3\.(\d+)(?:\.(\d+))? or newer", text)}
    assert stated <= {floor}, f"{document} states {stated} (minor, micro); the floor is {floor}"
    if document == "README.md":
        assert stated == {floor}, "README.md must state the Python floor"
