"""Every chapter and every student copy runs on a simulated Colab runtime.

Colab opens one notebook alone, in an empty folder, in an environment with its own
preinstalled packages and none of the book's toolchain. The slow tests here build that
environment as a virtual environment (cached under ``_build/``, keyed by what is in it),
with a stub ``google.colab`` imported at start-up so the notebooks take their Colab
branch, then

- install lenakernel as the first cell of a chapter does, with the cell's release URL
  pointed at a wheel built from this checkout (the rewrite is asserted), offline;
- run each reader edition (reader/*.ipynb) and each student copy (made by
  scripts/make_assignments.py from the reader editions) alone in an empty folder, with
  nbclient from this environment and the kernel from the Colab one, with no network:
  a chapter may raise nothing; a student copy may raise only the ``NotImplementedError``
  of its unsolved stubs, and each check cell must say "not solved" instead of crashing.

The time of each run goes to ``_build/colab-runtime-times.json``. The quick tests check
the install cell itself: the version it pins, and that it does nothing off Colab.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
BOOK_NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
READER_NOTEBOOKS = sorted((ROOT / "reader").glob("*.ipynb"))
CHAPTERS = [p for p in READER_NOTEBOOKS if p.name[:2].isdigit()]
KERNEL = "colab-sim"
TIMES = ROOT / "_build" / "colab-runtime-times.json"

sys.path.insert(0, str(SCRIPTS))
import make_assignments  # noqa: E402
import write_install_cell  # noqa: E402


def _pin(name: str) -> str:
    """``name==version`` as requirements.txt pins it, or the bare name if it is not there."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.lower().startswith(name.lower() + "=="):
            return line.strip()
    return name


# What Colab preinstalls that a chapter may use (numpy, torch, matplotlib, ipywidgets,
# tqdm, scipy, pandas) plus the kernel machinery every Colab runtime has (ipykernel,
# which brings IPython). Versions follow requirements.txt where it pins them; torch is
# the CPU build (from PyTorch's CPU index: on the public index this pin is the multi-GB
# CUDA build). Deliberately absent: myst-nb, jupyter-book, nbval, nbclient, pytest: the
# book's toolchain, which Colab does not have.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
COLAB_PACKAGES = [_pin(name) for name in
                  ("numpy", "torch", "matplotlib", "ipywidgets", "tqdm", "scipy", "pandas",
                   "ipykernel")]
COLAB_PACKAGES = [p.split("+")[0] + "+cpu" if p.startswith("torch==") else p
                  for p in COLAB_PACKAGES]
ABSENT = ["myst_nb", "jupyter_book", "nbval", "lenakernel"]

# Importing google.colab is what tells a notebook it is on Colab. On Colab the module is
# imported before the first cell runs; a .pth file does the same here.
STUB = '"""A stand-in for Colab\'s google.colab package (tests/test_colab_runtime.py)."""\n'


