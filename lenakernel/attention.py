"""Softmax attention is Nadaraya-Watson kernel smoothing over the context.

For a query q, keys k_j and values v_j, ``out(q) = sum_j K(q, k_j) v_j / sum_l K(q, k_l)``.
Softmax attention is the kernel ``K(q, k) = exp(scale * q.k)``; Gaussian attention is
``K(q, k) = exp(-||q - k||^2 / (2 h^2))``. Kernels are handled as log-kernels, so the
normalisation is a max-subtracted softmax that never overflows.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import _validation as V
from ._backend import as_tensors, positive_scalar_tensor
from ._deprecation import renamed_argument

__all__ = [
    "exp_dot_log_kernel",
    "gaussian_log_kernel",
    "kernel_smoother",
    "softmax_attention",
    "gaussian_attention",
]

_KERNELS = ("exp_dot", "gaussian")


# --------------------------------------------------------------------------------------
# Kernels as (score, factor): log K(q, k) = factor * score(q, k). The smoother subtracts
# each row's largest admissible score *before* multiplying by the factor, so the nearest
# key always gets log-weight exactly 0: no width, however extreme, empties a row.
# --------------------------------------------------------------------------------------

def _dot_scores(q, k):
    # score = q . k, for every (query, key) pair at once; log K = scale * score.
    return q @ k.transpose(-1, -2)


def _gaussian_scores(q, k, h=None):
    # score = -||q - k||^2 / 2 (divided by h^2 when h is given), with the distance computed
    # from differences, never as ||q||^2 - 2 q.k + ||k||^2: that expansion (chapter 3's
    # identity) loses every digit to cancellation when the points sit far from the origin.
    # The width divides the distance, not the points, for the same reason.
    batch = _leading_shape(q, k)
    distance = torch.cdist(q.expand(*batch, *q.shape[-2:]), k.expand(*batch, *k.shape[-2:]),
                           compute_mode="donot_use_mm_for_euclid_dist")
    if h is not None:
        distance = distance / h
    return -0.5 * distance * distance


def _leading_shape(*tensors):
    """The broadcast shape of the tensors' leading dimensions (all but the last two).

    Inputs checked already; when the shapes agree (the common case) a tuple comparison.
    """
    leading = tensors[0].shape[:-2]
    if all(t.shape[:-2] == leading for t in tensors[1:]):
        return leading
    return torch.broadcast_shapes(*(t.shape[:-2] for t in tensors))


def _check_qk(q, k):
    V.check_min_ndim(q, "q", 2, "(..., m, d)")
    V.check_min_ndim(k, "k", 2, "(..., n, d)")
    V.check_same_size(q, "q", -1, k, "k", -1, "feature size d (last axis)")
    V.broadcast_leading(2, q=q, k=k)


def _default_scale(scale, q):
    """``1 / sqrt(d)`` unless given; a width of 0 features is refused by name."""
    if scale is None:
        if q.shape[-1] == 0:
            raise ValueError(f"`q` and `k` need at least one feature for the default scale 1/sqrt(d); "
                             f"got shape {tuple(q.shape)}.")
        scale = 1.0 / math.sqrt(q.shape[-1])
    return positive_scalar_tensor(scale, "scale", q)


def exp_dot_log_kernel(q, k, *, scale=None):
    """The log of the exponential dot-product kernel, ``scale * q . k``, for all pairs.

    Derived in chapter 2.

    Parameters
    ----------
    q : array of shape (..., m, d)
        Queries.
    k : array of shape (..., n, d)
        Keys.
    scale : float or 0-d tensor, optional
        The inverse temperature; default ``1 / sqrt(d)``. A tensor keeps its gradient.

    Returns
    -------
    array of shape (..., m, n)
        ``log K(q_i, k_j) = scale * q_i . k_j``.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[1.0, 0.0]]); k = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> print(np.round(exp_dot_log_kernel(q, k, scale=0.5), 4))
    [[0.5 0. ]]
    """
    tensors, restore = as_tensors(q=q, k=k)
    q, k = tensors["q"], tensors["k"]
    _check_qk(q, k)
    V.check_all_finite(q=q, k=k)
    # An extreme scale multiplies the dot products, not q: q * scale could overflow to
    # inf, and inf * 0 is NaN where the dot product is 0.
    scores, factor = _exp_dot(_default_scale(scale, q))
    log_kernel = scores(q, k) if factor is None else factor(scores(q, k))
    return restore(log_kernel)


def gaussian_log_kernel(q, k, *, bandwidth):
    """The log of the Gaussian kernel, ``-||q - k||^2 / (2 bandwidth^2)``, for all pairs.

    Derived in chapter 3.

    Parameters
    ----------
    q : array of shape (..., m, d)
        Queries (test points).
    k : array of shape (..., n, d)
        Keys (training inputs).
    bandwidth : float or 0-d tensor
        The bandwidth h > 0. A tensor keeps its gradient.

    Returns
    -------
    array of shape (..., m, n)
        ``log K(q_i, k_j) = -||q_i - k_j||^2 / (2 h^2)``.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[0.0, 0.0]]); k = np.array([[1.0, 0.0], [3.0, 4.0]])
    >>> print(np.round(gaussian_log_kernel(q, k, bandwidth=5.0), 4))
    [[-0.02 -0.5 ]]
    """
    tensors, restore = as_tensors(q=q, k=k)
    q, k = tensors["q"], tensors["k"]
    _check_qk(q, k)
    V.check_all_finite(q=q, k=k)
    dtype = q.dtype
    q, k = q.to(V.compute_dtype(q)), k.to(V.compute_dtype(q))
    scores, factor = _gaussian(positive_scalar_tensor(bandwidth, "bandwidth", q))
    log_kernel = scores(q, k) if factor is None else factor(scores(q, k))
    return restore(log_kernel.to(dtype))


# --------------------------------------------------------------------------------------
# The smoother
# --------------------------------------------------------------------------------------

def _as_bool_mask(mask, like):
    """Return ``mask`` as a boolean torch tensor on ``like``'s device (or None)."""
    if mask is None:
        return None
    if isinstance(mask, torch.Tensor):
        if mask.dtype != torch.bool:
            raise TypeError(f"`mask` must be boolean (True = may attend); got dtype {mask.dtype}.")
        return mask.to(like.device)
    array = np.asarray(mask)
    if array.dtype != np.bool_:
        raise TypeError(f"`mask` must be boolean (True = may attend); got dtype {array.dtype}.")
    return torch.from_numpy(np.ascontiguousarray(array)).to(like.device)


