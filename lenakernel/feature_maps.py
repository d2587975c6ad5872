"""Feature maps: a kernel written as an inner product, K(x, y) = phi(x) . phi(y).

Deterministic maps (elu+1, ReLU, the exact second-order Taylor map) define their own
kernel (chapter 7); random maps (Fourier, positive, trigonometric, hyperbolic) give
unbiased estimates of the Gaussian kernel or of exp(x . y) (chapter 8). Every map takes
``x`` of shape ``(..., d)`` and returns features of shape ``(..., D)``.
"""

from __future__ import annotations

import math
import types

import numpy as np
import torch

from . import _validation as V
from ._backend import as_real_tensor, as_tensors, positive_scalar_tensor
from ._deprecation import renamed_argument

__all__ = [
    "elu_plus_one",
    "relu_features",
    "taylor_features",
    "sample_projection",
    "random_fourier_features",
    "positive_random_features",
    "trigonometric_random_features",
    "hyperbolic_random_features",
]

def _check_input(x: torch.Tensor) -> None:
    V.check_min_ndim(x, "x", 1, "(..., d)")
    V.check_not_empty(x, "x", axis=-1, what="feature columns (last axis)")


def _as_projection(projection, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The projection as a tensor on ``x``'s device; it may be NumPy or torch either way."""
    omega = as_real_tensor(projection, "projection",
                           "an array of shape (num_features, dim), e.g. from lk.sample_projection")
    if omega.ndim != 2:
        raise ValueError(
            f"`projection` must have shape (num_features, dim); got shape {tuple(omega.shape)}."
        )
    V.check_finite(omega, "projection")
    if omega.shape[1] != x.shape[-1]:
        raise ValueError(
            f"`projection` has dim {omega.shape[1]} (shape {tuple(omega.shape)}) but `x` has "
            f"{x.shape[-1]} features in its last axis (shape {tuple(x.shape)}); they must agree."
        )
    if omega.shape[0] == 0:
        raise ValueError("`projection` has no rows: at least one random feature is needed.")
    return omega.to(device=x.device, dtype=dtype)


def _offset(exponent: torch.Tensor, stabilizer, x: torch.Tensor) -> torch.Tensor | None:
    """The log-scale offset ``c`` subtracted from ``exponent`` (shape (..., D))."""
    if stabilizer is None:
        return None
    if isinstance(stabilizer, str):
        if stabilizer != "max":
            raise ValueError(f"`stabilizer` must be None, 'max' or a number/array; got {stabilizer!r}.")
        # A constant per row: detached, because it cancels wherever the map is normalised.
        return exponent.detach().amax(dim=-1, keepdim=True)
    c = as_real_tensor(stabilizer, "stabilizer", "None, 'max' or a number/array")
    V.check_finite(c, "stabilizer")
    c = c.to(device=exponent.device, dtype=exponent.dtype)
    try:
        fits = torch.broadcast_shapes(c.shape, exponent.shape) == exponent.shape
    except RuntimeError:
        fits = False
    if not fits or (c.ndim > 0 and c.shape[-1] != 1):
        raise ValueError(
            f"`stabilizer` must be a number or have shape {tuple(x.shape[:-1]) + (1,)} "
            f"(one offset per row of `x`); got shape {tuple(c.shape)}."
        )
    return c


def elu_plus_one(x):
    r"""The elu+1 feature map of the linear transformer: :math:`\phi(x) = \mathrm{elu}(x) + 1`.

    Equal to :math:`x + 1` for :math:`x > 0` and :math:`e^{x}` for :math:`x \le 0`, so every
    feature is positive and :math:`\phi(q)\cdot\phi(k) > 0`. It is computed as
    ``exp(min(x, 0)) + max(x, 0)`` (accurate for very negative ``x``, and no overflow in
    the unused branch), in float32 for float16/bfloat16 inputs, and clamped to the smallest
    positive normal number of the output dtype, so a feature never rounds to zero.

    Derived in chapter 7.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (..., d)

    Returns
    -------
    features : same kind and dtype as ``x``, shape (..., d)

    Examples
    --------
    >>> import numpy as np
    >>> elu_plus_one(np.array([-1.0, 0.0, 2.0])).round(4)
    array([0.3679, 1.    , 3.    ])
    >>> import torch
    >>> bool((elu_plus_one(torch.full((3,), -100.0, dtype=torch.bfloat16)) > 0).all())
    True
    """
    tensors, restore = as_tensors(x=x)
    x = tensors["x"]
    _check_input(x)
    work = x.to(V.compute_dtype(x))
    return restore(_elu_plus_one(work, _lowest_exponent(x.dtype)).to(x.dtype))


def _lowest_exponent(dtype: torch.dtype) -> float:
    """log of the smallest positive normal number of ``dtype``, plus a margin of 0.01."""
    if dtype not in _LOWEST_EXPONENT:
        _LOWEST_EXPONENT[dtype] = math.log(torch.finfo(dtype).tiny) + 0.01
    return _LOWEST_EXPONENT[dtype]


_LOWEST_EXPONENT: dict = {}


def _elu_plus_one(x: torch.Tensor, lowest: float | None = None) -> torch.Tensor:
    """:func:`elu_plus_one` on a checked float32/float64 tensor, with no conversion.

    Clamping the exponent from below at ``lowest`` (by default for ``x``'s own dtype)
    keeps exp(.) at or above the smallest normal number, so no feature is ever exactly zero.
    """
    if lowest is None:
        lowest = _lowest_exponent(x.dtype)
    if x.requires_grad and torch.is_grad_enabled():
        return torch.exp(x.clamp(lowest, 0.0)) + torch.relu(x)
    return x.clamp(lowest, 0.0).exp_().add_(torch.relu(x))  # in place: fewer passes over memory


def relu_features(x):
    r"""The ReLU feature map :math:`\phi(x) = \max(x, 0)`.

    Non-negative, but a row can be all zeros, so a linear-attention normaliser built from it
    can vanish (which is why linear attention adds a small ``eps``).

    Derived in chapter 7.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (..., d)

    Returns
    -------
    features : same kind and dtype as ``x``, shape (..., d)

    Examples
    --------
    >>> import numpy as np
    >>> relu_features(np.array([[-1.0, 0.5]]))
    array([[0. , 0.5]])
    """
    tensors, restore = as_tensors(x=x)
    x = tensors["x"]
    _check_input(x)
    return restore(torch.relu(x))


def taylor_features(x):
    r"""The exact second-order Taylor feature map.

    :math:`\phi(x) = [1,\ x,\ \mathrm{vec}(x x^\top)/\sqrt{2}]`, of dimension
    :math:`1 + d + d^2`, satisfies exactly

    .. math:: \phi(x)\cdot\phi(y) = 1 + x\cdot y + \tfrac12 (x\cdot y)^2,

    the first three terms of :math:`\exp(x\cdot y)`.

    Derived in chapter 7.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (..., d)

    Returns
    -------
    features : same kind as ``x``, shape (..., 1 + d + d**2)

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.array([0.3, -0.2]), np.array([0.1, 0.4])
    >>> taylor_features(x).shape
    (7,)
    >>> s = x @ y
    >>> bool(np.isclose(taylor_features(x) @ taylor_features(y), 1 + s + s**2 / 2))
    True
    """
    tensors, restore = as_tensors(x=x)
    x = tensors["x"]
    _check_input(x)
    return restore(_taylor_features(x))


# The deterministic maps by name, for linear attention's ``feature_map`` argument.
FEATURE_MAPS = {"elu+1": elu_plus_one, "relu": relu_features, "taylor": taylor_features}


def _resolve_feature_map(feature_map):
    if isinstance(feature_map, str):
        V.check_choice(feature_map, "feature_map", tuple(FEATURE_MAPS))
        return FEATURE_MAPS[feature_map]
    if callable(feature_map):
        return feature_map
    raise TypeError(
        f"`feature_map` must be one of {', '.join(map(repr, FEATURE_MAPS))} or a function x -> phi(x); "
        f"got {type(feature_map).__name__}."
    )


def _taylor_features(x: torch.Tensor) -> torch.Tensor:
    """:func:`taylor_features` on a checked tensor, with no conversion."""
    ones = torch.ones(x.shape[:-1] + (1,), dtype=x.dtype, device=x.device)
    outer = (x.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2) / math.sqrt(2.0)
    return torch.cat([ones, x, outer], dim=-1)


# The same maps on checked float32/float64 tensors: what the package's own hot paths call.
_KERNELS_OF_MAPS = {elu_plus_one: _elu_plus_one, relu_features: torch.relu, taylor_features: _taylor_features}


def _apply_feature_map(phi, x: torch.Tensor, name: str) -> torch.Tensor:
    """``phi(x)``, checked to be a tensor (..., D) with ``x``'s leading dimensions.

    ``x`` is a float32/float64 tensor with at least one dimension and one feature; a
    built-in map then runs its kernel directly (no conversion, nothing to check).
    """
    kernel = _KERNELS_OF_MAPS.get(phi) if type(phi) is types.FunctionType else None  # hashable
    if kernel is not None and x.dtype in (torch.float32, torch.float64) and x.ndim and x.shape[-1]:
        return kernel(x)
    features = phi(x)
    if not isinstance(features, torch.Tensor):
        raise TypeError(
            f"`feature_map` must return a torch tensor when given the tensor `{name}`; "
            f"got {type(features).__name__}."
        )
    if features.shape[:-1] != x.shape[:-1] or features.ndim != x.ndim:
        raise ValueError(
            f"`feature_map` must map shape (..., d) to (..., D), keeping the leading dimensions; "
            f"for `{name}` of shape {tuple(x.shape)} it returned shape {tuple(features.shape)}."
        )
    return features


def _seed_or_generator(seed, generator, function):
    """The generator for ``seed`` (int, torch or NumPy generator); ``generator=`` is its old name."""
    if generator is not None:
        renamed_argument(function, "generator", "seed", stacklevel=4)
        if seed is not None:
            raise ValueError(f"give `seed` only (an int or a generator); got seed={seed!r} and generator too.")
        seed = generator
    if seed is None:
        raise ValueError("`seed` is required (an int, a torch.Generator or a numpy.random.Generator): "
                         "random features must be reproducible.")
    return V.as_generator(seed, numpy_ok=True)


def sample_projection(num_features, dim, *, kind="iid", seed=None, generator=None, dtype=torch.float64):
    r"""Draw the random directions :math:`\omega_1, \dots, \omega_m` of a random feature map.

    ``kind="iid"``: rows independent :math:`\mathcal N(0, I_d)`.
    ``kind="orthogonal"``: blocks of ``dim`` rows that are exactly orthogonal. Each block is
    the Q factor of the QR decomposition of a Gaussian matrix with its columns multiplied by
    the signs of R's diagonal (without that fix Q is not Haar-uniform; Mezzadri 2007); its
    rows are then rescaled to independent chi(dim)-distributed lengths (norms of fresh
    Gaussian vectors), so each row alone is still :math:`\mathcal N(0, I_d)`. Independent
    blocks are stacked when ``num_features > dim`` and the last one is cut to size.
    ``kind="stratified"`` (one input dimension only): cut :math:`\mathcal N(0, 1)` into ``m``
    slices of equal probability and draw one :math:`\omega` in each,
    :math:`\omega_i = \Phi^{-1}((i + U_i)/m)` with :math:`U_i` uniform. Every slice carries
    weight :math:`1/m`, so feature averages stay unbiased, and their variance falls much
    faster than :math:`1/m` for smooth integrands such as :math:`\cos(\omega t)`.

    Derived in chapter 8.

    Parameters
    ----------
    num_features : int
        Number of rows m.
    dim : int
        Input dimension d.
    kind : {"iid", "orthogonal", "stratified"}, default "iid"
        ``"stratified"`` needs ``dim == 1``.
    seed : int, torch.Generator or numpy.random.Generator
        Required: randomness is explicit. An int seeds a fresh ``torch.Generator``.
    generator : torch.Generator or numpy.random.Generator, optional
        Deprecated: the old name of a generator ``seed`` (warns).
    dtype : torch.dtype, default torch.float64
        Dtype of the result (draws are made in float64, then cast).

    Returns
    -------
    projection : torch.Tensor of shape (num_features, dim)
        On the generator's device. A NumPy array (of the matching NumPy dtype) when
        ``seed`` is a ``numpy.random.Generator``.

    Examples
    --------
    >>> w = sample_projection(6, 3, kind="orthogonal", seed=0)
    >>> tuple(w.shape)
    (6, 3)
    >>> block = w[:3]
    >>> gram = block @ block.T
    >>> bool(torch.allclose(gram - torch.diag(torch.diag(gram)), torch.zeros(3, 3, dtype=w.dtype), atol=1e-12))
    True
    >>> import numpy as np
    >>> type(sample_projection(2, 3, seed=np.random.default_rng(0))).__name__
    'ndarray'
    """
    num_features = V.check_positive_int(num_features, "num_features")
    dim = V.check_positive_int(dim, "dim")
    V.check_choice(kind, "kind", ("iid", "orthogonal", "stratified"))
    if kind == "stratified" and dim != 1:
        raise ValueError(f"`kind='stratified'` stratifies one input dimension (dim=1); got dim={dim}. "
                         "Use 'orthogonal' for several dimensions.")
    generator = _seed_or_generator(seed, generator, "sample_projection")
    V.check_float_dtype(dtype)

    if isinstance(generator, np.random.Generator):
        def gaussian(rows, cols):
            return torch.from_numpy(generator.standard_normal((rows, cols)))

        def uniform(rows):
            return torch.from_numpy(generator.random(rows))
        device = torch.device("cpu")
    elif isinstance(generator, torch.Generator):
        device = generator.device

        def gaussian(rows, cols):
            return torch.randn(rows, cols, generator=generator, dtype=torch.float64, device=device)

        def uniform(rows):
            return torch.rand(rows, generator=generator, dtype=torch.float64, device=device)
    else:
        raise TypeError(
            "`generator` must be a torch.Generator or a numpy.random.Generator; "
            f"got {type(generator).__name__}."
        )

    if kind == "iid":
        omega = gaussian(num_features, dim)
    elif kind == "stratified":
        # One draw in each of m equal-probability slices of N(0, 1).
        slices = torch.arange(num_features, dtype=torch.float64, device=device)
        omega = torch.special.ndtri((slices + uniform(num_features)) / num_features)[:, None]
    else:
        num_blocks = -(-num_features // dim)
        gaussians = gaussian(num_blocks * dim, dim).reshape(num_blocks, dim, dim)
        lengths = gaussian(num_blocks * dim, dim).norm(dim=1).reshape(num_blocks, dim, 1)
        q, r = torch.linalg.qr(gaussians)  # one QR per block, batched
        signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
        signs = torch.where(signs == 0, torch.ones_like(signs), signs)
        q = q * signs.unsqueeze(-2)  # column j times sign(R_jj): now Haar-distributed
        # Row i of each block gets its own chi(dim) length, independent of q.
        omega = (q * lengths).reshape(num_blocks * dim, dim)[:num_features]

    if isinstance(generator, np.random.Generator):
        if dtype == torch.bfloat16:
            raise TypeError("`dtype` bfloat16 has no NumPy equivalent; use a torch generator or seed.")
        return omega.to(dtype).numpy()
    return omega.to(dtype)


def random_fourier_features(x, projection, *, bandwidth=1.0):
    r"""Random Fourier features for the Gaussian kernel (Rahimi and Recht, 2007).

    :math:`\phi(x) = [\cos(\Omega x/\sigma),\ \sin(\Omega x/\sigma)]/\sqrt m` with the rows of
    ``projection`` :math:`\Omega` drawn from :math:`\mathcal N(0, I)`, so that
    :math:`\mathbb E[\phi(x)\cdot\phi(y)] = \exp(-\|x-y\|^2/(2\sigma^2))`. The estimate is a
    mean of cosines and can be negative.

    Derived in chapter 8.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (..., d)
    projection : array or tensor, shape (m, d)
        From :func:`sample_projection`; NumPy or torch whatever ``x`` is.
    bandwidth : float or 0-d tensor, default 1.0
        The Gaussian kernel's sigma (a tensor keeps its gradient).

    Returns
    -------
    features : same kind and dtype as ``x``, shape (..., 2 m)

    Examples
    --------
    >>> import numpy as np
    >>> w = sample_projection(20000, 2, seed=0)
    >>> x, y = np.array([0.0, 0.5]), np.array([0.3, -0.1])
    >>> approx = random_fourier_features(x, w) @ random_fourier_features(y, w)
    >>> exact = np.exp(-np.sum((x - y) ** 2) / 2)
    >>> bool(abs(approx - exact) < 0.02)
    True
    """
    tensors, restore = as_tensors(x=x)
    x = tensors["x"]
    _check_input(x)
    dtype = V.compute_dtype(x)
    omega = _as_projection(projection, x, dtype)
    sigma = positive_scalar_tensor(bandwidth, "bandwidth", x.to(dtype))
    angles = (x.to(dtype) @ omega.T) / sigma
    if bool(torch.isinf(angles).any()) and bool(torch.isfinite(x).all()):  # (NaN, inf in x pass through)
        raise ValueError(f"`bandwidth` is too small for {dtype}: the angles x w / h overflow.")
    features = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1) / math.sqrt(omega.shape[0])
    return restore(features.to(x.dtype))


def _random_features(x, projection, stabilizer, build):
    """The frame the exp(x . y) estimators share: ``exp(log_scale - c) * parts / sqrt(count)``.

    ``build(x, omega)`` returns ``(log_scale, parts or None, count)`` for the checked input
    in its compute dtype; ``c`` is the stabiliser's offset.
    """
    tensors, restore = as_tensors(x=x)
    x = tensors["x"]
    _check_input(x)
    dtype = V.compute_dtype(x)
    omega = _as_projection(projection, x, dtype)
    log_scale, parts, count = build(x.to(dtype), omega)
    c = _offset(log_scale, stabilizer, x)
    if c is not None:
        log_scale = log_scale - c
    features = torch.exp(log_scale) if parts is None else torch.exp(log_scale) * parts
    return restore((features / math.sqrt(count)).to(x.dtype))


def _positive_exponent(x: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """The exponent of the positive features, ``W x - ||x||^2 / 2`` (shared with FAVOR+)."""
    return x @ omega.T - 0.5 * (x * x).sum(-1, keepdim=True)


def positive_random_features(x, projection, *, stabilizer=None):
    r"""Positive random features for :math:`\exp(x\cdot y)` (FAVOR+; Choromanski et al. 2021, Lemma 1).

    :math:`\phi(x) = \exp(\Omega x - \|x\|^2/2)/\sqrt m`: every feature is positive and
    :math:`\mathbb E[\phi(x)\cdot\phi(y)] = \exp(x\cdot y)` for Gaussian rows of :math:`\Omega`.

    Derived in chapter 8.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (..., d)
    projection : array or tensor, shape (m, d)
    stabilizer : None, "max", number or array of shape ``x.shape[:-1] + (1,)``, optional
        A log-scale offset ``c`` subtracted in the exponent: the result is
        ``exp(-c) * phi(x)``. ``"max"`` uses each row's largest exponent (so that row's
        largest feature is exactly ``1/sqrt(m)``), treated as a constant for autograd; the
        factor then cancels wherever the features are normalised (an attention query). Use a
        stabiliser for float16, whose range cannot hold ``exp`` of large exponents.

    Returns
    -------
    features : same kind and dtype as ``x``, shape (..., m); computed in float32 for
        float16/bfloat16 inputs.

    Examples
    --------
    >>> import numpy as np
    >>> w = sample_projection(50000, 2, kind="orthogonal", seed=1)
    >>> x, y = np.array([0.2, 0.4]), np.array([-0.3, 0.5])
    >>> approx = positive_random_features(x, w) @ positive_random_features(y, w)
    >>> bool(abs(approx / np.exp(x @ y) - 1) < 0.02)
    True
    >>> f = positive_random_features(x, w, stabilizer="max")
    >>> bool(np.isclose(f.max(), 1 / np.sqrt(50000)))
    True
    """
    return _random_features(x, projection, stabilizer, lambda x, w: (_positive_exponent(x, w), None, w.shape[0]))


def trigonometric_random_features(x, projection, *, stabilizer=None):
    r"""Trigonometric random features for :math:`\exp(x\cdot y)` (Choromanski et al. 2021).

    :math:`\phi(x) = \exp(\|x\|^2/2)\,[\cos(\Omega x),\ \sin(\Omega x)]/\sqrt m`, unbiased for
    :math:`\exp(x\cdot y)` but not positive, so normalised sums of it can misbehave.

    Derived in chapter 8.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (..., d)
    projection : array or tensor, shape (m, d)
    stabilizer : None, "max", number or array of shape ``x.shape[:-1] + (1,)``, optional
        Log-scale offset ``c``: the result is ``exp(-c) * phi(x)``. ``"max"`` takes
        ``c = ||x||^2 / 2`` per row, leaving ``[cos, sin]/sqrt(m)``.

    Returns
    -------
    features : same kind and dtype as ``x``, shape (..., 2 m)

    Examples
    --------
    >>> import numpy as np
    >>> w = sample_projection(50000, 2, kind="orthogonal", seed=2)
    >>> x, y = np.array([0.2, 0.1]), np.array([0.1, -0.3])
    >>> approx = trigonometric_random_features(x, w) @ trigonometric_random_features(y, w)
    >>> bool(abs(approx / np.exp(x @ y) - 1) < 0.02)
    True
    """
    def build(x, w):
        angles = x @ w.T
        return 0.5 * (x * x).sum(-1, keepdim=True), torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1), w.shape[0]

    return _random_features(x, projection, stabilizer, build)


def hyperbolic_random_features(x, projection, *, stabilizer=None):
    r"""Hyperbolic (symmetrised positive) random features for :math:`\exp(x\cdot y)`.

    :math:`\phi(x) = \exp(-\|x\|^2/2)\,[\exp(\Omega x),\ \exp(-\Omega x)]/\sqrt{2m}`: positive,
    unbiased, and the pairing of :math:`\omega` with :math:`-\omega` (antithetic samples)
    lowers the variance (Choromanski et al. 2021).

    Derived in chapter 8.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (..., d)
    projection : array or tensor, shape (m, d)
    stabilizer : None, "max", number or array of shape ``x.shape[:-1] + (1,)``, optional
        Log-scale offset, as in :func:`positive_random_features`.

    Returns
    -------
    features : same kind and dtype as ``x``, shape (..., 2 m)

    Examples
    --------
    >>> import numpy as np
    >>> w = sample_projection(50000, 2, kind="orthogonal", seed=3)
    >>> x, y = np.array([0.3, -0.1]), np.array([0.2, 0.2])
    >>> approx = hyperbolic_random_features(x, w) @ hyperbolic_random_features(y, w)
    >>> bool(abs(approx / np.exp(x @ y) - 1) < 0.02)
    True
    """
    def build(x, w):
        projected, half_sq = x @ w.T, 0.5 * (x * x).sum(-1, keepdim=True)
        return torch.cat([projected - half_sq, -projected - half_sq], dim=-1), None, 2 * w.shape[0]

    return _random_features(x, projection, stabilizer, build)
