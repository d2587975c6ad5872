"""Readable references: each tuned path of the package, written as its definition.

The fast functions block, fuse, stream and stabilise; these say in a few lines what they
compute, on small torch tensors, with no validation. The tests hold every tuned path to
its reference (the pattern of flash-linear-attention's ``naive.py``).
"""

from __future__ import annotations

import torch

__all__ = [
    "nadaraya_watson_reference",
    "softmax_attention_reference",
    "linear_attention_reference",
    "favor_attention_reference",
    "rff_nadaraya_watson_reference",
]


def nadaraya_watson_reference(x_train, y_train, x_query, bandwidth):
    """Gaussian N-W, ``softmax_j(-||x - x_j||^2 / (2 h^2)) @ y``, as one dense matrix.

    Reference for :func:`lenakernel.nadaraya_watson` (blocked, any kernel). Points are
    ``(n, p)``, outputs ``(n, q)``.

    Parameters
    ----------
    x_train : torch.Tensor, shape (n, p)
    y_train : torch.Tensor, shape (n, q)
    x_query : torch.Tensor, shape (m, p)
    bandwidth : float
        h > 0.

    Returns
    -------
    torch.Tensor, shape (m, q)

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
    >>> nadaraya_watson_reference(x, x ** 2, torch.tensor([[1.0]], dtype=torch.float64), 1.0)
    tensor([[1.5481]], dtype=torch.float64)
    """
    squared = ((x_query[:, None, :] - x_train[None, :, :]) ** 2).sum(-1)
    return torch.softmax(-squared / (2 * bandwidth**2), dim=-1) @ y_train


def softmax_attention_reference(q, k, v, scale, causal=False):
    """``softmax(scale q k^T) v``, with the causal mask ``j <= i`` (m == n) if asked.

    Reference for :func:`lenakernel.softmax_attention` (fused or blocked).

    Parameters
    ----------
    q : torch.Tensor, shape (..., m, d)
    k : torch.Tensor, shape (..., n, d)
    v : torch.Tensor, shape (..., n, d_v)
    scale : float
        The inverse temperature.
    causal : bool, default False

    Returns
    -------
    torch.Tensor, shape (..., m, d_v)

    Examples
    --------
    >>> import torch
    >>> q = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    >>> softmax_attention_reference(q, k, torch.tensor([[10.0], [20.0]], dtype=torch.float64), 1.0)
    tensor([[12.6894]], dtype=torch.float64)
    """
    scores = scale * q @ k.mT
    if causal:
        scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), -torch.inf)
    return torch.softmax(scores, dim=-1) @ v


def linear_attention_reference(fq, fk, v, causal=False, eps=0.0):
    """``A v / (A 1 + eps)`` with ``A = phi(Q) phi(K)^T`` (lower-triangular if causal).

    Reference for :func:`lenakernel.linear_attention` (every method), given the features.

    Parameters
    ----------
    fq : torch.Tensor, shape (..., m, r)
        Query features.
    fk : torch.Tensor, shape (..., n, r)
        Key features.
    v : torch.Tensor, shape (..., n, d_v)
    causal : bool, default False
    eps : float, default 0.0
        Added to the normaliser.

    Returns
    -------
    torch.Tensor, shape (..., m, d_v)

    Examples
    --------
    >>> import torch
    >>> f = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    >>> linear_attention_reference(f, f, torch.tensor([[1.0], [4.0]], dtype=torch.float64), causal=True)
    tensor([[1.],
            [3.]], dtype=torch.float64)
    """
    weights = fq @ fk.mT
    if causal:
        weights = weights.tril()
    return weights @ v / (weights.sum(-1, keepdim=True) + eps)


def favor_attention_reference(q, k, v, projection, scale, causal=False):
    """Linear attention with the positive features of ``sqrt(scale) q`` and ``sqrt(scale) k``.

    Reference for :func:`lenakernel.favor_attention` (stabilised; the reference overflows
    for large norms).

    Parameters
    ----------
    q : torch.Tensor, shape (..., m, d)
    k : torch.Tensor, shape (..., n, d)
    v : torch.Tensor, shape (..., n, d_v)
    projection : torch.Tensor, shape (s, d)
        The random directions.
    scale : float
        Softmax's scale.
    causal : bool, default False

    Returns
    -------
    torch.Tensor, shape (..., m, d_v)

    Examples
    --------
    >>> import torch
    >>> w = torch.eye(2, dtype=torch.float64)
    >>> x = torch.zeros(1, 2, dtype=torch.float64)
    >>> favor_attention_reference(x, x, torch.ones(1, 1, dtype=torch.float64), w, 1.0)
    tensor([[1.]], dtype=torch.float64)
    """
    def positive(x):
        x = x * scale**0.5
        return torch.exp(x @ projection.mT - (x * x).sum(-1, keepdim=True) / 2) / projection.shape[0] ** 0.5

    return linear_attention_reference(positive(q), positive(k), v, causal=causal)


def rff_nadaraya_watson_reference(x_train, y_train, x_query, directions, bandwidth):
    """Linear attention with random Fourier features ``[cos(W x / h), sin(W x / h)]``, no eps.

    Reference for :func:`lenakernel.rff_nadaraya_watson` (blocked, O(s) memory).

    Parameters
    ----------
    x_train : torch.Tensor, shape (n, p)
    y_train : torch.Tensor, shape (n, q)
    x_query : torch.Tensor, shape (m, p)
    directions : torch.Tensor, shape (s, p)
        The random directions W.
    bandwidth : float
        h > 0.

    Returns
    -------
    torch.Tensor, shape (m, q)

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    >>> w = torch.tensor([[0.5]], dtype=torch.float64)
    >>> rff_nadaraya_watson_reference(x, torch.tensor([[1.0], [3.0]], dtype=torch.float64), x[:1], w, 1.0)
    tensor([[1.9348]], dtype=torch.float64)
    """
    def fourier(x):
        angles = x @ directions.mT / bandwidth
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)

    return linear_attention_reference(fourier(x_query), fourier(x_train), y_train)
