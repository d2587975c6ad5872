"""Nadaraya-Watson kernel regression: predict by averaging training outputs by similarity.

``y_hat(x) = sum_j w_j(x) y_j`` with ``w_j(x) = K(||x - x_j|| / h) / sum_l K(||x - x_l|| / h)``;
the weights are computed in the log domain, in blocks of queries, so any bandwidth
gives finite weights and a million training points never need an m x n matrix.
Also: bandwidth by Silverman's rule of thumb and by exact leave-one-out cross-validation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from . import _validation as V
from ._backend import as_real_tensor, as_tensors, positive_scalar_tensor
from .kernels import KERNELS, _log_kernel_of_squared, get_kernel

__all__ = [
    "nadaraya_watson",
    "leave_one_out_predictions",
    "loo_cv_bandwidth",
    "LOOResult",
    "silverman_bandwidth",
]

class LOOResult(NamedTuple):
    """The result of :func:`loo_cv_bandwidth`.

    Attributes
    ----------
    bandwidth : float
        The grid value with the smallest leave-one-out error.
    bandwidths : numpy.ndarray or torch.Tensor
        The grid that was searched, as given.
    errors : numpy.ndarray or torch.Tensor
        The leave-one-out mean squared error for each grid value.
    """

    bandwidth: float
    bandwidths: object
    errors: object


# ----------------------------------------------------------------------------------
# The computation, written once (lenakernel.reference holds the readable dense form)
# ----------------------------------------------------------------------------------

def _squared_distances(x_query: torch.Tensor, x_train: torch.Tensor) -> torch.Tensor:
    """||x_query[i] - x_train[j]||**2 for every pair, shape (b, n), from (b, p) and (n, p)."""
    if x_train.shape[1] == 1:  # the common 1-D case, without a (b, n, 1) intermediate
        diff = x_query[:, 0, None] - x_train[None, :, 0]
        return diff * diff
    diff = x_query[:, None, :] - x_train[None, :, :]
    return (diff * diff).sum(-1)


def _smooth(x_train, y_train, x_query, log_kernel_sq, bandwidth, *, exclude_self=False,
            return_weights=False):
    """Nadaraya-Watson on torch tensors: x (n, p), y (n, q), queries (m, p).

    ``log_kernel_sq(s)`` is log K(sqrt(s)) up to a constant, with s = u**2. With
    ``exclude_self`` the queries are the training points themselves and query i never
    uses training point i (leave-one-out). Returns predictions (m, q) and, if asked,
    the weights (m, n).
    """
    n, p = x_train.shape
    m = x_query.shape[0]
    rows = V.rows_per_block(x_train.element_size() * n * max(p, 1))
    # u**2 = squared distance / h**2: one multiplication by 1 / h**2, unless that overflows
    # the dtype (a tiny h); then divide by h twice, which turns 0 / h**2 into 0, not NaN.
    bandwidth = bandwidth.clamp_min(torch.finfo(bandwidth.dtype).tiny)  # h > 0 even in float16
    inverse_h2 = 1.0 / (bandwidth * bandwidth)
    tiny = not bool(torch.isfinite(inverse_h2))
    # Write each block into outputs allocated once (slice assignment keeps autograd):
    # a list of small per-block results kept between large temporaries fragments the
    # heap, and peak memory would grow with the number of queries.
    predictions = y_train.new_zeros((m, y_train.shape[1]))
    weights = y_train.new_zeros((m, n)) if return_weights else None
    for start in range(0, m, rows):
        stop = min(start + rows, m)
        sq_dist = _squared_distances(x_query[start:stop], x_train)  # (b, n)
        log_w = log_kernel_sq((sq_dist / bandwidth) / bandwidth if tiny else sq_dist * inverse_h2)
        if exclude_self:
            # Query i is training point start + i: give it log-weight -inf (weight 0).
            own = torch.zeros(sq_dist.shape, dtype=torch.bool, device=sq_dist.device)
            own[torch.arange(stop - start), torch.arange(start, stop)] = True
            log_w = log_w.masked_fill(own, -math.inf)

        # A query with no training point inside a compact kernel's support: fall back
        # to its nearest training point(s), the estimate as h grows just past that distance.
        row_max = log_w.max(dim=1, keepdim=True).values
        empty = row_max == -math.inf
        if bool(empty.any()):
            sq = sq_dist.detach().masked_fill(own, math.inf) if exclude_self else sq_dist.detach()
            nearest = sq == sq.min(dim=1, keepdim=True).values
            nearest_log_w = torch.zeros_like(log_w).masked_fill(~nearest, -math.inf)
            log_w = torch.where(empty, nearest_log_w, log_w)
            row_max = log_w.max(dim=1, keepdim=True).values

        # Normalise in the log domain: subtract the row maximum, so the largest weight is
        # exp(0) = 1 before normalising; nothing overflows and the sum is never 0.
        unnormalised = torch.exp(log_w - row_max.detach())
        total = unnormalised.sum(dim=1, keepdim=True)
        predictions[start:stop] = (unnormalised @ y_train) / total
        if return_weights:
            weights[start:stop] = unnormalised / total
    return predictions, weights


def _kernel_name(log_kernel):
    """The registry name of the built-in kernel whose ``log_of_squared`` this is, else None."""
    from .kernels import KERNELS

    return next((name for name, record in KERNELS.items() if record.log_of_squared is log_kernel), None)


# Below this many query-training pairs, all pairs cost less than sorting and searching;
# below this many queries, sorting the training points is not paid back.
SORTED_WINDOW_MIN_PAIRS = 2**20
SORTED_WINDOW_MIN_QUERIES = 64


def _sorted_windows_pay(x_train, x_query, log_kernel, exclude_self, return_weights, bandwidth):
    """Dispatch rule for :mod:`lenakernel.sorted_window`.

    1-D inputs, a built-in kernel, predictions only (no weight matrix, no leave-one-out),
    at least 2**20 pairs and 64 queries, and windows narrower than half the data's range:
    2h for a compact kernel, 2 sqrt(2 (ln n + 16 ln 10)) h (about 20h) for the Gaussian.
    Wider windows visit most pairs anyway, and all pairs skip the sort.
    """
    name = _kernel_name(log_kernel)
    one_d = x_train.ndim == 1 or x_train.shape[1] == 1
    n, m = x_train.shape[0], x_query.shape[0]
    if not (one_d and name is not None and not exclude_self and not return_weights
            and m >= SORTED_WINDOW_MIN_QUERIES and n * m >= SORTED_WINDOW_MIN_PAIRS):
        return False
    half_width = 1.0 if name in ("epanechnikov", "triangular", "boxcar") else math.sqrt(
        2 * (math.log(n) + 16 * math.log(10)))
    spread = float(x_train.max() - x_train.min())
    return 2 * half_width * float(bandwidth.detach() if torch.is_tensor(bandwidth) else bandwidth) < spread / 2


# Rough costs (ns, one thread) behind the moments' dispatch rule: per pair visited point
# by point, per query and Gaussian box (h / 4 wide, ~26 terms), per query for a compact
# kernel (a few pieces), and per training point for the boxes' moments.
PAIR_NS, GAUSSIAN_BOX_NS, COMPACT_QUERY_NS, POINT_NS = 6.5, 125, 1_500, 600


def _moments_pay(x_train, x_query, log_kernel, exclude_self, return_weights, bandwidth, needs_grad):
    """Dispatch rule for :mod:`lenakernel.moment_smoothing`.

    1-D inputs, a built-in kernel, predictions only, no gradient asked for, at least 64
    queries and 2**20 pairs, and the moments cheaper than visiting each query's window
    point by point: ``m * w * PAIR_NS > m * QUERY_NS + n * POINT_NS``, with ``w`` the
    points a window holds on average if the data were spread evenly (all n when the
    window is as wide as the data).
    """
    name = _kernel_name(log_kernel)
    one_d = x_train.ndim == 1 or x_train.shape[1] == 1
    n, m = x_train.shape[0], x_query.shape[0]
    if not (one_d and name is not None and not needs_grad and not exclude_self and not return_weights
            and m >= SORTED_WINDOW_MIN_QUERIES and n * m >= SORTED_WINDOW_MIN_PAIRS):
        return False
    gaussian = name == "gaussian"
    half_width = math.sqrt(2 * (math.log(n) + 16 * math.log(10))) if gaussian else 1.0
    spread = float(x_train.max() - x_train.min())
    h = float(bandwidth.detach() if torch.is_tensor(bandwidth) else bandwidth)
    share = 1.0 if not spread > 0 else min(1.0, 2 * half_width * h / spread)
    # A Gaussian query visits the boxes (h / 4 wide) that meet its window, or all of the data's.
    boxes = min(8 * half_width, 4 * spread / h) + 1
    per_query = GAUSSIAN_BOX_NS * boxes if gaussian else COMPACT_QUERY_NS
    return m * n * share * PAIR_NS > m * per_query + n * POINT_NS


# ----------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------

def nadaraya_watson(x_train, y_train, x_query, *, kernel="gaussian", bandwidth, exclude_self=False,
                    return_weights=False):
    r"""Nadaraya-Watson kernel regression: a similarity-weighted average of training outputs.

    .. math::

        \hat y(x) = \sum_{j=1}^n \frac{K(\|x - x_j\| / h)}{\sum_{l=1}^n K(\|x - x_l\| / h)}\, y_j

    With several input dimensions the kernel is radial: its one-dimensional profile
    applied to the Euclidean distance. Its normalising constant cancels in the ratio, so
    it does not matter that the profile is a density only in one dimension.

    Weights are computed in the log domain (each row is shifted by its maximum before
    exponentiating), so a bandwidth of ``1e-8`` gives the nearest neighbour's output and
    ``1e8`` the global mean, with no overflow, underflow to 0/0, or NaN. Queries are
    processed in blocks of at most 8 MB of pairwise entries, so the full
    ``(m, n)`` matrix is only formed when ``return_weights=True``. A small call with
    NumPy arrays and a built-in kernel (at most ``SMALL_NUMPY_PAIRS`` pairs) is computed
    in NumPy, which costs less per operation than torch; the numbers agree to rounding.

    **Empty neighbourhoods.** With a compact kernel (Epanechnikov, triangular, boxcar)
    a query may have no training point within one bandwidth; every kernel value is 0
    and the ratio is 0/0. Such a query gets the output of its nearest training point
    (the mean over ties): that is what the estimator returns for any bandwidth just
    larger than the distance to the nearest point, and the limit of the Gaussian
    estimator as ``h -> 0``. Its weight row is 1 on that point (shared among ties).

    Derived in chapter 1.

    Parameters
    ----------
    x_train : array_like or torch.Tensor, shape (n,) or (n, p)
        Training inputs.
    y_train : array_like or torch.Tensor, shape (n,) or (n, q)
        Training outputs.
    x_query : array_like or torch.Tensor, shape (m,) or (m, p)
        Where to predict; same number of dimensions (and features) as ``x_train``.
    kernel : str or callable, default "gaussian"
        ``"gaussian"``, ``"epanechnikov"``, ``"triangular"``, ``"boxcar"``, or a
        function ``K(u)`` of the scaled distance (see :func:`get_kernel`).
    bandwidth : float or 0-d torch.Tensor
        The bandwidth ``h > 0``. A tensor keeps its gradient.
    exclude_self : bool, default False
        Leave one out: query ``i`` is training point ``i`` and gives it weight 0
        (needs ``m == n >= 2``); see :func:`leave_one_out_predictions`.
    return_weights : bool, default False
        Also return the ``(m, n)`` weight matrix (rows are queries and sum to 1).

    Returns
    -------
    predictions : numpy.ndarray or torch.Tensor, shape (m,) or (m, q)
        Same kind, dtype and device as the inputs.
    weights : numpy.ndarray or torch.Tensor, shape (m, n)
        Only if ``return_weights`` is True.

    Raises
    ------
    ValueError
        Mismatched lengths or features, wrong number of dimensions, an empty training
        set, NaN or infinite inputs, a bandwidth that is not a finite number > 0, or an
        unknown kernel name.
    TypeError
        A kernel that is neither a name nor callable, or a non-numeric bandwidth.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0, 3.0])
    >>> y = np.array([0.0, 1.0, 4.0, 9.0])
    >>> print(np.round(nadaraya_watson(x, y, np.array([1.5]), bandwidth=0.5), 4))
    [2.536]
    >>> pred, w = nadaraya_watson(x, y, np.array([1.5]), bandwidth=1e-8, return_weights=True)
    >>> print(np.round(pred, 4), np.round(w.sum(axis=1), 4))
    [2.5] [1.]
    >>> print(np.round(nadaraya_watson(x, y, np.array([10.0]), kernel="boxcar", bandwidth=1.0), 4))
    [9.]
    """
    small_kernel = _small_numpy_call(x_train, y_train, x_query, kernel, bandwidth, exclude_self, return_weights)
    if small_kernel is not None:
        return _nadaraya_watson_numpy(x_train, y_train, x_query, small_kernel, bandwidth, return_weights)
    log_kernel = _log_kernel_of_squared(kernel)
    V.check_flag(return_weights, "return_weights")
    V.check_flag(exclude_self, "exclude_self")
    tensors, restore = as_tensors(x_train=x_train, y_train=y_train, x_query=x_query)
    xt, yt, xq = tensors["x_train"], tensors["y_train"], tensors["x_query"]
    V.check_regression_data(xt, yt, xq)
    if exclude_self and not xq.shape[0] == xt.shape[0] >= 2:
        raise ValueError(
            "`exclude_self=True` means query i is training point i, so `x_query` and `x_train` "
            f"must hold the same number (>= 2) of points; got {xq.shape[0]} and {xt.shape[0]}."
        )
    h = positive_scalar_tensor(bandwidth, "bandwidth", like=xt.to(V.compute_dtype(xt)))
    return restore(_nadaraya_watson(xt, yt, xq, log_kernel, h, exclude_self, return_weights))


def _nadaraya_watson(xt, yt, xq, log_kernel, h, exclude_self=False, return_weights=False):
    """:func:`nadaraya_watson` on checked tensors (no validation), for the package's own reuse."""
    dtype, work = xt.dtype, V.compute_dtype(xt)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (xt, yt, xq, h))
    if _moments_pay(xt, xq, log_kernel, exclude_self, return_weights, h, needs_grad):
        from .moment_smoothing import smooth_moments_1d

        pred, weights = smooth_moments_1d(V.as_points(xt, "x_train").to(work), V.as_points(yt, "y_train").to(work),
                                          V.as_points(xq, "x_query").to(work), _kernel_name(log_kernel), h), None
    elif _sorted_windows_pay(xt, xq, log_kernel, exclude_self, return_weights, h):
        from .sorted_window import smooth_sorted_1d

        pred, weights = smooth_sorted_1d(V.as_points(xt, "x_train").to(work), V.as_points(yt, "y_train").to(work),
                                         V.as_points(xq, "x_query").to(work), _kernel_name(log_kernel), h), None
    else:
        pred, weights = _smooth(V.as_points(xt, "x_train").to(work), V.as_points(yt, "y_train").to(work),
                                V.as_points(xq, "x_query").to(work), log_kernel, h, exclude_self=exclude_self,
                                return_weights=return_weights)
    if yt.ndim == 1:
        pred = pred[:, 0]
    return (pred.to(dtype), weights.to(dtype)) if return_weights else pred.to(dtype)


