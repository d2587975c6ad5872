"""Checkers for chapter 2's exercises (attention is kernel smoothing)."""

from __future__ import annotations

import numpy as np

from ..attention import softmax_attention
from ._core import run_cases

__all__ = ["check_single_query_attention", "check_local_attention"]


def _reference_single_query(q, k, v):
    return softmax_attention(q[None, :], k, v)[0]


def _single_query_cases():
    rng = np.random.default_rng(2002)
    cases = []
    for n, d, d_v in [(1, 1, 1), (5, 2, 1), (8, 4, 3), (12, 16, 2)]:
        cases.append({"q": rng.standard_normal(d), "k": rng.standard_normal((n, d)),
                      "v": rng.standard_normal((n, d_v))})
    # Scores near +-800: exp overflows unless the largest score is subtracted first.
    cases.append({"q": np.array([40.0, 0.0, 0.0, 0.0]),
                  "k": np.array([[40.0, 0, 0, 0], [39.9, 0, 0, 0], [-40.0, 0, 0, 0]]),
                  "v": np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])})
    return cases


def check_single_query_attention(student) -> bool:
    """Check ``student(q, k, v)``: one query attending over a context.

    ``q`` has shape (d,), ``k`` shape (n, d), ``v`` shape (n, d_v); the answer is the
    (d_v,) vector ``sum_j softmax_j(q . k_j / sqrt(d)) v_j``. One case has scores near
    800, where ``exp`` overflows unless the largest score is subtracted first.

    Parameters
    ----------
    student : callable
        The student's function ``student(q, k, v)``.

    Returns
    -------
    bool
        True if every case matches :func:`lenakernel.softmax_attention`; a verdict is
        printed either way.

    Examples
    --------
    >>> import numpy as np
    >>> def attend(q, k, v):
    ...     scores = k @ q / np.sqrt(len(q))
    ...     w = np.exp(scores - scores.max())
    ...     return (w / w.sum()) @ v
    >>> check_single_query_attention(attend)
    Correct: single-query attention matches the package on all 5 test cases.
    True
    """
    return run_cases(student, _reference_single_query, _single_query_cases(),
                     exercise="single-query attention")


def _reference_local(q, k, v, window):
    i, j = np.indices((q.shape[0], k.shape[0]))
    return softmax_attention(q, k, v, mask=np.abs(i - j) <= window)


def _local_cases():
    rng = np.random.default_rng(2022)
    cases = []
    for n, d, d_v, window in [(1, 2, 1, 0), (6, 3, 2, 0), (7, 2, 1, 1), (10, 4, 3, 3), (5, 2, 2, 10)]:
        cases.append({"q": rng.standard_normal((n, d)), "k": rng.standard_normal((n, d)),
                      "v": rng.standard_normal((n, d_v)), "window": window})
    return cases


def check_local_attention(student) -> bool:
    """Check ``student(q, k, v, window)``: attention over a sliding window of positions.

    Query ``i`` attends only keys ``j`` with ``|i - j| <= window`` (queries and keys have
    the same length n); inside the window it is ordinary softmax attention with scale
    ``1 / sqrt(d)``. Result shape (n, d_v).

    Parameters
    ----------
    student : callable
        The student's function ``student(q, k, v, window)``.

    Returns
    -------
    bool
        True if every case matches; a verdict is printed either way.

    Examples
    --------
    >>> import numpy as np
    >>> import lenakernel as lk
    >>> def local(q, k, v, window):
    ...     i, j = np.indices((len(q), len(k)))
    ...     return lk.softmax_attention(q, k, v, mask=abs(i - j) <= window)
    >>> check_local_attention(local)
    Correct: local (sliding-window) attention matches the package on all 5 test cases.
    True
    """
    return run_cases(student, _reference_local, _local_cases(),
                     exercise="local (sliding-window) attention")