def _smooth(q, k, v, scores, factor, *, mask, causal, log_key_weights, return_weights):
    """The Nadaraya-Watson estimator over (query, key) pairs, validated inputs in torch.

    ``log K = factor(scores(q, k))`` (``factor`` None: the scores are log K). Rows are normalised in
    the log domain: the largest admissible score of each row is subtracted first.
    """
    m, n = q.shape[-2], k.shape[-2]
    batch_shape = _leading_shape(q, k, v)
    if mask is not None:
        mask = mask.expand(*mask.shape[:-2], m, n)  # a view: lets us slice query rows
    block = max(1, m) if return_weights else V.rows_per_block(n * math.prod(batch_shape) * q.element_size(), m)

    # Write each block into one output allocated once (slice assignment keeps autograd):
    # a list of per-block results kept between large temporaries fragments the heap.
    out = q.new_zeros(*batch_shape, m, v.shape[-1])
    weights = q.new_zeros(*batch_shape, m, n) if return_weights else None
    for start in range(0, m, block):
        stop = min(m, start + block)
        # Causal, aligned at the bottom right: query i sees keys j <= i + (n - m), so the
        # last query sees every key (with m == n: j <= i). Keys past the block's last
        # visible one are never read, which also halves the work.
        keys = max(0, min(n, stop + n - m)) if causal else n
        if keys == 0:  # no query in this block may attend anything: output 0
            continue
        logits = scores(q[..., start:stop, :], k[..., :keys, :])
        blocked = None if mask is None else ~mask[..., start:stop, :keys]
        if causal:
            query_index = torch.arange(start, stop, device=q.device)[:, None] + (n - m)
            future = torch.arange(keys, device=q.device)[None, :] > query_index
            blocked = future if blocked is None else blocked | future
        unnormalised, total = _unnormalised_weights(logits, blocked, factor, log_key_weights, keys)
        # Dividing the (block, d_v) output is cheaper than dividing the (block, n) weights.
        out[..., start:stop, :] = (unnormalised @ v[..., :keys, :]) / total
        if return_weights:
            weights[..., start:stop, :keys] = unnormalised / total
    return (out, weights) if return_weights else out


