"""Checks at the public boundary, in one place, with messages that name the argument.

Every public function validates its inputs here first, so a student who passes the
wrong shape gets a sentence that says which argument, what was expected and what came,
instead of a broadcasting error from deep inside the mathematics.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__: list[str] = []


def _shape(t: torch.Tensor) -> tuple:
    return tuple(t.shape)


def check_ndim(t: torch.Tensor, name: str, allowed: tuple[int, ...], meaning: str = "") -> None:
    """Raise ``ValueError`` unless ``t.ndim`` is one of ``allowed``.

    Examples
    --------
    >>> import torch
    >>> check_ndim(torch.zeros(3), "x", (1, 2))
    >>> check_ndim(torch.zeros(1, 2, 3), "x", (1, 2), "(n,) or (n, p)")
    Traceback (most recent call last):
    ...
    ValueError: `x` must have 1 or 2 dimensions (n,) or (n, p); got 3 dimensions with shape (1, 2, 3).
    """
    if t.ndim not in allowed:
        options = " or ".join(str(a) for a in allowed)
        hint = f" {meaning}" if meaning else ""
        raise ValueError(
            f"`{name}` must have {options} dimensions{hint}; "
            f"got {t.ndim} dimensions with shape {_shape(t)}."
        )


def check_min_ndim(t: torch.Tensor, name: str, min_ndim: int, meaning: str) -> None:
    """Raise ``ValueError`` if ``t`` has fewer than ``min_ndim`` dimensions."""
    if t.ndim < min_ndim:
        raise ValueError(
            f"`{name}` must have shape {meaning} (at least {min_ndim} dimensions); "
            f"got shape {_shape(t)}."
        )


def check_not_empty(t: torch.Tensor, name: str, axis: int = 0, what: str = "rows") -> None:
    """Raise ``ValueError`` if ``t`` has no entries along ``axis``."""
    if t.ndim == 0 or t.shape[axis] == 0:
        raise ValueError(f"`{name}` is empty: at least one of its {what} is needed; got shape {_shape(t)}.")


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` holds NaN or infinity.

    Examples
    --------
    >>> import torch
    >>> check_finite(torch.tensor([1.0, float("nan")]), "y_train")
    Traceback (most recent call last):
    ...
    ValueError: `y_train` contains NaN or infinite values (1 of 2 entries); remove or impute them first.
    """
    bad = ~torch.isfinite(t.detach())
    if bool(bad.any()):
        raise ValueError(
            f"`{name}` contains NaN or infinite values ({int(bad.sum())} of {t.numel()} entries); "
            "remove or impute them first."
        )


def check_same_size(a: torch.Tensor, a_name: str, a_axis: int, b: torch.Tensor, b_name: str, b_axis: int,
                    what: str) -> None:
    """Raise ``ValueError`` unless ``a.shape[a_axis] == b.shape[b_axis]``.

    Examples
    --------
    >>> import torch
    >>> check_same_size(torch.zeros(3), "x_train", 0, torch.zeros(4), "y_train", 0, "number of points")
    Traceback (most recent call last):
    ...
    ValueError: `x_train` and `y_train` must agree in number of points: `x_train` has 3 (shape (3,)), `y_train` has 4 (shape (4,)).
    """
    if a.shape[a_axis] != b.shape[b_axis]:
        raise ValueError(
            f"`{a_name}` and `{b_name}` must agree in {what}: "
            f"`{a_name}` has {a.shape[a_axis]} (shape {_shape(a)}), "
            f"`{b_name}` has {b.shape[b_axis]} (shape {_shape(b)})."
        )


def broadcast_leading(trailing: int, what: str = "leading (batch/head)", **arrays: torch.Tensor) -> torch.Size:
    """The broadcast shape of the arrays' leading dimensions (all but the last ``trailing``).

    Raises ``ValueError`` naming every argument and its shape when they do not broadcast.

    Examples
    --------
    >>> import torch
    >>> broadcast_leading(2, q=torch.zeros(4, 3, 5), k=torch.zeros(1, 7, 5))
    torch.Size([4])
    >>> broadcast_leading(2, q=torch.zeros(4, 3, 5), k=torch.zeros(2, 7, 5))
    Traceback (most recent call last):
    ...
    ValueError: the leading (batch/head) dimensions of `q` (4,) and `k` (2,) do not broadcast; got shapes (4, 3, 5) and (2, 7, 5).
    """
    leading = [t.shape[: t.ndim - trailing] for t in arrays.values()]
    if all(shape == leading[0] for shape in leading[1:]):  # the common case: a tuple comparison
        return leading[0]
    try:
        return torch.broadcast_shapes(*leading)
    except RuntimeError:
        names = [f"`{n}` {tuple(t.shape[: t.ndim - trailing])}" for n, t in arrays.items()]
        shapes = [str(tuple(t.shape)) for t in arrays.values()]
        raise ValueError(
            f"the {what} dimensions of {', '.join(names[:-1])} and {names[-1]} do not broadcast; "
            f"got shapes {', '.join(shapes[:-1])} and {shapes[-1]}."
        ) from None


