"""Checkers for chapter 4's exercises (learning the kernel)."""

from __future__ import annotations

import numpy as np

import lenakernel as lk

from ._core import Case, Mistake, Wrong, as_array, run_cases

__all__ = ["check_metric_smoother", "check_attention_form"]

# The lenakernel functions each exercise may use; the exercise text says the same.
METRIC_SMOOTHER_ALLOWED: tuple = ()
ATTENTION_FORM_ALLOWED: tuple = ()


def _metric_cases():
    """(name, x_train, y_train, x_query, metric, note) for both exercises."""
    rng = np.random.default_rng(2024)
    x1 = np.sort(rng.uniform(-1, 1, 6))
    x2, x3 = rng.normal(size=(7, 2)), rng.normal(size=(8, 3))
    sharp = "a kernel so sharp that every raw kernel value underflows to 0: work in the log domain"
    return [
        ("1-D, bandwidth 0.5 (A = [[2]])", x1[:, None], np.sin(3 * x1), np.array([[0.0], [0.4]]),
         np.array([[2.0]]), ""),
        ("2-D, a full (non-diagonal) metric", x2, x2[:, 0] - x2[:, 1] ** 2, rng.normal(size=(3, 2)),
         np.array([[1.5, 0.5], [-0.3, 0.8]]), ""),
        ("a rectangular metric (r = 1, p = 3)", x3, rng.normal(size=8), rng.normal(size=(2, 3)),
         np.array([[0.7, -1.2, 0.1]]), "A is (r, p) = (1, 3): A (x - x') is (x - x') @ A.T"),
        ("a very sharp kernel", np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 2.0, 3.0]),
         np.array([[0.9]]), np.array([[2000.0]]), sharp),
    ]


def _smoother(x_train, y_train, x_query, metric):
    return lk.metric_kernel_smoother(x_train, y_train, x_query, metric=metric)


_METRIC_MISTAKES = [
    Mistake("with points as rows, A (x - x') is (x - x') @ metric.T, not (x - x') @ metric",
            lambda x_train, y_train, x_query, metric: _smoother(x_train, y_train, x_query, metric.T)),
    Mistake("the kernel is exp(-||A (x - x')||^2 / 2): check the factor 1/2",
            lambda x_train, y_train, x_query, metric: _smoother(x_train, y_train, x_query, np.sqrt(2) * metric)),
    Mistake("the weights of each query must sum to 1: divide by their sum",
            lambda x_train, y_train, x_query, metric:
            np.exp(-0.5 * (((x_query[:, None] - x_train[None]) @ metric.T) ** 2).sum(-1)) @ y_train),
]


def check_metric_smoother(student) -> bool:
    """Check ``student(x_train, y_train, x_query, metric)``: N-W with ``exp(-||A(x - x')||^2 / 2)``.

    The function gets ``x_train`` of shape (n, p), ``y_train`` (n,), ``x_query`` (m, p)
    and the metric ``A`` (r, p), and returns the (m,) predictions of
    :func:`lenakernel.metric_kernel_smoother`. Cases: 1-D, bandwidth 0.5; 2-D, a full
    (non-diagonal) metric; a rectangular metric (r = 1, p = 3); a very sharp kernel
    (needs the log domain). Allowed from lenakernel: nothing (NumPy only). Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called with positional arguments in the order above.

    Returns
    -------
    bool
        True if every case matches; a verdict is printed either way; never raises.

    Examples
    --------
    >>> def my_metric_smoother(x_train, y_train, x_query, metric):
    ...     raise NotImplementedError
    >>> check_metric_smoother(my_metric_smoother)
    The learned-metric smoother. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    cases = [Case(name, {"x_train": xt, "y_train": yt, "x_query": xq, "metric": a}, note=note)
             for name, xt, yt, xq, a, note in _metric_cases()]
    return run_cases(student, _smoother, cases, exercise="The learned-metric smoother",
                     allowed=METRIC_SMOOTHER_ALLOWED, mistakes=_METRIC_MISTAKES)


def _through_attention(student, x_query, x_train, metric, y_train):
    """Feed the student's (q, k) to softmax attention at scale 1, as the exercise says."""
    result = student(x_query, x_train, metric)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise Wrong(f"your function must return a pair (q, k), but it returned {type(result).__name__}",
                    hint="end with `return q, k`")
    q, k = as_array(result[0], "q", finite=True), as_array(result[1], "k", finite=True)
    m, n = len(x_query), len(x_train)
    if q.ndim != 2 or k.ndim != 2 or q.shape[0] != m or k.shape[0] != n or q.shape[1] != k.shape[1]:
        raise Wrong(f"q has shape {q.shape} and k shape {k.shape}; expected ({m}, r') and ({n}, r') "
                    "with the same r'", hint="one row per query in q and one per training point in k")
    y = np.asarray(y_train, dtype=np.float64)[:, None]
    return lk.softmax_attention(q.astype(np.float64), k.astype(np.float64), y, scale=1.0)[:, 0]


def _key_term(c):
    """Attention whose scores are (A x).(A x_j) + c ||A x_j||^2: c = -1/2 is right."""
    def wrong(x_query, x_train, metric, y_train):
        q, k = x_query @ metric.T, x_train @ metric.T
        scores = q @ k.T + c * (k**2).sum(1)
        weights = np.exp(scores - scores.max(1, keepdims=True))
        return weights @ y_train / weights.sum(1)
    return wrong


_FORM_MISTAKES = [
    Mistake("q . k_j = (A x).(A x_j) misses the key term -||A x_j||^2 / 2: carry it in one extra "
            "coordinate (1 in q, -||A x_j||^2 / 2 in k)", _key_term(0.0)),
    Mistake("the key term is -||A x_j||^2 / 2, with a minus sign", _key_term(0.5)),
    Mistake("the key term is -||A x_j||^2 / 2: check the factor 1/2", _key_term(-1.0)),
]


def check_attention_form(student) -> bool:
    """Check ``student(x_query, x_train, metric) -> (q, k)`` turns the metric smoother into attention.

    The pair the function returns is fed to
    ``lenakernel.softmax_attention(q, k, y_train[:, None], scale=1.0)`` with a ``y_train``
    the checker draws (your function never sees it); the result must equal
    :func:`lenakernel.metric_kernel_smoother` with that metric. Many ``(q, k)`` pairs do,
    and any of them is accepted; complex entries with a nonzero imaginary part are not.
    Cases as in :func:`check_metric_smoother`. Allowed from lenakernel: nothing (NumPy
    only). Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(x_query, x_train, metric)``.

    Returns
    -------
    bool
        True if every case matches; a verdict is printed either way; never raises.

    Examples
    --------
    A first attempt that forgets the key term:

    >>> def my_query_key(x_query, x_train, metric):
    ...     return x_query @ metric.T, x_train @ metric.T
    >>> check_attention_form(my_query_key)  # doctest: +ELLIPSIS
    The attention form of the smoother. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Case 1 of 4, "1-D, bandwidth 0.5 (A = [[2]])", failed: the values differ ...
      Hint: q . k_j = (A x).(A x_j) misses the key term -||A x_j||^2 / 2: ...
    False
    """
    cases = [Case(name, {"x_query": xq, "x_train": xt, "metric": a}, note=note, extra={"y_train": yt})
             for name, xt, yt, xq, a, note in _metric_cases()]

    def reference(x_query, x_train, metric, y_train):
        return _smoother(x_train, y_train, x_query, metric)

    return run_cases(student, reference, cases, exercise="The attention form of the smoother",
                     allowed=ATTENTION_FORM_ALLOWED, call=_through_attention, mistakes=_FORM_MISTAKES)
