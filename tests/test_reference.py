"""The book's identities, stated as reuse in the package, and every tuned path held to
its readable reference in lenakernel/reference.py."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lenakernel as lk
from lenakernel import reference as ref
from tests.conftest import LINEAR_METHODS, SETTINGS, qkv

TIGHT = dict(rtol=1e-11, atol=1e-12)


# ------------------------------------------------------------------- the identities

@SETTINGS
@given(n=st.integers(2, 12), m=st.integers(1, 6), p=st.integers(1, 3), seed=st.integers(0, 99))
def test_metric_smoother_is_nadaraya_watson_on_transformed_inputs(n, m, p, seed):
    rng = np.random.default_rng(seed)
    x, xq, a = rng.normal(size=(n, p)), rng.normal(size=(m, p)), rng.normal(size=(p + 1, p))
    y = rng.normal(size=n)
    np.testing.assert_allclose(lk.metric_kernel_smoother(x, y, xq, metric=a),
                               lk.nadaraya_watson(x @ a.T, y, xq @ a.T, bandwidth=1.0), **TIGHT)
    np.testing.assert_allclose(lk.metric_kernel_smoother(x, y, x, metric=a, exclude_self=True),
                               lk.leave_one_out_predictions(x @ a.T, y, bandwidth=1.0), **TIGHT)


def test_leave_one_out_is_nadaraya_watson_excluding_self():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=20), rng.normal(size=20)
    np.testing.assert_array_equal(lk.leave_one_out_predictions(x, y, bandwidth=0.4),
                                  lk.nadaraya_watson(x, y, x, bandwidth=0.4, exclude_self=True))


def test_in_context_head_is_softmax_attention():
    rng = np.random.default_rng(2)
    x, y, xq = rng.uniform(-1, 1, (3, 7)), rng.normal(size=(3, 7)), rng.uniform(-1, 1, (3, 4))
    wq, wk, wv = rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=4)
    phi = lk.in_context_features
    tokens = np.concatenate([phi(x), y[..., None]], axis=-1)
    expected = lk.softmax_attention(phi(xq) @ wq.T, phi(x) @ wk.T, (tokens @ wv)[..., None],
                                    scale=1 / (0.7 * math.sqrt(2)))[..., 0]
    got = lk.in_context_attention(x, y, xq, w_query=wq, w_key=wk, w_value=wv, temperature=0.7)
    np.testing.assert_allclose(got, expected, **TIGHT)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("method", LINEAR_METHODS)
def test_favor_is_linear_attention_with_positive_features(causal, method):
    q, k, v = qkv(2, 9, d=3, dv=2, seed=4, scale=0.5)
    w = lk.sample_projection(16, 3, kind="orthogonal", seed=1)
    scale = 0.7
    root = math.sqrt(scale)
    features = {"q": lk.positive_random_features(q * root, w), "k": lk.positive_random_features(k * root, w)}
    pair = iter([features["q"], features["k"]])  # linear_attention maps q first, then k
    expected = lk.linear_attention(q, k, v, feature_map=lambda x: next(pair), causal=causal, eps=0.0)
    got = lk.favor_attention(q, k, v, projection=w, scale=scale, causal=causal, method=method, chunk_size=4)
    torch.testing.assert_close(got, expected, **TIGHT)
    torch.testing.assert_close(got, ref.favor_attention_reference(q, k, v, w, scale, causal=causal), **TIGHT)


def test_rff_smoother_is_linear_attention_with_random_fourier_features():
    g = torch.Generator().manual_seed(3)
    x, xq = torch.rand(50, 2, generator=g, dtype=torch.float64), torch.rand(6, 2, generator=g, dtype=torch.float64)
    y = torch.sin(x.sum(1, keepdim=True))
    w = lk.sample_projection(16, 2, kind="orthogonal", seed=8)
    expected = lk.linear_attention(xq, x, y, feature_map=lambda t: lk.random_fourier_features(t, w, bandwidth=0.3),
                                   eps=0.0)
    got = lk.rff_nadaraya_watson(x, y, xq, bandwidth=0.3, num_features=16, seed=8, kind="orthogonal")
    torch.testing.assert_close(got, expected, **TIGHT)
    torch.testing.assert_close(got, ref.rff_nadaraya_watson_reference(x, y, xq, w, 0.3), **TIGHT)


# --------------------------------------------------------- tuned paths vs references

@SETTINGS
@given(n=st.integers(1, 40), m=st.integers(1, 30), p=st.integers(1, 3), h=st.floats(0.05, 5), seed=st.integers(0, 99))
def test_blocked_nadaraya_watson_matches_its_reference(n, m, p, h, seed):
    g = torch.Generator().manual_seed(seed)
    x, xq = torch.randn(n, p, generator=g, dtype=torch.float64), torch.randn(m, p, generator=g, dtype=torch.float64)
    y = torch.randn(n, 2, generator=g, dtype=torch.float64)
    torch.testing.assert_close(lk.nadaraya_watson(x, y, xq, bandwidth=h), ref.nadaraya_watson_reference(x, y, xq, h),
                               **TIGHT)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_and_blocked_softmax_attention_match_their_reference(causal, dtype):
    q, k, v = qkv(3, 33, d=8, dv=5, seed=6, dtype=dtype)
    expected = ref.softmax_attention_reference(q, k, v, 0.4, causal=causal)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else TIGHT
    torch.testing.assert_close(lk.softmax_attention(q, k, v, scale=0.4, causal=causal), expected, **tolerance)
    torch.testing.assert_close(lk.softmax_attention(q, k, v, scale=0.4, causal=causal, return_weights=True)[0],
                               expected, **tolerance)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("method", LINEAR_METHODS)
def test_every_linear_attention_form_matches_its_reference(causal, method):
    q, k, v = qkv(2, 11, d=3, dv=2, seed=5)
    fq, fk = lk.elu_plus_one(q), lk.elu_plus_one(k)
    expected = ref.linear_attention_reference(fq, fk, v, causal=causal, eps=1e-6)
    torch.testing.assert_close(lk.linear_attention(q, k, v, causal=causal, method=method, chunk_size=4), expected,
                               **TIGHT)
