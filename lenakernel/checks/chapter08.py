"""Checkers for chapter 8's exercises: causal linear attention, recurrent and chunked."""

from __future__ import annotations

import numpy as np

from ..linear_attention import linear_attention
from ._core import run_cases

__all__ = ["check_causal_linear_attention", "check_chunked_linear_attention"]


def _sequence(rng, n, d, dv, lead=()):
    return {"q": rng.standard_normal(lead + (n, d)), "k": rng.standard_normal(lead + (n, d)),
            "v": rng.standard_normal(lead + (n, dv))}


def _causal_reference(q, k, v):
    return linear_attention(q, k, v, feature_map="elu+1", causal=True, method="quadratic", eps=0.0)


def check_causal_linear_attention(student) -> bool:
    """Check ``student(q, k, v)``: causal linear attention with the elu+1 feature map.

    Output i must use keys and values 1..i only:
    ``phi(q_i)^T S_i / phi(q_i)^T z_i`` with ``S_i = sum_{j<=i} phi(k_j) v_j^T`` and
    ``z_i = sum_{j<=i} phi(k_j)``, ``phi = elu + 1``. Inputs are ``(n, d)``, ``(n, d)``,
    ``(n, d_v)``; the result is ``(n, d_v)``. Any correct method passes.

    Parameters
    ----------
    student : callable
        ``student(q, k, v)`` returning an array of shape ``(n, d_v)``.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way.

    Examples
    --------
    >>> import numpy as np
    >>> import lenakernel as lk
    >>> def recurrent(q, k, v):
    ...     phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    ...     state, normaliser = np.zeros((q.shape[1], v.shape[1])), np.zeros(q.shape[1])
    ...     out = []
    ...     for t in range(len(q)):
    ...         state = state + np.outer(phi_k[t], v[t])
    ...         normaliser = normaliser + phi_k[t]
    ...         out.append(phi_q[t] @ state / (phi_q[t] @ normaliser))
    ...     return np.array(out)
    >>> check_causal_linear_attention(recurrent)
    Correct: causal linear attention matches the package on all 4 test cases.
    True
    """
    rng = np.random.default_rng(8)
    cases = [_sequence(rng, n, d, dv) for n, d, dv in ((6, 3, 2), (1, 4, 3), (17, 2, 1), (40, 5, 4))]
    return run_cases(student, _causal_reference, cases, exercise="causal linear attention")


def _chunked_reference(q, k, v, chunk_size):
    return linear_attention(q, k, v, feature_map="elu+1", causal=True, method="quadratic", eps=0.0)


def check_chunked_linear_attention(student) -> bool:
    """Check ``student(q, k, v, chunk_size)``: chunk-wise causal linear attention.

    The result must equal causal linear attention (elu+1 features) for every sequence
    length, including lengths that are not a multiple of ``chunk_size``, shorter than one
    chunk, or a single token.

    Parameters
    ----------
    student : callable
        ``student(q, k, v, chunk_size)`` returning an array of shape ``(n, d_v)``.

    Returns
    -------
    bool
        True when every case matches; a verdict is printed either way.

    Examples
    --------
    >>> import lenakernel as lk
    >>> def chunked(q, k, v, chunk_size):
    ...     return lk.linear_attention(q, k, v, causal=True, chunk_size=chunk_size, eps=0.0)
    >>> check_chunked_linear_attention(chunked)
    Correct: chunked causal linear attention matches the package on all 5 test cases.
    True
    """
    rng = np.random.default_rng(88)
    cases = []
    for n, chunk_size in ((12, 4), (13, 4), (3, 8), (1, 5), (50, 7)):
        case = _sequence(rng, n, 3, 2)
        case["chunk_size"] = chunk_size
        cases.append(case)
    return run_cases(student, _chunked_reference, cases, exercise="chunked causal linear attention")
