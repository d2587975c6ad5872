"""Exact 1-D Nadaraya-Watson from box moments: a query costs a few boxes, not a window of points.

Sort the training points once and cut the line into boxes a fraction of a bandwidth
wide, each with its own centre ``c``. With ``d = (x - c) / h`` and ``t_i = (x_i - c) / h``
the scaled distance is ``u_i = d - t_i``, so a kernel that is a polynomial or an
exponential of ``u`` turns a box's whole sum ``sum_i y_i K(u_i)`` into a few per-box
numbers (moments of ``t``) combined with powers of ``d``. A query then touches only the
boxes near it, a handful of numbers each, instead of every point in its window.

Derived in chapter 1.

- **Compact polynomial kernels** (Epanechnikov ``1 - u**2``, triangular ``1 - |u|``,
  boxcar ``1``). The run of sorted points with non-zero weight is found by binary search
  with the very test the all-pairs form applies (``log K(u**2) > -inf`` on the same
  rounded ``u**2``), so a point exactly one bandwidth away is in or out just as there.
  Boxes are ``h / 2`` wide, so the run's part in a box is a prefix or a suffix of the box
  (or all of it): ``K(+-(d - t)) = sum_k a_k(d) t**k`` needs, per piece, the sums of
  ``y_i t_i**k``, read off per-box running sums from the left and from the right. No
  running sum is ever differenced, so nothing cancels: each piece's rounding error is a
  few units of ``eps * sum |y_i|`` over its own points (|t| <= 1/4, |d| <= 5/4), the same
  order as the all-pairs form's own rounding of ``1 - u**2`` near the edge. Triangular
  splits the run at ``x`` (``|u|`` is ``d - t`` on the left, ``t - d`` on the right).
- **Gaussian.** ``exp(-(d - t)**2 / 2) = exp(-d**2 / 2) exp(-t**2 / 2) exp(d t)``, and
  ``exp(d t)`` is its Taylor series truncated after ``p`` terms (the fast Gauss
  transform of Greengard and Strain, 1991). Boxes are ``h / 4`` wide (``|t| <= 1/8``); a query sums the
  boxes that meet its cut-off window of :mod:`lenakernel.sorted_window` (every weight
  outside is below ``1e-16 / n`` of the nearest point's). Weights are taken relative to
  the nearest point's, ``exp((d0**2 - (d - t)**2) / 2)`` with ``d0`` its scaled distance,
  so the largest is 1. **Truncation bound**: the Taylor remainder of ``exp(z)`` after
  ``p`` terms is at most ``|z|**p / p! * exp(|z|)``; with ``|z| = |d t| <= rho`` and
  ``-d**2/2 - t**2/2 + |d t| = -(|d| - |t|)**2 / 2 <= 0``, each point's weight is off by
  at most ``exp(d0**2 / 2) rho**p / p!``. The path is taken for queries with
  ``d0 <= 1``, and ``p`` is the least order with ``exp(1/2) rho**p / p! <= 1e-16 / n``:
  all n points together move the (relative) sums by less than ``1e-16 * max|y|``,
  against a denominator of at least 1. (``rho`` is about 1.3, ``p`` about 25 for n = 1e6.)

Queries outside these assumptions (an empty compact window, a Gaussian query farther
than one bandwidth from every point, data so spread that boxes would not fit) go to
:func:`lenakernel.sorted_window.smooth_sorted_1d`, which visits their windows point by
point. The moments are computed in float64 whatever the input dtype. Nothing here is
differentiable: :func:`lenakernel.nadaraya_watson` uses it only when no gradient is
needed.

Examples
--------
>>> import torch
>>> from lenakernel.smoothing import _smooth
>>> from lenakernel.kernels import KERNELS
>>> g = torch.Generator().manual_seed(0)
>>> x = torch.rand(2000, 1, generator=g, dtype=torch.float64)
>>> y = torch.sin(6 * x)
>>> q = torch.linspace(-0.1, 1.1, 300, dtype=torch.float64)[:, None]
>>> h = torch.tensor(0.05, dtype=torch.float64)
>>> fast = smooth_moments_1d(x, y, q, "epanechnikov", h)
>>> slow = _smooth(x, y, q, KERNELS["epanechnikov"].log_of_squared, h)[0]
>>> bool((fast - slow).abs().max() < 1e-13)
True
"""