def _clean_env(venv: Path, offline: bool = True) -> dict:
    """The environment of the Colab venv's processes: no checkout on the path, no network."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "JUPYTER_PATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    if offline:
        # pip finds nothing on an index, and any web request is refused at once.
        env["PIP_NO_INDEX"] = "1"
        for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env[proxy] = "http://127.0.0.1:9"
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
    return env


def _run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


def install_with_cpu_torch(python: Path, arguments: list[str], env: dict):
    """``pip install arguments``; torch's CPU build from PyTorch's CPU index if need be.

    The index is asked only when the CPU build is not found otherwise (a local wheel
    cache has it): where that index cannot be reached, every lookup there is retried.
    """
    command = [str(python), "-m", "pip", "install", "-q", *arguments]
    install = _run(command, env=env, timeout=1800)
    if install.returncode != 0 and "torch" in install.stderr:
        install = _run([*command, "--extra-index-url", TORCH_CPU_INDEX], env=env, timeout=1800)
    return install


def _build_colab_venv(venv: Path) -> None:
    made = _run([sys.executable, "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    install = install_with_cpu_torch(python, COLAB_PACKAGES, _clean_env(venv, offline=False))
    assert install.returncode == 0, (install.stdout + install.stderr)[-3000:]
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())
    (site / "google" / "colab").mkdir(parents=True, exist_ok=True)
    (site / "google" / "colab" / "__init__.py").write_text(STUB)
    (site / "colab_stub.pth").write_text("import google.colab\n")
    kernel = _run([str(python), "-m", "ipykernel", "install", "--prefix", str(venv),
                   "--name", KERNEL, "--display-name", "Python 3 (simulated Colab)"],
                  env=_clean_env(venv))
    assert kernel.returncode == 0, kernel.stderr
    # Matplotlib builds its font cache on first use (and says so on stderr): do it now.
    warm = _run([str(python), "-c", "import matplotlib.pyplot"], env=_clean_env(venv))
    assert warm.returncode == 0, warm.stderr
    (venv / "ready").write_text("\n".join(COLAB_PACKAGES))


@pytest.fixture(scope="session")
def colab_venv(tmp_path_factory):
    """The simulated Colab runtime, with lenakernel installed by a chapter's first cell."""
    key = hashlib.sha256("\n".join([sys.version, STUB, *COLAB_PACKAGES]).encode()).hexdigest()[:12]
    venv = ROOT / "_build" / f"colab-venv-{key}"
    if not (venv / "ready").exists():
        for stale in venv.parent.glob("colab-venv-*"):  # built for another package set
            shutil.rmtree(stale, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        _build_colab_venv(venv)
    python = venv / "bin" / "python"
    env = _clean_env(venv)
    # Start from a runtime without lenakernel, as Colab is, whatever an earlier run left.
    _run([str(python), "-m", "pip", "uninstall", "-y", "-q", "lenakernel"], env=env)
    missing = _run([str(python), "-c", "import importlib.util as u, sys; "
                    f"print([m for m in {ABSENT!r} if u.find_spec(m)]); "
                    "print('google.colab' in sys.modules)"], env=env, cwd=venv)
    assert missing.stdout.split("\n")[:2] == ["[]", "True"], missing.stdout + missing.stderr

    # The release the install cell would fetch from GitHub, built from this checkout.
    wheels = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                  "-w", str(wheels), str(ROOT)])
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("lenakernel-*.whl"))

    work = tmp_path_factory.mktemp("install")
    cell = local_install_cell(BOOK_NOTEBOOKS[0], wheel)
    started = time.perf_counter()
    notebook = nbformat.v4.new_notebook(cells=[cell])
    _execute(notebook, work, env)
    install_seconds = time.perf_counter() - started
    assert not _errors(notebook.cells[0]), _errors(notebook.cells[0])
    assert notebook.cells[0].outputs == [], "the install cell printed something"
    where = _run([str(python), "-c", "import lenakernel; print(lenakernel.__version__); "
                  "print(lenakernel.__file__)"], env=env, cwd=work)
    version, location = where.stdout.split()[:2]
    assert version == write_install_cell.package_version()
    assert location.startswith(str(venv)), f"lenakernel imported from {location}"
    _record("install lenakernel (first cell)", install_seconds)
    return {"venv": venv, "env": env, "wheel": wheel}


def local_install_cell(path: Path, wheel: Path):
    """The first code cell of ``path``, its GitHub release URL pointed at ``wheel``."""
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    return _point_at(cell, wheel)


def _point_at(cell, wheel: Path):
    pattern = r'f"lenakernel @ \{LENAKERNEL_GIT\}@v\{LENAKERNEL_VERSION\}"'
    source, count = re.subn(pattern, lambda _: repr(f"lenakernel @ {wheel.as_uri()}"), cell.source)
    assert count == 1, "the install cell no longer installs from the release URL: update this test"
    cell.source = source
    return cell


def _execute(notebook, workdir: Path, env: dict):
    from nbclient import NotebookClient

    client = NotebookClient(notebook, timeout=900, kernel_name=KERNEL, allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}})
    # The kernelspec lives in the Colab venv; the kernel runs with that venv's env.
    before = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(Path(env["PATH"].split(os.pathsep)[0]).parent / "share" / "jupyter")
    try:
        client.execute(env=env)
    finally:
        if before is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = before
    return notebook


def _errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def _stream(cell, name):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.name == name)


def _record(name, seconds):
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times[name] = round(seconds, 1)
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


