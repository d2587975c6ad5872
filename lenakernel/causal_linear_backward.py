"""The gradient of causal linear attention is causal linear attention again, run both ways.

With a_i = phi(q_i), b_j = phi(k_j), out_i = sum_{j<=i} (a_i . b_j) v_j / den_i, the loss's
gradient g_i = dL/dout_i / den_i and h_i = -g_i . out_i (the part that reaches den_i):
dL/da_i = sum_{j<=i} (g_i . v_j + h_i) b_j runs forwards in time, dL/db_j = sum_{i>=j}
(g_i . v_j + h_i) a_i and dL/dv_j = sum_{i>=j} (a_i . b_j) g_i run backwards; each is done
chunk-wise like the forward pass, in O(n) time and memory, keeping only q, k, v, out and den
(and, for elu+1, the features, and the forward's state at the start of each block).
"""

from __future__ import annotations

import math

import torch

from . import _validation as _v
from ._backend import as_tensors
from .feature_maps import _apply_feature_map, elu_plus_one

__all__ = ["causal_linear_attention_backward"]


# ------------------------------------------------------------------ the readable reference

def _backward_reference(a, b, v, grad_out, eps):
    """The gradients of causal linear attention, written with the full n x n matrices.

    ``a``, ``b`` are the query and key features. This is the definition the chunk-wise
    path below is tested against: O(n^2) memory, a few lines, nothing tuned.
    """
    weights = (a @ b.mT).tril()  # A_ij = a_i . b_j for j <= i, else 0
    den = weights.sum(-1, keepdim=True) + eps
    out = weights @ v / den
    g = grad_out / den  # the gradient reaching the numerator
    h = -(g * out).sum(-1, keepdim=True)  # ... and the one reaching the normaliser
    grad_weights = (g @ v.mT + h).tril()  # dL/dA_ij = g_i . v_j + h_i, for j <= i only
    return grad_weights @ b, grad_weights.mT @ a, weights.mT @ g


# ------------------------------------------------------------------ the chunk-wise path

