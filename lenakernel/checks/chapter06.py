"""Checkers for chapter 7's exercises: linear attention and the exact Taylor feature map."""

from __future__ import annotations

import numpy as np

import lenakernel as lk

from ._core import Between, Case, Mistake, Wrong, as_array, memory_probe, run_cases

__all__ = ["check_linear_attention", "check_taylor_features"]

# The lenakernel functions each exercise may use; the exercise text says the same.
LINEAR_ATTENTION_ALLOWED: tuple = ("lk.elu_plus_one",)
TAYLOR_FEATURES_ALLOWED: tuple = ()


def _attention_cases():
    rng = np.random.default_rng(6)
    cases = []
    for name, (m, n, d, d_v) in [("4 queries, 6 keys", (4, 6, 3, 2)), ("one query", (1, 5, 4, 3)),
                                 ("one key", (3, 1, 2, 1)), ("50 queries, 200 keys", (50, 200, 8, 4))]:
        cases.append(Case(name, {"q": rng.standard_normal((m, d)), "k": rng.standard_normal((n, d)),
                                 "v": rng.standard_normal((n, d_v))}))
    cases.append(Case(
        "batch axes", {"q": rng.standard_normal((2, 3, 5, 4)), "k": rng.standard_normal((2, 3, 7, 4)),
                       "v": rng.standard_normal((2, 3, 7, 2))},
        note="leading (batch, head) axes of shape (2, 3): transpose with np.swapaxes(a, -1, -2), "
             "since .T reverses every axis"))
    return cases


def _attention_reference(q, k, v):
    # The normaliser's eps is open: anything from eps = 0 to the package's 1e-6 is right.
    return Between(lk.linear_attention(q, k, v, eps=0.0), lk.linear_attention(q, k, v, eps=1e-6))


def _features_on(q, k, v, on_q=True, on_k=True):
    phi_q, phi_k = (lk.elu_plus_one(q) if on_q else q), (lk.elu_plus_one(k) if on_k else k)
    return phi_q @ (np.swapaxes(phi_k, -1, -2) @ v) / (phi_q @ phi_k.sum(-2)[..., None])


_ATTENTION_MISTAKES = [
    Mistake("divide each output row by its normaliser phi(q_i) . sum_j phi(k_j), so the weights sum to 1",
            lambda q, k, v: lk.elu_plus_one(q) @ (np.swapaxes(lk.elu_plus_one(k), -1, -2) @ v)),
    Mistake("this is softmax attention: the exercise uses the elu+1 feature map, phi(q) . phi(k)",
            lambda q, k, v: lk.softmax_attention(q, k, v)),
    Mistake("apply elu+1 to the queries too", lambda q, k, v: _features_on(q, k, v, on_q=False)),
    Mistake("apply elu+1 to the keys too", lambda q, k, v: _features_on(q, k, v, on_k=False)),
]


