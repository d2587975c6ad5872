"""Write requirements.txt from the environment in .venv: direct dependencies first,
then every transitive dependency, all pinned with ==. Then write Binder's copy,
binder/requirements.txt: the same pins, with torch's CPU build from PyTorch's CPU
wheel index (on the public package index, torch for Linux is the CUDA build).

Run after adding a package: ``.venv/bin/python scripts/make_requirements.py``.
``--binder-only`` rewrites binder/requirements.txt from requirements.txt alone.
"""

import subprocess
import sys
from pathlib import Path

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
BINDER_HEADER = [
    "# Binder's environment (repo2docker prefers this folder to the repository's root).",
    "# Written by scripts/make_requirements.py from requirements.txt: the same pins, except",
    "# that torch is the CPU build from PyTorch's CPU wheel index (the public index's",
    "# torch for Linux is the CUDA build, several GB). tests/test_binder.py checks the pins.",
    "# repo2docker runs pip from the repository's root, so `-e .` below is lenakernel.",
    f"--extra-index-url {TORCH_CPU_INDEX}",
]


def binder_requirements(requirements: str) -> str:
    """binder/requirements.txt for the text of requirements.txt."""
    lines = []
    for line in requirements.splitlines():
        if line.startswith("#") and not lines:
            continue  # requirements.txt's own header
        if line.startswith("torch=="):
            line = line.split("+")[0] + "+cpu"
        lines.append(line)
    return "\n".join([*BINDER_HEADER, *lines]) + "\n"


DIRECT = [
    "jupyter-book", "torch", "numpy", "scipy", "matplotlib", "ipywidgets", "ipykernel",
    "nbclient", "nbformat", "nbval", "pytest", "pytest-xdist", "hypothesis", "tqdm",
    "sphinx-exercise", "sphinxcontrib-bibtex", "sphinx-mathjax-offline", "playwright", "pypdf",
    "otter-grader",
]


def pinned_requirements() -> str:
    """requirements.txt for the packages installed in this interpreter's environment."""
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    pins = {line.split("==")[0].lower().replace("_", "-"): line for line in frozen if "==" in line}
    pins.pop("lenakernel", None)
    # A local version label (torch 2.13.0+cpu) does not exist on PyPI; == ignores it anyway.
    direct = [pins.pop(name).split("+")[0] for name in DIRECT]
    lines = [
        "# The book's environment, every package pinned: `make book` and `make test` install",
        "# it into .venv. Regenerate with scripts/make_requirements.py after adding a package.",
        "# torch: on the public package index this pin is the CUDA build for Linux (several",
        "# GB); on macOS, Windows and machines with a local CPU wheel it is a CPU build.",
        f"# For a CPU-only Linux install, pin torch==X+cpu from {TORCH_CPU_INDEX}",
        "# as Binder's copy, binder/requirements.txt, does.",
        *direct,
        "",
        "# The package itself, editable, so a notebook sees changes at once.",
        "-e .",
        "",
        "# Transitive dependencies.",
        *sorted(pins.values(), key=str.lower),
        "",
    ]
    return "\n".join(lines)


def main(argv) -> int:
    if argv != ["--binder-only"]:
        Path("requirements.txt").write_text(pinned_requirements())
    Path("binder/requirements.txt").write_text(binder_requirements(Path("requirements.txt").read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
