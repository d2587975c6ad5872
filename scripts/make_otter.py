"""Write otter-grader coursework for each chapter: student notebook, autograder, solutions.

For every reader edition given (``reader/NN-name.ipynb``, written from the chapter by
scripts/make_reader_editions.py), this script writes ``<out>/NN-name/``:

- ``master/NN-name.ipynb``: otter's master notebook, generated from the chapter's
  exercise tags (CONTRIBUTING's six-cell layout), so the book itself carries no grading
  syntax. Each machine-checked exercise becomes a graded question named after its
  checker (``check_nadaraya_watson`` -> ``nadaraya_watson``): the exercise is the prompt,
  the stub is what the student starts from, the ``solution`` cell is the solution, and
  the check cell becomes three tests (see :func:`test_cells`):

  * public, 2 points: the exercise's checker, its friendly verdict as the feedback;
  * hidden, 1 point: the same checker on other random draws;
  * hidden, 1 point: edge cases (scripts/otter_edge_cases.py), or a third draw.

  Every test grades honestly (scripts/lk_grading.py): while the student's function
  runs, the lenakernel functions the exercise does not allow raise, so a function that
  only calls the package's answer scores 0 with a message saying why.
- ``student/NN-name.ipynb`` (and otter's ``tests/`` of public tests): the student
  notebook. Its first cell installs lenakernel on Colab (as every chapter's does); the
  next one installs otter-grader on Colab and writes the public tests and the grading
  helper beside the notebook when they are missing, so the notebook runs alone, on
  Colab, Binder or a laptop, and ``grader.check("nadaraya_watson")`` works everywhere.
- ``autograder/NN-name-autograder.zip``: otter's autograder (all tests, hidden ones
  included), for Gradescope or ``otter run`` (local grading without Docker).
- ``solution/NN-name.ipynb``: the same notebook with every solution in (the graded ones
  and the others), which the autograder gives full marks.

Usage: python scripts/make_otter.py reader/[0-9]*.ipynb [--out _build/assignments/otter]
"""

from __future__ import annotations

import argparse
import contextlib
import copy as copy_module
import io
import re
import shutil
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from otter_edge_cases import EDGE_CASES  # noqa: E402

DEFAULT_OUT = Path("_build/assignments/otter")
SUPPORT = HERE / "lk_grading.py"
OTTER_VERSION = "7.0.0"
REPOSITORY = "https://github.com/lenatriestounderstand/lenakernel"
SOLUTION_ONLY = "lk-solution-only"  # master cells that the student notebook leaves out
POINTS = {"public": 2, "seeds": 1, "edge": 1}

_CHECK_CALL = re.compile(r"^\s*lk\.checks\.(check_\w+)\(\s*(\w+)\s*\)\s*;?\s*$")
_TITLE_LINE = re.compile(r"^#@title.*\n?", re.M)

STUDENT_NOTE = """\
> **Coursework.** This is *{title}* as an assignment graded with
> [otter-grader](https://otter-grader.readthedocs.io). Each graded exercise has a cell
> that raises `NotImplementedError`: replace its body with your code and run it, then run
> the `grader.check("...")` cell below it, which prints the checker's verdict (what was
> tried, what was expected, what came back). **Keep the function and parameter names as
> written**, and use only the lenakernel functions the exercise allows: while your
> function is graded, the others raise an error.
> The grade also counts hidden tests (other random draws and edge cases) that you do not
> see here; a function that passes its visible check for the right reasons passes them too.
> Run the notebook from the top: on Colab the first two cells install `lenakernel` and
> otter-grader. When you are done, hand the notebook in as your instructor asks (the last
> cell says how)."""

