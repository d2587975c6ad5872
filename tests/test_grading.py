"""The otter-grader coursework that scripts/make_otter.py writes from the reader editions.

Quick tests build the coursework of every chapter into a temporary folder and check:
the student notebook carries no solution, sets itself up alone (on a simulated Colab
too) and its ``grader.check`` works; every test of every question, run in this process
on the functions of the chapter's solutions, gives full marks; a seeded wrong answer per
chapter scores partial marks with the checker's hint as feedback; a function that wraps
the package's answer scores 0 on its question, with a message saying why.

Slow tests grade whole notebooks the way an instructor does, with ``otter run`` (no
Docker): per chapter the solution notebook (full marks), the untouched student notebook
(0, no crash), the wrong answer (partial marks, actionable feedback) and the wrapper
(0 on that question). The seconds each grading takes go to
``_build/otter-grading-times.json``.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

pytest.importorskip("otter")
# otter 7.0 calls DataFrame.drop(inplace=True), which pandas 3.1 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop")

from otter.test_files import ExceptionTestFile  # noqa: E402

import lenakernel as lk  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
import make_otter  # noqa: E402

READER = sorted((ROOT / "reader").glob("[0-9][0-9]*-*.ipynb"))
CHAPTERS = [path for path in READER if make_otter.find_exercises(nbformat.read(path, as_version=4))]
TIMES = ROOT / "_build" / "otter-grading-times.json"

# A plausible wrong answer per chapter: (function it replaces, its source, text the
# feedback must contain). Where a chapter has one graded question, the slip is one the
# visible check cannot see but a hidden test does, so the marks are partial there too.
WRONG = {
    "01": ("my_nadaraya_watson", """
def my_nadaraya_watson(x_train, y_train, x_query, bandwidth):
    weights = np.exp(-0.5 * ((x_query[:, None] - x_train[None, :]) / bandwidth) ** 2)
    return weights @ y_train  # an unnormalised kernel
""", "divide by their sum"),
    "02": ("my_attention", """
def my_attention(q, k, v):
    scores = k @ q  # no 1 / sqrt(d)
    weights = np.exp(scores - scores.max())
    return (weights / weights.sum()) @ v
""", "sqrt(d)"),
    "03": ("qk_norm_attention", """
def qk_norm_attention(q, k, v, temperature):
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    weights = np.exp(q @ k.T / temperature)  # no maximum subtracted: overflows when sharp
    return weights / weights.sum(axis=-1, keepdims=True) @ v
""", "exp overflow"),
    "04": ("my_metric_smoother", """
def my_metric_smoother(x_train, y_train, x_query, metric):
    diff = (x_query[:, None, :] - x_train[None, :, :]) @ metric  # metric, not metric.T
    logits = -0.5 * (diff**2).sum(axis=-1)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights @ y_train / weights.sum(axis=1)
""", "metric.T"),
    "05": ("my_in_context_head", """
