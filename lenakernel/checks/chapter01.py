"""Checkers for chapter 1's exercises (Nadaraya-Watson, leave-one-out error)."""

from __future__ import annotations

import numpy as np

from ..smoothing import leave_one_out_predictions, nadaraya_watson
from ._core import run_cases

__all__ = ["check_nadaraya_watson", "check_loo_error"]


def _nw_cases():
    rng = np.random.default_rng(2024)
    cases = []
    for n, m, bandwidth in [(5, 3, 1.0), (30, 10, 0.3), (200, 50, 0.05)]:
        x_train = np.sort(rng.uniform(0, 10, n))
        cases.append({
            "x_train": x_train,
            "y_train": np.sin(x_train) + 0.2 * rng.normal(size=n),
            "x_query": rng.uniform(0, 10, m),
            "bandwidth": bandwidth,
        })
    # Queries far from every training point with a small bandwidth: every kernel value
    # underflows to 0 unless the weights are computed in the log domain.
    cases.append({
        "x_train": np.array([0.0, 1.0, 2.0, 3.0]),
        "y_train": np.array([1.0, -1.0, 2.0, 5.0]),
        "x_query": np.array([-40.0, 1.4, 50.0]),
        "bandwidth": 0.1,
    })
    return cases


def check_nadaraya_watson(student) -> bool:
    """Check a hand-written one-dimensional Gaussian Nadaraya-Watson estimator.

    ``student(x_train, y_train, x_query, bandwidth)`` takes 1-D arrays ``x_train``,
    ``y_train`` of length n and ``x_query`` of length m and must return the m
    predictions of :func:`lenakernel.nadaraya_watson` with the Gaussian kernel. One
    case puts queries far from every training point, where the weights must be
    computed in the log domain (subtract each row's maximum) to avoid 0/0.

    Returns True when every case matches; prints a verdict either way, never raises.

    Examples
    --------
    >>> import lenakernel as lk
    >>> def mine(x_train, y_train, x_query, bandwidth):
    ...     return lk.nadaraya_watson(x_train, y_train, x_query, bandwidth=bandwidth)
    >>> check_nadaraya_watson(mine)
    Correct: Nadaraya-Watson (Gaussian kernel) matches the package on all 4 test cases.
    True
    """
    def reference(x_train, y_train, x_query, bandwidth):
        return nadaraya_watson(x_train, y_train, x_query, kernel="gaussian", bandwidth=bandwidth)

    return run_cases(student, reference, _nw_cases(), exercise="Nadaraya-Watson (Gaussian kernel)")


def _loo_cases():
    rng = np.random.default_rng(7)
    cases = []
    for n, bandwidth in [(6, 0.5), (40, 0.1), (150, 0.03)]:
        x = np.sort(rng.uniform(0, 1, n))
        cases.append({
            "x": x,
            "y": np.cos(4 * x) + 0.1 * rng.normal(size=n),
            "bandwidth": bandwidth,
        })
    return cases


def check_loo_error(student) -> bool:
    """Check a hand-written leave-one-out mean squared error for Gaussian N-W.

    ``student(x, y, bandwidth)`` takes 1-D arrays ``x`` and ``y`` of length n and
    must return one number: the mean over ``i`` of ``(y_i - y_hat_{-i}(x_i))**2``,
    where ``y_hat_{-i}`` is the Gaussian Nadaraya-Watson estimate built from every
    point except ``i``.

    Returns True when every case matches; prints a verdict either way, never raises.

    Examples
    --------
    >>> import numpy as np
    >>> import lenakernel as lk
    >>> def mine(x, y, bandwidth):
    ...     return np.mean((lk.leave_one_out_predictions(x, y, bandwidth=bandwidth) - y) ** 2)
    >>> check_loo_error(mine)
    Correct: leave-one-out error matches the package on all 3 test cases.
    True
    """
    def reference(x, y, bandwidth):
        predictions = leave_one_out_predictions(x, y, kernel="gaussian", bandwidth=bandwidth)
        return np.mean((predictions - y) ** 2)

    return run_cases(student, reference, _loo_cases(), exercise="leave-one-out error")
