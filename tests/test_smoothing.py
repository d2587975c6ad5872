"""Tests for lenakernel.smoothing: Nadaraya-Watson, leave-one-out, bandwidth rules."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lenakernel as lk
from lenakernel import _validation

from tests.conftest import KERNEL_NAMES as NAMES

KERNEL_FUNCTIONS = {
    "gaussian": lambda u: math.exp(-u * u / 2) / math.sqrt(2 * math.pi),
    "epanechnikov": lambda u: 0.75 * (1 - u * u) if abs(u) <= 1 else 0.0,
    "triangular": lambda u: 1 - abs(u) if abs(u) <= 1 else 0.0,
    "boxcar": lambda u: 0.5 if abs(u) <= 1 else 0.0,
}


def brute_force_nw(x_train, y_train, x_query, kernel, h):
    """The estimator as a double loop, straight from its definition (no log domain)."""
    x_train = np.asarray(x_train, dtype=float).reshape(len(x_train), -1)
    x_query = np.asarray(x_query, dtype=float).reshape(len(x_query), -1)
    y_train = np.asarray(y_train, dtype=float)
    out = []
    for q in x_query:
        weights = [KERNEL_FUNCTIONS[kernel](math.dist(q, xj) / h) for xj in x_train]
        total = sum(weights)
        out.append(sum(w * yj for w, yj in zip(weights, y_train)) / total)
    return np.array(out)


def dataset(seed, n=30, p=None, q=None):
    rng = np.random.default_rng(seed)
    shape = (n,) if p is None else (n, p)
    x = rng.uniform(-2, 2, shape)
    y = rng.normal(size=(n,) if q is None else (n, q))
    return x, y


# Hypothesis strategies: small data sets, bandwidths over many orders of magnitude.
@st.composite
def problems(draw):
    n = draw(st.integers(1, 12))
    m = draw(st.integers(1, 6))
    coords = st.floats(-5, 5, allow_nan=False, width=64)
    x = np.array(draw(st.lists(coords, min_size=n, max_size=n)))
    y = np.array(draw(st.lists(st.floats(-10, 10, allow_nan=False), min_size=n, max_size=n)))
    xq = np.array(draw(st.lists(st.floats(-8, 8, allow_nan=False), min_size=m, max_size=m)))
    h = 10 ** draw(st.floats(-4, 4))
    kernel = draw(st.sampled_from(NAMES))
    return x, y, xq, h, kernel


# --- agreement with the definition -------------------------------------------------

@pytest.mark.parametrize("kernel", NAMES)
@pytest.mark.parametrize("p", [None, 2])
def test_matches_brute_force_double_loop(kernel, p):
    x, y = dataset(0, n=40, p=p)
    xq, _ = dataset(1, n=15, p=p)
    h = 1.5  # wide enough that every query has neighbours under the compact kernels
    got = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=h)
    np.testing.assert_allclose(got, brute_force_nw(x, y, xq, kernel, h), rtol=1e-12, atol=1e-12)


def test_multi_output_is_columnwise():
    x, y = dataset(2, n=25, q=3)
    xq, _ = dataset(3, n=7)
    got = lk.nadaraya_watson(x, y, xq, bandwidth=0.4)
    assert got.shape == (7, 3)
    for column in range(3):
        np.testing.assert_allclose(got[:, column], lk.nadaraya_watson(x, y[:, column], xq, bandwidth=0.4),
                                   rtol=1e-14, atol=1e-14)


def test_returned_weights_reproduce_predictions():
    x, y = dataset(4, n=20, q=2)
    xq, _ = dataset(5, n=9)
    pred, weights = lk.nadaraya_watson(x, y, xq, kernel="epanechnikov", bandwidth=0.7, return_weights=True)
    assert weights.shape == (9, 20)
    np.testing.assert_allclose(weights @ y, pred, rtol=1e-13, atol=1e-13)


def test_callable_kernel_matches_named_kernel():
    x, y = dataset(6)
    xq, _ = dataset(7, n=5)

    def my_gaussian(u):
        return torch.exp(-u * u / 2)  # unnormalised: the constant cancels

    np.testing.assert_allclose(lk.nadaraya_watson(x, y, xq, kernel=my_gaussian, bandwidth=0.3),
                               lk.nadaraya_watson(x, y, xq, kernel="gaussian", bandwidth=0.3), rtol=1e-12)
    np.testing.assert_allclose(lk.nadaraya_watson(x, y, xq, kernel=lk.boxcar, bandwidth=0.8),
                               lk.nadaraya_watson(x, y, xq, kernel="boxcar", bandwidth=0.8), rtol=1e-15)


def test_kernel_constant_cancels():
    x, y = dataset(8)
    xq, _ = dataset(9, n=6)

    def scaled(u):
        return 1000.0 * lk.epanechnikov(u)

    np.testing.assert_allclose(lk.nadaraya_watson(x, y, xq, kernel=scaled, bandwidth=0.9),
                               lk.nadaraya_watson(x, y, xq, kernel="epanechnikov", bandwidth=0.9), rtol=1e-12)


# --- properties ---------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(problems())
def test_weights_are_a_probability_vector_and_predictions_stay_in_range(problem):
    x, y, xq, h, kernel = problem
    pred, weights = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=h, return_weights=True)
    assert np.all(np.isfinite(weights)) and np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    slack = 1e-12 * (1 + np.abs(y).max())
    assert np.all(pred >= y.min() - slack) and np.all(pred <= y.max() + slack)


@settings(max_examples=40, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_invariant_to_permuting_the_training_set(problem, random):
    x, y, xq, h, kernel = problem
    order = list(range(len(x)))
    random.shuffle(order)
    np.testing.assert_allclose(lk.nadaraya_watson(x[order], y[order], xq, kernel=kernel, bandwidth=h),
                               lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=h), rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(problems(), st.integers(-100, 100))
def test_translation_equivariance(problem, shift):
    # An integer shift is exact in floating point, so distances are unchanged bit for bit.
    x, y, xq, h, kernel = problem
    np.testing.assert_allclose(lk.nadaraya_watson(x + shift, y, xq + shift, kernel=kernel, bandwidth=h),
                               lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=h), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel", NAMES)
def test_tiny_bandwidth_gives_nearest_neighbour(kernel):
    x, y = dataset(10, n=50, p=2)
    xq, _ = dataset(11, n=20, p=2)
    nearest = np.argmin(((xq[:, None, :] - x[None, :, :]) ** 2).sum(-1), axis=1)
    got = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=1e-8)
    np.testing.assert_allclose(got, y[nearest], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kernel", NAMES)
def test_huge_bandwidth_gives_global_mean(kernel):
    x, y = dataset(12, n=50)
    xq = np.array([-1e3, 0.0, 0.3, 1e3])
    got = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=1e8)
    # The weights differ from equal by O(spread(x) / h) = O(1e-8).
    np.testing.assert_allclose(got, np.full(4, y.mean()), rtol=0, atol=1e-7)


@pytest.mark.parametrize("h", [1e-200, 1e200])
def test_extreme_bandwidths_stay_finite(h):
    x, y = dataset(27, n=20)
    xq = np.concatenate([x[:3], [0.123, 50.0]])
    for kernel in NAMES:
        got = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=h)
        assert np.all(np.isfinite(got))
        if h < 1:
            np.testing.assert_array_equal(got[:3], y[:3])
        else:
            np.testing.assert_allclose(got, y.mean(), rtol=1e-12)


def test_tiny_bandwidth_splits_ties_evenly():
    x = np.array([0.0, 2.0, 5.0])
    y = np.array([1.0, 3.0, 100.0])
    pred, weights = lk.nadaraya_watson(x, y, np.array([1.0]), bandwidth=1e-8, return_weights=True)
    np.testing.assert_allclose(weights, [[0.5, 0.5, 0.0]], atol=1e-15)
    assert pred[0] == pytest.approx(2.0)


@pytest.mark.parametrize("kernel", ["epanechnikov", "triangular", "boxcar"])
def test_empty_neighbourhood_falls_back_to_nearest_point(kernel):
    x = np.array([0.0, 1.0, 4.0])
    y = np.array([10.0, 20.0, 40.0])
    xq = np.array([-3.0, 2.5, 2.6, 9.0, 0.5])  # 2.5 is equidistant from 1 and 4
    pred, weights = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=0.2, return_weights=True)
    assert np.all(np.isfinite(pred))
    np.testing.assert_allclose(pred[:4], [10.0, 30.0, 40.0, 40.0])
    np.testing.assert_allclose(weights[1], [0.0, 0.5, 0.5])
    # It is the estimate for a bandwidth just past the distance to the nearest point.
    just_past = lk.nadaraya_watson(x, y, np.array([2.6]), kernel=kernel, bandwidth=1.4 + 1e-6)
    assert just_past[0] == pytest.approx(pred[2])
    # The query at 0.5 sits at distance 0.5 > h from both 0 and 1: nearest-tie mean.
    assert pred[4] == pytest.approx(15.0)


# --- NumPy / torch, dtypes, autograd ------------------------------------------------

@pytest.mark.parametrize("kernel", NAMES)
@pytest.mark.parametrize("p", [None, 3])
def test_numpy_and_torch_agree(kernel, p):
    x, y = dataset(13, n=60, p=p, q=2)
    xq, _ = dataset(14, n=11, p=p)
    got_np, w_np = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=0.6, return_weights=True)
    got_t, w_t = lk.nadaraya_watson(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xq),
                                    kernel=kernel, bandwidth=torch.tensor(0.6, dtype=torch.float64),
                                    return_weights=True)
    assert isinstance(got_np, np.ndarray) and got_np.dtype == np.float64
    assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.float64
    assert isinstance(w_t, torch.Tensor) and isinstance(w_np, np.ndarray)
    np.testing.assert_allclose(got_t.numpy(), got_np, rtol=0, atol=1e-12)
    np.testing.assert_allclose(w_t.numpy(), w_np, rtol=0, atol=1e-12)


def test_float32_in_float32_out():
    x, y = dataset(15)
    out = lk.nadaraya_watson(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32),
                             torch.tensor([0.0, 1.0], dtype=torch.float32), bandwidth=0.5)
    assert out.dtype == torch.float32 and out.shape == (2,)
    np.testing.assert_allclose(out.numpy(), lk.nadaraya_watson(x, y, np.array([0.0, 1.0]), bandwidth=0.5),
                               rtol=1e-5)


def test_integer_inputs_become_float64():
    out = lk.nadaraya_watson(np.arange(5), np.arange(5) ** 2, np.array([2]), bandwidth=1.0)
    assert out.dtype == np.float64


@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov", "triangular"])
def test_gradcheck_through_bandwidth(kernel):
    x, y = dataset(16, n=12)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    xq = torch.linspace(-1.5, 1.5, 5, dtype=torch.float64)
    h = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda bw: lk.nadaraya_watson(xt, yt, xq, kernel=kernel, bandwidth=bw), (h,))


def test_gradcheck_through_x_and_y():
    x, y = dataset(17, n=8, p=2)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.from_numpy(y).requires_grad_()
    xq = torch.from_numpy(dataset(18, n=4, p=2)[0]).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b, c: lk.nadaraya_watson(a, b, c, bandwidth=0.7), (xt, yt, xq))


def test_bandwidth_with_gradient_gives_no_warning():
    x, y = dataset(28)
    h = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)  # torch otherwise warns only once per process
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lk.nadaraya_watson(torch.from_numpy(x), torch.from_numpy(y), torch.zeros(2, dtype=torch.float64),
                               bandwidth=h)
            lk.leave_one_out_predictions(torch.from_numpy(x), torch.from_numpy(y), bandwidth=h)
    finally:
        torch.set_warn_always(always)


def test_gradient_is_finite_when_a_query_equals_a_training_point():
    x = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, -1.0, 3.0], dtype=torch.float64)
    for kernel in NAMES:
        out = lk.nadaraya_watson(x, y, x, kernel=kernel, bandwidth=torch.tensor(1.5, dtype=torch.float64))
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert torch.isfinite(grad).all()


# --- blocking -----------------------------------------------------------------------

@pytest.mark.parametrize("kernel", ["gaussian", "boxcar"])
def test_blocks_give_the_same_answer_as_one_block(kernel, monkeypatch):
    x, y = dataset(19, n=50, p=2, q=2)
    xq, _ = dataset(20, n=37, p=2)
    whole, w_whole = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=0.3, return_weights=True)
    loo_whole = lk.leave_one_out_predictions(x, y, kernel=kernel, bandwidth=0.3)
    # Room for 3 queries (50 points x 2 features x 8 bytes each) per block: 13 blocks.
    monkeypatch.setattr(_validation, "BLOCK_BYTES", 3 * 50 * 2 * 8)
    assert _validation.rows_per_block(50 * 2 * 8) == 3
    blocked, w_blocked = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=0.3, return_weights=True)
    np.testing.assert_array_equal(blocked, whole)
    np.testing.assert_array_equal(w_blocked, w_whole)
    np.testing.assert_array_equal(lk.leave_one_out_predictions(x, y, kernel=kernel, bandwidth=0.3), loo_whole)


def test_block_size_is_bounded():
    # A million training points: one query per block, 8 MB of pairwise entries.
    assert _validation.rows_per_block(1_000_000 * 1 * 8) == 1
    rows = _validation.rows_per_block(1000 * 3 * 8)
    assert rows * 1000 * 3 * 8 <= 8 * 2**20 < (rows + 1) * 1000 * 3 * 8


def test_no_queries_gives_empty_output():
    x, y = dataset(21, q=2)
    out, weights = lk.nadaraya_watson(x, y, np.zeros(0), bandwidth=1.0, return_weights=True)
    assert out.shape == (0, 2) and weights.shape == (0, 30)


# --- leave-one-out ------------------------------------------------------------------

@pytest.mark.parametrize("kernel", NAMES)
@pytest.mark.parametrize("h", [0.05, 0.5])
def test_leave_one_out_equals_refitting_without_each_point(kernel, h):
    x, y = dataset(22, n=25)
    got = lk.leave_one_out_predictions(x, y, kernel=kernel, bandwidth=h)
    expected = [lk.nadaraya_watson(np.delete(x, i), np.delete(y, i), x[i:i + 1], kernel=kernel, bandwidth=h)[0]
                for i in range(len(x))]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_leave_one_out_nearest_other_point_at_tiny_bandwidth():
    x = np.array([0.0, 1.0, 3.0, 3.5])
    y = np.array([1.0, 2.0, 3.0, 4.0])
    for kernel in NAMES:
        got = lk.leave_one_out_predictions(x, y, kernel=kernel, bandwidth=1e-8)
        np.testing.assert_allclose(got, [2.0, 1.0, 4.0, 3.0])


def test_leave_one_out_duplicates_predict_each_other():
    x = np.array([0.0, 0.0, 5.0])
    y = np.array([1.0, 3.0, 7.0])
    got = lk.leave_one_out_predictions(x, y, kernel="boxcar", bandwidth=0.1)
    np.testing.assert_allclose(got, [3.0, 1.0, 2.0])


def test_loo_cv_bandwidth_picks_the_smallest_error():
    rng = np.random.default_rng(23)
    x = np.sort(rng.uniform(0, 1, 60))
    y = np.sin(6 * x) + 0.2 * rng.normal(size=60)
    grid = np.geomspace(0.005, 1.0, 12)
    result = lk.loo_cv_bandwidth(x, y, kernel="epanechnikov", bandwidths=grid)
    assert isinstance(result, lk.LOOResult) and isinstance(result.bandwidth, float)
    expected = [np.mean((lk.leave_one_out_predictions(x, y, kernel="epanechnikov", bandwidth=h) - y) ** 2)
                for h in grid]
    np.testing.assert_allclose(result.errors, expected, rtol=1e-13)
    np.testing.assert_array_equal(result.bandwidths, grid)
    assert result.bandwidth == grid[int(np.argmin(expected))]
    assert 0.005 < result.bandwidth < 1.0  # interior: neither extreme wins


def test_loo_cv_bandwidth_torch_returns_tensors_with_gradient():
    x, y = dataset(24, n=20)
    yt = torch.from_numpy(y).requires_grad_()
    result = lk.loo_cv_bandwidth(torch.from_numpy(x), yt, bandwidths=[0.1, 0.3])
    assert isinstance(result.errors, torch.Tensor) and isinstance(result.bandwidths, torch.Tensor)
    result.errors.sum().backward()
    assert torch.isfinite(yt.grad).all()
    np.testing.assert_allclose(result.errors.detach().numpy(),
                               lk.loo_cv_bandwidth(x, y, bandwidths=[0.1, 0.3]).errors, rtol=0, atol=1e-12)


# --- Silverman ----------------------------------------------------------------------

def test_silverman_one_dimension_matches_the_formula():
    x = np.random.default_rng(25).standard_t(3, size=300)
    sigma = x.std(ddof=1)
    iqr = np.subtract(*np.percentile(x, [75, 25]))
    expected = 0.9 * min(sigma, iqr / 1.34) * 300 ** (-1 / 5)
    assert lk.silverman_bandwidth(x) == pytest.approx(expected, rel=1e-12)
    assert lk.silverman_bandwidth(x[:, None]) == pytest.approx(expected, rel=1e-12)
    assert lk.silverman_bandwidth(torch.from_numpy(x)) == pytest.approx(expected, rel=1e-12)


def test_silverman_several_dimensions():
    x = np.random.default_rng(26).normal(size=(400, 3)) * [1.0, 2.0, 3.0]
    scales = [min(c.std(ddof=1), np.subtract(*np.percentile(c, [75, 25])) / 1.34) for c in x.T]
    expected = (4 / 5) ** (1 / 7) * np.mean(scales) * 400 ** (-1 / 7)
    assert lk.silverman_bandwidth(x) == pytest.approx(expected, rel=1e-12)


def test_silverman_uses_sigma_when_iqr_is_zero():
    x = np.array([0.0] * 10 + [1.0])
    assert lk.silverman_bandwidth(x) == pytest.approx(0.9 * x.std(ddof=1) * 11 ** (-1 / 5))


@pytest.mark.parametrize("bad, match", [
    (np.ones(5), "no spread"),
    (np.array([1.0]), "at least 2 points"),
    (np.array([1.0, np.nan, 2.0]), "`x` contains NaN"),
    (np.zeros((3, 2, 2)), "`x` must have 1 or 2 dimensions"),
])
def test_silverman_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        lk.silverman_bandwidth(bad)


# --- bad input ----------------------------------------------------------------------

X, Y, XQ = np.linspace(0, 1, 5), np.arange(5.0), np.array([0.5])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(y_train=np.arange(4.0)), ValueError, "`x_train` and `y_train` must agree in number of points"),
    (dict(bandwidth=0.0), ValueError, "`bandwidth` must be a finite number > 0; got 0.0"),
    (dict(bandwidth=-1.0), ValueError, "`bandwidth` must be a finite number > 0"),
    (dict(bandwidth=math.inf), ValueError, "`bandwidth` must be a finite number > 0; got inf"),
    (dict(bandwidth=math.nan), ValueError, "`bandwidth` must be a finite number > 0"),
    (dict(bandwidth="wide"), TypeError, "`bandwidth`"),
    (dict(bandwidth=None), TypeError, "`bandwidth`"),
    (dict(bandwidth=np.array([0.1, 0.2])), (TypeError, ValueError), "`bandwidth`"),
    (dict(bandwidth=torch.tensor([0.1, 0.2])), (TypeError, ValueError), "`bandwidth`"),
    (dict(kernel="epanechikov"), ValueError, "`kernel` must be one of 'gaussian'"),
    (dict(kernel=42), TypeError, "`kernel`"),
    (dict(x_train=np.zeros(0), y_train=np.zeros(0)), ValueError, "`x_train` is empty"),
    (dict(x_train=np.array([0.0, np.nan, 0.5, 0.7, 1.0])), ValueError, "`x_train` contains NaN"),
    (dict(y_train=np.array([0.0, 1.0, np.nan, 3.0, 4.0])), ValueError, "`y_train` contains NaN"),
    (dict(x_query=np.array([np.nan])), ValueError, "`x_query` contains NaN"),
    (dict(x_train=np.zeros((5, 1, 1))), ValueError, "`x_train` must have 1 or 2 dimensions"),
    (dict(y_train=np.zeros((5, 1, 1))), ValueError, "`y_train` must have 1 or 2 dimensions"),
    (dict(x_query=np.zeros((1, 1, 1))), ValueError, "`x_query` must have 1 or 2 dimensions"),
    (dict(x_query=np.zeros((1, 1))), ValueError, "`x_query` must have the same number of dimensions"),
    (dict(x_train=np.zeros((5, 2)), x_query=np.zeros((1, 3))), ValueError, "`x_query` must have as many features"),
    (dict(x_train=[object()] * 5), TypeError, None),
    (dict(x_query=torch.zeros(1)), TypeError, "mix of NumPy arrays and torch tensors"),
])
def test_nadaraya_watson_rejects_bad_input(kwargs, error, match):
    arguments = dict(x_train=X, y_train=Y, x_query=XQ, bandwidth=0.3)
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        lk.nadaraya_watson(**arguments)


def test_bandwidth_is_keyword_only():
    with pytest.raises(TypeError):
        lk.nadaraya_watson(X, Y, XQ, "gaussian", 0.3)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(y=np.arange(4.0)), ValueError, "`x` and `y` must agree in number of points"),
    (dict(x=np.array([1.0]), y=np.array([1.0])), ValueError, "`x` needs at least 2 points"),
    (dict(bandwidth=0.0), ValueError, "`bandwidth`"),
    (dict(kernel="tricube"), ValueError, "`kernel`"),
    (dict(y=np.array([0.0, np.inf, 1, 2, 3])), ValueError, "`y` contains NaN or infinite"),
])
def test_leave_one_out_rejects_bad_input(kwargs, error, match):
    arguments = dict(x=X, y=Y, bandwidth=0.3)
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        lk.leave_one_out_predictions(**arguments)


@pytest.mark.parametrize("bandwidths, error, match", [
    ([0.1, 0.0], ValueError, "`bandwidths` must all be finite numbers > 0"),
    ([0.1, math.nan], ValueError, "`bandwidths` must all be finite numbers > 0"),
    ([], ValueError, "`bandwidths` is empty"),
    ([[0.1, 0.2]], ValueError, "`bandwidths` must have 1 dimensions"),
    ("wide", TypeError, "`bandwidths`"),
])
def test_loo_cv_bandwidth_rejects_bad_grid(bandwidths, error, match):
    with pytest.raises(error, match=match):
        lk.loo_cv_bandwidth(X, Y, bandwidths=bandwidths)


def test_loo_cv_bandwidth_rejects_bad_kernel_and_data():
    with pytest.raises(ValueError, match="`kernel`"):
        lk.loo_cv_bandwidth(X, Y, kernel="rbf", bandwidths=[0.1])
    with pytest.raises(ValueError, match="`x` and `y` must agree"):
        lk.loo_cv_bandwidth(X, Y[:3], bandwidths=[0.1])


# ----------------------------------------------------- small NumPy calls, in NumPy

def _small_problem(n, m, p=None, q=None, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n if p is None else (n, p)).astype(dtype)
    y = rng.normal(size=n if q is None else (n, q)).astype(dtype)
    xq = np.linspace(-0.2, 1.2, m).astype(dtype)
    if p is not None:
        xq = np.stack([xq] * p, axis=1)
    return x, y, xq


@pytest.mark.parametrize("kernel", NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, m, p, q", [(1, 1, None, None), (50, 5, None, None), (7, 3, 2, None),
                                        (9, 4, None, 2), (6, 5, 3, 2)])
@pytest.mark.parametrize("bandwidth", [1e-300, 0.05, 0.3, 1e300])
def test_small_numpy_calls_match_the_torch_path(kernel, dtype, n, m, p, q, bandwidth):
    from lenakernel.smoothing import _small_numpy_call

    x, y, xq = _small_problem(n, m, p, q, dtype)
    assert _small_numpy_call(x, y, xq, kernel, bandwidth, False, True) == kernel
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy may not warn where torch is silent
        pred, weights = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=bandwidth, return_weights=True)
    t_pred, t_weights = lk.nadaraya_watson(*(torch.from_numpy(a) for a in (x, y, xq)), kernel=kernel,
                                           bandwidth=bandwidth, return_weights=True)
    assert type(pred) is np.ndarray and pred.dtype == dtype and pred.shape == tuple(t_pred.shape)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(pred, t_pred.numpy(), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(weights, t_weights.numpy(), rtol=tolerance, atol=tolerance)


def test_small_numpy_calls_match_the_reference():
    from lenakernel.reference import nadaraya_watson_reference

    x, y, xq = _small_problem(50, 5)
    reference = nadaraya_watson_reference(*(torch.from_numpy(a[:, None]) for a in (x, y, xq)), 0.1)
    np.testing.assert_allclose(lk.nadaraya_watson(x, y, xq, bandwidth=0.1), reference.numpy()[:, 0],
                               rtol=1e-12, atol=1e-12)


def test_small_numpy_calls_handle_ties_and_empty_neighbourhoods():
    x = np.array([0.0, 1.0, 1.0, 3.0])
    y = np.array([1.0, 2.0, 4.0, 8.0])
    xq = np.array([1.0, 2.0, 10.0, -5.0])  # 2.0: three nearest at distance 1; 10, -5: far from all
    for kernel in ("epanechnikov", "triangular", "boxcar"):
        pred = lk.nadaraya_watson(x, y, xq, kernel=kernel, bandwidth=0.5)
        np.testing.assert_allclose(pred, [3.0, 14 / 3, 8.0, 1.0], rtol=1e-12)


def test_kernel_names_and_functions_give_the_same_bits():
    x, y, xq = _small_problem(20, 7)
    for name in NAMES:
        function = lk.get_kernel(name)
        assert np.array_equal(lk.nadaraya_watson(x, y, xq, kernel=name, bandwidth=0.2),
                              lk.nadaraya_watson(x, y, xq, kernel=function, bandwidth=0.2))


def test_past_the_small_size_the_torch_path_gives_the_same():
    from lenakernel.smoothing import SMALL_NUMPY_PAIRS, _small_numpy_call

    x, y, xq = _small_problem(SMALL_NUMPY_PAIRS // 4, 4)
    assert _small_numpy_call(x, y, xq, "gaussian", 0.1, False, False) == "gaussian"
    big = np.append(x, 0.5), np.append(y, 0.0)
    assert _small_numpy_call(*big, xq, "gaussian", 0.1, False, False) is None
    np.testing.assert_allclose(lk.nadaraya_watson(*big, xq, bandwidth=0.1),
                               lk.nadaraya_watson(*(torch.from_numpy(a) for a in (*big, xq)),
                                                  bandwidth=0.1).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("which", ["x_train", "y_train", "x_query"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_small_numpy_calls_refuse_non_finite_inputs_by_name(which, bad):
    arrays = dict(zip(("x_train", "y_train", "x_query"), _small_problem(10, 3)))
    arrays[which][1] = bad
    with pytest.raises(ValueError, match=f"`{which}` contains NaN or infinite"):
        lk.nadaraya_watson(**arrays, bandwidth=0.1)


@pytest.mark.parametrize("change", [
    dict(kernel=lambda u: np.exp(-u * u)), dict(kernel="gausian"), dict(bandwidth=0.0), dict(bandwidth=-1.0),
    dict(bandwidth=np.nan), dict(bandwidth=True), dict(bandwidth=torch.tensor(0.1)), dict(exclude_self=True),
    dict(return_weights=np.bool_(True)), dict(x_query=np.zeros((3, 1))), dict(y_train=np.zeros(9)),
    dict(x_train=np.zeros(0), y_train=np.zeros(0)), dict(x_train=np.arange(10)),
    dict(x_query=np.zeros(3, dtype=np.float32))])
def test_small_numpy_calls_leave_anything_unusual_to_the_general_path(change):
    from lenakernel.smoothing import _small_numpy_call

    arguments = dict(zip(("x_train", "y_train", "x_query"), _small_problem(10, 3)))
    arguments.update(kernel="gaussian", bandwidth=0.1, exclude_self=False, return_weights=False)
    arguments.update(change)
    assert _small_numpy_call(**arguments) is None
