"""Tests for lenakernel/checks/chapter06.py and chapter08.py: a right answer passes, a
wrong one fails naming its case, an exception or a stub never escapes."""

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel.checks import (check_causal_linear_attention, check_chunked_linear_attention,
                               check_linear_attention, check_taylor_features)


def good_linear(q, k, v):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    return phi_q @ (np.swapaxes(phi_k, -1, -2) @ v) / (phi_q @ phi_k.sum(-2)[..., None])


def torch_linear(q, k, v):
    q, k, v = (torch.as_tensor(a) for a in (q, k, v))
    phi_q, phi_k = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1
    return phi_q @ (phi_k.mT @ v) / (phi_q @ phi_k.sum(-2, keepdim=True).mT + 1e-9)


def unnormalised_linear(q, k, v):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    return phi_q @ (np.swapaxes(phi_k, -1, -2) @ v)


def two_dimensional_only(q, k, v):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    return phi_q @ (phi_k.T @ v) / (phi_q @ phi_k.sum(0))[:, None]


def raises_value_error(*args, **kwargs):
    raise ValueError("boom")


def stub(*args, **kwargs):
    raise NotImplementedError


def sorted_taylor(x):
    # Another exact map: only the upper triangle of x x^T, off-diagonal terms times sqrt(2).
    d = x.shape[-1]
    rows, cols = np.triu_indices(d)
    weights = np.where(rows == cols, 1 / np.sqrt(2), 1.0)
    quadratic = x[..., rows] * x[..., cols] * weights
    return np.concatenate([np.ones(x.shape[:-1] + (1,)), x, quadratic], axis=-1)


def missing_half(x):
    outer = (x[..., :, None] * x[..., None, :]).reshape(x.shape[:-1] + (-1,))
    return np.concatenate([np.ones(x.shape[:-1] + (1,)), x, outer], axis=-1)


def flattening_taylor(x):
    return lk.taylor_features(x).reshape(-1)


def good_recurrent(q, k, v):
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    state, normaliser, out = np.zeros((q.shape[1], v.shape[1])), np.zeros(q.shape[1]), []
    for t in range(len(q)):
        state = state + np.outer(phi_k[t], v[t])
        normaliser = normaliser + phi_k[t]
        out.append(phi_q[t] @ state / (phi_q[t] @ normaliser))
    return np.array(out)


def off_by_one_recurrent(q, k, v):
    # Reads the state before adding token t: output t misses its own key.
    phi_q, phi_k = lk.elu_plus_one(q), lk.elu_plus_one(k)
    state, normaliser, out = np.zeros((q.shape[1], v.shape[1])), np.full(q.shape[1], 1e-9), []
    for t in range(len(q)):
        out.append(phi_q[t] @ state / (phi_q[t] @ normaliser))
        state = state + np.outer(phi_k[t], v[t])
        normaliser = normaliser + phi_k[t]
    return np.array(out)


def good_chunked(q, k, v, chunk_size):
    return lk.linear_attention(q, k, v, causal=True, chunk_size=chunk_size)


def whole_chunks_only(q, k, v, chunk_size):
    # Drops the tail when n is not a multiple of the chunk size (case 2 has n = 13, C = 4).
    n = (len(q) // chunk_size) * chunk_size
    return lk.linear_attention(q[:n], k[:n], v[:n], causal=True, chunk_size=chunk_size) if n else q[:0, :2]


@pytest.mark.parametrize("check,solution", [
    (check_linear_attention, good_linear),
    (check_linear_attention, torch_linear),
    (check_taylor_features, lk.taylor_features),
    (check_taylor_features, sorted_taylor),
    (check_causal_linear_attention, good_recurrent),
    (check_chunked_linear_attention, good_chunked),
])
def test_right_answers_pass(check, solution, capsys):
    assert check(solution) is True
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize("check,solution,case", [
    (check_linear_attention, unnormalised_linear, "Case 1 of 5 failed"),
    (check_linear_attention, two_dimensional_only, "Case 5 of 5 failed"),
    (check_taylor_features, missing_half, "Case 1 of 4 failed"),
    (check_taylor_features, flattening_taylor, "Case 1 of 4 failed"),
    (check_causal_linear_attention, off_by_one_recurrent, "Case 1 of 4 failed"),
    (check_chunked_linear_attention, whole_chunks_only, "Case 2 of 5 failed"),
])
def test_wrong_answers_fail_naming_the_case(check, solution, case, capsys):
    assert check(solution) is False
    assert case in capsys.readouterr().out


@pytest.mark.parametrize("check", [check_linear_attention, check_taylor_features, check_causal_linear_attention,
                                   check_chunked_linear_attention])
def test_exceptions_and_stubs_never_escape(check, capsys):
    assert check(raises_value_error) is False
    assert "raised ValueError: boom" in capsys.readouterr().out
    assert check(stub) is False
    assert "Not solved yet" in capsys.readouterr().out
    assert check("not a function") is False
    assert "Not checked" in capsys.readouterr().out
