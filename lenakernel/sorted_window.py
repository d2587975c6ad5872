"""The sorted-window smoother: exact 1-D Nadaraya-Watson that visits only the points that weigh.

In one dimension, sort the training points once; then the points that can carry weight
for a query ``x`` form one contiguous run of the sorted array, found by binary search
(``torch.searchsorted``), and the estimator needs nothing outside it.

- Compact kernels (Epanechnikov, triangular, boxcar) give weight 0 beyond one
  bandwidth, so the run ``[x - h, x + h]`` is exactly the support. (It is widened to the
  nearest point(s) when it holds none, for the empty-neighbourhood rule of
  :func:`lenakernel.nadaraya_watson`.)
- The Gaussian kernel is never 0, so the run is cut where the weights stop mattering.
  With ``d0`` the distance to the nearest training point, every point farther than
  ``r = sqrt(d0**2 + 2 h**2 L)``, ``L = ln(n) + 16 ln(10)``, has weight below
  ``1e-16 / n`` times the nearest point's weight. The n or fewer dropped points together
  weigh less than ``1e-16`` of the kept total, so the estimate moves by less than
  ``2e-16 * max|y|``: the same as the all-pairs sum up to rounding.

Queries are sorted too and taken in blocks of neighbours; a block visits the union of
its queries' runs (one slice, no gather) through the same blocked, log-domain code as
the all-pairs form, ``lenakernel.smoothing._smooth``. Points of the union outside a
query's own run get their true (zero or negligible) weight. The cost falls from
``m * n`` kernel evaluations to about ``m * (points per run)``, plus ``O((n + m) log n)``
for sorting and searching.

The smoother computes ordinary differentiable tensor operations on slices of the sorted
points (the run boundaries are piecewise constant), so autograd works through it as
through the all-pairs form. Used by :func:`lenakernel.nadaraya_watson` (chapter 1).
"""

from __future__ import annotations

import math

import torch

from .smoothing import _smooth

__all__: list[str] = []

# The kernels whose support is [-h, h]; every other built-in kernel is the Gaussian.
COMPACT = ("epanechnikov", "triangular", "boxcar")


def window_radius(x_sorted: torch.Tensor, x_query: torch.Tensor, kernel: str, bandwidth: torch.Tensor):
    """Half-width of the run of sorted training points that carries each query's weight.

    ``x_sorted`` (n,) ascending, ``x_query`` (m,); returns the radius (m,), widened by a
    few rounding units so no point on the edge is lost to rounding in ``x -+ r``, and the
    distance to the nearest training point (m,).
    """
    n = x_sorted.shape[0]
    right = torch.searchsorted(x_sorted, x_query).clamp(max=n - 1)
    left = (right - 1).clamp(min=0)
    nearest = torch.minimum((x_query - x_sorted[left]).abs(), (x_sorted[right] - x_query).abs())
    if kernel in COMPACT:
        radius = torch.maximum(nearest, bandwidth.expand_as(nearest))
    else:
        log_ratio = math.log(n) + 16 * math.log(10)  # weights beyond r are < 1e-16 / n of the nearest
        radius = torch.sqrt(nearest * nearest + 2 * log_ratio * bandwidth * bandwidth)
    eps = torch.finfo(x_sorted.dtype).eps
    return radius * (1 + 8 * eps) + 8 * eps * x_query.abs(), nearest


def _gaussian_block(x_sorted, y_sorted, x_query, nearest, scale):
    """Gaussian N-W for a block of queries over one run: x (w,), y (w, q), queries (b,).

    The log-weights are shifted by the nearest point's, ``-(d**2 - d0**2) / (2 h**2)``,
    so the largest weight is exactly 1 (no overflow, no 0/0) and no row maximum is needed.
    The difference of squares is taken as ``(d - d0) (d + d0)``: far from the data both
    squares are large and their rounded difference would lose digits.
    With the shift fixed in advance, a long run is summed in pieces of about 64k pairs
    that stay in cache: the pieces' sums simply add.
    """
    columns = max(1, 2**16 // x_query.shape[0])
    numerator = denominator = 0
    for start in range(0, x_sorted.shape[0], columns):
        distance = (x_query[:, None] - x_sorted[None, start:start + columns]).abs()
        weights = torch.exp((nearest[:, None] - distance) * (nearest[:, None] + distance) * scale)
        numerator = numerator + weights @ y_sorted[start:start + columns]
        denominator = denominator + weights.sum(dim=1, keepdim=True)
    return numerator / denominator


def smooth_sorted_1d(x_train, y_train, x_query, kernel: str, bandwidth):
    """Nadaraya-Watson in 1-D by sorted windows: x (n, 1), y (n, q), queries (m, 1) -> (m, q).

    ``kernel`` is a built-in kernel's name; ``bandwidth`` a positive 0-d tensor. Equal
    to ``_smooth(x_train, y_train, x_query, ...)`` (compact kernels: exactly the same
    terms; Gaussian: up to ``2e-16 * max|y|`` plus rounding).
    """
    from .kernels import KERNELS

    order = torch.argsort(x_train[:, 0].detach())
    xs, ys = x_train[order, 0], y_train[order]
    query_order = torch.argsort(x_query[:, 0].detach())
    xq = x_query[query_order, 0]

    with torch.no_grad():
        radius, nearest = window_radius(xs.contiguous(), xq.contiguous(), kernel, bandwidth.detach())
        lo = torch.searchsorted(xs.contiguous(), xq - radius)  # first point >= x - r
        hi = torch.searchsorted(xs.contiguous(), xq + radius, right=True)  # one past the last <= x + r
    scale = 0.5 / (bandwidth * bandwidth)
    finite = bool(torch.isfinite(scale))  # 1 / h**2 overflows for a tiny h: then _smooth's care
    gaussian = finite and kernel not in COMPACT
    log_kernel_sq = KERNELS[kernel].log_of_squared
    # Blocks of neighbouring queries, sized so a block's pairwise entries (about 64k)
    # stay in cache when the runs are typical; _smooth splits larger ones itself.
    typical = max(1, int((hi - lo).float().median()))
    rows = max(1, min(256, 2**16 // typical))
    predictions = ys.new_zeros((xq.shape[0], ys.shape[1]))
    for start in range(0, xq.shape[0], rows):
        stop = min(start + rows, xq.shape[0])
        a, b = int(lo[start:stop].min()), int(hi[start:stop].max())
        if gaussian:
            predictions[start:stop] = _gaussian_block(xs[a:b], ys[a:b], xq[start:stop],
                                                      nearest[start:stop], scale)
            continue
        if finite:  # a compact kernel: the weights directly, unless a query's run holds none
            diff = xq[start:stop, None] - xs[None, a:b]
            weights = torch.exp(log_kernel_sq(diff * diff * (2 * scale)))
            totals = weights.sum(dim=1, keepdim=True)
            if bool((totals > 0).all()):
                predictions[start:stop] = (weights @ ys[a:b]) / totals
                continue
        # Empty neighbourhoods or a tiny bandwidth: the general blocks handle every case.
        predictions[start:stop], _ = _smooth(xs[a:b, None], ys[a:b], xq[start:stop, None], log_kernel_sq,
                                             bandwidth)
    # Undo the sort of the queries (index_copy keeps autograd).
    return predictions.new_zeros(predictions.shape).index_copy(0, query_order, predictions)
