"""Checkers for chapter 5's exercises (in-context regression)."""

from __future__ import annotations

import numpy as np

import lenakernel as lk

from ._core import Case, Mistake, Wrong, as_array, run_cases

__all__ = ["check_in_context_attention", "check_gaussian_projections"]

# The lenakernel functions each exercise may use; the exercise text says the same.
IN_CONTEXT_HEAD_ALLOWED: tuple = ()
GAUSSIAN_PROJECTIONS_ALLOWED: tuple = ()


def _head(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    return lk.in_context_attention(x_context, y_context, x_query, w_query=w_query, w_key=w_key,
                                w_value=w_value, temperature=temperature)


def _head_cases():
    rng = np.random.default_rng(5)
    cases = []
    for name, tasks, n, m, d_k, tau in (("one task, no task axis", None, 5, 3, 3, 1.0),
                                        ("2 tasks (a leading task axis)", 2, 8, 4, 2, 0.5),
                                        ("3 tasks, temperature 0.002", 3, 6, 2, 4, 0.002)):
        shape = () if tasks is None else (tasks,)
        note = ("the inputs have a leading task axis: (tasks, n) and (tasks, m); use the last axes only"
                if tasks else "")
        if tau < 0.01:
            note = "a low temperature: the scores reach the thousands, so subtract each row's maximum before exp"
        cases.append(Case(name, dict(
            x_context=rng.uniform(-1, 1, shape + (n,)), y_context=rng.normal(size=shape + (n,)),
            x_query=rng.uniform(-1, 1, shape + (m,)), w_query=rng.normal(size=(d_k, 3)),
            w_key=rng.normal(size=(d_k, 3)), w_value=rng.normal(size=4), temperature=tau), note=note))
    return cases


def _softmax_over_queries(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    def lift(x):
        return np.stack([x, x**2, np.ones_like(x)], axis=-1)
    scores = lift(x_query) @ w_query.T @ np.swapaxes(lift(x_context) @ w_key.T, -1, -2)
    scores = scores / (temperature * np.sqrt(len(w_query)))
    weights = np.exp(scores - scores.max(-2, keepdims=True))
    weights = weights / weights.sum(-2, keepdims=True)
    values = np.concatenate([lift(x_context), y_context[..., None]], axis=-1) @ w_value
    return (weights @ values[..., None])[..., 0]


_HEAD_MISTAKES = [
    Mistake("divide the scores by temperature * sqrt(d_k): the sqrt(d_k) is missing",
            lambda w_query, temperature, **rest:
            _head(w_query=w_query, temperature=temperature / np.sqrt(len(w_query)), **rest)),
    Mistake("divide the scores by the temperature, do not multiply",
            lambda w_query, temperature, **rest:
            _head(w_query=w_query, temperature=1 / temperature, **rest)),
    Mistake("the softmax runs over the context (the last axis of the scores): each query's weights sum to 1",
            _softmax_over_queries),
]


def check_in_context_attention(student) -> bool:
    """Check ``student(x_context, y_context, x_query, w_query, w_key, w_value, temperature)``.

    The function is the in-context regression head of chapter 5: tokens
    ``[x, x^2, 1, y]``, queries and keys from the x-features, values from the whole
    token, scores divided by ``temperature * sqrt(d_k)``. It must accept leading task
    dimensions, ``(..., n)`` and ``(..., m)``, and return ``(..., m)``; the reference is
    :func:`lenakernel.in_context_attention`. Cases: one task, no task axis; 2 tasks (a
    leading task axis); 3 tasks, temperature 0.002 (needs the max-subtracted softmax).
    Allowed from lenakernel: nothing (NumPy only). Checks values only.

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
    >>> def my_in_context_head(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    ...     raise NotImplementedError
    >>> check_in_context_attention(my_in_context_head)
    The in-context regression head. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    return run_cases(student, _head, _head_cases(), exercise="The in-context regression head",
                     allowed=IN_CONTEXT_HEAD_ALLOWED, mistakes=_HEAD_MISTAKES)


def check_gaussian_projections(student) -> bool:
    """Check ``student(bandwidth) -> (w_query, w_key)`` makes the head a Gaussian smoother.

    With the student's projections (each ``(d_k, 3)``), ``w_value = [0, 0, 0, 1]`` and
    temperature 1, the head :func:`lenakernel.in_context_attention` must give exactly the
    Nadaraya-Watson prediction with the Gaussian kernel of that bandwidth
    (:func:`lenakernel.nadaraya_watson`) on a context of 12 points the checker draws (your
    function gets only the bandwidth). Complex entries with a nonzero imaginary part are
    refused. Cases: bandwidth 1; bandwidth 0.3; bandwidth 0.08. Allowed from lenakernel:
    nothing (NumPy only). Checks values only.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(bandwidth)``.

    Returns
    -------
    bool
        True if every case matches; a verdict is printed either way; never raises.

    Examples
    --------
    >>> def my_gaussian_projections(bandwidth):
    ...     raise NotImplementedError
    >>> check_gaussian_projections(my_gaussian_projections)
    The Gaussian head. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    rng = np.random.default_rng(11)
    note = "the head runs with your projections on 12 context points in [-1, 1] and 5 queries"
    cases = [Case(f"bandwidth {h:g}", {"bandwidth": h}, note=note,
                  extra=dict(x_context=rng.uniform(-1, 1, 12), y_context=rng.normal(size=12),
                             x_query=rng.uniform(-1, 1, 5))) for h in (1.0, 0.3, 0.08)]
    seen = {"d_k": 1}

    def through_head(student, bandwidth, x_context, y_context, x_query):
        result = student(bandwidth)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise Wrong(f"your function must return a pair (w_query, w_key), but it returned "
                        f"{type(result).__name__}", hint="end with `return w_query, w_key`")
        w_query, w_key = as_array(result[0], "w_query", finite=True), as_array(result[1], "w_key", finite=True)
        if w_query.ndim != 2 or w_query.shape[1] != 3 or w_key.shape != w_query.shape:
            raise Wrong(f"w_query has shape {w_query.shape} and w_key {w_key.shape}; both must be (d_k, 3)")
        seen["d_k"] = w_query.shape[0]
        return _head(x_context, y_context, x_query, w_query.astype(np.float64), w_key.astype(np.float64),
                     np.array([0.0, 0.0, 0.0, 1.0]), 1.0)

    def reference(bandwidth, x_context, y_context, x_query):
        return lk.nadaraya_watson(x_context, y_context, x_query, bandwidth=bandwidth)

    def nw_at(width):
        return lambda bandwidth, **data: reference(width(bandwidth), **data)

    mistakes = [
        Mistake("the head divides the scores by sqrt(d_k): multiply w_key (or w_query) by sqrt(d_k)",
                nw_at(lambda h: h * seen["d_k"] ** 0.25)),
        Mistake("the scores need 1 / h^2, not 1 / h", nw_at(np.sqrt)),
    ]
    return run_cases(student, reference, cases, exercise="The Gaussian head",
                     allowed=GAUSSIAN_PROJECTIONS_ALLOWED, call=through_head, mistakes=mistakes)
