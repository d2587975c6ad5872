"""What every checker does, whatever the exercise (issue 21, fair play; issue 11, odd
answers): it never raises, says "Not solved yet" for the stub, names the lenakernel
functions its exercise allows, and its docstring example does not solve the exercise."""

import doctest
import warnings

import numpy as np
import pytest
import torch

import lenakernel as lk

CHECKERS = sorted(lk.checks.ALLOWED)


def checker(name):
    return getattr(lk.checks, name)


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("name", CHECKERS)
def test_stub_is_not_solved_yet(name, capsys):
    assert checker(name)(stub) is False
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == ("Not solved yet: your function raises NotImplementedError. "
                        "Write your solution and run this cell again.")


@pytest.mark.parametrize("name", CHECKERS)
def test_first_line_lists_the_allowed_functions_from_the_constant(name, capsys):
    checker(name)(stub)
    first = capsys.readouterr().out.splitlines()[0]
    allowed = ", ".join(lk.checks.ALLOWED[name]) or "nothing (NumPy only)"
    assert f". Allowed from lenakernel: {allowed}. Checks " in first


@pytest.mark.parametrize("name", CHECKERS)
def test_not_a_function(name, capsys):
    assert checker(name)(3.0) is False
    assert "the checker needs your function, but got a float" in capsys.readouterr().out


ODD_ANSWERS = [None, [1.0, 2.0], [[1.0], [1.0, 2.0]], "text", np.ones(3, dtype=np.complex128) * 1j,
               np.array([np.nan]), torch.ones(2, dtype=torch.bfloat16), np.ones((2, 2), dtype=np.int64),
               (None, None), (np.ones((2, 3)) + 1j, np.ones((2, 3))), (np.full((2, 3), np.nan), np.ones((2, 3))),
               True, {"a": 1}]


@pytest.mark.parametrize("name", CHECKERS)
def test_odd_answers_get_a_verdict_never_an_error_or_a_warning(name, capsys):
    for answer in ODD_ANSWERS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            verdict = checker(name)(lambda *args, answer=answer: answer)
        assert verdict is False, answer
        out = capsys.readouterr().out
        assert "failed" in out or "Not correct yet" in out, out
        assert "the checker could not judge" not in out, out


@pytest.mark.parametrize("name", CHECKERS)
def test_an_exception_names_the_case(name, capsys):
    def crashes(*args):
        raise IndexError("index 7 is out of bounds")

    assert checker(name)(crashes) is False
    assert 'Case 1 of' in capsys.readouterr().out


@pytest.mark.parametrize("name", CHECKERS)
def test_docstring_example_does_not_solve_the_exercise(name):
    # Fair play: help(check_x) must not hand out a solution. Every example in a checker's
    # docstring is a stub or a wrong attempt, so none of them prints "Correct".
    doc = checker(name).__doc__
    assert "Examples" in doc
    assert "Correct:" not in doc
    examples = doctest.DocTestParser().get_examples(doc)
    assert examples and examples[-1].want.strip().endswith("False")


@pytest.mark.parametrize("name", CHECKERS)
def test_docstring_names_its_cases(name):
    assert "Cases" in checker(name).__doc__ or "cases" in checker(name).__doc__


@pytest.mark.parametrize("name", CHECKERS)
def test_docstring_states_the_same_allowed_functions(name):
    doc = " ".join(checker(name).__doc__.split())
    allowed = lk.checks.ALLOWED[name]
    if allowed:
        assert "Allowed from lenakernel: " + ", ".join(f"``{f}``" for f in allowed) in doc
    else:
        assert "Allowed from lenakernel: nothing (NumPy only)" in doc
