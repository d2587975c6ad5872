"""Linear attention: attention whose kernel factorises, K(q, k) = phi(q) . phi(k).

out_i = phi(q_i)^T S / phi(q_i)^T z with S = sum_j phi(k_j) v_j^T and z = sum_j phi(k_j):
computing S once makes attention O(n) instead of O(n^2) (chapter 7); summing only over
j <= i turns it into an RNN with a fixed-size state (chapter 9). Every form also takes
per-key log-offsets c_j (key j's features scaled by exp(c_j)), which is how FAVOR+ keeps
its positive features finite (:mod:`lenakernel.favor`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import _validation as V
from ._backend import as_tensors
from .causal_linear_backward import _causal_linear_attention, _needs_gradient
from .feature_maps import _apply_feature_map, _elu_plus_one, _resolve_feature_map

__all__ = ["linear_attention", "LinearAttentionState"]

METHODS = ("quadratic", "prefix_sum", "recurrent", "chunked")


# --------------------------------------------------------------------------- validation

def _check_qkv(q, k, v, causal: bool):
    V.check_min_ndim(q, "q", 2, "(..., m, d)")
    V.check_min_ndim(k, "k", 2, "(..., n, d)")
    V.check_min_ndim(v, "v", 2, "(..., n, d_v)")
    V.check_not_empty(q, "q", axis=-1, what="features (last axis)")
    V.check_same_size(q, "q", -1, k, "k", -1, "feature dimension d (last axis)")
    V.check_same_size(k, "k", -2, v, "v", -2, "number of keys n (second-to-last axis)")
    if causal:
        V.check_same_size(q, "q", -2, k, "k", -2, "sequence length (causal attention needs m == n)")
    return V.broadcast_leading(2, q=q, k=k, v=v)


def _check_options(causal, method, chunk_size) -> int:
    """Validate the options shared by the linear-attention functions; return chunk_size."""
    V.check_flag(causal, "causal")
    V.check_choice(method, "method", METHODS)
    return V.check_positive_int(chunk_size, "chunk_size")


# ------------------------------------------------------------------ the forms (num, den)
# Each form takes query features fq (..., n, r), key features fk (..., n, r), values
# v (..., n, d_v) and optional per-key log-offsets c (..., n), and returns the numerator
# (..., n, d_v) and the normaliser (..., n, 1). With offsets, key j's features are
# exp(c_j) fk_j, and output t is computed in the frame of the running maximum
# M_t = max_{j<=t} c_j (weights exp(c_j - M_t) <= 1), which depends on keys 1..t only.
# lenakernel.reference holds the one-line quadratic definition they are all tested against.

def _scores(fq, fk):
    """phi(Q) phi(K)^T over the last two axes (einsum: faster on CPU than matmul with .mT)."""
    return torch.einsum("...id,...jd->...ij", fq, fk)


def _noncausal(fq, fk, v, offset=None):
    if offset is not None:  # one frame for all: the largest offset
        fk = fk * torch.exp(offset - offset.amax(-1, keepdim=True)).unsqueeze(-1)
    kv = fk.mT @ v  # (..., r, d_v): the whole context, summarised once
    z = fk.sum(-2, keepdim=True)  # (..., 1, r)
    return fq @ kv, fq @ z.mT


def _causal_key_weights(offset, frame):
    """exp(c_j - M_t) for j <= t and 0 for j > t: shape (..., t, j)."""
    n = offset.shape[-1]
    future = torch.ones(n, n, dtype=torch.bool, device=offset.device).triu(1)
    return torch.exp((offset.unsqueeze(-2) - frame.unsqueeze(-1)).masked_fill(future, -math.inf))


def _quadratic(fq, fk, v, causal, offset=None):
    if offset is not None and not causal:
        return _quadratic(fq, fk * torch.exp(offset - offset.amax(-1, keepdim=True)).unsqueeze(-1), v, False)
    scores = _scores(fq, fk)  # (..., m, n) kernel matrix, O(n^2) memory
    if causal:
        if offset is None:
            scores = scores.tril()  # exact zeros for j > i
        else:
            scores = scores * _causal_key_weights(offset, offset.cummax(-1).values)
    return scores @ v, scores.sum(-1, keepdim=True)


def _readout(fq_t, state, normaliser):
    num = (fq_t.unsqueeze(-2) @ state).squeeze(-2)
    return num, (fq_t * normaliser).sum(-1, keepdim=True)


def _prefix_sum(fq, fk, v, offset=None):
    products = fk.unsqueeze(-1) * v.unsqueeze(-2)
    if offset is None:
        states, normalisers = products.cumsum(-3), fk.cumsum(-2)  # S_t, z_t for every t
    else:
        _, states, normalisers = _rescaled_scan(offset, products, fk)
    return _readout(fq, states, normalisers)


def _update(state, normaliser, fk_t, v_t):
    """One RNN step: S_t = S_{t-1} + phi(k_t) v_t^T and z_t = z_{t-1} + phi(k_t)."""
    return torch.addcmul(state, fk_t.unsqueeze(-1), v_t.unsqueeze(-2)), normaliser + fk_t


def _recurrent(fq, fk, v, offset=None):
    lead = torch.broadcast_shapes(fq.shape[:-2], fk.shape[:-2], v.shape[:-2])
    state = fk.new_zeros(lead + (fk.shape[-1], v.shape[-1]))
    normaliser = fk.new_zeros(lead + (fk.shape[-1],))
    frame = fk.new_full(lead + (1,), -math.inf)
    nums, dens = [], []
    for t in range(fq.shape[-2]):
        fk_t = fk[..., t, :]
        if offset is not None:
            # Move the state to the new running maximum, and the token into that frame.
            c_t = offset[..., t:t + 1]
            new_frame = torch.maximum(frame, c_t)
            decay = torch.exp(frame - new_frame)
            state, normaliser = state * decay.unsqueeze(-1), normaliser * decay
            fk_t, frame = fk_t * torch.exp(c_t - new_frame), new_frame
        state, normaliser = _update(state, normaliser, fk_t, v[..., t, :])
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
    Used when autograd records the forward pass (no in-place writes to recorded tensors).
    """
    running = torch.zeros_like(x[..., 0, :, :])
    sums = []
    for c in range(x.shape[-3]):
        sums.append(running)
        running = running + x[..., c, :, :]
    return torch.stack(sums, dim=-3)


