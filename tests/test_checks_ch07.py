"""Tests for lenakernel/checks/chapter07.py: the checkers accept a right answer, name
the case a wrong one fails, and never raise."""

import numpy as np
import pytest
import torch

from lenakernel.checks import check_hyperbolic_random_features, check_random_fourier_features


def good_fourier(x, projection, bandwidth):
    angles = x @ projection.T / bandwidth
    return np.concatenate([np.cos(angles), np.sin(angles)], axis=-1) / np.sqrt(projection.shape[0])


def torch_fourier(x, projection, bandwidth):
    # A solution written in torch passes too: the checker compares values.
    angles = torch.as_tensor(x) @ torch.as_tensor(projection).T / bandwidth
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1) / projection.shape[0] ** 0.5


def interleaved_fourier(x, projection, bandwidth):
    # Right numbers, wrong order: cos and sin of each vector side by side.
    angles = x @ projection.T / bandwidth
    both = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return both.reshape(*angles.shape[:-1], -1) / np.sqrt(projection.shape[0])


def unscaled_fourier(x, projection, bandwidth):
    # Forgets the bandwidth: right only when it is 1 (case 1).
    angles = x @ projection.T
    return np.concatenate([np.cos(angles), np.sin(angles)], axis=-1) / np.sqrt(projection.shape[0])


def unnormalised_fourier(x, projection, bandwidth):
    # Forgets 1/sqrt(m): the inner product is then m times the kernel.
    angles = x @ projection.T / bandwidth
    return np.concatenate([np.cos(angles), np.sin(angles)], axis=-1)


def good_hyperbolic(x, projection):
    half_norm = 0.5 * np.sum(x**2, axis=-1, keepdims=True)
    z = x @ projection.T
    both = np.concatenate([np.exp(z - half_norm), np.exp(-z - half_norm)], axis=-1)
    return both / np.sqrt(2 * projection.shape[0])


def sqrt_m_hyperbolic(x, projection):
    # Normalises by sqrt(m) instead of sqrt(2m): the estimate is then twice the kernel.
    return good_hyperbolic(x, projection) * np.sqrt(2)


def positive_only(x, projection):
    # Only the exp(+) block: the right values for half of the features, wrong shape.
    half_norm = 0.5 * np.sum(x**2, axis=-1, keepdims=True)
    return np.exp(x @ projection.T - half_norm) / np.sqrt(projection.shape[0])


def flat_hyperbolic(x, projection):
    # Works only for 2-D x: reshapes the batch away (case 3 has a batch axis).
    return good_hyperbolic(x.reshape(-1, x.shape[-1]), projection)


def stub(*args, **kwargs):
    raise NotImplementedError


def broken(*args, **kwargs):
    raise ZeroDivisionError("oops")


@pytest.mark.parametrize("checker, solution", [
    (check_random_fourier_features, good_fourier),
    (check_random_fourier_features, torch_fourier),
    (check_hyperbolic_random_features, good_hyperbolic),
])
def test_correct_solution_passes(checker, solution, capsys):
    assert checker(solution) is True
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize("checker, wrong, case, reason", [
    (check_random_fourier_features, interleaved_fourier, 1, "values differ"),
    (check_random_fourier_features, unscaled_fourier, 2, "values differ"),
    (check_random_fourier_features, unnormalised_fourier, 1, "values differ"),
    (check_hyperbolic_random_features, sqrt_m_hyperbolic, 1, "values differ"),
    (check_hyperbolic_random_features, positive_only, 1, "shape"),
    (check_hyperbolic_random_features, flat_hyperbolic, 3, "shape"),
])
def test_wrong_solution_fails_naming_the_case(checker, wrong, case, reason, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith(f"Case {case} of 3 failed")
    assert reason in out
    assert "expected:" in out and "got:" in out


@pytest.mark.parametrize("checker", [check_random_fourier_features, check_hyperbolic_random_features])
def test_exception_becomes_a_verdict(checker, capsys):
    assert checker(broken) is False
    out = capsys.readouterr().out
    assert "raised ZeroDivisionError: oops" in out


@pytest.mark.parametrize("checker", [check_random_fourier_features, check_hyperbolic_random_features])
def test_stub_is_not_solved_yet(checker, capsys):
    assert checker(stub) is False
    assert capsys.readouterr().out.startswith("Not solved yet")


@pytest.mark.parametrize("checker", [check_random_fourier_features, check_hyperbolic_random_features])
def test_not_a_function(checker, capsys):
    assert checker(42) is False
    assert capsys.readouterr().out.startswith("Not checked")
