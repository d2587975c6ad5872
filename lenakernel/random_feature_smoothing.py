"""Nadaraya-Watson in linear time: the Gaussian kernel replaced by random Fourier features.

exp(-||x - x'||^2 / (2 h^2)) = E[phi(x) . phi(x')] with phi(x) = [cos(W x / h), sin(W x / h)]
/ sqrt(s) (Rahimi and Recht, 2007), so the smoother is non-causal linear attention with the
feature map phi: O((n + m) s) instead of O(n m) (chapter 7).
"""

from __future__ import annotations

import torch

from . import _validation as V
from ._backend import as_tensors, positive_scalar_tensor
from .feature_maps import _as_projection, _seed_or_generator, sample_projection
from .linear import _noncausal_in_blocks

__all__ = ["rff_nadaraya_watson"]


def rff_nadaraya_watson(x_train, y_train, x_query, *, bandwidth, num_features, seed=None, generator=None,
                        kind="orthogonal"):
    r"""Gaussian Nadaraya-Watson smoothing in O(n + m) through random Fourier features.

    The Gaussian kernel :math:`\exp(-\|x-x'\|^2/(2h^2))` is replaced by its random-feature
    estimate :math:`\phi(x)\cdot\phi(x')`, so the smoother reassociates like linear attention:

    .. math:: \hat y(x) = \frac{\phi(x)^\top \sum_j \phi(x_j) y_j^\top}{\phi(x)^\top \sum_j \phi(x_j)}.

    The training sums are accumulated once, in blocks, in O(n D) time and O(D) memory.
    Unlike the Gaussian kernel, the estimate :math:`\phi(x)\cdot\phi(x')` can be negative, so
    the denominator is itself an estimate: where the query sits far from the data it can be
    near zero or negative and the prediction unreliable. More features shrink the error.

    Derived in chapter 7.

    Parameters
    ----------
    x_train : array_like or torch.Tensor, shape (n,) or (n, p)
    y_train : array_like or torch.Tensor, shape (n,) or (n, q)
    x_query : array_like or torch.Tensor, shape (m,) or (m, p)
    bandwidth : float
        h, the Gaussian kernel's standard deviation.
    num_features : int
        Number of random directions (the feature vector has 2 * num_features entries).
    seed : int, torch.Generator or numpy.random.Generator
        The source of the random directions, as in :func:`~lenakernel.sample_projection`.
    generator : optional
        Deprecated: the old name of a generator ``seed`` (warns).
    kind : {"orthogonal", "iid", "stratified"}, default "orthogonal"
        How the directions are drawn (:func:`~lenakernel.sample_projection`). For 1-D
        inputs ``"stratified"`` is by far the most accurate for a given ``num_features``.

    Returns
    -------
    y_hat : same kind as the inputs, shape (m,) or (m, q)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 1, 2000)
    >>> y = np.sin(2 * np.pi * x)
    >>> grid = np.linspace(0.2, 0.8, 4)
    >>> weights = np.exp(-(grid[:, None] - x[None, :]) ** 2 / (2 * 0.1 ** 2))
    >>> exact = weights @ y / weights.sum(1)
    >>> approx = rff_nadaraya_watson(x, y, grid, bandwidth=0.1, num_features=1000, seed=0)
    >>> bool(np.abs(approx - exact).max() < 0.02)
    True
    >>> stratified = rff_nadaraya_watson(x, y, grid, bandwidth=0.1, num_features=256, seed=0,
    ...                                  kind="stratified")
    >>> bool(np.abs(stratified - exact).max() < 0.005)
    True
    """
    tensors, restore = as_tensors(x_train=x_train, y_train=y_train, x_query=x_query)
    x, y, xq = tensors["x_train"], tensors["y_train"], tensors["x_query"]
    V.check_regression_data(x, y, xq)
    num_features = V.check_positive_int(num_features, "num_features")
    dtype, work = x.dtype, V.compute_dtype(x)
    x2, y2, xq2 = (V.as_points(t, name).to(work) for t, name in ((x, "x_train"), (y, "y_train"), (xq, "x_query")))
    h = positive_scalar_tensor(bandwidth, "bandwidth", x2)
    omega = sample_projection(num_features, x2.shape[1], kind=kind,
                              seed=_seed_or_generator(seed, generator, "rff_nadaraya_watson"))
    directions = _as_projection(omega, x2, work) / h

    def phi(points):
        # random_fourier_features in its two halves, without the 1/sqrt(s) that cancels in
        # the ratio; for one input column a broadcast product (a matmul with an inner size
        # of 1 is slow on CPU).
        angles = points * directions.T if points.shape[1] == 1 else points @ directions.T
        return torch.cos(angles), torch.sin(angles)

    # The identity of chapter 7: linear attention with random Fourier features (and no eps).
    num, den = _noncausal_in_blocks(phi, xq2, x2, y2, rows=max(1, 2**18 // num_features))
    out = num / den
    if not bool(torch.isfinite(out).all()):  # the data are finite: the angles or the estimate failed
        raise ValueError(
            "the random-feature estimate is not finite: `bandwidth` is too small for the angles "
            f"x w / h to be held in {work}, or with so few `num_features` the estimated normaliser "
            "is 0 at some query."
        )
    out = out.to(dtype)
    return restore(out if y.ndim == 2 else out.squeeze(-1))