def _run_alone(path: Path, colab_venv, tmp_path, label):
    """Copy ``path`` alone into an empty folder and run it there on the Colab runtime."""
    work = tmp_path / "colab"
    work.mkdir()
    notebook = nbformat.read(path, as_version=4)
    first = next(c for c in notebook.cells if c.cell_type == "code")
    _point_at(first, colab_venv["wheel"])
    nbformat.write(notebook, work / path.name)
    started = time.perf_counter()
    _execute(notebook, work, colab_venv["env"])
    _record(f"{label} {path.stem}", time.perf_counter() - started)
    return notebook


# --------------------------------------------------------------------------- quick tests

@pytest.mark.parametrize("path", BOOK_NOTEBOOKS + READER_NOTEBOOKS,
                         ids=[f"{p.parent.name}/{p.stem}" for p in BOOK_NOTEBOOKS + READER_NOTEBOOKS])
def test_install_cell_pins_the_package_version(path):
    import lenakernel

    cell = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert f'LENAKERNEL_VERSION = "{lenakernel.__version__}"' in cell.source, (
        "the install cell pins another version: run python scripts/write_install_cell.py")
    assert cell.source == write_install_cell.install_cell_source()
    assert "remove-cell" in cell.metadata.get("tags", [])


def _run_install_cell(monkeypatch, on_colab, installed, pip_results):
    import importlib.metadata

    calls = []

    def fake_pip(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, pip_results[len(calls) - 1], "", "no luck")

    def fake_version(name):
        if installed is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed

    monkeypatch.setattr(subprocess, "run", fake_pip)
    monkeypatch.setattr(importlib.metadata, "version", fake_version)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(write_install_cell.install_cell_source("9.8.7"), {})
    return calls


def test_install_cell_does_nothing_off_colab(monkeypatch, capsys):
    assert _run_install_cell(monkeypatch, False, None, []) == []
    assert capsys.readouterr() == ("", "")


def test_install_cell_on_colab_tries_pypi_then_the_release_tag(monkeypatch):
    calls = _run_install_cell(monkeypatch, True, None, [1, 0])
    specs = [command[-1] for command in calls]
    assert specs == ["lenakernel==9.8.7",
                     "lenakernel @ git+https://github.com/lenatriestounderstand/lenakernel@v9.8.7"]
    for command in calls:  # lenakernel alone: nothing upgraded, torch never named
        assert command[2:5] == ["pip", "install", "-q"] and len(command) == 6
    assert _run_install_cell(monkeypatch, True, "9.8.7", []) == []        # already there
    assert len(_run_install_cell(monkeypatch, True, "0.0.1", [0])) == 1   # another version
    with pytest.raises(RuntimeError, match="Could not install lenakernel 9.8.7"):
        _run_install_cell(monkeypatch, True, None, [1, 1])


# --------------------------------------------------------------------------- slow tests

@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("assignments")
    make_assignments.make_assignments(CHAPTERS, out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", READER_NOTEBOOKS, ids=[p.stem for p in READER_NOTEBOOKS])
def test_chapter_runs_alone_on_colab(path, colab_venv, tmp_path):
    notebook = _run_alone(path, colab_venv, tmp_path, "reader")
    problems = []
    for index, cell in enumerate(notebook.cells):
        for error in _errors(cell):
            problems.append(f"cell {index}: {error.ename}: {error.evalue}\n{cell.source[:300]}")
        if _stream(cell, "stderr").strip():
            problems.append(f"cell {index} wrote to stderr: {_stream(cell, 'stderr')[:300]}")
    assert not problems, f"{path.name} on the simulated Colab runtime:\n" + "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_student_copy_runs_alone_on_colab(path, colab_venv, student_dir, tmp_path):
    notebook = _run_alone(student_dir / path.name, colab_venv, tmp_path, "student")
    stubs = 0
    for index, cell in enumerate(notebook.cells):
        tags = cell.metadata.get("tags", [])
        for error in _errors(cell):
            assert "exercise-stub" in tags and error.ename == "NotImplementedError", (
                f"cell {index} raised {error.ename}: {error.evalue}\n{cell.source[:300]}")
        stubs += "exercise-stub" in tags
        if cell.cell_type == "code" and "lk.checks.check_" in cell.source and stubs:
            said = _stream(cell, "stdout").lower()
            assert "not solved" in said or "not checked" in said, (
                f"check cell {index} did not say 'not solved':\n{said[:500]}")