def _chunks(x, chunk_size):
    """Zero-pad the sequence axis (-2) to a multiple of ``chunk_size`` and split it into chunks.

    Padded tokens have zero features, values and gradients, so they add nothing anywhere.
    """
    n = x.shape[-2]
    pad = (-n) % chunk_size
    if pad:
        x = torch.nn.functional.pad(x, (0, 0, 0, pad))
    return x.unflatten(-2, ((n + pad) // chunk_size, chunk_size))


def _earlier_chunks(x):
    """Along axis -3 (chunks): for chunk c, the sum of x over the chunks before c (zero for c = 0)."""
    if torch.is_grad_enabled():  # a second derivative is being built: no in-place writes
        return torch.cat([torch.zeros_like(x[..., :1, :, :]), x[..., :-1, :, :].cumsum(-3)], dim=-3)
    sums = torch.empty_like(x)
    sums[..., 0, :, :] = 0
    for c in range(1, x.shape[-3]):  # a loop over chunks, not tokens: n / C small steps
        torch.add(sums[..., c - 1, :, :], x[..., c - 1, :, :], out=sums[..., c, :, :])
    return sums


def _later_chunks(x):
    """Along axis -3 (chunks): for chunk c, the sum of x over the chunks after c (zero for the last)."""
    if torch.is_grad_enabled():
        return _earlier_chunks(x.flip(-3)).flip(-3)
    sums = torch.empty_like(x)
    sums[..., -1, :, :] = 0
    for c in range(x.shape[-3] - 2, -1, -1):
        torch.add(sums[..., c + 1, :, :], x[..., c + 1, :, :], out=sums[..., c, :, :])
    return sums


def _add_product(into, x, y):
    """``into += x @ y`` for batches of matrices, in place: no temporary the size of ``into``."""
    batch = into.shape[:-2]
    x, y = x.expand(batch + x.shape[-2:]), y.expand(batch + y.shape[-2:])
    flat = into.view(-1, *into.shape[-2:])
    flat.baddbmm_(x.reshape(-1, *x.shape[-2:]), y.reshape(-1, *y.shape[-2:]))


def _chunked_backward(a, b, v, out, grad_out, eps, chunk_size):
    """dL/da, dL/db, dL/dv of causal linear attention, chunk by chunk: O(n) time and memory.

    Inside a chunk the masked C x C matrices A (the forward's weights) and dA (their
    gradient) are formed; across chunks, running sums carry the rest: forwards the state
    S = sum_j b_j v_j^T and normaliser z = sum_j b_j of all earlier chunks, backwards
    P = sum_i a_i g_i^T and u = sum_i h_i a_i of all later chunks.
    """
    n = a.shape[-2]
    lead = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2], v.shape[:-2], grad_out.shape[:-2])
    a, b, v, out, grad_out = (x.expand(lead + x.shape[-2:]) for x in (a, b, v, out, grad_out))
    a_c, b_c, v_c, out_c, grad_c = (_chunks(x, chunk_size) for x in (a, b, v, out, grad_out))
    several = a_c.shape[-3] > 1

    # The forward's weights inside each chunk, and the normaliser, recomputed (cheap, and it
    # keeps the second derivative exact): den_i = (row i of A) . 1 + a_i . z_(earlier chunks) + eps.
    # (In-place steps here are safe for autograd: a product does not keep its own output.)
    weights = torch.matmul(a_c, b_c.mT).tril_()
    den = weights.sum(-1, keepdim=True) + eps
    if several:
        z = _earlier_chunks(b_c.sum(-2, keepdim=True))  # (..., chunks, 1, r)
        _add_product(den, a_c, z.mT)
    pad = a_c.shape[-3] * chunk_size - n
    if pad:  # padded tokens: den = eps, which may be 0; any nonzero value makes their g = 0
        den[..., -1, chunk_size - pad:, :] = 1
    g = grad_c / den
    h = -(g * out_c).sum(-1, keepdim=True)

    # Inside each chunk: the gradient of the masked product, as in the reference.
    grad_weights = torch.matmul(g, v_c.mT).add_(h).tril_()
    grad_a = torch.matmul(grad_weights, b_c)
    grad_b = torch.matmul(grad_weights.mT, a_c)
    del grad_weights
    grad_v = torch.matmul(weights.mT, g)
    del weights
    if several:
        # Forwards: query i also read the state of every earlier chunk.
        state = _earlier_chunks(b_c.mT @ v_c)  # (..., chunks, r, d_v)
        _add_product(grad_a, g, state.mT)
        del state
        _add_product(grad_a, h, z)
        # Backwards: key j and value j were also read by every query of a later chunk.
        later = _later_chunks(a_c.mT @ g)  # (..., chunks, r, d_v)
        _add_product(grad_b, v_c, later.mT)
        _add_product(grad_v, b_c, later)
        del later
        grad_b += _later_chunks(h.mT @ a_c)  # (..., chunks, 1, r)
    return tuple(x.flatten(-3, -2)[..., :n, :] for x in (grad_a, grad_b, grad_v))


class _Scratch:
    """Block-sized work buffers, allocated once and reused by every block.

    A fresh tensor per block would be new memory each time, touched page by page (and
    interleaved with longer-lived tensors it fragments the heap); a buffer reused is neither.
    ``get`` returns a contiguous view of the first elements, so a shorter last block fits too.
    """

    def __init__(self, like):
        self.like, self.buffers = like, {}

    def get(self, name, *shape):
        size = math.prod(shape)
        buffer = self.buffers.get(name)
        if buffer is None or buffer.numel() < size:
            buffer = self.buffers[name] = self.like.new_empty(size)
        return buffer[:size].view(shape)


