"""Tests for lenakernel/linear.py: reassociation, the four causal forms, the causality
probe, the recurrent state, and bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lenakernel as lk
from lenakernel.reference import linear_attention_reference, softmax_attention_reference
from tests.conftest import LINEAR_METHODS as METHODS
from tests.conftest import qkv as _qkv


def _softmax_attention(q, k, v, causal=False):
    return softmax_attention_reference(q, k, v, 1 / math.sqrt(q.shape[-1]), causal=causal)


FEATURE_MAPS = ["elu+1", "relu", "taylor", lambda x: torch.exp(-x * x)]


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
    with pytest.raises(ValueError, match="`q` is empty"):
        lk.linear_attention(q[:, :0], k[:, :0], v)
    with pytest.raises(TypeError, match="mix of NumPy"):
        lk.linear_attention(q.numpy(), k, v)


@pytest.mark.parametrize("causal", [False, True])
def test_an_empty_context_or_no_queries_gives_zeros(causal):
    q, k, v = _qkv(6)
    empty = lk.linear_attention(q[:0], k[:0], v[:0], causal=causal)
    assert empty.shape == (0, 3)
    out = lk.linear_attention(q[:2], k[:0], v[:0])
    torch.testing.assert_close(out, torch.zeros(2, 3, dtype=torch.float64))


def test_state_refuses_a_nan_token():
    state = lk.LinearAttentionState(4, 3)
    q, k, v = _qkv(2)
    with pytest.raises(ValueError, match="`k_t` contains NaN"):
        state.step(q[0], k[0] * float("nan"), v[0])
    assert state.position == 0 and bool(torch.isfinite(state.step(q[1], k[1], v[1])).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_state_takes_the_first_tokens_dtype_and_matches_causal_attention(dtype):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 20, 5, dtype=dtype)
    state = lk.LinearAttentionState(5, 5, batch_shape=(2,))
    steps = torch.stack([state.step(q[:, t], k[:, t], v[:, t]) for t in range(20)], dim=1)
    assert state.state.dtype == dtype and steps.dtype == dtype
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(steps, lk.linear_attention(q, k, v, causal=True), rtol=tolerance, atol=tolerance)


def test_state_keeps_an_explicit_dtype():
    state = lk.LinearAttentionState(3, 2, dtype=torch.float64)
    out = state.step(torch.ones(3), torch.ones(3), torch.ones(2, dtype=torch.float32))
    assert state.state.dtype == torch.float64 and out.dtype == torch.float32


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("which", ["q_t", "k_t", "v_t"])
def test_state_fast_path_refuses_non_finite_tokens(bad, which):
    state = lk.LinearAttentionState(3, 3)
    tokens = {name: torch.zeros(3) for name in ("q_t", "k_t", "v_t")}
    state.step(**tokens)  # the state is float32 now: the fast path takes the next token
    tokens[which][1] = bad
    with pytest.raises(ValueError, match=which):
        state.step(**tokens)
    assert state.position == 1 and torch.isfinite(state.state).all()


def test_state_fast_path_accepts_large_finite_tokens():
    state = lk.LinearAttentionState(2, 2, feature_map="relu")
    big = torch.full((2,), 3e38)  # the sum overflows; the tokens are finite
    query = torch.tensor([1.0, 0.0])  # one feature, so the readout itself stays in range
    assert torch.isfinite(state.step(query, query, big)).all()


def test_messages_name_the_right_argument():
    q, k, v = _qkv(4)
    with pytest.raises(ValueError, match="`q` is empty"):
        lk.linear_attention(q[:, :0], k[:, :0], v)
    out = lk.linear_attention(q, k, v, eps=torch.tensor(1e-6, dtype=torch.float64))
    torch.testing.assert_close(out, lk.linear_attention(q, k, v, eps=1e-6))
    with pytest.raises(ValueError, match="`eps` must be a finite number >= 0; got -1.0"):
        lk.linear_attention(q, k, v, eps=torch.tensor(-1.0))


# ------------------------------------- causal chunk-wise without gradient: a block at a time

@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of one or two chunks, so that short sequences span several blocks."""
    monkeypatch.setattr(lk.linear, "_BLOCK_ROWS", 16)


def _causal_reference(q, k, v, fmap=lk.elu_plus_one, eps=1e-6):
    return linear_attention_reference(fmap(q), fmap(k), v, causal=True, eps=eps)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 8, 9, 17, 30])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blocks_of_chunks_equal_the_masked_form(small_blocks, n, dtype):
    # chunk 4, 2 x 3 batch: blocks of one chunk; 2 batch entries: blocks of two chunks.
    for shape in ((2, 3), (2,)):
        q, k, v = _qkv(*shape, n, seed=n, dtype=dtype)
        out = lk.linear_attention(q, k, v, causal=True, chunk_size=4)
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        torch.testing.assert_close(out, _causal_reference(q, k, v), rtol=tol, atol=tol)


