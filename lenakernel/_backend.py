"""One implementation for NumPy and torch: compute in torch, hand back what came in.

Every public function converts its array arguments with :func:`as_tensors`, does its
mathematics once in torch (so autograd flows for torch callers), and converts the
result back with the returned ``restore`` function: NumPy in, NumPy out; torch in,
torch out, on the same device.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__: list[str] = []


def _initialise_vector_math() -> None:
    """Make torch's first elementwise exp run on one thread, once, at import.

    With the CPU build of torch 2.13 on a 2-core machine, the first call of an elementwise
    math function (exp, log, sin, ...) on a tensor big enough to be split across threads
    sometimes came back wrong on one thread's half: relative errors near 3e-9 in float64
    instead of 1e-16, in about one fresh process in four (measured; see
    ``tests/test_backend.py``). The library under those functions seems to initialise
    itself lazily, and two threads doing that at once race. One call on a single element
    initialises it on the main thread first, and the race never happens.
    """
    torch.exp(torch.zeros(1, dtype=torch.float64))


_initialise_vector_math()


def _is_array_like(value) -> bool:
    return isinstance(value, (np.ndarray, list, tuple, numbers.Number, np.generic))


_FLOAT_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)


def _unchanged(result):
    """The ``restore`` of torch inputs: results are already what the caller passed."""
    return result


def _same_float_tensors(arrays, optional) -> bool:
    """True if every argument is a torch tensor (or an allowed None) of one floating dtype.

    Such arguments need no conversion at all; this test is plain attribute reads, so the
    small calls of a training loop pay almost nothing for it.
    """
    dtype = None
    for name, value in arrays.items():
        if value is None:
            if name not in optional:
                return False
            continue
        if not isinstance(value, torch.Tensor) or value.dtype not in _FLOAT_DTYPES:
            return False
        if dtype is None:
            dtype = value.dtype
        elif value.dtype != dtype:
            return False
    return dtype is not None


def as_tensors(*, optional=(), **arrays):
    """Convert named arrays to torch tensors of one floating dtype.

    Parameters
    ----------
    optional : tuple of str, default ()
        Names of arguments that may be ``None`` (passed through unchanged).
    **arrays
        The public function's array arguments, by name (the name is used in error
        messages).

    Returns
    -------
    tensors : dict of str to torch.Tensor
        The converted arrays, in the order given. NumPy inputs share memory where
        possible; integer and boolean inputs become floating point.
    restore : callable
        ``restore(result)`` turns a tensor (or a tuple of tensors) back into the
        caller's kind: NumPy arrays if the inputs were NumPy, tensors otherwise.

    Raises
    ------
    TypeError
        If an argument is ``None`` (and not optional), not array-like, not real
        (complex, strings, objects), or NumPy arrays and torch tensors are mixed.

    Examples
    --------
    >>> import numpy as np
    >>> tensors, restore = as_tensors(x=np.arange(3.0))
    >>> tensors["x"].dtype
    torch.float64
    >>> type(restore(tensors["x"] * 2)).__name__
    'ndarray'
    """
    if _same_float_tensors(arrays, optional):  # the common case, with nothing to convert
        return arrays, _unchanged
    kinds = {}
    for name, value in arrays.items():
        if value is None:
            if name not in optional:
                raise TypeError(f"`{name}` must be a NumPy array or a torch tensor, got None.")
            continue
        if isinstance(value, torch.Tensor):
            kinds[name] = "torch"
        elif _is_array_like(value):
            kinds[name] = "numpy"
        else:
            raise TypeError(
                f"`{name}` must be a NumPy array or a torch tensor, "
                f"got {type(value).__name__}."
            )
    if len(set(kinds.values())) > 1:
        described = ", ".join(f"`{n}` is {k}" for n, k in kinds.items())
        raise TypeError(
            f"mix of NumPy arrays and torch tensors ({described}); "
            "pass all arrays as one kind."
        )
    use_numpy = "numpy" in kinds.values()

    tensors = {}
    for name, value in arrays.items():
        if value is None:
            tensors[name] = None
            continue
        if use_numpy:
            value = np.asarray(value)
            if value.dtype.kind not in "fiub":
                raise TypeError(f"`{name}` must hold real numbers; got dtype {value.dtype}.")
            if value.dtype.kind != "f":
                # NumPy's default floating type is float64; keep that convention.
                value = value.astype(np.float64)
            # Share memory where we can; copy arrays torch cannot share (read-only
            # or non-contiguous). np.ascontiguousarray would turn 0-d into 1-d.
            if not (value.flags.c_contiguous and value.flags.writeable):
                value = value.copy(order="C")
            tensors[name] = torch.from_numpy(value)
        else:
            if value.is_complex():
                raise TypeError(f"`{name}` must hold real numbers; got dtype {value.dtype}.")
            if not value.is_floating_point():
                value = value.to(torch.get_default_dtype())
            tensors[name] = value

    floats = [t for t in tensors.values() if t is not None]
    if floats:
        dtype = floats[0].dtype
        for t in floats[1:]:
            dtype = torch.promote_types(dtype, t.dtype)
        tensors = {n: (t if t is None or t.dtype == dtype else t.to(dtype)) for n, t in tensors.items()}

    def restore(result):
        if isinstance(result, tuple):
            return tuple(restore(r) for r in result)
        if use_numpy and isinstance(result, torch.Tensor):
            return result.detach().cpu().numpy()
        return result

    return tensors, restore


def as_scalar_tensor(value, name: str, like: torch.Tensor) -> torch.Tensor:
    """Turn a Python number or 0-d array/tensor into a tensor matching ``like``.

    A torch tensor keeps its autograd graph, so gradients flow through it.

    Examples
    --------
    >>> import torch
    >>> as_scalar_tensor(0.5, "bandwidth", torch.zeros(2, dtype=torch.float64))
    tensor(0.5000, dtype=torch.float64)
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    elif isinstance(value, (numbers.Real, np.generic, np.ndarray)) and not isinstance(value, bool):
        tensor = torch.as_tensor(np.asarray(value, dtype=np.float64))
    else:
        raise TypeError(f"`{name}` must be a positive number, got {type(value).__name__}.")
    if tensor.ndim != 0:
        raise ValueError(f"`{name}` must be a single number, got shape {tuple(tensor.shape)}.")
    if not tensor.is_floating_point():
        tensor = tensor.to(like.dtype)
    return tensor.to(dtype=like.dtype, device=like.device)


