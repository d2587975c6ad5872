"""Tests for lenakernel/multi_head.py: the layer is a sum of softmax-attention heads."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lenakernel as lk


def torch_layer(embed_dim, num_heads, seed):
    torch.manual_seed(seed)
    return torch.nn.MultiheadAttention(embed_dim, num_heads, bias=False, batch_first=True,
                                       dtype=torch.float64)


def weights_of(layer):
    """The per-head blocks of torch's packed projections."""
    e, h = layer.embed_dim, layer.num_heads
    w_q, w_k, w_v = layer.in_proj_weight.detach().chunk(3)
    split = lambda w: w.reshape(h, e // h, e)  # noqa: E731
    w_out = layer.out_proj.weight.detach().reshape(e, h, e // h).permute(1, 0, 2)
    return {"w_query": split(w_q), "w_key": split(w_k), "w_value": split(w_v), "w_out": w_out}


@pytest.mark.parametrize("embed_dim, num_heads", [(4, 1), (6, 2), (8, 4), (12, 3)])
def test_matches_torch_multihead_attention(embed_dim, num_heads):
    layer = torch_layer(embed_dim, num_heads, seed=embed_dim)
    x = torch.randn(2, 7, embed_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    expected, expected_weights = layer(x, x, x, average_attn_weights=False)
    out, weights = lk.multi_head_attention(x, x, **weights_of(layer), return_weights=True)
    assert torch.allclose(out, expected, rtol=0, atol=1e-12)
    assert torch.allclose(weights, expected_weights, rtol=0, atol=1e-12)


def test_mask_and_causal_match_torch():
    layer = torch_layer(8, 2, seed=0)
    x = torch.randn(5, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))[None]
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    expected, _ = layer(x, x, x, attn_mask=~causal)
    assert torch.allclose(lk.multi_head_attention(x, x, **weights_of(layer), causal=True), expected, atol=1e-12)
    assert torch.allclose(lk.multi_head_attention(x, x, **weights_of(layer), mask=causal),
                          expected, atol=1e-12)


def test_is_the_sum_of_single_heads():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5))
    w = {"w_query": rng.standard_normal((3, 2, 5)), "w_key": rng.standard_normal((3, 2, 5)),
         "w_value": rng.standard_normal((3, 4, 5)), "w_out": rng.standard_normal((3, 5, 4))}
    total = sum(lk.softmax_attention(x @ w["w_query"][h].T, x @ w["w_key"][h].T, x @ w["w_value"][h].T)
                @ w["w_out"][h].T for h in range(3))
    out = lk.multi_head_attention(x, x, **w)
    assert isinstance(out, np.ndarray) and out.shape == (6, 5)
    np.testing.assert_allclose(out, total, atol=1e-12)


def test_numpy_mask_gets_a_head_axis():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    w = {name: rng.standard_normal((2, 3, 3)) for name in ("w_query", "w_key", "w_value", "w_out")}
    mask = ~np.eye(4, dtype=bool)
    out, weights = lk.multi_head_attention(x, x, **w, mask=mask, return_weights=True)
    assert weights.shape == (2, 4, 4)
    assert np.all(weights[:, np.arange(4), np.arange(4)] == 0)


def test_gradients_flow_to_the_weights():
    w = {name: torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
         for name in ("w_query", "w_key", "w_value", "w_out")}
    x = torch.randn(4, 3, dtype=torch.float64)
    lk.multi_head_attention(x, x, **w).sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in w.values())


@pytest.mark.parametrize("change, message", [
    ({"w_query": np.zeros((2, 3))}, "`w_query` must have 3 dimensions"),
    ({"w_key": np.zeros((2, 2, 3))}, "`w_key` must have the shape of `w_query`"),
    ({"w_value": np.zeros((2, 3, 4))}, "`w_value` and `x_query`"),
    ({"w_out": np.zeros((3, 3, 3))}, "`w_out` and `w_query`"),
    ({"w_out": np.zeros((2, 3, 2))}, "`w_out` and `w_value`"),
    ({"x_context": np.zeros((4, 2))}, "`x_query` and `x_context`"),
])
def test_bad_shapes_name_the_argument(change, message):
    args = {"x_query": np.zeros((4, 3)), "x_context": np.zeros((4, 3)),
            **{name: np.zeros((2, 3, 3)) for name in ("w_query", "w_key", "w_value", "w_out")}}
    args.update(change)
    x_query, x_context = args.pop("x_query"), args.pop("x_context")
    with pytest.raises(ValueError, match=message):
        lk.multi_head_attention(x_query, x_context, **args)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), heads=st.integers(1, 4), d_head=st.integers(1, 3),
       n=st.integers(1, 6), m=st.integers(1, 4))
def test_property_one_head_each_is_the_sum(seed, heads, d_head, n, m):
    rng = np.random.default_rng(seed)
    d_model = 3
    x_query, x_context = rng.standard_normal((m, d_model)), rng.standard_normal((n, d_model))
    w = {"w_query": rng.standard_normal((heads, d_head, d_model)),
         "w_key": rng.standard_normal((heads, d_head, d_model)),
         "w_value": rng.standard_normal((heads, 2, d_model)),
         "w_out": rng.standard_normal((heads, d_model, 2))}
    total = lk.multi_head_attention(x_query, x_context, **w)
    # The layer is linear in its heads: each head alone, then added up.
    alone = sum(lk.multi_head_attention(x_query, x_context,
                                        **{name: value[c:c + 1] for name, value in w.items()})
                for c in range(heads))
    np.testing.assert_allclose(total, alone, atol=1e-10)


@pytest.mark.parametrize("mask, error", [(np.ones(4, dtype=bool), ValueError), (np.ones((4, 4)), TypeError),
                                         (torch.tensor(True), ValueError)])
def test_bad_mask_names_the_argument(mask, error):
    x, w = np.zeros((4, 3)), np.zeros((2, 3, 3))
    with pytest.raises(error, match="`mask`"):
        lk.multi_head_attention(x, x, w_query=w, w_key=w, w_value=w, w_out=w, mask=mask)
