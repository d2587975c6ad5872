"""Tests for lenakernel/checks/chapter09.py: the checkers accept a right answer, name
the case a wrong one fails, and never raise."""

import numpy as np
import pytest

from lenakernel.checks import check_is_psd, check_min_quadratic_form


def good_is_psd(gram):
    gram = np.asarray(gram)
    if not np.allclose(gram, gram.T):
        return False
    eigenvalues = np.linalg.eigvalsh(gram)
    return bool(eigenvalues.min() >= -1e-10 * max(np.abs(eigenvalues).max(), 1e-300))


def naive_is_psd(gram):
    # Forgets rounding: a rank-deficient Gram matrix has eigenvalues like -1e-16.
    return bool(np.linalg.eigvalsh(gram).min() >= 0)


def entries_is_psd(gram):
    # Confuses "positive entries" with "positive semi-definite".
    return bool(np.all(gram >= 0))


def good_min_form(matrix):
    return float(np.linalg.eigvalsh((matrix + matrix.T) / 2).min())


def eigvals_min_form(matrix):
    # The eigenvalues of A itself are not what x^T A x sees.
    return float(np.linalg.eigvals(matrix).real.min())


def stub_is_psd(gram):
    raise NotImplementedError


def stub_min_form(matrix):
    raise NotImplementedError


def broken_is_psd(gram):
    raise ZeroDivisionError("oops")


def broken_min_form(matrix):
    raise ZeroDivisionError("oops")


@pytest.mark.parametrize("checker, solution", [(check_is_psd, good_is_psd),
                                               (check_min_quadratic_form, good_min_form)])
def test_correct_solution_passes(checker, solution, capsys):
    assert checker(solution) is True
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize("checker, wrong, case", [
    (check_is_psd, naive_is_psd, "Case 3 of 8"),
    (check_is_psd, entries_is_psd, "Case 2 of 8"),
    (check_min_quadratic_form, eigvals_min_form, "Case 1 of 6"),
])
def test_wrong_solution_fails_and_names_the_case(checker, wrong, case, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith(case) and "failed" in out
    assert "expected" in out and "got" in out


@pytest.mark.parametrize("checker, broken", [(check_is_psd, broken_is_psd),
                                             (check_min_quadratic_form, broken_min_form)])
def test_exception_is_a_verdict_not_a_crash(checker, broken, capsys):
    assert checker(broken) is False
    out = capsys.readouterr().out
    assert "raised ZeroDivisionError: oops" in out and "Case 1" in out


@pytest.mark.parametrize("checker, stub", [(check_is_psd, stub_is_psd),
                                           (check_min_quadratic_form, stub_min_form)])
def test_stub_is_not_solved_yet(checker, stub, capsys):
    assert checker(stub) is False
    assert capsys.readouterr().out.startswith("Not solved yet")


@pytest.mark.parametrize("checker", [check_is_psd, check_min_quadratic_form])
def test_not_a_function(checker, capsys):
    assert checker(None) is False
    assert capsys.readouterr().out.startswith("Not checked")


def test_torch_tensors_returned_are_accepted(capsys):
    torch = pytest.importorskip("torch")

    def torch_min_form(matrix):
        m = torch.as_tensor(matrix)
        return torch.linalg.eigvalsh((m + m.T) / 2).min()

    assert check_min_quadratic_form(torch_min_form) is True


def test_cases_are_the_same_every_time(capsys):
    from lenakernel.checks import chapter09

    first, second = chapter09._cases_psd(), chapter09._cases_psd()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a["gram"], b["gram"])