SETUP_CELL = '''\
#@title Set up the autograder's checks
# On Colab, install otter-grader. Everywhere, write the public tests (tests/) and the
# grading helper (lk_grading.py) beside this notebook when they are missing, then start
# otter: `grader.check("name")` runs the visible tests of one exercise.
import os
import sys

if "google.colab" in sys.modules:
    import importlib.metadata
    import importlib.util
    import subprocess
    import tempfile

    if importlib.util.find_spec("otter") is None:
        # Change nothing Colab has: every installed package is pinned as it is. If
        # otter-grader's requirements would change one, install otter-grader and only
        # the modules it imports that are missing, without their dependencies.
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as _pins:
            _pins.write("\\n".join(f"{{d.metadata['Name']}}=={{d.version}}"
                                  for d in importlib.metadata.distributions()))
        _pip = [sys.executable, "-m", "pip", "install", "-q"]
        _otter = "otter-grader=={otter_version}"
        if subprocess.run(_pip + ["-c", _pins.name, _otter], capture_output=True).returncode:
            _needed = {{"fica": "fica", "ipylab": "ipylab<2", "frontmatter": "python-frontmatter<2",
                       "wrapt": "wrapt<2", "dill": "dill", "jupytext": "jupytext<2"}}
            _missing = [pkg for mod, pkg in _needed.items() if importlib.util.find_spec(mod) is None]
            subprocess.run(_pip + ["--no-deps", _otter, *_missing], check=True)

_GRADING_FILES = {{
{files}}}
for _path, _text in _GRADING_FILES.items():
    if not os.path.exists(_path):
        os.makedirs(os.path.dirname(_path) or ".", exist_ok=True)
        with open(_path, "w", encoding="utf-8") as _file:
            _file.write(_text)

import otter

grader = otter.Notebook({notebook_arg})'''

HAND_IN_MARKDOWN = """\
## Handing in

Save the notebook, then hand it in as your instructor asks: on Gradescope, upload this
`.ipynb` file (on Colab: *File > Download > Download .ipynb*); elsewhere the cell below
also writes a zip of it for the course's collection folder. The autograder runs the
whole notebook from the top, so check first that *Restart and run all* works."""

HAND_IN_CODE = """\
# Writes a zip of this notebook for handing in (not on Colab: download the .ipynb there).
if "google.colab" not in sys.modules:
    grader.export(pdf=False, run_tests=False)"""


@dataclass
class Exercise:
    """A machine-checked exercise found in a notebook: the indices of its cells."""

    prompt: int
    stub: int
    check: int
    checker: str
    function: str
    solutions: list = field(default_factory=list)  # code cells tagged solution
    notes: list = field(default_factory=list)  # markdown cells tagged solution

    @property
    def question(self) -> str:
        return self.checker.removeprefix("check_")


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def find_exercises(notebook) -> list[Exercise]:
    """The machine-checked exercises of ``notebook``, from the six-cell layout's tags."""
    cells = notebook.cells
    found = []
    for stub, cell in enumerate(cells):
        if cell.cell_type != "code" or "exercise-stub" not in _tags(cell):
            continue
        match = None
        for check in range(stub + 1, len(cells)):
            match = _CHECK_CALL.match(cells[check].source) if cells[check].cell_type == "code" else None
            if match:
                break
            if "exercise-stub" in _tags(cells[check]):
                match = None
                break
        if not match:
            raise ValueError(f"exercise stub in cell {stub} has no check cell `lk.checks.check_...(...)`")
        between = range(stub + 1, check)
        prompt = stub - 1
        if cells[prompt].cell_type != "markdown":
            raise ValueError(f"exercise stub in cell {stub} does not follow the exercise's text")
        found.append(Exercise(
            prompt=prompt, stub=stub, check=check, checker=match.group(1), function=match.group(2),
            solutions=[i for i in between if cells[i].cell_type == "code" and "solution" in _tags(cells[i])],
            notes=[i for i in between if cells[i].cell_type == "markdown" and "solution" in _tags(cells[i])]))
    return found


def _raw(text: str):
    return nbformat.v4.new_raw_cell(text)


def _test_cell(config: dict, function: str, params: str, body: str):
    lines = ['""" # BEGIN TEST CONFIG']
    lines += [f"{key}: {value}" for key, value in config.items()]
    lines += ['""" # END TEST CONFIG', f"def {function}({params}):", textwrap.indent(body.strip("\n"), "    ")]
    return nbformat.v4.new_code_cell("\n".join(lines))


