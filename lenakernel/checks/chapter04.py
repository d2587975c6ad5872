"""Checkers for chapter 4's exercises (learning the kernel)."""

from __future__ import annotations

import numpy as np

from ..attention import softmax_attention
from ..learning import metric_kernel_smoother
from ._core import run_cases

__all__ = ["check_metric_smoother", "check_attention_form"]


def _metric_cases():
    rng = np.random.default_rng(2024)
    cases = []
    # 1-D, the Gaussian kernel of bandwidth 0.5 (A = 1 / 0.5).
    x = np.sort(rng.uniform(-1, 1, 6))
    cases.append(dict(x_train=x[:, None], y_train=np.sin(3 * x), x_query=np.array([[0.0], [0.4]]),
                      metric=np.array([[2.0]])))
    # 2-D with a full (non-diagonal) metric.
    x = rng.normal(size=(7, 2))
    cases.append(dict(x_train=x, y_train=x[:, 0] - x[:, 1] ** 2, x_query=rng.normal(size=(3, 2)),
                      metric=np.array([[1.5, 0.5], [-0.3, 0.8]])))
    # A rectangular metric: one learned direction out of three inputs.
    x = rng.normal(size=(8, 3))
    cases.append(dict(x_train=x, y_train=rng.normal(size=8), x_query=rng.normal(size=(2, 3)),
                      metric=np.array([[0.7, -1.2, 0.1]])))
    # A very sharp kernel: every raw kernel value underflows to 0 unless the row
    # maximum is subtracted first, as in the chapter.
    x = np.array([[0.0], [1.0], [2.0]])
    cases.append(dict(x_train=x, y_train=np.array([1.0, 2.0, 3.0]), x_query=np.array([[0.9]]),
                      metric=np.array([[2000.0]])))
    return cases


def check_metric_smoother(student) -> bool:
    """Check ``student(x_train, y_train, x_query, metric)``: N-W with ``exp(-||A(x - x')||^2 / 2)``.

    The student's function gets ``x_train`` of shape (n, p), ``y_train`` (n,),
    ``x_query`` (m, p) and the metric ``A`` (r, p), and returns the (m,) predictions.
    It is compared with :func:`lenakernel.metric_kernel_smoother` on seeded cases,
    including a kernel so sharp that it needs the log-domain (max-subtracted) softmax.

    Returns True if every case matches; prints a verdict either way; never raises.

    Examples
    --------
    >>> import lenakernel as lk
    >>> def mine(x_train, y_train, x_query, metric):
    ...     return lk.metric_kernel_smoother(x_train, y_train, x_query, metric=metric)
    >>> check_metric_smoother(mine)
    Correct: the learned-metric smoother matches the package on all 4 test cases.
    True
    """

    def reference(x_train, y_train, x_query, metric):
        return metric_kernel_smoother(x_train, y_train, x_query, metric=metric)

    return run_cases(student, reference, _metric_cases(), exercise="the learned-metric smoother",
                     atol=1e-8, rtol=1e-6)


def check_attention_form(student) -> bool:
    """Check ``student(x_query, x_train, metric) -> (q, k)`` turns the metric smoother into attention.

    The queries and keys the student builds are fed to
    ``lenakernel.softmax_attention(q, k, y_train[:, None], scale=1.0)``; the result must
    equal the learned-metric smoother ``lenakernel.metric_kernel_smoother`` with that
    metric (many ``(q, k)`` pairs do; any of them is accepted).

    Returns True if every case matches; prints a verdict either way; never raises.

    Examples
    --------
    >>> import numpy as np
    >>> def mine(x_query, x_train, metric):
    ...     q, k = x_query @ metric.T, x_train @ metric.T
    ...     ones = np.ones((len(q), 1))
    ...     key_bias = -0.5 * (k ** 2).sum(1, keepdims=True)
    ...     return np.hstack([q, ones]), np.hstack([k, key_bias])
    >>> check_attention_form(mine)
    Correct: the attention form of the smoother matches the package on all 4 test cases.
    True
    """
    if not callable(student):
        return run_cases(student, None, [], exercise="the attention form of the smoother")

    def through_attention(x_train, y_train, x_query, metric):
        result = student(x_query=x_query, x_train=x_train, metric=metric)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise ValueError(f"the function must return a pair (q, k); it returned {type(result).__name__}")
        q, k = (np.asarray(r, dtype=np.float64) for r in result)
        return softmax_attention(q, k, np.asarray(y_train, dtype=np.float64)[:, None], scale=1.0)[:, 0]

    def reference(x_train, y_train, x_query, metric):
        return metric_kernel_smoother(x_train, y_train, x_query, metric=metric)

    return run_cases(through_attention, reference, _metric_cases(),
                     exercise="the attention form of the smoother", atol=1e-8, rtol=1e-6)
