"""Operation counts: the model every measured time is compared with.

A multiply-add counts as two operations; ``exp`` and the other elementwise steps count
as one each. All counts are per head, with queries and keys of width d, values of width
d_v and n tokens; multiply by the number of heads for a whole call.
"""

from __future__ import annotations

__all__ = [
    "softmax_attention_ops",
    "linear_attention_ops",
    "chunked_causal_ops",
    "crossover_model",
]


def softmax_attention_ops(n: int, d: int, d_v: int | None = None) -> float:
    """Softmax attention: 2n^2 d (scores) + 3n^2 (max, exp, sum) + 2n^2 d_v (weights @ V)
    + n d_v (the division).

    >>> softmax_attention_ops(8, 4)
    1248.0
    """
    d_v = d if d_v is None else d_v
    return float(2 * n * n * d + 3 * n * n + 2 * n * n * d_v + n * d_v)


def linear_attention_ops(n: int, d: int, d_v: int | None = None) -> float:
    """Non-causal linear attention with elu+1 features (D = d):
    2n d (phi of Q) + 2n d (phi of K) + 2n d d_v (phi(K)^T V) + n d (z)
    + 2n d d_v (phi(Q) S) + 2n d (phi(Q) z) + n d_v (the division).

    >>> linear_attention_ops(8, 4)
    768.0
    """
    d_v = d if d_v is None else d_v
    return float(4 * n * d + 2 * n * d * d_v + n * d + 2 * n * d * d_v + 2 * n * d + n * d_v)


def chunked_causal_ops(n: int, d: int, d_v: int | None = None, chunk: int = 64) -> float:
    """The matrix products of chunk-wise causal linear attention (chunk size C):
    inside each chunk the masked C x C form costs 2C^2 d (scores) + 2C^2 d_v (scores @ V),
    and across chunks 2C d d_v (phi(Q_c) S) + 2C d d_v (the state update phi(K_c)^T V_c),
    so n/C chunks cost F = 2 n C (d + d_v) + 4 n d d_v. Elementwise work (features,
    normaliser, masking) adds about n (C + 7d), under 2% at C = d = 64, and is left out.

    >>> chunked_causal_ops(128, 64, chunk=64)
    4194304.0
    """
    d_v = d if d_v is None else d_v
    return float(2 * n * chunk * (d + d_v) + 4 * n * d * d_v)


def crossover_model(d: int, d_v: int | None = None) -> float:
    """The n at which the two operation counts above are equal.

    Per head, softmax costs n^2 (2d + 2d_v + 3) + n d_v and linear attention
    n (4 d d_v + 7d + d_v); equal at n* = (4 d d_v + 7d) / (2d + 2d_v + 3), about d
    when d_v = d.

    >>> round(crossover_model(64), 2)
    64.99
    """
    d_v = d if d_v is None else d_v
    return (4 * d * d_v + 7 * d) / (2 * d + 2 * d_v + 3)