def test_cells(exercise: Exercise) -> list:
    """The question's tests: public checker, hidden other draws, hidden edge cases."""
    fn, check = exercise.function, exercise.checker
    cells = [_test_cell(
        {"points": POINTS["public"], "hidden": "false",
         "failure_message": f'"Public test: lk.checks.{check}, the check you see in the notebook."'},
        "test_public", fn,
        f'"""The exercise\'s checker, with the lenakernel functions it does not allow blocked."""\n'
        f"from lk_grading import grade\n\ngrade({check!r}, {fn})")]
    cells.append(_test_cell(
        {"points": POINTS["seeds"], "hidden": "true",
         "failure_message": '"Hidden test: the same checks on other random draws."'},
        "test_other_draws", fn,
        f'"""The checker again, every random case drawn anew."""\n'
        f"from lk_grading import grade\n\ngrade({check!r}, {fn}, seed_offset=1)"))
    edge = EDGE_CASES.get(check)
    if edge:
        body = ('"""Edge cases the visible check does not try."""\n'
                "import numpy as np\n\nimport lenakernel as lk\n"
                "from lenakernel.checks._core import Between\nfrom lk_grading import grade_cases\n"
                f"{edge['source']}\n"
                f"grade_cases({check!r}, {fn}, reference, cases, exercise={edge['exercise']!r}"
                f"{', call=call' if 'def call(' in edge['source'] else ''})")
        message = '"Hidden test: edge cases the visible check does not try."'
    else:
        body = (f'"""The checker on a third set of random draws."""\n'
                f"from lk_grading import grade\n\ngrade({check!r}, {fn}, seed_offset=2)")
        message = '"Hidden test: the same checks on a third set of random draws."'
    cells.append(_test_cell({"points": POINTS["edge"], "hidden": "true", "failure_message": message},
                            "test_edge_cases", fn, body))
    return cells


def _solution_cell(notebook, exercise: Exercise):
    """One code cell: the stub as otter's prompt, the solution code as the solution."""
    stub = notebook.cells[exercise.stub].source.rstrip()
    solution = "\n\n\n".join(_TITLE_LINE.sub("", notebook.cells[i].source, count=1).strip("\n")
                             for i in exercise.solutions)
    if not solution:
        raise ValueError(f"exercise {exercise.question} has no solution code cell")
    source = f'""" # BEGIN PROMPT\n{stub}\n""" # END PROMPT\n# BEGIN SOLUTION NO PROMPT\n{solution}\n# END SOLUTION'
    return nbformat.v4.new_code_cell(source)


def assignment_config(name: str, version: str) -> str:
    requirements = requirements_for_autograder(version)
    listed = "\n".join(f"  - {line!r}" for line in requirements)
    return f"""# ASSIGNMENT CONFIG
name: {name}
init_cell: false
check_all_cell: false
export_cell: false
run_tests: false
solutions_pdf: false
template_pdf: false
python_version: "3.11"
files:
  - lk_grading.py
requirements:
{listed}
generate:
  pdf: false
  show_stdout: false
  show_hidden: false
tests:
  files: true
  ok_format: false
"""


def _pins() -> dict:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def requirements_for_autograder(version: str) -> list[str]:
    """What Gradescope's image installs: the chapters' imports, torch's CPU build, lenakernel."""
    pins = _pins()
    lines = ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    for name in ("torch", "numpy", "scipy", "matplotlib", "ipywidgets", "tqdm", "pandas"):
        if name in pins:
            suffix = "+cpu" if name == "torch" else ""
            lines.append(f"{name}=={pins[name]}{suffix}")
    lines.append(f"lenakernel @ git+{REPOSITORY}@v{version}")
    return lines


def master_notebook(notebook, name: str, version: str):
    """Otter's master notebook for ``notebook`` (a reader edition), which is not changed."""
    notebook = copy_module.deepcopy(notebook)
    exercises = find_exercises(notebook)
    by_cell = {}
    for exercise in exercises:
        for role, indices in (("prompt", [exercise.prompt]), ("stub", [exercise.stub]),
                              ("check", [exercise.check]), ("solution", exercise.solutions),
                              ("note", exercise.notes)):
            for i in indices:
                by_cell[i] = (role, exercise)
    cells = [_raw(assignment_config(name, version))]
    notes = {exercise.question: [] for exercise in exercises}  # shown after the question's tests
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        role, exercise = by_cell.get(i, (None, None))
        if role is None:
            if "solution" in _tags(cell):
                cell.metadata["tags"] = _tags(cell) + [SOLUTION_ONLY]
            cells.append(cell)
        elif role == "prompt":
            cells += [_raw(f"# BEGIN QUESTION\nname: {exercise.question}"), cell, _raw("# BEGIN SOLUTION"),
                      _solution_cell(notebook, exercise), _raw("# END SOLUTION")]
        elif role == "note":
            cell.metadata["tags"] = _tags(cell) + [SOLUTION_ONLY]
            notes[exercise.question].append(cell)
        elif role == "check":
            cells += [_raw("# BEGIN TESTS"), *test_cells(exercise), _raw("# END TESTS"),
                      _raw("# END QUESTION"), *notes[exercise.question]]
    notebook.cells = cells
    notebook.metadata.pop("widgets", None)
    return notebook, exercises


