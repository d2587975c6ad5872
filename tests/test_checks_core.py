"""Tests for lenakernel/checks/_core.py: `run_cases` accepts right answers, names the
case a wrong answer fails, and never raises whatever the student's function does."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lenakernel.checks import run_cases


def reference(a):
    return np.cumsum(a)


CASES = [{"a": np.arange(3.0)}, {"a": np.array([2.0, -1.0])}, {"a": np.ones(4)}]


def check(student, cases=CASES, **kwargs):
    return run_cases(student, reference, cases, exercise="cumsum", **kwargs)


def test_correct_answer(capsys):
    assert check(np.cumsum) is True
    assert capsys.readouterr().out == "Correct: cumsum matches the package on all 3 test cases.\n"


def test_within_tolerance_is_correct(capsys):
    assert check(lambda a: np.cumsum(a) + 1e-12) is True
    assert check(lambda a: np.cumsum(a) + 1e-3, atol=1e-2) is True


def test_torch_result_with_grad_is_compared(capsys):
    def torch_cumsum(a):
        t = torch.tensor(a, requires_grad=True)
        return torch.cumsum(t, dim=0) * 1.0

    assert check(torch_cumsum) is True


def test_list_result_is_compared(capsys):
    assert check(lambda a: list(np.cumsum(a))) is True


def test_wrong_values_name_the_first_failing_case(capsys):
    def right_only_for_first(a):
        return np.cumsum(a) if a.size == 3 else a

    assert check(right_only_for_first) is False
    out = capsys.readouterr().out
    assert out.startswith("Case 2 of 3 failed: the values differ (largest difference 2)")
    assert "a = shape (2,): [ 2., -1.]" in out
    assert "expected: shape (2,): [2., 1.]" in out
    assert "got:      shape (2,): [ 2., -1.]" in out
    assert "Case 3" not in out  # stops at the first failure


def test_wrong_shape(capsys):
    assert check(lambda a: np.cumsum(a)[None, :]) is False
    assert "the result has shape (1, 3), expected shape (3,)" in capsys.readouterr().out


def test_nan_result(capsys):
    assert check(lambda a: np.full(a.shape, np.nan)) is False
    assert "NaN or infinite" in capsys.readouterr().out


@pytest.mark.parametrize("result", ["abc", {"a": 1}, object()])
def test_non_numeric_result(result, capsys):
    assert check(lambda a: result) is False
    assert "should be an array of numbers" in capsys.readouterr().out


def test_exception_becomes_a_verdict(capsys):
    def broken(a):
        return a / {}

    assert check(broken) is False
    out = capsys.readouterr().out
    assert out.startswith("Case 1 of 3 failed: your function raised TypeError")
    assert "inputs:" in out


def test_wrong_argument_name_is_a_verdict(capsys):
    # Cases are passed by keyword: a student who renames the argument sees why.
    assert check(lambda x: np.cumsum(x)) is False
    assert "unexpected keyword argument 'a'" in capsys.readouterr().out


def test_not_implemented_is_not_solved_yet(capsys):
    def stub(a):
        raise NotImplementedError

    assert check(stub) is False
    assert capsys.readouterr().out.startswith("Not solved yet: cumsum raises NotImplementedError.")


@pytest.mark.parametrize("student", [None, 3, "np.cumsum"])
def test_not_callable(student, capsys):
    assert check(student) is False
    assert capsys.readouterr().out.startswith("Not checked: cumsum needs a function")


def test_inputs_are_described_for_unprintable_values(capsys):
    class Opaque:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("no")

    cases = [{"a": Opaque()}]
    assert run_cases(lambda a: 0.0, lambda a: 1.0, cases, exercise="opaque") is False
    assert "a = Opaque" in capsys.readouterr().out


junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.floats(allow_nan=True), max_size=4),
    st.lists(st.lists(st.integers(), max_size=3), max_size=3),
)


@settings(max_examples=50, deadline=None)
@given(result=junk, raises=st.booleans())
def test_never_raises(result, raises):
    def student(a):
        if raises:
            raise ValueError(repr(result))
        return result

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdict = check(student)
    assert verdict in (True, False)


def test_complex_result_is_not_accepted_silently(capsys):
    def complex_cumsum(a):
        return np.cumsum(a) + 1j

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verdict = check(complex_cumsum)
    assert verdict is False
    assert not caught, "a checker should print a verdict, not emit a warning"


def test_none_result_says_none(capsys):
    assert check(lambda a: None) is False
    assert "None" in capsys.readouterr().out.splitlines()[0]