def _single_number(value, name: str, expected: str) -> float:
    """``value`` as a float: a real Python number or a 0-d/1-element array or tensor."""
    if type(value) is float or type(value) is int:  # the common case (bool is neither)
        return float(value)
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise TypeError(f"`{name}` must be {expected}; got {value!r}.")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be {expected}; got {type(value).__name__} {value!r}.")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"`{name}` must be a single number; got shape {value.shape}.")
        value = value.reshape(())
    if np.iscomplexobj(value) or isinstance(value, complex):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be {expected}; got {type(value).__name__}.") from None


def check_positive_scalar(value, name: str) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``value`` is a finite number > 0.

    Accepts Python numbers and 0-d arrays or tensors (a tensor keeps its gradient).

    Examples
    --------
    >>> check_positive_scalar(0.3, "bandwidth")
    >>> check_positive_scalar(-1.0, "bandwidth")
    Traceback (most recent call last):
    ...
    ValueError: `bandwidth` must be a finite number > 0; got -1.0.
    """
    number = _single_number(value, name, "a finite number > 0")
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0; got {number!r}.")


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer >= 1.

    Examples
    --------
    >>> check_positive_int(64, "chunk_size")
    64
    >>> check_positive_int(0, "chunk_size")
    Traceback (most recent call last):
    ...
    ValueError: `chunk_size` must be an integer >= 1; got 0.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer >= 1; got {type(value).__name__} {value!r}.")
    if value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1; got {value!r}.")
    return int(value)


def check_choice(value, name: str, choices) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``.

    Examples
    --------
    >>> check_choice("chunked", "method", ("quadratic", "chunked"))
    >>> check_choice("fast", "method", ("quadratic", "chunked"))
    Traceback (most recent call last):
    ...
    ValueError: `method` must be one of 'quadratic', 'chunked'; got 'fast'.
    """
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {listed}; got {value!r}.")


# ----------------------------------------------------------------------------------
# Conventions shared by every module (see CONTRIBUTING, "One convention per concept")
# ----------------------------------------------------------------------------------

LOW_PRECISION = (torch.float16, torch.bfloat16)


def compute_dtype(t: torch.Tensor) -> torch.dtype:
    """The dtype to compute in: float32 for float16/bfloat16 (too little range), else ``t``'s.

    Examples
    --------
    >>> import torch
    >>> compute_dtype(torch.zeros(1, dtype=torch.bfloat16))
    torch.float32
    """
    return torch.float32 if t.dtype in LOW_PRECISION else t.dtype


def as_points(t: torch.Tensor, name: str, meaning: str = "(n,) or (n, p)") -> torch.Tensor:
    """Check that ``t`` is ``(n,)`` or ``(n, p)`` and return it as ``(n, p)`` (a vector is 1-D points).

    Examples
    --------
    >>> import torch
    >>> tuple(as_points(torch.zeros(4), "x").shape)
    (4, 1)
    """
    check_ndim(t, name, (1, 2), meaning)
    return t[:, None] if t.ndim == 1 else t


def check_regression_data(x_train, y_train, x_query=None, *, names=("x_train", "y_train", "x_query")):
    """Check a training set ``(x, y)`` and optional query points; one message for every module.

    ``x`` is ``(n,)`` or ``(n, p)``, ``y`` is ``(n,)`` or ``(n, q)`` with ``n >= 1``;
    the queries have the same number of dimensions and features as ``x``. Every array
    must be finite (one check for all of them).

    Examples
    --------
    >>> import torch
    >>> check_regression_data(torch.zeros(3), torch.zeros(3), torch.zeros(2, 1))
    Traceback (most recent call last):
    ...
    ValueError: `x_query` must have the same number of dimensions as `x_train` (1, shape (3,)); got shape (2, 1).
    """
    x_name, y_name, q_name = names
    check_ndim(x_train, x_name, (1, 2), "(n,) or (n, p)")
    check_ndim(y_train, y_name, (1, 2), "(n,) or (n, q)")
    check_not_empty(x_train, x_name, what="training points")
    check_same_size(x_train, x_name, 0, y_train, y_name, 0, "number of points")
    arrays = {x_name: x_train, y_name: y_train}
    if x_query is not None:
        check_ndim(x_query, q_name, (1, 2), "(m,) or (m, p)")
        if x_query.ndim != x_train.ndim:
            raise ValueError(
                f"`{q_name}` must have the same number of dimensions as `{x_name}` "
                f"({x_train.ndim}, shape {_shape(x_train)}); got shape {_shape(x_query)}."
            )
        if x_query.ndim == 2 and x_query.shape[1] != x_train.shape[1]:
            raise ValueError(
                f"`{q_name}` must have as many features as `{x_name}` ({x_train.shape[1]}); "
                f"got {x_query.shape[1]} (shape {_shape(x_query)})."
            )
        arrays[q_name] = x_query
    check_all_finite(**arrays)


