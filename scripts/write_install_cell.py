"""Write the install cell, the first code cell of every notebook under book/.

On Colab (and only there) the cell installs the lenakernel release the chapter was
written for, when it is missing or another version is installed: from PyPI if it is
there, else from the release's tag in the course repository. lenakernel's dependencies
are lower bounds that Colab's preinstalled numpy, torch and tqdm already meet, so pip
leaves them alone: torch is never reinstalled, nothing is downgraded. Everywhere else
the cell does nothing and prints nothing.

The pinned version is read from the package (``lenakernel.__version__``), so bumping the
version and running this script updates every chapter. The cell's outputs are left as
they are (the cell prints nothing), so no notebook needs re-executing.

Usage: python scripts/write_install_cell.py [book/*.ipynb] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "https://github.com/lenatriestounderstand/lenakernel"

TEMPLATE = '''\
# On Colab, install the lenakernel release this chapter was written for. Elsewhere
# (the book, Binder, a laptop with `make`) this cell does nothing.
import sys

LENAKERNEL_VERSION = "{version}"
LENAKERNEL_GIT = "git+{repository}"
if "google.colab" in sys.modules:
    import importlib.metadata
    import subprocess

    try:
        installed = importlib.metadata.version("lenakernel")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != LENAKERNEL_VERSION:
        # lenakernel asks only for numpy, torch and tqdm at versions Colab already has,
        # so pip installs lenakernel alone: torch is never reinstalled or downgraded.
        for source in [f"lenakernel=={{LENAKERNEL_VERSION}}",
                       f"lenakernel @ {{LENAKERNEL_GIT}}@v{{LENAKERNEL_VERSION}}"]:
            pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", source],
                                 capture_output=True, text=True)
            if pip.returncode == 0:
                break
        else:
            raise RuntimeError(
                f"Could not install lenakernel {{LENAKERNEL_VERSION}}:\\n{{pip.stderr}}")'''


def package_version() -> str:
    """The version of the lenakernel in this checkout (read from the package itself)."""
    sys.path.insert(0, str(ROOT))
    try:
        import lenakernel
    finally:
        sys.path.pop(0)
    return lenakernel.__version__


def install_cell_source(version: str | None = None) -> str:
    """The source of the install cell for ``version`` (default: this checkout's)."""
    return TEMPLATE.format(version=version or package_version(), repository=REPOSITORY)


def is_install_cell(cell) -> bool:
    """Whether ``cell`` is an install cell (this one or an earlier form of it)."""
    return cell.cell_type == "code" and "google.colab" in cell.source and "pip" in cell.source


def write_install_cell(notebook, source: str) -> bool:
    """Make ``source`` the first code cell of ``notebook``; return whether it changed.

    An existing install cell is replaced in place; otherwise the cell is inserted before
    the first code cell. Either way it carries the tag ``remove-cell`` (hidden in the book).
    """
    code = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    if code and is_install_cell(notebook.cells[code[0]]):
        cell = notebook.cells[code[0]]
        tags = cell.metadata.get("tags", [])
        if cell.source == source and "remove-cell" in tags:
            return False
        cell.source = source
        if "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        return True
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell"]})
    notebook.cells.insert(code[0] if code else len(notebook.cells), cell)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to update (default: every book/*.ipynb)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; fail if a notebook's install cell is out of date")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    source = install_cell_source()
    stale = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        if write_install_cell(notebook, source):
            stale.append(path)
            if not args.check:
                nbformat.validate(notebook)
                nbformat.write(notebook, path)
    if args.check and stale:
        print("install cell out of date in: " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    print(f"{len(paths)} notebooks, {len(stale)} {'stale' if args.check else 'updated'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
