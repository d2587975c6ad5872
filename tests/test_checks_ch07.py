"""Tests for chapter 7's checkers: right feature maps pass (NumPy, torch, the package),
and each common slip gets its hint."""

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel.checks import check_hyperbolic_random_features, check_random_fourier_features


def good_fourier(x, projection, bandwidth):
    angles = x @ projection.T / bandwidth
    return np.concatenate([np.cos(angles), np.sin(angles)], axis=-1) / np.sqrt(len(projection))


def torch_fourier(x, projection, bandwidth):
    angles = torch.tensor(x, requires_grad=True) @ torch.tensor(projection).T / bandwidth
    return torch.cat([angles.cos(), angles.sin()], dim=-1) / len(projection) ** 0.5


@pytest.mark.parametrize("student", [
    good_fourier, torch_fourier,
    lambda x, projection, bandwidth: lk.random_fourier_features(x, projection, bandwidth=bandwidth),
])
def test_fourier_right_answers_pass(student):
    assert check_random_fourier_features(student) is True


def interleaved(x, projection, bandwidth):
    angles = x @ projection.T / bandwidth
    both = np.stack([np.cos(angles), np.sin(angles)], -1).reshape(x.shape[:-1] + (-1,))
    return both / np.sqrt(len(projection))


@pytest.mark.parametrize("student, hint", [
    (lambda x, p, h: np.roll(good_fourier(x, p, h), len(p), axis=-1), "put all the cosines first, then all the sines"),
    (interleaved, "not interleaved cos, sin"),
    (lambda x, p, h: good_fourier(x, p, 1 / h), "divide the angles by the bandwidth, do not multiply"),
    (lambda x, p, h: good_fourier(x, p, h) / np.sqrt(2), "the factor is 1/sqrt(m)"),
    (lambda x, p, h: good_fourier(x, p, h) * np.sqrt(len(p)), "your result is"),
])
def test_fourier_wrong_attempts_get_their_hint(student, hint, capsys):
    assert check_random_fourier_features(student) is False
    out = capsys.readouterr().out
    assert any(hint in line for line in out.splitlines() if line.startswith("  Hint: "))


def good_hyperbolic(x, projection):
    z = x @ projection.T
    damp = np.exp(-0.5 * np.sum(x ** 2, -1, keepdims=True))
    return damp * np.concatenate([np.exp(z), np.exp(-z)], -1) / np.sqrt(2 * len(projection))


@pytest.mark.parametrize("student", [good_hyperbolic, lk.hyperbolic_random_features])
def test_hyperbolic_right_answers_pass(student):
    assert check_hyperbolic_random_features(student) is True


@pytest.mark.parametrize("student, hint", [
    (lambda x, p: good_hyperbolic(x, p) * np.exp(0.5 * np.sum(x ** 2, -1, keepdims=True)),
     "multiply by exp(-||x||^2 / 2)"),
    (lambda x, p: np.roll(good_hyperbolic(x, p), len(p), axis=-1), "put the exp(+x"),
    (lambda x, p: good_hyperbolic(x, p) * np.sqrt(2), "divide by sqrt(2m)"),
    (lambda x, p: good_hyperbolic(x, p)[..., :len(p)], "the result has shape"),
])
def test_hyperbolic_wrong_attempts_get_their_hint(student, hint, capsys):
    assert check_hyperbolic_random_features(student) is False
    assert hint in capsys.readouterr().out
