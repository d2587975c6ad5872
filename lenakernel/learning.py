"""Learning the kernel: fit the similarity by gradient descent instead of fixing it.

A learned metric smoother predicts ``y(x) = sum_j softmax_j(-||A (x - x_j)||^2 / 2) y_j``
(``A = I / h`` is the Gaussian kernel of bandwidth ``h``), fitted on the leave-one-out
error. Separate query and key projections give attention, ``softmax((W_Q x) . (W_K x_j))``,
which :class:`AttentionRegressor` trains to regress in context.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._backend import as_scalar_tensor, as_tensors
from ._validation import (
    check_finite,
    check_choice,
    check_ndim,
    check_not_empty,
    check_positive_int,
    check_positive_scalar,
    check_same_size,
)

__all__ = [
    "metric_kernel_smoother",
    "KernelSmoother",
    "KernelFit",
    "fit_kernel_smoother",
    "train",
    "RegressionTasks",
    "sample_regression_tasks",
    "in_context_features",
    "in_context_attention",
    "AttentionRegressor",
]


# ---------------------------------------------------------------------------
# A Nadaraya-Watson smoother with a learnable metric
# ---------------------------------------------------------------------------

def _as_points(t: torch.Tensor, name: str) -> torch.Tensor:
    """Return inputs as a matrix ``(n, p)``: a vector ``(n,)`` is ``n`` points in 1-D."""
    check_ndim(t, name, (1, 2), "(n,) or (n, p)")
    return t[:, None] if t.ndim == 1 else t


def _check_smoother_inputs(x_train, y_train, x_query, metric=None):
    """Validate and reshape the smoother's tensors; return ``(x_train, y_train, x_query)``."""
    x_train = _as_points(x_train, "x_train")
    x_query = _as_points(x_query, "x_query")
    check_ndim(y_train, "y_train", (1, 2), "(n,) or (n, d_v)")
    check_not_empty(x_train, "x_train", what="training points")
    check_same_size(x_train, "x_train", 0, y_train, "y_train", 0, "number of points")
    check_same_size(x_train, "x_train", 1, x_query, "x_query", 1, "number of input dimensions")
    for t, name in ((x_train, "x_train"), (y_train, "y_train"), (x_query, "x_query")):
        check_finite(t, name)
    if metric is not None:
        check_ndim(metric, "metric", (2,), "(r, p)")
        check_same_size(metric, "metric", 1, x_train, "x_train", 1, "number of input dimensions")
        check_finite(metric, "metric")
    return x_train, y_train, x_query


def _metric_smooth(x_train, y_train, x_query, metric, exclude_self):
    """The computation itself, on checked tensors: ``(weights @ y, weights)``."""
    # Differences first, then the metric: more accurate than expanding the square.
    diff = (x_query[:, None, :] - x_train[None, :, :]) @ metric.transpose(0, 1)
    logits = -0.5 * (diff * diff).sum(-1)  # (m, n)
    if exclude_self:
        # Leave one out: query i may not look at its own training point i.
        eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(eye, float("-inf"))
    # softmax subtracts the row maximum, so tiny or huge metrics stay finite.
    weights = torch.softmax(logits, dim=-1)
    y = y_train[:, None] if y_train.ndim == 1 else y_train
    out = weights @ y
    return (out[:, 0] if y_train.ndim == 1 else out), weights


def _check_exclude_self(x_train, x_query, exclude_self):
    if not isinstance(exclude_self, bool):
        raise TypeError(f"`exclude_self` must be True or False; got {exclude_self!r}.")
    if exclude_self:
        if x_query.shape[0] != x_train.shape[0]:
            raise ValueError(
                "`exclude_self=True` means query i is training point i, so `x_query` must have "
                f"as many points as `x_train`; got {x_query.shape[0]} and {x_train.shape[0]}."
            )
        if x_train.shape[0] < 2:
            raise ValueError("`exclude_self=True` needs at least 2 training points in `x_train`; got 1.")


