"""Checkers for chapter 6's exercises: linear attention and the exact Taylor feature map."""

from __future__ import annotations

import numpy as np

from ..linear_attention import linear_attention
from ._core import _as_numpy, run_cases

__all__ = ["check_linear_attention", "check_taylor_features"]


def _attention_cases():
    rng = np.random.default_rng(6)
    shapes = [(4, 6, 3, 2), (1, 5, 4, 3), (3, 1, 2, 1), (50, 200, 8, 4)]
    cases = [{"q": rng.standard_normal((m, d)), "k": rng.standard_normal((n, d)),
              "v": rng.standard_normal((n, dv))} for m, n, d, dv in shapes]
    # Leading batch/head axes: the solution must work on the last two axes only.
    cases.append({"q": rng.standard_normal((2, 3, 5, 4)), "k": rng.standard_normal((2, 3, 7, 4)),
                  "v": rng.standard_normal((2, 3, 7, 2))})
    return cases


def _attention_reference(q, k, v):
    return linear_attention(q, k, v, feature_map="elu+1", eps=0.0)


def check_linear_attention(student) -> bool:
    """Check ``student(q, k, v)``: non-causal linear attention with the elu+1 feature map.

    The student's function gets queries ``(..., m, d)``, keys ``(..., n, d)`` and values
    ``(..., n, d_v)`` and must return ``phi(Q) (phi(K)^T V)`` divided row by row by
    ``phi(Q) sum_j phi(k_j)``, with ``phi = elu + 1`` (``lk.elu_plus_one``), shape
    ``(..., m, d_v)``. Adding a tiny ``eps`` to the normaliser is accepted.

    Parameters
    ----------
    student : callable
        ``student(q, k, v)`` returning an array.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way.

    Examples
    --------
    >>> import numpy as np
    >>> import lenakernel as lk
    >>> def linear(q, k, v):
    ...     phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    ...     context = np.swapaxes(phi_k, -1, -2) @ v
    ...     normaliser = phi_q @ phi_k.sum(-2)[..., None]
    ...     return phi_q @ context / normaliser
    >>> check_linear_attention(linear)
    Correct: linear attention matches the package on all 5 test cases.
    True
    """
    return run_cases(student, _attention_reference, _attention_cases(), exercise="linear attention")


def _taylor_cases():
    rng = np.random.default_rng(66)
    cases = []
    for shape, spread in (((4, 1), 1.0), ((5, 3), 0.5), ((3, 6), 2.0), ((2, 3, 4), 1.0)):
        cases.append({"x": spread * rng.standard_normal(shape), "y": spread * rng.standard_normal(shape)})
    return cases


def _taylor_reference(x, y):
    s = np.sum(x * y, axis=-1)
    return 1.0 + s + 0.5 * s * s


def _inner_products(student):
    """Turn a feature map into the function (x, y) -> phi(x_i) . phi(y_i), row by row."""

    def inner(x, y):
        phi_x, phi_y = _as_numpy(student(x)), _as_numpy(student(y))
        if phi_x.shape[:-1] != x.shape[:-1] or phi_x.ndim != x.ndim:
            raise ValueError(f"your map returned shape {phi_x.shape} for x of shape {x.shape}; "
                             "it must keep the leading axes: (..., d) -> (..., D)")
        return np.sum(phi_x * phi_y, axis=-1)

    return inner


def check_taylor_features(student) -> bool:
    """Check ``student(x)``: a feature map whose inner products are exactly 1 + x.y + (x.y)^2/2.

    Any exact map passes, whatever the order of its features: the checker compares
    ``phi(x_i) . phi(y_i)`` with ``1 + x_i . y_i + (x_i . y_i)^2 / 2`` for pairs of rows.

    Parameters
    ----------
    student : callable
        ``student(x)`` mapping an array ``(..., d)`` to features ``(..., D)``.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way.

    Examples
    --------
    >>> import lenakernel as lk
    >>> check_taylor_features(lk.taylor_features)
    Correct: the Taylor feature map matches the package on all 4 test cases.
    True
    """
    if not callable(student):
        return run_cases(student, _taylor_reference, _taylor_cases(), exercise="the Taylor feature map")
    return run_cases(_inner_products(student), _taylor_reference, _taylor_cases(),
                     exercise="the Taylor feature map")