def check_all_finite(**arrays: torch.Tensor) -> None:
    """``check_finite`` for several arrays with one synchronisation (the cheap path).

    Examples
    --------
    >>> import torch
    >>> check_all_finite(q=torch.zeros(2), k=torch.tensor([1.0, float("inf")]))
    Traceback (most recent call last):
    ...
    ValueError: `k` contains NaN or infinite values (1 of 2 entries); remove or impute them first.
    """
    present = {n: t for n, t in arrays.items() if t is not None and t.numel()}
    if not present:
        return
    if all_finite_fast(*present.values()):
        return
    for name, t in present.items():
        check_finite(t, name)


def all_finite_fast(*tensors: torch.Tensor) -> bool:
    """True if the sum of all entries of all ``tensors`` is finite, which they then all are.

    One reduction per tensor, added up as one Python number (on a GPU, added on the device
    and read back once): a NaN or an infinity anywhere makes the sum NaN or infinite. False does not mean that an entry is not finite (finite values
    can sum past the dtype's range); callers then run the full per-argument check, which
    names the argument. Empty tensors sum to 0.

    Examples
    --------
    >>> import torch
    >>> all_finite_fast(torch.ones(3), torch.zeros(2, 2))
    True
    >>> all_finite_fast(torch.ones(3), torch.tensor([float("nan")]))
    False
    """
    if tensors[0].is_cuda:  # one synchronisation: add the sums on the device, read one number
        sums = [(t.detach() if t.requires_grad else t).sum().float() for t in tensors]
        try:
            return math.isfinite(torch.stack(sums).sum().item())
        except RuntimeError:  # tensors on several devices: read each sum below
            pass
    total = 0.0
    for t in tensors:  # on the CPU, reading each sum is cheaper than adding them as tensors
        total += (t.detach() if t.requires_grad else t).sum().item()
    return math.isfinite(total)


def check_flag(value, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False``; refuse anything else (``"False"`` is truthy).

    Examples
    --------
    >>> check_flag(False, "causal")
    False
    >>> check_flag("False", "causal")
    Traceback (most recent call last):
    ...
    TypeError: `causal` must be True or False; got str 'False'.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"`{name}` must be True or False; got {type(value).__name__} {value!r}.")


def check_nonnegative_scalar(value, name: str) -> float:
    """Return ``value`` as a float after checking it is a finite number >= 0 (0-d arrays too).

    Examples
    --------
    >>> import torch
    >>> check_nonnegative_scalar(torch.tensor(1e-6, dtype=torch.float64), "eps")
    1e-06
    >>> check_nonnegative_scalar(-1, "eps")
    Traceback (most recent call last):
    ...
    ValueError: `eps` must be a finite number >= 0; got -1.0.
    """
    number = _single_number(value, name, "a finite number >= 0")
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0; got {number!r}.")
    return number


def check_float_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """Return ``dtype`` if it is a floating torch dtype.

    Examples
    --------
    >>> import torch
    >>> check_float_dtype(torch.int64)
    Traceback (most recent call last):
    ...
    TypeError: `dtype` must be a floating torch.dtype (e.g. torch.float64); got torch.int64.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"`{name}` must be a floating torch.dtype (e.g. torch.float64); got {dtype!r}.")
    return dtype


def as_generator(seed, name: str = "seed", *, numpy_ok: bool = False):
    """The source of randomness for ``seed``: an int, a ``torch.Generator`` or a ``numpy.random.Generator``.

    An int seeds a fresh ``torch.Generator``; a generator is used as it is (and advances).
    A NumPy generator is returned as it is when ``numpy_ok``, else it seeds a fresh
    torch generator from one draw.

    Examples
    --------
    >>> float(torch.rand(1, generator=as_generator(0))[0]) == float(torch.rand(1, generator=as_generator(0))[0])
    True
    >>> as_generator("0")
    Traceback (most recent call last):
    ...
    TypeError: `seed` must be an int, a torch.Generator or a numpy.random.Generator; got str '0'.
    """
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, np.random.Generator):
        return seed if numpy_ok else torch.Generator().manual_seed(int(seed.integers(2**62)))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"`{name}` must be an int, a torch.Generator or a numpy.random.Generator; "
            f"got {type(seed).__name__} {seed!r}."
        )
    if seed < 0:
        raise ValueError(f"`{name}` must be an int >= 0; got {seed!r}.")
    return torch.Generator().manual_seed(int(seed))


# Largest block of pairwise (query, key) entries computed at once, in bytes: a small
# multiple of this is the working memory of the blocked smoothers, whatever m and n are.
BLOCK_BYTES = 8 * 2**20


def rows_per_block(row_bytes: int, rows: int | None = None) -> int:
    """How many query rows of ``row_bytes`` bytes each fit in one block of ``BLOCK_BYTES``.

    Examples
    --------
    >>> rows_per_block(8 * 1000)
    1048
    """
    block = max(1, BLOCK_BYTES // max(1, row_bytes))
    return block if rows is None else max(1, min(rows, block))
