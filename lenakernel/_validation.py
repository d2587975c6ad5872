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
    try:
        return torch.broadcast_shapes(*(t.shape[: t.ndim - trailing] for t in arrays.values()))
    except RuntimeError:
        names = [f"`{n}` {tuple(t.shape[: t.ndim - trailing])}" for n, t in arrays.items()]
        shapes = [str(tuple(t.shape)) for t in arrays.values()]
        raise ValueError(
            f"the {what} dimensions of {', '.join(names[:-1])} and {names[-1]} do not broadcast; "
            f"got shapes {', '.join(shapes[:-1])} and {shapes[-1]}."
        ) from None


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
    if isinstance(value, bool) or value is None:
        raise TypeError(f"`{name}` must be a finite number > 0; got {value!r}.")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"`{name}` must be a single number; got shape {value.shape}.")
        value = value.reshape(())
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a finite number > 0; got {type(value).__name__}.") from None
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
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
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