# ----------------------------------------------------------------------------------
# Small NumPy calls, computed in NumPy: a torch operation costs a few microseconds of
# dispatch whatever its size, a NumPy one about one, so for a few thousand pairs NumPy
# is several times faster. The same steps as _smooth, tested against it and against
# lenakernel.reference.
# ----------------------------------------------------------------------------------

# At most this many (query, training point) pairs (times features) go the NumPy way.
SMALL_NUMPY_PAIRS = 2**14


def _numpy_log_epanechnikov_sq(s):
    inside = s < 1
    return np.where(inside, np.log1p(-np.where(inside, s, 0.0)), -np.inf)


def _numpy_log_triangular_sq(s):
    inside = s < 1
    return np.where(inside, np.log1p(-np.sqrt(np.where(inside, s, 0.0))), -np.inf)


# log K(sqrt(s)) up to a constant, as in lenakernel.kernels, for NumPy arrays.
_NUMPY_LOG_KERNELS_OF_SQUARED = {
    "gaussian": lambda s: -0.5 * s,
    "epanechnikov": _numpy_log_epanechnikov_sq,
    "triangular": _numpy_log_triangular_sq,
    "boxcar": lambda s: np.where(s <= 1, 0.0, -np.inf),
}

_NUMPY_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _builtin_kernel_name(kernel):
    """The name of a built-in kernel given by name or as its function (lk.boxcar), else None."""
    if type(kernel) is str:
        return kernel if kernel in KERNELS else None
    return next((name for name, record in KERNELS.items() if record.function is kernel), None)