def positive_scalar_tensor(value, name: str, like: torch.Tensor) -> torch.Tensor:
    """Check that ``value`` is a finite number > 0 and return it as a tensor like ``like``.

    The one way every module turns a width (bandwidth, scale, temperature) into a tensor.
    A width beyond the dtype's range (1e-300 or 1e300 in float32) is clamped into it, so
    it stays a positive finite number: the computation then gives the limit it stands for.

    Examples
    --------
    >>> import torch
    >>> positive_scalar_tensor(2, "scale", torch.zeros(1))
    tensor(2.)
    """
    from ._validation import check_positive_scalar

    check_positive_scalar(value, name)
    tensor = as_scalar_tensor(value, name, like)
    info = torch.finfo(tensor.dtype)
    return tensor.clamp(info.tiny, info.max)


def as_real_tensor(value, name: str, expected: str) -> torch.Tensor:
    """A tensor of real numbers from a tensor, a NumPy array, a list or a number.

    For arguments that are not the function's data (a grid, a projection, a kernel's
    output), so they are converted as they come, whatever the data's kind.

    Examples
    --------
    >>> as_real_tensor([0.1, 1], "bandwidths", "a 1-D array of positive numbers")
    tensor([0.1000, 1.0000], dtype=torch.float64)
    >>> as_real_tensor("wide", "bandwidths", "a 1-D array of positive numbers")
    Traceback (most recent call last):
    ...
    TypeError: `bandwidths` must be a 1-D array of positive numbers; got str.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        array = np.asarray(value) if _is_array_like(value) and not isinstance(value, (bool, np.bool_)) else None
        if array is None or array.dtype.kind not in "fiuc":
            raise TypeError(f"`{name}` must be {expected}; got {type(value).__name__}.")
        tensor = torch.as_tensor(array.astype(np.float64) if array.dtype.kind in "iu" else array)
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise TypeError(f"`{name}` must hold real numbers; got dtype {tensor.dtype}.")
    return tensor
