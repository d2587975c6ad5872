"""Multi-head attention is a sum of kernel smoothers, mixed linearly.

Head h smooths its values ``W_V^h x_j`` with its own kernel
``exp((W_Q^h x) . (W_K^h x') / sqrt(d_head))``, and the layer adds the heads up:
``out(x) = sum_h W_O^h NW_h(x)``. Each head is :func:`lenakernel.softmax_attention`.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _validation as _v
from ._backend import as_tensors
from .attention import softmax_attention

__all__ = ["multi_head_attention"]


def _check_weights(x_query, x_context, w_query, w_key, w_value, w_out):
    _v.check_min_ndim(x_query, "x_query", 2, "(..., m, d_model)")
    _v.check_min_ndim(x_context, "x_context", 2, "(..., n, d_model)")
    _v.check_same_size(x_query, "x_query", -1, x_context, "x_context", -1, "token size d_model (last axis)")
    _v.check_ndim(w_query, "w_query", (3,), "(H, d_head, d_model)")
    _v.check_ndim(w_key, "w_key", (3,), "(H, d_head, d_model)")
    _v.check_ndim(w_value, "w_value", (3,), "(H, d_v, d_model)")
    _v.check_ndim(w_out, "w_out", (3,), "(H, d_out, d_v)")
    if tuple(w_key.shape) != tuple(w_query.shape):
        raise ValueError(
            f"`w_key` must have the shape of `w_query` (H, d_head, d_model) = "
            f"{tuple(w_query.shape)}; got shape {tuple(w_key.shape)}."
        )
    for w, name in ((w_query, "w_query"), (w_value, "w_value")):
        _v.check_same_size(w, name, -1, x_query, "x_query", -1, "token size d_model (last axis)")
    _v.check_same_size(w_value, "w_value", 0, w_query, "w_query", 0, "number of heads H (first axis)")
    _v.check_same_size(w_out, "w_out", 0, w_query, "w_query", 0, "number of heads H (first axis)")
    _v.check_same_size(w_out, "w_out", -1, w_value, "w_value", 1, "value size d_v")
    for t, name in ((x_query, "x_query"), (x_context, "x_context"), (w_query, "w_query"),
                    (w_key, "w_key"), (w_value, "w_value"), (w_out, "w_out")):
        _v.check_finite(t, name)


def _with_head_axis(mask):
    """Insert the head axis in front of a mask's (m, n) axes, for NumPy or torch."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        mask = np.asarray(mask)
    if mask.ndim < 2:
        raise ValueError(f"`mask` must have shape (..., m, n), one row per query; "
                         f"got shape {tuple(mask.shape)}.")
    return mask.unsqueeze(-3) if isinstance(mask, torch.Tensor) else mask[..., None, :, :]


def multi_head_attention(x_query, x_context, *, w_query, w_key, w_value, w_out, mask=None,
                         causal=False, return_weights=False):
    """A multi-head attention layer, written as a sum of Nadaraya-Watson smoothers.

    ``out(x) = sum_h W_O^h sum_j softmax_j((W_Q^h x) . (W_K^h x_j) / sqrt(d_head)) W_V^h x_j``.
    Each head is one call of :func:`lenakernel.softmax_attention` (a kernel smoother with
    the learned metric ``W_Q^h^T W_K^h``); the layer mixes the heads' outputs linearly.
    Column-vector convention as in the book: ``q = W_Q x``, so a token's row ``x`` is
    projected as ``x @ W_Q.T``. Without biases this is ``torch.nn.MultiheadAttention``
    with ``bias=False``, whose packed weights hold ``W_Q^h`` in rows
    ``h*d_head:(h+1)*d_head`` and ``W_O^h`` in the same columns of the output projection.

    Derived in chapter 6.

    Parameters
    ----------
    x_query : array of shape (..., m, d_model)
        The tokens that ask (for self-attention, the same as ``x_context``).
    x_context : array of shape (..., n, d_model)
        The tokens attended over: the training set of every head.
    w_query, w_key : array of shape (H, d_head, d_model)
        Each head's query and key projections.
    w_value : array of shape (H, d_v, d_model)
        Each head's value projection.
    w_out : array of shape (H, d_out, d_v)
        Each head's block of the output projection.
    mask : boolean array of shape (..., m, n), optional
        True where query i may attend token j; the same for every head.
    causal : bool, default False
        Query i attends tokens ``j <= i + (n - m)``, as in :func:`softmax_attention`.
    return_weights : bool, default False
        Also return each head's attention weights.

    Returns
    -------
    out : array of shape (..., m, d_out)
        The layer's output, the sum over heads.
    weights : array of shape (..., H, m, n)
        Only if ``return_weights``: row i of head h is head h's N-W weight vector.

    Raises
    ------
    ValueError
        If a shape disagrees (the message names the argument) or an input is not finite.

    Examples
    --------
    Two heads of width 1 on three tokens; each head copies one coordinate.

    >>> import numpy as np
    >>> x = np.eye(3)
    >>> w_query = np.array([[[0.0, 0.0, 9.0]], [[0.0, 0.0, 9.0]]])   # (H=2, 1, 3)
    >>> w_key = np.array([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]])
    >>> w_value = w_key.copy()
    >>> w_out = np.array([[[1.0], [0.0], [0.0]], [[0.0], [1.0], [0.0]]])  # (2, 3, 1)
    >>> out = multi_head_attention(x[2:], x, w_query=w_query, w_key=w_key,
    ...                            w_value=w_value, w_out=w_out)
    >>> print(np.round(out, 4))
    [[0.9998 0.9998 0.    ]]
    """
    tensors, restore = as_tensors(x_query=x_query, x_context=x_context, w_query=w_query,
                                  w_key=w_key, w_value=w_value, w_out=w_out)
    xq, xc, wq, wk, wv, wo = (tensors[name] for name in
                              ("x_query", "x_context", "w_query", "w_key", "w_value", "w_out"))
    _check_weights(xq, xc, wq, wk, wv, wo)

    # (..., 1, m, d_model) @ (H, d_model, d_head) -> (..., H, m, d_head): one slice per head.
    q = xq.unsqueeze(-3) @ wq.transpose(-1, -2)
    k = xc.unsqueeze(-3) @ wk.transpose(-1, -2)
    v = xc.unsqueeze(-3) @ wv.transpose(-1, -2)
    result = softmax_attention(q, k, v, mask=_with_head_axis(mask), causal=causal,
                               return_weights=return_weights)
    heads, weights = result if return_weights else (result, None)
    # sum_h W_O^h NW_h: (..., H, m, d_v) against (H, d_out, d_v).
    out = torch.einsum("...hmv,hov->...mo", heads, wo)
    return restore((out, weights) if return_weights else out)
