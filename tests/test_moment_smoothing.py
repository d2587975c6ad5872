"""The box-moment smoother equals the all-pairs Nadaraya-Watson in 1-D, to 1e-12 relative."""

import math

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel import moment_smoothing as ms
from lenakernel import smoothing
from lenakernel.kernels import KERNELS, _log_kernel_of_squared
from lenakernel.smoothing import _smooth
from lenakernel.sorted_window import smooth_sorted_1d


def _all_pairs(x, y, q, kernel, h):
    """Predictions and the scale sum_i w_i |y_i| (weights normalised) that errors are measured in.

    For the Gaussian, the log-weights relative to the nearest point are taken as
    ``-(d - d0) (d + d0) / (2 h**2)``: far from the data, ``_smooth``'s ``-d**2 / (2 h**2)``
    minus its row maximum loses digits to the difference of two large squares.
    """
    if kernel == "gaussian":
        distance = (q[:, None] - x[None, :]).abs()
        nearest = distance.min(dim=1, keepdim=True).values
        weights = torch.exp(-(distance - nearest) * (distance + nearest) / (2 * h * h))
        weights = weights / weights.sum(dim=1, keepdim=True)
        return weights @ y, weights @ y.abs()
    pred, weights = _smooth(x[:, None], y, q[:, None], KERNELS[kernel].log_of_squared, h, return_weights=True)
    return pred, weights @ y.abs()


