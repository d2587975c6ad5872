"""Tests for the chapter 1 checkers: right answers pass, wrong ones get a useful verdict."""

import numpy as np

import lenakernel as lk


def good_nw(x_train, y_train, x_query, bandwidth):
    log_w = -0.5 * ((x_query[:, None] - x_train[None, :]) / bandwidth) ** 2
    log_w -= log_w.max(axis=1, keepdims=True)
    w = np.exp(log_w)
    return (w @ y_train) / w.sum(axis=1)


def naive_nw(x_train, y_train, x_query, bandwidth):
    # Right formula, but no log-domain shift: 0/0 for far queries at small bandwidth.
    with np.errstate(invalid="ignore", divide="ignore", under="ignore"):
        w = np.exp(-0.5 * ((x_query[:, None] - x_train[None, :]) / bandwidth) ** 2)
        return (w @ y_train) / w.sum(axis=1)


def unnormalised_nw(x_train, y_train, x_query, bandwidth):
    w = np.exp(-0.5 * ((x_query[:, None] - x_train[None, :]) / bandwidth) ** 2)
    return w @ y_train


def raising_nw(x_train, y_train, x_query, bandwidth):
    return x_train[10**6]


def stub(*args, **kwargs):
    raise NotImplementedError


def good_loo(x, y, bandwidth):
    log_w = -0.5 * ((x[:, None] - x[None, :]) / bandwidth) ** 2
    np.fill_diagonal(log_w, -np.inf)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    return float(np.mean((w @ y / w.sum(axis=1) - y) ** 2))


def in_sample_loo(x, y, bandwidth):
    # Forgets to leave the point out: the error is too small.
    w = np.exp(-0.5 * ((x[:, None] - x[None, :]) / bandwidth) ** 2)
    return float(np.mean((w @ y / w.sum(axis=1) - y) ** 2))


def test_nw_correct(capsys):
    assert lk.checks.check_nadaraya_watson(good_nw) is True
    assert "Correct" in capsys.readouterr().out


def test_nw_wrong_names_the_case(capsys):
    assert lk.checks.check_nadaraya_watson(unnormalised_nw) is False
    out = capsys.readouterr().out
    assert "Case 1 of 4 failed" in out and "expected:" in out and "got:" in out


def test_nw_without_log_domain_fails_on_the_far_query_case(capsys):
    assert lk.checks.check_nadaraya_watson(naive_nw) is False
    out = capsys.readouterr().out
    assert "Case 4 of 4 failed" in out and "NaN" in out


def test_nw_exception_is_a_verdict(capsys):
    assert lk.checks.check_nadaraya_watson(raising_nw) is False
    out = capsys.readouterr().out
    assert "Case 1 of 4 failed: your function raised IndexError" in out


def test_nw_stub_is_not_solved_yet(capsys):
    assert lk.checks.check_nadaraya_watson(stub) is False
    assert "Not solved yet" in capsys.readouterr().out


def test_nw_not_callable(capsys):
    assert lk.checks.check_nadaraya_watson("my_nadaraya_watson") is False
    assert "needs a function" in capsys.readouterr().out


def test_loo_correct(capsys):
    assert lk.checks.check_loo_error(good_loo) is True
    assert "Correct" in capsys.readouterr().out


def test_loo_wrong_names_the_case(capsys):
    assert lk.checks.check_loo_error(in_sample_loo) is False
    out = capsys.readouterr().out
    assert "Case 1 of 3 failed: the values differ" in out


def test_loo_exception_and_stub(capsys):
    assert lk.checks.check_loo_error(lambda x, y, bandwidth: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert lk.checks.check_loo_error(stub) is False
    assert "Not solved yet" in capsys.readouterr().out