def metric_kernel_smoother(x_train, y_train, x_query, *, metric, exclude_self=False, return_weights=False):
    """Nadaraya-Watson smoothing with the kernel ``exp(-||A (x - x')||^2 / 2)``.

    The Gaussian kernel of bandwidth ``h`` is the special case ``A = I / h``; a general
    ``A`` stretches some input directions and shrinks others.

    Derived in chapter 4.

    Parameters
    ----------
    x_train : array of shape (n,) or (n, p)
        Training inputs (a vector is ``n`` points in one dimension).
    y_train : array of shape (n,) or (n, d_v)
        Training outputs.
    x_query : array of shape (m,) or (m, p)
        Points at which to predict.
    metric : array of shape (r, p)
        The matrix ``A``.
    exclude_self : bool, default False
        Leave-one-out prediction: query ``i`` is training point ``i`` and gets weight 0
        on itself. Needs ``m == n >= 2``.
    return_weights : bool, default False
        Also return the weights, shape ``(m, n)``, rows summing to 1.

    Returns
    -------
    y_hat : array of shape (m,) or (m, d_v)
        Predictions; with ``return_weights``, the tuple ``(y_hat, weights)``.

    Raises
    ------
    ValueError
        On mismatched shapes, an empty training set, non-finite entries, or
        ``exclude_self`` with ``m != n``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0])
    >>> y = np.array([0.0, 1.0, 4.0])
    >>> np.round(metric_kernel_smoother(x, y, np.array([1.0]), metric=np.eye(1)), 4)
    array([1.5481])
    >>> np.round(metric_kernel_smoother(x, y, x, metric=np.eye(1), exclude_self=True), 4)
    array([1.5473, 2.    , 0.8176])
    """
    tensors, restore = as_tensors(x_train=x_train, y_train=y_train, x_query=x_query, metric=metric)
    x_t, y_t, x_q = _check_smoother_inputs(tensors["x_train"], tensors["y_train"], tensors["x_query"],
                                           tensors["metric"])
    _check_exclude_self(x_t, x_q, exclude_self)
    out, weights = _metric_smooth(x_t, y_t, x_q, tensors["metric"], exclude_self)
    return restore((out, weights) if return_weights else out)


