"""Tests for the layer chapter's checker: right answers pass, wrong ones are named."""

import numpy as np
import pytest

import lenakernel as lk


def layer(x, w_query, w_key, w_value, w_out):
    return sum(lk.softmax_attention(x @ wq.T, x @ wk.T, x @ wv.T) @ wo.T
               for wq, wk, wv, wo in zip(w_query, w_key, w_value, w_out))


def layer_numpy(x, w_query, w_key, w_value, w_out):
    out = 0.0
    for wq, wk, wv, wo in zip(w_query, w_key, w_value, w_out):
        scores = (x @ wq.T) @ (x @ wk.T).T / np.sqrt(wq.shape[0])
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        out = out + (weights / weights.sum(axis=-1, keepdims=True)) @ (x @ wv.T) @ wo.T
    return out


def layer_no_max(x, w_query, w_key, w_value, w_out):  # overflows on the large-score case
    out = 0.0
    for wq, wk, wv, wo in zip(w_query, w_key, w_value, w_out):
        weights = np.exp((x @ wq.T) @ (x @ wk.T).T / np.sqrt(wq.shape[0]))
        out = out + (weights / weights.sum(axis=-1, keepdims=True)) @ (x @ wv.T) @ wo.T
    return out


def layer_average_of_heads(x, w_query, w_key, w_value, w_out):  # averages instead of summing
    return layer(x, w_query, w_key, w_value, w_out) / len(w_query)


def layer_wrong_scale(x, w_query, w_key, w_value, w_out):  # scales by the model width
    return sum(lk.softmax_attention(x @ wq.T, x @ wk.T, x @ wv.T, scale=1 / np.sqrt(x.shape[-1])) @ wo.T
               for wq, wk, wv, wo in zip(w_query, w_key, w_value, w_out))


def stub(x, w_query, w_key, w_value, w_out):
    raise NotImplementedError


def test_correct_solutions_pass(capsys):
    assert lk.checks.check_multi_head_attention(layer) is True
    assert lk.checks.check_multi_head_attention(layer_numpy) is True
    assert capsys.readouterr().out.count("Correct") == 2  # one verdict per call


@pytest.mark.parametrize("wrong", [layer_average_of_heads, layer_wrong_scale, layer_no_max])
def test_wrong_solutions_fail_with_a_verdict(wrong, capsys):
    # Only the verdict's gist is tested: its wording belongs to lenakernel.checks._core.
    assert lk.checks.check_multi_head_attention(wrong) is False
    out = capsys.readouterr().out
    assert "failed" in out and "Correct" not in out


def test_stub_is_not_solved_yet(capsys):
    assert lk.checks.check_multi_head_attention(stub) is False
    assert "Not solved yet" in capsys.readouterr().out