def _small_numpy_call(x_train, y_train, x_query, kernel, bandwidth, exclude_self, return_weights):
    """The kernel's name if the call is valid as it is, small and all NumPy, else None.

    A name only for arguments the general path accepts unchanged: float32/float64 NumPy
    arrays of one dtype with the shapes :func:`V.check_regression_data` asks for, finite
    entries (one fused test), a built-in kernel (by name or function), a plain positive
    bandwidth, no leave-one-out, and at most ``SMALL_NUMPY_PAIRS`` pairs. Anything else
    takes the general path, which checks everything and names what is wrong.
    """
    name = _builtin_kernel_name(kernel)
    if not (name is not None
            and type(x_train) is np.ndarray and type(y_train) is np.ndarray and type(x_query) is np.ndarray
            and x_train.dtype in _NUMPY_FLOATS and y_train.dtype == x_train.dtype
            and x_query.dtype == x_train.dtype
            and type(bandwidth) in (float, int, np.float64, np.float32) and 0 < bandwidth <= 1e300
            and exclude_self is False and (return_weights is False or return_weights is True)):
        return None
    x_ndim = x_train.ndim
    if not (x_ndim in (1, 2) and y_train.ndim in (1, 2) and x_query.ndim == x_ndim
            and 0 < x_train.shape[0] == y_train.shape[0]
            and (x_ndim == 1 or x_query.shape[1] == x_train.shape[1])):
        return None
    if x_query.shape[0] * x_train.size > SMALL_NUMPY_PAIRS:
        return None
    with np.errstate(all="ignore"):  # an overflowing sum only sends the call to the full check
        finite = math.isfinite(x_train.sum() + y_train.sum() + x_query.sum())
    return name if finite else None