def check_linear_attention(student) -> bool:
    """Check ``student(q, k, v)``: non-causal linear attention with the elu+1 feature map.

    The function gets queries ``(..., m, d)``, keys ``(..., n, d)`` and values
    ``(..., n, d_v)`` and must return ``phi(Q) (phi(K)^T V)`` divided row by row by
    ``phi(Q) sum_j phi(k_j)``, with ``phi = elu + 1``, shape ``(..., m, d_v)``. The
    normaliser's ``eps`` may be anything from 0 to 1e-6. Cases: 4 queries, 6 keys; one
    query; one key; 50 queries, 200 keys; batch axes. A long input (m = n = 2000) checks
    that no (m, n) matrix is formed, in NumPy or torch. Allowed from lenakernel:
    ``lk.elu_plus_one``.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(q, k, v)``.

    Returns
    -------
    bool
        True when every case matches and the memory check passes; a verdict is printed
        either way.

    Examples
    --------
    >>> def my_linear_attention(q, k, v):
    ...     raise NotImplementedError
    >>> check_linear_attention(my_linear_attention)
    Linear attention. Allowed from lenakernel: lk.elu_plus_one. Checks values, memory (no m x n matrix).
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    rng = np.random.default_rng(60)
    size = 2000
    long = {"q": rng.standard_normal((size, 4)), "k": rng.standard_normal((size, 4)),
            "v": rng.standard_normal((size, 3))}
    return run_cases(student, _attention_reference, _attention_cases(), exercise="Linear attention",
                     allowed=LINEAR_ATTENTION_ALLOWED, mistakes=_ATTENTION_MISTAKES,
                     probes=[memory_probe(long, m=size, n=size)])


def _taylor_cases():
    rng = np.random.default_rng(66)
    cases = []
    for name, shape, spread in (("d = 1", (4, 1), 1.0), ("d = 3", (5, 3), 0.5), ("d = 6, larger inputs", (3, 6), 2.0),
                                ("a leading axis: x of shape (2, 3, 4)", (2, 3, 4), 1.0)):
        cases.append(Case(name, {"x": spread * rng.standard_normal(shape)},
                          note="your map is called on x and on y; row i of the two is compared",
                          extra={"y": spread * rng.standard_normal(shape)}))
    return cases


def _inner(x, y):
    return np.sum(x * y, axis=-1)


def _taylor_reference(x, y):
    s = _inner(x, y)
    return 1.0 + s + 0.5 * s * s


def _through_features(student, x, y):
    """phi(x_i) . phi(y_i) for the student's map, row by row."""
    phi_x, phi_y = as_array(student(x), "your map's output"), as_array(student(y), "your map's output")
    if phi_x.ndim != x.ndim or phi_x.shape[:-1] != x.shape[:-1]:
        raise Wrong(f"your map returned shape {phi_x.shape} for x of shape {x.shape}",
                    hint="keep the leading axes and put the features last: (..., d) -> (..., D)")
    return np.sum(phi_x * phi_y, axis=-1)


def _triangle(x, y):
    """The inner products of an upper-triangle map that weights every pair by 1/sqrt(2)."""
    rows, cols = np.triu_indices(x.shape[-1])
    return 1 + _inner(x, y) + 0.5 * np.sum(x[..., rows] * x[..., cols] * y[..., rows] * y[..., cols], -1)


_TAYLOR_MISTAKES = [
    Mistake("the quadratic features need a factor 1/sqrt(2): their inner product must be (x.y)^2 / 2",
            lambda x, y: 1 + _inner(x, y) + _inner(x, y) ** 2),
    Mistake("add the constant feature 1", lambda x, y: _inner(x, y) + _inner(x, y) ** 2 / 2),
    Mistake("add the linear features x", lambda x, y: 1 + _inner(x, y) ** 2 / 2),
    Mistake("an off-diagonal pair x_a x_b (a < b) appears twice in (x.y)^2: weight it 1, and the "
            "diagonal x_a^2 by 1/sqrt(2)", _triangle),
]


def check_taylor_features(student) -> bool:
    """Check ``student(x)``: a feature map whose inner products are exactly 1 + x.y + (x.y)^2/2.

    Any exact map passes, whatever the order and number of its features: the checker
    calls your map on ``x`` and on a ``y`` of the same shape and compares
    ``phi(x_i) . phi(y_i)`` with ``1 + x_i . y_i + (x_i . y_i)^2 / 2`` row by row.
    Cases: d = 1; d = 3; d = 6, larger inputs; a leading axis. Allowed from lenakernel:
    nothing (NumPy only). Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(x)``, mapping ``(..., d)`` to ``(..., D)``.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way.

    Examples
    --------
    >>> def my_taylor_features(x):
    ...     raise NotImplementedError
    >>> check_taylor_features(my_taylor_features)
    The Taylor feature map. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    return run_cases(student, _taylor_reference, _taylor_cases(), exercise="The Taylor feature map",
                     allowed=TAYLOR_FEATURES_ALLOWED, call=_through_features, mistakes=_TAYLOR_MISTAKES)
