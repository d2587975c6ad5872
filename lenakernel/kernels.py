"""Smoothing kernels: non-negative weight profiles that integrate to 1.

A kernel ``K(u)`` scores how similar two points are from their scaled distance
``u = |x - x_j| / h``; each kernel here is a normalised density on the real line.
With several input dimensions the same profile is applied to the Euclidean distance,
``u = ||x - x_j|| / h`` (a radial kernel).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch

from ._backend import as_real_tensor, as_tensors

__all__ = ["gaussian", "epanechnikov", "triangular", "boxcar", "get_kernel"]


def gaussian(u):
    """The Gaussian kernel, ``K(u) = exp(-u**2 / 2) / sqrt(2 pi)``.

    The standard normal density: positive everywhere, so every training point gets
    some weight however far away it is.

    Derived in chapter 1.

    Parameters
    ----------
    u : array_like or torch.Tensor
        Scaled distances (any shape).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``K(u)``, same shape and kind as ``u``.

    Examples
    --------
    >>> import numpy as np
    >>> print(np.round(gaussian(np.array([0.0, 1.0, 2.0])), 4))
    [0.3989 0.242  0.054 ]
    """
    tensors, restore = as_tensors(u=u)
    return restore(torch.exp(_log_gaussian(tensors["u"])))


def epanechnikov(u):
    """The Epanechnikov kernel, ``K(u) = 3/4 (1 - u**2)`` for ``|u| <= 1``, else 0.

    A parabola on ``[-1, 1]``: it gives no weight beyond one bandwidth, and it is the
    kernel that minimises the asymptotic mean integrated squared error of a density
    estimate.

    Derived in chapter 1.

    Parameters
    ----------
    u : array_like or torch.Tensor
        Scaled distances (any shape).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``K(u)``, same shape and kind as ``u``.

    Examples
    --------
    >>> import numpy as np
    >>> print(np.round(epanechnikov(np.array([0.0, 0.5, 1.0, 2.0])), 4))
    [0.75   0.5625 0.     0.    ]
    """
    tensors, restore = as_tensors(u=u)
    return restore(torch.exp(_log_epanechnikov(tensors["u"])))


def triangular(u):
    """The triangular kernel, ``K(u) = 1 - |u|`` for ``|u| <= 1``, else 0.

    A tent on ``[-1, 1]``. (This is the kernel that some texts mislabel
    "Epanechnikov".)

    Derived in chapter 1.

    Parameters
    ----------
    u : array_like or torch.Tensor
        Scaled distances (any shape).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``K(u)``, same shape and kind as ``u``.

    Examples
    --------
    >>> import numpy as np
    >>> print(np.round(triangular(np.array([0.0, -0.5, 1.0, 2.0])), 4))
    [1.  0.5 0.  0. ]
    """
    tensors, restore = as_tensors(u=u)
    return restore(torch.exp(_log_triangular(tensors["u"])))


def boxcar(u):
    """The boxcar (uniform) kernel, ``K(u) = 1/2`` for ``|u| <= 1``, else 0.

    Every training point within one bandwidth counts equally: Nadaraya-Watson with
    this kernel is a plain moving average.

    Derived in chapter 1.

    Parameters
    ----------
    u : array_like or torch.Tensor
        Scaled distances (any shape).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``K(u)``, same shape and kind as ``u``.

    Examples
    --------
    >>> import numpy as np
    >>> print(np.round(boxcar(np.array([0.0, 1.0, 1.5])), 4))
    [0.5 0.5 0. ]
    """
    tensors, restore = as_tensors(u=u)
    return restore(torch.exp(_log_boxcar(tensors["u"])))


# Log-densities, used by the smoother so that weights are computed in the log domain.
# They take and return torch tensors; outside a compact support the log is -inf.
# Inputs outside the support are replaced by 0 *before* the logarithm, so no NaN or
# infinite gradient ever appears, even in the branch that torch.where discards.

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_gaussian(u: torch.Tensor) -> torch.Tensor:
    return -0.5 * u * u - _LOG_SQRT_2PI


def _log_epanechnikov(u: torch.Tensor) -> torch.Tensor:
    inside = u.abs() < 1  # K(+-1) = 0, so the edge itself is outside in log terms
    safe = torch.where(inside, u, torch.zeros_like(u))
    log_k = math.log(0.75) + torch.log1p(-safe * safe)
    return torch.where(inside, log_k, torch.full_like(u, -math.inf))


def _log_triangular(u: torch.Tensor) -> torch.Tensor:
    inside = u.abs() < 1
    safe = torch.where(inside, u, torch.zeros_like(u))
    log_k = torch.log1p(-safe.abs())
    return torch.where(inside, log_k, torch.full_like(u, -math.inf))


def _log_boxcar(u: torch.Tensor) -> torch.Tensor:
    inside = u.abs() <= 1
    # 0 * u keeps the result attached to u's graph (with gradient 0), like the others.
    return torch.where(inside, math.log(0.5) + 0.0 * u, torch.full_like(u, -math.inf))


# The same log-densities as functions of s = u**2, up to an additive constant (which
# cancels in Nadaraya-Watson). The smoother works from squared distances, so the
# Gaussian and Epanechnikov kernels need no square root at all.

def _safe_sqrt(s: torch.Tensor) -> torch.Tensor:
    """sqrt(s) for s >= 0 whose gradient at s = 0 is 0 instead of infinite."""
    positive = s > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, s, torch.ones_like(s))), torch.zeros_like(s))


def _log_gaussian_sq(s: torch.Tensor) -> torch.Tensor:
    return -0.5 * s


def _log_epanechnikov_sq(s: torch.Tensor) -> torch.Tensor:
    inside = s < 1
    safe = torch.where(inside, s, torch.zeros_like(s))
    return torch.where(inside, torch.log1p(-safe), torch.full_like(s, -math.inf))


def _log_triangular_sq(s: torch.Tensor) -> torch.Tensor:
    return _log_triangular(_safe_sqrt(s))


def _log_boxcar_sq(s: torch.Tensor) -> torch.Tensor:
    return torch.where(s <= 1, 0.0 * s, torch.full_like(s, -math.inf))


class _Kernel(NamedTuple):
    """One kernel, three forms: ``K(u)``, ``log K(u)`` and ``log K(sqrt(s))`` up to a constant."""

    function: Callable
    log: Callable
    log_of_squared: Callable


# The registry: one record per kernel, beside the kernels it registers.
KERNELS = {
    "gaussian": _Kernel(gaussian, _log_gaussian, _log_gaussian_sq),
    "epanechnikov": _Kernel(epanechnikov, _log_epanechnikov, _log_epanechnikov_sq),
    "triangular": _Kernel(triangular, _log_triangular, _log_triangular_sq),
    "boxcar": _Kernel(boxcar, _log_boxcar, _log_boxcar_sq),
}


def _builtin(function) -> _Kernel | None:
    """The registry record of a built-in kernel function, or None for a user's callable."""
    return next((record for record in KERNELS.values() if record.function is function), None)


