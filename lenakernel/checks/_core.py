"""The machinery behind the machine-checked exercises: run a student's function on
named, seeded cases, compare with the package, and print a verdict a student can act on.

The checker calls your function with positional arguments, in the order the exercise
writes them, so your parameter names do not matter (their order and number do). A
checker never raises: whatever your function does (an exception, None, NaN, complex
numbers, the wrong shape), the verdict names the case, what it tests, and what came back.

The tolerance rule, the same for every checker: an answer matches when every entry obeys

    |got - expected| <= rtol * max(|expected|, 1e-3 * scale)

where ``scale`` is the largest ``|expected|`` in the case and ``rtol = max(1e-6,
sqrt(eps))`` for the floating dtype of your answer (``eps`` its machine epsilon): 1e-6 for
float64, 3.5e-4 for float32, 0.031 for float16. Where an exercise leaves a normaliser's
``eps`` open, the expected answer is the band between ``eps = 0`` and the package's
``eps = 1e-6`` (:class:`Between`), and any answer inside the band matches. True/False
answers must be exactly right.

Beyond the values, a checker probes what its exercise demands and the verdict's first
line says which: causality (bit-exact: changing the inputs after position t leaves
outputs 0..t identical), memory (no (m, n) intermediate, traced in NumPy with
``tracemalloc`` and in torch with a ``TorchFunctionMode``), loops (lines of Python run
on a long input). Where nothing beyond the values can be checked it says "Checks values
only".
"""

from __future__ import annotations

import inspect
import sys
import traceback
import tracemalloc
import warnings
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

__all__ = ["run_cases", "last_failure", "Case", "Between", "Mistake", "Probe", "Wrong", "as_array"]

_SHOW_VALUES_UP_TO = 12  # larger arrays are shown as shapes; last_failure() has the values
_LAST: dict = {}


@dataclass
class Case:
    """One test case: a name, the arguments your function gets (in order), and what it tests."""

    name: str
    inputs: dict
    note: str = ""
    extra: dict = field(default_factory=dict)  # used by the checker, never passed to you


class Between(NamedTuple):
    """An expected answer that may lie anywhere between two answers (an open ``eps``)."""

    low: object
    high: object