def _unnormalised_weights(scores, blocked, factor, log_key_weights, keys):
    """Max-subtracted kernel values of each row and their row sums.

    Subtracting the row's largest admissible log-kernel makes its term exp(0) = 1, so
    nothing overflows and every row with an admissible key has a sum >= 1. A row with no
    admissible key (everything masked) has all values 0 and its sum set to 1: weights 0
    and output 0, the honest answer for an empty training set.

    With a ``factor`` (an extreme width), the largest *score* is subtracted before the
    factor is applied, so the nearest key keeps log-weight 0 however large the factor;
    blocked entries are set to -inf only after it, so no gradient flows through them.
    """
    if factor is None:
        logits = scores if blocked is None else scores.masked_fill(blocked, -math.inf)
    else:
        admissible = scores.detach() if blocked is None else scores.detach().masked_fill(blocked, -math.inf)
        top = admissible.amax(-1, keepdim=True)
        logits = factor(scores - top.masked_fill(top == -math.inf, 0.0))
        if blocked is not None:
            logits = logits.masked_fill(blocked, -math.inf)
    if log_key_weights is not None:
        logits = logits + log_key_weights[..., None, :keys]
    row_max = logits.detach().amax(-1, keepdim=True)  # shift-invariant: no gradient needed
    empty = row_max == -math.inf
    unnormalised = (logits - row_max.masked_fill(empty, 0.0)).exp_()  # in place: a fresh tensor
    total = unnormalised.sum(-1, keepdim=True).masked_fill(empty, 1.0)
    return unnormalised, total


def _prepare(q, k, v, mask, key_weights):
    """Convert and validate the common arguments; return tensors, restore, input dtype."""
    tensors, restore = as_tensors(q=q, k=k, v=v, key_weights=key_weights, optional=("key_weights",))
    q, k, v, key_weights = (tensors[name] for name in ("q", "k", "v", "key_weights"))
    _check_qk(q, k)
    V.check_min_ndim(v, "v", 2, "(..., n, d_v)")
    V.check_same_size(k, "k", -2, v, "v", -2, "number of keys n (second-to-last axis)")
    V.check_all_finite(q=q, k=k, v=v, key_weights=key_weights)
    m, n = q.shape[-2], k.shape[-2]
    batch = V.broadcast_leading(2, q=q, k=k, v=v)

    mask = _as_bool_mask(mask, q)
    if mask is not None and mask.shape != (*batch, m, n):
        try:
            ok = mask.ndim >= 2 and torch.broadcast_shapes(mask.shape, (*batch, m, n)) == (*batch, m, n)
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"`mask` must have shape (..., m, n) = (..., {m}, {n}) broadcastable to "
                f"{(*batch, m, n)}; got shape {tuple(mask.shape)}."
            )

    if key_weights is not None:
        try:
            ok = key_weights.ndim >= 1 and torch.broadcast_shapes(key_weights.shape, (*batch, n)) == (*batch, n)
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"`key_weights` must have shape (..., n) with n = {n} keys, broadcastable to "
                f"{(*batch, n)}; got shape {tuple(key_weights.shape)}."
            )
        if bool((key_weights.detach() < 0).any()):
            raise ValueError("`key_weights` must be finite and >= 0 (a weight of 0 removes a key).")

    dtype = q.dtype
    compute = V.compute_dtype(q)
    if compute != dtype:
        q, k, v = q.to(compute), k.to(compute), v.to(compute)
    log_key_weights = None if key_weights is None else torch.log(key_weights.to(compute))
    return q, k, v, mask, log_key_weights, restore, dtype


def _finish(result, dtype, restore):
    if isinstance(result, tuple):
        return restore(tuple(r if r.dtype == dtype else r.to(dtype) for r in result))
    return restore(result if result.dtype == dtype else result.to(dtype))


