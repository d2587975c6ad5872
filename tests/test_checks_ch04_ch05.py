"""Tests for the checkers of chapters 4 and 5: right answers pass (NumPy, torch with
gradients, the package), complex answers are refused (issue 11), and each common
mistake gets its hint."""

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel.checks import (check_attention_form, check_gaussian_projections, check_in_context_attention,
                               check_metric_smoother)


def good_metric_smoother(x_train, y_train, x_query, metric):
    diff = (x_query[:, None, :] - x_train[None, :, :]) @ metric.T
    logits = -0.5 * (diff ** 2).sum(-1)
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (w / w.sum(1, keepdims=True)) @ y_train


def unstable_metric_smoother(x_train, y_train, x_query, metric):
    diff = (x_query[:, None, :] - x_train[None, :, :]) @ metric.T
    w = np.exp(-0.5 * (diff ** 2).sum(-1))
    return (w / w.sum(1, keepdims=True)) @ y_train


@pytest.mark.parametrize("student", [
    good_metric_smoother,
    lambda x_train, y_train, x_query, metric: lk.metric_kernel_smoother(x_train, y_train, x_query, metric=metric),
])
def test_metric_smoother_right_answers_pass(student):
    assert check_metric_smoother(student) is True


@pytest.mark.parametrize("student, words", [
    (lambda xt, yt, xq, a: good_metric_smoother(xt, yt, xq, a.T), "Hint: with points as rows, A (x - x') is"),
    (lambda xt, yt, xq, a: good_metric_smoother(xt, yt, xq, np.sqrt(2) * a), "check the factor 1/2"),
    (unstable_metric_smoother, 'Case 4 of 4, "a very sharp kernel", failed: the result contains NaN'),
])
def test_metric_smoother_wrong_attempts(student, words, capsys):
    assert check_metric_smoother(student) is False
    assert words in capsys.readouterr().out


def good_attention_form(x_query, x_train, metric):
    q, k = x_query @ metric.T, x_train @ metric.T
    return np.hstack([q, np.ones((len(q), 1))]), np.hstack([k, -0.5 * (k ** 2).sum(1, keepdims=True)])


def test_attention_form_right_answers_pass():
    assert check_attention_form(good_attention_form) is True
    # issue 11: a correct tensor with requires_grad is accepted.
    assert check_attention_form(lambda xq, xt, a: tuple(torch.tensor(t, requires_grad=True)
                                                        for t in good_attention_form(xq, xt, a))) is True


def test_attention_form_refuses_imaginary_parts(capsys):
    # issue 11: an extra imaginary coordinate used to be dropped silently, and called "Correct".
    def with_garbage(x_query, x_train, metric):
        q, k = good_attention_form(x_query, x_train, metric)
        return np.hstack([q, 1j * np.ones((len(q), 1))]), np.hstack([k, 5 * np.ones((len(k), 1))])

    assert check_attention_form(with_garbage) is False
    assert "failed: q has complex values (imaginary parts up to 1); the answer is real." in capsys.readouterr().out
    assert check_attention_form(lambda *a: tuple(t + 0j for t in good_attention_form(*a))) is True


@pytest.mark.parametrize("student, words", [
    (lambda xq, xt, a: (xq @ a.T, xt @ a.T), "Hint: q . k_j = (A x).(A x_j) misses the key term"),
    (lambda xq, xt, a: (good_attention_form(xq, xt, a)[0],
                        np.hstack([xt @ a.T, 0.5 * ((xt @ a.T) ** 2).sum(1, keepdims=True)])),
     "Hint: the key term is -||A x_j||^2 / 2, with a minus sign"),
    (lambda xq, xt, a: xq, "your function must return a pair (q, k), but it returned ndarray"),
    (lambda xq, xt, a: (None, xt), "failed: q is None"),
    (lambda xq, xt, a: (np.full((len(xq), 2), np.nan), np.ones((len(xt), 2))), "failed: q contains NaN or infinite"),
    (lambda xq, xt, a: (xq, xt[:2]), "expected (2, r') and (6, r') with the same r'"),
])
def test_attention_form_wrong_attempts(student, words, capsys):
    assert check_attention_form(student) is False
    assert words in capsys.readouterr().out


