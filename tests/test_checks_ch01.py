"""Tests for the chapter 1 checkers: right answers (by hand or through the package) pass,
and each common wrong attempt gets the hint that names its mistake."""

import numpy as np
import pytest

import lenakernel as lk
from lenakernel.checks import check_loo_error, check_nadaraya_watson


def log_weights(x_query, x_train, bandwidth):
    return -0.5 * ((x_query[:, None] - x_train[None, :]) / bandwidth) ** 2


def good_nw(x_train, y_train, x_query, bandwidth):
    log_w = log_weights(x_query, x_train, bandwidth)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    return (w @ y_train) / w.sum(axis=1)


def naive_nw(x_train, y_train, x_query, bandwidth):
    # Right formula, but no log-domain shift: 0/0 for far queries at small bandwidth.
    w = np.exp(log_weights(x_query, x_train, bandwidth))
    return (w @ y_train) / w.sum(axis=1)


def unnormalised_nw(x_train, y_train, x_query, bandwidth):
    return np.exp(log_weights(x_query, x_train, bandwidth)) @ y_train


def no_half_nw(x_train, y_train, x_query, bandwidth):
    return good_nw(x_train, y_train, x_query, bandwidth / np.sqrt(2))


def good_loo(x, y, bandwidth):
    log_w = log_weights(x, x, bandwidth)
    np.fill_diagonal(log_w, -np.inf)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    return float(np.mean((w @ y / w.sum(axis=1) - y) ** 2))


def in_sample_loo(x, y, bandwidth):
    return float(np.mean((good_nw(x, y, x, bandwidth) - y) ** 2))


def summed_loo(x, y, bandwidth):
    return len(x) * good_loo(x, y, bandwidth)


def refitting_loo(x, y, bandwidth):
    errors = []
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        errors.append((good_nw(x[keep], y[keep], x[i:i + 1], bandwidth)[0] - y[i]) ** 2)
    return float(np.mean(errors))


@pytest.mark.parametrize("student", [
    good_nw,
    lambda x_train, y_train, x_query, bandwidth: lk.nadaraya_watson(x_train, y_train, x_query, bandwidth=bandwidth),
    lambda x, y, xq, h: lk.nadaraya_watson(x, y, xq, bandwidth=h),  # issue 11: other parameter names
])
def test_nw_right_answers_pass(student, capsys):
    assert check_nadaraya_watson(student) is True
    assert capsys.readouterr().out.splitlines()[1].startswith("Correct: Gaussian Nadaraya-Watson passes all 4 cases")


@pytest.mark.parametrize("student, case, hint", [
    (naive_nw, 'Case 4 of 4, "queries far from the data", failed: the result contains NaN',
     "This case: every kernel value of a far query underflows to 0"),
    (unnormalised_nw, 'Case 1 of 4, "a few points (n = 5)", failed: the values differ',
     "Hint: the weights of each query must sum to 1: divide by their sum"),
    (no_half_nw, 'Case 1 of 4', "Hint: the Gaussian kernel is exp(-(x - x')^2 / (2 h^2)): check the factor 1/2"),
])
def test_nw_wrong_attempts_get_their_hint(student, case, hint, capsys):
    with np.errstate(all="ignore"):
        assert check_nadaraya_watson(student) is False
    out = capsys.readouterr().out
    assert case in out and hint in out


def test_nw_solution_that_changes_its_arguments_in_place_passes():
    def in_place(x_train, y_train, x_query, bandwidth):
        x_train /= bandwidth
        x_query /= bandwidth
        return good_nw(x_train, y_train, x_query, 1.0)

    assert check_nadaraya_watson(in_place) is True


def test_nw_large_inputs_are_shapes(capsys):
    check_nadaraya_watson(lambda x_train, y_train, x_query, bandwidth: good_nw(x_train, y_train, x_query, 2 * bandwidth))
    out = capsys.readouterr().out
    assert "x_train = [" in out and "..." not in out  # case 1 is small: values in full
    check_nadaraya_watson(lambda x_train, y_train, x_query, bandwidth:
                          good_nw(x_train, y_train, x_query, bandwidth) * (1 + (len(x_train) > 100)))
    out = capsys.readouterr().out
    assert "x_train = array of shape (200,), float64, values from" in out
    assert lk.checks.last_failure()["inputs"]["x_train"].shape == (200,)


@pytest.mark.parametrize("student", [
    good_loo, lambda x, y, bandwidth: np.mean((lk.leave_one_out_predictions(x, y, bandwidth=bandwidth) - y) ** 2)])
def test_loo_right_answers_pass(student, capsys):
    assert check_loo_error(student) is True


@pytest.mark.parametrize("student, hint", [
    (in_sample_loo, "Hint: each point still votes on its own prediction"),
    (summed_loo, "Hint: you summed the squared errors: CV(h) is their mean"),
    (lambda x, y, bandwidth: np.sqrt(good_loo(x, y, bandwidth)), "Hint: you returned a root"),
])
def test_loo_wrong_attempts_get_their_hint(student, hint, capsys):
    assert check_loo_error(student) is False
    assert hint in capsys.readouterr().out


def test_loo_loop_the_text_forbids_is_refused(capsys):
    # Issue 21: "Loops the text forbids ... are all Correct". The values are right; the loop is not.
    assert check_loo_error(refitting_loo) is False
    out = capsys.readouterr().out
    assert 'Check "no loop over the points" failed' in out
    assert "Hint: the exercise asks for no loop that refits n times" in out