# Rows (batch entries x tokens) per block of the no-gradient chunk-wise path on the CPU: a
# block's features, C x C matrices and states stay in cache between the products, and the
# memory they take is reused block after block instead of being fresh (page-faulted) every
# call. 4096 was the fastest of 1024 ... 16384 at n = 1024 ... 32768 (4 heads, d = 64).
_BLOCK_ROWS = 4096


def _block_tokens(batch, chunk_size, n, device):
    """Tokens per block: a whole number of chunks, about _BLOCK_ROWS rows in all.

    On a GPU, the whole sequence: there each operation's launch costs more than the cache
    saves, and its memory pool hands back memory already mapped.
    """
    if device.type != "cpu":
        return max(n, 1)
    return chunk_size * max(1, _BLOCK_ROWS // (chunk_size * max(batch, 1)))


def _flat(x):
    """(..., chunks, a, b) -> (batch x chunks, a, b), a view (an error, never a silent copy)."""
    return x.view(-1, *x.shape[-2:])


def _chunk_products(fq, fk, v, chunk_size, carried=None, carry=True):
    """Numerator and normaliser for one stretch of tokens, and the state (S, z) after it.

    ``carried`` is the state (S, z) of all earlier tokens, shapes (..., r, d_v) and (..., 1, r),
    or None at the start; with ``carry=False`` (the last stretch) the state after it is
    not formed and None is returned in its place. No gradient: running sums in place.
    """
    m = fq.shape[-2]
    # Contiguous: a stretch of a longer sequence is strided across the batch, and each
    # batched product would copy it again.
    fq_c, fk_c, v_c = (_pad_to_chunks(x.contiguous(), chunk_size) for x in (fq, fk, v))
    # Within a chunk: the masked quadratic form, C x C per chunk.
    scores = torch.matmul(fq_c, fk_c.mT).tril_()
    num = scores @ v_c
    den = scores.sum(-1, keepdim=True)
    del scores
    if carried is None and not carry and fq_c.shape[-3] == 1:  # one chunk, all there is
        return num.flatten(-3, -2)[..., :m, :], den.flatten(-3, -2)[..., :m, :], None
    # Each chunk's own state and normaliser ...
    kv = fk_c.mT @ v_c  # (..., chunks, r, d_v)
    z = fk_c.sum(-2, keepdim=True)  # (..., chunks, 1, r)
    if carried is not None:  # ... the first chunk reads the earlier tokens' state,
        state, normaliser = carried
        num[..., 0, :, :] += fq_c[..., 0, :, :] @ state
        den[..., 0, :, :] += fq_c[..., 0, :, :] @ normaliser.mT
        kv[..., 0, :, :] += state  # ... and every later chunk reads it through the running sums.
        z[..., 0, :, :] += normaliser
    # Running sums in place: entry c becomes the sum of chunks 0..c.
    kv_parts = kv.unbind(-3)  # views, made once: indexing in the loop costs more than the adds
    for before, this in zip(kv_parts[:-1], kv_parts[1:]):
        this.add_(before)
    z = z.cumsum(-3)  # small: (..., chunks, 1, r)
    carried = (kv_parts[-1].clone(), z[..., -1, :, :].clone()) if carry else None
    if fq_c.shape[-3] > 1:
        # Chunk c reads running sum c - 1. On the flattened (batch x chunks) axis that is
        # entry j - 1 for entry j; the last running sum of each batch entry, read there by
        # the next entry's first chunk, is set to 0.
        kv_parts[-1].zero_()
        z[..., -1, :, :] = 0
        queries = fq_c.reshape(-1, *fq_c.shape[-2:])[1:]
        _flat(num)[1:].baddbmm_(queries, _flat(kv)[:-1])
        _flat(den)[1:].baddbmm_(queries, _flat(z)[:-1].mT)
    return num.flatten(-3, -2)[..., :m, :], den.flatten(-3, -2)[..., :m, :], carried


def _chunked(fq, fk, v, chunk_size, offset=None):
    n, d_v = fq.shape[-2], v.shape[-1]
    lead = torch.broadcast_shapes(fq.shape[:-2], fk.shape[:-2], v.shape[:-2])
    fq, fk, v = (x.expand(lead + x.shape[-2:]) for x in (fq, fk, v))
    if offset is not None:
        return _chunked_with_offsets(fq, fk, v, chunk_size, offset, lead, n)
    if not (torch.is_grad_enabled() and (fq.requires_grad or fk.requires_grad or v.requires_grad)):
        # No gradient: a block of chunks at a time, into the outputs.
        num, den = fq.new_empty(lead + (n, d_v)), fq.new_empty(lead + (n, 1))
        carried, block = None, _block_tokens(math.prod(lead), chunk_size, n, fq.device)
        for start in range(0, n, block):
            part = slice(start, start + block)
            num[..., part, :], den[..., part, :], carried = _chunk_products(
                fq[..., part, :], fk[..., part, :], v[..., part, :], chunk_size, carried, start + block < n)
        return num, den
    # For autograd: the whole sequence at once, nothing written in place that it records.
    # Padded keys get zero features (padding after phi), so they add nothing.
    fq_c, fk_c, v_c = (_pad_to_chunks(x, chunk_size) for x in (fq, fk, v))
    scores = _scores(fq_c, fk_c).tril_()  # safe: a product does not save its output
    num = scores @ v_c
    den = scores.sum(-1, keepdim=True)
    if fq_c.shape[-3] > 1:
        # Across chunks: the state S = sum_j phi(k_j) v_j^T and normaliser z = sum_j phi(k_j)
        # of all earlier chunks, read out by each chunk's queries: num += phi(Q_c) S.
        state = _exclusive_prefix(fk_c.mT @ v_c)  # (..., chunks, r, d_v)
        normaliser = _exclusive_prefix(fk_c.sum(-2, keepdim=True))  # (..., chunks, 1, r)
        queries = fq_c.reshape(-1, *fq_c.shape[-2:])
        _flat(num).baddbmm_(queries, _flat(state))
        _flat(den).baddbmm_(queries, _flat(normaliser).mT)
    return num.flatten(-3, -2)[..., :n, :], den.flatten(-3, -2)[..., :n, :]


def _chunked_streamed(phi, q, k, v, chunk_size, eps):
    """Causal linear attention, num / (den + eps), the features too computed a block at a time.

    The no-gradient path of :func:`_chunked`, with the feature map applied per block (it
    acts token by token) and the division written straight into the output: besides the
    output, nothing of size n is made. Inputs are tensors of the compute dtype, n >= 1.
    """
    n = q.shape[-2]
    lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    q, k, v = (x.expand(lead + x.shape[-2:]) for x in (q, k, v))
    out = carried = None
    block = _block_tokens(math.prod(lead), chunk_size, n, q.device)
    for start in range(0, n, block):
        part = slice(start, start + block)
        fq = _apply_feature_map(phi, q[..., part, :], "q")
        fk = _apply_feature_map(phi, k[..., part, :], "k")
        if out is None:
            _check_same_features(fq, fk)
            if torch.is_grad_enabled() and (fq.requires_grad or fk.requires_grad):
                # A map with parameters that want a gradient: the whole sequence, for autograd.
                fq, fk = _apply_feature_map(phi, q, "q"), _apply_feature_map(phi, k, "k")
                num, den = _chunked(fq, fk, v.to(fq.dtype), chunk_size)
                return num / (den + eps)
            out = fq.new_empty(lead + (n, v.shape[-1]))
        num, den, carried = _chunk_products(fq, fk, v[..., part, :].to(fq.dtype), chunk_size, carried,
                                            start + block < n)
        torch.div(num, den.add_(eps), out=out[..., part, :])
    return out


def _check_same_features(fq, fk):
    """A feature map must give queries and keys the same number of features."""
    if fq.shape[-1] != fk.shape[-1]:
        raise ValueError(
            f"`feature_map` gave queries {fq.shape[-1]} features but keys {fk.shape[-1]}; they must agree."
        )


def _chunked_with_offsets(fq, fk, v, chunk_size, offset, lead, n):
    """:func:`_chunked` with per-key log-offsets c_j, computed in the frame M_t (see above)."""
    # Padded keys get zero features (padding after phi), so they add nothing.
    fq_c, fk_c, v_c = (_pad_to_chunks(x, chunk_size) for x in (fq, fk, v))
    chunks = fq_c.shape[-3]
    # Padded keys: offset -inf, so they never raise a running maximum.
    offset = F.pad(offset.expand(lead + offset.shape[-1:]), (0, chunks * chunk_size - n), value=-math.inf)
    frame = offset.cummax(-1).values  # M_t, per token
    offset_c, frame_c = (x.unflatten(-1, (chunks, chunk_size)) for x in (offset, frame))
    # Within a chunk: the masked quadratic form, each key weighted by exp(c_j - M_t).
    scores = _scores(fq_c, fk_c) * _causal_key_weights(offset_c, frame_c)
    num = scores @ v_c
    den = scores.sum(-1, keepdim=True)
    if chunks > 1:
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


def _forms(fq, fk, v, causal, method, chunk_size, offset=None):
    """Numerator and normaliser of (causal) linear attention by the chosen ``method``."""
    if not causal:
        return _quadratic(fq, fk, v, False, offset) if method == "quadratic" else _noncausal(fq, fk, v, offset)
    if method == "quadratic":
        return _quadratic(fq, fk, v, True, offset)
    if method == "prefix_sum":
        return _prefix_sum(fq, fk, v, offset)
    if method == "recurrent":
        return _recurrent(fq, fk, v, offset)
    return _chunked(fq, fk, v, chunk_size, offset)


def linear_attention(q, k, v, *, feature_map="elu+1", causal=False, method="chunked", chunk_size=64, eps=1e-6):
    r"""Linear attention: the kernel smoother with the factorised kernel :math:`\phi(q)\cdot\phi(k)`.

    .. math::

        \mathrm{out}_i = \frac{\phi(q_i)^\top S}{\phi(q_i)^\top z + \varepsilon},\qquad
        S = \sum_j \phi(k_j) v_j^\top,\quad z = \sum_j \phi(k_j),

    with the sums over all keys, or over :math:`j \le i` when ``causal``. Non-causal, the
    products are reassociated, :math:`\phi(Q)\,(\phi(K)^\top V)`, which costs
    :math:`O(n D d_v)` instead of :math:`O(n^2 D)`.

    Derived in chapter 7 (non-causal) and chapter 9 (causal forms).

    Parameters
    ----------
    q : array_like or torch.Tensor, shape (..., m, d)
    k : array_like or torch.Tensor, shape (..., n, d)
    v : array_like or torch.Tensor, shape (..., n, d_v)
        Leading (batch/head) dimensions broadcast.
    feature_map : {"elu+1", "relu", "taylor"} or callable, default "elu+1"
        A callable gets a torch tensor (..., d) and must return a tensor (..., D) with the
        same leading dimensions. It is applied to queries and keys alike, and must map each
        token on its own: the causal chunk-wise form applies it to a block of tokens at a time.
    causal : bool, default False
        Query i sees keys 1..i only (needs m == n).
    method : {"quadratic", "prefix_sum", "recurrent", "chunked"}, default "chunked"
        How a causal result is computed; all four agree to rounding:
        ``"quadratic"`` masks the n x n matrix :math:`\phi(Q)\phi(K)^\top`;
        ``"prefix_sum"`` stores every prefix state :math:`S_t` (O(n D d_v) memory);
        ``"recurrent"`` loops over tokens carrying :math:`(S_t, z_t)`, like an RNN;
        ``"chunked"`` runs the masked quadratic form inside chunks of ``chunk_size`` tokens
        and carries the state between chunks (any n: the tail is zero-padded); without a
        gradient it works through a block of chunks at a time, features included, so the
        output is its only allocation of size n.
        Non-causal, ``"quadratic"`` forms the n x n matrix and every other value uses the
        reassociated product, except that a small call with the default map (where
        :math:`m n (D + d_v) \le D d_v (m + n)`, e.g. n <= d) takes the cheaper n x n form.
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
    >>> from lenakernel import elu_plus_one
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
    if _small_call_applies(q, k, v, feature_map, causal, method, chunk_size, eps):
        return _small_noncausal(q, k, v, eps)
    tensors, restore = as_tensors(q=q, k=k, v=v)
    q, k, v = tensors["q"], tensors["k"], tensors["v"]
    chunk_size = _check_options(causal, method, chunk_size)
    eps = V.check_nonnegative_scalar(eps, "eps")
    phi = _resolve_feature_map(feature_map)
    _check_qkv(q, k, v, causal)

    out_dtype = q.dtype  # as_tensors gave q, k and v one dtype
    work = V.compute_dtype(q)
    if work != out_dtype:
        q, k, v = q.to(work), k.to(work), v.to(work)
    if causal and method == "chunked" and _needs_gradient(q, k, v):  # a chunk-wise backward pass too
        return restore(_in_dtype(_causal_linear_attention(q, k, v, phi, chunk_size, eps), out_dtype))
    if causal and method == "chunked" and q.shape[-2] > 0:  # the features too, a block at a time
        return restore(_in_dtype(_chunked_streamed(phi, q, k, v, chunk_size, eps), out_dtype))
    fq = _apply_feature_map(phi, q, "q")
    fk = _apply_feature_map(phi, k, "k")
    _check_same_features(fq, fk)
    if fq.shape[-2] == 0 or fk.shape[-2] == 0:  # no queries, or an empty context: output 0
        return restore(_in_dtype(_empty_context(fq, fk, v), out_dtype))
    num, den = _forms(fq, fk, _in_dtype(v, fq.dtype), causal, method, chunk_size)
    return restore(_in_dtype(_divide(num, den, eps), out_dtype))


def _small_call_applies(q, k, v, feature_map, causal, method, chunk_size, eps) -> bool:
    """Whether a call may skip the general path: valid and small, decided by attribute reads.

    True only for arguments the general path accepts as they are: float32/float64 torch
    tensors of one dtype with the same leading dimensions and no empty axis, the default
    "elu+1" map, non-causal, a valid ``method``, ``chunk_size`` and ``eps``, and few enough
    keys that the n x n form costs no more than the reassociated one,
    ``m n (r + d_v) <= r d_v (m + n)``. Anything else takes the general path, which
    checks everything and names what is wrong.
    """
    if not (type(q) is torch.Tensor and type(k) is torch.Tensor and type(v) is torch.Tensor
            and causal is False and type(feature_map) is str and feature_map == "elu+1"
            and type(method) is str and method in METHODS and type(chunk_size) is int and chunk_size >= 1
            and type(eps) is float and 0.0 <= eps < math.inf
            and q.dtype in (torch.float32, torch.float64) and k.dtype == q.dtype and v.dtype == q.dtype):
        return False
    q_shape, k_shape, v_shape = q.shape, k.shape, v.shape
    if not (len(q_shape) >= 2 and q_shape[:-2] == k_shape[:-2] == v_shape[:-2]
            and q_shape[-1] == k_shape[-1] and k_shape[-2] == v_shape[-2]):
        return False
    m, n, d, d_v = q_shape[-2], k_shape[-2], q_shape[-1], v_shape[-1]
    return (q.numel() > 0 and k.numel() > 0 and v.numel() > 0
            and m * n * (d + d_v) <= d * d_v * (m + n))


def _small_noncausal(q, k, v, eps):
    """Non-causal elu+1 linear attention by the n x n form, on arguments that passed the test above.

    Each operation costs a few microseconds of dispatch whatever its size, so for a
    handful of tokens the fewest operations win: the features, two batched products,
    the row sums and one division.
    """
    *lead, m, d = q.shape
    n, d_v = v.shape[-2], v.shape[-1]
    fq = _elu_plus_one(q.reshape(-1, m, d))
    fk = _elu_plus_one(k.reshape(-1, n, d))
    scores = torch.bmm(fq, fk.transpose(1, 2))  # (batch, m, n), all entries > 0
    out = _divide(torch.bmm(scores, v.reshape(-1, n, d_v)), scores.sum(-1, keepdim=True), eps)
    return out.view(*lead, m, d_v)


def _in_dtype(t, dtype):
    """``t`` in ``dtype``, without a call into torch when it already is."""
    return t if t.dtype == dtype else t.to(dtype)


def _empty_context(fq, fk, v):
    """The output when there are no queries or no keys: zeros (a fully masked row)."""
    batch = torch.broadcast_shapes(fq.shape[:-2], fk.shape[:-2], v.shape[:-2])
    return fq.new_zeros(*batch, fq.shape[-2], v.shape[-1])


def _divide(num, den, eps):
    if (num.requires_grad or den.requires_grad) and torch.is_grad_enabled():
        return num / (den + eps)
    return num.div_(den.add_(eps))  # in place when no gradient is needed: one pass fewer


class LinearAttentionState:
    r"""The recurrent state of causal linear attention, for generating one token at a time.

    Holds :math:`S_t = \sum_{j\le t}\phi(k_j)v_j^\top` (``feature_dim`` x ``value_dim``) and
    :math:`z_t = \sum_{j\le t}\phi(k_j)`; its size does not grow with the position.
    Stepping through a sequence reproduces ``linear_attention(..., causal=True)``.

    Derived in chapter 9.

    Parameters
    ----------
    feature_dim : int
        D, the length of :math:`\phi(k)`: d for "elu+1" and "relu", 1 + d + d**2 for "taylor".
    value_dim : int
        d_v, the length of a value vector.
    feature_map : {"elu+1", "relu", "taylor"} or callable, default "elu+1"
    batch_shape : tuple of int, default ()
        Leading (batch/head) dimensions of every token.
    dtype : torch.dtype, optional
        The state's dtype (inputs are cast to it; outputs come back in the query's dtype).
        By default that of the first token: float32 tokens get a float32 state, float64
        tokens (and NumPy arrays of floats) a float64 one, float16/bfloat16 tokens float32.
        Until the first step the state is float64.
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

    def __init__(self, feature_dim, value_dim, *, feature_map="elu+1", batch_shape=(), dtype=None,
                 device=None, eps=1e-6):
        self._dtype_from_first_token = dtype is None
        dtype = torch.float64 if dtype is None else dtype
        self.feature_dim = V.check_positive_int(feature_dim, "feature_dim")
        self.value_dim = V.check_positive_int(value_dim, "value_dim")
        self._phi = _resolve_feature_map(feature_map)
        try:
            self.batch_shape = tuple(V.check_positive_int(s, "batch_shape entry") for s in batch_shape)
        except TypeError:
            raise TypeError(f"`batch_shape` must be a tuple of ints; got {batch_shape!r}.") from None
        V.check_float_dtype(dtype)
        self.eps = V.check_nonnegative_scalar(eps, "eps")
        self._value_shape = self.batch_shape + (self.value_dim,)
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
        if self._ready(q_t, k_t, v_t):  # the fast path: tensors of the state's dtype and shapes
            return self._step_checked(q_t, k_t, v_t)
        tensors, restore = as_tensors(q_t=q_t, k_t=k_t, v_t=v_t)
        q_t, k_t, v_t = tensors["q_t"], tensors["k_t"], tensors["v_t"]
        out_dtype = q_t.dtype
        for name, t in (("q_t", q_t), ("k_t", k_t)):
            if t.ndim != len(self.batch_shape) + 1 or tuple(t.shape[:-1]) != self.batch_shape:
                raise ValueError(f"`{name}` must have shape batch_shape + (d,) = {self.batch_shape} + (d,); "
                                 f"got shape {tuple(t.shape)}.")
        V.check_same_size(q_t, "q_t", -1, k_t, "k_t", -1, "feature dimension d")
        if tuple(v_t.shape) != self.batch_shape + (self.value_dim,):
            raise ValueError(f"`v_t` must have shape {self.batch_shape + (self.value_dim,)}; got shape "
                             f"{tuple(v_t.shape)}.")
        # NaN in one token would poison the state for every later one: refuse it here.
        V.check_all_finite(q_t=q_t, k_t=k_t, v_t=v_t)
        self._adopt_dtype(q_t)
        like = self.state
        q_t, k_t, v_t = (t.to(dtype=like.dtype, device=like.device) for t in (q_t, k_t, v_t))
        return restore(self._step_checked(q_t, k_t, v_t, finite=True).to(out_dtype))

    def _adopt_dtype(self, q_t):
        """Before the first token, without an explicit ``dtype``: take the token's."""
        if self.position == 0 and self._dtype_from_first_token:
            dtype = V.compute_dtype(q_t)
            self.state = self.state.to(dtype)
            self.normaliser = self.normaliser.to(dtype)

    def _ready(self, q_t, k_t, v_t) -> bool:
        """True for torch tensors already of the state's dtype, device and shapes (no conversion)."""
        if self.position == 0 and isinstance(q_t, torch.Tensor) and q_t.is_floating_point():
            self._adopt_dtype(q_t)
        dtype, cuda = self.state.dtype, self.state.is_cuda
        # Plain attribute tests: this runs once per token.
        return (type(q_t) is torch.Tensor and type(k_t) is torch.Tensor and type(v_t) is torch.Tensor
                and q_t.dtype == dtype and k_t.dtype == dtype and v_t.dtype == dtype
                and q_t.is_cuda == cuda and k_t.is_cuda == cuda and v_t.is_cuda == cuda
                and q_t.shape == k_t.shape and q_t.shape[:-1] == self.batch_shape
                and v_t.shape == self._value_shape)

    def _step_checked(self, q_t, k_t, v_t, finite=False):
        """The step on tensors whose kind, dtype and shapes are checked; finiteness too if ``finite``."""
        # NaN in one token would poison the state for every later one: refuse it here, with
        # one test on the sum (finite values summing past the dtype's range go to the full
        # test). With d == d_v, one stack serves that test and the feature map.
        if v_t.shape == q_t.shape:
            qkv = torch.stack((q_t, k_t, v_t))
            qk = qkv[:2]
            finite = finite or math.isfinite(qkv.sum().item())
        else:
            qk = torch.stack((q_t, k_t))
            finite = finite or math.isfinite((qk.sum() + v_t.sum()).item())
        if not finite:
            V.check_all_finite(q_t=q_t, k_t=k_t, v_t=v_t)
        features = _apply_feature_map(self._phi, qk, "q_t")  # one call of the map for both
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"`feature_map` gave {features.shape[-1]} features but the state was built with "
                             f"`feature_dim`={self.feature_dim}.")
        fq_t, fk_t = features.unbind()
        self.state, self.normaliser = _update(self.state, self.normaliser, fk_t, v_t)
        self.position += 1
        row = fq_t.unsqueeze(-2)  # phi(q_t) as a row: two products read the state out
        product = torch.bmm if row.ndim == 3 else torch.matmul  # bmm: less dispatch per token
        num = product(row, self.state).squeeze(-2)
        den = product(row, self.normaliser.unsqueeze(-1)).squeeze(-2)
        return num / (den + self.eps)


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


