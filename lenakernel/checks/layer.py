"""Checkers for chapter 6's exercises (from one head to a layer)."""

from __future__ import annotations

import numpy as np

from ..multi_head import multi_head_attention
from ._core import run_cases

__all__ = ["check_multi_head_attention"]

# The lenakernel functions the exercise allows (named in the verdict).
MULTI_HEAD_ALLOWED: tuple = ("lk.softmax_attention",)


def _reference_multi_head(x, w_query, w_key, w_value, w_out):
    return multi_head_attention(x, x, w_query=w_query, w_key=w_key, w_value=w_value, w_out=w_out)


def _multi_head_cases():
    rng = np.random.default_rng(1313)
    cases = []
    # (tokens n, d_model, heads H, d_head, d_v, d_out)
    for n, d_model, heads, d_head, d_v, d_out in [(1, 2, 1, 2, 2, 2), (5, 4, 1, 4, 4, 4), (6, 4, 2, 2, 2, 4),
                                                  (7, 6, 3, 2, 3, 5), (4, 8, 4, 1, 2, 8)]:
        cases.append({"x": rng.standard_normal((n, d_model)),
                      "w_query": rng.standard_normal((heads, d_head, d_model)),
                      "w_key": rng.standard_normal((heads, d_head, d_model)),
                      "w_value": rng.standard_normal((heads, d_v, d_model)),
                      "w_out": rng.standard_normal((heads, d_out, d_v))})
    # Scores in the hundreds: exp overflows unless each row's maximum is subtracted.
    big = {name: 10.0 * value for name, value in cases[2].items()}
    cases.append(big)
    return cases


def check_multi_head_attention(student) -> bool:
    """Check ``student(x, w_query, w_key, w_value, w_out)``: a multi-head self-attention layer.

    ``x`` has shape (n, d_model); ``w_query`` and ``w_key`` shape (H, d_head, d_model),
    ``w_value`` shape (H, d_v, d_model) and ``w_out`` shape (H, d_out, d_v). The answer
    is the (n, d_out) array ``sum_c W_O^c NW_c(x_i)``, where head c is softmax attention
    with scale ``1 / sqrt(d_head)`` on the projections ``x @ W_Q^c.T``, ``x @ W_K^c.T``,
    ``x @ W_V^c.T``. Cases: one token; one head; two to four heads of different widths;
    scores in the hundreds (the row maximum must be subtracted).

    Allowed from lenakernel: ``lk.softmax_attention``.

    Parameters
    ----------
    student : callable
        The student's function, called with the arguments above, by position.

    Returns
    -------
    bool
        True if every case matches :func:`lenakernel.multi_head_attention`; a verdict is
        printed either way.

    Examples
    --------
    >>> def my_multi_head_attention(x, w_query, w_key, w_value, w_out):
    ...     raise NotImplementedError
    >>> check_multi_head_attention(my_multi_head_attention)
    Multi-head attention. Allowed from lenakernel: lk.softmax_attention. Checks values only.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    return run_cases(student, _reference_multi_head, _multi_head_cases(), exercise="Multi-head attention",
                     allowed=MULTI_HEAD_ALLOWED)
