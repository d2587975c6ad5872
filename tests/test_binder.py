"""Binder's configuration (binder/, which repo2docker prefers to the repository's root)
installs torch's CPU build and otherwise exactly the pins of requirements.txt.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

sys.path.insert(0, str(ROOT / "scripts"))
import make_requirements  # noqa: E402


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line.split("#")[0].strip())
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_binder_uses_python_311():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_binder_installs_the_cpu_build_of_torch():
    text = (BINDER / "requirements.txt").read_text()
    assert f"--extra-index-url {CPU_INDEX}" in text.splitlines()
    torch = _pins(BINDER / "requirements.txt")["torch"]
    assert torch.endswith("+cpu"), f"Binder's torch pin {torch} is not the CPU build"


def test_binder_pins_agree_with_requirements():
    root, binder = _pins(ROOT / "requirements.txt"), _pins(BINDER / "requirements.txt")
    assert set(root) == set(binder), f"only in one of them: {sorted(set(root) ^ set(binder))}"
    differ = {name: (root[name], binder[name]) for name in root
              if binder[name] != root[name] and not (name == "torch" and
                                                     binder[name] == root[name].split("+")[0] + "+cpu")}
    assert not differ, f"pins differ (requirements.txt, binder/requirements.txt): {differ}"


def test_binder_installs_lenakernel_and_is_generated():
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    assert "-e ." in lines  # repo2docker runs pip from the repository's root
    expected = make_requirements.binder_requirements((ROOT / "requirements.txt").read_text())
    assert (BINDER / "requirements.txt").read_text() == expected, (
        "binder/requirements.txt is stale: run python scripts/make_requirements.py --binder-only")


def test_requirements_comment_does_not_promise_a_cpu_torch():
    header = "\n".join(l for l in (ROOT / "requirements.txt").read_text().splitlines()
                       if l.startswith("#"))
    assert "is the CPU build;" not in header
    assert "CUDA build" in header and "binder/requirements.txt" in header
