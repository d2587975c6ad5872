"""Checkers for chapter 9's exercises: causal linear attention, recurrent and chunked."""

from __future__ import annotations

import numpy as np

import lenakernel as lk

from ._core import (Between, Case, Failure, Mistake, Probe, as_array, causality_probe, loop_probe, memory_probe,
                    run_cases)

__all__ = ["check_causal_linear_attention", "check_chunked_linear_attention"]

# The lenakernel functions each exercise may use; the exercise text says the same.
CAUSAL_LINEAR_ALLOWED: tuple = ("lk.elu_plus_one",)
CHUNKED_LINEAR_ALLOWED: tuple = ("lk.elu_plus_one",)


def _sequence(rng, n, d, d_v):
    return {"q": rng.standard_normal((n, d)), "k": rng.standard_normal((n, d)),
            "v": rng.standard_normal((n, d_v))}


def _exclusive(sums):
    """Shift running sums down by one along axis 0, so entry t holds the sum before t."""
    return np.concatenate([np.zeros_like(sums[:1]), sums[:-1]])


def _causal(q, k, v, **ignored):
    # The normaliser's eps is open: anything from eps = 0 to the package's 1e-6 is right.
    return Between(lk.linear_attention(q, k, v, causal=True, method="quadratic", eps=0.0),
                   lk.linear_attention(q, k, v, causal=True, method="quadratic", eps=1e-6))


def _prefix(q, k, v, exclusive=False, normalise=True):
    """Causal linear attention by prefix sums in NumPy; ``exclusive`` reads the state before token t."""
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    states = np.cumsum(phi_k[:, :, None] * v[:, None, :], axis=0)
    sums = np.cumsum(phi_k, axis=0)
    if exclusive:
        states, sums = _exclusive(states), _exclusive(sums)
    numerator = np.einsum("nd,nde->ne", phi_q, states)
    if not normalise:
        return numerator
    with np.errstate(all="ignore"):
        out = numerator / np.einsum("nd,nd->n", phi_q, sums)[:, None]
    return np.nan_to_num(out)  # an exclusive sum leaves row 0 as 0/0; the mistake's row 0 is 0


_CAUSAL_MISTAKES = [
    Mistake("output t must include token t itself: add token t to the state before reading it out",
            lambda q, k, v, **rest: _prefix(q, k, v, exclusive=True)),
    Mistake("output i may use keys and values 0..i only: this is the non-causal form",
            lambda q, k, v, **rest: lk.linear_attention(q, k, v, eps=0.0)),
    Mistake("divide each output by its normaliser phi(q_i) . z_i",
            lambda q, k, v, **rest: _prefix(q, k, v, normalise=False)),
    Mistake("this is causal softmax attention: the exercise uses elu+1 features",
            lambda q, k, v, **rest: lk.softmax_attention(q, k, v, causal=True)),
]


def _long(rng, n=2000):
    return _sequence(rng, n, 4, 3)


