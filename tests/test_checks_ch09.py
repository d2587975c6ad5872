"""Tests for chapter 9's checkers: True/False answers must be exact, each case says what
it tests, and the quadratic-form mistakes get their hints."""

import numpy as np
import pytest

from lenakernel.checks import check_is_psd, check_min_quadratic_form


def good_is_psd(gram):
    if not np.allclose(gram, gram.T):
        return False
    eigenvalues = np.linalg.eigvalsh(gram)
    return bool(eigenvalues.min() >= -1e-10 * max(np.abs(eigenvalues).max(), 1e-300))


@pytest.mark.parametrize("student", [good_is_psd, lambda g: np.bool_(good_is_psd(g)),
                                     lambda g: np.array(good_is_psd(g))])
def test_is_psd_right_answers_pass(student):
    assert check_is_psd(student) is True


@pytest.mark.parametrize("student, words", [
    (lambda g: bool(np.linalg.eigvalsh(g).min() >= 0),
     'Case 3 of 8, "rank 2: eigenvalues near -1e-16", failed: you returned False, expected True.'),
    (lambda g: bool(np.all(g >= 0)),
     "This case: not symmetric, so not PSD whatever its eigenvalues"),
    (lambda g: float(good_is_psd(g)), "the answer should be True or False, but it is 1."),
])
def test_is_psd_wrong_attempts(student, words, capsys):
    assert check_is_psd(student) is False
    assert words in capsys.readouterr().out


def test_min_form_right_answer_passes():
    assert check_min_quadratic_form(lambda a: float(np.linalg.eigvalsh((a + a.T) / 2)[0])) is True
    assert check_min_quadratic_form(lambda a: np.linalg.eigvalsh((a + a.T) / 2)[:1].sum()) is True


@pytest.mark.parametrize("student, hint", [
    (lambda a: float(np.linalg.eigvals(a).real.min()), "a quadratic form only sees the symmetric part"),
    (lambda a: float(np.linalg.eigvalsh(a)[0]), "a quadratic form only sees the symmetric part"),
    (lambda a: float(np.linalg.eigvalsh((a + a.T) / 2)[-1]), "the smallest eigenvalue, not the largest"),
])
def test_min_form_wrong_attempts_get_their_hint(student, hint, capsys):
    assert check_min_quadratic_form(student) is False
    out = capsys.readouterr().out
    assert any(hint in line for line in out.splitlines() if line.startswith("  Hint: "))


def test_min_form_scalar_gets_no_constant_factor_hint(capsys):
    assert check_min_quadratic_form(lambda a: 0.9 * float(np.linalg.eigvalsh((a + a.T) / 2)[0])) is False
    assert "times the expected" not in capsys.readouterr().out


def test_min_form_returning_an_array_is_told_the_shape(capsys):
    assert check_min_quadratic_form(lambda a: np.linalg.eigvalsh((a + a.T) / 2)[:1]) is False
    out = capsys.readouterr().out
    assert "the result has shape (1,), expected shape ()" in out
    assert "Hint: the values may be right but the shape is not: reshape to ()" in out
