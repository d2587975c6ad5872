"""Tests for lenakernel/causal_linear_backward.py: the chunk-wise backward pass of causal
linear attention, held to autograd of the plain masked form and to the readable reference."""

import math

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel.causal_linear_backward import (
    _backward_reference,
    _causal_forward,
    _forward_with_states,
    _streamed_backward,
    causal_linear_attention_backward,
)
from lenakernel.feature_maps import _resolve_feature_map
from lenakernel.reference import linear_attention_reference
from tests.conftest import qkv

CHUNK = 4
# Awkward lengths: one token, a chunk short, a chunk over, several chunks with a ragged tail.
LENGTHS = [1, CHUNK - 1, CHUNK + 1, 3 * CHUNK + 2]
FEATURE_MAPS = ["elu+1", "relu", "taylor", lambda x: torch.exp(-x * x)]


def _chunked(fmap, chunk_size=CHUNK):
    return lambda q, k, v: lk.linear_attention(q, k, v, feature_map=fmap, causal=True, chunk_size=chunk_size)


def _plain(fmap):
    """The plain masked form, left to autograd: the definition the gradients must match."""
    phi = _resolve_feature_map(fmap)
    return lambda q, k, v: linear_attention_reference(phi(q), phi(k), v, causal=True, eps=1e-6)


def _inputs(n, seed=0, **kwargs):
    q, k, v = qkv(2, n, d=3, dv=2, seed=seed, **kwargs)
    return tuple(x.requires_grad_() for x in (q, k, v))


def test_linear_attention_uses_the_chunkwise_backward():
    q, k, v = _inputs(9)
    out = lk.linear_attention(q, k, v, causal=True, chunk_size=CHUNK)
    assert type(out.grad_fn).__name__ == "_CausalLinearAttentionBackward"
    # Other methods, and calls that need no gradient, keep their own paths.
    assert type(lk.linear_attention(q, k, v, causal=True, method="quadratic").grad_fn).__name__ != (
        "_CausalLinearAttentionBackward")
    with torch.no_grad():
        assert lk.linear_attention(q, k, v, causal=True).grad_fn is None