def test_blocks_of_chunks_with_numpy_and_broadcast_keys(small_blocks):
    q, k, v = _qkv(3, 2, 23, seed=1)
    out = lk.linear_attention(q.numpy(), k[0, 0].numpy(), v[0, 0].numpy(), causal=True, chunk_size=4)
    assert isinstance(out, np.ndarray) and out.shape == (3, 2, 23, 3)
    expected = _causal_reference(q, k[0, 0], v[0, 0])
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fmap", FEATURE_MAPS)
def test_blocks_of_chunks_for_every_feature_map(small_blocks, fmap):
    q, k, v = _qkv(2, 21, seed=2)
    out = lk.linear_attention(q, k, v, feature_map=fmap, causal=True, chunk_size=4)
    expected = lk.linear_attention(q, k, v, feature_map=fmap, causal=True, method="quadratic")
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 5, 8, 19])
def test_chunked_without_gradient_equals_chunked_for_autograd(small_blocks, n):
    # _chunked block by block (no gradient) against its whole-sequence path (autograd).
    q, k, v = _qkv(2, 3, n, seed=n)
    fq, fk = lk.elu_plus_one(q), lk.elu_plus_one(k[0])
    blocked = lk.linear._chunked(fq, fk, v, 4)
    recorded = lk.linear._chunked(fq.clone().requires_grad_(), fk, v, 4)
    for got, expected in zip(blocked, recorded):
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected.detach(), rtol=1e-12, atol=1e-12)


def test_causality_probe_across_blocks_is_bit_exact(small_blocks):
    q, k, v = _qkv(2, 30, seed=11)
    before = lk.linear_attention(q, k, v, causal=True, chunk_size=4)
    for t in (0, 3, 4, 7, 8, 29):
        q2, k2, v2 = q.clone(), k.clone(), v.clone()
        for x in (q2, k2, v2):
            x[..., t + 1:, :] += 5
        after = lk.linear_attention(q2, k2, v2, causal=True, chunk_size=4)
        assert torch.equal(before[..., :t + 1, :], after[..., :t + 1, :])


def test_default_blocks_over_a_long_sequence():
    # 4200 tokens: two blocks of the default size, the second ending in a part chunk.
    q, k, v = _qkv(1, 4200, d=2, dv=2, seed=6)
    out = lk.linear_attention(q, k, v, causal=True)
    expected = lk.linear_attention(q, k, v, causal=True, method="prefix_sum")
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)


def test_blocks_reject_mismatched_feature_counts(small_blocks):
    q, k, v = _qkv(2, 9)
    calls = []

    def uneven(x):  # one feature more for keys than for queries
        calls.append(x.shape)
        return torch.cat([x] * (1 + len(calls) % 2), dim=-1)

    with pytest.raises(ValueError, match="`feature_map`"):
        lk.linear_attention(q, k, v, feature_map=uneven, causal=True, chunk_size=4)


@pytest.mark.parametrize("n", [3, 9, 30])
def test_a_feature_map_with_parameters_gets_its_gradient(small_blocks, n):
    # q, k, v need no gradient, the map's own weights do: the causal chunk-wise form
    # must keep the whole computation differentiable for them.
    q, k, v = _qkv(2, n, seed=n)
    grads = []
    for method in ("chunked", "quadratic"):
        w = torch.linspace(-0.5, 0.5, 4 * 5, dtype=torch.float64).reshape(4, 5).requires_grad_()
        out = lk.linear_attention(q, k, v, feature_map=lambda x: torch.exp(x @ w), causal=True,
                                  method=method, chunk_size=4)
        out.pow(2).sum().backward()
        grads.append(w.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)


def test_block_sizes():
    block = lk.linear._block_tokens
    assert block(4, 64, 10_000, torch.device("cpu")) == 1024  # 4096 rows: 16 chunks of 64
    assert block(4096, 64, 10_000, torch.device("cpu")) == 64  # at least one chunk
    assert block(4, 64, 10_000, torch.device("cuda")) == 10_000  # a GPU: the whole sequence


# ------------------------------------------------------------- small calls (fast path)

def _small_qkv(shape_q, n, d_v, dtype, seed=0):
    generator = torch.Generator().manual_seed(seed)
    *lead, m, d = shape_q
    q = torch.randn(*lead, m, d, generator=generator, dtype=dtype)
    k = torch.randn(*lead, n, d, generator=generator, dtype=dtype)
    v = torch.randn(*lead, n, d_v, generator=generator, dtype=dtype)
    return q, k, v


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape_q, n, d_v", [((1, 1), 1, 1), ((16, 32), 16, 32), ((4, 16, 32), 15, 32),
                                              ((1, 4, 16, 32), 17, 32), ((2, 3, 5, 4), 3, 6)])