def _block_features(phi, x, name, into, scratch, pullback=False, kept=None):
    """phi(x) for one block (N, m, d), written into ``into`` (N, rows, r), zero-padded.

    ``kept``, when given, is phi(x) itself, kept from the forward pass: it is copied in.

    Returns the features and the chain rule back through them, dL/dphi -> dL/dx: None for
    the built-in elu+1 map, whose derivative is min(phi(x), 1) (1 for x > 0, where
    phi(x) = 1 + x, and exp(x) = phi(x) for x <= 0), applied by the caller in one pass
    without a second autograd graph; any other map is pulled back by autograd through a
    graph of the block, recomputed here. (Below its clamp, x < log(tiny), autograd of
    :func:`lenakernel.elu_plus_one` gives 0 and min(phi, 1) the dtype's smallest normal
    number: the derivative exp(x) rounded up.)
    """
    m = x.shape[-2]
    pull = None
    if kept is not None:
        into[:, :m] = kept
    elif phi is elu_plus_one:  # exp(clamp(x, lowest, 0)) + relu(x), as elu_plus_one computes it
        lowest = math.log(torch.finfo(x.dtype).tiny) + 0.01
        part = into[:, :m]
        torch.clamp(x, lowest, 0.0, out=part).exp_()
        part += torch.clamp(x, min=0.0, out=scratch.get("grad_a", *x.shape))
    elif pullback:
        into[:, :m], pull = _features_with_pullback(phi, x, name)
    else:
        into[:, :m] = _apply_feature_map(phi, x, name)
    into[:, m:] = 0
    return into, pull


