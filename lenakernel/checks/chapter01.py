"""Checkers for chapter 1's exercises (Nadaraya-Watson, leave-one-out error)."""

from __future__ import annotations

import numpy as np

import lenakernel as lk

from ._core import Case, Mistake, loop_probe, run_cases

__all__ = ["check_nadaraya_watson", "check_loo_error"]

# The lenakernel functions each exercise may use; the exercise text says the same.
NADARAYA_WATSON_ALLOWED: tuple = ()
LOO_ERROR_ALLOWED: tuple = ()


def _kernel(x_query, x_train, bandwidth, half=0.5, power=2):
    """Gaussian kernel values, with the factor and the power of h as parameters for the mistakes."""
    with np.errstate(all="ignore"):
        return np.exp(-half * (x_query[:, None] - x_train[None, :]) ** 2 / bandwidth**power)


def _nw_cases():
    rng = np.random.default_rng(2024)
    cases = []
    for name, n, m, bandwidth in [("a few points (n = 5)", 5, 3, 1.0), ("30 points", 30, 10, 0.3),
                                  ("200 points, narrow bandwidth", 200, 50, 0.05)]:
        x_train = np.sort(rng.uniform(0, 10, n))
        cases.append(Case(name, {"x_train": x_train, "y_train": np.sin(x_train) + 0.2 * rng.normal(size=n),
                                 "x_query": rng.uniform(0, 10, m), "bandwidth": bandwidth}))
    cases.append(Case(
        "queries far from the data",
        {"x_train": np.array([0.0, 1.0, 2.0, 3.0]), "y_train": np.array([1.0, -1.0, 2.0, 5.0]),
         "x_query": np.array([-40.0, 1.4, 50.0]), "bandwidth": 0.1},
        note="every kernel value of a far query underflows to 0, so exp-then-divide gives 0/0; "
             "subtract each row's largest log-kernel value before exp"))
    return cases


_NW_MISTAKES = [
    Mistake("the weights of each query must sum to 1: divide by their sum",
            lambda x_train, y_train, x_query, bandwidth: _kernel(x_query, x_train, bandwidth) @ y_train),
    Mistake("the Gaussian kernel is exp(-(x - x')^2 / (2 h^2)): check the factor 1/2",
            lambda x_train, y_train, x_query, bandwidth:
            lk.nadaraya_watson(x_train, y_train, x_query, bandwidth=bandwidth / np.sqrt(2))),
    Mistake("the Gaussian kernel is exp(-(x - x')^2 / (2 h^2)): h must be squared",
            lambda x_train, y_train, x_query, bandwidth:
            lk.nadaraya_watson(x_train, y_train, x_query, bandwidth=np.sqrt(bandwidth))),
]


def check_nadaraya_watson(student) -> bool:
    """Check ``student(x_train, y_train, x_query, bandwidth)``: Gaussian Nadaraya-Watson by hand.

    The function gets 1-D arrays ``x_train``, ``y_train`` of length n and ``x_query`` of
    length m and must return the m predictions of :func:`lenakernel.nadaraya_watson`
    with the Gaussian kernel. Cases: a few points (n = 5); 30 points; 200 points, narrow
    bandwidth; queries far from the data (weights must be computed in the log domain).
    Allowed from lenakernel: nothing (NumPy only). Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called with positional arguments in the order above.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way, never raises.

    Examples
    --------
    A wrong first attempt, the plain mean of the outputs:

    >>> import numpy as np
    >>> def my_nadaraya_watson(x_train, y_train, x_query, bandwidth):
    ...     return np.full(len(x_query), np.mean(y_train))
    >>> check_nadaraya_watson(my_nadaraya_watson)  # doctest: +ELLIPSIS
    Gaussian Nadaraya-Watson. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Case 1 of 4, "a few points (n = 5)", failed: the values differ ...
    False
    """
    def reference(x_train, y_train, x_query, bandwidth):
        return lk.nadaraya_watson(x_train, y_train, x_query, kernel="gaussian", bandwidth=bandwidth)

    return run_cases(student, reference, _nw_cases(), exercise="Gaussian Nadaraya-Watson",
                     allowed=NADARAYA_WATSON_ALLOWED, mistakes=_NW_MISTAKES)


def _loo_cases():
    rng = np.random.default_rng(7)
    cases = []
    for name, n, bandwidth in [("a few points (n = 6)", 6, 0.5), ("40 points", 40, 0.1),
                               ("150 points, narrow bandwidth", 150, 0.03)]:
        x = np.sort(rng.uniform(0, 1, n))
        y = np.cos(4 * x) + 0.1 * rng.normal(size=n)
        cases.append(Case(name, {"x": x, "y": y, "bandwidth": bandwidth}))
    return cases


def _loo_reference(x, y, bandwidth):
    predictions = lk.leave_one_out_predictions(x, y, kernel="gaussian", bandwidth=bandwidth)
    return np.mean((predictions - y) ** 2)


def _in_sample_error(x, y, bandwidth):
    return np.mean((lk.nadaraya_watson(x, y, x, bandwidth=bandwidth) - y) ** 2)


_LOO_MISTAKES = [
    Mistake("each point still votes on its own prediction: give it weight 0 (log-kernel -inf on the "
            "diagonal) before normalising", _in_sample_error),
    Mistake("you summed the squared errors: CV(h) is their mean",
            lambda x, y, bandwidth: len(x) * _loo_reference(x, y, bandwidth)),
    Mistake("you returned a root: CV(h) is the mean of the squared errors, not its square root",
            lambda x, y, bandwidth: np.sqrt(_loo_reference(x, y, bandwidth))),
]


def check_loo_error(student) -> bool:
    """Check ``student(x, y, bandwidth)``: the leave-one-out score of Gaussian N-W.

    The function gets 1-D arrays ``x`` and ``y`` of length n and must return one number,
    the mean over ``i`` of ``(y_i - y_hat_{-i}(x_i))**2``, where ``y_hat_{-i}`` is the
    Gaussian Nadaraya-Watson estimate from every point except ``i``. Cases: a few points
    (n = 6); 40 points; 150 points, narrow bandwidth. The exercise forbids a loop that
    refits n times, so a long input (n = 800) checks that your own code runs no loop over
    the points. Allowed from lenakernel: nothing (NumPy only).

    Parameters
    ----------
    student : callable
        The student's function, called with positional arguments ``(x, y, bandwidth)``.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way, never raises.

    Examples
    --------
    >>> def my_loo_error(x, y, bandwidth):
    ...     raise NotImplementedError
    >>> check_loo_error(my_loo_error)  # doctest: +NORMALIZE_WHITESPACE
    Leave-one-out error. Allowed from lenakernel: nothing (NumPy only). Checks values, no loop
    over the points.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    x = np.linspace(0, 1, 800)
    no_loop = loop_probe(
        {"x": x, "y": np.sin(6 * x), "bandwidth": 0.05}, own_limit=400, all_limit=None,
        what="loop over the points",
        hint="the exercise asks for no loop that refits n times: compute all the weights at once and "
             "set each point's own weight to 0 (log-kernel -inf on the diagonal)")
    return run_cases(student, _loo_reference, _loo_cases(), exercise="Leave-one-out error",
                     allowed=LOO_ERROR_ALLOWED, mistakes=_LOO_MISTAKES, probes=[no_loop])