def _nadaraya_watson_numpy(x_train, y_train, x_query, kernel, bandwidth, return_weights):
    """:func:`_smooth` in NumPy, for arguments that passed :func:`_small_numpy_call`."""
    dtype = x_train.dtype.type
    info = np.finfo(dtype)
    h = dtype(min(max(float(bandwidth), float(info.tiny)), float(info.max)))  # as positive_scalar_tensor
    x = x_train if x_train.ndim == 2 else x_train[:, None]
    xq = x_query if x_query.ndim == 2 else x_query[:, None]
    y = y_train if y_train.ndim == 2 else y_train[:, None]
    with np.errstate(all="ignore"):  # torch is silent about overflow to inf; so are we
        if x.shape[1] == 1:
            diff = xq[:, 0, None] - x[None, :, 0]
            sq_dist = diff * diff
        else:
            diff = xq[:, None, :] - x[None, :, :]
            sq_dist = (diff * diff).sum(-1)
        inverse_h2 = dtype(1) / (h * h)
        scaled = sq_dist / h / h if not math.isfinite(inverse_h2) else sq_dist * inverse_h2
        log_w = _NUMPY_LOG_KERNELS_OF_SQUARED[kernel](scaled).astype(dtype, copy=False)
        row_max = log_w.max(axis=1, keepdims=True)
        empty = row_max == -np.inf
        if empty.any():  # no training point in a compact kernel's support: the nearest one(s)
            nearest = sq_dist == sq_dist.min(axis=1, keepdims=True)
            log_w = np.where(empty, np.where(nearest, dtype(0), dtype(-np.inf)), log_w)
            row_max = log_w.max(axis=1, keepdims=True)
        unnormalised = np.exp(log_w - row_max)
        total = unnormalised.sum(axis=1, keepdims=True)
        predictions = (unnormalised @ y) / total
    if y_train.ndim == 1:
        predictions = predictions[:, 0]
    return (predictions, unnormalised / total) if return_weights else predictions