def _block_tokens(n, chunk_size):
    """Tokens per block of the streamed passes: 512 (measured fastest from n = 1024 on), 256 below."""
    return chunk_size * max(1, min(512, max(256, n // 2)) // chunk_size)


def _streamed_backward(phi, q, k, v, out, den, grad_out, chunk_size, block_chunks=None, features=None,
                       states=None):
    """The same gradients as :func:`_chunked_backward`, a block of chunks at a time.

    ``den`` is the forward's normaliser (eps included), kept from the forward pass.
    Whole-sequence intermediates would be several times the inputs; here they exist for one
    block of ``block_chunks * chunk_size`` tokens (default: 256 to 512), in buffers reused
    by every block. A first, cheap pass sums a_i [g_i, h_i]^T over each block, so that one
    sweep forwards in time then has both running sums at hand: the state of the earlier
    blocks (for dL/da) and, summed backwards from those block totals, what the later
    blocks read (for dL/db and dL/dv). The values carry a column of ones and the output
    gradient the column h, so each state product carries the normaliser's term too.
    Inputs share one leading shape; returns (dL/dq, dL/dk, dL/dv). ``features``, when
    given, is (phi(q), phi(k)) for the built-in elu+1 map, kept from the forward pass: then
    the map is not evaluated again. ``states``, when given, is the forward's state (S, z)
    at the start of each block, as :func:`_forward_with_states` returns it (made with the
    same blocks): then the first pass is not needed, and the sweep runs backwards in time,
    summing (P, u) as it goes.
    """
    if block_chunks is None:
        block_chunks = _block_tokens(q.shape[-2], chunk_size) // chunk_size
    lead, n, d_v = q.shape[:-2], q.shape[-2], v.shape[-1]
    q, k, v, out, den, grad_out = (x.reshape(-1, n, x.shape[-1]) for x in (q, k, v, out, den, grad_out))
    fq, fk = (None, None) if features is None else (x.reshape(-1, n, x.shape[-1]) for x in features)
    batch, size, chunk, e = q.shape[0], chunk_size * block_chunks, chunk_size, d_v + 1
    scratch = _Scratch(out)
    r = _apply_feature_map(phi, q[:1, :1], "q").shape[-1]
    blocks = [(start, min(start + size, n)) for start in range(0, n, size)]

    def block(start, stop, rows, pullback=False):
        """phi(q) and [g, h] of one block, zero-padded to ``rows`` tokens (and phi(q)'s pullback)."""
        m = stop - start
        a, pull_q = _block_features(phi, q[:, start:stop], "q", scratch.get("a", batch, rows, r), scratch, pullback,
                                    None if fq is None else fq[:, start:stop])
        # [g, h]: g = dL/dout / den and h = -g . out, the gradients reaching num and den.
        gh = scratch.get("gh", batch, rows, e)
        g = torch.div(grad_out[:, start:stop], den[:, start:stop], out=gh[:, :m, :d_v])
        product = torch.mul(g, out[:, start:stop], out=scratch.get("grad_a", batch, m, d_v))
        torch.sum(product, -1, out=gh[:, :m, d_v]).neg_()
        gh[:, m:] = 0
        return a, pull_q, gh

    order = list(enumerate(blocks))
    if states is None:
        # The first pass: sum_i a_i [g_i, h_i]^T over each block, then over all later blocks.
        later = out.new_empty(len(blocks), batch, r, e)  # (P, u) that block B's keys and values meet after it
        later[-1] = 0
        for index in range(len(blocks) - 1, 0, -1):
            start, stop = blocks[index]
            a, _, gh = block(start, stop, stop - start)
            torch.baddbmm(later[index], a.mT, gh, out=later[index - 1])
    else:  # the forward's states at hand: backwards in time, (P, u) summed on the way
        order.reverse()

    grad_q, grad_k, grad_v = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    # Forwards: sum_j b_j [v_j, 1]^T over all earlier blocks, (S, z) in one; backwards: (P, u).
    running = out.new_zeros(batch, r, e)
    for index, (start, stop) in order:
        state, after = (running, later[index]) if states is None else (states[index], running)
        m = stop - start
        rows = -(-m // chunk) * chunk
        chunks = rows // chunk
        a, pull_q, gh = block(start, stop, rows, pullback=True)
        b, pull_k = _block_features(phi, k[:, start:stop], "k", scratch.get("b", batch, rows, r), scratch, True,
                                    None if fk is None else fk[:, start:stop])
        v1 = scratch.get("v1", batch, rows, e)
        v1[:, :m, :d_v] = v[:, start:stop]
        v1[:, :, d_v] = 1
        v1[:, m:] = 0
        a_c, b_c = a.view(batch, chunks, chunk, r), b.view(batch, chunks, chunk, r)
        gh_c, v1_c = gh.view(batch, chunks, chunk, e), v1.view(batch, chunks, chunk, e)
        # Within each chunk: dL/dv from the forward's weights A, then A's gradient dA and
        # from it dL/da and dL/db.
        weights = torch.matmul(a_c, b_c.mT, out=scratch.get("square", batch, chunks, chunk, chunk)).tril_()
        grad_v_c = torch.matmul(weights.mT, gh_c[..., :d_v], out=scratch.get("grad_v", batch, chunks, chunk, d_v))
        grad_weights = torch.matmul(gh_c, v1_c.mT, out=weights).tril_()  # g_i . v_j + h_i for j <= i
        grad_a = torch.matmul(grad_weights, b_c, out=scratch.get("grad_a", batch, chunks, chunk, r))
        grad_b = torch.matmul(grad_weights.mT, a_c, out=scratch.get("grad_b", batch, chunks, chunk, r))
        # Queries also read the state (S, z) of all earlier chunks ...
        kv = torch.matmul(b_c.mT, v1_c, out=scratch.get("sums", batch, chunks, r, e))  # each chunk's own
        state_in = scratch.get("running", batch, chunks, r, e)
        state_in[:, 0] = state
        for c in range(1, chunks):
            torch.add(state_in[:, c - 1], kv[:, c - 1], out=state_in[:, c])
        if states is None:
            torch.add(state_in[:, -1], kv[:, -1], out=running)
        _add_product(grad_a, gh_c, state_in.mT)
        # ... and keys and values were read by the queries of all later chunks: (P, u).
        ag = torch.matmul(a_c.mT, gh_c, out=kv)  # each chunk's own sum_i a_i [g_i, h_i]^T
        later_in = state_in
        later_in[:, -1] = after
        for c in range(chunks - 2, -1, -1):
            torch.add(later_in[:, c + 1], ag[:, c + 1], out=later_in[:, c])
        if states is not None:
            torch.add(later_in[:, 0], ag[:, 0], out=running)
        _add_product(grad_b, v1_c, later_in.mT)  # dL/db_j += P v_j + u
        _add_product(grad_v_c, b_c, later_in[..., :d_v])  # dL/dv_j += P^T b_j
        grad_v[:, start:stop] = grad_v_c.flatten(1, 2)[:, :m]
        # Back through the feature map: for elu+1, dL/dx = dL/dphi * min(phi, 1).
        for grad, features, pull, result in ((grad_a, a, pull_q, grad_q), (grad_b, b, pull_k, grad_k)):
            grad = grad.flatten(1, 2)[:, :m]
            if pull is None:
                torch.mul(grad, features[:, :m].clamp_(max=1.0), out=result[:, start:stop])
            else:
                result[:, start:stop] = pull(grad)
    return tuple(x.reshape(lead + x.shape[-2:]) for x in (grad_q, grad_k, grad_v))


def causal_linear_attention_backward(phi_q, phi_k, v, grad_out, *, eps=1e-6, chunk_size=64):
    r"""The gradients of causal linear attention with respect to its features and values.

    For :math:`\mathrm{out}_i = \sum_{j\le i} (a_i\cdot b_j) v_j / \mathrm{den}_i` with
    :math:`a_i = \phi(q_i)`, :math:`b_j = \phi(k_j)` and
    :math:`\mathrm{den}_i = \sum_{j\le i} a_i\cdot b_j + \varepsilon`, and the gradient
    :math:`G_i = \partial L/\partial \mathrm{out}_i` of a loss, write
    :math:`g_i = G_i / \mathrm{den}_i` and :math:`h_i = -g_i\cdot\mathrm{out}_i`. Then

    .. math::

        \frac{\partial L}{\partial a_i} = \sum_{j\le i} (g_i\cdot v_j + h_i)\, b_j,\qquad
        \frac{\partial L}{\partial b_j} = \sum_{i\ge j} (g_i\cdot v_j + h_i)\, a_i,\qquad
        \frac{\partial L}{\partial v_j} = \sum_{i\ge j} (a_i\cdot b_j)\, g_i:

    causal sums again, the first forwards in time and the other two backwards. Each is
    computed chunk-wise, as the forward pass is: masked ``chunk_size`` x ``chunk_size``
    products inside a chunk and running sums between chunks, O(n) time and memory. This
    is the backward pass that :func:`linear_attention` uses for ``causal=True``,
    ``method="chunked"`` when a gradient is needed.

    Derived in chapter 8 (the causal forms, whose gradient this is).

    Parameters
    ----------
    phi_q : array_like or torch.Tensor, shape (..., n, r)
        Query features :math:`\phi(q_i)`.
    phi_k : array_like or torch.Tensor, shape (..., n, r)
        Key features :math:`\phi(k_j)`.
    v : array_like or torch.Tensor, shape (..., n, d_v)
    grad_out : array_like or torch.Tensor, shape (..., n, d_v)
        The gradient of the loss with respect to the output. Leading dimensions broadcast.
    eps : float, default 1e-6
        Added to the normaliser, as in :func:`linear_attention`.
    chunk_size : int, default 64

    Returns
    -------
    grad_phi_q, grad_phi_k, grad_v : same kind and dtype as ``phi_q``
        Shaped like the broadcast inputs: (..., n, r), (..., n, r), (..., n, d_v).

    Raises
    ------
    ValueError
        Mismatched shapes, ``chunk_size`` < 1 or ``eps`` < 0.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> a, b = torch.rand(2, 6, 3, generator=g, dtype=torch.float64)
    >>> v, grad_out = torch.randn(2, 6, 2, generator=g, dtype=torch.float64)
    >>> grads = causal_linear_attention_backward(a, b, v, grad_out, chunk_size=4)
    >>> a_, b_, v_ = (x.clone().requires_grad_() for x in (a, b, v))
    >>> weights = (a_ @ b_.T).tril()
    >>> out = weights @ v_ / (weights.sum(1, keepdim=True) + 1e-6)
    >>> out.backward(grad_out)
    >>> all(torch.allclose(x, y.grad) for x, y in zip(grads, (a_, b_, v_)))
    True
    """
    tensors, restore = as_tensors(phi_q=phi_q, phi_k=phi_k, v=v, grad_out=grad_out)
    a, b, v, grad_out = (tensors[name] for name in ("phi_q", "phi_k", "v", "grad_out"))
    chunk_size = _v.check_positive_int(chunk_size, "chunk_size")
    eps = _v.check_nonnegative_scalar(eps, "eps")
    for x, name, meaning in ((a, "phi_q", "(..., n, r)"), (b, "phi_k", "(..., n, r)"),
                             (v, "v", "(..., n, d_v)"), (grad_out, "grad_out", "(..., n, d_v)")):
        _v.check_min_ndim(x, name, 2, meaning)
    _v.check_not_empty(a, "phi_q", axis=-2, what="tokens")
    _v.check_same_size(a, "phi_q", -1, b, "phi_k", -1, "number of features r (last axis)")
    for x, name in ((b, "phi_k"), (v, "v"), (grad_out, "grad_out")):
        _v.check_same_size(a, "phi_q", -2, x, name, -2, "sequence length n (second-to-last axis)")
    _v.check_same_size(v, "v", -1, grad_out, "grad_out", -1, "value dimension d_v (last axis)")
    _v.broadcast_leading(2, phi_q=a, phi_k=b, v=v, grad_out=grad_out)
    dtype = _v.compute_dtype(a)
    a, b, v, grad_out = (x.to(dtype) for x in (a, b, v, grad_out))
    with torch.no_grad():
        out, _ = _causal_forward(a, b, v, eps, chunk_size)
        grads = _chunked_backward(a, b, v, out, grad_out, eps, chunk_size)
    return tuple(restore(x.to(tensors["phi_q"].dtype)) for x in grads)


# ------------------------------------------------------------------ autograd's view

def _causal_forward(a, b, v, eps, chunk_size):
    """The forward pass: lenakernel.linear's chunk-wise form, then the division.

    Returns the output and its normaliser (eps included), which the backward pass reuses.
    Runs without autograd (the division is in place).
    """
    from .linear import _chunked  # the forward is linear.py's; imported here, as it imports us

    num, den = _chunked(a, b, v, chunk_size)
    den = den + eps
    return num.div_(den), den


def _forward_with_states(a, b, v, eps, chunk_size, block_chunks=None):
    """:func:`_causal_forward` a block at a time (the backward's blocks), keeping the states.

    Returns the output, its normaliser (eps included) and, for each block, the state
    [S, z^T] = sum_j b_j [v_j, 1]^T over the tokens before it (zero for the first):
    (blocks, N, r, d_v + 1), what :func:`_streamed_backward` reads instead of a first pass.
    Inputs share one leading shape. Runs without autograd.
    """
    from .linear import _chunk_products  # the forward is linear.py's (imported here: it imports us)

    lead, n, d_v = a.shape[:-2], a.shape[-2], v.shape[-1]
    a, b, v = (x.reshape(-1, n, x.shape[-1]) for x in (a, b, v))
    size = _block_tokens(n, chunk_size) if block_chunks is None else chunk_size * block_chunks
    starts = range(0, n, size)
    states = a.new_zeros(len(starts), a.shape[0], a.shape[-1], d_v + 1)
    out, den = a.new_empty(a.shape[0], n, d_v), a.new_empty(a.shape[0], n, 1)
    carried = None
    for index, start in enumerate(starts):
        part = slice(start, start + size)
        num, block_den, carried = _chunk_products(a[:, part], b[:, part], v[:, part], chunk_size, carried,
                                                  start + size < n)
        torch.add(block_den, eps, out=den[:, part])
        torch.div(num, den[:, part], out=out[:, part])
        if carried is not None:
            states[index + 1, ..., :d_v] = carried[0]
            states[index + 1, ..., d_v] = carried[1][..., 0, :]
    return out.reshape(lead + (n, d_v)), den.reshape(lead + (n, 1)), states


def _pull_back(phi, x, name, grad):
    """dL/dx from dL/dphi(x): the chain rule back through the feature map, by autograd.

    The features are recomputed here rather than kept from the forward pass: the map is
    cheap next to attention, and its intermediate tensors would hold memory all the while.
    """
    create_graph = torch.is_grad_enabled()  # set when a second derivative is asked for
    with torch.enable_grad():
        x_in = x if create_graph else x.detach().requires_grad_()
        features = _apply_feature_map(phi, x_in, name)
    if not features.requires_grad:  # a map that ignores its input
        return torch.zeros_like(x)
    (result,) = torch.autograd.grad(features, x_in, grad.sum_to_size(features.shape),
                                    create_graph=create_graph, allow_unused=True)
    return torch.zeros_like(x) if result is None else result


def _features_with_pullback(phi, x, name):
    """``phi(x)`` (detached), and the chain rule back through it: dL/dphi(x) -> dL/dx."""
    with torch.enable_grad():
        x_in = x.detach().requires_grad_()
        features = _apply_feature_map(phi, x_in, name)

    def pullback(grad):
        if not features.requires_grad:  # a map that ignores its input
            return torch.zeros_like(x)
        (result,) = torch.autograd.grad(features, x_in, grad, allow_unused=True)
        return torch.zeros_like(x) if result is None else result

    return features.detach(), pullback


class _CausalLinearAttention(torch.autograd.Function):
    """Causal linear attention whose backward pass is chunk-wise too (see the module docstring).

    Autograd would record every chunk's intermediate tensors in the forward pass and replay
    them one by one; this keeps only q, k, v, the output and its normaliser (n numbers per
    sequence), the elu+1 features and the state at the start of each block, and computes the three gradients with :func:`_streamed_backward` (a block
    of chunks at a time), or with :func:`_chunked_backward` when a second derivative is
    being built.
    """

    @staticmethod
    def forward(ctx, q, k, v, phi, chunk_size, eps):
        from .linear import _check_same_features  # imported here, as linear.py imports us

        a = _apply_feature_map(phi, q, "q")
        b = _apply_feature_map(phi, k, "k")
        _check_same_features(a, b)
        if q.shape[:-1] == k.shape[:-1] and q.shape[:-2] == v.shape[:-2]:
            # The backward's blocks, keeping the state at the start of each for it.
            out, den, states = _forward_with_states(a, b, v.to(a.dtype), eps, chunk_size)
        else:
            (out, den), states = _causal_forward(a, b, v.to(a.dtype), eps, chunk_size), None
        # For elu+1 the features are kept: its pullback needs only them (min(phi, 1)), and
        # evaluating the map again (an exp per entry) would cost more than the memory.
        ctx.keep_features = phi is elu_plus_one
        if not ctx.keep_features:
            a = b = None
        ctx.save_for_backward(q, k, v, out, den, a, b, states)
        ctx.phi, ctx.chunk_size, ctx.eps = phi, chunk_size, eps
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, den, a, b, states = ctx.saved_tensors
        phi = ctx.phi
        v = v.to(out.dtype)
        same_shapes = q.shape[:-1] == k.shape[:-1] and q.shape[:-2] == v.shape[:-2] == grad_out.shape[:-2]
        if not torch.is_grad_enabled() and same_shapes and all(ctx.needs_input_grad[:3]):
            # The usual case: a block of chunks at a time, in little memory.
            features = (a, b) if ctx.keep_features else None
            grad_q, grad_k, grad_v = _streamed_backward(phi, q, k, v, out, den, grad_out, ctx.chunk_size,
                                                        features=features, states=states)
            return grad_q, grad_k, grad_v, None, None, None
        # A second derivative, broadcast shapes or gradients for some inputs only: the whole
        # sequence at once, every step differentiable.
        a, b = _apply_feature_map(phi, q, "q"), _apply_feature_map(phi, k, "k")
        grad_a, grad_b, grad_v = _chunked_backward(a, b, v.to(a.dtype), out, grad_out, ctx.eps, ctx.chunk_size)
        del a, b  # the chain rule through phi recomputes what it needs, one input at a time
        grad_q = _pull_back(phi, q, "q", grad_a) if ctx.needs_input_grad[0] else None
        del grad_a
        grad_k = _pull_back(phi, k, "k", grad_b) if ctx.needs_input_grad[1] else None
        return grad_q, grad_k, grad_v, None, None, None


def _needs_gradient(*tensors):
    """True when autograd is recording and some tensor asks for a gradient."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _causal_linear_attention(q, k, v, phi, chunk_size, eps):
    """Causal chunk-wise linear attention for autograd, with the chunk-wise backward above."""
    return _CausalLinearAttention.apply(q, k, v, phi, chunk_size, eps)
