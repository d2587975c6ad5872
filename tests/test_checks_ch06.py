"""Tests for chapter 6's checkers: linear attention (eps either way, no m x n matrix,
batch axes shown as shapes) and the Taylor feature map (hints; y is the checker's)."""

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel.checks import check_linear_attention, check_taylor_features


def good_linear(q, k, v, eps=0.0):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    return phi_q @ (np.swapaxes(phi_k, -1, -2) @ v) / (phi_q @ phi_k.sum(-2)[..., None] + eps)


def torch_linear(q, k, v):
    q, k, v = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    phi_q, phi_k = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1
    return phi_q @ (phi_k.mT @ v) / (phi_q @ phi_k.sum(-2, keepdim=True).mT + 1e-9)


@pytest.mark.parametrize("student", [
    good_linear, torch_linear,
    lambda q, k, v: good_linear(q, k, v, eps=1e-6),   # eps of the normaliser: either way
    lambda q, k, v: lk.linear_attention(q, k, v),      # the package, default eps = 1e-6
])
def test_right_answers_pass(student, capsys):
    assert check_linear_attention(student) is True
    assert capsys.readouterr().out.splitlines()[0] == (
        "Linear attention. Allowed from lenakernel: lk.elu_plus_one. Checks values, memory (no m x n matrix).")


def test_a_larger_eps_is_not_the_answer(capsys):
    assert check_linear_attention(lambda q, k, v: good_linear(q, k, v, eps=1e-2)) is False
    assert "the values differ" in capsys.readouterr().out


def quadratic_linear(q, k, v):
    scores = lk.elu_plus_one(q) @ np.swapaxes(lk.elu_plus_one(k), -1, -2)  # (m, n): forbidden
    return scores @ v / scores.sum(-1, keepdims=True)


@pytest.mark.parametrize("student", [quadratic_linear, lambda q, k, v: lk.linear_attention(q, k, v, method="quadratic")])
def test_the_n_by_n_form_is_refused(student, capsys):
    # Issue 21: "the n x n form where a linear one is asked" was "Correct".
    assert check_linear_attention(student) is False
    out = capsys.readouterr().out
    assert 'Check "no 2000 x 2000 matrix" failed: your function used about' in out
    assert "Hint: the exercise forbids the n x n (or m x n) matrix: multiply in the other order" in out
    assert "q = array of shape (2000, 4), float64" in out


@pytest.mark.parametrize("student, hint", [
    (lambda q, k, v: lk.elu_plus_one(q) @ (np.swapaxes(lk.elu_plus_one(k), -1, -2) @ v),
     "divide each output row by its normaliser"),
    (lambda q, k, v: lk.softmax_attention(q, k, v), "this is softmax attention"),
    (lambda q, k, v: q @ (np.swapaxes(lk.elu_plus_one(k), -1, -2) @ v) / (q @ lk.elu_plus_one(k).sum(-2)[..., None]),
     "apply elu+1 to the queries too"),
])
def test_wrong_attempts_get_their_hint(student, hint, capsys):
    assert check_linear_attention(student) is False
    assert f"Hint: {hint}" in capsys.readouterr().out


def transposing_linear(q, k, v):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    return phi_q @ (phi_k.T @ v) / (phi_q @ phi_k.sum(-2)[..., None])  # .T reverses batch axes too


def test_batch_case_is_named_and_shown_as_shapes(capsys):
    # Issue 21: "a batch case dumps 110 lines".
    assert check_linear_attention(transposing_linear) is False
    out = capsys.readouterr().out
    assert 'Case 5 of 5, "batch axes", failed' in out
    assert "This case: leading (batch, head) axes of shape (2, 3): transpose with np.swapaxes(a, -1, -2)" in out
    assert "q = array of shape (2, 3, 5, 4), float64" in out
    assert len(out.splitlines()) < 15
    assert lk.checks.last_failure()["inputs"]["q"].shape == (2, 3, 5, 4)


def upper_triangle_taylor(x, diagonal=1 / np.sqrt(2), off=1.0):
    rows, cols = np.triu_indices(x.shape[-1])
    quadratic = x[..., rows] * x[..., cols] * np.where(rows == cols, diagonal, off)
    return np.concatenate([np.ones(x.shape[:-1] + (1,)), x, quadratic], axis=-1)


def full_outer(x, weight):
    outer = (x[..., :, None] * x[..., None, :]).reshape(x.shape[:-1] + (-1,))
    return np.concatenate([np.ones(x.shape[:-1] + (1,)), x, weight * outer], axis=-1)


@pytest.mark.parametrize("student", [
    lk.taylor_features, upper_triangle_taylor, lambda x: full_outer(x, 1 / np.sqrt(2)),
    lambda x: lk.taylor_features(torch.tensor(x, requires_grad=True)),  # issue 11: tensors with grad
])
def test_taylor_right_answers_pass(student):
    assert check_taylor_features(student) is True


@pytest.mark.parametrize("student, hint", [
    (lambda x: full_outer(x, 1.0), "the quadratic features need a factor 1/sqrt(2)"),
    (lambda x: full_outer(x, 1 / np.sqrt(2))[..., 1:], "add the constant feature 1"),
    (lambda x: upper_triangle_taylor(x, off=1 / np.sqrt(2)), "an off-diagonal pair x_a x_b (a < b) appears twice"),
    (lambda x: upper_triangle_taylor(x, diagonal=1.0), "the quadratic features need a factor 1/sqrt(2)"),
    (lambda x: lk.taylor_features(x).reshape(-1), "keep the leading axes and put the features last"),
    (lambda x: None, "is a `return` statement missing?"),
])
def test_taylor_wrong_attempts_get_their_hint(student, hint, capsys):
    assert check_taylor_features(student) is False
    assert f"Hint: {hint}" in capsys.readouterr().out


def test_taylor_none_says_none_not_shape(capsys):
    # issue 11: a map returning None was told it "returned shape ()".
    check_taylor_features(lambda x: None)
    out = capsys.readouterr().out
    assert "failed: your map's output is None." in out and "shape ()" not in out


def test_taylor_y_is_shown_as_the_checkers_input(capsys):
    # Issue 21: "the Taylor checker shows a y the student's function never receives".
    check_taylor_features(lambda x: full_outer(x, 1.0))
    out = capsys.readouterr().out
    student_part, checker_part = out.split("the checker also used:")
    assert "    x = " in student_part and "    y = " not in student_part
    assert "    y = " in checker_part
    assert "This case: your map is called on x and on y" in out
