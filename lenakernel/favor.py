"""FAVOR+: softmax attention approximated by linear attention with positive random features.

exp(q . k) = E[phi(q) . phi(k)] for phi(x) = exp(W x - ||x||^2 / 2) / sqrt(r) with Gaussian
rows of W (:func:`~lenakernel.positive_random_features`); FAVOR+ is linear attention with
those features, each key's largest exponent kept apart as a per-key log-offset so that
nothing overflows (chapters 7-8).
"""

from __future__ import annotations

import math

import torch

from . import _validation as V
from ._backend import as_tensors, positive_scalar_tensor
from .feature_maps import _as_projection, _positive_exponent
from .linear import _check_options, _check_qkv, _empty_context, _forms

__all__ = ["favor_attention"]


def favor_attention(q, k, v, *, projection, scale=None, causal=False, method="chunked", chunk_size=64):
    r"""FAVOR+: softmax attention approximated with positive random features, stably.

    Softmax attention uses the kernel :math:`\exp(q\cdot k/\tau)` (``scale`` is
    :math:`1/\tau`); writing it as :math:`\exp(q'\cdot k')` with :math:`q' = q/\sqrt\tau` and
    :math:`k' = k/\sqrt\tau`, the ``s`` positive features
    :math:`\phi(x) = \exp(\omega_i^\top x - \|x\|^2/2)/\sqrt s` of
    :func:`~lenakernel.positive_random_features` estimate it without bias, and FAVOR+ *is*
    linear attention with those features (Choromanski et al. 2021): the four forms of
    :func:`~lenakernel.linear_attention`, with per-key log-offsets.

    **Stabilisation.** The exponents grow with the norms of queries and keys, and
    ``exp`` overflows or underflows. Each *query* is divided by its own largest feature
    (a per-row factor that cancels between numerator and normaliser). Each *key* j is
    written as :math:`\phi(k_j) = e^{c_j}\tilde\phi(k_j)` with :math:`c_j` its largest
    exponent, and output i is computed in the frame of the running maximum
    :math:`M_i = \max_{j\le i} c_j`, with key weights :math:`e^{c_j - M_i} \le 1`. The
    frame of output i depends on keys 1..i only, so no later token can change an earlier
    output, not even in the last bit (a maximum over *all* positions would leak the
    future). Non-causal attention may use the maximum over all keys. Offsets are
    treated as constants by autograd; they cancel exactly.

    Derived in chapter 7 (non-causal) and chapter 8 (causal).

    Parameters
    ----------
    q : array_like or torch.Tensor, shape (..., m, d)
    k : array_like or torch.Tensor, shape (..., n, d)
    v : array_like or torch.Tensor, shape (..., n, d_v)
    projection : array or tensor, shape (s, d)
        The ``s`` random directions, from :func:`~lenakernel.sample_projection` (``m``
        is the number of queries; the feature vector has ``s`` entries).
    scale : float, optional
        Softmax's scale; default ``1 / sqrt(d)``.
    causal : bool, default False
    method : {"quadratic", "prefix_sum", "recurrent", "chunked"}, default "chunked"
        As in :func:`linear_attention`; the prefix sum is a rescaled parallel scan.
    chunk_size : int, default 64

    Returns
    -------
    out : same kind and dtype as ``q``, shape (..., m, d_v)

    Examples
    --------
    >>> import numpy as np
    >>> from lenakernel import sample_projection
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(3, 8, 4)) / 2
    >>> s = q @ k.T / 2
    >>> p = np.exp(s - s.max(1, keepdims=True))
    >>> exact = (p / p.sum(1, keepdims=True)) @ v
    >>> for s in (16, 256, 4096):
    ...     w = sample_projection(s, 4, kind="orthogonal", seed=0)
    ...     print(s, round(float(np.abs(favor_attention(q, k, v, projection=w) - exact).max()), 4))
    16 0.0702
    256 0.0218
    4096 0.005
    >>> big = favor_attention(20 * q, 20 * k, v, projection=w, causal=True)
    >>> bool(np.isfinite(big).all())
    True
    """
    tensors, restore = as_tensors(q=q, k=k, v=v)
    q, k, v = tensors["q"], tensors["k"], tensors["v"]
    chunk_size = _check_options(causal, method, chunk_size)
    _check_qkv(q, k, v, causal)
    out_dtype = q.dtype
    work = V.compute_dtype(q)
    q, k, v = q.to(work), k.to(work), v.to(work)
    omega = _as_projection(projection, q, work)
    if scale is None:
        root = q.new_tensor(q.shape[-1] ** -0.25)
    else:
        root = positive_scalar_tensor(scale, "scale", q).sqrt()
    fq, q_offset = _positive_features(q * root, omega)  # a query's own factor cancels in its ratio
    fk, offset = _positive_features(k * root, omega)
    if bool(torch.isinf(q_offset).any() | torch.isinf(offset).any()):  # (NaN input passes through)
        raise ValueError(f"`scale` is too large for {q.dtype}: the exponents of the features of "
                         "sqrt(scale) q and sqrt(scale) k overflow.")
    if fq.shape[-2] == 0 or fk.shape[-2] == 0:  # no queries, or an empty context: output 0
        return restore(_empty_context(fq, fk, v).to(out_dtype))
    # The identity of chapter 7: FAVOR+ is linear attention with positive features.
    num, den = _forms(fq, fk, v, causal, method, chunk_size, offset=offset)
    # The normaliser is a sum of positive terms; clamping only turns 0/0 into 0.
    return restore((num / den.clamp(min=torch.finfo(den.dtype).tiny)).to(out_dtype))


def _positive_features(x, omega):
    """Positive random features of ``x`` divided by exp(c), and c: each row's largest exponent.

    The offset is a constant for autograd; it cancels between numerator and normaliser.
    """
    exponent = _positive_exponent(x, omega)
    offset = exponent.detach().amax(-1)
    return torch.exp(exponent - offset.unsqueeze(-1)) / math.sqrt(omega.shape[0]), offset