def kernel_smoother(q, k, v, *, kernel=None, log_kernel=None, mask=None, causal=False, key_weights=None,
                    return_weights=False, **kernel_params):
    """Nadaraya-Watson smoothing of values over keys, for every query, with any kernel.

    ``out_i = sum_j w_j K(q_i, k_j) v_j / sum_l w_l K(q_i, k_l)``, where the sums run over
    the keys the query may attend to and ``w_j`` are optional per-key weights (all 1 by
    default). Queries are test points, keys are training inputs, values are training
    outputs.

    Derived in chapter 2.

    Parameters
    ----------
    q : array of shape (..., m, d)
        Queries (test points).
    k : array of shape (..., n, d)
        Keys (training inputs).
    v : array of shape (..., n, d_v)
        Values (training outputs). Leading batch/head dimensions of q, k, v broadcast.
    kernel : {"exp_dot", "gaussian"}
        ``"exp_dot"``: ``K = exp(scale * q.k)`` (parameter ``scale``, default
        ``1/sqrt(d)``), which makes this softmax attention. ``"gaussian"``:
        ``K = exp(-||q - k||^2 / (2 bandwidth^2))`` (parameter ``bandwidth``, required).
        (A callable here is the deprecated spelling of ``log_kernel``.)
    log_kernel : callable, optional
        Instead of ``kernel``: ``log_kernel(q, k, **kernel_params)`` takes torch tensors
        and returns the LOG-kernel matrix ``log K(q, k)`` of shape (..., m, n) (-inf
        where the kernel is 0). Working with logarithms lets the normaliser subtract
        each row's maximum, so kernels whose values over- or underflow (exp(1e4),
        exp(-1e4)) still give exact weights.
    mask : boolean array of shape (..., m, n), optional
        True where query i may attend key j (broadcast over leading dimensions).
        Masking a key removes it from that query's training set.
    causal : bool, default False
        If True, query i attends only keys ``j <= i + (n - m)`` (aligned at the bottom
        right, so the last query sees all keys; with m == n this is ``j <= i``).
    key_weights : array of shape (..., n), optional
        Non-negative per-key weights ``w_j`` multiplying the kernel (a weight of 0 removes
        the key). Chapter 3 uses them to write softmax attention as a Gaussian smoother.
    return_weights : bool, default False
        Also return the (..., m, n) matrix of normalised weights. Without it, queries are
        processed in blocks so that the full matrix is never held in memory.
    **kernel_params
        The named kernel's parameter (``scale`` or ``bandwidth``) or the callable's
        keyword arguments.

    Returns
    -------
    out : array of shape (..., m, d_v)
        The weighted averages of the values. A query with no admissible key (its row
        fully masked) gets 0: an empty training set gives no evidence.
    weights : array of shape (..., m, n)
        Only if ``return_weights``. Rows sum to 1, except fully masked rows, which are 0.

    Raises
    ------
    ValueError
        If shapes disagree, ``mask`` has the wrong shape, a parameter is <= 0, or the
        kernel name is unknown.
    TypeError
        If ``mask`` is not boolean or a kernel parameter is missing or unexpected.

    Examples
    --------
    >>> import numpy as np
    >>> k = np.array([[0.0], [1.0], [2.0]]); v = np.array([[0.0], [1.0], [4.0]])
    >>> out, w = kernel_smoother(np.array([[1.0]]), k, v, kernel="gaussian",
    ...                          bandwidth=1.0, return_weights=True)
    >>> print(np.round(w, 4), np.round(out, 4))
    [[0.2741 0.4519 0.2741]] [[1.5481]]
    """
    causal = V.check_flag(causal, "causal")
    return_weights = V.check_flag(return_weights, "return_weights")
    if callable(kernel) and log_kernel is None:
        renamed_argument("kernel_smoother", "kernel", "log_kernel")
        kernel, log_kernel = None, kernel
    if (kernel is None) == (log_kernel is None):
        raise TypeError("give `kernel` (a name: 'exp_dot' or 'gaussian') or `log_kernel` (a function "
                        f"(q, k) -> log K), exactly one; got kernel={kernel!r}, log_kernel={log_kernel!r}.")
    q, k, v, mask, log_key_weights, restore, dtype = _prepare(q, k, v, mask, key_weights)
    scores, factor = _resolve_kernel(kernel if log_kernel is None else log_kernel, kernel_params, q)
    result = _smooth(q, k, v, scores, factor, mask=mask, causal=causal,
                     log_key_weights=log_key_weights, return_weights=return_weights)
    return _finish(result, dtype, restore)


