"""Checkers for chapter 3's exercises (the Gaussian connection)."""

from __future__ import annotations

import math

import numpy as np

import lenakernel as lk

from ._core import Case, Mistake, run_cases

__all__ = ["check_qk_norm_attention"]

# The lenakernel functions the exercise may use; the exercise text says the same.
QK_NORM_ALLOWED: tuple = ("lk.softmax_attention",)


def _unit_rows(x, axis=-1):
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def _reference_qk_norm(q, k, v, temperature):
    # Unit-length queries and keys make softmax attention at scale 1/temperature a
    # Gaussian smoother with bandwidth sqrt(temperature): the chapter's identity.
    return lk.gaussian_attention(_unit_rows(q), _unit_rows(k), v, bandwidth=math.sqrt(temperature))


def _slip(*, scale=None, axis=-1, unit_q=True, unit_k=True):
    """QK-norm attention with one slip; ``scale(temperature, d)`` replaces 1 / temperature."""
    def wrong(q, k, v, temperature):
        q = _unit_rows(q, axis) if unit_q else q
        k = _unit_rows(k, axis) if unit_k else k
        return lk.softmax_attention(q, k, v, scale=(scale or (lambda t, d: 1 / t))(temperature, q.shape[-1]))
    return wrong


def _qk_norm_cases():
    rng = np.random.default_rng(2003)
    cases = []
    for name, m, n, d, d_v, temperature in [
            ("one query, one key", 1, 1, 2, 1, 1.0), ("3 queries, 5 keys", 3, 5, 2, 1, 0.4),
            ("temperature 0.1, d = 3", 4, 7, 3, 2, 0.1), ("d = 8, temperature 2", 6, 9, 8, 3, 2.0),
            ("sharp: temperature 0.02", 2, 6, 4, 2, 0.02)]:
        cases.append(Case(name, {"q": 3.0 * rng.standard_normal((m, d)), "k": rng.standard_normal((n, d)),
                                 "v": rng.standard_normal((n, d_v)), "temperature": temperature}))
    return cases


_QK_NORM_MISTAKES = [
    Mistake("divide each row of q by its length too (the queries here are not unit vectors)",
            _slip(unit_q=False)),
    Mistake("divide each row of k by its length too", _slip(unit_k=False)),
    Mistake("normalise each row (axis=-1, keepdims=True), not each column",
            _slip(axis=0)),
    Mistake("the scale is 1 / temperature: a low temperature makes attention sharper",
            _slip(scale=lambda t, d: t)),
    Mistake("pass scale=1 / temperature: lk.softmax_attention's default scale is 1 / sqrt(d)",
            _slip(scale=lambda t, d: 1 / math.sqrt(d))),
    Mistake("the scale is 1 / temperature alone, without another 1 / sqrt(d)",
            _slip(scale=lambda t, d: 1 / (t * math.sqrt(d)))),
    Mistake("the scale is 1 / temperature; sqrt(temperature) is the Gaussian bandwidth, not the scale",
            _slip(scale=lambda t, d: 1 / math.sqrt(t))),
]


def check_qk_norm_attention(student) -> bool:
    """Check ``student(q, k, v, temperature)``: attention with normalised queries and keys.

    Each row of ``q`` (m, d) and ``k`` (n, d) is divided by its Euclidean length, then
    softmax attention is taken with scale ``1 / temperature``; result shape (m, d_v).
    The reference is :func:`lenakernel.gaussian_attention` on the normalised rows with
    bandwidth ``sqrt(temperature)``, so a correct answer confirms the identity too.
    Cases: one query, one key; 3 queries, 5 keys; temperature 0.1, d = 3; d = 8,
    temperature 2; sharp: temperature 0.02. Allowed from lenakernel:
    ``lk.softmax_attention``. Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(q, k, v, temperature)``.

    Returns
    -------
    bool
        True if every case matches; a verdict is printed either way.

    Examples
    --------
    >>> def qk_norm_attention(q, k, v, temperature):
    ...     raise NotImplementedError
    >>> check_qk_norm_attention(qk_norm_attention)
    QK-norm attention. Allowed from lenakernel: lk.softmax_attention. Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    return run_cases(student, _reference_qk_norm, _qk_norm_cases(), exercise="QK-norm attention",
                     allowed=QK_NORM_ALLOWED, mistakes=_QK_NORM_MISTAKES)