def leave_one_out_predictions(x, y, *, kernel="gaussian", bandwidth):
    """Nadaraya-Watson prediction at each training point from all the *other* points.

    Point ``i`` is predicted with its own weight set to zero (its log-weight to
    ``-inf``), which is exact leave-one-out: no refitting is needed, because the
    estimator has nothing to fit. A point with no other training point inside a
    compact kernel's support gets the output of its nearest *other* point, as in
    :func:`nadaraya_watson`.

    Derived in chapter 1.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n,) or (n, p)
        Training inputs (at least two points).
    y : array_like or torch.Tensor, shape (n,) or (n, q)
        Training outputs.
    kernel : str or callable, default "gaussian"
        As in :func:`nadaraya_watson`.
    bandwidth : float or 0-d torch.Tensor
        The bandwidth ``h > 0``.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (n,) or (n, q)
        The leave-one-out predictions, same kind as ``x`` and ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0])
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> print(np.round(leave_one_out_predictions(x, y, bandwidth=1e-8), 4))
    [2. 2. 2.]
    """
    tensors, restore = as_tensors(x=x, y=y)
    _check_loo_data(tensors["x"], tensors["y"])
    return restore(nadaraya_watson(tensors["x"], tensors["y"], tensors["x"], kernel=kernel, bandwidth=bandwidth,
                                   exclude_self=True))