class Wrong(Exception):
    """Raised while judging an answer whose form is wrong (for example, not a pair)."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


@dataclass
class Mistake:
    """A common mistake: ``answer(**inputs, **extra)`` is what it gives; ``hint`` what to look at."""

    hint: str
    answer: Callable


@dataclass
class Probe:
    """A property beyond the values, e.g. causality; ``run(call)`` returns a failure or None."""

    what: str
    run: Callable


@dataclass
class Failure:
    case: str
    message: str
    hint: str = ""
    note: str = ""
    inputs: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    expected: object = None
    got: object = None
    warned: str = ""


_NOT_SOLVED = object()


def last_failure() -> dict | None:
    """The last failed case of any checker, so you can rebuild it and look closer.

    Returns
    -------
    dict or None
        ``{"exercise", "case", "message", "inputs", "extra", "expected", "got"}``, with
        the full arrays (``inputs`` are your function's arguments, ``extra`` what the
        checker used besides); ``None`` when the last checker run did not fail.

    Examples
    --------
    >>> import numpy as np
    >>> import lenakernel as lk
    >>> lk.checks.run_cases(lambda a: a, np.cumsum, [{"a": np.arange(3.0)}], exercise="cumsum")
    cumsum. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Case 1 of 1, "case 1", failed: the values differ (largest difference 1 at index (2,)).
      your function got:
        a = [0., 1., 2.]
      expected: [0., 1., 3.]
      got:      [0., 1., 2.]
      lk.checks.last_failure() returns this case's inputs, the expected answer and yours.
    False
    >>> failure = lk.checks.last_failure()
    >>> failure["case"], failure["inputs"]["a"]
    ('case 1', array([0., 1., 2.]))
    """
    return dict(_LAST) if _LAST else None


def run_cases(student, reference, cases, *, exercise: str, allowed=(), call=None,
              mistakes=(), probes=(), signature=None) -> bool:
    """Compare ``student(*case.inputs.values())`` with ``reference(**case.inputs)`` on every case.

    Parameters
    ----------
    student : callable
        The student's function, called with positional arguments.
    reference : callable
        The package's answer, ``reference(**inputs, **extra)``; may return ``Between`` (an open eps).
    cases : list of Case or dict
        Seeded cases, so every student sees the same; a plain dict is an unnamed case.
    exercise : str
        The exercise's name, shown in the verdict.
    allowed : sequence of str
        The lenakernel functions the exercise allows, shown in the verdict's first line.
    call : callable, optional
        ``call(student, **inputs, **extra)`` turns the student's function into the answer
        that is compared (for exercises whose answer is used, not compared, directly).
    mistakes : sequence of Mistake
        Common mistakes; when the answer equals one of them, its hint is printed.
    probes : sequence of Probe
        Properties checked after the values match (causality, memory, loops).
    signature : sequence of str, optional
        The student function's parameters; by default the first case's input names.

    Returns
    -------
    bool
        True when every case matches and every probe passes. A verdict is printed either way.

    Examples
    --------
    >>> import numpy as np
    >>> run_cases(np.cumsum, np.cumsum, [Case("three numbers", {"a": np.arange(3.0)})],
    ...           exercise="cumsum")
    cumsum. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Correct: cumsum passes all 1 cases: three numbers.
    True
    """
    cases = [c if isinstance(c, Case) else Case(f"case {i}", c) for i, c in enumerate(cases, 1)]
    checks = ", ".join(["values"] + [p.what for p in probes]) if probes else "values only"
    allowed_text = ", ".join(allowed) if allowed else "nothing (NumPy only)"
    print(f"{exercise}. Allowed from lenakernel: {allowed_text}. Checks {checks}.")
    _LAST.clear()
    try:
        failure = _run(student, reference, cases, call, mistakes, probes, signature)
    except Exception as error:  # noqa: BLE001 - a checker never raises
        failure = Failure("", f"the checker could not judge your answer ({_one_line(error)})")
    if failure is None:
        names = "; ".join(case.name for case in cases)
        print(f"Correct: {exercise} passes all {len(cases)} cases: {names}.")
        return True
    if failure is _NOT_SOLVED:
        print(f"Not solved yet: your function raises NotImplementedError. "
              "Write your solution and run this cell again.")
        return False
    _report(failure, exercise, cases)
    return False


def _run(student, reference, cases, call, mistakes, probes, signature):
    if not callable(student):
        return Failure("", f"the checker needs your function, but got a {type(student).__name__} "
                           "(pass the function itself, without calling it)")
    params = list(signature or cases[0].inputs)
    problem = _signature_problem(student, params)
    if problem:
        return Failure("", problem)
    for case in cases:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                inputs = _copies(case.inputs)  # your function may change its arguments in place
                got = call(student, **inputs, **case.extra) if call else student(*inputs.values())
        except NotImplementedError:
            return _NOT_SOLVED
        except Wrong as error:
            return _failure(case, str(error), hint=error.hint)
        except Exception as error:  # noqa: BLE001 - the student sees it as a verdict
            return _failure(case, f"your function raised {_one_line(error)}")
        warned = "; ".join(sorted({str(w.message) for w in caught}))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = reference(**case.inputs, **case.extra)
            problem = _mismatch(got, expected)
            if problem:
                hint = _mistake_hint(got, case, mistakes) or _pattern_hint(got, expected)
                return _failure(case, problem, hint=hint, expected=expected, got=got, warned=warned)
    for probe in probes:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                failure = probe.run(student)
        except Wrong as error:
            failure = Failure(probe.what, str(error), hint=error.hint)
        except Exception as error:  # noqa: BLE001
            failure = Failure(probe.what, f"your function raised {_one_line(error)}")
        if failure:
            return failure
    return None


def _copies(inputs: dict) -> dict:
    return {name: value.copy() if isinstance(value, np.ndarray) else value for name, value in inputs.items()}


def _failure(case, message, **kwargs):
    return Failure(case.name, message, note=case.note, inputs=case.inputs, extra=case.extra, **kwargs)


def _signature_problem(student, params) -> str:
    try:
        signature = inspect.signature(student)
    except (TypeError, ValueError):  # builtins without a signature: just try them
        return ""
    try:
        signature.bind(*params)
    except TypeError:
        wanted = ", ".join(params)
        return (f"your function takes ({', '.join(signature.parameters)}), but the checker passes "
                f"({wanted}) in this order: keep the parameters as the exercise writes them")
    return ""


def _one_line(error) -> str:
    return traceback.format_exception_only(type(error), error)[-1].strip()


# --- comparing answers --------------------------------------------------------------


def as_array(value, what: str = "the result", *, finite: bool = False):
    """``value`` as a real NumPy array, or raise :class:`Wrong` saying what is wrong with it."""
    if value is None:
        raise Wrong(f"{what} is None", hint="is a `return` statement missing?")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype in (torch.bfloat16,):
            value = value.float()
        value = value.resolve_conj().numpy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.asarray(value)
    except Exception:  # noqa: BLE001 - ragged lists and other odd values
        raise Wrong(f"{what} should be an array of numbers, but it is a {type(value).__name__}") from None
    if array.dtype.kind == "c":
        if np.any(array.imag != 0):
            imaginary = float(np.max(np.abs(np.nan_to_num(array.imag, nan=np.inf))))
            raise Wrong(f"{what} has complex values (imaginary parts up to {imaginary:.3g}); "
                        "the answer is real")
        array = array.real
    if array.dtype.kind not in "biuf":
        raise Wrong(f"{what} should be an array of numbers, but it holds {type(value).__name__} "
                    f"of {array.dtype} values")
    if finite and not np.all(np.isfinite(array)):
        raise Wrong(f"{what} contains NaN or infinite values")
    return array


def _rtol(dtype) -> float:
    if dtype.kind != "f":
        return 1e-6
    return max(1e-6, float(np.sqrt(np.finfo(dtype).eps)))


def _mismatch(got, expected) -> str:
    """An empty string if ``got`` matches ``expected`` under the tolerance rule, else what is wrong."""
    if isinstance(expected, (bool, np.bool_)):
        if isinstance(got, (np.ndarray, torch.Tensor)) and got.ndim == 0 and got.dtype in (np.bool_, torch.bool):
            got = bool(got)  # a 0-d boolean array or tensor counts as True/False
        if isinstance(got, (bool, np.bool_)) and bool(got) == bool(expected):
            return ""
        if not isinstance(got, (bool, np.bool_)):
            return f"the answer should be True or False, but it is {_describe(got)}"
        return f"you returned {bool(got)}, expected {bool(expected)}"
    try:
        got = as_array(got)
    except Wrong as error:
        return str(error)
    low, high = expected if isinstance(expected, Between) else (expected, expected)
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    low, high = np.minimum(low, high), np.maximum(low, high)
    if got.shape != low.shape:
        return f"the result has shape {got.shape}, expected shape {low.shape}"
    if not np.all(np.isfinite(got)):
        return "the result contains NaN or infinite values"
    distance = np.maximum(np.maximum(low - got, got - high), 0.0)
    middle = np.abs((low + high) / 2)
    scale = float(middle.max(initial=0.0))
    if np.all(distance <= _rtol(got.dtype) * np.maximum(middle, 1e-3 * scale)):
        return ""
    worst = np.unravel_index(np.argmax(distance), distance.shape)
    where = f" at index {tuple(int(i) for i in worst)}" if distance.ndim else ""
    return f"the values differ (largest difference {float(distance[worst]):.3g}{where})"


def _mistake_hint(got, case, mistakes) -> str:
    for mistake in mistakes:
        try:
            wrong = mistake.answer(**case.inputs, **case.extra)
        except Exception:  # noqa: BLE001 - a mistake that cannot be formed here does not match
            continue
        if not _mismatch(got, wrong):
            return mistake.hint
    return ""


def _pattern_hint(got, expected) -> str:
    """Hints read from the shape of a wrong answer: transposed, scaled, shifted by one."""
    if isinstance(expected, (bool, np.bool_)):
        return ""
    try:
        got = as_array(got).astype(np.float64)
    except Wrong as error:
        return error.hint
    expected = np.asarray(expected.low if isinstance(expected, Between) else expected, dtype=np.float64)
    if got.shape != expected.shape:
        if got.size == expected.size and got.squeeze().shape == expected.squeeze().shape:
            return f"the values may be right but the shape is not: reshape to {expected.shape}"
        if got.ndim >= 2 and got.shape[:-2] + got.shape[-2:][::-1] == expected.shape:
            if not _mismatch(np.swapaxes(got, -1, -2), expected):
                return "your result is the transpose of the expected one: rows are queries (or points)"
        return ""
    if not np.all(np.isfinite(got)):
        if got.ndim >= 2 and got.shape[-2] > 1 and np.all(np.isfinite(got[..., 1:, :])):
            return "your first row is NaN or inf: position 0 must attend to itself (else it divides 0 by 0)"
        return ("NaN or inf usually comes from exp overflowing or from 0/0: subtract each row's "
                "maximum before exp")
    nonzero = np.abs(expected) > 1e-12
    if np.count_nonzero(nonzero) > 1:  # one number is a multiple of any other: no hint there
        ratio = got[nonzero] / expected[nonzero]
        factor = float(np.median(ratio))
        if abs(factor - 1) > 1e-3 and not _mismatch(got, factor * expected):
            return (f"your result is {factor:.4g} times the expected one everywhere: a constant factor "
                    "is missing or extra (a scale such as sqrt(d), or a sum where a mean belongs)")
    if got.ndim >= 2 and got.shape[-2] > 1:
        if not _mismatch(got[..., 1:, :], expected[..., :-1, :]):
            return ("your rows are shifted by one position: row t holds what belongs to row t - 1 "
                    "(an off-by-one in the mask, or reading the state before adding token t)")
        if np.allclose(got[..., 0, :], 0) and not np.allclose(expected[..., 0, :], 0):
            return "your first row is zero: position 0 must attend to itself"
    return ""


# --- printing ------------------------------------------------------------------------


def _describe(value) -> str:
    """Values of small arrays in full; larger ones as their shape and range."""
    if value is None or isinstance(value, str):
        return repr(value)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Between):
        return f"{_describe(value.low)} (with eps = 0; any eps up to 1e-6 is accepted)"
    if isinstance(value, (tuple, list)) and not _is_numeric(value):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    kind = "tensor" if isinstance(value, torch.Tensor) else "array"
    try:
        array = as_array(value)
    except Wrong:
        return f"a {type(value).__name__}: {repr(value)[:80]}"
    if array.ndim == 0:
        return f"{array.item():.6g}"
    if array.size > _SHOW_VALUES_UP_TO:
        span = f", values from {array.min():.4g} to {array.max():.4g}" if array.size else ""
        return f"{kind} of shape {array.shape}, {array.dtype}{span}"
    with np.printoptions(precision=4, suppress=True, threshold=_SHOW_VALUES_UP_TO):
        return np.array2string(array, separator=", ", max_line_width=10**6).replace("\n", "")


def _is_numeric(value) -> bool:
    try:
        as_array(value)
        return True
    except Wrong:
        return False


def _report(failure: Failure, exercise: str, cases) -> None:
    _LAST.update(exercise=exercise, case=failure.case, message=failure.message, inputs=failure.inputs,
                 extra=failure.extra, expected=failure.expected, got=failure.got)
    if not failure.case:
        print(f"Not correct yet: {failure.message.rstrip('.')}.")
        return
    names = [c.name for c in cases]
    if failure.case in names:
        number = names.index(failure.case) + 1
        lines = [f'Case {number} of {len(cases)}, "{failure.case}", failed: {failure.message.rstrip(".")}.']
    else:
        lines = [f'Check "{failure.case}" failed: {failure.message.rstrip(".")}.']
    if failure.note:
        lines.append(f"  This case: {failure.note}")
    if failure.hint:
        lines.append(f"  Hint: {failure.hint}")
    if failure.warned:
        lines.append(f"  Your function warned: {failure.warned}")
    if failure.inputs:
        lines.append("  your function got:")
        lines += [f"    {name} = {_describe(value)}" for name, value in failure.inputs.items()]
    if failure.extra:
        lines.append("  the checker also used:")
        lines += [f"    {name} = {_describe(value)}" for name, value in failure.extra.items()]
    if failure.expected is not None:
        lines.append(f"  expected: {_describe(failure.expected)}")
    if failure.got is not None or failure.expected is not None:
        lines.append(f"  got:      {_describe(failure.got)}")
    lines.append("  lk.checks.last_failure() returns this case's inputs, the expected answer and yours.")
    print("\n".join(lines))


# --- probes: what can be checked beyond the values -------------------------------------


def causality_probe(inputs: dict, *, cuts=None, seed: int = 0) -> Probe:
    """Changing the inputs after position t must leave outputs 0..t bit-identical.

    ``inputs`` are the student's arguments; every array with the sequence axis (-2) of
    length n is changed after the cut; other arguments (a chunk size) are kept.
    """

    def run(student):
        values = list(inputs.values())
        n = next(v.shape[-2] for v in values if isinstance(v, np.ndarray) and v.ndim >= 2)
        base = as_array(student(*_copies(inputs).values()))
        rng = np.random.default_rng(seed)
        broken = []
        for t in (cuts if cuts is not None else range(n - 1)):
            changed = [_change_after(v, t, n, rng) for v in values]
            out = as_array(student(*changed))
            if out.shape != base.shape or not np.array_equal(out[..., : t + 1, :], base[..., : t + 1, :]):
                broken.append(t)
        if not broken:
            return None
        t = broken[0]
        return Failure(
            "causality", f"changing only positions after t = {t} changed your output at positions "
            f"0..{t} ({len(broken)} of {n - 1} cuts)",
            hint=("output t may use positions 0..t only, down to the last bit: build each prefix from "
                  "earlier positions only (an exclusive cumulative sum), never a whole-sequence sum "
                  "minus its later part, a stabiliser over all positions, or a mask that lets j > i in"),
            note="the causality probe of chapter 9: every cut t of the sequence, future changed",
            inputs=inputs)

    return Probe("causality (bit-exact)", run)


def _change_after(value, t, n, rng):
    if not (isinstance(value, np.ndarray) and value.ndim >= 2 and value.shape[-2] == n):
        return value
    value = value.copy()
    value[..., t + 1:, :] = rng.standard_normal(value[..., t + 1:, :].shape)
    return value


class _LargestTensor(TorchFunctionMode):
    """Records the largest tensor any torch function returns while it is active."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def memory_probe(inputs: dict, *, m: int, n: int) -> Probe:
    """Refuse answers that create an (m, n) intermediate, in NumPy (traced) or torch."""

    def run(student):
        arguments = list(_copies(inputs).values())
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        mode = _LargestTensor()
        try:
            with mode:
                student(*arguments)
        finally:
            peak = tracemalloc.get_traced_memory()[1] - start
            if not was_tracing:
                tracemalloc.stop()
        # An (m, n) array takes m * n bytes even as booleans; everything else here is ~n * d.
        if peak < m * n // 2 and mode.largest < m * n // 4:
            return None
        return Failure(
            f"no {m} x {n} matrix",
            f"your function used about {max(peak, 8 * mode.largest) / 1e6:.3g} MB for m = {m} queries "
            f"and n = {n} keys, as much as an (m, n) matrix",
            hint="the exercise forbids the n x n (or m x n) matrix: multiply in the other order "
                 "(phi(K)^T V first) or carry a running state, so every intermediate is (features, d_v) "
                 "or (n, features)",
            note="a long sequence, where a linear-memory solution needs far less than m * n numbers",
            inputs=inputs)

    return Probe("memory (no m x n matrix)", run)


