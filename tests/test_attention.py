"""Tests for lenakernel.attention: attention as Nadaraya-Watson kernel smoothing."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import lenakernel as lk
from lenakernel import _validation

from tests.conftest import SETTINGS
from tests.conftest import arrays as draw

TIGHT = dict(rtol=1e-12, atol=1e-12)


def reference_nw(q, k, v, log_kernel):
    """The Nadaraya-Watson formula written out, one query at a time, in NumPy."""
    out = np.zeros((q.shape[0], v.shape[1]))
    for i in range(q.shape[0]):
        logs = np.array([log_kernel(q[i], k[j]) for j in range(k.shape[0])])
        w = np.exp(logs - logs.max())
        out[i] = (w / w.sum()) @ v
    return out


sizes = st.tuples(st.integers(1, 6), st.integers(1, 7), st.integers(1, 4), st.integers(1, 3))
seeds = st.integers(0, 2**32 - 1)


# ---------------------------------------------------------------- the identities

@SETTINGS
@given(sizes=sizes, seed=seeds)
def test_softmax_attention_is_the_exp_dot_smoother(sizes, seed):
    m, n, d, dv = sizes
    q, k, v = draw(seed, (m, d), (n, d), (n, dv))
    out = lk.softmax_attention(q, k, v)
    smoothed = lk.kernel_smoother(q, k, v, kernel="exp_dot", scale=1 / math.sqrt(d))
    written_out = reference_nw(q, k, v, lambda a, b: a @ b / math.sqrt(d))
    np.testing.assert_allclose(out, smoothed, **TIGHT)
    np.testing.assert_allclose(out, written_out, **TIGHT)


@SETTINGS
@given(sizes=sizes, seed=seeds, scale=st.floats(0.1, 10.0))
def test_unit_norm_softmax_attention_is_gaussian_attention(sizes, seed, scale):
    m, n, d, dv = sizes
    q, k, v = draw(seed, (m, d), (n, d), (n, dv))
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    soft = lk.softmax_attention(q, k, v, scale=scale)
    gauss = lk.gaussian_attention(q, k, v, bandwidth=1 / math.sqrt(scale))  # sigma^2 = 1/scale
    np.testing.assert_allclose(soft, gauss, **TIGHT)


@SETTINGS
@given(sizes=sizes, seed=seeds, scale=st.floats(0.1, 2.0))
def test_softmax_attention_is_gaussian_smoothing_with_key_weights(sizes, seed, scale):
    m, n, d, dv = sizes
    q, k, v = draw(seed, (m, d), (n, d), (n, dv))
    soft, w_soft = lk.softmax_attention(q, k, v, scale=scale, return_weights=True)
    key_weights = np.exp(scale * (k**2).sum(-1) / 2)
    gauss, w_gauss = lk.kernel_smoother(q, k, v, kernel="gaussian", bandwidth=1 / math.sqrt(scale),
                                        key_weights=key_weights, return_weights=True)
    np.testing.assert_allclose(soft, gauss, **TIGHT)
    np.testing.assert_allclose(w_soft, w_gauss, **TIGHT)


def test_key_weights_of_zero_remove_the_key():
    q, k, v = draw(0, (3, 2), (5, 2), (5, 2))
    mask = np.ones((3, 5), dtype=bool)
    mask[:, 1] = False
    weights = np.ones(5)
    weights[1] = 0.0
    np.testing.assert_allclose(lk.kernel_smoother(q, k, v, kernel="gaussian", bandwidth=0.7, key_weights=weights),
                               lk.gaussian_attention(q, k, v, bandwidth=0.7, mask=mask), **TIGHT)


def test_gaussian_attention_is_the_written_out_nadaraya_watson():
    q, k, v = draw(1, (4, 3), (6, 3), (6, 2))
    sigma = 0.8
    expected = reference_nw(q, k, v, lambda a, b: -np.sum((a - b) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(lk.gaussian_attention(q, k, v, bandwidth=sigma), expected, **TIGHT)


def test_log_kernels_match_their_formulas():
    q, k = draw(2, (3, 4), (5, 4))
    np.testing.assert_allclose(lk.exp_dot_log_kernel(q, k, scale=0.3), 0.3 * q @ k.T, **TIGHT)
    np.testing.assert_allclose(lk.exp_dot_log_kernel(q, k), q @ k.T / 2.0, **TIGHT)  # 1/sqrt(4)
    squared = ((q[:, None, :] - k[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(lk.gaussian_log_kernel(q, k, bandwidth=1.5), -squared / 4.5, **TIGHT)


def test_callable_kernel_equals_named_kernel():
    q, k, v = draw(3, (4, 3), (6, 3), (6, 2))

    def log_gauss(q, k, *, width):
        return -torch.cdist(q, k) ** 2 / (2 * width**2)

    np.testing.assert_allclose(lk.kernel_smoother(q, k, v, log_kernel=log_gauss, width=0.9),
                               lk.gaussian_attention(q, k, v, bandwidth=0.9), **TIGHT)


# ---------------------------------------------------------------- parity with PyTorch

def test_parity_with_sdpa_plain_masked_causal_and_batched():
    q, k, v = (torch.from_numpy(a) for a in draw(4, (2, 3, 7, 5), (2, 3, 7, 5), (2, 3, 7, 4)))
    mask = torch.from_numpy(np.random.default_rng(5).random((2, 3, 7, 7)) < 0.6)
    mask[..., 0] = True  # every query keeps one key, so no row is fully masked
    torch.testing.assert_close(lk.softmax_attention(q, k, v),
                               F.scaled_dot_product_attention(q, k, v), **TIGHT)
    torch.testing.assert_close(lk.softmax_attention(q, k, v, mask=mask),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TIGHT)
    torch.testing.assert_close(lk.softmax_attention(q, k, v, causal=True),
                               F.scaled_dot_product_attention(q, k, v, is_causal=True), **TIGHT)
    torch.testing.assert_close(lk.softmax_attention(q, k, v, scale=0.37),
                               F.scaled_dot_product_attention(q, k, v, scale=0.37), **TIGHT)


def test_parity_with_sdpa_fully_masked_rows_and_bottom_right_causal():
    q, k, v = (torch.from_numpy(a) for a in draw(6, (5, 3), (8, 3), (8, 2)))
    mask = torch.ones(5, 8, dtype=torch.bool)
    mask[2] = False
    torch.testing.assert_close(lk.softmax_attention(q, k, v, mask=mask),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TIGHT)
    # m != n: ours aligns the causal mask at the bottom right, i.e. j <= i + (n - m).
    bottom_right = torch.ones(5, 8, dtype=torch.bool).tril(diagonal=8 - 5)
    torch.testing.assert_close(lk.softmax_attention(q, k, v, causal=True),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=bottom_right), **TIGHT)


# ---------------------------------------------------------------- structure

@SETTINGS
@given(sizes=sizes, seed=seeds)
def test_permuting_keys_with_values_changes_nothing(sizes, seed):
    m, n, d, dv = sizes
    q, k, v = draw(seed, (m, d), (n, d), (n, dv))
    perm = np.random.default_rng(seed).permutation(n)
    out, w = lk.softmax_attention(q, k, v, return_weights=True)
    out_p, w_p = lk.softmax_attention(q, k[perm], v[perm], return_weights=True)
    np.testing.assert_allclose(out_p, out, **TIGHT)
    np.testing.assert_allclose(w_p, w[:, perm], **TIGHT)


@SETTINGS
@given(sizes=sizes, seed=seeds)
def test_permuting_queries_permutes_outputs(sizes, seed):
    m, n, d, dv = sizes
    q, k, v = draw(seed, (m, d), (n, d), (n, dv))
    perm = np.random.default_rng(seed + 1).permutation(m)
    np.testing.assert_allclose(lk.gaussian_attention(q[perm], k, v, bandwidth=1.3),
                               lk.gaussian_attention(q, k, v, bandwidth=1.3)[perm], **TIGHT)


@SETTINGS
@given(sizes=sizes, seed=seeds, causal=st.booleans())
def test_weights_are_nonnegative_rows_summing_to_one(sizes, seed, causal):
    m, n, d, dv = sizes
    q, k, v = draw(seed, (m, d), (n, d), (n, dv), scale=3.0)
    _, w = lk.softmax_attention(q, k, v, causal=causal, return_weights=True)
    assert np.all(w >= 0)
    # A row sums to 1 when the query sees a key; with causal and m > n the first
    # m - n queries see none (bottom-right alignment) and their rows are 0.
    sees_a_key = np.arange(m) + (n - m) >= 0 if causal else np.ones(m, bool)
    np.testing.assert_allclose(w.sum(-1), sees_a_key.astype(float), rtol=0, atol=1e-12)
    if causal:  # query i never weighs a key j > i + (n - m)
        i, j = np.indices((m, n))
        assert np.all(w[j > i + (n - m)] == 0)


def test_causal_rows_with_no_visible_key_are_zero():
    # m > n with bottom-right alignment: the first m - n queries see no key.
    q, k, v = draw(7, (6, 2), (4, 2), (4, 3))
    out, w = lk.softmax_attention(q, k, v, causal=True, return_weights=True)
    assert np.all(out[:2] == 0) and np.all(w[:2] == 0)
    np.testing.assert_allclose(w[2:].sum(-1), 1.0, **TIGHT)


@pytest.mark.parametrize("block_bytes", [None, 64])
def test_causal_never_reads_the_future(monkeypatch, block_bytes):
    if block_bytes is not None:
        monkeypatch.setattr(_validation, "BLOCK_BYTES", block_bytes)
    q, k, v = (torch.from_numpy(a) for a in draw(8, (2, 9, 4), (2, 9, 4), (2, 9, 3)))
    out = lk.softmax_attention(q, k, v, causal=True)
    for t in range(9):
        k2, v2 = k.clone(), v.clone()
        k2[:, t + 1:] += 100.0 * torch.randn_like(k2[:, t + 1:])
        v2[:, t + 1:] -= 50.0
        out2 = lk.softmax_attention(q, k2, v2, causal=True)
        assert torch.equal(out2[:, : t + 1], out[:, : t + 1])


@pytest.mark.parametrize("causal", [False, True])
def test_blocked_queries_match_the_single_block(monkeypatch, causal):
    q, k, v = draw(9, (3, 37, 4), (3, 29, 4), (3, 29, 2))
    mask = np.random.default_rng(9).random((37, 29)) < 0.7
    whole, _ = lk.softmax_attention(q, k, v, mask=mask, causal=causal, return_weights=True)
    monkeypatch.setattr(_validation, "BLOCK_BYTES", 3 * 29 * 8 * 5)  # five query rows per block
    assert _validation.rows_per_block(29 * 3 * 8, 37) == 5
    np.testing.assert_allclose(lk.softmax_attention(q, k, v, mask=mask, causal=causal), whole, **TIGHT)


def test_block_never_holds_more_than_the_budget():
    for m, n, batch, itemsize in [(8192, 8192, 1, 4), (8192, 8192, 16, 8), (100, 10**6, 4, 4)]:
        rows = _validation.rows_per_block(n * batch * itemsize, m)
        assert 1 <= rows <= m
        assert rows == 1 or rows * n * batch * itemsize <= _validation.BLOCK_BYTES
    assert _validation.rows_per_block(8192 * 4, 8192) < 8192  # the n x n matrix is never whole


def test_fully_masked_rows_give_zero_output_zero_weights_and_finite_gradients():
    q, k, v = (torch.from_numpy(a).requires_grad_() for a in draw(10, (4, 3), (5, 3), (5, 2)))
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[1] = False
    for fn in (lambda **kw: lk.softmax_attention(q, k, v, **kw),
               lambda **kw: lk.gaussian_attention(q, k, v, bandwidth=0.5, **kw)):
        out, w = fn(mask=mask, return_weights=True)
        assert torch.all(out[1] == 0) and torch.all(w[1] == 0)
        torch.testing.assert_close(w[[0, 2, 3]].sum(-1), torch.ones(3, dtype=torch.float64), **TIGHT)
        out.sum().backward()
        assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_empty_context_gives_zeros():
    q = np.ones((3, 2))
    out, w = lk.softmax_attention(q, np.zeros((0, 2)), np.zeros((0, 4)), return_weights=True)
    assert out.shape == (3, 4) and np.all(out == 0) and w.shape == (3, 0)


def test_batch_and_head_dimensions_broadcast():
    q, k, v = draw(11, (2, 3, 4, 5), (3, 6, 5), (3, 6, 2))
    out = lk.softmax_attention(q, k, v)
    assert out.shape == (2, 3, 4, 2)
    for b in range(2):
        for h in range(3):
            np.testing.assert_allclose(out[b, h], lk.softmax_attention(q[b, h], k[h], v[h]), **TIGHT)


# ---------------------------------------------------------------- numerics

def test_huge_logits_give_finite_exact_weights():
    q = np.array([[100.0]])
    k = np.array([[100.0], [-100.0], [99.99]])  # logits 1e4, -1e4, 1e4 - 1
    v = np.array([[1.0], [2.0], [3.0]])
    out, w = lk.softmax_attention(q, k, v, scale=1.0, return_weights=True)
    e = math.exp(-1.0)
    np.testing.assert_allclose(w, [[1 / (1 + e), 0.0, e / (1 + e)]], rtol=1e-12, atol=0)
    np.testing.assert_allclose(out, [[(1 + 3 * e) / (1 + e)]], rtol=1e-12)
    out, w = lk.softmax_attention(-q, k, v, scale=1.0, return_weights=True)  # logits -1e4, 1e4, ...
    np.testing.assert_allclose(w, [[0.0, 1.0, 0.0]], **TIGHT)


@pytest.mark.parametrize("bandwidth", [1e-8, 1e8])
def test_extreme_bandwidths_are_finite(bandwidth):
    q, k, v = draw(12, (3, 2), (6, 2), (6, 1))
    out, w = lk.gaussian_attention(q, k, v, bandwidth=bandwidth, return_weights=True)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(w))
    if bandwidth < 1:  # nearest key takes all the weight
        nearest = np.argmin(((q[:, None] - k[None]) ** 2).sum(-1), axis=1)
        np.testing.assert_allclose(out[:, 0], v[nearest, 0], **TIGHT)
    else:  # every key weighs the same: the plain mean
        np.testing.assert_allclose(out, np.broadcast_to(v.mean(0), out.shape), rtol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_close_to_float64(dtype):
    q, k, v = (torch.from_numpy(a) for a in draw(13, (2, 16, 8), (2, 32, 8), (2, 32, 4)))
    expected = lk.softmax_attention(q, k, v, causal=True)
    got = lk.softmax_attention(q.to(dtype), k.to(dtype), v.to(dtype), causal=True)
    assert got.dtype == dtype
    assert torch.isfinite(got).all()
    assert (got.double() - expected).abs().max() < 1e-2
    got = lk.gaussian_attention(q.to(dtype), k.to(dtype), v.to(dtype), bandwidth=2.0)
    assert (got.double() - lk.gaussian_attention(q, k, v, bandwidth=2.0)).abs().max() < 1e-2


# ---------------------------------------------------------------- backends and autograd

def test_numpy_in_numpy_out_torch_in_torch_out():
    q, k, v = draw(14, (3, 2), (4, 2), (4, 2))
    out = lk.softmax_attention(q, k, v)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    out32, w32 = lk.softmax_attention(*(torch.from_numpy(a).float() for a in (q, k, v)), return_weights=True)
    assert isinstance(out32, torch.Tensor) and out32.dtype == torch.float32 and w32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), out, rtol=1e-5, atol=1e-6)


def test_gradcheck_through_inputs_scale_and_bandwidth():
    q, k, v = (torch.from_numpy(a).requires_grad_() for a in draw(15, (3, 2), (4, 2), (4, 2)))
    scale = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    width = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True, True]] * 3)
    assert torch.autograd.gradcheck(
        lambda q, k, v, s: lk.softmax_attention(q, k, v, scale=s, mask=mask, causal=True), (q, k, v, scale))
    assert torch.autograd.gradcheck(
        lambda q, k, v, b: lk.gaussian_attention(q, k, v, bandwidth=b), (q, k, v, width))


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, error, name", [
    (lambda q, k, v: lk.softmax_attention(q, k[:, :2], v), ValueError, "`k`"),
    (lambda q, k, v: lk.softmax_attention(q, k, v[:3]), ValueError, "`v`"),
    (lambda q, k, v: lk.softmax_attention(q[0], k, v), ValueError, "`q`"),
    (lambda q, k, v: lk.softmax_attention(q, k, v, mask=np.ones((2, 4), bool)), ValueError, "`mask`"),
    (lambda q, k, v: lk.softmax_attention(q, k, v, mask=np.ones((3, 4))), TypeError, "`mask`"),
    (lambda q, k, v: lk.softmax_attention(q, k, v, mask=torch.ones(3, 4, dtype=torch.int64)), TypeError, "`mask`"),
    (lambda q, k, v: lk.softmax_attention(q, k, v, scale=0.0), ValueError, "`scale`"),
    (lambda q, k, v: lk.softmax_attention(q, k, v, scale=-2.0), ValueError, "`scale`"),
    (lambda q, k, v: lk.gaussian_attention(q, k, v, bandwidth=0.0), ValueError, "`bandwidth`"),
    (lambda q, k, v: lk.gaussian_log_kernel(q, k, bandwidth=-1.0), ValueError, "`bandwidth`"),
    (lambda q, k, v: lk.kernel_smoother(q, k, v, kernel="epanechnikov"), ValueError, "`kernel`"),
    (lambda q, k, v: lk.kernel_smoother(q, k, v, kernel="gaussian"), TypeError, "`bandwidth`"),
    (lambda q, k, v: lk.kernel_smoother(q, k, v, kernel="gaussian", bandwidth=1.0, scale=2.0), TypeError, "scale"),
    (lambda q, k, v: lk.kernel_smoother(q, k, v, log_kernel=lambda q, k: q), ValueError, "`log_kernel`"),
    (lambda q, k, v: lk.kernel_smoother(q, k, v), TypeError, "`kernel`"),
    (lambda q, k, v: lk.kernel_smoother(q, k, v, kernel="exp_dot", key_weights=-np.ones(4)), ValueError,
     "`key_weights`"),
    (lambda q, k, v: lk.kernel_smoother(q, k, v, kernel="exp_dot", key_weights=np.ones(3)), ValueError,
     "`key_weights`"),
    (lambda q, k, v: lk.softmax_attention(q, k, np.full((4, 2), np.nan)), ValueError, "`v`"),
    (lambda q, k, v: lk.softmax_attention(torch.zeros(3, 3), k, v), TypeError, "`q`"),
])
def test_bad_input_raises_naming_the_argument(call, error, name):
    q, k, v = draw(16, (3, 3), (4, 3), (4, 2))
    with pytest.raises(error, match=name):
        call(q, k, v)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_fused_path_without_weights_equals_the_smoother(dtype, tol):
    # Without weights, softmax_attention goes through torch's fused kernel; it must give
    # the smoother's numbers, masks and fully masked rows (output 0) included.
    generator = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(2, 3, 9, 5, generator=generator, dtype=dtype) for _ in range(3))
    mask = torch.rand(9, 9, generator=generator) > 0.4
    mask[2] = False
    for kwargs in ({}, {"mask": mask}, {"mask": mask, "scale": 0.3}):
        fused = lk.softmax_attention(q, k, v, **kwargs)
        smoother = lk.kernel_smoother(q, k, v, kernel="exp_dot", **kwargs)
        assert fused.dtype == dtype
        assert torch.allclose(fused, smoother, atol=tol, rtol=tol)
    assert torch.equal(lk.softmax_attention(q, k, v, mask=mask)[..., 2, :], torch.zeros(2, 3, 5, dtype=dtype))


def test_a_callable_kernel_is_the_deprecated_spelling_of_log_kernel():
    q, k, v = draw(3, (4, 2), (5, 2), (5, 1))

    def log_gauss(q, k):
        return -0.5 * torch.cdist(q, k) ** 2

    with pytest.warns(DeprecationWarning, match=r"kernel_smoother\(log_kernel=...\)"):
        old = lk.kernel_smoother(q, k, v, kernel=log_gauss)
    np.testing.assert_allclose(old, lk.kernel_smoother(q, k, v, log_kernel=log_gauss), **TIGHT)


# ------------------------------------------------- the Gaussian path far from the origin

def _exact_log_kernel(q, k, h):
    """-||q - k||^2 / (2 h^2) for every pair, with exact rational arithmetic."""
    from fractions import Fraction

    out = np.empty((len(q), len(k)))
    for i, qi in enumerate(q):
        for j, kj in enumerate(k):
            squared = sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(qi, kj))
            out[i, j] = float(-squared / (2 * Fraction(float(h)) ** 2))
    return out


def test_issue_example_far_from_the_origin_in_float32():
    q = np.array([[100.0, 100.0]], dtype=np.float32)
    k = np.array([[100.0, 100.0], [100.05, 100.0]], dtype=np.float32)
    got = lk.gaussian_log_kernel(q, k, bandwidth=0.05)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _exact_log_kernel(q, k, np.float32(0.05)), rtol=1e-6, atol=1e-6)
    assert abs(float(got[0, 1]) + 0.5) < 1e-3  # not -0.78 (the expanded square's answer)


@pytest.mark.parametrize("dtype, offset", [(np.float32, 1e2), (np.float32, 1e3), (np.float32, 1e5),
                                           (np.float64, 1e2), (np.float64, 1e7), (np.float64, 1e12)])
def test_gaussian_kernel_and_weights_are_accurate_far_from_the_origin(dtype, offset):
    rng = np.random.default_rng(int(np.log10(offset)))
    h = 1e-3 * offset if dtype == np.float32 else 1e-6 * offset  # a width well above the spacing of floats there
    q = (offset + h * rng.normal(size=(4, 3))).astype(dtype)
    k = (offset + h * rng.normal(size=(9, 3))).astype(dtype)
    v = rng.normal(size=(9, 2)).astype(dtype)
    exact = _exact_log_kernel(q, k, h)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lk.gaussian_log_kernel(q, k, bandwidth=h), exact, **tol)
    out, weights = lk.gaussian_attention(q, k, v, bandwidth=h, return_weights=True)
    exact_weights = np.exp(exact - exact.max(1, keepdims=True))
    exact_weights /= exact_weights.sum(1, keepdims=True)
    np.testing.assert_allclose(weights, exact_weights, **tol)
    np.testing.assert_allclose(out, exact_weights @ v.astype(np.float64), **tol)
    # The same smoother as chapter 1's Nadaraya-Watson, which always used differences.
    np.testing.assert_allclose(out, lk.nadaraya_watson(k, v, q, bandwidth=h), **tol)


def test_chapter_3_identity_still_holds_for_unit_vectors():
    q, k, v = draw(12, (5, 4), (7, 4), (7, 2))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    h = 0.6
    np.testing.assert_allclose(lk.gaussian_attention(q, k, v, bandwidth=h),
                               lk.softmax_attention(q, k, v, scale=1 / h**2), **TIGHT)


@pytest.mark.parametrize("h", [1e-8, 1e-30, 1e-200, 1e-320])
def test_tiny_bandwidth_gives_the_nearest_key(h):
    k = np.array([[0.3], [1.0], [-2.0]])
    v = np.array([[1.0], [2.0], [3.0]])
    out, w = lk.gaussian_attention(np.zeros((1, 1)), k, v, bandwidth=h, return_weights=True)
    np.testing.assert_array_equal(out, [[1.0]])
    np.testing.assert_array_equal(w, [[1.0, 0.0, 0.0]])


@pytest.mark.parametrize("dtype, h", [(np.float32, 1e-20), (np.float32, 1e-45), (np.float16, 3e-3), (np.float32, 1e30)])
def test_nadaraya_watson_stays_finite_for_extreme_bandwidths_in_low_precision(dtype, h):
    x = np.array([0.0, 0.5, 1.0], dtype=dtype)
    y = np.array([1.0, 2.0, 4.0], dtype=dtype)
    out = lk.nadaraya_watson(x, y, x, bandwidth=h)
    assert out.dtype == dtype and np.isfinite(out).all()
    expected = y if h < 1 else np.full(3, y.mean())
    np.testing.assert_allclose(out.astype(np.float64), expected, rtol=1e-2)


@pytest.mark.parametrize("scale", [1e-300, 1e12, 1e300])
def test_extreme_scales_give_the_limit(scale):
    q, k, v = draw(13, (3, 2), (4, 2), (4, 1))
    out = lk.softmax_attention(q, k, v, scale=scale, causal=True)
    assert np.isfinite(out).all()
    if scale < 1:
        np.testing.assert_allclose(out[-1], v.mean(0), rtol=1e-12)


@pytest.mark.parametrize("shapes", [((0, 3), (4, 3), (4, 2)), ((2, 3), (0, 3), (0, 2)), ((2, 3), (4, 3), (4, 0))])
@pytest.mark.parametrize("causal", [False, True])
def test_empty_sizes_give_empty_or_zero_outputs(shapes, causal):
    q, k, v = draw(14, *shapes)
    out = lk.softmax_attention(q, k, v, causal=causal)
    assert out.shape == (q.shape[0], v.shape[1]) and not out.any()
    assert lk.softmax_attention(torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v)).shape == out.shape


def test_no_features_is_refused_by_name_for_the_default_scale():
    with pytest.raises(ValueError, match="`q` and `k` need at least one feature"):
        lk.softmax_attention(np.zeros((2, 0)), np.zeros((3, 0)), np.zeros((3, 1)))


@pytest.mark.parametrize("function", [lk.softmax_attention, lk.kernel_smoother, lk.gaussian_attention])
@pytest.mark.parametrize("flag", ["causal", "return_weights"])
def test_flags_must_be_bools(function, flag):
    q, k, v = draw(15, (2, 2), (2, 2), (2, 1))
    extra = {"softmax_attention": {}, "kernel_smoother": {"kernel": "exp_dot"},
             "gaussian_attention": {"bandwidth": 1.0}}[function.__name__]
    with pytest.raises(TypeError, match=f"`{flag}` must be True or False"):
        function(q, k, v, **extra, **{flag: "False"})


# ------------------------------------------------------- plain calls straight to SDPA

def _plain_qkv(shape, n, d_v, dtype, seed=0):
    generator = torch.Generator().manual_seed(seed)
    *lead, m, d = shape
    return (torch.randn(*lead, m, d, generator=generator, dtype=dtype),
            torch.randn(*lead, n, d, generator=generator, dtype=dtype),
            torch.randn(*lead, n, d_v, generator=generator, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape, n, d_v", [((1, 1, 1, 1), 1, 1), ((1, 4, 16, 32), 16, 32),
                                           ((2, 3, 5, 4), 7, 2), ((2, 1, 65, 8), 63, 3), ((1, 1), 1, 1),
                                           ((16, 32), 16, 32), ((4, 5, 3), 9, 2), ((2, 2, 2, 3, 4), 5, 6)])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_plain_calls_match_the_reference_and_the_general_path(dtype, shape, n, d_v, scale):
    from lenakernel.attention import _plain_sdpa_call
    from lenakernel.reference import softmax_attention_reference

    q, k, v = _plain_qkv(shape, n, d_v, dtype)
    assert _plain_sdpa_call(q, k, v, scale, None, False, False)
    out = lk.softmax_attention(q, k, v, scale=scale)
    # The same smoother by the package's own blocked code, and through the general path.
    blocked = lk.kernel_smoother(q, k, v, kernel="exp_dot", scale=scale)
    general = lk.softmax_attention(q, k, v, scale=scale, mask=torch.ones(shape[-2], n, dtype=torch.bool))
    torch.testing.assert_close(out, blocked, rtol=1e-5 if dtype == torch.float32 else 1e-12,
                               atol=1e-5 if dtype == torch.float32 else 1e-12)
    reference = softmax_attention_reference(q, k, v, 1 / math.sqrt(shape[-1]) if scale is None else scale)
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    assert out.dtype == dtype
    torch.testing.assert_close(out, general, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(out, reference, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("which", ["q", "k", "v"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_plain_calls_refuse_non_finite_inputs_by_name(which, bad):
    tensors = dict(zip("qkv", _plain_qkv((1, 2, 3, 4), 3, 4, torch.float32)))
    tensors[which][0, 1, 2, 3] = bad
    with pytest.raises(ValueError, match=f"`{which}` contains NaN or infinite"):
        lk.softmax_attention(**tensors)


def test_plain_calls_accept_large_finite_inputs():
    q, k, v = _plain_qkv((1, 2, 3, 4), 3, 4, torch.float32)
    v[0, 0, 0, 0] = v[0, 1, 1, 1] = 2e38  # the sum overflows; every entry and every output is finite
    assert torch.isfinite(lk.softmax_attention(q, k, v)).all()


@pytest.mark.parametrize("change", [dict(scale=2e3), dict(scale=0.0), dict(scale=torch.tensor(0.5)),
                                    dict(mask=torch.ones(3, 3, dtype=torch.bool)), dict(causal=True),
                                    dict(return_weights=True), dict(causal=np.bool_(False))])
def test_plain_calls_leave_anything_unusual_to_the_general_path(change):
    from lenakernel.attention import _plain_sdpa_call

    q, k, v = _plain_qkv((1, 2, 3, 4), 3, 4, torch.float64)
    options = dict(scale=None, mask=None, causal=False, return_weights=False)
    options.update(change)
    assert not _plain_sdpa_call(q, k, v, *options.values())
    if change.get("scale") != 0.0:
        lk.softmax_attention(q, k, v, **change)  # and the general path accepts it


def test_plain_calls_keep_gradients():
    q, k, v = (t.requires_grad_() for t in _plain_qkv((2, 2, 4, 3), 5, 2, torch.float64))
    grads = torch.autograd.grad(lk.softmax_attention(q, k, v).square().sum(), (q, k, v))
    general = torch.autograd.grad(lk.kernel_smoother(q, k, v, kernel="exp_dot").square().sum(), (q, k, v))
    for fast, slow in zip(grads, general):
        torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)


def test_exp_dot_log_kernel_at_an_extreme_scale_is_not_nan():
    # float32: the scale is clamped to the largest float, and q * scale would overflow;
    # the dot product 0 must stay 0 (it was inf * 0 = NaN).
    q = np.array([[0.0, 2.0]], dtype=np.float32)
    k = np.zeros((2, 2), dtype=np.float32)
    assert np.array_equal(lk.exp_dot_log_kernel(q, k, scale=1e300), np.zeros((1, 2), dtype=np.float32))
