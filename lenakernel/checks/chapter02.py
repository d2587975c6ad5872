"""Checkers for chapter 2's exercises (attention is kernel smoothing)."""

from __future__ import annotations

import numpy as np

import lenakernel as lk

from ._core import Case, Mistake, run_cases

__all__ = ["check_single_query_attention", "check_local_attention"]

# The lenakernel functions each exercise may use; the exercise text says the same.
SINGLE_QUERY_ALLOWED: tuple = ()
LOCAL_ATTENTION_ALLOWED: tuple = ("lk.softmax_attention",)


def _single_query(q, k, v, scale=None, normalise=True):
    """One query's attention in NumPy, with the slips of the mistakes as options."""
    scores = k @ q * (1 / np.sqrt(q.shape[0]) if scale is None else scale)
    weights = np.exp(scores - scores.max())
    return (weights / weights.sum() if normalise else weights) @ v


def _single_query_cases():
    rng = np.random.default_rng(2002)
    cases = []
    for name, n, d, d_v in [("one key (n = 1)", 1, 1, 1), ("5 keys, d = 2", 5, 2, 1),
                            ("8 keys, d_v = 3", 8, 4, 3), ("d = 16", 12, 16, 2)]:
        cases.append(Case(name, {"q": rng.standard_normal(d), "k": rng.standard_normal((n, d)),
                                 "v": rng.standard_normal((n, d_v))}))
    cases.append(Case(
        "scores near 800",
        {"q": np.array([40.0, 0.0, 0.0, 0.0]), "k": np.array([[40.0, 0, 0, 0], [39.9, 0, 0, 0], [-40.0, 0, 0, 0]]),
         "v": np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])},
        note="np.exp(800) overflows to inf; subtract the largest score before exp"))
    return cases


_SINGLE_QUERY_MISTAKES = [
    Mistake("divide the scores by sqrt(d)", lambda q, k, v: _single_query(q, k, v, scale=1.0)),
    Mistake("the scale is 1/sqrt(d), not 1/d", lambda q, k, v: _single_query(q, k, v, scale=1 / len(q))),
    Mistake("the weights must sum to 1: divide by their sum (the softmax's denominator)",
            lambda q, k, v: _single_query(q, k, v, normalise=False)),
    Mistake("the weights must sum to 1: divide by their sum (the softmax's denominator)",
            lambda q, k, v: np.exp(k @ q / np.sqrt(len(q))) @ v),
]


def check_single_query_attention(student) -> bool:
    """Check ``student(q, k, v)``: one query attending over a context, in NumPy.

    ``q`` has shape (d,), ``k`` shape (n, d), ``v`` shape (n, d_v); the answer is the
    (d_v,) vector ``sum_j softmax_j(q . k_j / sqrt(d)) v_j``. Cases: one key (n = 1);
    5 keys, d = 2; 8 keys, d_v = 3; d = 16; scores near 800 (``exp`` overflows unless the
    largest score is subtracted first). Allowed from lenakernel: nothing (NumPy only).
    Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(q, k, v)``.

    Returns
    -------
    bool
        True if every case matches :func:`lenakernel.softmax_attention`; a verdict is
        printed either way.

    Examples
    --------
    >>> def my_attention(q, k, v):
    ...     raise NotImplementedError
    >>> check_single_query_attention(my_attention)
    Single-query attention. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    def reference(q, k, v):
        return lk.softmax_attention(q[None, :], k, v)[0]

    return run_cases(student, reference, _single_query_cases(), exercise="Single-query attention",
                     allowed=SINGLE_QUERY_ALLOWED, mistakes=_SINGLE_QUERY_MISTAKES)


def _window_attention(q, k, v, window, inside, scale=None):
    i, j = np.indices((q.shape[0], k.shape[0]))
    return lk.softmax_attention(q, k, v, mask=inside(i, j, window), scale=scale)


def _two_sided(i, j, window):
    return np.abs(i - j) <= window


def _local_cases():
    rng = np.random.default_rng(2022)
    cases = []
    for name, n, d, d_v, window in [("one token, window 0", 1, 2, 1, 0), ("window 0: each query sees itself", 6, 3, 2, 0),
                                    ("window 1", 7, 2, 1, 1), ("window 3, d = 4", 10, 4, 3, 3),
                                    ("window longer than the sequence", 5, 2, 2, 10)]:
        cases.append(Case(name, {"q": rng.standard_normal((n, d)), "k": rng.standard_normal((n, d)),
                                 "v": rng.standard_normal((n, d_v)), "window": window}))
    return cases


_LOCAL_MISTAKES = [
    Mistake("keys at distance exactly `window` belong to the window: |i - j| <= window",
            lambda q, k, v, window: _window_attention(q, k, v, window, lambda i, j, w: np.abs(i - j) < max(w, 1))),
    Mistake("the window is two-sided: query i sees keys before and after it",
            lambda q, k, v, window: _window_attention(q, k, v, window, lambda i, j, w: (j <= i) & (i - j <= w))),
    Mistake("query i may only see keys j with |i - j| <= window: apply the mask",
            lambda q, k, v, window: lk.softmax_attention(q, k, v)),
    Mistake("divide the scores by sqrt(d)",
            lambda q, k, v, window: _window_attention(q, k, v, window, _two_sided, scale=1.0)),
]


def check_local_attention(student) -> bool:
    """Check ``student(q, k, v, window)``: attention over a sliding window of positions.

    Query ``i`` attends only keys ``j`` with ``|i - j| <= window`` (queries and keys have
    the same length n); inside the window it is ordinary softmax attention with scale
    ``1 / sqrt(d)``; result shape (n, d_v). Cases: one token, window 0; window 0 (each
    query sees itself); window 1; window 3, d = 4; window longer than the sequence.
    Allowed from lenakernel: ``lk.softmax_attention``. Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(q, k, v, window)``.

    Returns
    -------
    bool
        True if every case matches; a verdict is printed either way.

    Examples
    --------
    >>> def local_attention(q, k, v, window):
    ...     raise NotImplementedError
    >>> check_local_attention(local_attention)
    Local (sliding-window) attention. Allowed from lenakernel: lk.softmax_attention. Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    def reference(q, k, v, window):
        return _window_attention(q, k, v, window, _two_sided)

    return run_cases(student, reference, _local_cases(), exercise="Local (sliding-window) attention",
                     allowed=LOCAL_ATTENTION_ALLOWED, mistakes=_LOCAL_MISTAKES)
