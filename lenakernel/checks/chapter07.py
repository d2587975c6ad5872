"""Checkers for chapter 7's exercises: random feature maps written by hand."""

from __future__ import annotations

import numpy as np

from ..feature_maps import hyperbolic_random_features, random_fourier_features
from ._core import run_cases

__all__ = ["check_random_fourier_features", "check_hyperbolic_random_features"]


def _projection(rng, num_features, dim):
    return rng.standard_normal((num_features, dim))


def _fourier_cases():
    rng = np.random.default_rng(7)
    return [
        {"x": rng.standard_normal((5, 2)), "projection": _projection(rng, 3, 2), "bandwidth": 1.0},
        {"x": rng.standard_normal((4, 3)), "projection": _projection(rng, 8, 3), "bandwidth": 0.5},
        {"x": rng.standard_normal((2, 3, 4)), "projection": _projection(rng, 6, 4), "bandwidth": 2.0},
    ]


def _hyperbolic_cases():
    rng = np.random.default_rng(70)
    return [
        {"x": 0.5 * rng.standard_normal((5, 2)), "projection": _projection(rng, 3, 2)},
        {"x": 0.5 * rng.standard_normal((4, 3)), "projection": _projection(rng, 8, 3)},
        {"x": 0.5 * rng.standard_normal((2, 3, 4)), "projection": _projection(rng, 6, 4)},
    ]


def _fourier_reference(x, projection, bandwidth):
    return random_fourier_features(x, projection, bandwidth=bandwidth)


def _hyperbolic_reference(x, projection):
    return hyperbolic_random_features(x, projection)


def check_random_fourier_features(student) -> bool:
    """Check ``student(x, projection, bandwidth)`` against the package's random Fourier features.

    The student's function must return ``[cos(x Ωᵀ/σ), sin(x Ωᵀ/σ)] / √m`` (cosines
    first, then sines, along the last axis), the features of
    :func:`~lenakernel.feature_maps.random_fourier_features`, for points ``x`` of shape ``(..., d)``
    and a projection ``Ω`` of shape ``(m, d)``.

    Parameters
    ----------
    student : callable
        ``student(x, projection, bandwidth)`` returning an array of shape ``(..., 2m)``.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way.

    Examples
    --------
    >>> import numpy as np
    >>> def features(x, projection, bandwidth):
    ...     angles = x @ projection.T / bandwidth
    ...     m = projection.shape[0]
    ...     return np.concatenate([np.cos(angles), np.sin(angles)], axis=-1) / np.sqrt(m)
    >>> check_random_fourier_features(features)
    Correct: random Fourier features matches the package on all 3 test cases.
    True
    """
    return run_cases(student, _fourier_reference, _fourier_cases(), exercise="random Fourier features")


def check_hyperbolic_random_features(student) -> bool:
    """Check ``student(x, projection)`` against the package's hyperbolic random features.

    The student's function must return
    ``exp(−‖x‖²/2) [exp(x Ωᵀ), exp(−x Ωᵀ)] / √(2m)`` (the ``+`` block first, then the
    ``−`` block, along the last axis), the features of
    :func:`~lenakernel.feature_maps.hyperbolic_random_features`, for points ``x`` of shape ``(..., d)``
    and a projection ``Ω`` of shape ``(m, d)``.

    Parameters
    ----------
    student : callable
        ``student(x, projection)`` returning an array of shape ``(..., 2m)``.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way.

    Examples
    --------
    >>> import numpy as np
    >>> def features(x, projection):
    ...     half_norm = 0.5 * np.sum(x**2, axis=-1, keepdims=True)
    ...     z = x @ projection.T
    ...     both = np.concatenate([np.exp(z - half_norm), np.exp(-z - half_norm)], axis=-1)
    ...     return both / np.sqrt(2 * projection.shape[0])
    >>> check_hyperbolic_random_features(features)
    Correct: hyperbolic random features matches the package on all 3 test cases.
    True
    """
    return run_cases(student, _hyperbolic_reference, _hyperbolic_cases(),
                     exercise="hyperbolic random features")