def _check_loo_data(x, y):
    V.check_regression_data(x, y, names=("x", "y", None))
    if x.shape[0] < 2:
        raise ValueError(f"`x` needs at least 2 points for leave-one-out; got shape {tuple(x.shape)}.")


def loo_cv_bandwidth(x, y, *, kernel="gaussian", bandwidths):
    """Choose the bandwidth on a grid by exact leave-one-out cross-validation.

    For each ``h`` in the grid, every training point is predicted from all the others
    (:func:`leave_one_out_predictions`) and the mean squared error is recorded; the
    bandwidth with the smallest error wins (the first one, if several tie).

    Derived in chapter 1.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n,) or (n, p)
        Training inputs (at least two points).
    y : array_like or torch.Tensor, shape (n,) or (n, q)
        Training outputs.
    kernel : str or callable, default "gaussian"
        As in :func:`nadaraya_watson`.
    bandwidths : array_like or torch.Tensor, shape (k,)
        The grid of candidate bandwidths, each a finite number > 0.

    Returns
    -------
    LOOResult
        ``(bandwidth, bandwidths, errors)``: the best bandwidth as a float, the grid,
        and the leave-one-out mean squared error at each grid value (the grid and the
        errors are NumPy arrays for NumPy input, tensors for torch input).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.sort(rng.uniform(0, 1, 40))
    >>> y = np.sin(2 * np.pi * x) + 0.1 * rng.normal(size=40)
    >>> result = loo_cv_bandwidth(x, y, bandwidths=[0.01, 0.05, 0.2])
    >>> result.bandwidth
    0.05
    >>> print(np.round(result.errors, 4))
    [0.033  0.0274 0.1642]
    """
    get_kernel(kernel)  # validate the kernel first, so the error names it
    tensors, restore = as_tensors(x=x, y=y)
    xt, yt = tensors["x"], tensors["y"]
    _check_loo_data(xt, yt)
    grid = _bandwidth_grid(bandwidths, like=xt)

    errors = []
    for h in grid:
        # Pass each grid value on as a tensor with the same dtype/device as x and y.
        pred = leave_one_out_predictions(xt, yt, kernel=kernel, bandwidth=h)
        errors.append(((pred - yt) ** 2).mean())
    errors = torch.stack(errors)
    best = int(torch.argmin(errors.detach()))
    grid_out = grid if isinstance(bandwidths, torch.Tensor) else grid.detach()
    return LOOResult(float(grid.detach()[best]), restore(grid_out), restore(errors))


