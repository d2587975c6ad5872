"""Tests for the checkers of chapters 4 and 5 (lenakernel/checks/chapter04.py, chapter05.py)."""

import numpy as np
import pytest

import lenakernel as lk
from lenakernel.checks import (
    check_attention_form,
    check_gaussian_projections,
    check_in_context_attention,
    check_metric_smoother,
)


# --- chapter 4: the learned-metric smoother --------------------------------------------

def good_metric_smoother(x_train, y_train, x_query, metric):
    diff = (x_query[:, None, :] - x_train[None, :, :]) @ metric.T
    logits = -0.5 * (diff ** 2).sum(-1)
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    return (w / w.sum(1, keepdims=True)) @ y_train


def unstable_metric_smoother(x_train, y_train, x_query, metric):
    # Forgets to subtract the row maximum: the sharp case gives 0/0.
    diff = (x_query[:, None, :] - x_train[None, :, :]) @ metric.T
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.exp(-0.5 * (diff ** 2).sum(-1))
        return (w / w.sum(1, keepdims=True)) @ y_train


def wrong_metric_smoother(x_train, y_train, x_query, metric):
    return good_metric_smoother(x_train, y_train, x_query, metric.T)  # A^T instead of A


def good_attention_form(x_query, x_train, metric):
    q, k = x_query @ metric.T, x_train @ metric.T
    return (np.hstack([q, np.ones((len(q), 1))]),
            np.hstack([k, -0.5 * (k ** 2).sum(1, keepdims=True)]))


def forgot_key_norms(x_query, x_train, metric):
    return x_query @ metric.T, x_train @ metric.T


def stub(*args, **kwargs):
    raise NotImplementedError


def crashes(*args, **kwargs):
    raise IndexError("index 7 is out of bounds")


@pytest.mark.parametrize("checker, good", [
    (check_metric_smoother, good_metric_smoother),
    (check_attention_form, good_attention_form),
])
def test_correct_solutions_pass(checker, good, capsys):
    assert checker(good) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("checker, wrong, words", [
    (check_metric_smoother, wrong_metric_smoother, ["Case 2 of 4 failed", "values differ"]),
    (check_metric_smoother, unstable_metric_smoother, ["Case 4 of 4 failed", "NaN"]),
    (check_attention_form, forgot_key_norms, ["Case 1 of 4 failed", "values differ"]),
    (check_attention_form, lambda x_query, x_train, metric: x_query, ["failed", "pair (q, k)"]),
])
def test_wrong_solutions_fail_naming_the_case(checker, wrong, words, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    for word in words:
        assert word in out


@pytest.mark.parametrize("checker", [check_metric_smoother, check_attention_form,
                                     check_in_context_attention, check_gaussian_projections])
def test_exceptions_and_stubs_never_escape(checker, capsys):
    assert checker(crashes) is False
    assert "IndexError" in capsys.readouterr().out
    assert checker(stub) is False
    assert "Not solved yet" in capsys.readouterr().out
    assert checker("not a function") is False
    assert "Not checked" in capsys.readouterr().out


# --- chapter 5: the in-context head and the Gaussian projections --------------------------

def good_head(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    def lift(x):
        return np.stack([x, x ** 2, np.ones_like(x)], -1)
    q = lift(x_query) @ w_query.T
    k = lift(x_context) @ w_key.T
    v = np.concatenate([lift(x_context), y_context[..., None]], -1) @ w_value
    logits = q @ np.swapaxes(k, -1, -2) / (temperature * np.sqrt(w_query.shape[0]))
    logits -= logits.max(-1, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(-1, keepdims=True)
    return (w @ v[..., None])[..., 0]


def head_without_sqrt(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    return good_head(x_context, y_context, x_query, w_query, w_key, w_value, temperature / np.sqrt(w_query.shape[0]))


def head_unbatched_only(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    if x_context.ndim > 1:
        raise ValueError("only one task at a time")
    return good_head(x_context, y_context, x_query, w_query, w_key, w_value, temperature)


def good_projections(bandwidth):
    w_query = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    w_key = np.array([[1.0, 0.0, 0.0], [0.0, -0.5, 0.0]]) * np.sqrt(2) / bandwidth ** 2
    return w_query, w_key


def projections_missing_sqrt(bandwidth):
    w_query, w_key = good_projections(bandwidth)
    return w_query, w_key / np.sqrt(2)


def test_chapter5_correct_solutions_pass(capsys):
    assert check_in_context_attention(good_head) is True
    assert "Correct" in capsys.readouterr().out
    assert check_gaussian_projections(good_projections) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("checker, wrong, words", [
    (check_in_context_attention, head_without_sqrt, ["Case 1 of 3 failed", "values differ"]),
    (check_in_context_attention, head_unbatched_only, ["Case 2 of 3 failed", "ValueError"]),
    (check_gaussian_projections, projections_missing_sqrt, ["Case 1 of 3 failed", "values differ"]),
    (check_gaussian_projections, lambda bandwidth: None, ["failed", "pair (w_query, w_key)"]),
])
def test_chapter5_wrong_solutions_fail(checker, wrong, words, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    for word in words:
        assert word in out


def test_checkers_are_exported():
    for name in ("check_metric_smoother", "check_attention_form",
                 "check_in_context_attention", "check_gaussian_projections"):
        assert name in lk.checks.__all__


def head_without_max_subtraction(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    def lift(x):
        return np.stack([x, x ** 2, np.ones_like(x)], -1)
    q = lift(x_query) @ w_query.T
    k = lift(x_context) @ w_key.T
    v = np.concatenate([lift(x_context), y_context[..., None]], -1) @ w_value
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.exp(q @ np.swapaxes(k, -1, -2) / (temperature * np.sqrt(w_query.shape[0])))
        w /= w.sum(-1, keepdims=True)
    return (w @ v[..., None])[..., 0]


def test_low_temperature_case_needs_the_stable_softmax(capsys):
    assert check_in_context_attention(head_without_max_subtraction) is False
    out = capsys.readouterr().out
    assert "Case 3 of 3 failed" in out and "NaN" in out
