"""Tests for lenakernel/training.py: reproducible Adam."""

import numpy as np
import pytest
import torch

from lenakernel import train

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------

def _linear_problem():
    model = torch.nn.Linear(2, 1, dtype=torch.float64)

    def loss_fn(model, generator):
        x = torch.randn(8, 2, generator=generator, dtype=torch.float64)
        noise = 0.01 * torch.randn(8, 1, dtype=torch.float64)  # the global generator, on purpose
        return ((model(x) - x[:, :1] + noise) ** 2).mean()

    return model, loss_fn


def test_train_is_deterministic_and_restores_global_rng(capsys):
    state = torch.get_rng_state()
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        model, loss_fn = _linear_problem()
        histories.append(train(model, loss_fn, steps=40, lr=0.05, seed=7, progress=False))
    assert np.array_equal(histories[0], histories[1])
    assert histories[0][-1] < histories[0][0]
    torch.set_rng_state(state)
    # Training does not move the caller's global generator.
    model, loss_fn = _linear_problem()
    state = torch.get_rng_state()
    train(model, loss_fn, steps=5, lr=0.05, progress=None)
    assert torch.equal(state, torch.get_rng_state())
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_train_cosine_schedule_and_other_seed():
    model, loss_fn = _linear_problem()
    torch.manual_seed(0)
    a = train(model, loss_fn, steps=20, lr=0.05, seed=1, schedule="cosine", progress=False)
    torch.manual_seed(0)
    model, loss_fn = _linear_problem()
    b = train(model, loss_fn, steps=20, lr=0.05, seed=2, progress=False)
    assert a.shape == (20,) and not np.array_equal(a, b)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(steps=0, lr=0.1), ValueError, "steps"),
    (dict(steps=5, lr=0.0), ValueError, "lr"),
    (dict(steps=5, lr=float("nan")), ValueError, "lr"),
    (dict(steps=5, lr=0.1, schedule="step"), ValueError, "schedule"),
    (dict(steps=5, lr=0.1, seed=1.5), TypeError, "seed"),
    (dict(steps=5, lr=0.1, progress="yes"), TypeError, "progress"),
])
def test_train_bad_arguments(kwargs, error, match):
    model, loss_fn = _linear_problem()
    with pytest.raises(error, match=match):
        train(model, loss_fn, **kwargs)


def test_train_bad_model_or_loss():
    model, loss_fn = _linear_problem()
    with pytest.raises(TypeError, match="model"):
        train(lambda x: x, loss_fn, steps=1, lr=0.1)
    with pytest.raises(TypeError, match="loss_fn"):
        train(model, 3.0, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="scalar"):
        train(model, lambda m, g: m.weight.sum(0), steps=1, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        train(model, lambda m, g: m.weight.sum() * float("nan"), steps=1, lr=0.1)
    frozen = torch.nn.Linear(1, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        train(frozen, loss_fn, steps=1, lr=0.1)


def test_a_loss_without_gradient_is_refused_by_name():
    model = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match="`loss_fn` must return a loss that depends on the model"):
        train(model, lambda model, generator: torch.tensor(1.0), steps=1, lr=0.1, progress=False)


def test_seed_may_be_a_generator():
    def run(seed):
        model = torch.nn.Linear(1, 1, dtype=torch.float64)
        torch.nn.init.zeros_(model.weight)
        torch.nn.init.zeros_(model.bias)
        return train(model, lambda m, g: (m(torch.randn(4, 1, generator=g, dtype=torch.float64)) ** 2).mean(),
                     steps=3, lr=0.1, seed=seed, progress=False)

    np.testing.assert_array_equal(run(torch.Generator().manual_seed(3)), run(torch.Generator().manual_seed(3)))
