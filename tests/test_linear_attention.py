"""Tests for lenakernel/linear_attention.py: reassociation, the four causal forms, the
causality probe, the recurrent state, stable FAVOR+, RFF smoothing, and bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lenakernel as lk

METHODS = ["quadratic", "prefix_sum", "recurrent", "chunked"]
FEATURE_MAPS = ["elu+1", "relu", "taylor", lambda x: torch.exp(-x * x)]


def _qkv(*shape, d=4, dv=3, seed=0, dtype=torch.float64, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*shape, d, generator=g, dtype=dtype) * scale
    k = torch.randn(*shape, d, generator=g, dtype=dtype) * scale
    v = torch.randn(*shape[:-1], shape[-1], dv, generator=g, dtype=dtype)
    return q, k, v


def _softmax_attention(q, k, v, causal=False):
    scores = q @ k.mT / math.sqrt(q.shape[-1])
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), -math.inf)
    return torch.softmax(scores, -1) @ v


# ------------------------------------------------------------------------- non-causal

@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 9), n=st.integers(1, 12), d=st.integers(1, 5), fmap=st.sampled_from(FEATURE_MAPS),
       seed=st.integers(0, 10**6))
def test_reassociation_equals_quadratic(m, n, d, fmap, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(m, d, generator=g, dtype=torch.float64)
    k = torch.randn(n, d, generator=g, dtype=torch.float64)
    v = torch.randn(n, 2, generator=g, dtype=torch.float64)
    linear = lk.linear_attention(q, k, v, feature_map=fmap)
    quadratic = lk.linear_attention(q, k, v, feature_map=fmap, method="quadratic")
    assert torch.allclose(linear, quadratic, rtol=1e-10, atol=1e-10)


def test_matches_the_written_out_formula():
    q, k, v = _qkv(2, 7)
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    weights = phi_q @ phi_k.mT
    expected = weights @ v / (weights.sum(-1, keepdim=True) + 1e-6)
    assert torch.allclose(lk.linear_attention(q, k, v), expected, rtol=1e-12)
    expected_causal = weights.tril() @ v / (weights.tril().sum(-1, keepdim=True) + 1e-6)
    assert torch.allclose(lk.linear_attention(q, k, v, causal=True), expected_causal, rtol=1e-12)


def test_rows_are_convex_combinations_of_values():
    q, k, v = _qkv(10)
    out = lk.linear_attention(q, k, v, eps=0.0)
    assert bool((out <= v.max(0).values + 1e-12).all()) and bool((out >= v.min(0).values - 1e-12).all())


# ---------------------------------------------------------------------- causal forms

@pytest.mark.parametrize("n", [1, 2, 5, 63, 64, 65, 130, 200])
@pytest.mark.parametrize("chunk_size", [1, 7, 64, 256])
def test_four_causal_forms_agree_for_every_length(n, chunk_size):
    q, k, v = _qkv(2, n, seed=n)
    outs = [lk.linear_attention(q, k, v, causal=True, method=m, chunk_size=chunk_size) for m in METHODS]
    for out in outs[1:]:
        assert out.shape == (2, n, 3)
        assert (out - outs[0]).abs().max() < 1e-10


@pytest.mark.parametrize("fmap", FEATURE_MAPS)
def test_causal_forms_agree_for_every_feature_map(fmap):
    q, k, v = _qkv(3, 2, 37, seed=4)
    outs = [lk.linear_attention(q, k, v, feature_map=fmap, causal=True, method=m, chunk_size=8) for m in METHODS]
    for out in outs[1:]:
        assert (out - outs[0]).abs().max() < 1e-10


def test_leading_dimensions_broadcast():
    q, k, v = _qkv(2, 3, 9)
    out = lk.linear_attention(q, k[0], v[0], causal=True, chunk_size=4)
    for b in range(2):
        assert torch.allclose(out[b], lk.linear_attention(q[b], k[0], v[0], causal=True, method="quadratic"))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fmap", ["elu+1", "relu", "taylor"])
def test_causality_probe_is_bit_exact(method, fmap):
    n = 50
    q, k, v = _qkv(2, n, seed=11)
    before = lk.linear_attention(q, k, v, feature_map=fmap, causal=True, method=method, chunk_size=16)
    g = torch.Generator().manual_seed(12)
    for t in (0, 15, 16, 31, 49):
        q2, k2, v2 = q.clone(), k.clone(), v.clone()
        for x in (q2, k2, v2):
            x[..., t + 1:, :] += 5 * torch.randn(x[..., t + 1:, :].shape, generator=g, dtype=x.dtype)
        after = lk.linear_attention(q2, k2, v2, feature_map=fmap, causal=True, method=method, chunk_size=16)
        assert torch.equal(before[..., :t + 1, :], after[..., :t + 1, :])


@pytest.mark.parametrize("method", METHODS)
def test_gradients_agree_across_forms(method):
    q, k, v = (x.requires_grad_() for x in _qkv(13, seed=3))
    lk.linear_attention(q, k, v, causal=True, method=method, chunk_size=4).pow(2).sum().backward()
    grads = [x.grad.clone() for x in (q, k, v)]
    for x in (q, k, v):
        x.grad = None
    lk.linear_attention(q, k, v, causal=True, method="quadratic").pow(2).sum().backward()
    for got, x in zip(grads, (q, k, v)):
        assert torch.allclose(got, x.grad, rtol=1e-9, atol=1e-12)


def test_gradcheck_chunked():
    q, k, v = (x.requires_grad_() for x in _qkv(6, d=2, dv=2, seed=8))
    assert torch.autograd.gradcheck(
        lambda a, b, c: lk.linear_attention(a, b, c, causal=True, chunk_size=4), (q, k, v))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_inputs(dtype):
    q, k, v = _qkv(2, 100, d=8, dv=4, seed=5)
    reference = lk.linear_attention(q, k, v, causal=True)
    out = lk.linear_attention(q.to(dtype), k.to(dtype), v.to(dtype), causal=True)
    assert out.dtype == dtype and bool(torch.isfinite(out).all())
    assert (out.double() - reference).abs().max() < 0.1


def test_numpy_in_numpy_out():
    q, k, v = (x.numpy() for x in _qkv(5))
    out = lk.linear_attention(q, k, v, causal=True)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (5, 3)


# ------------------------------------------------------------------- recurrent state

def test_state_steps_reproduce_causal_attention():
    q, k, v = _qkv(2, 3, 40, seed=6)
    state = lk.LinearAttentionState(4, 3, batch_shape=(2, 3))
    sizes = set()
    outs = []
    for t in range(40):
        outs.append(state.step(q[..., t, :], k[..., t, :], v[..., t, :]))
        sizes.add(state.nbytes)
        assert state.position == t + 1
    steps = torch.stack(outs, dim=-2)
    assert (steps - lk.linear_attention(q, k, v, causal=True)).abs().max() < 1e-10
    assert sizes == {8 * 2 * 3 * (4 * 3 + 4)}  # S and z, float64, whatever the position


def test_state_with_taylor_map_and_numpy():
    q, k, v = (x.numpy() for x in _qkv(12, d=2, seed=9))
    state = lk.LinearAttentionState(1 + 2 + 4, 3, feature_map="taylor")
    steps = np.stack([state.step(q[t], k[t], v[t]) for t in range(12)])
    assert np.abs(steps - lk.linear_attention(q, k, v, feature_map="taylor", causal=True)).max() < 1e-10
    assert "position=12" in repr(state)


def test_state_errors():
    with pytest.raises(ValueError, match="`feature_dim`"):
        lk.LinearAttentionState(0, 3)
    with pytest.raises(TypeError, match="`dtype`"):
        lk.LinearAttentionState(2, 3, dtype=torch.int32)
    state = lk.LinearAttentionState(4, 3, batch_shape=(2,))
    with pytest.raises(ValueError, match="`q_t`"):
        state.step(np.ones(4), np.ones(4), np.ones(3))
    with pytest.raises(ValueError, match="`v_t`"):
        state.step(np.ones((2, 4)), np.ones((2, 4)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="`feature_dim`=4"):
        lk.LinearAttentionState(4, 3, feature_map="taylor").step(np.ones(4), np.ones(4), np.ones(3))


# ------------------------------------------------------------------------------ FAVOR+

def _favor_inputs(n=37, scale=1.0, seed=0):
    return _qkv(2, n, d=4, dv=3, seed=seed, scale=scale)


@pytest.mark.parametrize("causal", [False, True])
def test_favor_forms_agree_and_match_unstabilised_features(causal):
    q, k, v = _favor_inputs()
    w = lk.sample_projection(64, 4, kind="orthogonal", seed=1)
    root = 4 ** -0.25
    phi_q, phi_k = lk.positive_random_features(q * root, w), lk.positive_random_features(k * root, w)
    weights = phi_q @ phi_k.mT
    if causal:
        weights = weights.tril()
    direct = weights @ v / weights.sum(-1, keepdim=True)
    for method in METHODS:
        out = lk.favor_attention(q, k, v, projection=w, causal=causal, method=method, chunk_size=8)
        assert (out - direct).abs().max() < 1e-10


@pytest.mark.parametrize("method", METHODS)
def test_favor_causality_probe_is_bit_exact(method):
    q, k, v = _favor_inputs(n=40, scale=3.0)
    w = lk.sample_projection(32, 4, seed=2)
    before = lk.favor_attention(q, k, v, projection=w, causal=True, method=method, chunk_size=16)
    for t in (0, 9, 15, 16, 33):
        k2, v2, q2 = k.clone(), v.clone(), q.clone()
        # A huge later key would move a max-over-all-positions stabiliser: it must not matter.
        k2[..., t + 1:, :] *= 10
        v2[..., t + 1:, :] += 1
        q2[..., t + 1:, :] -= 1
        after = lk.favor_attention(q2, k2, v2, projection=w, causal=True, method=method, chunk_size=16)
        assert torch.equal(before[..., :t + 1, :], after[..., :t + 1, :])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_favor_large_norms_stay_finite(method, dtype):
    q, k, v = _favor_inputs(n=33, seed=3)
    q = (20 * q / q.norm(dim=-1, keepdim=True)).to(dtype)
    k = (20 * k / k.norm(dim=-1, keepdim=True)).to(dtype)
    w = lk.sample_projection(64, 4, kind="orthogonal", seed=4)
    for causal in (False, True):
        out = lk.favor_attention(q, k, v.to(dtype), projection=w, causal=causal, method=method, chunk_size=8)
        assert out.dtype == dtype and bool(torch.isfinite(out).all())


def test_favor_error_shrinks_with_more_features():
    q, k, v = _favor_inputs(n=16, scale=0.7, seed=5)
    exact = _softmax_attention(q, k, v, causal=True)
    errors = []
    for m in (8, 128, 2048, 32768):
        w = lk.sample_projection(m, 4, kind="orthogonal", seed=6)
        errors.append(float((lk.favor_attention(q, k, v, projection=w, causal=True) - exact).abs().max()))
    assert errors[-1] < 0.02
    assert errors[-1] < errors[1] < errors[0]


def test_favor_scale_and_gradients():
    q, k, v = _favor_inputs(n=10)
    w = lk.sample_projection(16, 4, seed=7)
    a = lk.favor_attention(q, k, v, projection=w, scale=0.3)
    b = lk.favor_attention(q * math.sqrt(0.3), k * math.sqrt(0.3), v, projection=w, scale=1.0)
    assert torch.allclose(a, b, rtol=1e-12)
    q.requires_grad_()
    for method in METHODS:
        q.grad = None
        lk.favor_attention(q, k, v, projection=w, causal=True, method=method, chunk_size=4).sum().backward()
        assert bool(torch.isfinite(q.grad).all())


def test_favor_errors():
    q, k, v = _favor_inputs(n=5)
    with pytest.raises(ValueError, match="`projection`"):
        lk.favor_attention(q, k, v, projection=lk.sample_projection(8, 3, seed=0))
    with pytest.raises(ValueError, match="`scale`"):
        lk.favor_attention(q, k, v, projection=lk.sample_projection(8, 4, seed=0), scale=-1.0)
    with pytest.raises(TypeError):
        lk.favor_attention(q, k, v)


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


# ------------------------------------------------------------------------- bad input

def test_bad_arguments_name_themselves():
    q, k, v = _qkv(6)
    with pytest.raises(ValueError, match="`chunk_size`"):
        lk.linear_attention(q, k, v, causal=True, chunk_size=0)
    with pytest.raises(ValueError, match="`method`"):
        lk.linear_attention(q, k, v, causal=True, method="scan")
    with pytest.raises(ValueError, match="`feature_map`"):
        lk.linear_attention(q, k, v, feature_map="softmax")
    with pytest.raises(TypeError, match="`feature_map`"):
        lk.linear_attention(q, k, v, feature_map=3)
    with pytest.raises(ValueError, match="keeping the leading dimensions"):
        lk.linear_attention(q, k, v, feature_map=lambda x: x.sum(0))
    with pytest.raises(TypeError, match="must return a torch tensor"):
        lk.linear_attention(q, k, v, feature_map=lambda x: x.numpy())
    with pytest.raises(ValueError, match="feature dimension"):
        lk.linear_attention(q[:, :3], k, v)
    with pytest.raises(ValueError, match="number of keys"):
        lk.linear_attention(q, k, v[:4])
    with pytest.raises(ValueError, match="m == n"):
        lk.linear_attention(q[:4], k, v, causal=True)
    with pytest.raises(ValueError, match="`eps`"):
        lk.linear_attention(q, k, v, eps=-1.0)
    with pytest.raises(TypeError, match="`causal`"):
        lk.linear_attention(q, k, v, causal="yes")
    with pytest.raises(ValueError, match="broadcast"):
        lk.linear_attention(q.expand(2, 6, 4), k.expand(3, 6, 4), v)
    with pytest.raises(ValueError, match="`k` is empty"):
        lk.linear_attention(q, k[:0], v[:0])
    with pytest.raises(TypeError, match="mix of NumPy"):
        lk.linear_attention(q.numpy(), k, v)


def test_rff_nadaraya_watson_equals_the_feature_formula():
    g = torch.Generator().manual_seed(3)
    x, xq = torch.rand(300, 2, generator=g, dtype=torch.float64), torch.rand(4, 2, generator=g, dtype=torch.float64)
    y = torch.sin(x.sum(1))
    w = lk.sample_projection(32, 2, kind="orthogonal", seed=8)
    phi, phi_q = lk.random_fourier_features(x, w, bandwidth=0.3), lk.random_fourier_features(xq, w, bandwidth=0.3)
    expected = (phi_q @ (phi.T @ y)) / (phi_q @ phi.sum(0))
    got = lk.rff_nadaraya_watson(x, y, xq, bandwidth=0.3, num_features=32, seed=8)
    assert torch.allclose(got, expected, rtol=1e-10)
