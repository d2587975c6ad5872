"""Check a built wheel the way a user meets it: install it into a clean virtual
environment (torch held at the book's pin, so no multi-GB CUDA build is pulled), and run
every docstring example of the installed package there, away from the checkout.

Usage: python scripts/check_dist.py dist/   (``make dist`` runs it after building)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Doctests draw figures and sliders: matplotlib and ipywidgets come with the
# `notebooks` extra; pytest runs the examples.
EXTRA = "notebooks"
TEST_TOOLS = ["pytest"]


def pins_as_constraints() -> str:
    """requirements.txt without the editable checkout: versions to hold, not to install."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return "\n".join(line for line in lines if "==" in line and not line.startswith("-")) + "\n"


def run(command, **kwargs):
    print("$", " ".join(map(str, command)), flush=True)
    subprocess.run(command, check=True, **kwargs)


def main(dist_dir: str) -> None:
    wheels = sorted(Path(dist_dir).glob("lenakernel-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"expected one lenakernel wheel in {dist_dir}; found {[w.name for w in wheels]}")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    with tempfile.TemporaryDirectory(prefix="lenakernel-dist-") as work:
        work = Path(work)
        constraints = work / "constraints.txt"
        constraints.write_text(pins_as_constraints())
        run([sys.executable, "-m", "venv", str(work / "venv")], env=env)
        python = work / "venv" / "bin" / "python"
        run([python, "-m", "pip", "install", "-q", "-c", constraints,
             f"{wheels[0].resolve()}[{EXTRA}]", *TEST_TOOLS], env=env)
        # Run from an empty folder, so the checkout cannot be imported by accident.
        run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--doctest-modules",
             "--pyargs", "lenakernel"], cwd=work, env={**env, "MPLBACKEND": "Agg"})
    print(f"{wheels[0].name}: installed cleanly and every docstring example passed")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dist")
