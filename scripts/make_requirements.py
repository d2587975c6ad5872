"""Write requirements.txt from the environment in .venv: direct dependencies first,
then every transitive dependency, all pinned with ==.

Run after adding a package: ``.venv/bin/python scripts/make_requirements.py``.
"""

import subprocess
import sys
from pathlib import Path

DIRECT = [
    "jupyter-book", "torch", "numpy", "scipy", "matplotlib", "ipywidgets", "ipykernel",
    "nbclient", "nbformat", "nbval", "pytest", "pytest-xdist", "hypothesis", "tqdm",
    "sphinx-exercise", "sphinxcontrib-bibtex", "sphinx-mathjax-offline", "playwright", "pypdf",
]

frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                        capture_output=True, text=True, check=True).stdout.splitlines()
pins = {line.split("==")[0].lower().replace("_", "-"): line for line in frozen if "==" in line}
pins.pop("lenakernel", None)
# A local version label (torch 2.13.0+cpu) does not exist on PyPI; == ignores it anyway.
direct = [pins.pop(name).split("+")[0] for name in DIRECT]
lines = [
    "# The book's environment, every package pinned. Binder reads this file;",
    "# `make book` and `make test` install it into .venv. Regenerate with",
    "# scripts/make_requirements.py after adding a package.",
    "# torch 2.13.0 is the CPU build; another version pulls a multi-GB CUDA build.",
    *direct,
    "",
    "# The package itself, editable, so a notebook sees changes at once.",
    "-e .",
    "",
    "# Transitive dependencies.",
    *sorted(pins.values(), key=str.lower),
    "",
]
Path("requirements.txt").write_text("\n".join(lines))
