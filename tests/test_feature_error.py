"""Tests for lenakernel/feature_error.py: the closed forms against Monte Carlo,
shapes and backends, and bad inputs.

The Monte-Carlo estimators here are written out with NumPy, independently of
lenakernel.feature_maps, so these tests check the formulas, not the features.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lenakernel import feature_error as fe

Z99 = 2.576  # two-sided 99% normal quantile


def _estimates(kind, x, y, omegas, bandwidth=1.0):
    """One estimate per repetition; omegas has shape (R, m, d)."""
    nx, ny = x @ x, y @ y
    if kind == "positive":
        return np.exp(omegas @ (x + y) - (nx + ny) / 2).mean(-1)
    if kind == "trigonometric":
        return np.exp((nx + ny) / 2) * np.cos(omegas @ (x - y)).mean(-1)
    if kind == "hyperbolic":
        return np.exp(-(nx + ny) / 2) * np.cosh(omegas @ (x + y)).mean(-1)
    if kind == "fourier":
        return np.cos(omegas @ (x - y) / bandwidth).mean(-1)
    raise AssertionError(kind)


FORMULAS = {
    "positive": fe.positive_features_mse,
    "trigonometric": fe.trigonometric_features_mse,
    "hyperbolic": fe.hyperbolic_features_mse,
    "fourier": fe.fourier_features_mse,
}

PAIRS = [
    (np.array([0.3, -0.2, 0.5]), np.array([0.1, 0.4, -0.3])),   # small norms
    (np.array([0.8, 0.1, -0.4]), np.array([0.5, 0.3, 0.2])),    # aligned
    (np.array([0.6, -0.5, 0.2]), np.array([-0.7, 0.4, 0.1])),   # nearly opposite
]


@pytest.mark.parametrize("kind", sorted(FORMULAS))
@pytest.mark.parametrize("pair", range(len(PAIRS)))
@pytest.mark.parametrize("m", [1, 8])
def test_closed_form_mse_inside_monte_carlo_99_interval(kind, pair, m):
    x, y = PAIRS[pair]
    rng = np.random.default_rng(1000 * pair + m)
    repetitions = 20_000
    omegas = rng.standard_normal((repetitions, m, x.size))
    if kind == "fourier":
        bandwidth = 0.7
        target = np.exp(-np.sum((x - y) ** 2) / (2 * bandwidth**2))
        predicted = fe.fourier_features_mse(x, y, m, bandwidth=bandwidth)
        squared = (_estimates(kind, x, y, omegas, bandwidth) - target) ** 2
    else:
        target = np.exp(x @ y)
        predicted = FORMULAS[kind](x, y, m)
        squared = (_estimates(kind, x, y, omegas) - target) ** 2
    half_width = Z99 * squared.std(ddof=1) / np.sqrt(repetitions)
    assert abs(squared.mean() - predicted) <= half_width, (squared.mean(), predicted, half_width)


def test_mse_is_exactly_one_over_m():
    x, y = PAIRS[0]
    for f in FORMULAS.values():
        assert np.isclose(f(x, y, 1) / f(x, y, 10), 10.0)


def test_known_zeros():
    x = np.array([0.4, -1.2, 0.3])
    assert fe.positive_features_mse(x, -x, 5) == 0.0     # x + y = 0: every term is exactly 1
    assert fe.hyperbolic_features_mse(x, -x, 5) == 0.0
    assert fe.trigonometric_features_mse(x, x, 5) == 0.0  # x = y: cos(0) = 1
    assert fe.fourier_features_mse(x, x, 5) == 0.0


def test_fourier_mse_bounded_by_half_over_m():
    x = np.zeros(4)
    y = np.full(4, 50.0)
    assert np.isclose(fe.fourier_features_mse(x, y, 10), 1 / 20)


def test_hyperbolic_never_worse_than_positive():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 100, 5))
    assert np.all(fe.hyperbolic_features_mse(x, y, 7) <= 0.5 * fe.positive_features_mse(x, y, 7))


def test_paper_identity_for_trigonometric_form():
    # Lemma 2 states it with exp(|x+y|^2) SM^-2; the module uses exp(|x|^2 + |y|^2).
    x, y = PAIRS[1]
    m = 3
    sum_sq, diff_sq = np.sum((x + y) ** 2), np.sum((x - y) ** 2)
    lemma = np.exp(sum_sq) * np.exp(x @ y) ** -2 * (1 - np.exp(-diff_sq)) ** 2 / (2 * m)
    assert np.isclose(fe.trigonometric_features_mse(x, y, m), lemma, rtol=1e-12)
    lemma_pos = np.exp(sum_sq) * np.exp(x @ y) ** 2 * (1 - np.exp(-sum_sq)) / m
    assert np.isclose(fe.positive_features_mse(x, y, m), lemma_pos, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    xy=arrays(np.float64, (2, 3), elements=st.floats(-2, 2)),
    m=st.integers(1, 100),
)
def test_properties(xy, m):
    x, y = xy
    for f in FORMULAS.values():
        value = f(x, y, m)
        assert np.isfinite(value) and value >= 0
        assert np.isclose(value, f(y, x, m), rtol=1e-12, atol=0)   # symmetric in x, y
    assert fe.hyperbolic_features_mse(x, y, m) <= fe.positive_features_mse(x, y, m) + 1e-300


@pytest.mark.parametrize("f", list(FORMULAS.values()))
def test_broadcasting_shapes(f):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 1, 3)) * 0.5
    y = rng.standard_normal((5, 3)) * 0.5
    out = f(x, y, 16)
    assert out.shape == (4, 5)
    assert np.allclose(out[2, 3], f(x[2, 0], y[3], 16))


@pytest.mark.parametrize("f", list(FORMULAS.values()))
def test_torch_in_torch_out_with_gradient(f):
    x = torch.tensor([[0.3, -0.2], [0.5, 0.1]], dtype=torch.float32, requires_grad=True)
    y = torch.tensor([0.1, 0.4], dtype=torch.float32)
    out = f(x, y, 8)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (2,)
    out.sum().backward()
    assert x.grad is not None and torch.all(torch.isfinite(x.grad))
    assert np.allclose(out.detach().numpy(), f(x.detach().double().numpy(), y.double().numpy(), 8), rtol=1e-5)


def test_numpy_in_numpy_out_and_lists():
    out = fe.positive_features_mse([0.1, 0.2], [0.3, -0.1], 4)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64


@pytest.mark.parametrize("f", list(FORMULAS.values()))
def test_bad_inputs(f):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="`x` and `y`"):
        f(x, np.zeros((2, 4)), 4)
    with pytest.raises(ValueError, match="broadcast"):
        f(np.zeros((2, 3)), np.zeros((5, 3)), 4)
    with pytest.raises(ValueError, match="`num_features`"):
        f(x, x, 0)
    with pytest.raises(TypeError, match="`num_features`"):
        f(x, x, 2.5)
    with pytest.raises(ValueError, match="`y`"):
        f(x, np.full((2, 3), np.nan), 4)
    with pytest.raises(ValueError, match="`x`"):
        f(np.float64(1.0), x, 4)
    with pytest.raises(TypeError, match="`x`"):
        f("abc", x, 4)


def test_bad_bandwidth():
    with pytest.raises(ValueError, match="`bandwidth`"):
        fe.fourier_features_mse(np.zeros(2), np.ones(2), 4, bandwidth=0.0)
    with pytest.raises(TypeError, match="`bandwidth`"):
        fe.fourier_features_mse(np.zeros(2), np.ones(2), 4, bandwidth="wide")


def test_mse_is_exactly_zero_where_the_estimator_is_exact_even_for_large_norms():
    x = 15 * np.ones(8)
    assert fe.trigonometric_features_mse(x, x, 8) == 0.0
    assert fe.positive_features_mse(x, -x, 8) == 0.0
    assert fe.hyperbolic_features_mse(x, -x, 8) == 0.0