def _resolve_kernel(kernel, kernel_params, q):
    """Turn ``kernel`` and its parameters into ``(scores, factor)``, log K = factor(scores)."""
    if callable(kernel):
        def log_kernel(q_block, k):
            values = kernel(q_block, k, **kernel_params)
            expected = (q_block.shape[-2], k.shape[-2])
            if not isinstance(values, torch.Tensor) or tuple(values.shape[-2:]) != expected:
                got = tuple(values.shape) if hasattr(values, "shape") else type(values).__name__
                raise ValueError(
                    f"`log_kernel` must return the log-kernel matrix as a torch tensor of shape "
                    f"(..., m, n) = (..., {expected[0]}, {expected[1]}); got {got}."
                )
            if bool(torch.isnan(values.detach()).any() | (values.detach() == math.inf).any()):
                raise ValueError("`log_kernel` returned NaN or +inf in its log-kernel matrix "
                                 "(-inf, a zero kernel value, is allowed).")
            return values
        return log_kernel, None

    if not isinstance(kernel, str):
        raise TypeError(f"`kernel` must be one of {_KERNELS}; got {type(kernel).__name__}.")
    V.check_choice(kernel, "kernel", _KERNELS)
    name = "scale" if kernel == "exp_dot" else "bandwidth"
    unexpected = set(kernel_params) - {name}
    if unexpected:
        raise TypeError(f"kernel {kernel!r} takes only `{name}`; got unexpected {sorted(unexpected)}.")
    if kernel == "exp_dot":
        return _exp_dot(_default_scale(kernel_params.get("scale"), q))
    if "bandwidth" not in kernel_params:
        raise TypeError("kernel 'gaussian' needs `bandwidth` (the kernel width h > 0).")
    return _gaussian(positive_scalar_tensor(kernel_params["bandwidth"], "bandwidth", q))


# Widths beyond these could overflow a log-kernel computed directly (scale * q.k, or
# ||q - k||^2 / h^2) and empty a row; such widths go through (score, factor) instead.
_MODERATE_SCALE = 1e6


def _exp_dot(scale):
    """``(scores, factor)`` for ``K = exp(scale q.k)``: scale folded into q unless extreme."""
    if float(scale.detach()) <= _MODERATE_SCALE:
        return (lambda q, k: _dot_scores(q * scale, k)), None
    return _dot_scores, (lambda logits: logits * scale)


def _gaussian(h):
    """``(scores, factor)`` for ``K = exp(-||q - k||^2 / (2 h^2))``: 1/h applied to distances unless extreme."""
    if float(h.detach()) >= 1 / _MODERATE_SCALE:
        return (lambda q, k: _gaussian_scores(q, k, h)), None
    # Divide by h twice: 1 / h**2 may overflow where score / h / h is still exact.
    return _gaussian_scores, (lambda logits: logits / h / h)