class KernelSmoother(nn.Module):
    """A Nadaraya-Watson smoother whose kernel is a learnable parameter.

    Isotropic (``metric=False``): the Gaussian kernel ``exp(-||x - x'||^2 / (2 h^2))``
    with one learnable bandwidth, stored as ``log h`` so that gradient steps can never
    make it negative. With ``metric=True``: the kernel ``exp(-||A (x - x')||^2 / 2)`` with
    a learnable ``dim x dim`` matrix ``A``, started at ``I / h``.

    Derived in chapter 4.

    Parameters
    ----------
    dim : int, default 1
        Number of input dimensions ``p``.
    bandwidth : float, default 1.0
        The starting bandwidth ``h`` (> 0).
    metric : bool, default False
        Learn a full matrix ``A`` instead of a single bandwidth.
    dtype : torch.dtype, default torch.float64
        The parameters' dtype; inputs are computed in it.

    Attributes
    ----------
    log_bandwidth : torch.nn.Parameter or None
        ``log h`` (isotropic model only).
    metric_matrix : torch.nn.Parameter or None
        ``A`` (``metric=True`` only).

    Examples
    --------
    >>> import torch
    >>> model = KernelSmoother(bandwidth=0.5)
    >>> model.bandwidth
    0.5
    >>> x = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    >>> model(x, x ** 2, torch.tensor([1.0], dtype=torch.float64)).detach().numpy().round(4)
    array([1.213])
    """

    def __init__(self, dim: int = 1, *, bandwidth: float = 1.0, metric: bool = False,
                 dtype: torch.dtype = torch.float64):
        super().__init__()
        dim = check_positive_int(dim, "dim")
        check_positive_scalar(bandwidth, "bandwidth")
        self.dim = dim
        if metric:
            self.log_bandwidth = None
            self.metric_matrix = nn.Parameter(torch.eye(dim, dtype=dtype) / float(bandwidth))
        else:
            self.log_bandwidth = nn.Parameter(torch.tensor(math.log(float(bandwidth)), dtype=dtype))
            self.metric_matrix = None

    @property
    def bandwidth(self) -> float | None:
        """The current bandwidth ``h = exp(log h)`` as a number; ``None`` for a full metric."""
        return None if self.log_bandwidth is None else math.exp(float(self.log_bandwidth.detach()))

    @property
    def metric(self) -> torch.Tensor:
        """The matrix ``A`` of the kernel ``exp(-||A (x - x')||^2 / 2)`` (``I / h`` if isotropic)."""
        if self.metric_matrix is not None:
            return self.metric_matrix
        eye = torch.eye(self.dim, dtype=self.log_bandwidth.dtype, device=self.log_bandwidth.device)
        return eye * torch.exp(-self.log_bandwidth)

    def forward(self, x_train, y_train, x_query, *, exclude_self=False, return_weights=False):
        """Predict at ``x_query`` from ``(x_train, y_train)``; see :func:`metric_kernel_smoother`.

        Inputs are computed in the parameters' dtype; NumPy in gives NumPy out.
        """
        tensors, restore = as_tensors(x_train=x_train, y_train=y_train, x_query=x_query)
        metric = self.metric
        tensors = {k: v.to(dtype=metric.dtype, device=metric.device) for k, v in tensors.items()}
        x_t, y_t, x_q = _check_smoother_inputs(tensors["x_train"], tensors["y_train"], tensors["x_query"])
        if x_t.shape[1] != self.dim:
            raise ValueError(f"`x_train` must have {self.dim} input dimension(s) for this model; "
                             f"got shape {tuple(tensors['x_train'].shape)}.")
        _check_exclude_self(x_t, x_q, exclude_self)
        out, weights = _metric_smooth(x_t, y_t, x_q, metric, exclude_self)
        return restore((out, weights) if return_weights else out)


class KernelFit(NamedTuple):
    """What :func:`fit_kernel_smoother` returns."""

    model: KernelSmoother
    """The fitted smoother."""
    losses: np.ndarray
    """The leave-one-out mean squared error before each gradient step."""


def _rule_of_thumb_bandwidth(x: torch.Tensor) -> float:
    # Silverman-style start: 1.06 * spread * n^(-1/5), the spread averaged over dimensions.
    spread = float(x.std(dim=0).mean()) if x.shape[0] > 1 else 1.0
    spread = spread if spread > 0 else 1.0
    return 1.06 * spread * x.shape[0] ** (-0.2)