def test_attention_form_shows_y_train_as_the_checkers_not_the_students(capsys):
    check_attention_form(lambda xq, xt, a: (xq @ a.T, xt @ a.T))
    out = capsys.readouterr().out
    got, used = out.index("your function got:"), out.index("the checker also used:")
    assert out.index("y_train =") > used > got


def good_head(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    def lift(x):
        return np.stack([x, x ** 2, np.ones_like(x)], -1)
    q, k = lift(x_query) @ w_query.T, lift(x_context) @ w_key.T
    v = np.concatenate([lift(x_context), y_context[..., None]], -1) @ w_value
    logits = q @ np.swapaxes(k, -1, -2) / (temperature * np.sqrt(w_query.shape[0]))
    w = np.exp(logits - logits.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True) @ v[..., None])[..., 0]


@pytest.mark.parametrize("student", [
    good_head,
    lambda xc, yc, xq, wq, wk, wv, t: lk.in_context_attention(xc, yc, xq, w_query=wq, w_key=wk, w_value=wv,
                                                              temperature=t),
])
def test_head_right_answers_pass(student):
    assert check_in_context_attention(student) is True


def only_one_task(xc, yc, xq, wq, wk, wv, t):
    if xc.ndim > 1:
        raise ValueError("only one task at a time")
    return good_head(xc, yc, xq, wq, wk, wv, t)


@pytest.mark.parametrize("student, words", [
    (lambda xc, yc, xq, wq, wk, wv, t: good_head(xc, yc, xq, wq, wk, wv, t / np.sqrt(len(wq))),
     "Hint: divide the scores by temperature * sqrt(d_k): the sqrt(d_k) is missing"),
    (lambda xc, yc, xq, wq, wk, wv, t: good_head(xc, yc, xq, wq, wk, wv, 1 / t),
     "Hint: divide the scores by the temperature, do not multiply"),
    (only_one_task, 'Case 2 of 3, "2 tasks (a leading task axis)", failed: your function raised ValueError'),
])
def test_head_wrong_attempts(student, words, capsys):
    assert check_in_context_attention(student) is False
    out = capsys.readouterr().out
    assert words in out
    if student is only_one_task:
        assert "This case: the inputs have a leading task axis" in out


def good_projections(bandwidth):
    w_query = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    w_key = np.array([[1.0, 0.0, 0.0], [0.0, -0.5, 0.0]]) * np.sqrt(2) / bandwidth ** 2
    return w_query, w_key


def test_projections_right_answers_pass():
    assert check_gaussian_projections(good_projections) is True
    assert check_gaussian_projections(lambda h: [torch.tensor(w, requires_grad=True) for w in good_projections(h)])


def test_projections_refuse_imaginary_parts(capsys):
    # issue 11: garbage imaginary parts used to be called "Correct".
    assert check_gaussian_projections(lambda h: (good_projections(h)[0] + 0.3j, good_projections(h)[1])) is False
    assert "failed: w_query has complex values (imaginary parts up to 0.3); the answer is real." in \
        capsys.readouterr().out


@pytest.mark.parametrize("student, words", [
    (lambda h: (good_projections(h)[0], good_projections(h)[1] / np.sqrt(2)),
     "Hint: the head divides the scores by sqrt(d_k): multiply w_key (or w_query) by sqrt(d_k)"),
    (lambda h: good_projections(np.sqrt(h)), "Hint: the scores need 1 / h^2, not 1 / h"),
    (lambda h: None, "your function must return a pair (w_query, w_key), but it returned NoneType"),
    (lambda h: (np.ones((2, 2)), np.ones((2, 2))), "w_query has shape (2, 2) and w_key (2, 2); both must be (d_k, 3)"),
])
def test_projections_wrong_attempts(student, words, capsys):
    assert check_gaussian_projections(student) is False
    out = capsys.readouterr().out
    assert words in out
    assert "    bandwidth = " in out.split("the checker also used:")[0]  # all the student's function gets
