"""Checkers for chapter 8's exercises: random feature maps written by hand."""

from __future__ import annotations

import numpy as np

import lenakernel as lk

from ._core import Case, Mistake, run_cases

__all__ = ["check_random_fourier_features", "check_hyperbolic_random_features"]

# The lenakernel functions each exercise may use; the exercise text says the same.
RANDOM_FOURIER_ALLOWED: tuple = ()
HYPERBOLIC_ALLOWED: tuple = ()

_SHAPES = [("5 points, 3 directions", (5, 2), 3), ("4 points, 8 directions", (4, 3), 8),
           ("a leading axis: x of shape (2, 3, 4)", (2, 3, 4), 6)]


def _fourier_cases():
    rng = np.random.default_rng(7)
    return [Case(f"{name}, bandwidth {h:g}", {"x": rng.standard_normal(shape),
                                              "projection": rng.standard_normal((s, shape[-1])), "bandwidth": h})
            for (name, shape, s), h in zip(_SHAPES, (1.0, 0.5, 2.0))]


def _hyperbolic_cases():
    rng = np.random.default_rng(70)
    return [Case(name, {"x": 0.5 * rng.standard_normal(shape), "projection": rng.standard_normal((s, shape[-1]))})
            for name, shape, s in _SHAPES]


def _fourier(x, projection, bandwidth, order="blocks", norm=None):
    """Random Fourier features in NumPy, with the slips of the mistakes as options."""
    angles = x @ projection.T / bandwidth
    cos, sin = np.cos(angles), np.sin(angles)
    parts = {"blocks": [cos, sin], "sines first": [sin, cos]}.get(order)
    both = np.concatenate(parts, -1) if parts else np.stack([cos, sin], -1).reshape(x.shape[:-1] + (-1,))
    return both / np.sqrt(norm or len(projection))


_FOURIER_MISTAKES = [
    Mistake("put all the cosines first, then all the sines",
            lambda x, projection, bandwidth: _fourier(x, projection, bandwidth, order="sines first")),
    Mistake("all the cosines first, then all the sines: not interleaved cos, sin, cos, sin",
            lambda x, projection, bandwidth: _fourier(x, projection, bandwidth, order="interleaved")),
    Mistake("divide the angles by the bandwidth, do not multiply",
            lambda x, projection, bandwidth: _fourier(x, projection, 1 / bandwidth)),
    Mistake("the factor is 1/sqrt(m), m the number of directions (rows of projection), not 1/sqrt(2m)",
            lambda x, projection, bandwidth: _fourier(x, projection, bandwidth, norm=2 * len(projection))),
]


def check_random_fourier_features(student) -> bool:
    """Check ``student(x, projection, bandwidth)`` against the package's random Fourier features.

    The function must return ``[cos(x Ωᵀ/h), sin(x Ωᵀ/h)] / √m`` (all cosines first,
    then all sines, along the last axis), the features of
    :func:`~lenakernel.feature_maps.random_fourier_features`, for points ``x`` of shape
    ``(..., d)`` and a projection ``Ω`` of shape ``(m, d)``. Cases: 5 points, 3 directions;
    4 points, 8 directions; a leading axis. Allowed from lenakernel: nothing (NumPy only).
    Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(x, projection, bandwidth)``.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way.

    Examples
    --------
    >>> def my_fourier_features(x, projection, bandwidth):
    ...     raise NotImplementedError
    >>> check_random_fourier_features(my_fourier_features)
    Random Fourier features. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    def reference(x, projection, bandwidth):
        return lk.random_fourier_features(x, projection, bandwidth=bandwidth)

    return run_cases(student, reference, _fourier_cases(), exercise="Random Fourier features",
                     allowed=RANDOM_FOURIER_ALLOWED, mistakes=_FOURIER_MISTAKES)


def _hyperbolic(x, projection, damp=0.5, swap=False, norm=None):
    z = x @ projection.T
    plus, minus = np.exp(z), np.exp(-z)
    both = np.concatenate([minus, plus] if swap else [plus, minus], -1)
    return np.exp(-damp * np.sum(x**2, -1, keepdims=True)) * both / np.sqrt(norm or 2 * len(projection))


_HYPERBOLIC_MISTAKES = [
    Mistake("multiply by exp(-||x||^2 / 2)", lambda x, projection: _hyperbolic(x, projection, damp=0.0)),
    Mistake("the factor is exp(-||x||^2 / 2), with the 1/2", lambda x, projection: _hyperbolic(x, projection, damp=1.0)),
    Mistake("put the exp(+x Ω^T) block first", lambda x, projection: _hyperbolic(x, projection, swap=True)),
    Mistake("divide by sqrt(2m): there are 2m features",
            lambda x, projection: _hyperbolic(x, projection, norm=len(projection))),
]


def check_hyperbolic_random_features(student) -> bool:
    """Check ``student(x, projection)`` against the package's hyperbolic random features.

    The function must return ``exp(−‖x‖²/2) [exp(x Ωᵀ), exp(−x Ωᵀ)] / √(2m)`` (the ``+``
    block first, then the ``−`` block, along the last axis), the features of
    :func:`~lenakernel.feature_maps.hyperbolic_random_features`, for points ``x`` of shape
    ``(..., d)`` and a projection ``Ω`` of shape ``(m, d)``. Cases as in
    :func:`check_random_fourier_features`. Allowed from lenakernel: nothing (NumPy only).
    Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(x, projection)``.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way.

    Examples
    --------
    >>> def my_hyperbolic_features(x, projection):
    ...     raise NotImplementedError
    >>> check_hyperbolic_random_features(my_hyperbolic_features)
    Hyperbolic random features. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    def reference(x, projection):
        return lk.hyperbolic_random_features(x, projection)

    return run_cases(student, reference, _hyperbolic_cases(), exercise="Hyperbolic random features",
                     allowed=HYPERBOLIC_ALLOWED, mistakes=_HYPERBOLIC_MISTAKES)
