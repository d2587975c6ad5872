"""In-context regression: one attention head that smooths over the (x, y) pairs it is shown.

A context token is ``[x, x^2, 1, y]``; the head is softmax attention with queries and keys
read from ``[x, x^2, 1]``, i.e. Nadaraya-Watson with a learned kernel; tasks are random
smooth functions (chapter 5).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from . import _validation as V
from ._backend import as_tensors, positive_scalar_tensor
from .attention import _softmax_attention

__all__ = [
    "RegressionTasks",
    "sample_regression_tasks",
    "in_context_features",
    "in_context_attention",
    "AttentionRegressor",
]


class RegressionTasks(NamedTuple):
    """A batch of regression tasks from :func:`sample_regression_tasks`."""

    x_context: torch.Tensor
    """Context inputs, shape ``(num_tasks, context_size)``."""
    y_context: torch.Tensor
    """Noisy context outputs ``f(x) + noise * eps``, same shape."""
    x_query: torch.Tensor
    """Query inputs, shape ``(num_tasks, num_queries)``."""
    y_query: torch.Tensor
    """The noiseless targets ``f(x_query)``, same shape."""


def sample_regression_tasks(num_tasks, context_size, num_queries, *, noise=0.1, lengthscale=0.25,
                            num_features=32, query_points=None, seed=0, dtype=torch.float64):
    """Draw random smooth 1-D functions and sample a context and queries from each.

    Each task's function is a random Fourier sum
    ``f(x) = sqrt(2 / F) * sum_k a_k cos(w_k x + b_k)`` with ``a_k ~ N(0, 1)``,
    ``w_k ~ N(0, 1 / lengthscale^2)`` and ``b_k ~ U[0, 2 pi)``: approximately a draw from
    a Gaussian process with the Gaussian covariance ``exp(-(x - x')^2 / (2 lengthscale^2))``
    (unit variance; the approximation improves as ``F`` grows). Inputs are uniform on
    ``[-1, 1]``.

    Derived in chapter 5.

    Parameters
    ----------
    num_tasks, context_size, num_queries : int
        How many tasks, context pairs per task, and queries per task (each >= 1).
    noise : float, default 0.1
        Standard deviation of the Gaussian noise on the context outputs (>= 0).
    lengthscale : float, default 0.25
        How quickly the functions wiggle (> 0): smaller is rougher.
    num_features : int, default 32
        ``F``, the number of cosines in each function.
    query_points : array of shape (num_queries,), optional
        Fixed query inputs for every task (e.g. a grid for plotting); default random.
    seed : int, torch.Generator or numpy.random.Generator, default 0
        The source of randomness; the same seed gives the same tasks.
    dtype : torch.dtype, default torch.float64

    Returns
    -------
    RegressionTasks
        ``(x_context, y_context, x_query, y_query)``; ``y_query`` is noiseless.

    Examples
    --------
    >>> tasks = sample_regression_tasks(4, 16, 8, seed=0)
    >>> tuple(tasks.x_context.shape), tuple(tasks.x_query.shape)
    ((4, 16), (4, 8))
    >>> bool((sample_regression_tasks(4, 16, 8, seed=0).y_context == tasks.y_context).all())
    True
    """
    num_tasks = V.check_positive_int(num_tasks, "num_tasks")
    context_size = V.check_positive_int(context_size, "context_size")
    num_queries = V.check_positive_int(num_queries, "num_queries")
    num_features = V.check_positive_int(num_features, "num_features")
    V.check_positive_scalar(lengthscale, "lengthscale")
    noise = V.check_nonnegative_scalar(noise, "noise")
    V.check_float_dtype(dtype)
    generator = V.as_generator(seed)

    def uniform(*shape):
        return 2 * torch.rand(*shape, generator=generator, dtype=dtype) - 1

    omega = torch.randn(num_tasks, num_features, generator=generator, dtype=dtype) / float(lengthscale)
    phase = 2 * math.pi * torch.rand(num_tasks, num_features, generator=generator, dtype=dtype)
    amplitude = torch.randn(num_tasks, num_features, generator=generator, dtype=dtype) * math.sqrt(2 / num_features)

    def f(x):  # (T, m) -> (T, m)
        return (amplitude[:, None, :] * torch.cos(omega[:, None, :] * x[..., None] + phase[:, None, :])).sum(-1)

    x_context = uniform(num_tasks, context_size)
    y_context = f(x_context) + float(noise) * torch.randn(num_tasks, context_size, generator=generator, dtype=dtype)
    if query_points is None:
        x_query = uniform(num_tasks, num_queries)
    else:
        tensors, _ = as_tensors(query_points=query_points)
        points = tensors["query_points"].detach().to(dtype)
        V.check_ndim(points, "query_points", (1,), "(num_queries,)")
        V.check_finite(points, "query_points")
        if points.shape[0] != num_queries:
            raise ValueError(f"`query_points` must hold `num_queries` = {num_queries} points; "
                             f"got shape {tuple(points.shape)}.")
        x_query = points.expand(num_tasks, num_queries).clone()
    return RegressionTasks(x_context, y_context, x_query, f(x_query))


def _lift(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([x, x * x, torch.ones_like(x)], dim=-1)


def in_context_features(x):
    """The fixed feature lift of a scalar input: ``phi(x) = [x, x^2, 1]``.

    With it, a bilinear score ``phi(x)^T M phi(x')`` can be exactly the Gaussian
    log-kernel ``-(x - x')^2 / (2 h^2)`` up to a query-only term (which the softmax
    removes): ``M[0, 0] = 1 / h^2`` and ``M[2, 1] = -1 / (2 h^2)``.

    Derived in chapter 5.

    Parameters
    ----------
    x : array of shape (...)
        Scalar inputs.

    Returns
    -------
    array of shape (..., 3)

    Examples
    --------
    >>> import numpy as np
    >>> in_context_features(np.array([2.0, -1.0]))
    array([[ 2.,  4.,  1.],
           [-1.,  1.,  1.]])
    """
    tensors, restore = as_tensors(x=x)
    return restore(_lift(tensors["x"]))


def _check_in_context_inputs(x_context, y_context, x_query):
    if x_context.ndim < 1:
        raise ValueError(f"`x_context` must have shape (..., n); got shape {tuple(x_context.shape)}.")
    if x_query.ndim < 1:
        raise ValueError(f"`x_query` must have shape (..., m); got shape {tuple(x_query.shape)}.")
    V.check_not_empty(x_context, "x_context", axis=-1, what="context points")
    if tuple(x_context.shape) != tuple(y_context.shape):
        raise ValueError(f"`x_context` and `y_context` must have the same shape (..., n); "
                         f"got {tuple(x_context.shape)} and {tuple(y_context.shape)}.")
    if x_query.shape[:-1] != x_context.shape[:-1]:
        raise ValueError(f"`x_query` and `x_context` must agree in their leading (task) dimensions; "
                         f"got shapes {tuple(x_query.shape)} and {tuple(x_context.shape)}.")
    V.check_all_finite(x_context=x_context, y_context=y_context, x_query=x_query)


def _check_projections(w_query, w_key, w_value):
    V.check_ndim(w_query, "w_query", (2,), "(d_k, 3)")
    if w_query.shape[1] != 3:
        raise ValueError(f"`w_query` must have shape (d_k, 3), acting on [x, x^2, 1]; got {tuple(w_query.shape)}.")
    if tuple(w_key.shape) != tuple(w_query.shape):
        raise ValueError(f"`w_key` must have the same shape as `w_query` {tuple(w_query.shape)}; "
                         f"got {tuple(w_key.shape)}.")
    if tuple(w_value.shape) != (4,):
        raise ValueError(f"`w_value` must have shape (4,), acting on [x, x^2, 1, y]; got {tuple(w_value.shape)}.")
    V.check_all_finite(w_query=w_query, w_key=w_key, w_value=w_value)


def _in_context(x_context, y_context, x_query, w_query, w_key, w_value, temperature, return_weights):
    phi_context = _lift(x_context)                              # (..., n, 3)
    tokens = torch.cat([phi_context, y_context[..., None]], -1)  # (..., n, 4): [x, x^2, 1, y]
    q = _lift(x_query) @ w_query.transpose(0, 1)               # (..., m, d_k)
    k = phi_context @ w_key.transpose(0, 1)                     # (..., n, d_k)
    v = tokens @ w_value                                        # (..., n)
    # The identity of chapter 5: the head is softmax attention with scale 1 / (tau sqrt(d_k))
    # (softmax_attention after its validation: the inputs are checked by the callers).
    scale = (1 / (temperature * math.sqrt(w_query.shape[0]))).clamp(torch.finfo(q.dtype).tiny)
    result = _softmax_attention(q, k, v[..., None], scale, return_weights=return_weights)
    return (result[0][..., 0], result[1]) if return_weights else result[..., 0]


def in_context_attention(x_context, y_context, x_query, *, w_query, w_key, w_value, temperature=1.0,
                         return_weights=False):
    """One attention head that regresses in context: queries attend over (x, y) pairs.

    A context token is ``[phi(x_j), y_j] = [x_j, x_j^2, 1, y_j]``; a query token carries
    ``phi(x)`` only (its y is what we want). Query and key read the x-features,
    ``q = W_Q phi(x)``, ``k_j = W_K phi(x_j)``; the value reads the whole token,
    ``v_j = w_V . [phi(x_j), y_j]``. The prediction is
    ``sum_j softmax_j(q . k_j / (tau sqrt(d_k))) v_j``: Nadaraya-Watson with the learned
    kernel ``exp(phi(x)^T W_Q^T W_K phi(x_j) / (tau sqrt(d_k)))``, which depends on x and
    x_j only. The temperature ``tau`` plays the bandwidth's part: larger is wider.

    Derived in chapter 5.

    Parameters
    ----------
    x_context, y_context : array of shape (..., n)
        The context pairs (``n >= 1``); leading dimensions index tasks.
    x_query : array of shape (..., m)
        Query inputs, same leading dimensions.
    w_query, w_key : array of shape (d_k, 3)
        Query and key projections.
    w_value : array of shape (4,)
        Value projection.
    temperature : float or 0-d tensor, default 1.0
        ``tau > 0``; the scores are divided by ``tau sqrt(d_k)``.
    return_weights : bool, default False
        Also return the attention weights, shape ``(..., m, n)``.

    Returns
    -------
    y_hat : array of shape (..., m)
        With ``return_weights``, ``(y_hat, weights)``.

    Examples
    --------
    >>> import numpy as np
    >>> h = 0.5  # W_Q^T W_K / sqrt(d_k) is the Gaussian log-kernel of bandwidth h
    >>> w_query = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) * 2 ** 0.25
    >>> w_key = np.array([[1.0, 0.0, 0.0], [0.0, -0.5, 0.0]]) * 2 ** 0.25 / h ** 2
    >>> w_value = np.array([0.0, 0.0, 0.0, 1.0])
    >>> x = np.array([0.0, 1.0, 2.0]); y = x ** 2
    >>> np.round(in_context_attention(x, y, np.array([1.0]), w_query=w_query, w_key=w_key,
    ...                               w_value=w_value), 4)
    array([1.213])
    >>> from lenakernel import metric_kernel_smoother
    >>> np.round(metric_kernel_smoother(x, y, np.array([1.0]), metric=np.eye(1) / h), 4)
    array([1.213])
    """
    V.check_flag(return_weights, "return_weights")
    tensors, restore = as_tensors(x_context=x_context, y_context=y_context, x_query=x_query,
                                  w_query=w_query, w_key=w_key, w_value=w_value)
    _check_in_context_inputs(tensors["x_context"], tensors["y_context"], tensors["x_query"])
    _check_projections(tensors["w_query"], tensors["w_key"], tensors["w_value"])
    tau = positive_scalar_tensor(temperature, "temperature", tensors["x_context"])
    return restore(_in_context(*(tensors[k] for k in ("x_context", "y_context", "x_query", "w_query", "w_key",
                                                      "w_value")), tau, return_weights))


class AttentionRegressor(nn.Module):
    """A single attention head trained to do regression from its context.

    It reads a context of pairs ``(x_j, y_j)`` and predicts ``y`` at query inputs with
    :func:`in_context_attention`, using its learned ``W_Q``, ``W_K`` (shape
    ``(head_dim, 3)``), ``w_V`` (shape ``(4,)``) and temperature ``tau``. The
    temperature is stored as ``log tau`` (like chapter 4's log-bandwidth): it could be
    absorbed into ``W_Q``, but as its own number gradient descent can widen or narrow
    the kernel quickly. Nothing in the head depends on the order or the number of
    context pairs, so it accepts any context length and is invariant to shuffling the
    context. With ``tied=True`` the key projection is the query projection
    (``W_K = W_Q``), which makes the learned kernel symmetric.

    Derived in chapter 5.

    Parameters
    ----------
    head_dim : int, default 3
        ``d_k``, the query/key dimension.
    tied : bool, default False
        Share one matrix between queries and keys.
    seed : int, torch.Generator or numpy.random.Generator, default 0
        Source of the random initial projections (normal, standard deviation
        ``1 / sqrt(3)`` for ``W_Q`` and ``W_K``, 1/2 for ``w_V``); ``tau`` starts at 1.
    dtype : torch.dtype, default torch.float64

    Examples
    --------
    >>> import torch
    >>> model = AttentionRegressor(seed=0)
    >>> tasks = sample_regression_tasks(2, 10, 5, seed=1)
    >>> tuple(model(tasks.x_context, tasks.y_context, tasks.x_query).shape)
    (2, 5)
    >>> sum(p.numel() for p in model.parameters())
    23
    >>> model.temperature
    1.0
    """

    def __init__(self, head_dim: int = 3, *, tied: bool = False, seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        head_dim = V.check_positive_int(head_dim, "head_dim")
        V.check_float_dtype(dtype)
        generator = V.as_generator(seed)
        scale = 1 / math.sqrt(3)
        self.tied = V.check_flag(tied, "tied")
        self.w_query = nn.Parameter(torch.randn(head_dim, 3, generator=generator, dtype=dtype) * scale)
        key = torch.randn(head_dim, 3, generator=generator, dtype=dtype) * scale
        self._w_key = None if self.tied else nn.Parameter(key)
        self.w_value = nn.Parameter(torch.randn(4, generator=generator, dtype=dtype) * 0.5)
        self.log_temperature = nn.Parameter(torch.zeros((), dtype=dtype))

    @property
    def w_key(self) -> torch.Tensor:
        """The key projection (the query projection itself when ``tied``)."""
        return self.w_query if self._w_key is None else self._w_key

    @property
    def temperature(self) -> float:
        """The current temperature ``tau = exp(log tau)`` as a number."""
        return math.exp(float(self.log_temperature.detach()))

    def forward(self, x_context, y_context, x_query, *, return_weights=False):
        """Predict ``y`` at ``x_query`` from the context; see :func:`in_context_attention`.

        Inputs are computed in the parameters' dtype; NumPy in gives NumPy out.

        Parameters
        ----------
        x_context, y_context : array of shape (..., n)
            The context pairs.
        x_query : array of shape (..., m)
            Query inputs, same leading dimensions.
        return_weights : bool, default False
            Also return the attention weights, shape ``(..., m, n)``.

        Returns
        -------
        y_hat : array of shape (..., m)
            With ``return_weights``, ``(y_hat, weights)``.
        """
        tensors, restore = as_tensors(x_context=x_context, y_context=y_context, x_query=x_query)
        like = self.w_query
        x_c, y_c, x_q = (tensors[k].to(dtype=like.dtype, device=like.device)
                         for k in ("x_context", "y_context", "x_query"))
        _check_in_context_inputs(x_c, y_c, x_q)
        V.check_flag(return_weights, "return_weights")
        return restore(_in_context(x_c, y_c, x_q, self.w_query, self.w_key, self.w_value,
                                   self.log_temperature.exp(), return_weights))
