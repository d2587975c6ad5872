"""Tests for lenakernel/favor.py: FAVOR+ is linear attention with positive features,
stable for large norms, causal without leaking the future."""

import math

import pytest
import torch

import lenakernel as lk
from lenakernel.reference import softmax_attention_reference
from tests.conftest import LINEAR_METHODS as METHODS
from tests.conftest import qkv as _qkv


def _softmax_attention(q, k, v, causal=False):
    return softmax_attention_reference(q, k, v, 1 / math.sqrt(q.shape[-1]), causal=causal)


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
