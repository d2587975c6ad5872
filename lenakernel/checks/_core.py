"""The machinery behind the machine-checked exercises: run a student's function on
seeded cases, compare with the package, and print a verdict a student can act on.

A checker never raises: whatever the student's function does (wrong shape, an
exception, NaN), the verdict names the case, what was expected and what came back.
"""

from __future__ import annotations

import traceback

import numpy as np
import torch

__all__: list[str] = []


def _as_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _describe(value, limit: int = 6) -> str:
    """A short, readable description of an array or other value."""
    try:
        array = _as_numpy(value)
    except Exception:  # noqa: BLE001 - anything unprintable is described by its type
        return f"{type(value).__name__}"
    if array.dtype == object:
        return repr(value)[:200]
    with np.printoptions(precision=4, suppress=True, threshold=limit, edgeitems=2):
        body = np.array2string(array, separator=", ")
    return f"shape {array.shape}: {body}"


def run_cases(student, reference, cases, *, exercise: str, atol: float = 1e-8, rtol: float = 1e-6) -> bool:
    """Compare ``student(**case)`` with ``reference(**case)`` on every case.

    Parameters
    ----------
    student, reference : callable
        The student's function and the package's answer, called with the same
        keyword arguments.
    cases : list of dict
        Keyword arguments for each case; seeded, so every student sees the same cases.
    exercise : str
        The exercise's name, shown in the verdict.
    atol, rtol : float
        Tolerances for ``numpy.allclose``.

    Returns
    -------
    bool
        True when every case matches. A verdict is printed either way.

    Examples
    --------
    >>> import numpy as np
    >>> def wrong_cumsum(a):
    ...     return a
    >>> run_cases(np.cumsum, np.cumsum, [{"a": np.arange(3.0)}], exercise="cumsum")
    Correct: cumsum matches the package on all 1 test cases.
    True
    >>> run_cases(wrong_cumsum, np.cumsum, [{"a": np.arange(3.0)}], exercise="cumsum")
    Case 1 of 1 failed: the values differ (largest difference 1)
      inputs:
        a = shape (3,): [0., 1., 2.]
      expected: shape (3,): [0., 1., 3.]
      got:      shape (3,): [0., 1., 2.]
    False
    """
    if not callable(student):
        print(f"Not checked: {exercise} needs a function, but got {type(student).__name__}.")
        return False
    for number, case in enumerate(cases, start=1):
        expected = reference(**case)
        inputs = "\n".join(f"    {name} = {_describe(value)}" for name, value in case.items())
        try:
            got = student(**case)
        except NotImplementedError:
            print(f"Not solved yet: {exercise} raises NotImplementedError. Write your solution and run this cell again.")
            return False
        except Exception as error:  # noqa: BLE001 - the student sees it as a verdict
            last = traceback.format_exception_only(type(error), error)[-1].strip()
            print(f"Case {number} of {len(cases)} failed: your function raised {last}\n"
                  f"  inputs:\n{inputs}")
            return False
        problem = _mismatch(got, expected, atol, rtol)
        if problem:
            print(f"Case {number} of {len(cases)} failed: {problem}\n"
                  f"  inputs:\n{inputs}\n"
                  f"  expected: {_describe(expected)}\n"
                  f"  got:      {_describe(got)}")
            return False
    print(f"Correct: {exercise} matches the package on all {len(cases)} test cases.")
    return True


def _mismatch(got, expected, atol: float, rtol: float) -> str:
    """Return an empty string if ``got`` matches ``expected``, else what is wrong."""
    if got is None:
        return "your function returned None (is a `return` statement missing?)"
    try:
        got_array = _as_numpy(got)
    except Exception:  # noqa: BLE001
        return f"the result should be an array of numbers, but it is a {type(got).__name__}"
    if got_array.dtype.kind == "c":
        return "the result has complex values; real numbers were expected"
    if got_array.dtype.kind not in "biuf":
        return f"the result should be an array of numbers, but it holds {got_array.dtype} values"
    got_array = got_array.astype(np.float64)
    expected_array = _as_numpy(expected).astype(np.float64)
    if got_array.shape != expected_array.shape:
        return f"the result has shape {got_array.shape}, expected shape {expected_array.shape}"
    if not np.all(np.isfinite(got_array)):
        return "the result contains NaN or infinite values"
    if not np.allclose(got_array, expected_array, atol=atol, rtol=rtol):
        worst = float(np.max(np.abs(got_array - expected_array)))
        return f"the values differ (largest difference {worst:.3g})"
    return ""