from __future__ import annotations

import math

import torch

__all__: list[str] = []

# A compact kernel's profile as a polynomial in |u| on [0, 1]: K = sum_j a_j |u|**j
# (up to the constant factor, which cancels in the ratio).
POLYNOMIALS = {"epanechnikov": (1.0, 0.0, -1.0), "triangular": (1.0, -1.0), "boxcar": (1.0,)}
COMPACT_BOX = 0.5  # box width / h for the compact kernels
GAUSSIAN_BOX = 0.25  # box width / h for the Gaussian
MAX_BOXES = 2.0**40  # (data range) / (box width) above this: boxes are not worth it
MAX_MOMENT_BYTES = 2**28  # the Gaussian's per-box moments stay below 256 MiB
COLUMN_BYTES = 2**26  # [y, 1] for all points, float64: output columns are taken in groups below this


# ----------------------------------------------------------------------------------
# Boxes and running sums within them
# ----------------------------------------------------------------------------------

def _boxes(xs: torch.Tensor, width: float):
    """Cut sorted points into boxes ``width`` wide: box index per point (0, 1, ... in order,
    empty boxes skipped), first index of each box plus ``n`` (B + 1,), and box centres (B,)."""
    raw = torch.floor((xs - xs[0]) / width)  # non-decreasing, since rounding is monotone
    new = torch.ones_like(xs, dtype=torch.bool)
    new[1:] = raw[1:] != raw[:-1]
    box = torch.cumsum(new, 0) - 1
    first = torch.nonzero(new).squeeze(1)
    starts = torch.cat([first, first.new_tensor([xs.shape[0]])])
    centres = xs[0] + (raw[first] + 0.5) * width
    return box, starts, centres