def fit_kernel_smoother(x, y, *, metric=False, bandwidth=None, steps=300, lr=0.05, progress=None):
    """Fit a :class:`KernelSmoother` by gradient descent on the leave-one-out error.

    The loss is ``mean_i (y_i - y_hat_{-i}(x_i))^2``, where ``y_hat_{-i}`` never sees
    point ``i`` (the kernel matrix's diagonal is masked). Adam, full batch, no
    randomness: the same data give the same fit.

    Derived in chapter 4.

    Parameters
    ----------
    x : array of shape (n,) or (n, p)
        Inputs, ``n >= 2``.
    y : array of shape (n,)
        Outputs.
    metric : bool, default False
        Learn a full matrix ``A`` rather than one bandwidth.
    bandwidth : float, optional
        Starting bandwidth; default a Silverman-style rule of thumb.
    steps : int, default 300
        Gradient steps.
    lr : float, default 0.05
        Adam's learning rate.
    progress : bool or None, default None
        Show a progress bar; ``None`` shows one only in an interactive terminal.

    Returns
    -------
    KernelFit
        ``(model, losses)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 1, 80)
    >>> y = np.sin(2 * np.pi * x) + 0.2 * rng.standard_normal(80)
    >>> fit = fit_kernel_smoother(x, y, steps=100)
    >>> round(fit.model.bandwidth, 3)
    0.032
    >>> bool(fit.losses[-1] < fit.losses[0])
    True
    """
    tensors, _ = as_tensors(x=x, y=y)
    x_t = _as_points(tensors["x"], "x")
    y_t = tensors["y"]
    check_ndim(y_t, "y", (1,), "(n,)")
    check_same_size(x_t, "x", 0, y_t, "y", 0, "number of points")
    if x_t.shape[0] < 2:
        raise ValueError(f"`x` needs at least 2 points for leave-one-out fitting; got shape {tuple(x_t.shape)}.")
    check_finite(x_t, "x")
    check_finite(y_t, "y")
    if bandwidth is None:
        bandwidth = _rule_of_thumb_bandwidth(x_t.detach())
    x_t, y_t = x_t.detach(), y_t.detach()
    model = KernelSmoother(x_t.shape[1], bandwidth=bandwidth, metric=bool(metric), dtype=x_t.dtype)

    def loo_loss(model, generator):
        prediction = model(x_t, y_t, x_t, exclude_self=True)
        return ((prediction - y_t) ** 2).mean()

    losses = train(model, loo_loss, steps=steps, lr=lr, progress=progress)
    return KernelFit(model, losses)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

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
    seed : int, default 0
        Seed for ``generator`` and torch's global generator during training.
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
    steps = check_positive_int(steps, "steps")
    check_positive_scalar(lr, "lr")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an integer; got {type(seed).__name__} {seed!r}.")
    check_choice(schedule, "schedule", ("constant", "cosine"))
    if progress not in (None, True, False):
        raise TypeError(f"`progress` must be True, False or None; got {progress!r}.")
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("`model` has no trainable parameters (none with requires_grad=True).")

    generator = torch.Generator().manual_seed(int(seed))
    optimizer = torch.optim.Adam(parameters, lr=float(lr))
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps) if schedule == "cosine" else None
    if progress is None:
        # Only an interactive terminal gets a bar: notebooks and logs store nothing.
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    bar = tqdm(range(steps), desc="training", disable=not progress, leave=False)
    losses = np.empty(steps)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for step in bar:
            optimizer.zero_grad()
            loss = loss_fn(model, generator)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(f"`loss_fn` must return a scalar tensor; got {type(loss).__name__}"
                                 + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else "") + ".")
            value = float(loss.detach())
            if not math.isfinite(value):
                raise ValueError(f"the loss is {value} at step {step}; try a smaller `lr`.")
            loss.reshape(()).backward()
            optimizer.step()
            if decay is not None:
                decay.step()
            losses[step] = value
            if step % 50 == 0:
                bar.set_postfix(loss=f"{value:.4g}")
    bar.close()
    return losses


# ---------------------------------------------------------------------------
# In-context regression
# ---------------------------------------------------------------------------

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