def get_kernel(kernel):
    """Return the kernel function for a name, or pass a callable through.

    Derived in chapter 1.

    Parameters
    ----------
    kernel : str or callable
        One of ``"gaussian"``, ``"epanechnikov"``, ``"triangular"``, ``"boxcar"``,
        or a function ``K(u)`` of the scaled distance that returns non-negative
        values of the same shape.

    Returns
    -------
    callable
        The kernel ``K(u)``.

    Raises
    ------
    ValueError
        If ``kernel`` is a string that names no built-in kernel.
    TypeError
        If ``kernel`` is neither a string nor callable.

    Examples
    --------
    >>> get_kernel("boxcar").__name__
    'boxcar'
    >>> get_kernel("epanechikov")
    Traceback (most recent call last):
    ...
    ValueError: `kernel` must be one of 'gaussian', 'epanechnikov', 'triangular', 'boxcar' or a callable K(u); got 'epanechikov'.
    """
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            listed = ", ".join(repr(name) for name in KERNELS)
            raise ValueError(f"`kernel` must be one of {listed} or a callable K(u); got {kernel!r}.")
        return KERNELS[kernel].function
    if callable(kernel):
        return kernel
    raise TypeError(
        f"`kernel` must be a kernel name (str) or a callable K(u); got {type(kernel).__name__}."
    )


def _log_kernel(kernel):
    """The log-density ``log K(u)`` for a kernel name or callable (torch in, torch out).

    Built-in kernels, given by name or as the function itself, use their exact
    log-density. A user's callable is evaluated and its logarithm taken (log 0 is -inf).
    """
    function = get_kernel(kernel)
    record = _builtin(function)
    if record is not None:
        return record.log

    def log_user_kernel(u: torch.Tensor) -> torch.Tensor:
        values = as_real_tensor(function(u), "kernel", "a function returning an array of numbers")
        values = values.to(dtype=u.dtype, device=u.device)
        if values.shape != u.shape:
            raise ValueError(
                f"`kernel` must return an array of the same shape as its input; "
                f"got shape {tuple(values.shape)} for input shape {tuple(u.shape)}."
            )
        detached = values.detach()
        if not bool((torch.isfinite(detached) & (detached >= 0)).all()):
            raise ValueError("`kernel` returned negative, NaN or infinite values; a kernel must be finite and >= 0.")
        return torch.log(values)

    return log_user_kernel


def _log_kernel_of_squared(kernel):
    """``s -> log K(sqrt(s))`` up to an additive constant, for a kernel name or callable.

    Used by the smoother, which computes squared distances: for the built-in kernels
    this avoids square roots; a user's callable gets ``u = sqrt(s)``.
    """
    function = get_kernel(kernel)
    record = _builtin(function)
    if record is not None:
        return record.log_of_squared
    log_k = _log_kernel(function)
    return lambda s: log_k(_safe_sqrt(s))
