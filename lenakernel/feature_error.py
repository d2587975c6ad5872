"""How wrong a random-feature estimate of a kernel is, in closed form.

With ``m`` independent Gaussian vectors, each random-feature estimator of
``exp(x·y)`` (or of the Gaussian kernel) is an average of ``m`` i.i.d. unbiased terms,
so its mean squared error is one term's variance over ``m``; Lemma 2 of the Performer
paper (Choromanski et al., 2021) computes those variances exactly.
"""

from __future__ import annotations

import torch

from . import _validation as V
from ._backend import as_tensors, positive_scalar_tensor

__all__ = [
    "positive_features_mse",
    "trigonometric_features_mse",
    "hyperbolic_features_mse",
    "fourier_features_mse",
]


def _pair(x, y, num_features):
    """Validate a pair of point arrays and the number of random vectors."""
    m = V.check_positive_int(num_features, "num_features")
    tensors, restore = as_tensors(x=x, y=y)
    x, y = tensors["x"], tensors["y"]
    V.check_min_ndim(x, "x", 1, "(..., d)")
    V.check_min_ndim(y, "y", 1, "(..., d)")
    V.check_same_size(x, "x", -1, y, "y", -1, "dimension d (last axis)")
    V.broadcast_leading(1, what="leading", x=x, y=y)
    V.check_finite(x, "x")
    V.check_finite(y, "y")
    return x, y, m, restore


def _sq_norm(v: torch.Tensor) -> torch.Tensor:
    return (v * v).sum(-1)


def positive_features_mse(x, y, num_features):
    r"""Mean squared error of the positive random-feature estimate of ``exp(x·y)``.

    The estimator averages ``exp(ωᵢ·x − ‖x‖²/2) · exp(ωᵢ·y − ‖y‖²/2)`` over
    ``m`` i.i.d. vectors ``ωᵢ ~ N(0, I)`` (what
    :func:`~lenakernel.feature_maps.positive_random_features` computes). Its MSE is
    (Choromanski et al., 2021, Lemma 2)

    .. math::

        \frac{1}{m}\, e^{\|x+y\|^2}\, \mathrm{SM}(x, y)^2\,
        \bigl(1 - e^{-\|x+y\|^2}\bigr), \qquad \mathrm{SM}(x, y) = e^{x\cdot y}.

    It vanishes as ``x + y → 0`` and grows like ``exp(2‖x+y‖²)`` otherwise.

    Derived in chapter 7.

    Parameters
    ----------
    x, y : array_like or torch.Tensor, shape (..., d)
        The two points; leading dimensions broadcast.
    num_features : int
        ``m``, the number of random vectors (rows of the projection).

    Returns
    -------
    mse : ndarray or torch.Tensor, shape (...)
        The same kind as the input.

    Raises
    ------
    ValueError
        If the last dimensions differ, the leading ones do not broadcast, an input
        holds NaN or infinity, or ``num_features < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.3, -0.2]); y = np.array([0.1, 0.4])
    >>> print(f"{positive_features_mse(x, y, 64):.4g}")
    0.00313
    >>> print(f"{positive_features_mse(x, -x, 64):.4g}")   # x + y = 0: exact
    0
    """
    x, y, m, restore = _pair(x, y, num_features)
    return restore(_positive_mse(x, y, m))


def _positive_mse(x, y, m):
    s2 = _sq_norm(x + y)
    # exp(|x+y|^2) SM^2 = exp(|x+y|^2 + 2 x.y); -expm1(-a) = 1 - exp(-a), accurate near 0.
    # One exponential of a sum of logs: a huge factor times an exact 0 is 0, not inf * 0.
    return torch.exp(s2 + 2 * (x * y).sum(-1) + torch.log(-torch.expm1(-s2))) / m


