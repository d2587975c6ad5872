"""Tests for the checkers of chapters 2 and 3: right answers pass, and each common wrong
attempt gets its own hint (issue 21: five chapter 3 mistakes used to read the same)."""

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel.checks import check_local_attention, check_qk_norm_attention, check_single_query_attention


def good_single(q, k, v):
    scores = k @ q / np.sqrt(len(q))
    w = np.exp(scores - scores.max())
    return (w / w.sum()) @ v


def unstable_single(q, k, v):
    w = np.exp(k @ q / np.sqrt(len(q)))
    return (w / w.sum()) @ v


def test_single_query_right_answers_pass(capsys):
    assert check_single_query_attention(good_single) is True
    assert check_single_query_attention(lambda q, k, v: lk.softmax_attention(q[None], k, v)[0]) is True


@pytest.mark.parametrize("student, words", [
    (lambda q, k, v: good_single(q * np.sqrt(len(q)), k, v), "Hint: divide the scores by sqrt(d)"),
    (lambda q, k, v: good_single(q / np.sqrt(len(q)), k, v), "Hint: the scale is 1/sqrt(d), not 1/d"),
    (lambda q, k, v: np.exp(k @ q / np.sqrt(len(q))) @ v, "Hint: the weights must sum to 1"),
    (unstable_single, 'Case 5 of 5, "scores near 800", failed: the result contains NaN'),
])
def test_single_query_wrong_attempts(student, words, capsys):
    with np.errstate(all="ignore"):
        assert check_single_query_attention(student) is False
    assert words in capsys.readouterr().out


def test_single_query_overflow_case_says_what_it_tests(capsys):
    check_single_query_attention(unstable_single)
    out = capsys.readouterr().out
    assert "This case: np.exp(800) overflows to inf; subtract the largest score before exp" in out
    assert "Your function warned: " in out and "overflow encountered in exp" in out


def local(q, k, v, window, inside=lambda i, j, w: np.abs(i - j) <= w, scale=None):
    i, j = np.indices((len(q), len(k)))
    return lk.softmax_attention(q, k, v, mask=inside(i, j, window), scale=scale)


def test_local_right_answer_passes():
    assert check_local_attention(local) is True


@pytest.mark.parametrize("student, hint", [
    (lambda q, k, v, window: local(q, k, v, window, lambda i, j, w: np.abs(i - j) < max(w, 1)),
     "keys at distance exactly `window` belong to the window"),
    (lambda q, k, v, window: local(q, k, v, window, lambda i, j, w: (j <= i) & (i - j <= w)),
     "the window is two-sided"),
    (lambda q, k, v, window: lk.softmax_attention(q, k, v), "query i may only see keys j with |i - j| <= window"),
    (lambda q, k, v, window: local(q, k, v, window, scale=1.0), "divide the scores by sqrt(d)"),
])
def test_local_wrong_attempts(student, hint, capsys):
    assert check_local_attention(student) is False
    assert f"Hint: {hint}" in capsys.readouterr().out


def unit(x, axis=-1):
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def good_qk(q, k, v, temperature):
    return lk.softmax_attention(unit(q), unit(k), v, scale=1 / temperature)


@pytest.mark.parametrize("student", [
    good_qk,
    lambda q, k, v, temperature: lk.gaussian_attention(unit(q), unit(k), v, bandwidth=np.sqrt(temperature)),
    lambda q, k, v, t: lk.softmax_attention(  # torch, with gradients
        torch.nn.functional.normalize(torch.tensor(q, requires_grad=True), dim=-1),
        torch.nn.functional.normalize(torch.tensor(k), dim=-1), torch.tensor(v), scale=1 / t),
])
def test_qk_norm_right_answers_pass(student):
    assert check_qk_norm_attention(student) is True


FIVE_MISTAKES = [
    (lambda q, k, v, t: lk.softmax_attention(q, unit(k), v, scale=1 / t), "divide each row of q by its length too"),
    (lambda q, k, v, t: lk.softmax_attention(unit(q), k, v, scale=1 / t), "divide each row of k by its length too"),
    (lambda q, k, v, t: lk.softmax_attention(unit(q, 0), unit(k, 0), v, scale=1 / t), "normalise each row (axis=-1"),
    (lambda q, k, v, t: lk.softmax_attention(unit(q), unit(k), v, scale=t), "the scale is 1 / temperature"),
    (lambda q, k, v, t: lk.softmax_attention(unit(q), unit(k), v), "pass scale=1 / temperature"),
    (lambda q, k, v, t: lk.softmax_attention(unit(q), unit(k), v, scale=1 / (t * np.sqrt(q.shape[-1]))),
     "without another 1 / sqrt(d)"),
    (lambda q, k, v, t: lk.softmax_attention(unit(q), unit(k), v, scale=1 / np.sqrt(t)),
     "sqrt(temperature) is the Gaussian bandwidth"),
]


@pytest.mark.parametrize("student, hint", FIVE_MISTAKES)
def test_qk_norm_each_mistake_gets_its_own_hint(student, hint, capsys):
    assert check_qk_norm_attention(student) is False
    out = capsys.readouterr().out
    assert any(hint in line for line in out.splitlines() if line.startswith("  Hint: "))
    assert "failed: the values differ" in out


def test_qk_norm_hints_differ_between_mistakes(capsys):
    hints = set()
    for student, _ in FIVE_MISTAKES:
        check_qk_norm_attention(student)
        hints |= {line for line in capsys.readouterr().out.splitlines() if "Hint:" in line}
    assert len(hints) == len(FIVE_MISTAKES)
