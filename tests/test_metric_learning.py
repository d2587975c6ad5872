"""Tests for lenakernel/metric_learning.py: the learned-metric smoother is N-W on
transformed inputs; fitting by leave-one-out."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lenakernel as lk
from lenakernel import (
    KernelSmoother,
    fit_kernel_smoother,
    metric_kernel_smoother,
)

SETTINGS = settings(max_examples=30, deadline=None)
pytestmark = pytest.mark.usefixtures("one_thread")


def _sine_data(n=60, seed=0, noise=0.2):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    y = np.sin(2 * np.pi * x) + noise * rng.standard_normal(n)
    return x, y


# ---------------------------------------------------------------------------
# metric_kernel_smoother and KernelSmoother
# ---------------------------------------------------------------------------

@SETTINGS
@given(n=st.integers(1, 12), m=st.integers(1, 6), p=st.integers(1, 3),
       h=st.floats(0.05, 5.0), seed=st.integers(0, 10_000))
def test_isotropic_metric_is_nadaraya_watson(n, m, p, h, seed):
    rng = np.random.default_rng(seed)
    x, y, xq = rng.normal(size=(n, p)), rng.normal(size=n), rng.normal(size=(m, p))
    got = metric_kernel_smoother(x, y, xq, metric=np.eye(p) / h)
    want = lk.nadaraya_watson(x, y, xq, bandwidth=h)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(n=st.integers(2, 12), h=st.floats(0.05, 5.0), seed=st.integers(0, 10_000))
def test_exclude_self_is_leave_one_out(n, h, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.normal(size=n)
    got = metric_kernel_smoother(x, y, x, metric=np.eye(1) / h, exclude_self=True)
    want = lk.leave_one_out_predictions(x, y, bandwidth=h)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_metric_smoother_is_attention_with_key_weights():
    # -||A(x - x')||^2 / 2 = (Ax).(Ax') - ||Ax'||^2 / 2 - ||Ax||^2 / 2; the last term cancels.
    rng = np.random.default_rng(1)
    x, y, xq, a = rng.normal(size=(9, 2)), rng.normal(size=(9, 3)), rng.normal(size=(4, 2)), rng.normal(size=(2, 2))
    q, k = xq @ a.T, x @ a.T
    want = lk.kernel_smoother(q, k, y, kernel="exp_dot", scale=1.0,
                              key_weights=np.exp(-0.5 * (k ** 2).sum(1)))
    np.testing.assert_allclose(metric_kernel_smoother(x, y, xq, metric=a), want, rtol=1e-10, atol=1e-12)


def test_metric_smoother_weights_and_kinds():
    x = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float32)
    out, w = metric_kernel_smoother(x, x ** 2, torch.tensor([0.5, 2.0]), metric=torch.eye(1),
                                    return_weights=True)
    assert out.dtype == torch.float32 and tuple(w.shape) == (2, 3)
    torch.testing.assert_close(w.sum(-1), torch.ones(2))
    out_np = metric_kernel_smoother(np.arange(3.0), np.arange(3.0), np.array([1.0]), metric=np.eye(1))
    assert isinstance(out_np, np.ndarray)


def test_metric_smoother_extreme_metrics_stay_finite():
    x, y = _sine_data(20)
    for scale in (1e-8, 1e8):
        out = metric_kernel_smoother(x, y, x, metric=np.eye(1) * scale, exclude_self=True)
        assert np.all(np.isfinite(out))


def test_metric_smoother_gradient_flows():
    x, y = (torch.tensor(a) for a in _sine_data(15))
    metric = torch.eye(1, dtype=torch.float64, requires_grad=True)
    metric_kernel_smoother(x, y, x, metric=metric, exclude_self=True).sum().backward()
    assert metric.grad is not None and torch.isfinite(metric.grad).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(x_train=np.zeros((0, 1)), y_train=np.zeros(0), x_query=np.zeros((1, 1)), metric=np.eye(1)), "x_train"),
    (dict(x_train=np.zeros(3), y_train=np.zeros(4), x_query=np.zeros(1), metric=np.eye(1)), "y_train"),
    (dict(x_train=np.zeros((3, 2)), y_train=np.zeros(3), x_query=np.zeros((1, 3)), metric=np.eye(2)), "x_query"),
    (dict(x_train=np.zeros((3, 2)), y_train=np.zeros(3), x_query=np.zeros((1, 2)), metric=np.eye(3)), "metric"),
    (dict(x_train=np.zeros(3), y_train=np.zeros(3), x_query=np.zeros(2), metric=np.eye(1),
          exclude_self=True), "exclude_self"),
])
def test_metric_smoother_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        metric_kernel_smoother(**kwargs)


def test_kernel_smoother_module_matches_function():
    x, y = _sine_data(30)
    model = KernelSmoother(bandwidth=0.1)
    assert math.isclose(model.bandwidth, 0.1)
    np.testing.assert_allclose(model(x, y, x, exclude_self=True),
                               lk.leave_one_out_predictions(x, y, bandwidth=0.1), rtol=1e-10)
    # The log parametrisation keeps the bandwidth positive whatever the parameter is.
    with torch.no_grad():
        model.log_bandwidth.fill_(-50.0)
    assert model.bandwidth > 0 and np.all(np.isfinite(model(x, y, x)))
    with pytest.raises(ValueError, match="x_train"):
        KernelSmoother(dim=2)(x, y, x)
    with pytest.raises(ValueError, match="bandwidth"):
        KernelSmoother(bandwidth=-1.0)


# ---------------------------------------------------------------------------
# Fitting by gradient descent on the leave-one-out error
# ---------------------------------------------------------------------------

def test_learned_bandwidth_agrees_with_loo_grid():
    x, y = _sine_data(80, seed=3)
    grid = np.geomspace(0.01, 0.5, 80)
    ratio = grid[1] / grid[0]
    best = lk.loo_cv_bandwidth(x, y, bandwidths=grid).bandwidth
    fit = fit_kernel_smoother(x, y, steps=150, lr=0.05)
    # Within one grid step, in the multiplicative sense the grid is spaced in.
    assert abs(math.log(fit.model.bandwidth / best)) <= math.log(ratio)
    assert fit.losses[-1] < fit.losses[0]


def test_fit_is_deterministic_and_accepts_torch():
    x, y = _sine_data(40)
    a = fit_kernel_smoother(x, y, steps=30)
    b = fit_kernel_smoother(torch.tensor(x), torch.tensor(y), steps=30)
    assert np.array_equal(a.losses, b.losses)
    assert a.model.bandwidth == b.model.bandwidth


def test_learned_metric_shrinks_irrelevant_direction():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(80, 2))
    y = np.sin(3 * x[:, 0]) + 0.1 * rng.standard_normal(80)
    fit = fit_kernel_smoother(x, y, metric=True, steps=150, lr=0.05)
    a = fit.model.metric.detach().numpy()
    relevant, irrelevant = np.linalg.norm(a[:, 0]), np.linalg.norm(a[:, 1])
    assert relevant > 3 * irrelevant
    assert fit.model.bandwidth is None


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.zeros(1), y=np.zeros(1)), ValueError, "x"),
    (dict(x=np.zeros(3), y=np.zeros(4)), ValueError, "y"),
    (dict(x=np.arange(3.0), y=np.zeros(3), steps=0), ValueError, "steps"),
    (dict(x=np.arange(3.0), y=np.zeros(3), lr=0.0), ValueError, "lr"),
    (dict(x=np.arange(3.0), y=np.zeros(3), lr=-1.0), ValueError, "lr"),
    (dict(x=np.arange(3.0), y=np.zeros(3), steps=2.5), TypeError, "steps"),
])
def test_fit_bad_inputs(kwargs, error, match):
    with pytest.raises(error, match=match):
        fit_kernel_smoother(**kwargs)


def test_issue_cases_are_refused_by_name():
    x = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="`x` needs at least 2 points with at least 1 feature"):
        fit_kernel_smoother(np.zeros((5, 0)), x)
    with pytest.raises(TypeError, match="`metric` must be a NumPy array or a torch tensor, got None"):
        metric_kernel_smoother(x, x, x, metric=None)
    with pytest.raises(TypeError, match="`dtype` must be a floating torch.dtype"):
        KernelSmoother(dtype=torch.int64)
    with pytest.raises(ValueError, match="`bandwidth` must be within the range"):
        KernelSmoother(bandwidth=1e-300, dtype=torch.float32)


def test_constant_inputs_start_at_bandwidth_one():
    fit = fit_kernel_smoother(np.ones(6), np.arange(6.0), steps=2)
    assert np.isfinite(fit.losses).all()