def _count_lines(student, args, own_file):
    """Run ``student(*args)`` counting Python lines executed: in its own file, and anywhere."""
    counts = {"own": 0, "all": 0}
    here = __file__

    def local(frame, event, arg):
        if event == "line":
            counts["all"] += 1
            counts["own"] += frame.f_code.co_filename == own_file
        return local

    def tracer(frame, event, arg):
        return None if frame.f_code.co_filename == here else local

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        student(*args)
    finally:
        sys.settrace(previous)
    return counts


def loop_probe(inputs: dict, *, own_limit: int | None, all_limit: int | None, what: str,
               hint: str) -> Probe:
    """Refuse Python loops the exercise forbids, by counting executed lines.

    ``own_limit``: most lines your own code may run (a loop over n points or chunks runs
    more); ``all_limit``: most lines all Python code may run, the package's included.
    """

    def run(student):
        code = getattr(student, "__code__", None)
        counts = _count_lines(student, list(_copies(inputs).values()), code.co_filename if code else None)
        if (own_limit is None or counts["own"] <= own_limit) and (
                all_limit is None or counts["all"] <= all_limit):
            return None
        return Failure(f"no {what}", f"your function ran {counts['all']} lines of Python "
                       f"({counts['own']} in your own cell) on this case: that is a {what}",
                       hint=hint, note="a long input, where a loop shows up in the count of lines run",
                       inputs=inputs)

    return Probe(f"no {what}", run)
