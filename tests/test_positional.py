"""Tests for lenakernel/positional.py: rotary and ALiBi log-kernels."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lenakernel as lk


def test_rotary_preserves_norms_and_is_identity_at_zero():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 8))
    rotated = lk.rotary_embedding(x, np.arange(5.0))
    np.testing.assert_allclose(np.linalg.norm(rotated, axis=-1), np.linalg.norm(x, axis=-1), atol=1e-12)
    np.testing.assert_allclose(rotated[0], x[0], atol=0)
    assert not np.allclose(rotated[1:], x[1:])


def test_rotary_log_kernel_depends_only_on_the_offset():
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    first = lk.rotary_log_kernel(lk.with_positions(q), lk.with_positions(k))
    shifted = lk.rotary_log_kernel(lk.with_positions(q, np.arange(6.0) + 37.5),
                                   lk.with_positions(k, np.arange(6.0) + 37.5))
    np.testing.assert_allclose(first, shifted, atol=1e-10)
    # The same content at every position: the matrix is constant along its diagonals.
    same_q, same_k = np.tile(q[:1], (6, 1)), np.tile(k[:1], (6, 1))
    toeplitz = lk.rotary_log_kernel(lk.with_positions(same_q), lk.with_positions(same_k))
    np.testing.assert_allclose(toeplitz[1:, 1:], toeplitz[:-1, :-1], atol=1e-12)
    np.testing.assert_allclose(np.diag(toeplitz), q[0] @ k[0] / 2, atol=1e-12)


def test_rotary_smoother_is_attention_on_rotated_vectors():
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((5, 6)), rng.standard_normal((9, 6)), rng.standard_normal((9, 2))
    pq, pk = np.arange(4.0, 9.0), np.arange(9.0)
    out = lk.kernel_smoother(lk.with_positions(q, pq), lk.with_positions(k, pk), v,
                             log_kernel=lk.rotary_log_kernel, causal=True)
    expected = lk.softmax_attention(lk.rotary_embedding(q, pq), lk.rotary_embedding(k, pk), v, causal=True)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_alibi_is_content_minus_distance():
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    log_k = lk.alibi_log_kernel(lk.with_positions(q, [2.0, 3.0, 4.0]), lk.with_positions(k), slope=0.3)
    distance = np.abs(np.array([2.0, 3.0, 4.0])[:, None] - np.arange(5.0)[None, :])
    np.testing.assert_allclose(log_k, q @ k.T / 2 - 0.3 * distance, atol=1e-12)


def test_causal_alibi_without_content_is_a_moving_average():
    gamma, n = 0.8, 7
    values = np.random.default_rng(4).standard_normal((n, 1))
    x = lk.with_positions(np.zeros((n, 1)))
    out = lk.kernel_smoother(x, x, values, log_kernel=lk.alibi_log_kernel, slope=-math.log(gamma), causal=True)
    numerator, denominator, expected = 0.0, 0.0, []
    for value in values[:, 0]:
        numerator, denominator = gamma * numerator + value, gamma * denominator + 1
        expected.append(numerator / denominator)
    np.testing.assert_allclose(out[:, 0], expected, atol=1e-12)


def test_torch_in_torch_out_with_gradients():
    q = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    log_k = lk.rotary_log_kernel(lk.with_positions(q), lk.with_positions(q))
    assert isinstance(log_k, torch.Tensor)
    log_k.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_alibi_slopes():
    slopes = lk.alibi_slopes(8)
    np.testing.assert_allclose(slopes, 0.5 ** np.arange(1, 9))
    with pytest.raises(ValueError, match="num_heads"):
        lk.alibi_slopes(0)


@pytest.mark.parametrize("call, error, message", [
    (lambda: lk.rotary_embedding(np.zeros((3, 3)), np.arange(3.0)), ValueError, "even feature size"),
    (lambda: lk.rotary_embedding(np.zeros((3, 4)), np.arange(4.0)), ValueError, "`positions` and `x`"),
    (lambda: lk.rotary_embedding(np.zeros((3, 4)), np.arange(3.0), base=0.0), ValueError, "`base`"),
    (lambda: lk.with_positions(np.zeros((3, 2)), np.arange(2.0)), ValueError, "`positions` and `x`"),
    (lambda: lk.alibi_log_kernel(np.zeros((3, 2)), np.zeros((3, 2)), slope=-1.0), ValueError, "`slope`"),
    (lambda: lk.alibi_log_kernel(np.zeros((3, 1)), np.zeros((3, 1)), slope=1.0), ValueError, "`q` must have"),
    (lambda: lk.alibi_log_kernel(np.zeros((3, 2)), np.zeros((3, 2)), slope="big"), TypeError, "`slope`"),
    (lambda: lk.rotary_log_kernel(np.zeros((3, 4)), np.zeros((3, 4))), ValueError, "`q` must have an even"),
    (lambda: lk.rotary_log_kernel(np.full((3, 3), np.nan), np.zeros((3, 3))), ValueError, "`q` contains NaN"),
    (lambda: lk.alibi_log_kernel(np.zeros((3, 2)), np.array([[0.0, np.nan]] * 3), slope=1.0), ValueError,
     "`k` contains NaN"),
    (lambda: lk.with_positions(np.zeros((3, 2)), np.array([0.0, np.inf, 2.0])), ValueError,
     "`positions` contains NaN"),
    (lambda: lk.with_positions(np.full((3, 2), np.nan)), ValueError, "`x` contains NaN"),
    (lambda: lk.rotary_embedding(np.zeros((2, 8)), np.array([0.0, 1e100]), base=1e-300), ValueError, "`base`"),
])
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), half_d=st.integers(1, 8), shift=st.floats(-1e3, 1e3),
       base=st.floats(1.5, 1e5))
def test_property_rotary_kernel_is_shift_invariant(seed, half_d, shift, base):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((4, 2 * half_d)), rng.standard_normal((5, 2 * half_d))
    pq, pk = rng.uniform(-50, 50, 4), rng.uniform(-50, 50, 5)
    first = lk.rotary_log_kernel(lk.with_positions(q, pq), lk.with_positions(k, pk), base=base)
    moved = lk.rotary_log_kernel(lk.with_positions(q, pq + shift), lk.with_positions(k, pk + shift),
                                 base=base)
    np.testing.assert_allclose(moved, first, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), slope=st.floats(0.0, 5.0))
def test_property_alibi_weights_decay_with_distance_for_equal_content(seed, slope):
    rng = np.random.default_rng(seed)
    content = np.tile(rng.standard_normal(3), (6, 1))  # every token has the same content
    x = lk.with_positions(content)
    _, w = lk.kernel_smoother(x, x, np.zeros((6, 1)), log_kernel=lk.alibi_log_kernel, slope=slope,
                              causal=True, return_weights=True)
    last = w[-1]  # the last query: weights over keys 0..5 grow towards the query
    assert np.all(np.diff(last) >= -1e-12)
    np.testing.assert_allclose(last[1:] / last[:-1], np.exp(slope), rtol=1e-9)


def test_float16_and_tiny_base_give_finite_rotations():
    rng = np.random.default_rng(0)
    x, positions = rng.normal(size=(3, 6)), np.array([0.0, 1.0, -2.0])
    for base in (1e-8, 1.5, 1e4):
        exact = lk.rotary_embedding(x, positions, base=base)
        half = lk.rotary_embedding(x.astype(np.float16), positions.astype(np.float16), base=base)
        assert half.dtype == np.float16 and np.isfinite(half).all()
        np.testing.assert_allclose(half, exact, atol=0.02)


def test_huge_scale_gives_the_largest_float_not_infinity():
    q = lk.with_positions(np.ones((2, 2), dtype=np.float16))
    alibi = lk.alibi_log_kernel(q, q, slope=0.0, scale=1e8)
    rotary = lk.rotary_log_kernel(q, q, scale=1e8)
    for log_kernel in (alibi, rotary):
        assert log_kernel.dtype == np.float16 and not np.isposinf(log_kernel).any()
    assert (alibi == np.finfo(np.float16).max).all()