def my_in_context_head(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    def lift(x):
        return np.stack([x, x**2, np.ones_like(x)], axis=-1)

    q, k = lift(x_query) @ w_query.T, lift(x_context) @ w_key.T
    v = np.concatenate([lift(x_context), y_context[..., None]], axis=-1) @ w_value
    scores = q @ np.swapaxes(k, -1, -2) / temperature  # no sqrt(d_k)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return (weights @ v[..., None])[..., 0]
""", "sqrt(d_k)"),
    "05b": ("my_multi_head_attention", """
def my_multi_head_attention(x, w_query, w_key, w_value, w_out):
    out = 0.0
    for c in range(len(w_query)):
        q, k, v = x @ w_query[c].T, x @ w_key[c].T, x @ w_value[c].T
        weights = np.exp(q @ k.T / np.sqrt(q.shape[-1]))  # no maximum subtracted: overflows
        out = out + (weights / weights.sum(axis=1, keepdims=True)) @ v @ w_out[c].T
    return out
""", "exp overflow"),
    "06": ("my_linear_attention", """
def my_linear_attention(q, k, v):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    return phi_q @ (np.swapaxes(phi_k, -1, -2) @ v)  # never divided by the normaliser
""", "normaliser"),
    "07": ("my_fourier_features", """
def my_fourier_features(x, projection, bandwidth):
    angles = x @ projection.T * bandwidth  # times h, not divided by h
    return np.concatenate([np.cos(angles), np.sin(angles)], axis=-1) / np.sqrt(len(projection))
""", "divide the angles by the bandwidth"),
    "08": ("my_causal_linear_attention", """
def my_causal_linear_attention(q, k, v):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    return phi_q @ (phi_k.T @ v) / (phi_q @ phi_k.sum(axis=0))[:, None]  # sees the future
""", "non-causal"),
    "09": ("min_quadratic_form", """
def min_quadratic_form(matrix):
    return float(np.min(np.linalg.eigvals(matrix).real))  # eigenvalues of A, not of its symmetric part
""", "symmetric part"),
}

# Per chapter, a function that only calls the package's answer to an exercise.
WRAPPERS = {
    "01": ("my_nadaraya_watson", """
def my_nadaraya_watson(x_train, y_train, x_query, bandwidth):
    return lk.nadaraya_watson(x_train, y_train, x_query, bandwidth=bandwidth)
"""),
    "02": ("my_attention", """
def my_attention(q, k, v):
    return lk.softmax_attention(q[None, :], k, v)[0]
"""),
    "03": ("qk_norm_attention", """
def qk_norm_attention(q, k, v, temperature):
    unit_q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    unit_k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    return lk.gaussian_attention(unit_q, unit_k, v, bandwidth=np.sqrt(temperature))
"""),
    "04": ("my_metric_smoother", """
def my_metric_smoother(x_train, y_train, x_query, metric):
    return lk.metric_kernel_smoother(x_train, y_train, x_query, metric=metric)
"""),
    "05": ("my_in_context_head", """
def my_in_context_head(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    return lk.in_context_attention(x_context, y_context, x_query, w_query=w_query, w_key=w_key,
                                   w_value=w_value, temperature=temperature)
"""),
    "05b": ("my_multi_head_attention", """
def my_multi_head_attention(x, w_query, w_key, w_value, w_out):
    return lk.multi_head_attention(x, x, w_query=w_query, w_key=w_key, w_value=w_value, w_out=w_out)
"""),
    "06": ("my_linear_attention", """
def my_linear_attention(q, k, v):
    return lk.linear_attention(q, k, v)
"""),
    "07": ("my_fourier_features", """
def my_fourier_features(x, projection, bandwidth):
    return lk.random_fourier_features(x, projection, bandwidth=bandwidth)
"""),
    "08": ("my_causal_linear_attention", """
def my_causal_linear_attention(q, k, v):
    return lk.linear_attention(q, k, v, causal=True)
"""),
    "09": ("is_psd", """
def is_psd(gram):
    return lk.checks.chapter09._is_psd_reference(gram)  # the checker's own answer
"""),
}

NOT_ALLOWED = "is not allowed in this exercise"


def _key(path: Path) -> str:
    return path.name.split("-")[0]


@pytest.fixture(scope="module")
def coursework(tmp_path_factory):
    out = tmp_path_factory.mktemp("otter")
    written = make_otter.make_otter(CHAPTERS, out)
    assert [folder.name for folder in written] == [path.stem for path in CHAPTERS]
    return out


def _solution_functions(path: Path) -> dict:
    """The chapter's graded functions, from its solution cells (definitions and imports only)."""
    notebook = nbformat.read(path, as_version=4)
    env = {"np": np, "lk": lk, "__name__": "__main__"}
    for exercise in make_otter.find_exercises(notebook):
        tree = ast.parse("\n".join(notebook.cells[i].source for i in exercise.solutions))
        tree.body = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
        exec(compile(tree, f"<solution of {exercise.question}>", "exec"), env)
    return env


def _grade_in_process(folder: Path, path: Path, env: dict) -> dict:
    """question -> the otter test file, run against ``env``."""
    results = {}
    for exercise in make_otter.find_exercises(nbformat.read(path, as_version=4)):
        test_file = ExceptionTestFile.from_file(str(folder / "autograder" / "tests" / f"{exercise.question}.py"))
        test_file.run(env)
        results[exercise.question] = test_file
    return results


def _question_of(path: Path, function: str) -> str:
    exercises = make_otter.find_exercises(nbformat.read(path, as_version=4))
    return next(e.question for e in exercises if e.function == function)


def test_every_chapter_has_a_wrong_answer_and_a_wrapper():
    keys = {_key(path) for path in CHAPTERS}
    assert keys <= set(WRONG) and keys <= set(WRAPPERS), sorted(keys - set(WRONG) - set(WRAPPERS))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_notebook_has_no_solution_and_sets_itself_up(coursework, path):
    folder = coursework / path.stem
    reader = nbformat.read(path, as_version=4)
    student = nbformat.read(folder / "student" / f"{path.stem}.ipynb", as_version=4)
    nbformat.validate(student)
    sources = [cell.source for cell in student.cells]
    text = "\n".join(sources)
    for i, cell in enumerate(reader.cells):
        if "solution" in cell.metadata.get("tags", []) and cell.cell_type == "code":
            body = make_otter._TITLE_LINE.sub("", cell.source).strip()
            assert body not in text, f"solution of reader cell {i} is in the student notebook"
    assert "BEGIN SOLUTION" not in text and "BEGIN PROMPT" not in text
    assert not any("solution" in c.metadata.get("tags", []) for c in student.cells)
    code = [c for c in student.cells if c.cell_type == "code"]
    assert "google.colab" in code[0].source and "install" in code[0].source, "the install cell stays first"
    assert code[1].metadata.get("tags") == ["otter-setup"] and "grader = otter.Notebook(" in code[1].source
    for exercise in make_otter.find_exercises(reader):
        assert f'grader.check("{exercise.question}")' in sources
        assert reader.cells[exercise.stub].source.strip() in sources
    hidden = "seed_offset=1"
    assert hidden not in code[1].source, "hidden tests must stay in the autograder"
    assert hidden in (folder / "autograder" / "tests" / f"{make_otter.find_exercises(reader)[0].question}.py").read_text()
    assert (folder / "autograder" / f"{path.stem}-autograder.zip").is_file()
    assert (folder / "master" / f"{path.stem}.ipynb").is_file()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_solution_notebook_has_every_solution(coursework, path):
    solution = nbformat.read(coursework / path.stem / "solution" / f"{path.stem}.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in solution.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN PROMPT" not in text
    reader = nbformat.read(path, as_version=4)
    for cell in reader.cells:
        if "solution" in cell.metadata.get("tags", []):
            assert make_otter._TITLE_LINE.sub("", cell.source).strip() in text


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_solutions_get_full_marks_in_every_test(coursework, path):
    results = _grade_in_process(coursework / path.stem, path, _solution_functions(path))
    for question, test_file in results.items():
        assert test_file.possible == sum(make_otter.POINTS.values())
        assert test_file.score == test_file.possible, test_file.summary()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_unsolved_stubs_get_zero_and_are_told_so(coursework, path):
    env = {"np": np, "lk": lk}
    reader = nbformat.read(path, as_version=4)
    for exercise in make_otter.find_exercises(reader):
        exec(reader.cells[exercise.stub].source, env)
    results = _grade_in_process(coursework / path.stem, path, env)
    for test_file in results.values():
        assert test_file.score == 0
        assert "Not solved yet" in test_file.summary()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_wrong_answer_gets_partial_marks_with_a_hint(coursework, path):
    function, source, hint = WRONG[_key(path)]
    env = _solution_functions(path)
    exec(source, env)
    results = _grade_in_process(coursework / path.stem, path, env)
    total = sum(t.score for t in results.values())
    possible = sum(t.possible for t in results.values())
    wrong = results[_question_of(path, function)]
    assert 0 < total < possible
    assert wrong.score < wrong.possible
    assert hint in wrong.summary(), wrong.summary()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_wrapper_of_the_package_scores_zero(coursework, path):
    function, source = WRAPPERS[_key(path)]
    env = _solution_functions(path)
    exec(source, env)
    results = _grade_in_process(coursework / path.stem, path, env)
    wrapped = results[_question_of(path, function)]
    assert wrapped.score == 0, wrapped.summary()
    assert NOT_ALLOWED in wrapped.summary()
    for question, test_file in results.items():
        if test_file is not wrapped:
            assert test_file.score == test_file.possible, question


def test_blocking_ends_with_the_test():
    """After grading, the package works as before, for the notebook and for the student."""
    sys.path.insert(0, str(SCRIPTS))
    import lk_grading

    def wrapper(x_train, y_train, x_query, bandwidth):
        return lk.nadaraya_watson(x_train, y_train, x_query, bandwidth=bandwidth)

    with pytest.raises(AssertionError, match=NOT_ALLOWED):
        lk_grading.grade("check_nadaraya_watson", wrapper)
    x = np.linspace(0.0, 1.0, 5)
    assert np.allclose(wrapper(x, x, x, 10.0), x.mean(), atol=0.01)
    assert getattr(lk.nadaraya_watson, "__lk_original__", None) is None


def _colab_kernel_cells(student) -> list:
    """Turn the kernel into a simulated Colab: google.colab importable, a Colab shell's name."""
    stub = """\
import sys, types
google = types.ModuleType("google")
google.colab = types.ModuleType("google.colab")
sys.modules["google"], sys.modules["google.colab"] = google, google.colab
_shell = get_ipython()
_shell.__class__ = type("Shell", (type(_shell),), {"__module__": "google.colab._shell"})"""
    return [nbformat.v4.new_code_cell(stub)]


def test_student_notebook_runs_alone_on_a_simulated_colab(coursework, tmp_path):
    """The setup cell alone (no tests/ folder, no helper, no repository) makes grader.check work."""
    from nbclient import NotebookClient

    path = CHAPTERS[0]
    student = nbformat.read(coursework / path.stem / "student" / f"{path.stem}.ipynb", as_version=4)
    code = [c for c in student.cells if c.cell_type == "code"]
    imports = next(c for c in code if "import lenakernel as lk" in c.source)
    checks = [c for c in code if c.source.startswith("grader.check(")]
    stubs = [c for c in code if "raise NotImplementedError" in c.source]
    probe = nbformat.v4.new_code_cell(
        "import otter.check.utils as u\n"
        "assert u.IPythonInterpreter.COLAB.value.running()\n"
        "result = grader.check(%r)\n"
        "assert result.score == 0 and 'Not solved yet' in result.summary(), result.summary()\n"
        "print('checked on colab')" % checks[0].source.split('"')[1])
    notebook = nbformat.v4.new_notebook(cells=[*_colab_kernel_cells(student), code[0], code[1], imports,
                                               *stubs, *checks, probe])
    notebook.metadata = student.metadata
    folder = tmp_path / "colab"
    folder.mkdir()
    nbformat.write(notebook, folder / f"{path.stem}.ipynb")
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    client.execute()
    assert "checked on colab" in notebook.cells[-1].outputs[0]["text"]
    assert (folder / "tests").is_dir() and (folder / "lk_grading.py").is_file()


# --- whole notebooks, graded as an instructor does (otter run, no Docker) -------------


def _otter_run(notebook: Path, autograder: Path):
    from otter.run import main as otter_run

    start = time.perf_counter()
    results = otter_run(str(notebook), autograder=str(autograder), output_dir=None, no_logo=True)
    return results, time.perf_counter() - start


def _record_time(name: str, variant: str, seconds: float) -> None:
    TIMES.parent.mkdir(exist_ok=True)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times.setdefault(name, {})[variant] = round(seconds, 1)
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


def _errors(notebook) -> list:
    return [o.get("ename") for c in notebook.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _variant(coursework: Path, path: Path, tmp_path: Path, function: str, source: str) -> Path:
    """The solution notebook with ``function`` redefined by ``source`` after its solution."""
    notebook = nbformat.read(coursework / path.stem / "solution" / f"{path.stem}.ipynb", as_version=4)
    at = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and f"def {function}(" in c.source)
    notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(source.strip()))
    target = tmp_path / f"{path.stem}.ipynb"
    nbformat.write(notebook, target)
    return target


def _summary(results) -> str:
    return "\n".join(r.summary() for r in results.results.values())


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_otter_run_grades_whole_notebooks(coursework, path, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    folder = coursework / path.stem
    autograder = folder / "autograder" / f"{path.stem}-autograder.zip"
    questions = [e.question for e in make_otter.find_exercises(nbformat.read(path, as_version=4))]

    results, seconds = _otter_run(folder / "solution" / f"{path.stem}.ipynb", autograder)
    _record_time(path.stem, "solution", seconds)
    assert sorted(results.results) == sorted(questions)
    assert results.total == results.possible, _summary(results)
    assert _errors(results.notebook) == []

    results, seconds = _otter_run(folder / "student" / f"{path.stem}.ipynb", autograder)
    _record_time(path.stem, "student", seconds)
    assert sorted(results.results) == sorted(questions)
    assert results.total == 0 and results.possible > 0
    assert _errors(results.notebook) == [], "the untouched student notebook must run without errors"
    assert "Not solved yet" in _summary(results)


# The wrong answer and the wrapper of every chapter are graded question by question in the
# quick tests above; graded as whole notebooks, two chapters stand for the rest (each whole
# notebook takes 15-30 s to execute, and make test runs on two cores).
WHOLE_NOTEBOOK_VARIANTS = [path for path in CHAPTERS
                           if path.stem.startswith(("01-", "08-"))]


@pytest.mark.slow
@pytest.mark.parametrize("path", WHOLE_NOTEBOOK_VARIANTS, ids=lambda p: p.stem)
def test_otter_run_gives_partial_marks_and_zero_for_a_wrapper(coursework, path, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    folder = coursework / path.stem
    autograder = folder / "autograder" / f"{path.stem}-autograder.zip"

    function, source, hint = WRONG[_key(path)]
    wrong_dir = tmp_path / "wrong"
    wrong_dir.mkdir()
    results, seconds = _otter_run(_variant(coursework, path, wrong_dir, function, source), autograder)
    _record_time(path.stem, "wrong", seconds)
    question = results.results[_question_of(path, function)]
    assert 0 < results.total < results.possible
    assert question.score < question.possible and hint in question.summary()

    function, source = WRAPPERS[_key(path)]
    wrapper_dir = tmp_path / "wrapper"
    wrapper_dir.mkdir()
    results, seconds = _otter_run(_variant(coursework, path, wrapper_dir, function, source), autograder)
    _record_time(path.stem, "wrapper", seconds)
    question = results.results[_question_of(path, function)]
    assert question.score == 0 and NOT_ALLOWED in question.summary()