def trigonometric_features_mse(x, y, num_features):
    r"""Mean squared error of the trigonometric random-feature estimate of ``exp(x·y)``.

    The estimator is ``exp(‖x‖²/2 + ‖y‖²/2) · (1/m) Σᵢ cos(ωᵢ·(x − y))`` with ``m``
    i.i.d. vectors ``ωᵢ ~ N(0, I)``: the inner product of the ``2m`` features
    ``exp(‖x‖²/2) [cos(Ωx), sin(Ωx)] / √m`` of
    :func:`~lenakernel.feature_maps.trigonometric_random_features`. As in the Performer paper,
    ``m`` counts random *vectors*, not features. Its MSE is
    (Choromanski et al., 2021, Lemma 2)

    .. math::

        \frac{1}{2m}\, e^{\|x+y\|^2}\, \mathrm{SM}(x, y)^{-2}\,
        \bigl(1 - e^{-\|x-y\|^2}\bigr)^2
        = \frac{1}{2m}\, e^{\|x\|^2 + \|y\|^2} \bigl(1 - e^{-\|x-y\|^2}\bigr)^2 .

    It vanishes at ``x = y`` but does *not* shrink with the kernel value: where
    ``exp(x·y)`` is tiny, its relative error is huge.

    Derived in chapter 7.

    Parameters
    ----------
    x, y : array_like or torch.Tensor, shape (..., d)
        The two points; leading dimensions broadcast.
    num_features : int
        ``m``, the number of random vectors (the estimator uses ``2m`` features).

    Returns
    -------
    mse : ndarray or torch.Tensor, shape (...)

    Raises
    ------
    ValueError
        As :func:`positive_features_mse`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.3, -0.2]); y = np.array([0.1, 0.4])
    >>> print(f"{trigonometric_features_mse(x, y, 64):.4g}")
    0.001146
    >>> print(f"{trigonometric_features_mse(x, x, 64):.4g}")   # x = y: exact
    0
    """
    x, y, m, restore = _pair(x, y, num_features)
    d2 = _sq_norm(x - y)
    # As one exponential (see _positive_mse): at x = y the MSE is exactly 0 however large x.
    log_gap = torch.log(-torch.expm1(-d2))
    return restore(torch.exp(_sq_norm(x) + _sq_norm(y) + 2 * log_gap) / (2 * m))


def hyperbolic_features_mse(x, y, num_features):
    r"""Mean squared error of the hyperbolic random-feature estimate of ``exp(x·y)``.

    The estimator is ``exp(−‖x‖²/2 − ‖y‖²/2) · (1/m) Σᵢ cosh(ωᵢ·(x + y))`` with
    ``m`` i.i.d. vectors ``ωᵢ ~ N(0, I)``: the inner product of the ``2m`` positive
    features of :func:`~lenakernel.feature_maps.hyperbolic_random_features`. Pairing ``ω`` with
    ``−ω`` cancels the odd part of the positive estimator, so its MSE is a fraction
    of the positive one (derived like Lemma 2 of Choromanski et al., 2021):

    .. math::

        \tfrac12 \bigl(1 - e^{-\|x+y\|^2}\bigr)\,
        \mathrm{MSE}^{+}_m(x, y).

    Derived in chapter 7.

    Parameters
    ----------
    x, y : array_like or torch.Tensor, shape (..., d)
        The two points; leading dimensions broadcast.
    num_features : int
        ``m``, the number of random vectors (the estimator uses ``2m`` features).

    Returns
    -------
    mse : ndarray or torch.Tensor, shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.3, -0.2]); y = np.array([0.1, 0.4])
    >>> print(f"{hyperbolic_features_mse(x, y, 64):.4g}")
    0.0002837
    """
    x, y, m, restore = _pair(x, y, num_features)
    return restore(0.5 * (-torch.expm1(-_sq_norm(x + y))) * _positive_mse(x, y, m))


def fourier_features_mse(x, y, num_features, *, bandwidth=1.0):
    r"""Mean squared error of random Fourier features for the Gaussian kernel.

    With ``m`` i.i.d. vectors ``ωᵢ ~ N(0, I)``, the ``2m`` features
    ``[cos(Ωx/σ), sin(Ωx/σ)] / √m`` of :func:`~lenakernel.feature_maps.random_fourier_features`
    estimate ``exp(−‖x − y‖²/(2σ²))`` by ``(1/m) Σᵢ cos(ωᵢ·(x − y)/σ)``
    (Rahimi & Recht, 2007). Its MSE is

    .. math::

        \frac{1}{2m}\bigl(1 - e^{-\|x-y\|^2/\sigma^2}\bigr)^2 \le \frac{1}{2m}.

    Derived in chapter 7.

    Parameters
    ----------
    x, y : array_like or torch.Tensor, shape (..., d)
        The two points; leading dimensions broadcast.
    num_features : int
        ``m``, the number of random vectors (the estimator uses ``2m`` features).
    bandwidth : float or 0-d tensor, default 1.0
        ``σ > 0``, the kernel's length scale.

    Returns
    -------
    mse : ndarray or torch.Tensor, shape (...)

    Raises
    ------
    ValueError
        As :func:`positive_features_mse`, or if ``bandwidth <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> print(f"{fourier_features_mse(np.zeros(3), np.full(3, 10.0), 50):.4g}")   # far apart
    0.01
    """
    x, y, m, restore = _pair(x, y, num_features)
    sigma = positive_scalar_tensor(bandwidth, "bandwidth", x)
    d2 = _sq_norm(x - y) / sigma / sigma  # dividing twice: sigma**2 may underflow
    return restore(torch.expm1(-d2) ** 2 / (2 * m))
