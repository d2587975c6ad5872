"""Linear attention: attention whose kernel factorises, K(q, k) = phi(q) . phi(k).

out_i = phi(q_i)^T S / phi(q_i)^T z with S = sum_j phi(k_j) v_j^T and z = sum_j phi(k_j):
computing S once makes attention O(n) instead of O(n^2) (chapter 6); summing only over
j <= i turns it into an RNN with a fixed-size state (chapter 8); with positive random
features it becomes FAVOR+, an unbiased-kernel approximation of softmax attention
(chapters 7-8).
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from . import _validation as _v
from ._backend import as_scalar_tensor, as_tensors
from .feature_maps import _as_projection, elu_plus_one, relu_features, sample_projection, taylor_features

__all__ = [
    "linear_attention",
    "LinearAttentionState",
    "favor_attention",
    "rff_nadaraya_watson",
]

FEATURE_MAPS = {"elu+1": elu_plus_one, "relu": relu_features, "taylor": taylor_features}
METHODS = ("quadratic", "prefix_sum", "recurrent", "chunked")
_LOW_PRECISION = (torch.float16, torch.bfloat16)


# --------------------------------------------------------------------------- validation

def _resolve_feature_map(feature_map):
    if isinstance(feature_map, str):
        _v.check_choice(feature_map, "feature_map", tuple(FEATURE_MAPS))
        return FEATURE_MAPS[feature_map]
    if callable(feature_map):
        return feature_map
    raise TypeError(
        "`feature_map` must be one of 'elu+1', 'relu', 'taylor' or a function x -> phi(x); "
        f"got {type(feature_map).__name__}."
    )


def _apply_feature_map(phi, x: torch.Tensor, name: str) -> torch.Tensor:
    features = phi(x)
    if not isinstance(features, torch.Tensor):
        raise TypeError(
            f"`feature_map` must return a torch tensor when given the tensor `{name}`; "
            f"got {type(features).__name__}."
        )
    if features.shape[:-1] != x.shape[:-1] or features.ndim != x.ndim:
        raise ValueError(
            f"`feature_map` must map shape (..., d) to (..., D), keeping the leading dimensions; "
            f"for `{name}` of shape {tuple(x.shape)} it returned shape {tuple(features.shape)}."
        )
    return features


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"`eps` must be a finite number >= 0; got {eps!r}.")
    return float(eps)


def _check_qkv(q, k, v, causal: bool):
    _v.check_min_ndim(q, "q", 2, "(..., m, d)")
    _v.check_min_ndim(k, "k", 2, "(..., n, d)")
    _v.check_min_ndim(v, "v", 2, "(..., n, d_v)")
    _v.check_not_empty(k, "k", axis=-2, what="keys")
    _v.check_not_empty(q, "q", axis=-2, what="queries")
    _v.check_same_size(q, "q", -1, k, "k", -1, "feature dimension d (last axis)")
    _v.check_same_size(k, "k", -2, v, "v", -2, "number of keys n (second-to-last axis)")
    if causal:
        _v.check_same_size(q, "q", -2, k, "k", -2, "sequence length (causal attention needs m == n)")
    return _v.broadcast_leading(2, q=q, k=k, v=v)


def _check_options(causal, method, chunk_size) -> int:
    """Validate the options shared by the linear-attention functions; return chunk_size."""
    if not isinstance(causal, bool):
        raise TypeError(f"`causal` must be True or False; got {causal!r}.")
    _v.check_choice(method, "method", METHODS)
    return _v.check_positive_int(chunk_size, "chunk_size")


def _work_dtype(t: torch.Tensor) -> torch.dtype:
    # Sums of many features need more than float16/bfloat16's 8-11 bits of mantissa.
    return torch.float32 if t.dtype in _LOW_PRECISION else t.dtype


# ------------------------------------------------------------------ exact forms (num, den)
# Each form takes features fq (..., n, D), fk (..., n, D) and values v (..., n, d_v) and
# returns the numerator (..., n, d_v) and the normaliser (..., n, 1).

def _scores(fq, fk):
    """phi(Q) phi(K)^T over the last two axes (einsum: faster on CPU than matmul with .mT)."""
    return torch.einsum("...id,...jd->...ij", fq, fk)


def _noncausal(fq, fk, v):
    kv = fk.mT @ v  # (..., D, d_v): the whole context, summarised once
    z = fk.sum(-2, keepdim=True)  # (..., 1, D)
    return fq @ kv, fq @ z.mT


def _quadratic(fq, fk, v, causal):
    scores = _scores(fq, fk)  # (..., m, n) kernel matrix, O(n^2) memory
    if causal:
        scores = scores.tril()  # exact zeros for j > i
    return scores @ v, scores.sum(-1, keepdim=True)


def _prefix_sum(fq, fk, v):
    states = (fk.unsqueeze(-1) * v.unsqueeze(-2)).cumsum(-3)  # S_t for every t: (..., n, D, d_v)
    normalisers = fk.cumsum(-2)  # z_t for every t
    num = (fq.unsqueeze(-2) @ states).squeeze(-2)
    return num, (fq * normalisers).sum(-1, keepdim=True)


def _update(state, normaliser, fk_t, v_t):
    """One RNN step: S_t = S_{t-1} + phi(k_t) v_t^T and z_t = z_{t-1} + phi(k_t)."""
    return state + fk_t.unsqueeze(-1) * v_t.unsqueeze(-2), normaliser + fk_t


def _readout(fq_t, state, normaliser):
    num = (fq_t.unsqueeze(-2) @ state).squeeze(-2)
    return num, (fq_t * normaliser).sum(-1, keepdim=True)


def _recurrent(fq, fk, v):
    lead = torch.broadcast_shapes(fq.shape[:-2], fk.shape[:-2], v.shape[:-2])
    state = fk.new_zeros(lead + (fk.shape[-1], v.shape[-1]))
    normaliser = fk.new_zeros(lead + (fk.shape[-1],))
    nums, dens = [], []
    for t in range(fq.shape[-2]):
        state, normaliser = _update(state, normaliser, fk[..., t, :], v[..., t, :])
        num, den = _readout(fq[..., t, :], state, normaliser)
        nums.append(num)
        dens.append(den)
    return torch.stack(nums, dim=-2), torch.stack(dens, dim=-2)


def _pad_to_chunks(x, chunk_size):
    """Zero-pad the sequence axis (-2) to a multiple of chunk_size and split it into chunks."""
    n = x.shape[-2]
    pad = (-n) % chunk_size
    if pad:
        x = F.pad(x, (0, 0, 0, pad))
    return x.unflatten(-2, ((n + pad) // chunk_size, chunk_size))


def _exclusive_prefix(x):
    """Along axis -3 (chunks): the sum over earlier chunks only, so chunk c never reads chunk >= c.

    A loop over chunks (not tokens): faster on CPU than ``cumsum`` along a middle axis.
    """
    if x.requires_grad and torch.is_grad_enabled():
        running = torch.zeros_like(x[..., 0, :, :])
        sums = []
        for c in range(x.shape[-3]):
            sums.append(running)
            running = running + x[..., c, :, :]
        return torch.stack(sums, dim=-3)
    sums = torch.empty_like(x)  # no gradient needed: write the running sums in place
    sums[..., 0, :, :] = 0
    for c in range(1, x.shape[-3]):
        torch.add(sums[..., c - 1, :, :], x[..., c - 1, :, :], out=sums[..., c, :, :])
    return sums


def _chunked(fq, fk, v, chunk_size):
    n, features, d_v = fq.shape[-2], fq.shape[-1], v.shape[-1]
    lead = torch.broadcast_shapes(fq.shape[:-2], fk.shape[:-2], v.shape[:-2])
    fq, fk, v = (x.expand(lead + x.shape[-2:]) for x in (fq, fk, v))
    # Padded keys get zero features (padding after phi), so they add nothing.
    fq_c, fk_c, v_c = (_pad_to_chunks(x, chunk_size) for x in (fq, fk, v))
    # Within a chunk: the masked quadratic form, C x C per chunk.
    scores = _scores(fq_c, fk_c).tril_()  # in place is safe: the product does not save its output
    num = scores @ v_c
    den = scores.sum(-1, keepdim=True)
    if fq_c.shape[-3] > 1:
        # Across chunks: the state built by all earlier chunks ...
        state = _exclusive_prefix(fk_c.mT @ v_c)  # (..., chunks, D, d_v)
        normaliser = _exclusive_prefix(fk_c.sum(-2, keepdim=True))  # (..., chunks, 1, D)
        # ... read out by each chunk's queries, added in place: num += fq_c @ state.
        queries = fq_c.reshape(-1, chunk_size, features)
        num.view(-1, chunk_size, d_v).baddbmm_(queries, state.view(-1, features, d_v))
        den.view(-1, chunk_size, 1).baddbmm_(queries, normaliser.mT.reshape(-1, features, 1))
    return num.flatten(-3, -2)[..., :n, :], den.flatten(-3, -2)[..., :n, :]


def _exact_forms(fq, fk, v, causal, method, chunk_size):
    if not causal:
        return _quadratic(fq, fk, v, False) if method == "quadratic" else _noncausal(fq, fk, v)
    if method == "quadratic":
        return _quadratic(fq, fk, v, True)
    if method == "prefix_sum":
        return _prefix_sum(fq, fk, v)
    if method == "recurrent":
        return _recurrent(fq, fk, v)
    return _chunked(fq, fk, v, chunk_size)


def linear_attention(q, k, v, *, feature_map="elu+1", causal=False, method="chunked", chunk_size=64, eps=1e-6):
    r"""Linear attention: the kernel smoother with the factorised kernel :math:`\phi(q)\cdot\phi(k)`.

    .. math::

        \mathrm{out}_i = \frac{\phi(q_i)^\top S}{\phi(q_i)^\top z + \varepsilon},\qquad
        S = \sum_j \phi(k_j) v_j^\top,\quad z = \sum_j \phi(k_j),

    with the sums over all keys, or over :math:`j \le i` when ``causal``. Non-causal, the
    products are reassociated, :math:`\phi(Q)\,(\phi(K)^\top V)`, which costs
    :math:`O(n D d_v)` instead of :math:`O(n^2 D)`.

    Derived in chapter 6 (non-causal) and chapter 8 (causal forms).

    Parameters
    ----------
    q : array_like or torch.Tensor, shape (..., m, d)
    k : array_like or torch.Tensor, shape (..., n, d)
    v : array_like or torch.Tensor, shape (..., n, d_v)
        Leading (batch/head) dimensions broadcast.
    feature_map : {"elu+1", "relu", "taylor"} or callable, default "elu+1"
        A callable gets a torch tensor (..., d) and must return a tensor (..., D) with the
        same leading dimensions. It is applied to queries and keys alike.
    causal : bool, default False
        Query i sees keys 1..i only (needs m == n).
    method : {"quadratic", "prefix_sum", "recurrent", "chunked"}, default "chunked"
        How a causal result is computed; all four agree to rounding:
        ``"quadratic"`` masks the n x n matrix :math:`\phi(Q)\phi(K)^\top`;
        ``"prefix_sum"`` stores every prefix state :math:`S_t` (O(n D d_v) memory);
        ``"recurrent"`` loops over tokens carrying :math:`(S_t, z_t)`, like an RNN;
        ``"chunked"`` runs the masked quadratic form inside chunks of ``chunk_size`` tokens
        and carries the state between chunks (any n: the tail is zero-padded).
        Non-causal, ``"quadratic"`` forms the n x n matrix and every other value uses the
        reassociated product.
    chunk_size : int, default 64
    eps : float, default 1e-6
        Added to the normaliser, which can vanish for maps such as ReLU.

    Returns
    -------
    out : same kind and dtype as ``q``, shape (..., m, d_v)
        float16/bfloat16 inputs are computed in float32 and cast back.

    Raises
    ------
    ValueError
        Mismatched shapes, an unknown ``method`` or ``feature_map`` name, ``chunk_size``
        < 1, or a ``feature_map`` that changes the leading dimensions.

    Notes
    -----
    Inputs are not scanned for NaN (that would cost a pass over the data on the hot path);
    a NaN in the input gives NaN in the outputs that depend on it.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(3, 5, 4))
    >>> out = linear_attention(q, k, v)
    >>> out.shape
    (5, 4)
    >>> phi_q, phi_k = elu_plus_one(q), elu_plus_one(k)
    >>> weights = phi_q @ phi_k.T
    >>> quadratic = weights @ v / (weights.sum(1, keepdims=True) + 1e-6)
    >>> bool(np.allclose(out, quadratic))
    True
    >>> forms = [linear_attention(q, k, v, causal=True, method=m, chunk_size=2)
    ...          for m in ("quadratic", "prefix_sum", "recurrent", "chunked")]
    >>> float(max(np.abs(f - forms[0]).max() for f in forms)) < 1e-12
    True
    """
    tensors, restore = as_tensors(q=q, k=k, v=v)
    q, k, v = tensors["q"], tensors["k"], tensors["v"]
    chunk_size = _check_options(causal, method, chunk_size)
    eps = _check_eps(eps)
    phi = _resolve_feature_map(feature_map)
    _check_qkv(q, k, v, causal)

    out_dtype = q.dtype
    work = _work_dtype(q)
    q, k, v = q.to(work), k.to(work), v.to(work)
    fq = _apply_feature_map(phi, q, "q")
    fk = _apply_feature_map(phi, k, "k")
    if fq.shape[-1] != fk.shape[-1]:
        raise ValueError(
            f"`feature_map` gave queries {fq.shape[-1]} features but keys {fk.shape[-1]}; they must agree."
        )
    num, den = _exact_forms(fq, fk, v.to(fq.dtype), causal, method, chunk_size)
    return restore(_divide(num, den, eps).to(out_dtype))


def _divide(num, den, eps):
    if (num.requires_grad or den.requires_grad) and torch.is_grad_enabled():
        return num / (den + eps)
    return num.div_(den.add_(eps))  # in place when no gradient is needed: one pass fewer


# -------------------------------------------------------------- generation, step by step

class LinearAttentionState:
    r"""The recurrent state of causal linear attention, for generating one token at a time.

    Holds :math:`S_t = \sum_{j\le t}\phi(k_j)v_j^\top` (``feature_dim`` x ``value_dim``) and
    :math:`z_t = \sum_{j\le t}\phi(k_j)`; its size does not grow with the position.
    Stepping through a sequence reproduces ``linear_attention(..., causal=True)``.

    Derived in chapter 8.

    Parameters
    ----------
    feature_dim : int
        D, the length of :math:`\phi(k)`: d for "elu+1" and "relu", 1 + d + d**2 for "taylor".
    value_dim : int
        d_v, the length of a value vector.
    feature_map : {"elu+1", "relu", "taylor"} or callable, default "elu+1"
    batch_shape : tuple of int, default ()
        Leading (batch/head) dimensions of every token.
    dtype : torch.dtype, default torch.float64
        The state's dtype (inputs are cast to it; outputs come back in the query's dtype).
    device : torch.device or str, optional
    eps : float, default 1e-6
        As in :func:`linear_attention`.

    Attributes
    ----------
    position : int
        Number of tokens consumed so far.
    nbytes : int
        Memory held by the state, in bytes (independent of ``position``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> q, k, v = rng.normal(size=(3, 6, 4))
    >>> state = LinearAttentionState(4, 4)
    >>> steps = np.stack([state.step(q[t], k[t], v[t]) for t in range(6)])
    >>> bool(np.allclose(steps, linear_attention(q, k, v, causal=True), rtol=0, atol=1e-12))
    True
    >>> state.position, state.nbytes
    (6, 160)
    """

    def __init__(self, feature_dim, value_dim, *, feature_map="elu+1", batch_shape=(), dtype=torch.float64,
                 device=None, eps=1e-6):
        self.feature_dim = _v.check_positive_int(feature_dim, "feature_dim")
        self.value_dim = _v.check_positive_int(value_dim, "value_dim")
        self._phi = _resolve_feature_map(feature_map)
        try:
            self.batch_shape = tuple(_v.check_positive_int(s, "batch_shape entry") for s in batch_shape)
        except TypeError:
            raise TypeError(f"`batch_shape` must be a tuple of ints; got {batch_shape!r}.") from None
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"`dtype` must be a floating torch.dtype; got {dtype!r}.")
        self.eps = _check_eps(eps)
        self.state = torch.zeros(self.batch_shape + (self.feature_dim, self.value_dim), dtype=dtype, device=device)
        self.normaliser = torch.zeros(self.batch_shape + (self.feature_dim,), dtype=dtype, device=device)
        self.position = 0

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.state, self.normaliser))

    def __repr__(self) -> str:
        return (f"LinearAttentionState(position={self.position}, feature_dim={self.feature_dim}, "
                f"value_dim={self.value_dim}, batch_shape={self.batch_shape}, nbytes={self.nbytes})")

    def step(self, q_t, k_t, v_t):
        """Consume token t (its key and value) and return the output for its query.

        Parameters
        ----------
        q_t, k_t : array_like or torch.Tensor, shape batch_shape + (d,)
        v_t : array_like or torch.Tensor, shape batch_shape + (value_dim,)

        Returns
        -------
        out_t : same kind and dtype as ``q_t``, shape batch_shape + (value_dim,)
        """
        tensors, restore = as_tensors(q_t=q_t, k_t=k_t, v_t=v_t)
        q_t, k_t, v_t = tensors["q_t"], tensors["k_t"], tensors["v_t"]
        out_dtype = q_t.dtype
        for name, t in (("q_t", q_t), ("k_t", k_t)):
            if t.ndim != len(self.batch_shape) + 1 or tuple(t.shape[:-1]) != self.batch_shape:
                raise ValueError(f"`{name}` must have shape batch_shape + (d,) = {self.batch_shape} + (d,); "
                                 f"got shape {tuple(t.shape)}.")
        _v.check_same_size(q_t, "q_t", -1, k_t, "k_t", -1, "feature dimension d")
        if tuple(v_t.shape) != self.batch_shape + (self.value_dim,):
            raise ValueError(f"`v_t` must have shape {self.batch_shape + (self.value_dim,)}; got shape "
                             f"{tuple(v_t.shape)}.")
        like = self.state
        q_t, k_t, v_t = (t.to(dtype=like.dtype, device=like.device) for t in (q_t, k_t, v_t))
        fq_t = _apply_feature_map(self._phi, q_t, "q_t")
        fk_t = _apply_feature_map(self._phi, k_t, "k_t")
        if fk_t.shape[-1] != self.feature_dim or fq_t.shape[-1] != self.feature_dim:
            raise ValueError(f"`feature_map` gave {fk_t.shape[-1]} features but the state was built with "
                             f"`feature_dim`={self.feature_dim}.")
        self.state, self.normaliser = _update(self.state, self.normaliser, fk_t, v_t)
        self.position += 1
        num, den = _readout(fq_t, self.state, self.normaliser)
        return restore((num / (den + self.eps)).to(out_dtype))


# ------------------------------------------------------------------------------ FAVOR+

def _rescaled_scan(log_weight, *values):
    """Inclusive scan of ``sum_{j<=t} exp(log_weight_j - M_t) values_j`` with M_t = max_{j<=t}.

    Hillis-Steele: log2(n) vectorised steps, each combining position t with position
    t - step, so position t only ever reads positions <= t. Every partial sum is kept in
    the frame of its own running maximum: nothing overflows. Returns (M, *sums).
    """
    axis = log_weight.ndim - 1
    n = log_weight.shape[-1]
    frame, values = log_weight, list(values)
    step = 1
    while step < n:
        left, right = frame[..., :-step], frame[..., step:]
        new_frame = torch.maximum(left, right)
        w_left, w_right = torch.exp(left - new_frame), torch.exp(right - new_frame)
        for i, val in enumerate(values):
            extra = (1,) * (val.ndim - log_weight.ndim)
            combined = (w_left.reshape(w_left.shape + extra) * val.narrow(axis, 0, n - step)
                        + w_right.reshape(w_right.shape + extra) * val.narrow(axis, step, n - step))
            values[i] = torch.cat([val.narrow(axis, 0, step), combined], dim=axis)
        frame = torch.cat([frame[..., :step], new_frame], dim=-1)
        step *= 2
    return (frame, *values)


def _favor_quadratic(fq, fk, offset, v, causal):
    if causal:
        frame = offset.cummax(-1).values  # M_t: the largest key offset so far
        mask = torch.ones(offset.shape[-1], offset.shape[-1], dtype=torch.bool, device=offset.device).tril()
        log_w = (offset.unsqueeze(-2) - frame.unsqueeze(-1)).masked_fill(~mask, -math.inf)
    else:
        log_w = (offset - offset.amax(-1, keepdim=True)).unsqueeze(-2)
    scores = (fq @ fk.mT) * torch.exp(log_w)
    return scores @ v, scores.sum(-1, keepdim=True)


def _favor_recurrent(fq, fk, offset, v):
    lead = torch.broadcast_shapes(fq.shape[:-2], fk.shape[:-2], v.shape[:-2])
    state = fk.new_zeros(lead + (fk.shape[-1], v.shape[-1]))
    normaliser = fk.new_zeros(lead + (fk.shape[-1],))
    frame = fk.new_full(lead + (1,), -math.inf)
    nums, dens = [], []
    for t in range(fq.shape[-2]):
        c_t = offset[..., t:t + 1]
        new_frame = torch.maximum(frame, c_t)
        decay, weight = torch.exp(frame - new_frame), torch.exp(c_t - new_frame)
        # Rescale the old state to the new running maximum, then add the token.
        state, normaliser = _update(state * decay.unsqueeze(-1), normaliser * decay,
                                    fk[..., t, :] * weight, v[..., t, :])
        frame = new_frame
        num, den = _readout(fq[..., t, :], state, normaliser)
        nums.append(num)
        dens.append(den)
    return torch.stack(nums, dim=-2), torch.stack(dens, dim=-2)


def _favor_prefix_sum(fq, fk, offset, v):
    _, states, normalisers = _rescaled_scan(offset, fk.unsqueeze(-1) * v.unsqueeze(-2), fk)
    num = (fq.unsqueeze(-2) @ states).squeeze(-2)
    return num, (fq * normalisers).sum(-1, keepdim=True)


def _favor_chunked(fq, fk, offset, v, chunk_size):
    n = fq.shape[-2]
    pad = (-n) % chunk_size
    fq_c, fk_c, v_c = (_pad_to_chunks(x, chunk_size) for x in (fq, fk, v))
    # Padded keys: zero features and offset -inf, so they never raise a running maximum.
    offset = F.pad(offset, (0, pad), value=-math.inf) if pad else offset
    offset_c = offset.unflatten(-1, (fq_c.shape[-3], chunk_size))  # (..., chunks, C)
    frame_c = offset.cummax(-1).values.unflatten(-1, offset_c.shape[-2:])  # M_t, per token
    # Within a chunk: weights exp(c_j - M_t) for j <= t, as in the quadratic form.
    mask = torch.ones(chunk_size, chunk_size, dtype=torch.bool, device=fq.device).tril()
    log_w = (offset_c.unsqueeze(-2) - frame_c.unsqueeze(-1)).masked_fill(~mask, -math.inf)
    scores = (fq_c @ fk_c.mT) * torch.exp(log_w)
    num = scores @ v_c
    den = scores.sum(-1, keepdim=True)
    if fq_c.shape[-3] > 1:
        # Each chunk's summary, in the frame of its own largest offset L_c ...
        local = offset_c.amax(-1)
        weighted = fk_c * torch.exp(offset_c - local.unsqueeze(-1)).unsqueeze(-1)
        frames, states, normalisers = _rescaled_scan(local, weighted.mT @ v_c, weighted.sum(-2))
        # ... combined across earlier chunks only (shift by one chunk), then moved to frame M_t.
        prev_frame = F.pad(frames[..., :-1], (1, 0), value=-math.inf)
        prev_state = F.pad(states[..., :-1, :, :], (0, 0, 0, 0, 1, 0))
        prev_norm = F.pad(normalisers[..., :-1, :], (0, 0, 1, 0))
        decay = torch.exp(prev_frame.unsqueeze(-1) - frame_c).unsqueeze(-1)  # (..., chunks, C, 1)
        num = num + decay * (fq_c @ prev_state)
        den = den + decay * (fq_c @ prev_norm.unsqueeze(-1))
    return num.flatten(-3, -2)[..., :n, :], den.flatten(-3, -2)[..., :n, :]


def favor_attention(q, k, v, *, projection, scale=None, causal=False, method="chunked", chunk_size=64):
    r"""FAVOR+: softmax attention approximated with positive random features, stably.

    Softmax attention uses the kernel :math:`\exp(s\, q\cdot k)` with ``scale`` s; writing it as
    :math:`\exp(q'\cdot k')` with :math:`q' = \sqrt s\, q` and :math:`k' = \sqrt s\, k`, the positive
    features :math:`\phi(x) = \exp(\omega^\top x - \|x\|^2/2)/\sqrt m` of
    :func:`~lenakernel.positive_random_features` estimate it without bias, and linear
    attention with those features approximates softmax attention
    (Choromanski et al. 2021).

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
    projection : array or tensor, shape (num_features, d)
        From :func:`~lenakernel.sample_projection`.
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
    >>> for m in (16, 256, 4096):
    ...     w = sample_projection(m, 4, kind="orthogonal", seed=0)
    ...     print(m, round(float(np.abs(favor_attention(q, k, v, projection=w) - exact).max()), 4))
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
    work = _work_dtype(q)
    q, k, v = q.to(work), k.to(work), v.to(work)
    omega = _as_projection(projection, q, work)
    if scale is None:
        root = q.new_tensor(q.shape[-1] ** -0.25)
    else:
        _v.check_positive_scalar(scale, "scale")
        root = torch.sqrt(as_scalar_tensor(scale, "scale", q))
    q, k = q * root, k * root

    def exponents(x):
        return x @ omega.T - 0.5 * (x * x).sum(-1, keepdim=True)

    inv_sqrt_m = 1.0 / math.sqrt(omega.shape[0])
    eq = exponents(q)
    fq = torch.exp(eq - eq.detach().amax(-1, keepdim=True)) * inv_sqrt_m
    ek = exponents(k)
    offset = ek.detach().amax(-1)  # c_j, one per key
    fk = torch.exp(ek - offset.unsqueeze(-1)) * inv_sqrt_m

    if not causal or method == "quadratic":
        num, den = _favor_quadratic(fq, fk, offset, v, causal) if method == "quadratic" else \
            _noncausal(fq, fk * torch.exp(offset - offset.amax(-1, keepdim=True)).unsqueeze(-1), v)
    elif method == "prefix_sum":
        num, den = _favor_prefix_sum(fq, fk, offset, v)
    elif method == "recurrent":
        num, den = _favor_recurrent(fq, fk, offset, v)
    else:
        num, den = _favor_chunked(fq, fk, offset, v, chunk_size)
    # The normaliser is a sum of positive terms; clamping only turns 0/0 into 0.
    out = num / den.clamp(min=torch.finfo(den.dtype).tiny)
    return restore(out.to(out_dtype))


# ------------------------------------------------------------- linear-time N-W smoothing

def _project(x, directions):
    """x @ directions.T; for one input column a broadcast product (a K=1 matmul is slow on CPU)."""
    return x * directions.T if x.shape[1] == 1 else x @ directions.T


def rff_nadaraya_watson(x_train, y_train, x_query, *, bandwidth, num_features, seed=None, generator=None,
                        kind="orthogonal"):
    r"""Gaussian Nadaraya-Watson smoothing in O(n + m) through random Fourier features.

    The Gaussian kernel :math:`\exp(-\|x-x'\|^2/(2h^2))` is replaced by its random-feature
    estimate :math:`\phi(x)\cdot\phi(x')`, so the smoother reassociates like linear attention:

    .. math:: \hat y(x) = \frac{\phi(x)^\top \sum_j \phi(x_j) y_j^\top}{\phi(x)^\top \sum_j \phi(x_j)}.

    The training sums are accumulated once, in blocks, in O(n D) time and O(D) memory.
    Unlike the Gaussian kernel, the estimate :math:`\phi(x)\cdot\phi(x')` can be negative, so
    the denominator is itself an estimate: where the query sits far from the data it can be
    near zero or negative and the prediction unreliable. More features shrink the error.

    Derived in chapter 7.

    Parameters
    ----------
    x_train : array_like or torch.Tensor, shape (n,) or (n, p)
    y_train : array_like or torch.Tensor, shape (n,) or (n, q)
    x_query : array_like or torch.Tensor, shape (m,) or (m, p)
    bandwidth : float
        h, the Gaussian kernel's standard deviation.
    num_features : int
        Number of random directions (the feature vector has 2 * num_features entries).
    seed, generator :
        Exactly one, as in :func:`~lenakernel.sample_projection`.
    kind : {"orthogonal", "iid", "stratified"}, default "orthogonal"
        How the directions are drawn (:func:`~lenakernel.sample_projection`). For 1-D
        inputs ``"stratified"`` is by far the most accurate for a given ``num_features``.

    Returns
    -------
    y_hat : same kind as the inputs, shape (m,) or (m, q)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 1, 2000)
    >>> y = np.sin(2 * np.pi * x)
    >>> grid = np.linspace(0.2, 0.8, 4)
    >>> weights = np.exp(-(grid[:, None] - x[None, :]) ** 2 / (2 * 0.1 ** 2))
    >>> exact = weights @ y / weights.sum(1)
    >>> approx = rff_nadaraya_watson(x, y, grid, bandwidth=0.1, num_features=1000, seed=0)
    >>> bool(np.abs(approx - exact).max() < 0.02)
    True
    >>> stratified = rff_nadaraya_watson(x, y, grid, bandwidth=0.1, num_features=256, seed=0,
    ...                                  kind="stratified")
    >>> bool(np.abs(stratified - exact).max() < 0.005)
    True
    """
    tensors, restore = as_tensors(x_train=x_train, y_train=y_train, x_query=x_query)
    x, y, xq = tensors["x_train"], tensors["y_train"], tensors["x_query"]
    _v.check_ndim(x, "x_train", (1, 2), "(n,) or (n, p)")
    _v.check_ndim(y, "y_train", (1, 2), "(n,) or (n, q)")
    _v.check_ndim(xq, "x_query", (1, 2), "(m,) or (m, p)")
    _v.check_not_empty(x, "x_train", what="training points")
    _v.check_same_size(x, "x_train", 0, y, "y_train", 0, "number of points")
    for name, t in (("x_train", x), ("y_train", y), ("x_query", xq)):
        _v.check_finite(t, name)
    _v.check_positive_scalar(bandwidth, "bandwidth")
    num_features = _v.check_positive_int(num_features, "num_features")
    x2, xq2 = x.reshape(x.shape[0], -1), xq.reshape(xq.shape[0], -1)
    if xq.ndim != x.ndim or xq2.shape[1] != x2.shape[1]:
        expected = "(m,)" if x.ndim == 1 else f"(m, {x2.shape[1]})"
        raise ValueError(f"`x_query` must have shape {expected} to match `x_train` of shape {tuple(x.shape)}; "
                         f"got shape {tuple(xq.shape)}.")
    y2 = y.reshape(y.shape[0], -1)
    omega = sample_projection(num_features, x2.shape[1], kind=kind, seed=seed, generator=generator)
    sigma = as_scalar_tensor(bandwidth, "bandwidth", x2)
    # The features of random_fourier_features, [cos, sin](omega x / h) / sqrt(m), kept as
    # their two halves (no concatenation); the 1/sqrt(m) factors cancel in the ratio.
    directions = _as_projection(omega, x2, x2.dtype) / sigma
    # A column of ones beside y: the same products then give the denominator too.
    y1 = torch.cat([y2, y2.new_ones(y2.shape[0], 1)], dim=1)

    block = max(1, 2 ** 18 // num_features)  # rows per block: bounded memory
    cos_total = x2.new_zeros(num_features, y1.shape[1])  # sum_j cos(omega x_j / h) [y_j, 1]
    sin_total = x2.new_zeros(num_features, y1.shape[1])
    for start in range(0, x2.shape[0], block):
        angles = _project(x2[start:start + block], directions)
        y_block = y1[start:start + block].mT
        cos_total = cos_total + (y_block @ torch.cos(angles)).mT
        sin_total = sin_total + (y_block @ torch.sin(angles)).mT
    outputs = []
    for start in range(0, xq2.shape[0], block):
        angles = _project(xq2[start:start + block], directions)
        both = torch.cos(angles) @ cos_total + torch.sin(angles) @ sin_total
        outputs.append(both[:, :-1] / both[:, -1:])
    out = torch.cat(outputs, dim=0) if outputs else x2.new_zeros(0, y2.shape[1])
    return restore(out if y.ndim == 2 else out.squeeze(-1))