def softmax_attention(q, k, v, *, scale=None, mask=None, causal=False, return_weights=False):
    """Scaled dot-product (softmax) attention: N-W smoothing with ``K = exp(scale q.k)``.

    ``out_i = sum_j softmax_j(scale * q_i . k_j) v_j``. This is exactly
    :func:`kernel_smoother` with ``kernel="exp_dot"``. When the weights are not asked
    for, non-causal float32/float64 inputs go through PyTorch's fused
    ``scaled_dot_product_attention`` (same numbers to rounding, tested; never holds the
    m x n matrix); everything else goes through the smoother itself.

    Derived in chapter 2.

    Parameters
    ----------
    q : array of shape (..., m, d)
        Queries.
    k : array of shape (..., n, d)
        Keys.
    v : array of shape (..., n, d_v)
        Values. Leading batch/head dimensions broadcast.
    scale : float or 0-d tensor, optional
        Inverse temperature; default ``1 / sqrt(d)``. A tensor keeps its gradient.
    mask : boolean array of shape (..., m, n), optional
        True where query i may attend key j.
    causal : bool, default False
        Query i attends keys ``j <= i + (n - m)``: with m == n the usual ``j <= i``; with
        m != n aligned at the bottom right (the last query sees every key). PyTorch's
        ``scaled_dot_product_attention(is_causal=True)`` aligns at the top left instead;
        the two agree when m == n.
    return_weights : bool, default False
        Also return the (..., m, n) attention weights. Without it, queries are processed
        in blocks and the full matrix is never held.

    Returns
    -------
    out : array of shape (..., m, d_v)
        A query whose row is fully masked gets 0 (and weights 0), never NaN.
    weights : array of shape (..., m, n)
        Only if ``return_weights``.

    Notes
    -----
    Float16 and bfloat16 inputs are computed in float32 and returned in their own dtype.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[1.0, 0.0]])
    >>> k = np.array([[1.0, 0.0], [0.0, 1.0]]); v = np.array([[10.0], [20.0]])
    >>> out, w = softmax_attention(q, k, v, scale=1.0, return_weights=True)
    >>> print(np.round(w, 4), np.round(out, 4))
    [[0.7311 0.2689]] [[12.6894]]
    """
    if _plain_sdpa_call(q, k, v, scale, mask, causal, return_weights):
        # Valid as they are (checked above, finiteness included): torch's fused kernel directly.
        if scale is None:
            scale = 1.0 / math.sqrt(q.shape[-1])
        if q.dtype == torch.float32:  # the scale the general path uses: rounded to float32
            scale = float(np.float32(scale))
        if q.ndim == 4:
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=scale)
        # The fused kernel wants (batch, heads, length, dim): fold the leading dims into one.
        *lead, m, d = q.shape
        n, d_v = v.shape[-2], v.shape[-1]
        out = torch.nn.functional.scaled_dot_product_attention(
            q.reshape(1, -1, m, d), k.reshape(1, -1, n, d), v.reshape(1, -1, n, d_v), scale=scale)
        return out.view(*lead, m, d_v)
    if V.check_flag(return_weights, "return_weights"):
        return kernel_smoother(q, k, v, kernel="exp_dot", scale=scale, mask=mask, causal=causal,
                               return_weights=True)
    causal = V.check_flag(causal, "causal")
    q, k, v, mask, _, restore, dtype = _prepare(q, k, v, mask, None)
    return _finish(_softmax_attention(q, k, v, _default_scale(scale, q), mask=mask, causal=causal), dtype, restore)


def _plain_sdpa_call(q, k, v, scale, mask, causal, return_weights) -> bool:
    """Whether a call is valid as it is and goes straight to torch's fused kernel.

    True only for what the general path would check, accept and send to
    :func:`_fused_softmax_attention` unchanged: float32/float64 torch tensors of one dtype
    and equal leading dimensions, no empty axis, finite entries (one fused test),
    no mask, not causal, no weights, and the default scale or a plain float in (0, 1e3].
    Attribute reads and one reduction per tensor; anything else takes the general path,
    which names what is wrong.
    """
    if not (type(q) is torch.Tensor and type(k) is torch.Tensor and type(v) is torch.Tensor
            and mask is None and causal is False and return_weights is False
            and (scale is None or (type(scale) is float and 0.0 < scale <= 1e3))
            and q.dtype in (torch.float32, torch.float64) and k.dtype == q.dtype and v.dtype == q.dtype):
        return False
    q_shape, k_shape, v_shape = q.shape, k.shape, v.shape
    return (len(q_shape) >= 2 and q_shape[:-2] == k_shape[:-2] == v_shape[:-2]
            and q_shape[-1] == k_shape[-1] and k_shape[-2] == v_shape[-2]
            and q.numel() > 0 and k.numel() > 0 and v.numel() > 0
            and V.all_finite_fast(q, k, v))