def check_causal_linear_attention(student) -> bool:
    """Check ``student(q, k, v)``: causal linear attention with the elu+1 feature map.

    Output i must use keys and values 0..i only:
    ``phi(q_i)^T S_i / phi(q_i)^T z_i`` with ``S_i = sum_{j<=i} phi(k_j) v_j^T`` and
    ``z_i = sum_{j<=i} phi(k_j)``, ``phi = elu + 1``. Inputs are ``(n, d)``, ``(n, d)``,
    ``(n, d_v)``; the result is ``(n, d_v)``; the normaliser's ``eps`` may be anything from 0
    to 1e-6. Cases: 6 tokens; one token; 17 tokens, d = 2; 40 tokens. Then the causality
    probe (bit-exact, every cut of a 12-token sequence) and a memory check (no n x n matrix
    at n = 2000). It does not check that you loop over tokens: any causal linear-memory
    method passes. Allowed from lenakernel: ``lk.elu_plus_one``.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(q, k, v)``.

    Returns
    -------
    bool
        True when every case and check passes; a verdict is printed either way.

    Examples
    --------
    >>> def my_causal_linear_attention(q, k, v):
    ...     raise NotImplementedError
    >>> check_causal_linear_attention(my_causal_linear_attention)  # doctest: +NORMALIZE_WHITESPACE
    Causal linear attention. Allowed from lenakernel: lk.elu_plus_one. Checks values,
    causality (bit-exact), memory (no m x n matrix).
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    rng = np.random.default_rng(8)
    cases = [Case(name, _sequence(rng, n, d, d_v)) for name, n, d, d_v in
             (("6 tokens", 6, 3, 2), ("one token", 1, 4, 3), ("17 tokens, d = 2", 17, 2, 1),
              ("40 tokens", 40, 5, 4))]
    probes = [causality_probe(_sequence(rng, 12, 3, 2)), memory_probe(_long(rng), m=2000, n=2000)]
    return run_cases(student, _causal, cases, exercise="Causal linear attention",
                     allowed=CAUSAL_LINEAR_ALLOWED, mistakes=_CAUSAL_MISTAKES, probes=probes)


def _chunked(q, k, v, chunk_size, inclusive=False, masked=True):
    """Chunk-wise causal linear attention in NumPy, with the slips of the mistakes as options."""
    n, pad = len(q), (-len(q)) % chunk_size
    phi_q, phi_k, v = (np.concatenate([a, np.zeros((pad, a.shape[1]))]).reshape(-1, chunk_size, a.shape[1])
                       for a in (lk.elu_plus_one(q), lk.elu_plus_one(k), v))
    scores = phi_q @ phi_k.transpose(0, 2, 1)
    scores = np.tril(scores) if masked else scores
    states, sums = phi_k.transpose(0, 2, 1) @ v, phi_k.sum(1)
    states, sums = np.cumsum(states, 0), np.cumsum(sums, 0)
    if not inclusive:
        states, sums = _exclusive(states), _exclusive(sums)
    numerator = scores @ v + phi_q @ states
    normaliser = scores.sum(2) + np.einsum("cid,cd->ci", phi_q, sums)
    return (numerator / normaliser[..., None]).reshape(-1, v.shape[-1])[:n]


def _padded_in_front(q, k, v, chunk_size):
    pad = (-len(q)) % chunk_size
    zeros = [np.zeros((pad, a.shape[1])) for a in (q, k, v)]
    padded = (np.concatenate([z, a]) for z, a in zip(zeros, (q, k, v)))
    return lk.linear_attention(*padded, causal=True, eps=0.0)[pad:]


_CHUNKED_MISTAKES = [
    Mistake("the state for chunk c must sum chunks 0..c-1 only (an exclusive cumulative sum): your chunks "
            "count their own tokens twice",
            lambda q, k, v, chunk_size: _chunked(q, k, v, chunk_size, inclusive=True)),
    Mistake("mask inside each chunk: token i sees tokens j <= i of its own chunk",
            lambda q, k, v, chunk_size: _chunked(q, k, v, chunk_size, masked=False)),
    Mistake("zero keys padded before the sequence are not nothing: phi(0) = 1 under elu+1; pad at the "
            "end, or pad the features (after phi) with zeros", _padded_in_front),
    Mistake("output i may use keys and values 0..i only: this is the non-causal form",
            lambda q, k, v, chunk_size: lk.linear_attention(q, k, v, eps=0.0)),
]


def _chunk_probe(inputs, sizes=(4, 5, 8)) -> Probe:
    """A chunk-wise computation rounds differently for different chunk sizes; one that ignores
    ``chunk_size`` (a recurrence, prefix sums over all tokens) gives the same bits for all."""

    def run(student):
        outs = [as_array(student(*inputs.values(), size)) for size in sizes]
        if any(not np.array_equal(outs[0], out) for out in outs[1:]):
            return None
        return Failure("chunk-wise form", f"your result is bit-for-bit the same for chunk sizes {sizes}",
                       hint="your function seems to ignore chunk_size (a recurrence or prefix sums over "
                            "all tokens); the exercise asks for a masked product inside each chunk and a "
                            "state carried between chunks",
                       note="a chunk-wise form adds in a different order for each chunk size, so its "
                            "last bits change with chunk_size", inputs=inputs)

    return Probe("chunk-wise form", run)


def check_chunked_linear_attention(student) -> bool:
    """Check ``student(q, k, v, chunk_size)``: chunk-wise causal linear attention.

    The result must equal causal linear attention (elu+1 features) for every sequence
    length (``eps`` of the normaliser from 0 to 1e-6). Cases: 12 tokens, chunks of 4; n not
    a multiple of the chunk; shorter than one chunk; a single token; 50 tokens, chunks of 7.
    Then a check that the result's rounding changes with ``chunk_size`` (a form that ignores
    it, such as a recurrence or prefix sums, gives the same bits for every chunk size), the
    causality probe (bit-exact, every cut of a 23-token sequence in chunks of 5),
    a memory check (no n x n matrix at n = 2000), and, as the exercise asks, no Python loop:
    your own code may not loop over chunks or tokens, and nothing it calls may loop over
    tokens (n = 2000 in chunks of 20). Allowed from lenakernel: ``lk.elu_plus_one``.

    Parameters
    ----------
    student : callable
        The student's function, called as ``student(q, k, v, chunk_size)``.

    Returns
    -------
    bool
        True when every case and check passes; a verdict is printed either way.

    Examples
    --------
    >>> def my_chunked_linear_attention(q, k, v, chunk_size):
    ...     raise NotImplementedError
    >>> check_chunked_linear_attention(my_chunked_linear_attention)  # doctest: +NORMALIZE_WHITESPACE
    Chunked causal linear attention. Allowed from lenakernel: lk.elu_plus_one. Checks values,
    chunk-wise form, causality (bit-exact), memory (no m x n matrix), no Python loop over
    chunks or tokens.
    Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.
    False
    """
    rng = np.random.default_rng(88)
    cases = []
    for name, n, chunk_size in (("12 tokens, chunks of 4", 12, 4),
                                ("n not a multiple of the chunk (13, chunks of 4)", 13, 4),
                                ("shorter than one chunk (3, chunks of 8)", 3, 8), ("a single token", 1, 5),
                                ("50 tokens, chunks of 7", 50, 7)):
        note = "pad the last chunk, then cut the padded rows off" if n % chunk_size else ""
        cases.append(Case(name, {**_sequence(rng, n, 3, 2), "chunk_size": chunk_size}, note=note))
    long = {**_long(rng), "chunk_size": 20}
    probes = [
        _chunk_probe(_sequence(rng, 40, 3, 2)),
        causality_probe({**_sequence(rng, 23, 3, 2), "chunk_size": 5}),
        memory_probe({**_long(rng), "chunk_size": 16}, m=2000, n=2000),
        loop_probe(long, own_limit=100, all_limit=2000, what="Python loop over chunks or tokens",
                   hint="the exercise asks for no Python loop: reshape to (chunks, chunk_size, ...) and use "
                        "an exclusive cumulative sum of the per-chunk states (np.cumsum)"),
    ]
    return run_cases(student, _causal, cases, exercise="Chunked causal linear attention",
                     allowed=CHUNKED_LINEAR_ALLOWED, mistakes=_CHUNKED_MISTAKES, probes=probes)