def _files_literal(files: dict) -> str:
    """``files`` as the body of a dict literal, each file's text one quoted line per line."""
    out = []
    for path, text in files.items():
        out.append(f"    {path!r}: (\n")
        out += [f"        {line!r}\n" for line in text.splitlines(keepends=True)]
        out.append("    ),\n")
    return "".join(out)


def setup_cell(name: str, public_tests: dict) -> nbformat.NotebookNode:
    files = {"lk_grading.py": SUPPORT.read_text(), **public_tests}
    source = SETUP_CELL.format(
        otter_version=OTTER_VERSION, files=_files_literal(files),
        notebook_arg=f'"{name}.ipynb" if os.path.exists("{name}.ipynb") else None')
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.update({"cellView": "form", "jupyter": {"source_hidden": True}, "tags": ["otter-setup"]})
    return cell


def _title(notebook, fallback: str) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def finish_notebook(notebook, name: str, public_tests: dict, *, student: bool):
    """Otter's output notebook, made self-sufficient: note, setup cell, hand-in cells."""
    cells = []
    for cell in notebook.cells:
        tags = _tags(cell)
        if student and SOLUTION_ONLY in tags:
            continue
        if "reader-note" in tags:
            continue
        if SOLUTION_ONLY in tags:
            cell.metadata["tags"] = [t for t in tags if t != SOLUTION_ONLY]
        cells.append(cell)
    note = nbformat.v4.new_markdown_cell(STUDENT_NOTE.format(title=_title(notebook, name)))
    note.metadata["tags"] = ["student-note"]
    first_code = next(i for i, c in enumerate(cells) if c.cell_type == "code")
    cells.insert(first_code + 1, setup_cell(name, public_tests))
    cells = [note, *cells, nbformat.v4.new_markdown_cell(HAND_IN_MARKDOWN),
             nbformat.v4.new_code_cell(HAND_IN_CODE)]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.cells = cells
    return notebook


def _strip_prompts(notebook):
    """The solution notebook: drop otter's quoted prompt (the stub) above each solution."""
    prompt = re.compile(r'^""" # BEGIN PROMPT\n.*?\n""" # END PROMPT\n', re.S)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = prompt.sub("", cell.source)
            cell.source = re.sub(r"^# (BEGIN|END) SOLUTION( NO PROMPT)?\n?", "", cell.source, flags=re.M)
    return notebook


def package_version() -> str:
    sys.path.insert(0, str(ROOT))
    import lenakernel

    return lenakernel.__version__


def make_otter(paths, out: Path = DEFAULT_OUT, quiet: bool = True) -> list[Path]:
    """Write the otter coursework of each notebook in ``paths``; return the chapter folders."""
    from otter.assign import main as otter_assign

    out = Path(out).resolve()
    version = package_version()
    written = []
    for path in map(Path, paths):
        name = path.stem
        notebook = nbformat.read(path, as_version=4)
        master, exercises = master_notebook(notebook, name, version)
        if not exercises:
            continue
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        (target / "master").mkdir(parents=True)
        master_path = target / "master" / f"{name}.ipynb"
        nbformat.write(master, master_path)
        shutil.copy2(SUPPORT, target / "master" / SUPPORT.name)
        with tempfile.TemporaryDirectory() as scratch:
            dist = Path(scratch) / "dist"
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
                otter_assign(str(master_path), str(dist), no_pdfs=True, no_run_tests=True)
            public = {f"tests/{p.name}": p.read_text() for p in sorted((dist / "student" / "tests").glob("*.py"))}
            student = nbformat.read(dist / "student" / f"{name}.ipynb", as_version=4)
            solution = nbformat.read(dist / "autograder" / f"{name}.ipynb", as_version=4)
            nbformat.write(finish_notebook(student, name, public, student=True), dist / "student" / f"{name}.ipynb")
            (target / "solution").mkdir()
            nbformat.write(_strip_prompts(finish_notebook(solution, name, public, student=False)),
                           target / "solution" / f"{name}.ipynb")
            zips = sorted((dist / "autograder").glob("*.zip"))
            shutil.copytree(dist / "student", target / "student")
            (target / "autograder").mkdir()
            shutil.copy2(zips[-1], target / "autograder" / f"{name}-autograder.zip")
            shutil.copytree(dist / "autograder" / "tests", target / "autograder" / "tests")
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="the reader editions, e.g. reader/[0-9]*.ipynb")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    written = make_otter(args.notebooks, args.out)
    questions = sum(len(list((folder / "autograder" / "tests").glob("*.py"))) for folder in written)
    print(f"otter coursework for {len(written)} chapters ({questions} graded questions) in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