def test_small_calls_match_the_reference_and_the_general_path(dtype, shape_q, n, d_v):
    from lenakernel.linear import _small_call_applies
    from lenakernel.reference import linear_attention_reference

    q, k, v = _small_qkv(shape_q, n, d_v, dtype)
    assert _small_call_applies(q, k, v, "elu+1", False, "chunked", 64, 1e-6)
    out = lk.linear_attention(q, k, v)
    # The callable spelling of the same map takes the general (reassociated) path.
    general = lk.linear_attention(q, k, v, feature_map=lk.elu_plus_one)
    reference = linear_attention_reference(lk.elu_plus_one(q), lk.elu_plus_one(k), v, eps=1e-6)
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    assert out.dtype == dtype and out.shape == general.shape
    torch.testing.assert_close(out, general, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(out, reference, rtol=tolerance, atol=tolerance)


def test_small_calls_take_the_fast_path_only_when_it_is_cheaper():
    from lenakernel.linear import _small_call_applies

    q, k, v = _small_qkv((4, 32, 32), 32, 32, torch.float32)  # m n (d + d_v) = r d_v (m + n)
    assert _small_call_applies(q, k, v, "elu+1", False, "chunked", 64, 1e-6)
    q, k, v = _small_qkv((4, 33, 32), 33, 32, torch.float32)
    assert not _small_call_applies(q, k, v, "elu+1", False, "chunked", 64, 1e-6)
    torch.testing.assert_close(lk.linear_attention(q, k, v), lk.linear_attention(q, k, v, method="quadratic"))


@pytest.mark.parametrize("change", [
    dict(causal=True), dict(feature_map="relu"), dict(method="fast"), dict(chunk_size=0), dict(eps=-1.0),
    dict(eps=float("nan")), dict(chunk_size=True), dict(causal=np.bool_(False))])
def test_small_calls_leave_anything_unusual_to_the_general_path(change):
    from lenakernel.linear import _small_call_applies

    q, k, v = _small_qkv((2, 4, 3), 4, 3, torch.float64)
    options = dict(feature_map="elu+1", causal=False, method="chunked", chunk_size=64, eps=1e-6)
    options.update(change)
    assert not _small_call_applies(q, k, v, *options.values())


@pytest.mark.parametrize("q_shape, k_shape, v_shape", [
    ((2, 4, 3), (1, 4, 3), (2, 4, 3)), ((2, 4, 3), (2, 4, 2), (2, 4, 3)), ((2, 4, 3), (2, 5, 3), (2, 4, 3)),
    ((2, 0, 3), (2, 4, 3), (2, 4, 3)), ((2, 4, 0), (2, 4, 0), (2, 4, 3)), ((3,), (3,), (3,))])
def test_small_calls_refuse_or_hand_on_odd_shapes(q_shape, k_shape, v_shape):
    from lenakernel.linear import _small_call_applies

    q, k, v = (torch.randn(s, dtype=torch.float64) for s in (q_shape, k_shape, v_shape))
    assert not _small_call_applies(q, k, v, "elu+1", False, "chunked", 64, 1e-6)


def test_small_calls_keep_gradients():
    q, k, v = (t.requires_grad_() for t in _small_qkv((2, 5, 3), 4, 2, torch.float64))
    grads = torch.autograd.grad(lk.linear_attention(q, k, v).square().sum(), (q, k, v))
    general = torch.autograd.grad(lk.linear_attention(q, k, v, feature_map=lk.elu_plus_one).square().sum(),
                                  (q, k, v))
    for fast, slow in zip(grads, general):
        torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *t: lk.linear_attention(*t), (q, k, v))


def test_small_calls_do_not_change_their_inputs():
    q, k, v = _small_qkv((2, 5, 3), 4, 2, torch.float64)
    copies = [t.clone() for t in (q, k, v)]
    lk.linear_attention(q, k, v)
    assert all(torch.equal(a, b) for a, b in zip((q, k, v), copies))


@pytest.mark.parametrize("batch_shape", [(), (3,), (2, 3)])
@pytest.mark.parametrize("d, d_v", [(4, 4), (4, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_state_steps_match_causal_attention_for_every_layout(batch_shape, d, d_v, dtype):
    generator = torch.Generator().manual_seed(1)
    n = 7
    q, k = (torch.randn(*batch_shape, n, d, generator=generator, dtype=dtype) for _ in range(2))
    v = torch.randn(*batch_shape, n, d_v, generator=generator, dtype=dtype)
    state = lk.LinearAttentionState(d, d_v, batch_shape=batch_shape)
    steps = torch.stack([state.step(q[..., t, :], k[..., t, :], v[..., t, :]) for t in range(n)], dim=-2)
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    assert state.state.dtype == dtype and steps.dtype == dtype
    torch.testing.assert_close(steps, lk.linear_attention(q, k, v, causal=True, method="quadratic"),
                               rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("which", ["q_t", "k_t", "v_t"])
def test_state_refuses_non_finite_tokens_when_d_and_d_v_differ(which):
    state = lk.LinearAttentionState(3, 2)
    tokens = {"q_t": torch.zeros(3), "k_t": torch.zeros(3), "v_t": torch.zeros(2)}
    state.step(**tokens)
    tokens[which][0] = -float("inf")
    with pytest.raises(ValueError, match=which):
        state.step(**tokens)
    assert state.position == 1
