"""Learning the kernel: fit the similarity by gradient descent instead of fixing it.

A learned metric smoother predicts ``y(x) = sum_j softmax_j(-||A (x - x_j)||^2 / 2) y_j``:
Nadaraya-Watson with the Gaussian kernel of bandwidth 1 on the transformed inputs ``A x``
(``A = I / h`` is the Gaussian kernel of bandwidth ``h``), fitted on the leave-one-out error.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from . import _validation as V
from ._backend import as_tensors
from .kernels import _log_gaussian_sq
from .smoothing import _nadaraya_watson, nadaraya_watson, silverman_bandwidth
from .training import train

__all__ = ["metric_kernel_smoother", "KernelSmoother", "KernelFit", "fit_kernel_smoother"]


def _metric_smooth(x_train, y_train, x_query, metric, exclude_self, return_weights):
    """The identity of chapter 4: the metric smoother is N-W on the inputs ``A x``, with h = 1.

    (:func:`~lenakernel.nadaraya_watson` after its validation: the inputs are checked here.)
    """
    if exclude_self and not x_query.shape[0] == x_train.shape[0] >= 2:
        nadaraya_watson(x_train, y_train, x_query, bandwidth=1.0, exclude_self=True)  # raises, naming them
    return _nadaraya_watson(x_train @ metric.mT, y_train, x_query @ metric.mT, _log_gaussian_sq,
                            metric.new_tensor(1.0), exclude_self, return_weights)


def _check_metric(metric, x_train):
    V.check_ndim(metric, "metric", (2,), "(r, p)")
    V.check_same_size(metric, "metric", 1, x_train, "x_train", 1, "number of input dimensions")
    V.check_finite(metric, "metric")


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
    V.check_flag(exclude_self, "exclude_self")
    V.check_flag(return_weights, "return_weights")
    tensors, restore = as_tensors(x_train=x_train, y_train=y_train, x_query=x_query, metric=metric)
    x_t, y_t, x_q = tensors["x_train"], tensors["y_train"], tensors["x_query"]
    V.check_regression_data(x_t, y_t, x_q)
    x_t, x_q = V.as_points(x_t, "x_train"), V.as_points(x_q, "x_query")
    _check_metric(tensors["metric"], x_t)
    return restore(_metric_smooth(x_t, y_t, x_q, tensors["metric"], exclude_self, return_weights))


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
        dim = V.check_positive_int(dim, "dim")
        V.check_positive_scalar(bandwidth, "bandwidth")
        V.check_float_dtype(dtype)
        metric = V.check_flag(metric, "metric")
        info = torch.finfo(dtype)
        if not (info.tiny <= float(bandwidth) and 1 / float(bandwidth) <= info.max):
            raise ValueError(f"`bandwidth` must be within the range {dtype} can hold with its inverse "
                             f"([{1 / info.max:.3g}, {info.max:.3g}]); got {float(bandwidth)!r}.")
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

        Parameters
        ----------
        x_train, y_train, x_query : array
            As in :func:`metric_kernel_smoother`.
        exclude_self, return_weights : bool, default False
            As in :func:`metric_kernel_smoother`.

        Returns
        -------
        y_hat : array of shape (m,) or (m, d_v)
            With ``return_weights``, ``(y_hat, weights)``.
        """
        tensors, restore = as_tensors(x_train=x_train, y_train=y_train, x_query=x_query)
        x_t, y_t, x_q = tensors["x_train"], tensors["y_train"], tensors["x_query"]
        V.check_regression_data(x_t, y_t, x_q)
        metric = self.metric
        x_t, y_t, x_q = (t.to(dtype=metric.dtype, device=metric.device) for t in (x_t, y_t, x_q))
        x_t, x_q = V.as_points(x_t, "x_train"), V.as_points(x_q, "x_query")
        if x_t.shape[1] != self.dim:
            raise ValueError(f"`x_train` must have {self.dim} input dimension(s) for this model; "
                             f"got shape {tuple(tensors['x_train'].shape)}.")
        return restore(_metric_smooth(x_t, y_t, x_q, metric, exclude_self, return_weights))


class KernelFit(NamedTuple):
    """What :func:`fit_kernel_smoother` returns."""

    model: KernelSmoother
    """The fitted smoother."""
    losses: np.ndarray
    """The leave-one-out mean squared error before each gradient step."""


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
        Starting bandwidth; default :func:`~lenakernel.silverman_bandwidth` of ``x``
        (1 if every point is the same).
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
    V.check_regression_data(tensors["x"], tensors["y"], names=("x", "y", None))
    V.check_ndim(tensors["y"], "y", (1,), "(n,)")
    x_t, y_t = V.as_points(tensors["x"], "x").detach(), tensors["y"].detach()
    if x_t.shape[0] < 2 or x_t.shape[1] < 1:
        raise ValueError(f"`x` needs at least 2 points with at least 1 feature for leave-one-out fitting; "
                         f"got shape {tuple(tensors['x'].shape)}.")
    V.check_flag(metric, "metric")
    if bandwidth is None:
        # Silverman's rule; inputs with no spread at all (every point equal) start at h = 1.
        bandwidth = silverman_bandwidth(x_t) if bool((x_t != x_t[:1]).any()) else 1.0
    x_t, y_t = x_t.to(V.compute_dtype(x_t)), y_t.to(V.compute_dtype(x_t))
    model = KernelSmoother(x_t.shape[1], bandwidth=bandwidth, metric=metric, dtype=x_t.dtype)

    def loo_loss(model, generator):
        prediction = model(x_t, y_t, x_t, exclude_self=True)
        return ((prediction - y_t) ** 2).mean()

    losses = train(model, loo_loss, steps=steps, lr=lr, progress=progress)
    return KernelFit(model, losses)
