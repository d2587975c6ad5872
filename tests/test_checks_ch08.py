"""Tests for chapter 8's checkers: the package's own answer passes whatever its eps;
forms the exercise forbids (n x n, a recurrence where chunks are asked, a loop over
chunks, a chunked form that is not bit-exactly causal) are refused with a hint."""

import numpy as np
import pytest

import lenakernel as lk
from lenakernel.checks import check_causal_linear_attention, check_chunked_linear_attention


def good_recurrent(q, k, v):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    state, normaliser, out = np.zeros((q.shape[1], v.shape[1])), np.zeros(q.shape[1]), []
    for t in range(len(q)):
        state = state + np.outer(phi_k[t], v[t])
        normaliser = normaliser + phi_k[t]
        out.append(phi_q[t] @ state / (phi_q[t] @ normaliser))
    return np.array(out)


def off_by_one_recurrent(q, k, v, start=1e-9):
    # Reads the state before adding token t: output t misses its own key.
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    state, normaliser, out = np.zeros((q.shape[1], v.shape[1])), np.full(q.shape[1], start), []
    for t in range(len(q)):
        out.append(phi_q[t] @ state / (phi_q[t] @ normaliser))
        state = state + np.outer(phi_k[t], v[t])
        normaliser = normaliser + phi_k[t]
    return np.array(out)


def masked_quadratic(q, k, v):
    scores = np.tril(lk.elu_plus_one(q) @ lk.elu_plus_one(k).T)  # the n x n form
    return scores @ v / scores.sum(1, keepdims=True)


def suffix_normaliser(q, k, v):
    # Right values, but z_t = (total - later keys): later tokens enter the rounding of output t.
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    later = np.cumsum(phi_k[::-1], axis=0)[::-1]
    z = phi_k.sum(0) - np.concatenate([later[1:], np.zeros_like(later[:1])])
    numerator = np.einsum("nd,nde->ne", phi_q, np.cumsum(phi_k[:, :, None] * v[:, None, :], axis=0))
    return numerator / np.einsum("nd,nd->n", phi_q, z)[:, None]


@pytest.mark.parametrize("student", [
    good_recurrent,
    lambda q, k, v: lk.linear_attention(q, k, v, causal=True),  # issue 21: rejected at 2.5e-6 before
    lambda q, k, v: lk.linear_attention(q, k, v, causal=True, method="recurrent"),
])
def test_causal_right_answers_pass(student, capsys):
    assert check_causal_linear_attention(student) is True
    assert capsys.readouterr().out.splitlines()[0] == (
        "Causal linear attention. Allowed from lenakernel: lk.elu_plus_one. "
        "Checks values, causality (bit-exact), memory (no m x n matrix).")


@pytest.mark.parametrize("student, words", [
    (off_by_one_recurrent, "Hint: output t must include token t itself: add token t to the state before reading"),
    (lambda q, k, v: off_by_one_recurrent(q, k, v, start=0.0),
     "Hint: your first row is NaN or inf: position 0 must attend to itself"),
    (lambda q, k, v: lk.linear_attention(q, k, v), "Hint: output i may use keys and values 0..i only"),
    (lambda q, k, v: lk.softmax_attention(q, k, v, causal=True), "Hint: this is causal softmax attention"),
    (masked_quadratic, 'Check "no 2000 x 2000 matrix" failed'),
    (suffix_normaliser, 'Check "causality" failed: changing only positions after t = '),
])
def test_causal_wrong_attempts(student, words, capsys):
    assert check_causal_linear_attention(student) is False
    assert words in capsys.readouterr().out


def good_chunked(q, k, v, chunk_size, earlier=None):
    n, pad = len(q), (-len(q)) % chunk_size
    fq, fk, vc = (np.concatenate([a, np.zeros((pad, a.shape[1]))]).reshape(-1, chunk_size, a.shape[1])
                  for a in (lk.elu_plus_one(q), lk.elu_plus_one(k), v))
    scores = np.tril(fq @ fk.transpose(0, 2, 1))
    states, sums = fk.transpose(0, 2, 1) @ vc, fk.sum(1)
    earlier = earlier or (lambda x: np.cumsum(np.concatenate([np.zeros_like(x[:1]), x[:-1]]), axis=0))
    numerator = scores @ vc + fq @ earlier(states)
    normaliser = scores.sum(2) + np.einsum("cid,cd->ci", fq, earlier(sums))
    return (numerator / normaliser[..., None]).reshape(-1, v.shape[1])[:n]


def inclusive_minus_own(q, k, v, chunk_size):
    # Issue 21: right values, but chunk c's state is (sum up to c) - (chunk c): not bit-exactly causal.
    return good_chunked(q, k, v, chunk_size, earlier=lambda x: np.cumsum(x, axis=0) - x)


def looped_chunks(q, k, v, chunk_size):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    state, normaliser, out = np.zeros((q.shape[1], v.shape[1])), np.zeros(q.shape[1]), []
    for start in range(0, len(q), chunk_size):
        fq, fk, vc = phi_q[start:start + chunk_size], phi_k[start:start + chunk_size], v[start:start + chunk_size]
        scores = np.tril(fq @ fk.T)
        out.append((scores @ vc + fq @ state) / (scores.sum(1) + fq @ normaliser)[:, None])
        state, normaliser = state + fk.T @ vc, normaliser + fk.sum(0)
    return np.concatenate(out)


@pytest.mark.parametrize("student", [
    good_chunked,
    lambda q, k, v, chunk_size: lk.linear_attention(q, k, v, causal=True, chunk_size=chunk_size),
])
def test_chunked_right_answers_pass(student):
    assert check_chunked_linear_attention(student) is True


@pytest.mark.parametrize("student, words", [
    # Issue 21: method="recurrent" where chunk-wise is asked.
    (lambda q, k, v, chunk_size: lk.linear_attention(q, k, v, causal=True, method="recurrent"),
     'Check "chunk-wise form" failed: your result is bit-for-bit the same for chunk sizes (4, 5, 8)'),
    (lambda q, k, v, chunk_size: good_recurrent(q, k, v), "Hint: your function seems to ignore chunk_size"),
    (inclusive_minus_own, 'Check "causality" failed: changing only positions after t = '),
    (looped_chunks, 'Check "no Python loop over chunks or tokens" failed'),
    (lambda q, k, v, c: good_chunked(q, k, v, c, earlier=lambda x: np.cumsum(x, axis=0)),
     "Hint: the state for chunk c must sum chunks 0..c-1 only (an exclusive cumulative sum)"),
    (lambda q, k, v, c: good_chunked(q[: len(q) - len(q) % c], k[: len(q) - len(q) % c], v[: len(q) - len(q) % c], c),
     'Case 2 of 5, "n not a multiple of the chunk (13, chunks of 4)", failed: the result has shape (12, 2)'),
])
def test_chunked_wrong_attempts(student, words, capsys):
    assert check_chunked_linear_attention(student) is False
    assert words in capsys.readouterr().out


def test_chunked_causality_failure_counts_cuts_and_hints(capsys):
    check_chunked_linear_attention(inclusive_minus_own)
    out = capsys.readouterr().out
    assert "cuts)" in out and "Hint: output t may use positions 0..t only, down to the last bit" in out
    assert "chunk_size = 5" in out
