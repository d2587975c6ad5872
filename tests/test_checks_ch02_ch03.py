"""Tests for the checkers of chapters 2 and 3: right answers pass, wrong ones are named."""

import numpy as np
import pytest

import lenakernel as lk


def single_query(q, k, v):
    scores = k @ q / np.sqrt(q.shape[0])
    w = np.exp(scores - scores.max())
    return (w / w.sum()) @ v


def single_query_no_max(q, k, v):  # overflows on the case with scores near 800
    w = np.exp(k @ q / np.sqrt(q.shape[0]))
    return (w / w.sum()) @ v


def single_query_unscaled(q, k, v):  # forgets 1/sqrt(d): wrong as soon as d > 1
    scores = k @ q
    w = np.exp(scores - scores.max())
    return (w / w.sum()) @ v


def local(q, k, v, window):
    i, j = np.indices((len(q), len(k)))
    return lk.softmax_attention(q, k, v, mask=np.abs(i - j) <= window)


def local_causal(q, k, v, window):  # looks only backwards
    i, j = np.indices((len(q), len(k)))
    return lk.softmax_attention(q, k, v, mask=(j <= i) & (i - j <= window))


def qk_norm(q, k, v, temperature):
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    return lk.softmax_attention(q, k, v, scale=1 / temperature)


def qk_norm_times_temperature(q, k, v, temperature):  # temperature used as scale
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    return lk.softmax_attention(q, k, v, scale=temperature)


def stub(*args, **kwargs):
    raise NotImplementedError


def broken(*args, **kwargs):
    raise IndexError("index 3 is out of bounds")


CHECKERS = [
    (lk.checks.check_single_query_attention, single_query),
    (lk.checks.check_local_attention, local),
    (lk.checks.check_qk_norm_attention, qk_norm),
]


@pytest.mark.parametrize("checker, solution", CHECKERS)
def test_correct_solution_passes(checker, solution, capsys):
    assert checker(solution) is True
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize("checker, wrong, case", [
    (lk.checks.check_single_query_attention, single_query_unscaled, "Case 2 of 5"),
    (lk.checks.check_local_attention, local_causal, "Case 3 of 5"),
    (lk.checks.check_qk_norm_attention, qk_norm_times_temperature, "Case 2 of 5"),
])
def test_wrong_solution_fails_naming_the_case(checker, wrong, case, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith(case + " failed")
    assert "expected:" in out and "got:" in out


@pytest.mark.parametrize("checker, _", CHECKERS)
def test_exception_is_a_verdict_not_a_crash(checker, _, capsys):
    assert checker(broken) is False
    out = capsys.readouterr().out
    assert "Case 1 of 5 failed: your function raised IndexError" in out


@pytest.mark.parametrize("checker, _", CHECKERS)
def test_stub_is_not_solved_yet(checker, _, capsys):
    assert checker(stub) is False
    assert capsys.readouterr().out.startswith("Not solved yet")


def test_overflowing_solution_is_told_about_nan(capsys):
    with np.errstate(over="ignore", invalid="ignore"):
        assert lk.checks.check_single_query_attention(single_query_no_max) is False
    out = capsys.readouterr().out
    assert out.startswith("Case 5 of 5 failed") and "NaN or infinite" in out
