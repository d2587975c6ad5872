"""Training: minimise a loss over a model's parameters with Adam, reproducibly.

``train(model, loss_fn)`` runs full gradient steps on ``loss_fn(model, generator)``; the
generator is seeded, so the same call gives the same numbers (chapters 4 and 5).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import _validation as V

__all__ = ["train"]


def train(model, loss_fn, *, steps, lr, seed=0, schedule="constant", progress=None):
    """Minimise ``loss_fn(model, generator)`` with Adam; return the loss history.

    Reproducible: data drawn from ``generator`` (a ``torch.Generator`` seeded with
    ``seed``) and any use of torch's global generator inside ``loss_fn`` give the same
    numbers on every run; the caller's global random state is left as it was.

    Derived in chapter 4.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose parameters are trained (in place).
    loss_fn : callable
        ``loss_fn(model, generator)`` returns a scalar tensor.
    steps : int
        Number of gradient steps (>= 1).
    lr : float
        Adam's learning rate (> 0).
    seed : int or torch.Generator, default 0
        The source of randomness: ``generator`` is this generator (or one seeded with
        this int), and torch's global generator is seeded from it during training.
    schedule : {"constant", "cosine"}, default "constant"
        The learning rate stays ``lr``, or decays from ``lr`` to 0 along a half cosine
        (large steps early, small ones to settle at the end).
    progress : bool or None, default None
        ``True`` shows a tqdm bar, ``False`` never does, ``None`` shows one only when
        the output is an interactive terminal (so notebooks store no bar).

    Returns
    -------
    numpy.ndarray of shape (steps,)
        The loss at each step, before that step's update.

    Raises
    ------
    ValueError
        If ``steps`` or ``lr`` is not positive, the model has no trainable parameters,
        or the loss is not a finite scalar.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(1, 1, dtype=torch.float64)
    >>> def loss_fn(model, generator):
    ...     x = torch.randn(16, 1, generator=generator, dtype=torch.float64)
    ...     return ((model(x) - 3 * x) ** 2).mean()
    >>> losses = train(model, loss_fn, steps=300, lr=0.1, progress=False)
    >>> round(float(model.weight.detach()), 3)
    3.0
    >>> bool(losses[-1] < 1e-6 < losses[0])
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}.")
    if not callable(loss_fn):
        raise TypeError(f"`loss_fn` must be a function (model, generator) -> scalar loss; got {type(loss_fn).__name__}.")
    steps = V.check_positive_int(steps, "steps")
    V.check_positive_scalar(lr, "lr")
    generator = V.as_generator(seed)
    V.check_choice(schedule, "schedule", ("constant", "cosine"))
    if progress not in (None, True, False):
        raise TypeError(f"`progress` must be True, False or None; got {progress!r}.")
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("`model` has no trainable parameters (none with requires_grad=True).")

    optimizer = torch.optim.Adam(parameters, lr=float(lr))
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps) if schedule == "cosine" else None
    if progress is None:
        # Only an interactive terminal gets a bar: notebooks and logs store nothing.
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    bar = tqdm(range(steps), desc="training", disable=not progress, leave=False)
    losses = np.empty(steps)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator.initial_seed())
        for step in bar:
            optimizer.zero_grad()
            loss = loss_fn(model, generator)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(f"`loss_fn` must return a scalar tensor; got {type(loss).__name__}"
                                 + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else "") + ".")
            value = float(loss.detach())
            if not math.isfinite(value):
                raise ValueError(f"the loss is {value} at step {step}; try a smaller `lr`.")
            if not loss.requires_grad:
                raise ValueError("`loss_fn` must return a loss that depends on the model's parameters "
                                 "(it has no gradient); compute it from `model(...)` with torch operations.")
            loss.reshape(()).backward()
            optimizer.step()
            if decay is not None:
                decay.step()
            losses[step] = value
            if step % 50 == 0:
                bar.set_postfix(loss=f"{value:.4g}")
    bar.close()
    return losses