def _bandwidth_grid(bandwidths, like: torch.Tensor) -> torch.Tensor:
    """Validate a grid of bandwidths and return it as a 1-D tensor like ``like``."""
    grid = as_real_tensor(bandwidths, "bandwidths", "a 1-D array of positive numbers")
    grid = grid.to(dtype=like.dtype, device=like.device)
    V.check_ndim(grid, "bandwidths", (1,), "(k,), a grid of candidate bandwidths")
    V.check_not_empty(grid, "bandwidths", what="candidate bandwidths")
    bad = ~torch.isfinite(grid.detach()) | (grid.detach() <= 0)
    if bool(bad.any()):
        raise ValueError(
            f"`bandwidths` must all be finite numbers > 0; got {float(grid.detach()[bad][0])!r}."
        )
    return grid


def silverman_bandwidth(x):
    r"""Silverman's rule-of-thumb bandwidth.

    For one input dimension, :cite:`silverman1986`'s rule

    .. math:: h = 0.9\, \min\!\left(\hat\sigma, \frac{\mathrm{IQR}}{1.34}\right) n^{-1/5},

    with ``sigma`` the sample standard deviation and ``IQR`` the interquartile range
    (the ``min`` guards against heavy tails and bimodality). It is optimal for a
    Gaussian density estimated with a Gaussian kernel, and a sensible starting point,
    not an answer, for regression.

    For ``p >= 2`` input dimensions the kernel is radial with one bandwidth, so the
    per-dimension robust scales ``s_k = min(sigma_k, IQR_k / 1.34)`` are averaged and
    the normal-reference rule for a ``p``-dimensional Gaussian kernel is used,
    ``h = (4 / (p + 2))^(1 / (p + 4)) * mean(s_k) * n^(-1 / (p + 4))``.
    A dimension whose IQR is 0 uses its standard deviation alone.

    Derived in chapter 1.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n,) or (n, p)
        Training inputs, at least two distinct values.

    Returns
    -------
    float
        The bandwidth.

    Raises
    ------
    ValueError
        Fewer than two points, NaN, wrong dimensions, or no spread at all (every
        point the same), where no bandwidth can be inferred.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=500)
    >>> round(silverman_bandwidth(x), 4)
    0.2635
    """
    tensors, _ = as_tensors(x=x)
    xt = tensors["x"]
    columns = V.as_points(xt, "x").detach().to(torch.float64)
    V.check_finite(xt, "x")
    n = xt.shape[0]
    if n < 2 or columns.shape[1] == 0:
        raise ValueError(f"`x` needs at least 2 points with at least 1 feature; got shape {tuple(xt.shape)}.")
    sigma = columns.std(dim=0, correction=1)
    q75, q25 = torch.quantile(columns, torch.tensor([0.75, 0.25], dtype=torch.float64), dim=0)
    iqr_scale = (q75 - q25) / 1.34
    # min(sigma, IQR/1.34), but sigma alone where the IQR is 0 (heavily tied data).
    scale = torch.where(iqr_scale > 0, torch.minimum(sigma, iqr_scale), sigma)
    p = columns.shape[1]
    if xt.ndim == 1 or p == 1:
        h = 0.9 * float(scale[0]) * n ** (-1 / 5)
    else:
        h = (4 / (p + 2)) ** (1 / (p + 4)) * float(scale.mean()) * n ** (-1 / (p + 4))
    if not h > 0:
        raise ValueError("`x` has no spread (all points equal), so no bandwidth can be inferred.")
    return h