def _running_sums(values: torch.Tensor, box: torch.Tensor):
    """Inclusive running sums of ``values`` (n, c) that restart at every box, without differences.

    ``box`` (n,) is non-decreasing. The points are laid out in rows of ``L`` points, a box
    taking whole rows; each row is summed by ``cumsum`` and the totals of a box's earlier rows
    are added by a segmented doubling scan over the (few) rows. A sum of differences of
    large running totals would cancel; here every sum adds only the box's own points.
    Returns a function ``at(index)`` -> the running sums at those points, (len(index), c).
    """
    n, c = values.shape
    boxes = int(box[-1]) + 1
    counts = torch.bincount(box, minlength=boxes)
    starts = torch.cumsum(counts, 0) - counts
    row_len = 1 << max(0, min(8, (n // boxes).bit_length() - 1))  # padding <= boxes * L <= n
    rows_per_box = (counts + row_len - 1) // row_len
    row_offset = torch.cumsum(rows_per_box, 0) - rows_per_box
    position = torch.arange(n, device=values.device) - starts[box]
    row = row_offset[box] + torch.div(position, row_len, rounding_mode="floor")
    slot = row * row_len + position % row_len  # the point's place in the flattened rows
    grid = values.new_zeros((int(rows_per_box.sum()) * row_len, c)).index_copy_(0, slot, values)
    grid = grid.view(-1, row_len, c)
    grid.cumsum_(1)  # in place: the grid is the largest array here
    # Exclusive sums of each box's earlier rows: an inclusive segmented scan, shifted by one.
    row_box = torch.repeat_interleave(torch.arange(boxes, device=values.device), rows_per_box)
    totals = grid[:, -1]
    step = 1
    while step < int(rows_per_box.max()):
        same = (row_box[step:] == row_box[:-step])[:, None]
        shifted = torch.where(same, totals[:-step], torch.zeros_like(totals[:-step]))
        totals = torch.cat([totals[:step], totals[step:] + shifted])
        step *= 2
    earlier = torch.zeros_like(totals)
    follows = (row_box[1:] == row_box[:-1])[:, None]
    earlier[1:] = torch.where(follows, totals[:-1], torch.zeros_like(totals[:-1]))
    flat = grid.view(-1, c)
    return lambda index: flat[slot[index]] + earlier[row[index]]


# ----------------------------------------------------------------------------------
# Compact polynomial kernels
# ----------------------------------------------------------------------------------

def _scaled_sq(diff, bandwidth):
    """u**2 from x_query - x_train exactly as :func:`lenakernel.smoothing._smooth` rounds it."""
    bandwidth = bandwidth.clamp_min(torch.finfo(bandwidth.dtype).tiny)
    inverse_h2 = 1.0 / (bandwidth * bandwidth)
    sq = diff * diff
    return (sq / bandwidth) / bandwidth if not bool(torch.isfinite(inverse_h2)) else sq * inverse_h2


def exact_support(xs, xq, log_kernel_sq, bandwidth):
    """The run ``[lo, hi)`` of sorted points with non-zero weight, and ``mid``, the first point >= x.

    Binary search with the all-pairs form's own test on the same rounded ``u**2``: the test
    is monotone along the sorted points on each side of ``x`` (rounded differences,
    squares and products are monotone), so the points it keeps form one run.
    """
    n = xs.shape[0]
    mid = torch.searchsorted(xs, xq)

    def weighs(index):
        index = index.clamp(max=n - 1)
        return log_kernel_sq(_scaled_sq(xq - xs[index], bandwidth)) > -math.inf

    lo, stop = torch.zeros_like(mid), mid.clone()  # first weighing point in [0, mid), else mid
    while bool((lo < stop).any()):
        half = (lo + stop) // 2
        inside = weighs(half)
        active = lo < stop
        stop = torch.where(active & inside, half, stop)
        lo = torch.where(active & ~inside, half + 1, lo)
    start, hi = mid.clone(), torch.full_like(mid, n)  # first point in [mid, n) without weight
    while bool((start < hi).any()):
        half = (start + hi) // 2
        inside = weighs(half)
        active = start < hi
        start = torch.where(active & inside, half + 1, start)
        hi = torch.where(active & ~inside, half, hi)
    return lo, mid, hi


def _piece_coefficients(d, coefficients, sign):
    """Coefficients b_k(d) with sum_j a_j (sign (d - t))**j = sum_k b_k(d) t**k: (m, degree + 1)."""
    degree = len(coefficients) - 1
    out = d.new_zeros((d.shape[0], degree + 1))
    for j, a in enumerate(coefficients):
        if a == 0:
            continue
        for k in range(j + 1):
            out[:, k] += a * sign**j * math.comb(j, k) * (-1.0) ** k * d ** (j - k)
    return out


def _compact_sums(lo, hi, xq, h, box, starts, centres, prefix, suffix, coefficients, sign):
    """sum over the run [lo, hi) of [y, 1] K(sign (x - x_i) / h): (m, q + 1), and a mask of
    queries whose run lies inside one box but is neither its prefix nor its suffix."""
    m = xq.shape[0]
    totals = prefix(starts[1:] - 1)  # each box's whole sums
    out = xq.new_zeros((m, totals.shape[2]))
    some = lo < hi
    first_box = box[lo.clamp(max=box.shape[0] - 1)]
    last_box = box[(hi - 1).clamp(min=0)]
    single = some & (first_box == last_box)
    at_start = lo == starts[first_box]
    at_end = hi == starts[first_box + 1]
    odd = single & ~at_start & ~at_end

    def add(moments, which, valid):
        d = (xq - centres[which]) / h
        b = _piece_coefficients(d, coefficients, sign)
        out.add_(torch.where(valid[:, None], (b[:, :, None] * moments).sum(1), out.new_zeros(())))

    # The piece in the first box: all of the run if it is one box, else the suffix from lo.
    up_to_hi = prefix((hi - 1).clamp(min=0))
    first = torch.where((single & at_start & ~at_end)[:, None, None], up_to_hi,
                        suffix(lo.clamp(max=box.shape[0] - 1)))
    add(first, first_box, some & ~odd)
    several = some & (first_box < last_box)
    add(up_to_hi, last_box, several)  # the prefix up to hi - 1 in the last box
    between = int((last_box - first_box - 1).clamp(min=0).max()) if m else 0
    for j in range(1, between + 1):  # whole boxes in between (at most about 2 / COMPACT_BOX)
        which = (first_box + j).clamp(max=totals.shape[0] - 1)
        add(totals[which], which, several & (first_box + j < last_box))
    return out, odd


def _smooth_compact(xs, ys, xq, kernel, bandwidth, log_kernel_sq):
    """Compact kernel: predictions (m, q) in float64, and the queries left for the window path."""
    lo, mid, hi = exact_support(xs, xq, log_kernel_sq, bandwidth)
    x64, q64, h = xs.double(), xq.double(), float(bandwidth)
    box, starts, centres = _boxes(x64, COMPACT_BOX * h)
    coefficients = POLYNOMIALS[kernel]
    t = (x64 - centres[box]) / h
    weighted = torch.cat([ys.double(), torch.ones_like(t)[:, None]], dim=1)  # [y, 1]: numerator, denominator
    powers = torch.stack([t**k for k in range(len(coefficients))], dim=1)  # (n, degree + 1)
    n, terms, width = powers.shape[0], powers.shape[1], weighted.shape[1]
    values = (powers[:, :, None] * weighted[:, None, :]).reshape(n, terms * width)
    del powers, weighted, t
    from_left = _running_sums(values, box)
    from_right = _running_sums(values.flip(0), box[-1] - box.flip(0))  # the same, right to left
    del values

    def prefix(index):  # sums of [y, 1] t**k from the box's first point to index: (len, terms, width)
        return from_left(index).view(-1, terms, width)

    def suffix(index):  # sums from index to the box's last point
        return from_right(n - 1 - index).view(-1, terms, width)

    args = (q64, h, box, starts, centres, prefix, suffix, coefficients)
    if any(coefficients[j] for j in range(1, len(coefficients), 2)):  # odd powers of |u|: split at x
        left, odd_left = _compact_sums(lo, mid, *args, sign=1.0)
        right, odd_right = _compact_sums(mid, hi, *args, sign=-1.0)
        sums, odd = left + right, odd_left | odd_right
    else:
        sums, odd = _compact_sums(lo, hi, *args, sign=1.0)
    return sums[:, :-1] / sums[:, -1:], odd | (lo == hi)


# ----------------------------------------------------------------------------------
# The Gaussian
# ----------------------------------------------------------------------------------

def taylor_order(rho: float, n: int) -> int:
    """The least p with exp(1/2) rho**p / p! <= 1e-16 / n (see the module's truncation bound).

    >>> taylor_order(1.3, 10**6)
    25
    """
    target = math.log(1e-16 / n) - 0.5
    p = 1
    while p * math.log(rho) - math.lgamma(p + 1) > target:
        p += 1
    return p


def _cumulative_products(factors):
    """[1, f_1, f_1 f_2, ...] along the last dimension: (r, k) -> (r, k + 1)."""
    return torch.cat([torch.ones_like(factors[:, :1]), factors], dim=1).cumprod(1)


def _smooth_gaussian(xs, ys, xq, bandwidth):
    """Gaussian: predictions (m, q) in float64 and the queries left for the window path, or
    None when the boxes' moments would not fit in MAX_MOMENT_BYTES."""
    from .sorted_window import window_radius

    x64, q64, h = xs.double(), xq.double(), float(bandwidth)
    n = x64.shape[0]
    radius, nearest = window_radius(x64, q64, "gaussian", bandwidth.double())
    near = nearest / h  # d0, the nearest point's scaled distance
    use = near <= 1
    box, starts, centres = _boxes(x64, GAUSSIAN_BOX * h)
    t_all = (x64 - centres[box]) / h
    # |t| <= 1/8 but for rounding, and a box that meets a window [x - r, x + r] has its
    # centre within (r / h + max|t|) bandwidths of x: so |d t| <= rho.
    t_max = float(t_all.abs().max())
    reach = float((radius[use] / h).max()) if bool(use.any()) else 0.0
    rho = (reach + t_max) * t_max * (1 + 1e-12)
    order = taylor_order(max(rho, 1e-3), n)
    boxes, width = centres.shape[0], ys.shape[1] + 1
    if boxes * order * width * 8 > MAX_MOMENT_BYTES:
        return None
    weighted = torch.cat([ys.double(), torch.ones_like(x64)[:, None]], dim=1)
    divisors = torch.arange(1, order, dtype=torch.float64, device=x64.device)
    # M[b, k] = sum_{i in b} [y_i, 1] exp(-t_i**2 / 2) t_i**k / k!, in chunks of 2**16 points.
    moments = x64.new_zeros((boxes, order * width))
    for begin in range(0, n, 2**16):
        part = slice(begin, begin + 2**16)
        t = t_all[part]
        powers = _cumulative_products(t[:, None] / divisors)  # t**k / k!
        damped = weighted[part] * torch.exp(-0.5 * t * t)[:, None]
        moments.index_add_(0, box[part], (powers[:, :, None] * damped[:, None, :]).reshape(t.shape[0], -1))
    moments = moments.reshape(boxes, order, width)
    box_first, box_last = x64[starts[:-1]], x64[starts[1:] - 1]
    first = torch.searchsorted(box_last, q64 - radius)  # boxes that meet [x - r, x + r]
    stop = torch.searchsorted(box_first, q64 + radius, right=True)
    sums = q64.new_zeros((q64.shape[0], width))
    span = int((stop - first)[use].max()) if bool(use.any()) else 0
    for j in range(span):
        which = (first + j).clamp(max=boxes - 1)
        valid = use & (first + j < stop)
        d = torch.where(valid, (q64 - centres[which]) / h, q64.new_zeros(()))  # far queries: no overflow
        scale = torch.where(valid, torch.exp(0.5 * (near * near - d * d)), q64.new_zeros(()))
        powers = _cumulative_products(d[:, None].expand(-1, order - 1))  # d**k
        series = torch.bmm(powers[:, None, :], moments[which]).squeeze(1)
        sums.add_(scale[:, None] * series)
    return sums[:, :-1] / sums[:, -1:], ~use


# ----------------------------------------------------------------------------------
# The entry point
# ----------------------------------------------------------------------------------

def smooth_moments_1d(x_train, y_train, x_query, kernel: str, bandwidth):
    """Nadaraya-Watson in 1-D from box moments: x (n, 1), y (n, q), queries (m, 1) -> (m, q).

    ``kernel`` is a built-in kernel's name, ``bandwidth`` a positive 0-d tensor. Equal to
    the all-pairs form up to rounding (see the module's bounds); no autograd. The result
    has ``y_train``'s dtype.
    """
    from .kernels import KERNELS
    from .sorted_window import smooth_sorted_1d

    with torch.no_grad():
        order = torch.argsort(x_train[:, 0])
        xs, ys = x_train[order, 0].contiguous(), y_train[order]
        xq = x_query[:, 0].contiguous()
        h = float(bandwidth)
        spread = float(xs[-1] - xs[0])
        box = COMPACT_BOX if kernel in POLYNOMIALS else GAUSSIAN_BOX
        if not (math.isfinite(spread / (box * h)) and spread / (box * h) < MAX_BOXES and h > 0
                and ys.shape[1] > 0):
            return smooth_sorted_1d(x_train, y_train, x_query, kernel, bandwidth)
        # A few output columns at a time, so the per-point moments stay within COLUMN_BYTES.
        group = max(1, COLUMN_BYTES // (8 * xs.shape[0]) - 1)
        parts, rest = [], None
        for columns in torch.split(ys, group, dim=1):
            if kernel in POLYNOMIALS:
                result = _smooth_compact(xs, columns, xq, kernel, bandwidth, KERNELS[kernel].log_of_squared)
            else:
                result = _smooth_gaussian(xs, columns, xq, bandwidth)
            if result is None:
                return smooth_sorted_1d(x_train, y_train, x_query, kernel, bandwidth)
            parts.append(result[0])
            rest = result[1]
        predictions = torch.cat(parts, dim=1)
        predictions = predictions.to(y_train.dtype)
        if bool(rest.any()):  # the few queries outside the moments' assumptions: point by point
            predictions[rest] = smooth_sorted_1d(x_train, y_train, x_query[rest], kernel, bandwidth)
        return predictions
