"""Checkers for chapter 3's exercises (the Gaussian connection)."""

from __future__ import annotations

import math

import numpy as np

from ..attention import gaussian_attention
from ._core import run_cases

__all__ = ["check_qk_norm_attention"]


def _reference_qk_norm(q, k, v, temperature):
    # Unit-length queries and keys make softmax attention at scale 1/temperature a
    # Gaussian smoother with bandwidth sqrt(temperature): the chapter's identity.
    q_hat = q / np.linalg.norm(q, axis=-1, keepdims=True)
    k_hat = k / np.linalg.norm(k, axis=-1, keepdims=True)
    return gaussian_attention(q_hat, k_hat, v, bandwidth=math.sqrt(temperature))


def _qk_norm_cases():
    rng = np.random.default_rng(2003)
    cases = []
    for m, n, d, d_v, temperature in [(1, 1, 2, 1, 1.0), (3, 5, 2, 1, 0.5), (4, 7, 3, 2, 0.1),
                                      (6, 9, 8, 3, 2.0), (2, 6, 4, 2, 0.02)]:
        cases.append({"q": 3.0 * rng.standard_normal((m, d)), "k": rng.standard_normal((n, d)),
                      "v": rng.standard_normal((n, d_v)), "temperature": temperature})
    return cases


def check_qk_norm_attention(student) -> bool:
    """Check ``student(q, k, v, temperature)``: attention with normalised queries and keys.

    Each row of ``q`` (m, d) and ``k`` (n, d) is divided by its Euclidean length, then
    softmax attention is taken with scale ``1 / temperature``. Result shape (m, d_v).
    The reference is :func:`lenakernel.gaussian_attention` on the normalised rows with
    bandwidth ``sqrt(temperature)``, so a correct answer confirms the identity too.

    Parameters
    ----------
    student : callable
        The student's function ``student(q, k, v, temperature)``.

    Returns
    -------
    bool
        True if every case matches; a verdict is printed either way.

    Examples
    --------
    >>> import numpy as np
    >>> import lenakernel as lk
    >>> def qk_norm(q, k, v, temperature):
    ...     q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    ...     k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    ...     return lk.softmax_attention(q, k, v, scale=1 / temperature)
    >>> check_qk_norm_attention(qk_norm)
    Correct: QK-norm attention matches the package on all 5 test cases.
    True
    """
    return run_cases(student, _reference_qk_norm, _qk_norm_cases(), exercise="QK-norm attention")