@pytest.mark.parametrize("fmap", FEATURE_MAPS)
@pytest.mark.parametrize("n", LENGTHS)
def test_gradients_equal_autograd_of_the_masked_form(n, fmap):
    q, k, v = _inputs(n, seed=n)
    out = _chunked(fmap)(q, k, v)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    mine = torch.autograd.grad(out, (q, k, v), grad_out)
    plain = torch.autograd.grad(_plain(fmap)(q, k, v), (q, k, v), grad_out)
    for x, y in zip(mine, plain):
        assert torch.allclose(x, y, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fmap", FEATURE_MAPS)
@pytest.mark.parametrize("n", LENGTHS)
def test_gradcheck(n, fmap):
    assert torch.autograd.gradcheck(_chunked(fmap), _inputs(n, seed=n))


@pytest.mark.parametrize("fmap", FEATURE_MAPS)
@pytest.mark.parametrize("n", LENGTHS)
def test_gradgradcheck(n, fmap):
    assert torch.autograd.gradgradcheck(_chunked(fmap), _inputs(n, seed=n))


def test_second_derivatives_equal_those_of_the_masked_form():
    q, k, v = _inputs(2 * CHUNK + 1)
    grads = []
    for f in (_chunked("elu+1"), _plain("elu+1")):
        (dq,) = torch.autograd.grad((f(q, k, v) ** 2).sum(), q, create_graph=True)
        grads.append(torch.autograd.grad((dq**2).sum(), (q, k, v)))
    for x, y in zip(*grads):
        assert torch.allclose(x, y, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("n", [CHUNK, 3 * CHUNK + 2])
@pytest.mark.parametrize("fmap", ["elu+1", "relu", "taylor"])
def test_causality_probe_for_gradients(n, fmap):
    """Output t's gradient with respect to any later token's q, k, v is exactly zero."""
    q, k, v = _inputs(n, seed=3)
    out = _chunked(fmap)(q, k, v)
    for t in range(n):
        grads = torch.autograd.grad(out[:, t].sum(), (q, k, v), retain_graph=True)
        for grad in grads:
            assert bool((grad[:, t + 1:] == 0).all()), f"output {t} depends on a later token"


def test_a_later_token_does_not_change_earlier_gradients():
    """Changing the last token leaves the gradient of earlier outputs bit for bit the same."""
    q, k, v = _inputs(3 * CHUNK + 2, seed=5)
    grads = []
    for shift in (0.0, 10.0):
        qs, ks, vs = (x.detach().clone() for x in (q, k, v))
        for x in (qs, ks, vs):
            x[:, -1] += shift
            x.requires_grad_()
        out = _chunked("elu+1")(qs, ks, vs)
        grads.append(torch.autograd.grad(out[:, :-1].sum(), (qs, ks, vs)))
    for x, y in zip(*grads):
        assert torch.equal(x[:, :-1], y[:, :-1])


@pytest.mark.parametrize("chunk_size", [1, 3, CHUNK, 64])
@pytest.mark.parametrize("n", LENGTHS)
def test_fast_path_equals_the_reference(n, chunk_size):
    g = torch.Generator().manual_seed(n)
    a, b = torch.rand(2, 2, n, 3, generator=g, dtype=torch.float64)
    v, grad_out = torch.randn(2, 2, n, 2, generator=g, dtype=torch.float64)
    fast = causal_linear_attention_backward(a, b, v, grad_out, chunk_size=chunk_size)
    slow = _backward_reference(a, b, v, grad_out, 1e-6)
    for x, y in zip(fast, slow):
        assert x.shape == y.shape
        assert torch.allclose(x, y, rtol=1e-12, atol=1e-13)


def test_reference_equals_autograd_of_the_masked_form():
    g = torch.Generator().manual_seed(0)
    a, b = (torch.rand(7, 3, generator=g, dtype=torch.float64).requires_grad_() for _ in range(2))
    v = torch.randn(7, 2, generator=g, dtype=torch.float64).requires_grad_()
    grad_out = torch.randn(7, 2, generator=g, dtype=torch.float64)
    expected = torch.autograd.grad(linear_attention_reference(a, b, v, causal=True, eps=1e-6), (a, b, v), grad_out)
    for x, y in zip(_backward_reference(a, b, v, grad_out, 1e-6), expected):
        assert torch.allclose(x, y, rtol=1e-12, atol=1e-14)


def test_zero_eps_and_a_ragged_tail_give_no_nan():
    """Padded tokens have a zero normaliser when eps = 0; they must not leak NaN."""
    q, k, v = _inputs(CHUNK + 1)
    out = lk.linear_attention(q, k, v, causal=True, chunk_size=CHUNK, eps=0.0)
    grads = torch.autograd.grad(out.sum(), (q, k, v))
    plain = torch.autograd.grad(linear_attention_reference(lk.elu_plus_one(q), lk.elu_plus_one(k), v,
                                                           causal=True).sum(), (q, k, v))
    for x, y in zip(grads, plain):
        assert bool(torch.isfinite(x).all())
        assert torch.allclose(x, y, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [200, 1000])
def test_float32_agrees_with_float64(n):
    q, k, v = qkv(2, n, d=16, dv=8, seed=7)
    grads = {}
    for dtype in (torch.float32, torch.float64):
        xs = [x.to(dtype).requires_grad_() for x in (q, k, v)]
        (lk.linear_attention(*xs, causal=True) ** 2).sum().backward()
        grads[dtype] = [x.grad.double() for x in xs]
    for x, y in zip(grads[torch.float32], grads[torch.float64]):
        assert (x - y).abs().max() <= 1e-4 * y.abs().max()


def test_broadcast_leading_dimensions_get_summed_gradients():
    q, k, v = _inputs(CHUNK + 3)
    k1, v1 = (x[0].detach().clone().requires_grad_() for x in (k, v))
    out = lk.linear_attention(q, k1, v1, causal=True, chunk_size=CHUNK)
    grads = torch.autograd.grad(out.sum(), (q, k1, v1))
    plain = torch.autograd.grad(_plain("elu+1")(q, k1, v1).sum(), (q, k1, v1))
    for x, y in zip(grads, plain):
        assert x.shape == y.shape
        assert torch.allclose(x, y, rtol=1e-10, atol=1e-12)


def test_only_some_inputs_need_gradients():
    q, k, v = _inputs(2 * CHUNK + 1)
    k, v = k.detach(), v.detach()
    (grad_q,) = torch.autograd.grad(_chunked("elu+1")(q, k, v).sum(), q)
    (plain_q,) = torch.autograd.grad(_plain("elu+1")(q, k, v).sum(), q)
    assert torch.allclose(grad_q, plain_q, rtol=1e-10, atol=1e-12)


def test_low_precision_inputs_train():
    q, k, v = (x.to(torch.bfloat16).requires_grad_() for x in qkv(2, 9, seed=2))
    (lk.linear_attention(q, k, v, causal=True, chunk_size=CHUNK) ** 2).sum().backward()
    assert q.grad.dtype == torch.bfloat16 and bool(torch.isfinite(q.grad.float()).all())


def test_favor_and_the_state_keep_their_gradients():
    q, k, v = _inputs(2 * CHUNK + 1)
    w = lk.sample_projection(8, 3, seed=0)
    out = lk.favor_attention(q, k, v, projection=w, causal=True, chunk_size=CHUNK)
    assert torch.autograd.gradcheck(
        lambda q, k, v: lk.favor_attention(q, k, v, projection=w, causal=True, chunk_size=CHUNK), (q, k, v))
    assert bool(torch.isfinite(torch.autograd.grad(out.sum(), q)[0]).all())
    state = lk.LinearAttentionState(3, 2, batch_shape=(2,))
    step = state.step(q[:, 0], k[:, 0], v[:, 0])
    assert torch.autograd.grad(step.sum(), v)[0].abs().sum() > 0


def test_numpy_in_numpy_out():
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 5, 3))
    v, grad_out = rng.standard_normal((2, 5, 2))
    grads = causal_linear_attention_backward(a, b, v, grad_out, chunk_size=2)
    assert all(isinstance(x, np.ndarray) for x in grads)
    expected = _backward_reference(*(torch.from_numpy(x) for x in (a, b, v, grad_out)), 1e-6)
    for x, y in zip(grads, expected):
        assert np.allclose(x, y.numpy(), rtol=1e-12)


