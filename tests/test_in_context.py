"""Tests for lenakernel/in_context.py: the task sampler and the head, which is softmax
attention."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lenakernel as lk
from lenakernel import (
    AttentionRegressor,
    in_context_attention,
    in_context_features,
    sample_regression_tasks,
    train,
)

SETTINGS = settings(max_examples=30, deadline=None)
pytestmark = pytest.mark.usefixtures("one_thread")


def _sine_data(n=60, seed=0, noise=0.2):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    y = np.sin(2 * np.pi * x) + noise * rng.standard_normal(n)
    return x, y


# ---------------------------------------------------------------------------
# Task sampler
# ---------------------------------------------------------------------------

def test_sampler_shapes_seed_and_range():
    a = sample_regression_tasks(5, 12, 7, seed=3)
    b = sample_regression_tasks(5, 12, 7, seed=3)
    c = sample_regression_tasks(5, 12, 7, seed=4)
    assert [tuple(t.shape) for t in a] == [(5, 12), (5, 12), (5, 7), (5, 7)]
    assert all(torch.equal(s, t) for s, t in zip(a, b))
    assert not torch.equal(a.y_context, c.y_context)
    assert a.x_context.abs().max() <= 1 and a.x_query.abs().max() <= 1


def test_sampler_noise_and_query_points():
    grid = torch.linspace(-1, 1, 9, dtype=torch.float64)
    on_grid = sample_regression_tasks(3, 5, 9, query_points=grid, seed=0)
    assert torch.equal(on_grid.x_query[1], grid)
    # Without noise the context outputs are the function itself: query at the context
    # points of the same draw and the noiseless targets reproduce them.
    clean = sample_regression_tasks(1, 6, 1, noise=0.0, seed=5)
    again = sample_regression_tasks(1, 6, 6, noise=0.0, query_points=clean.x_context[0], seed=5)
    torch.testing.assert_close(again.y_query, clean.y_context, rtol=0, atol=1e-12)
    noisy = sample_regression_tasks(1, 6, 1, noise=0.5, seed=5)
    assert not torch.allclose(noisy.y_context, clean.y_context)
    generator = torch.Generator().manual_seed(0)
    first = sample_regression_tasks(2, 4, 4, seed=generator)
    second = sample_regression_tasks(2, 4, 4, seed=generator)
    assert not torch.equal(first.x_context, second.x_context)


def test_sampler_functions_have_unit_variance_and_lengthscale():
    tasks = sample_regression_tasks(400, 2, 1, noise=0.0, lengthscale=0.3, num_features=256, seed=0)
    f = tasks.y_context
    assert abs(float(f.var()) - 1) < 0.15
    # The GP covariance of two points at distance d is exp(-d^2 / (2 l^2)).
    d = (tasks.x_context[:, 0] - tasks.x_context[:, 1]).abs()
    near = d < 0.1
    corr = np.corrcoef(f[near, 0], f[near, 1])[0, 1]
    assert corr > 0.9


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_tasks=0, context_size=3, num_queries=1), ValueError, "num_tasks"),
    (dict(num_tasks=1, context_size=0, num_queries=1), ValueError, "context_size"),
    (dict(num_tasks=1, context_size=3, num_queries=0), ValueError, "num_queries"),
    (dict(num_tasks=1, context_size=3, num_queries=1, noise=-0.1), ValueError, "noise"),
    (dict(num_tasks=1, context_size=3, num_queries=1, lengthscale=0.0), ValueError, "lengthscale"),
    (dict(num_tasks=1, context_size=3, num_queries=2, query_points=np.zeros(3)), ValueError, "query_points"),
    (dict(num_tasks=1, context_size=3, num_queries=1, seed="a"), TypeError, "seed"),
])
def test_sampler_bad_inputs(kwargs, error, match):
    with pytest.raises(error, match=match):
        sample_regression_tasks(**kwargs)


# ---------------------------------------------------------------------------
# The attention regressor
# ---------------------------------------------------------------------------

def test_features():
    np.testing.assert_array_equal(in_context_features(np.array([3.0])), [[3.0, 9.0, 1.0]])


def test_in_context_attention_is_softmax_attention():
    rng = np.random.default_rng(0)
    xc, yc, xq = rng.uniform(-1, 1, (2, 10)), rng.normal(size=(2, 10)), rng.uniform(-1, 1, (2, 4))
    wq, wk, wv = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=4)
    phi_c = in_context_features(xc)
    tokens = np.concatenate([phi_c, yc[..., None]], -1)
    want = lk.softmax_attention(in_context_features(xq) @ wq.T, phi_c @ wk.T, (tokens @ wv)[..., None],
                                scale=1 / (0.7 * math.sqrt(5)))[..., 0]
    got = in_context_attention(xc, yc, xq, w_query=wq, w_key=wk, w_value=wv, temperature=0.7)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(h=st.floats(0.1, 2.0), seed=st.integers(0, 10_000))
def test_in_context_attention_can_be_a_gaussian_smoother(h, seed):
    # W_Q^T W_K / sqrt(d_k) with entries 1/h^2 at (x, x') and -1/(2h^2) at (1, x'^2).
    rng = np.random.default_rng(seed)
    xc, yc, xq = rng.uniform(-1, 1, 12), rng.normal(size=12), rng.uniform(-1, 1, 5)
    wq = np.array([[1.0, 0, 0], [0, 0, 1.0]])
    wk = np.array([[1.0, 0, 0], [0, -0.5, 0]]) * math.sqrt(2) / h ** 2
    got = in_context_attention(xc, yc, xq, w_query=wq, w_key=wk, w_value=np.array([0, 0, 0, 1.0]))
    np.testing.assert_allclose(got, lk.nadaraya_watson(xc, yc, xq, bandwidth=h), rtol=1e-8, atol=1e-10)


@SETTINGS
@given(n=st.integers(1, 20), seed=st.integers(0, 10_000), tied=st.booleans())
def test_regressor_is_permutation_invariant(n, seed, tied):
    model = AttentionRegressor(seed=seed % 7, tied=tied)
    tasks = sample_regression_tasks(3, n, 5, seed=seed)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        a = model(tasks.x_context, tasks.y_context, tasks.x_query)
        b = model(tasks.x_context[:, perm], tasks.y_context[:, perm], tasks.x_query)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def _in_context_loss(context_size):
    def loss_fn(model, generator):
        t = sample_regression_tasks(16, context_size, 16, noise=0.1, seed=generator)
        return ((model(t.x_context, t.y_context, t.x_query) - t.y_query) ** 2).mean()
    return loss_fn


def test_regressor_training_lowers_loss_is_deterministic_and_handles_unseen_lengths():
    runs = []
    for _ in range(2):
        model = AttentionRegressor(seed=0)
        losses = train(model, _in_context_loss(16), steps=120, lr=0.1, seed=0, progress=False)
        runs.append((model, losses))
    (model, losses), (twin, twin_losses) = runs
    assert np.array_equal(losses, twin_losses)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), twin.parameters()))
    assert losses[-20:].mean() < 0.5 * losses[:5].mean()
    # Context lengths never seen in training: any length works and errors stay sensible.
    with torch.no_grad():
        for n in (1, 5, 64, 200):
            test = sample_regression_tasks(50, n, 20, seed=100 + n)
            mse = float(((model(test.x_context, test.y_context, test.x_query) - test.y_query) ** 2).mean())
            baseline = float((test.y_query ** 2).mean())  # predicting 0 everywhere
            assert math.isfinite(mse)
            if n >= 5:
                assert mse < baseline


def test_regressor_numpy_in_numpy_out_and_weights():
    model = AttentionRegressor(head_dim=2, seed=1)
    xc = np.linspace(-1, 1, 6)
    out, w = model(xc, np.sin(xc), np.array([0.0, 0.5]), return_weights=True)
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    np.testing.assert_allclose(w.sum(-1), 1.0)


def test_tied_regressor_shares_projection_and_is_symmetric():
    model = AttentionRegressor(seed=0, tied=True)
    assert model.w_key is model.w_query
    assert sum(p.numel() for p in model.parameters()) == 9 + 4 + 1
    phi = torch.tensor([[0.3, 0.09, 1.0], [-0.8, 0.64, 1.0]], dtype=torch.float64)
    scores = (phi @ model.w_query.T) @ (phi @ model.w_key.T).T
    torch.testing.assert_close(scores, scores.T)


@pytest.mark.parametrize("args, match", [
    ((torch.zeros(2, 0), torch.zeros(2, 0), torch.zeros(2, 3)), "x_context"),
    ((torch.zeros(2, 4), torch.zeros(2, 5), torch.zeros(2, 3)), "y_context"),
    ((torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(3, 3)), "x_query"),
    ((torch.zeros(4), torch.full((4,), float("nan")), torch.zeros(3)), "y_context"),
])
def test_regressor_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        AttentionRegressor()(*args)


def test_in_context_attention_bad_projections():
    xc = np.zeros(3)
    good = dict(w_query=np.zeros((2, 3)), w_key=np.zeros((2, 3)), w_value=np.zeros(4))
    for name, bad in (("w_query", np.zeros((2, 4))), ("w_key", np.zeros((3, 3))), ("w_value", np.zeros(3))):
        with pytest.raises(ValueError, match=name):
            in_context_attention(xc, xc, xc, **{**good, name: bad})
    with pytest.raises(ValueError, match="temperature"):
        in_context_attention(xc, xc, xc, **good, temperature=0.0)


def test_issue_cases_are_refused_by_name():
    with pytest.raises(TypeError, match="`dtype` must be a floating torch.dtype"):
        sample_regression_tasks(2, 3, 4, dtype=torch.int64)
    with pytest.raises(TypeError, match="`dtype` must be a floating torch.dtype"):
        AttentionRegressor(dtype=torch.int32)
    with pytest.raises(ValueError, match="`query_points` contains NaN"):
        sample_regression_tasks(2, 3, 2, query_points=np.array([0.0, np.nan]))
    x, y = np.zeros((1, 3)), np.zeros((1, 3))
    with pytest.raises(ValueError, match="`w_query` contains NaN"):
        in_context_attention(x, y, x, w_query=np.full((2, 3), np.nan), w_key=np.ones((2, 3)), w_value=np.ones(4))
    with pytest.raises(TypeError, match="`x_context` must hold real numbers"):
        in_context_attention(x + 1j, y, x, w_query=np.ones((2, 3)), w_key=np.ones((2, 3)), w_value=np.ones(4))
