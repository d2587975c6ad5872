"""Grading support for the course's otter-grader assignments (copied beside each notebook).

scripts/make_otter.py ships this file with every student notebook and autograder. Each
test of a graded question calls :func:`grade` (or :func:`grade_cases`), which

- runs a lenakernel checker (``lk.checks.check_...``) on the student's function and,
  when the answer is wrong, raises ``AssertionError`` carrying the checker's verdict, so
  the verdict a student sees in the notebook is also otter's feedback;
- grades honestly: while the student's function runs, every lenakernel function the
  exercise does not allow (the package's own answer included) raises
  :class:`NotAllowed`, so a function that only calls the package's answer fails with a
  message saying why, while the functions the exercise allows keep working;
- can rerun a checker on other seeds (``seed_offset``): every
  ``numpy.random.default_rng(seed)`` the checker makes draws from another stream.

Only the standard library, NumPy and lenakernel are imported, so it runs on Colab.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import os
import sys

import numpy as np

import lenakernel
import lenakernel.checks

__all__ = ["NotAllowed", "grade", "grade_cases", "own_work"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(lenakernel.__file__)) + os.sep
_INSIDE = {"depth": 0}  # > 0 while the student's function runs


class NotAllowed(RuntimeError):
    """A lenakernel function the exercise does not allow was called by the student's code."""


def _allowed_names(check: str) -> tuple:
    """The lenakernel functions the exercise of ``check`` allows, as ``("lk.softmax_attention",)``.

    From ``lk.checks.ALLOWED``; for a checker not listed there, the ``*_ALLOWED`` tuples of
    the checker's module (all of them: a checker may allow less, never more).
    """
    table = getattr(lenakernel.checks, "ALLOWED", {})
    if check in table:
        return tuple(table[check])
    module = sys.modules.get(getattr(getattr(lenakernel.checks, check, None), "__module__", ""), None)
    names = []
    for key, value in vars(module).items() if module else ():
        if key.endswith("_ALLOWED") and isinstance(value, tuple):
            names += [name for name in value if name not in names]
    return tuple(names)


def _allowed(check: str) -> list:
    """The lenakernel function objects the exercise of ``check`` allows."""
    return [getattr(lenakernel, name.split(".")[-1]) for name in _allowed_names(check)
            if hasattr(lenakernel, name.split(".")[-1])]


def _allowed_text(check: str) -> str:
    names = _allowed_names(check)
    return ", ".join(names) if names else "nothing (NumPy only)"


def _blocked(original, check: str):
    """``original`` that raises NotAllowed when the student's own code calls it."""
    if getattr(lenakernel, original.__name__, None) is original:
        name = f"lk.{original.__name__}"
    else:
        name = f"{original.__module__.replace('lenakernel', 'lk', 1)}.{original.__qualname__}"
    message = (f"{name} is not allowed in this exercise (allowed from lenakernel: "
               f"{_allowed_text(check)}). Graded work must compute the answer itself; "
               "calling the package's answer scores 0 on this question")

    @functools.wraps(original)
    def blocked(*args, **kwargs):
        if _INSIDE["depth"] and not sys._getframe(1).f_code.co_filename.startswith(_PACKAGE_DIR):
            raise NotAllowed(message)
        return original(*args, **kwargs)

    blocked.__lk_original__ = original
    return blocked


def _targets(check: str, student_globals: dict):
    """(namespace, name, original) for every binding of a forbidden lenakernel function."""
    allowed = {id(f) for f in _allowed(check)}
    found = []
    modules = [m for n, m in list(sys.modules.items())
               if m is not None and (n == "lenakernel" or n.startswith("lenakernel."))]
    namespaces = [vars(m) for m in modules] + ([student_globals] if student_globals else [])
    for namespace in namespaces:
        for name, value in list(namespace.items()):
            if (inspect.isfunction(value) and getattr(value, "__module__", "") and
                    value.__module__.split(".")[0] == "lenakernel" and id(value) not in allowed
                    and not name.startswith("__")):
                found.append((namespace, name, value))
    return found


@contextlib.contextmanager
def own_work(check: str, student_globals: dict | None = None):
    """Inside: lenakernel functions the exercise of ``check`` forbids raise for the student's code.

    Calls from inside lenakernel (the checker, the functions the exercise allows) pass.
    """
    targets = _targets(check, student_globals or {})
    blocked = {}
    for namespace, name, original in targets:
        if id(original) not in blocked:
            blocked[id(original)] = _blocked(original, check)
        namespace[name] = blocked[id(original)]
    try:
        yield
    finally:
        for namespace, name, original in targets:
            namespace[name] = original


class _Student:
    """The student's function, marked as 'student code running' while it runs.

    It looks like the function to the checker: same signature and code object (the
    loop check counts the lines run in the student's own cell).
    """

    def __init__(self, student):
        self.__wrapped__ = student
        self.__code__ = getattr(student, "__code__", None)
        self.__name__ = getattr(student, "__name__", "your function")
        with contextlib.suppress(TypeError, ValueError):
            self.__signature__ = inspect.signature(student)

    def __call__(self, *args, **kwargs):
        _INSIDE["depth"] += 1
        try:
            return self.__wrapped__(*args, **kwargs)
        finally:
            _INSIDE["depth"] -= 1


@contextlib.contextmanager
def _other_seeds(offset: int):
    """``np.random.default_rng(seed)`` draws from the stream of ``[seed, offset]`` instead."""
    if not offset:
        yield
        return
    original = np.random.default_rng

    def shifted(seed=None, *args, **kwargs):
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seed = [int(seed), int(offset)]
        return original(seed, *args, **kwargs)

    np.random.default_rng = shifted
    try:
        yield
    finally:
        np.random.default_rng = original


def _verdict(run, check: str, student) -> None:
    globals_ = getattr(student, "__globals__", None)
    wrapped = _Student(student) if callable(student) else student
    out = io.StringIO()
    with own_work(check, globals_), contextlib.redirect_stdout(out):
        ok = run(wrapped)
    text = out.getvalue().strip()
    if not ok:
        raise AssertionError("\n" + text)


def grade(check: str, student, *, seed_offset: int = 0) -> None:
    """Run ``lk.checks.<check>`` on ``student``; raise AssertionError with its verdict if wrong.

    ``seed_offset`` > 0 reruns the checker's cases on other random draws (hidden tests).
    """
    checker = getattr(lenakernel.checks, check)

    def run(wrapped):
        with _other_seeds(seed_offset):
            return checker(wrapped)

    _verdict(run, check, student)


def grade_cases(check: str, student, reference, cases: dict, *, exercise: str, call=None) -> None:
    """Run ``student`` on named ``cases`` against ``reference``, with the checkers' verdicts.

    ``cases`` maps a case's name to its inputs (a dict, in the order of the student's
    parameters) or to ``(inputs, note)`` or ``(inputs, note, extra)``, ``extra`` being
    what the checker uses besides (never passed to the student);
    ``reference(**inputs, **extra)`` is the expected answer, and
    ``call(student, **inputs, **extra)`` turns the student's function into the answer.
    """
    from lenakernel.checks._core import Case

    made = []
    for name, spec in cases.items():
        inputs, note, extra = (spec, "", {}) if isinstance(spec, dict) else (*spec, "", {})[:3]
        extra = extra if isinstance(extra, dict) else {}
        made.append(Case(name, inputs, note=note, extra=extra))
    allowed = _allowed_names(check)

    def run(wrapped):
        return lenakernel.checks.run_cases(wrapped, reference, made, exercise=exercise,
                                           allowed=allowed, call=call)

    _verdict(run, check, student)