def _data(kind, n, seed):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        x = rng.uniform(0, 1, n)
    elif kind == "far from 0":  # x around 1e3
        x = 1e3 + rng.uniform(0, 1, n)
    elif kind == "ties":
        x = np.round(rng.normal(size=n), 2)
    else:  # two tight clusters
        x = np.concatenate([rng.normal(0, 1e-3, n // 2), rng.normal(5, 1e-3, n - n // 2)])
    y = np.sin(3 * x)[:, None] + 0.3 * rng.normal(size=(n, 1))
    y[::2] += 100.0  # outputs far from 0 too
    # Queries inside, around and somewhat outside the data, and on training points.
    q = np.concatenate([rng.uniform(x.min() - 1, x.max() + 1, 150), x[:20], [x.min() - 50, x.max() + 1e4]])
    return (torch.tensor(a, dtype=torch.float64) for a in (x, y, q))


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("kind", ["uniform", "far from 0", "ties", "clusters"])
@pytest.mark.parametrize("n", [1, 2, 50, 3000])
def test_equals_all_pairs(kernel, kind, n):
    x, y, q = _data(kind, n, seed=n)
    for bandwidth in (1e-4, 1e-2, 0.3, 5.0, 1e4):
        h = torch.tensor(bandwidth, dtype=torch.float64)
        fast = ms.smooth_moments_1d(x[:, None], y, q[:, None], kernel, h)
        slow, scale = _all_pairs(x, y, q, kernel, h)
        assert fast.dtype == torch.float64 and fast.shape == slow.shape
        assert float(((fast - slow).abs() / scale).max()) <= 1e-12, (kernel, kind, n, bandwidth)


@pytest.mark.parametrize("kernel", ["epanechnikov", "triangular", "boxcar"])
def test_empty_neighbourhoods_take_the_nearest_points_mean(kernel):
    x = torch.tensor([0.0, 1.0, 1.0, 3.0, 5.0], dtype=torch.float64)
    y = torch.tensor([[0.0], [1.0], [3.0], [7.0], [9.0]], dtype=torch.float64)
    q = torch.tensor([2.0, 4.0, -10.0, 1.0], dtype=torch.float64)  # 2.0: ties at distance 1
    fast = ms.smooth_moments_1d(x[:, None], y, q[:, None], kernel, torch.tensor(0.25, dtype=torch.float64))
    expected = torch.tensor([[11 / 3], [8.0], [0.0], [2.0]], dtype=torch.float64)
    assert torch.allclose(fast, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kernel", ["epanechnikov", "triangular", "boxcar"])
def test_points_exactly_one_bandwidth_away(kernel):
    # On an integer grid with h = 1, neighbours sit exactly on the support's edge: boxcar
    # counts them, the others give them weight 0 (and an otherwise empty window falls back).
    x = torch.arange(0.0, 200.0, dtype=torch.float64)
    y = (x**2 % 7)[:, None] - 3
    q = torch.cat([x[::3], x[::7] + 0.5, torch.tensor([-1.0, 200.0], dtype=torch.float64)])
    h = torch.tensor(1.0, dtype=torch.float64)
    fast = ms.smooth_moments_1d(x[:, None], y, q[:, None], kernel, h)
    slow, scale = _all_pairs(x, y, q, kernel, h)
    assert bool(((fast - slow).abs() <= 1e-12 * scale).all())


def test_support_is_the_all_pairs_forms_own():
    x = torch.sort(torch.rand(500, generator=torch.Generator().manual_seed(1), dtype=torch.float64))[0]
    q = torch.cat([x[::5], x[::7] + 0.01, torch.tensor([-1.0, 2.0], dtype=torch.float64)])
    h = torch.tensor(0.01, dtype=torch.float64)
    for kernel in ("epanechnikov", "triangular", "boxcar"):
        log_kernel = KERNELS[kernel].log_of_squared
        lo, mid, hi = ms.exact_support(x, q, log_kernel, h)
        weighs = log_kernel(((q[:, None] - x[None, :]) ** 2) * (1 / (h * h))) > -math.inf
        index = torch.arange(x.numel())
        assert torch.equal(weighs, (index >= lo[:, None]) & (index < hi[:, None]))
        assert torch.equal(mid, torch.searchsorted(x, q))


def test_running_sums_restart_at_each_box():
    rng = np.random.default_rng(3)
    # Uneven boxes: one holds most points (more than a row), many hold one.
    sizes = np.concatenate([[3000], rng.integers(1, 4, 300), [700, 1]])
    box = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    values = torch.tensor(rng.normal(size=(int(sizes.sum()), 3)))
    at = ms._running_sums(values, box)
    index = torch.arange(values.shape[0])
    expected = torch.cat([chunk.cumsum(0) for chunk in torch.split(values, sizes.tolist())])
    assert torch.allclose(at(index), expected, rtol=1e-12, atol=1e-12)


def test_taylor_order_meets_its_bound():
    for rho, n in ((1.3, 10**6), (0.5, 10), (2.0, 10**3)):
        p = ms.taylor_order(rho, n)
        assert math.exp(0.5) * rho**p / math.factorial(p) <= 1e-16 / n
        assert math.exp(0.5) * rho ** (p - 1) / math.factorial(p - 1) > 1e-16 / n  # the least such p
        # The truncated series of exp(z) is within |z|**p / p! exp(|z|) of it for |z| <= rho.
        for z in np.linspace(-rho, rho, 9):
            partial = math.fsum(z**k / math.factorial(k) for k in range(p))
            assert abs(math.exp(z) - partial) <= rho**p / math.factorial(p) * math.exp(abs(z)) + 1e-15 * math.exp(z)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_nadaraya_watson_dispatches_and_agrees(kernel, kind, monkeypatch):
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 10, 40000)
    y = np.sin(x) + 0.3 * rng.normal(size=x.size)
    q = rng.uniform(-1, 11, 2000)
    assert smoothing._moments_pay(torch.as_tensor(x), torch.as_tensor(q), _log_kernel_of_squared(kernel),
                                  False, False, 0.5, False)
    inputs = (x, y, q) if kind == "numpy" else tuple(torch.tensor(a) for a in (x, y, q))
    fast = lk.nadaraya_watson(*inputs, kernel=kernel, bandwidth=0.5)
    monkeypatch.setattr(smoothing, "SORTED_WINDOW_MIN_PAIRS", float("inf"))
    slow = lk.nadaraya_watson(*inputs, kernel=kernel, bandwidth=0.5)
    assert type(fast) is type(slow) and fast.shape == slow.shape and fast.dtype == slow.dtype
    assert np.abs(np.asarray(fast) - np.asarray(slow)).max() <= 1e-12 * np.abs(y).max()


@pytest.mark.parametrize("kernel, bandwidth", [("gaussian", 0.02), ("epanechnikov", 0.1)])
def test_float32_inputs(kernel, bandwidth):
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 1, 30000).astype(np.float32)
    y = np.sin(6 * x).astype(np.float32)
    q = np.linspace(0, 1, 2000, dtype=np.float32)
    assert smoothing._moments_pay(torch.as_tensor(x), torch.as_tensor(q), _log_kernel_of_squared(kernel),
                                  False, False, bandwidth, False)
    fast = lk.nadaraya_watson(x, y, q, kernel=kernel, bandwidth=bandwidth)
    assert fast.dtype == np.float32
    exact = lk.nadaraya_watson(x.astype(np.float64), y.astype(np.float64), q.astype(np.float64),
                               kernel=kernel, bandwidth=float(np.float32(bandwidth)))
    assert np.abs(fast - exact).max() <= 1e-6


def test_far_queries_take_the_window_path():
    x, y, q = _data("uniform", 3000, seed=0)
    q = torch.cat([q, torch.tensor([1e4, -1e4], dtype=torch.float64)])
    h = torch.tensor(0.01, dtype=torch.float64)
    fast = ms.smooth_moments_1d(x[:, None], y, q[:, None], "gaussian", h)
    window = smooth_sorted_1d(x[:, None], y, q[-2:, None], "gaussian", h)
    assert torch.isfinite(fast).all() and torch.equal(fast[-2:], window)


def test_gradients_keep_the_differentiable_path():
    rng = np.random.default_rng(7)
    x = torch.tensor(rng.uniform(0, 1, 20000))
    y = torch.sin(6 * x)
    q = torch.linspace(0, 1, 100, dtype=torch.float64)
    assert not smoothing._moments_pay(x, q, _log_kernel_of_squared("gaussian"), False, False, 0.05, True)
    h = torch.tensor(0.05, dtype=torch.float64, requires_grad=True)
    lk.nadaraya_watson(x, y, q, bandwidth=h).sum().backward()
    h_all = torch.tensor(0.05, dtype=torch.float64, requires_grad=True)
    _smooth(x[:, None], y[:, None], q[:, None], KERNELS["gaussian"].log_of_squared, h_all)[0].sum().backward()
    assert torch.allclose(h.grad, h_all.grad, rtol=1e-9)


def test_dispatch_rule():
    def pays(x, q, kernel="epanechnikov", h=0.05, grad=False, exclude_self=False, weights=False):
        return smoothing._moments_pay(x, q, _log_kernel_of_squared(kernel), exclude_self, weights, h, grad)

    x, q = torch.linspace(0, 1, 10**6), torch.linspace(0, 1, 10**4)
    assert pays(x, q) and pays(x, q, "gaussian") and pays(x, q, "gaussian", h=0.005)
    assert pays(x, q, "boxcar", h=100.0)  # any bandwidth: all pairs would visit every point
    assert not pays(x, q, grad=True)
    assert not pays(x, q, exclude_self=True) and not pays(x, q, weights=True)
    assert not pays(x, q, lambda u: u * 0 + 1)  # a callable
    assert not pays(torch.zeros(10**5, 2), torch.zeros(100, 2))  # 2-D
    assert not pays(x, q[:8])  # too few queries
    assert not pays(x[:1000], q[:1000])  # too few pairs
    assert not pays(torch.linspace(0, 1, 1024), torch.linspace(0, 1, 10**4), "gaussian", h=0.01)  # few per window


@pytest.mark.parametrize("kernel", ["gaussian", "triangular"])
def test_several_output_columns_in_groups(kernel, monkeypatch):
    x, y, q = _data("uniform", 3000, seed=8)
    ys = torch.cat([y, -2 * y, y**2, torch.cos(x)[:, None]], dim=1)
    h = torch.tensor(0.05, dtype=torch.float64)
    monkeypatch.setattr(ms, "COLUMN_BYTES", 3 * 8 * x.numel())  # two columns at a time
    fast = ms.smooth_moments_1d(x[:, None], ys, q[:, None], kernel, h)
    slow, scale = _all_pairs(x, ys, q, kernel, h)
    assert fast.shape == (q.numel(), 4)
    assert bool(((fast - slow).abs() <= 1e-12 * scale).all())