def _softmax_attention(q, k, v, scale, *, mask=None, causal=False, return_weights=False):
    """:func:`softmax_attention` on checked tensors (no validation), for the package's own reuse."""
    if not return_weights and _fused_kernel_applies(q, k, v, mask, causal, scale):
        return _fused_softmax_attention(q, k, v, mask, float(scale))
    return _smooth(q, k, v, *_exp_dot(scale), mask=mask, causal=causal, log_key_weights=None,
                   return_weights=return_weights)


def _fused_kernel_applies(q, k, v, mask, causal, scale):
    """Whether torch's fused attention computes exactly what the smoother above would.

    It does for float32/float64 without a gradient through ``scale``, with no empty axis
    and a moderate ``scale`` (an extreme one could overflow inside the fused kernel), and
    without ``causal``: the blocked smoother never reads a future key at all, so an earlier
    output is bit-for-bit independent of later tokens, which the fused kernel does not
    promise.
    """
    return (q.dtype in (torch.float32, torch.float64) and not scale.requires_grad and not causal
            and q.numel() > 0 and k.numel() > 0 and v.numel() > 0 and float(scale) <= 1e3)


def _fused_softmax_attention(q, k, v, mask, scale):
    """Softmax attention through ``torch.nn.functional.scaled_dot_product_attention``.

    The same smoother, computed by a fused kernel that streams over keys (never holding
    the m x n matrix) -- as fast as PyTorch's own. Rows with no admissible key are set to
    0, our documented answer for an empty training set.
    """
    batch = _leading_shape(q, k, v)
    # The fused kernels want (batch, heads, length, dim): fold every leading dim into one.
    q4, k4, v4 = (t.expand(*batch, *t.shape[-2:]).reshape(1, -1, *t.shape[-2:]) for t in (q, k, v))
    mask4 = mask  # a (m, n) mask broadcasts as it is
    if mask is not None and mask.ndim > 2:
        mask4 = mask.expand(*batch, q.shape[-2], k.shape[-2]).reshape(1, -1, q.shape[-2], k.shape[-2])
    out = torch.nn.functional.scaled_dot_product_attention(q4, k4, v4, attn_mask=mask4, scale=scale)
    out = out.reshape(*batch, q.shape[-2], v.shape[-1])
    if mask is not None:
        empty = ~mask.any(dim=-1, keepdim=True)
        out = out.masked_fill(empty, 0.0)
    return out


def gaussian_attention(q, k, v, *, bandwidth, mask=None, causal=False, return_weights=False):
    """Attention with the Gaussian kernel: ``K = exp(-||q - k||^2 / (2 bandwidth^2))``.

    The Nadaraya-Watson estimator of chapter 1 with queries as test points, keys as
    training inputs and values as training outputs. With unit-norm queries and keys it
    equals :func:`softmax_attention` with ``scale = 1 / bandwidth**2``.

    Distances are computed from differences, not as ``||q||^2 - 2 q.k + ||k||^2`` (the
    expansion chapter 3 uses to relate the two kernels), which cancels catastrophically
    for points far from the origin; and each row's nearest key is subtracted before
    dividing by ``h**2``, so a tiny bandwidth gives the nearest key's value (the limit
    ``h -> 0``), never 0 or NaN.

    Derived in chapter 3.

    Parameters
    ----------
    q : array of shape (..., m, d)
        Queries.
    k : array of shape (..., n, d)
        Keys.
    v : array of shape (..., n, d_v)
        Values.
    bandwidth : float or 0-d tensor
        The bandwidth h > 0. A tensor keeps its gradient.
    mask : boolean array of shape (..., m, n), optional
        True where query i may attend key j.
    causal : bool, default False
        As in :func:`softmax_attention`.
    return_weights : bool, default False
        Also return the (..., m, n) weights.

    Returns
    -------
    out : array of shape (..., m, d_v)
    weights : array of shape (..., m, n)
        Only if ``return_weights``.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[0.0]]); k = np.array([[-1.0], [0.0], [3.0]])
    >>> v = np.array([[1.0], [2.0], [3.0]])
    >>> print(np.round(gaussian_attention(q, k, v, bandwidth=1.0), 4))
    [[1.6319]]
    """
    return kernel_smoother(q, k, v, kernel="gaussian", bandwidth=bandwidth, mask=mask,
                           causal=causal, return_weights=return_weights)