def _as_generator(seed, name="seed") -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer or a torch.Generator; got {type(seed).__name__} {seed!r}.")
    return torch.Generator().manual_seed(int(seed))


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
    seed : int or torch.Generator, default 0
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
    num_tasks = check_positive_int(num_tasks, "num_tasks")
    context_size = check_positive_int(context_size, "context_size")
    num_queries = check_positive_int(num_queries, "num_queries")
    num_features = check_positive_int(num_features, "num_features")
    check_positive_scalar(lengthscale, "lengthscale")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"`noise` must be a finite number >= 0; got {noise!r}.")
    generator = _as_generator(seed)

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
        points = torch.as_tensor(np.asarray(query_points) if not isinstance(query_points, torch.Tensor)
                                 else query_points).to(dtype)
        check_ndim(points, "query_points", (1,), "(num_queries,)")
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
    check_not_empty(x_context, "x_context", axis=-1, what="context points")
    if tuple(x_context.shape) != tuple(y_context.shape):
        raise ValueError(f"`x_context` and `y_context` must have the same shape (..., n); "
                         f"got {tuple(x_context.shape)} and {tuple(y_context.shape)}.")
    if x_query.shape[:-1] != x_context.shape[:-1]:
        raise ValueError(f"`x_query` and `x_context` must agree in their leading (task) dimensions; "
                         f"got shapes {tuple(x_query.shape)} and {tuple(x_context.shape)}.")
    for t, name in ((x_context, "x_context"), (y_context, "y_context"), (x_query, "x_query")):
        check_finite(t, name)


def _check_projections(w_query, w_key, w_value):
    check_ndim(w_query, "w_query", (2,), "(d_k, 3)")
    if w_query.shape[1] != 3:
        raise ValueError(f"`w_query` must have shape (d_k, 3), acting on [x, x^2, 1]; got {tuple(w_query.shape)}.")
    if tuple(w_key.shape) != tuple(w_query.shape):
        raise ValueError(f"`w_key` must have the same shape as `w_query` {tuple(w_query.shape)}; "
                         f"got {tuple(w_key.shape)}.")
    if tuple(w_value.shape) != (4,):
        raise ValueError(f"`w_value` must have shape (4,), acting on [x, x^2, 1, y]; got {tuple(w_value.shape)}.")


def _in_context(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    phi_context = _lift(x_context)                              # (..., n, 3)
    tokens = torch.cat([phi_context, y_context[..., None]], -1)  # (..., n, 4): [x, x^2, 1, y]
    q = _lift(x_query) @ w_query.transpose(0, 1)               # (..., m, d_k)
    k = phi_context @ w_key.transpose(0, 1)                     # (..., n, d_k)
    v = tokens @ w_value                                        # (..., n)
    logits = q @ k.transpose(-1, -2) / (temperature * math.sqrt(w_query.shape[0]))
    weights = torch.softmax(logits, dim=-1)                     # (..., m, n), rows sum to 1
    return (weights @ v[..., None])[..., 0], weights


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
    >>> np.round(metric_kernel_smoother(x, y, np.array([1.0]), metric=np.eye(1) / h), 4)
    array([1.213])
    """
    tensors, restore = as_tensors(x_context=x_context, y_context=y_context, x_query=x_query,
                                  w_query=w_query, w_key=w_key, w_value=w_value)
    _check_in_context_inputs(tensors["x_context"], tensors["y_context"], tensors["x_query"])
    _check_projections(tensors["w_query"], tensors["w_key"], tensors["w_value"])
    check_positive_scalar(temperature, "temperature")
    tau = as_scalar_tensor(temperature, "temperature", tensors["x_context"])
    out, weights = _in_context(*(tensors[k] for k in ("x_context", "y_context", "x_query",
                                                       "w_query", "w_key", "w_value")), tau)
    return restore((out, weights) if return_weights else out)


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
    seed : int, default 0
        Seed for the random initial projections (normal, standard deviation
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
        head_dim = check_positive_int(head_dim, "head_dim")
        generator = _as_generator(seed)
        scale = 1 / math.sqrt(3)
        self.tied = bool(tied)
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
        """
        tensors, restore = as_tensors(x_context=x_context, y_context=y_context, x_query=x_query)
        like = self.w_query
        x_c, y_c, x_q = (tensors[k].to(dtype=like.dtype, device=like.device)
                         for k in ("x_context", "y_context", "x_query"))
        _check_in_context_inputs(x_c, y_c, x_q)
        out, weights = _in_context(x_c, y_c, x_q, self.w_query, self.w_key, self.w_value,
                                   self.log_temperature.exp())
        return restore((out, weights) if return_weights else out)
