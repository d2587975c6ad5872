"""Positional information is part of the kernel: a token is a pair (content, position).

Rotary embeddings rotate queries and keys by their positions, giving the log-kernel
``q^T R_{j-i} k / sqrt(d)``, a function of the offset only; ALiBi adds ``-slope |i - j|``
to the log-kernel, a distance kernel in position. Both log-kernels read a token's
position from its last column (:func:`with_positions`), so they plug into
:func:`lenakernel.kernel_smoother` as ``log_kernel=``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import _validation as _v
from ._backend import as_tensors
from .attention import exp_dot_log_kernel

__all__ = ["rotary_embedding", "with_positions", "rotary_log_kernel", "alibi_log_kernel", "alibi_slopes"]


def _check_base(base):
    _v.check_positive_scalar(base, "base")
    return float(base)


def _rotate(x, positions, base):
    # Coordinates (2k, 2k+1) turn by the angle position * base^(-2k/d). The angles are
    # computed in float64 (base^(-2k/d) overflows float16 already for base = 1e-8), then
    # the rotation runs in the compute dtype and comes back in x's dtype.
    d = x.shape[-1]
    exponents = torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d
    frequencies = torch.exp(-exponents * math.log(base))
    angles = positions.to(torch.float64)[..., None] * frequencies  # (..., n, d/2)
    if not bool(torch.isfinite(angles).all()):
        raise ValueError(f"`base` = {base!r} and `positions` give rotation angles beyond the float "
                         f"range (position * base^(-2k/d) overflows); use a larger `base`.")
    compute = _v.compute_dtype(x)
    cos, sin = torch.cos(angles).to(compute), torch.sin(angles).to(compute)
    even, odd = x[..., 0::2].to(compute), x[..., 1::2].to(compute)
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
    return rotated.flatten(-2).to(x.dtype)


def _check_rotary(x, positions, x_name, positions_name):
    _v.check_min_ndim(x, x_name, 2, "(..., n, d)")
    if x.shape[-1] % 2:
        raise ValueError(f"`{x_name}` must have an even feature size d (coordinates turn in pairs); "
                         f"got d = {x.shape[-1]} (shape {tuple(x.shape)}).")
    _v.check_min_ndim(positions, positions_name, 1, "(n,) or (..., n)")
    _v.check_same_size(positions, positions_name, -1, x, x_name, -2, "number of tokens n")


def rotary_embedding(x, positions, *, base=10000.0):
    """Rotate each pair of coordinates of ``x`` by an angle proportional to its position.

    Coordinates ``(2k, 2k + 1)`` of the token at position ``t`` turn by ``t * theta_k``
    with ``theta_k = base ** (-2k / d)``: the rotary position embedding of Su et al.
    Rotations are orthogonal and compose, ``R_s^T R_t = R_{t - s}``, so
    ``(R_s q) . (R_t k) = q^T R_{t - s} k`` depends on the positions only through the
    offset ``t - s``.

    Derived in chapter 6.

    Parameters
    ----------
    x : array of shape (..., n, d)
        Queries or keys; ``d`` must be even.
    positions : array of shape (n,) or (..., n)
        The position of each token (integers or reals).
    base : float, default 10000.0
        Sets the slowest frequency; must be > 0.

    Returns
    -------
    array of shape (..., n, d)
        The rotated vectors (same norms as ``x``).

    Raises
    ------
    ValueError
        If ``d`` is odd, ``positions`` does not have one entry per token, an input is not
        finite, ``base`` <= 0, or ``base`` is so small that an angle overflows.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [1.0, 0.0]])
    >>> print(np.round(rotary_embedding(x, np.array([0.0, np.pi / 2]), base=1.0), 4))
    [[1. 0.]
     [0. 1.]]
    """
    tensors, restore = as_tensors(x=x, positions=positions)
    x, positions = tensors["x"], tensors["positions"]
    _check_rotary(x, positions, "x", "positions")
    _v.check_all_finite(x=x, positions=positions)
    return restore(_rotate(x, positions, _check_base(base)))


def with_positions(x, positions=None):
    """Append each token's position as a last column: the token becomes (content, position).

    The positional log-kernels of this module read the position from that column, so
    a smoother that processes queries in blocks, or a causal one, always knows where
    each token sits.

    Derived in chapter 6.

    Parameters
    ----------
    x : array of shape (..., n, d)
        Token contents (queries or keys).
    positions : array of shape (n,) or (..., n), optional
        Positions; default ``0, 1, ..., n - 1``.

    Returns
    -------
    array of shape (..., n, d + 1)

    Raises
    ------
    ValueError
        If ``positions`` does not have one entry per token or an input is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> print(with_positions(np.ones((3, 1))))
    [[1. 0.]
     [1. 1.]
     [1. 2.]]
    """
    tensors, restore = as_tensors(x=x, positions=positions, optional=("positions",))
    x, positions = tensors["x"], tensors["positions"]
    _v.check_min_ndim(x, "x", 2, "(..., n, d)")
    n = x.shape[-2]
    if positions is None:
        positions = torch.arange(n, dtype=x.dtype, device=x.device)
    else:
        _v.check_min_ndim(positions, "positions", 1, "(n,) or (..., n)")
        _v.check_same_size(positions, "positions", -1, x, "x", -2, "number of tokens n")
    _v.check_all_finite(x=x, positions=positions)
    shape = torch.broadcast_shapes(x.shape[:-1], positions.shape)
    column = positions.expand(shape)[..., None]
    return restore(torch.cat([x.expand(*shape, x.shape[-1]), column], dim=-1))


def _split(t, name):
    if t.ndim < 2 or t.shape[-1] < 2:
        raise ValueError(f"`{name}` must have shape (..., tokens, d + 1): content in the first d >= 1 "
                         f"columns, position in the last (see with_positions); got shape {tuple(t.shape)}.")
    return t[..., :-1], t[..., -1]


def _split_pair(q, k):
    """Content and positions of queries and keys, checked here so errors name ``q`` and ``k``."""
    (q_content, q_positions), (k_content, k_positions) = _split(q, "q"), _split(k, "k")
    _v.check_same_size(q, "q", -1, k, "k", -1, "size d + 1 (content and position, last axis)")
    _v.check_all_finite(q=q, k=k)
    compute = _v.compute_dtype(q)
    return q_content.to(compute), q_positions.to(compute), k_content.to(compute), k_positions.to(compute)


def _below_overflow(log_kernel, dtype):
    """``log_kernel`` in ``dtype``, with values above its range set to its largest number.

    A huge ``scale`` (or float16) can push ``scale * q . k`` past the float range; +inf
    would make the softmax weights NaN, while the largest finite number gives the limit
    (all weight on the largest scores). -inf stays: it is a kernel value of 0.
    """
    return log_kernel.clamp(max=torch.finfo(dtype).max).to(dtype)


def rotary_log_kernel(q, k, *, scale=None, base=10000.0):
    """The rotary log-kernel ``scale * (R_{t_i} q_i) . (R_{t_j} k_j) = scale * q_i^T R_{t_j - t_i} k_j``.

    The exponential dot-product kernel of chapter 2 evaluated on rotated queries and
    keys (:func:`rotary_embedding` then :func:`lenakernel.exp_dot_log_kernel`). It
    depends on the positions only through the offset: a shift of every position leaves
    it unchanged. Pass it to :func:`lenakernel.kernel_smoother` as ``log_kernel=``.

    Derived in chapter 6.

    Parameters
    ----------
    q : array of shape (..., m, d + 1)
        Queries with their positions in the last column (:func:`with_positions`).
    k : array of shape (..., n, d + 1)
        Keys with their positions in the last column.
    scale : float, optional
        Default ``1 / sqrt(d)`` (d without the position column).
    base : float, default 10000.0
        As in :func:`rotary_embedding`.

    Returns
    -------
    array of shape (..., m, n)
        Values beyond the float range (a huge ``scale``) are set to the largest float.

    Raises
    ------
    ValueError
        If ``q``, ``k`` lack a content column, their content size is odd, or an input
        is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> q = with_positions(np.array([[1.0, 0.0]]), np.array([3.0]))
    >>> k = with_positions(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([3.0, 3.0 + np.pi]))
    >>> print(np.round(rotary_log_kernel(q, k, scale=1.0, base=1.0), 4))
    [[ 1. -1.]]
    """
    tensors, restore = as_tensors(q=q, k=k)
    q_content, q_positions, k_content, k_positions = _split_pair(tensors["q"], tensors["k"])
    _check_rotary(q_content, q_positions, "q", "q")
    base = _check_base(base)
    log_kernel = exp_dot_log_kernel(rotary_embedding(q_content, q_positions, base=base),
                                    rotary_embedding(k_content, k_positions, base=base), scale=scale)
    return restore(_below_overflow(log_kernel, tensors["q"].dtype))


def _check_slope(slope):
    try:
        value = float(slope)
    except (TypeError, ValueError):
        raise TypeError(f"`slope` must be a number >= 0; got {type(slope).__name__}.") from None
    if isinstance(slope, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"`slope` must be a finite number >= 0; got {slope!r}.")
    return value


def alibi_log_kernel(q, k, *, slope, scale=None):
    """The ALiBi log-kernel ``scale * q_i . k_j - slope * |t_i - t_j|``.

    Content kernel times a distance kernel in position, ``exp(-slope |t_i - t_j|)``
    (Press et al.): the product-kernel view of Tsai et al. Pass it to
    :func:`lenakernel.kernel_smoother` as ``log_kernel=`` (with ``causal=True`` for a
    language model).

    Derived in chapter 6.

    Parameters
    ----------
    q : array of shape (..., m, d + 1)
        Queries with their positions in the last column (:func:`with_positions`).
    k : array of shape (..., n, d + 1)
        Keys with their positions in the last column.
    slope : float
        The penalty per unit of distance, >= 0 (0 gives plain softmax attention).
    scale : float, optional
        Default ``1 / sqrt(d)`` (d without the position column).

    Returns
    -------
    array of shape (..., m, n)

    Raises
    ------
    ValueError
        If ``slope`` is negative or not finite, ``q``, ``k`` lack a content column, or
        an input is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> x = with_positions(np.zeros((3, 1)))
    >>> print(np.round(alibi_log_kernel(x[2:], x, slope=0.5), 4))
    [[-1.  -0.5  0. ]]
    """
    slope = _check_slope(slope)
    tensors, restore = as_tensors(q=q, k=k)
    q_content, q_positions, k_content, k_positions = _split_pair(tensors["q"], tensors["k"])
    dtype = tensors["q"].dtype
    content = _below_overflow(exp_dot_log_kernel(q_content, k_content, scale=scale), dtype).to(q_content.dtype)
    distance = (q_positions[..., :, None] - k_positions[..., None, :]).abs()
    return restore((content - slope * distance).to(dtype))


def alibi_slopes(num_heads):
    """The ALiBi slopes of Press et al.: ``2 ** (-8 h / H)`` for heads ``h = 1, ..., H``.

    A geometric sequence, so the heads' position kernels range from nearly flat
    (long memory) to sharply local.

    Derived in chapter 6.

    Parameters
    ----------
    num_heads : int
        The number of heads H >= 1.

    Returns
    -------
    numpy.ndarray of shape (H,)

    Examples
    --------
    >>> print(alibi_slopes(4))
    [0.25       0.0625     0.015625   0.00390625]
    """
    heads = _v.check_positive_int(num_heads, "num_heads")
    return 2.0 ** (-8.0 * np.arange(1, heads + 1) / heads)