def _noncausal_in_blocks(phi, q, k, v, rows):
    """Non-causal linear attention with the map ``phi`` applied ``rows`` tokens at a time.

    The numerator and normaliser of :func:`_noncausal` on ``phi(q)``, ``phi(k)``, with the
    features of at most ``rows`` tokens held at once: O(r d_v) memory for any n. ``phi``
    may return its features in parts (a tuple), read as their concatenation, which saves
    copying them together. A row of ones beside ``v`` makes each product give the
    normaliser too.
    """
    def parts(x):
        features = phi(x)
        return features if isinstance(features, tuple) else (features,)

    v1 = torch.cat([v, v.new_ones(v.shape[0], 1)], dim=1).mT  # (d_v + 1, n)
    state = None  # one (d_v + 1, r_part) block per part: sum_j [v_j, 1] phi(k_j)^T
    for start in range(0, k.shape[0], rows):
        blocks = [v1[:, start:start + rows] @ f for f in parts(k[start:start + rows])]
        state = blocks if state is None else [s + b for s, b in zip(state, blocks)]
    out = v.new_empty(q.shape[0], v.shape[1] + 1)
    for start in range(0, q.shape[0], rows):
        out[start:start + rows] = sum(f @ s.mT for f, s in zip(parts(q[start:start + rows]), state))
    return out[:, :-1], out[:, -1:]
