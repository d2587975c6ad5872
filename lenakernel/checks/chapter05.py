"""Checkers for chapter 5's exercises (in-context regression)."""

from __future__ import annotations

import numpy as np

from ..learning import in_context_attention
from ..smoothing import nadaraya_watson
from ._core import run_cases

__all__ = ["check_in_context_attention", "check_gaussian_projections"]


def _head_cases():
    rng = np.random.default_rng(5)
    cases = []
    for tasks, n, m, d_k, tau in ((None, 5, 3, 3, 1.0), (2, 8, 4, 2, 0.5), (3, 6, 2, 4, 0.002)):
        shape = () if tasks is None else (tasks,)
        cases.append(dict(
            x_context=rng.uniform(-1, 1, shape + (n,)), y_context=rng.normal(size=shape + (n,)),
            x_query=rng.uniform(-1, 1, shape + (m,)),
            w_query=rng.normal(size=(d_k, 3)), w_key=rng.normal(size=(d_k, 3)),
            w_value=rng.normal(size=4), temperature=tau,
        ))
    return cases


def check_in_context_attention(student) -> bool:
    """Check ``student(x_context, y_context, x_query, w_query, w_key, w_value, temperature)``.

    The function is the in-context regression head of chapter 5: tokens
    ``[x, x^2, 1, y]``, queries and keys from the x-features, values from the whole
    token, scores divided by ``temperature * sqrt(d_k)``. It must accept leading task
    dimensions, ``(..., n)`` and ``(..., m)``, and return ``(..., m)``. It is compared
    with :func:`lenakernel.in_context_attention`, including a low temperature that needs
    the max-subtracted softmax.

    Returns True if every case matches; prints a verdict either way; never raises.

    Examples
    --------
    >>> import lenakernel as lk
    >>> def mine(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    ...     return lk.in_context_attention(x_context, y_context, x_query, w_query=w_query,
    ...                                    w_key=w_key, w_value=w_value, temperature=temperature)
    >>> check_in_context_attention(mine)
    Correct: the in-context regression head matches the package on all 3 test cases.
    True
    """

    def reference(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
        return in_context_attention(x_context, y_context, x_query, w_query=w_query, w_key=w_key,
                                    w_value=w_value, temperature=temperature)

    return run_cases(student, reference, _head_cases(), exercise="the in-context regression head",
                     atol=1e-8, rtol=1e-6)


def check_gaussian_projections(student) -> bool:
    """Check ``student(bandwidth) -> (w_query, w_key)`` makes the head a Gaussian smoother.

    With the student's projections, ``w_value = [0, 0, 0, 1]`` and temperature 1, the
    head :func:`lenakernel.in_context_attention` must give exactly the Nadaraya-Watson
    prediction with the Gaussian kernel of that bandwidth
    (:func:`lenakernel.nadaraya_watson`), on contexts and bandwidths the checker draws.

    Returns True if every case matches; prints a verdict either way; never raises.

    Examples
    --------
    >>> import numpy as np
    >>> def mine(bandwidth):
    ...     w_query = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ...     w_key = np.array([[1.0, 0.0, 0.0], [0.0, -0.5, 0.0]]) * np.sqrt(2) / bandwidth ** 2
    ...     return w_query, w_key
    >>> check_gaussian_projections(mine)
    Correct: your Gaussian head matches the package on all 3 test cases.
    True
    """
    if not callable(student):
        return run_cases(student, None, [], exercise="your Gaussian head")
    rng = np.random.default_rng(11)
    cases = [dict(bandwidth=h, x_context=rng.uniform(-1, 1, 12), y_context=rng.normal(size=12),
                  x_query=rng.uniform(-1, 1, 5)) for h in (1.0, 0.3, 0.08)]

    def through_head(bandwidth, x_context, y_context, x_query):
        result = student(bandwidth=bandwidth)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise ValueError(f"the function must return a pair (w_query, w_key); it returned {type(result).__name__}")
        w_query, w_key = (np.asarray(r, dtype=np.float64) for r in result)
        return in_context_attention(x_context, y_context, x_query, w_query=w_query, w_key=w_key,
                                    w_value=np.array([0.0, 0.0, 0.0, 1.0]))

    def reference(bandwidth, x_context, y_context, x_query):
        return nadaraya_watson(x_context, y_context, x_query, bandwidth=bandwidth)

    return run_cases(through_head, reference, cases, exercise="your Gaussian head", atol=1e-8, rtol=1e-6)
