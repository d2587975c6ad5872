"""The sorted-window smoother equals the all-pairs Nadaraya-Watson it replaces in 1-D."""

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel import smoothing
from lenakernel.kernels import KERNELS, _log_kernel_of_squared
from lenakernel.smoothing import _smooth
from lenakernel.sorted_window import smooth_sorted_1d, window_radius


def _all_pairs(x, y, q, kernel, h):
    return _smooth(x[:, None], y, q[:, None], KERNELS[kernel].log_of_squared, h)[0]


def _pays(x, q, kernel, exclude_self, return_weights, bandwidth=0.01):
    return smoothing._sorted_windows_pay(x, q, _log_kernel_of_squared(kernel), exclude_self, return_weights,
                                         bandwidth)


def _data(dtype, n=3000, m=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    x[:40] = x[40]  # ties in the training inputs
    y = np.sin(x)[:, None] + 0.3 * rng.normal(size=(n, 1))
    # Queries inside, between, on and far outside the training points.
    q = np.concatenate([rng.uniform(-3, 13, m - 3), [x[40], x[7], 1e3]])
    return (torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype), torch.tensor(q, dtype=dtype))


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("bandwidth", [1e-6, 0.01, 0.3, 50.0])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_equals_all_pairs(kernel, bandwidth, dtype):
    x, y, q = _data(dtype)
    h = torch.tensor(bandwidth, dtype=dtype)
    fast = smooth_sorted_1d(x[:, None], y, q[:, None], kernel, h)
    slow = _all_pairs(x, y, q, kernel, h)
    scale = float(y.abs().max())
    assert torch.isfinite(fast).all() and fast.dtype == dtype
    if dtype == torch.float64:
        assert float((fast - slow).abs().max()) <= 1e-12 * scale
    else:
        # In float32 both forms round; far from the data (query 1e3) the all-pairs form's
        # log-weights lose digits too. Hold the fast form to the all-pairs one's own error.
        exact = _all_pairs(x.double(), y.double(), q.double(), kernel, h.double())
        error_fast = (fast.double() - exact).abs()
        error_slow = (slow.double() - exact).abs()
        assert bool((error_fast <= error_slow + 1e-5 * scale).all())


@pytest.mark.parametrize("kernel", ["epanechnikov", "triangular", "boxcar"])
def test_empty_neighbourhoods_take_the_nearest_points_mean(kernel):
    x = torch.tensor([0.0, 1.0, 1.0, 3.0, 5.0], dtype=torch.float64)
    y = torch.tensor([[0.0], [1.0], [3.0], [7.0], [9.0]], dtype=torch.float64)
    q = torch.tensor([2.0, 4.0, -10.0, 1.0], dtype=torch.float64)  # 2.0: ties at distance 1
    fast = smooth_sorted_1d(x[:, None], y, q[:, None], kernel, torch.tensor(0.25, dtype=torch.float64))
    expected = torch.tensor([[11 / 3], [8.0], [0.0], [2.0]], dtype=torch.float64)
    assert torch.allclose(fast, expected, rtol=0, atol=1e-12)


def test_gaussian_window_drops_only_negligible_weight():
    x = torch.linspace(0, 1, 10001, dtype=torch.float64)
    q = torch.tensor([0.5, 0.5003], dtype=torch.float64)
    h = torch.tensor(0.01, dtype=torch.float64)
    radius, nearest = window_radius(x, q, "gaussian", h)
    outside = (q[:, None] - x[None, :]).abs() > radius[:, None]
    log_ratio = -((q[:, None] - x[None, :]) ** 2 - nearest[:, None] ** 2) / (2 * h * h)
    assert bool(outside.any())
    assert float(log_ratio[outside].max()) < np.log(1e-16 / x.numel())


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_nadaraya_watson_dispatches_and_agrees(kind, monkeypatch):
    x, y, q = _data(torch.float64, n=20000, m=100)
    if kind == "numpy":
        x, y, q = x.numpy(), y[:, 0].numpy(), q.numpy()
    else:
        y = y[:, 0]
    assert _pays(torch.as_tensor(x), torch.as_tensor(q), "gaussian", False, False)
    fast = lk.nadaraya_watson(x, y, q, bandwidth=0.05)
    monkeypatch.setattr(smoothing, "SORTED_WINDOW_MIN_PAIRS", float("inf"))
    slow = lk.nadaraya_watson(x, y, q, bandwidth=0.05)
    assert type(fast) is type(slow) and fast.shape == slow.shape and fast.dtype == slow.dtype
    gap = np.abs(np.asarray(fast) - np.asarray(slow)).max()
    assert gap <= 1e-12 * np.abs(np.asarray(y)).max()


def test_dispatch_rule():
    x1, q1 = torch.linspace(0, 10, 2**11), torch.zeros(2**9)
    assert _pays(x1, q1, "boxcar", False, False)
    assert _pays(x1[:, None], q1[:, None], lk.gaussian, False, False)
    assert not _pays(x1[:100], q1, "boxcar", False, False)  # too few pairs
    assert not _pays(torch.linspace(0, 10, 2**20), q1[:8], "boxcar", False, False)  # too few queries
    assert not _pays(torch.zeros(2**11, 2), q1, "boxcar", False, False)  # 2-D
    assert not _pays(x1, q1, lambda u: u * 0 + 1, False, False)  # a callable
    assert not _pays(x1, q1, "boxcar", True, False)  # leave-one-out
    assert not _pays(x1, q1, "boxcar", False, True)  # weights asked for
    assert _pays(x1, q1, "epanechnikov", False, False, bandwidth=2.0)  # windows 4 wide, range 10
    assert not _pays(x1, q1, "epanechnikov", False, False, bandwidth=3.0)  # 6 > 10 / 2
    assert not _pays(x1, q1, "gaussian", False, False, bandwidth=0.3)  # about 20 h = 6 > 10 / 2


@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov"])
def test_gradients_match_all_pairs(kernel):
    x, y, q = _data(torch.float64, n=500, m=50)
    grads = []
    for smoother in ("sorted", "all pairs"):
        h = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        yy = y.clone().requires_grad_(True)
        out = (smooth_sorted_1d(x[:, None], yy, q[:, None], kernel, h) if smoother == "sorted"
               else _all_pairs(x, yy, q, kernel, h))
        out.sum().backward()
        grads.append((h.grad, yy.grad))
    assert torch.allclose(grads[0][0], grads[1][0], rtol=1e-9, atol=1e-12)
    assert torch.allclose(grads[0][1], grads[1][1], rtol=1e-9, atol=1e-12)