def test_bad_arguments_name_themselves():
    a = torch.rand(5, 3)
    v = torch.randn(5, 2)
    with pytest.raises(ValueError, match="chunk_size"):
        causal_linear_attention_backward(a, a, v, v, chunk_size=0)
    with pytest.raises(ValueError, match="eps"):
        causal_linear_attention_backward(a, a, v, v, eps=-1.0)
    with pytest.raises(ValueError, match="phi_k"):
        causal_linear_attention_backward(a, torch.rand(5, 4), v, v)
    with pytest.raises(ValueError, match="grad_out"):
        causal_linear_attention_backward(a, a, v, torch.randn(4, 2))
    with pytest.raises(ValueError, match="grad_out"):
        causal_linear_attention_backward(a, a, v, torch.randn(5, 3))
    with pytest.raises(ValueError, match="phi_q"):
        causal_linear_attention_backward(torch.rand(3), a, v, v)


def test_feature_map_errors_still_name_the_argument():
    q, k, v = _inputs(5)
    with pytest.raises(ValueError, match="feature_map"):
        lk.linear_attention(q, k, v, causal=True, feature_map=lambda x: x.sum(-2))


@pytest.mark.parametrize("block_chunks", [1, 2, 3])
@pytest.mark.parametrize("fmap", FEATURE_MAPS)
@pytest.mark.parametrize("n", LENGTHS + [9 * CHUNK - 1])
def test_streamed_blocks_equal_autograd_of_the_masked_form(n, fmap, block_chunks):
    """The backward that linear_attention runs, a block of chunks at a time, for several blocks."""
    q, k, v = _inputs(n, seed=n)
    phi = _resolve_feature_map(fmap)
    plain = _plain(fmap)(q, k, v)
    grad_out = torch.randn(plain.shape, generator=torch.Generator().manual_seed(2), dtype=plain.dtype)
    expected = torch.autograd.grad(plain, (q, k, v), grad_out)
    with torch.no_grad():
        out, den = _causal_forward(phi(q), phi(k), v, 1e-6, CHUNK)
        mine = _streamed_backward(phi, q, k, v, out, den, grad_out, CHUNK, block_chunks)
    for x, y in zip(mine, expected):
        assert torch.allclose(x, y, rtol=1e-10, atol=1e-12)


