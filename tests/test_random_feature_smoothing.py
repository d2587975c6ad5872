"""Tests for lenakernel/random_feature_smoothing.py: N-W with random Fourier features
is linear attention with those features."""

import math

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel.reference import softmax_attention_reference


def _softmax_attention(q, k, v, causal=False):
    return softmax_attention_reference(q, k, v, 1 / math.sqrt(q.shape[-1]), causal=causal)


# --------------------------------------------------------------------------- RFF N-W

def _nadaraya_watson(x, y, xq, h):
    weights = np.exp(-((xq[:, None] - x[None, :]) ** 2) / (2 * h * h))
    return weights @ y / weights.sum(1)


def test_rff_nadaraya_watson_approximates_the_exact_smoother():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 3000)
    y = np.sin(2 * np.pi * x) + 0.1 * rng.normal(size=3000)
    grid = np.linspace(0.1, 0.9, 9)
    approx = lk.rff_nadaraya_watson(x, y, grid, bandwidth=0.1, num_features=2000, seed=0)
    assert approx.shape == (9,) and np.abs(approx - _nadaraya_watson(x, y, grid, 0.1)).max() < 0.03


def test_rff_nadaraya_watson_shapes_and_kinds():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(500, 2, generator=g, dtype=torch.float64)
    y = torch.stack([x[:, 0], x[:, 1] ** 2], dim=1)
    xq = torch.rand(7, 2, generator=g, dtype=torch.float64)
    out = lk.rff_nadaraya_watson(x, y, xq, bandwidth=0.2, num_features=64, seed=g, kind="iid")
    assert isinstance(out, torch.Tensor) and out.shape == (7, 2)
    a = lk.rff_nadaraya_watson(x.numpy(), y.numpy(), xq.numpy(), bandwidth=0.2, num_features=64, seed=1)
    b = lk.rff_nadaraya_watson(x.numpy(), y.numpy(), xq.numpy(), bandwidth=0.2, num_features=64, seed=1)
    assert isinstance(a, np.ndarray) and np.array_equal(a, b)


def test_rff_nadaraya_watson_streams_many_points():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 30_000)  # over a hundred blocks of rows
    y = np.cos(3 * x)
    grid = np.linspace(0.2, 0.8, 5)
    out = lk.rff_nadaraya_watson(x, y, grid, bandwidth=0.1, num_features=1000, seed=0)
    assert np.abs(out - _nadaraya_watson(x, y, grid, 0.1)).max() < 0.05


def test_rff_nadaraya_watson_errors():
    x, y = np.ones(5), np.ones(5)
    with pytest.raises(ValueError, match="`x_query`"):
        lk.rff_nadaraya_watson(x, y, np.ones((3, 2)), bandwidth=1.0, num_features=4, seed=0)
    with pytest.raises(ValueError, match="`y_train`"):
        lk.rff_nadaraya_watson(x, np.ones(4), x, bandwidth=1.0, num_features=4, seed=0)
    with pytest.raises(ValueError, match="`bandwidth`"):
        lk.rff_nadaraya_watson(x, y, x, bandwidth=0.0, num_features=4, seed=0)
    with pytest.raises(ValueError, match="`seed` is required"):
        lk.rff_nadaraya_watson(x, y, x, bandwidth=1.0, num_features=4)
    with pytest.raises(ValueError, match="`x_train`"):
        lk.rff_nadaraya_watson(np.array([np.nan, 1.0]), np.ones(2), x, bandwidth=1.0, num_features=4, seed=0)


def test_rff_nadaraya_watson_equals_the_feature_formula():
    g = torch.Generator().manual_seed(3)
    x, xq = torch.rand(300, 2, generator=g, dtype=torch.float64), torch.rand(4, 2, generator=g, dtype=torch.float64)
    y = torch.sin(x.sum(1))
    w = lk.sample_projection(32, 2, kind="orthogonal", seed=8)
    phi, phi_q = lk.random_fourier_features(x, w, bandwidth=0.3), lk.random_fourier_features(xq, w, bandwidth=0.3)
    expected = (phi_q @ (phi.T @ y)) / (phi_q @ phi.sum(0))
    got = lk.rff_nadaraya_watson(x, y, xq, bandwidth=0.3, num_features=32, seed=8)
    assert torch.allclose(got, expected, rtol=1e-10)