def _streamed(fmap, q, k, v, grad_out, block_chunks, chunk_size=CHUNK):
    phi = _resolve_feature_map(fmap) if isinstance(fmap, str) else fmap
    with torch.no_grad():
        out, den = _causal_forward(phi(q), phi(k), v, 1e-6, chunk_size)
        return _streamed_backward(phi, q, k, v, out, den, grad_out, chunk_size, block_chunks)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_analytic_elu_pullback_equals_autograd_through_the_map(dtype):
    """elu+1 is pulled back as min(phi, 1); any other callable goes through autograd.

    Inputs include 0 exactly, ties, large values and values below the map's clamp (where
    autograd gives 0 and the analytic form the derivative exp(x), below the smallest normal).
    """
    q, k, v = (x.to(dtype) for x in qkv(2, 3 * CHUNK + 1, d=3, dv=2, seed=11))
    q[0, :3], k[1, 2:5] = torch.tensor([0.0, -1000.0, 50.0], dtype=dtype), 0.0
    k[0, 4] = q[0, 4] = -1000.0
    grad_out = torch.randn(2, 3 * CHUNK + 1, 2, generator=torch.Generator().manual_seed(3), dtype=dtype)
    analytic = _streamed("elu+1", q, k, v, grad_out, 2)
    by_autograd = _streamed(lambda x: lk.elu_plus_one(x), q, k, v, grad_out, 2)
    for x, y, inputs in zip(analytic, by_autograd, (q, k, v)):
        below = inputs < math.log(torch.finfo(dtype).tiny)  # the map's clamp
        assert torch.allclose(x[~below], y[~below], rtol=4 * torch.finfo(dtype).eps, atol=0)
        assert bool((y[below] == 0).all()) and bool((x[below].abs() < 1e8 * torch.finfo(dtype).tiny).all())


@pytest.mark.parametrize("fmap", ["elu+1", "taylor"])
@pytest.mark.parametrize("n", [3 * CHUNK - 1, 3 * CHUNK, 3 * CHUNK + 1, 6 * CHUNK + 1])
def test_block_boundaries(n, fmap):
    """Blocks of three chunks: a block short, exactly one, one token over, two and a token."""
    q, k, v = _inputs(n, seed=n + 1)
    plain = _plain(fmap)(q, k, v)
    grad_out = torch.randn(plain.shape, generator=torch.Generator().manual_seed(4), dtype=plain.dtype)
    expected = torch.autograd.grad(plain, (q, k, v), grad_out)
    for x, y in zip(_streamed(fmap, q, k, v, grad_out, 3), expected):
        assert torch.allclose(x, y, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("block_chunks", [1, 2, 3])
@pytest.mark.parametrize(("fmap", "keep_features"), [("elu+1", False), ("elu+1", True), ("taylor", False)])
@pytest.mark.parametrize("n", [1, CHUNK - 1, CHUNK + 1, 3 * CHUNK - 1, 3 * CHUNK, 3 * CHUNK + 1, 6 * CHUNK + 1])
def test_states_from_the_forward_equal_autograd_of_the_masked_form(n, fmap, block_chunks, keep_features):
    """The sweep backwards in time, reading the forward's block states and (for elu+1) its
    features (kept for elu+1 only): one block, a block short, exactly one, one token over, two and a token."""
    q, k, v = _inputs(n, seed=n + 2)
    phi = _resolve_feature_map(fmap)
    plain = _plain(fmap)(q, k, v)
    grad_out = torch.randn(plain.shape, generator=torch.Generator().manual_seed(6), dtype=plain.dtype)
    expected = torch.autograd.grad(plain, (q, k, v), grad_out)
    with torch.no_grad():
        a, b = phi(q), phi(k)
        out, den, states = _forward_with_states(a, b, v, 1e-6, CHUNK, block_chunks)
        assert torch.allclose(out, plain, rtol=1e-10, atol=1e-12)
        features = (a, b) if keep_features else None
        mine = _streamed_backward(phi, q, k, v, out, den, grad_out, CHUNK, block_chunks, features, states)
    for x, y in zip(mine, expected):
        assert torch.allclose(x, y, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [255, 257, 511, 513, 1025])
def test_default_blocks_through_linear_attention(n):
    """The default block (256 tokens below n = 1024, 512 from there) at its edges, chunk 64."""
    q, k, v = (x.requires_grad_() for x in qkv(1, n, d=4, dv=3, seed=n))
    out = lk.linear_attention(q, k, v, causal=True)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(5), dtype=out.dtype)
    mine = torch.autograd.grad(out, (q, k, v), grad_out)
    expected = torch.autograd.grad(_plain("elu+1")(q, k, v), (q, k, v), grad_out)
    for x, y in zip(mine, expected):
        assert torch.allclose(x, y, rtol=1e-9, atol=1e-11)
