"""Old names keep working, with a ``DeprecationWarning`` that names the new place.

A module that moved is replaced by a module whose attribute access forwards to the new
home (:func:`forward_module`); an argument that was renamed is accepted under its old
name for a while (:func:`renamed_argument`).
"""

from __future__ import annotations

import importlib
import sys
import warnings

__all__: list[str] = []


def forward_module(old: str, homes: dict[str, str]):
    """A module ``__getattr__`` that serves ``lenakernel.<old>.<name>`` from its new module.

    Examples
    --------
    >>> forward_module("learning", {"train": "training"})("train").__module__
    'lenakernel.training'

    Outside the package the access warns: "`lenakernel.learning.train` moved to
    `lenakernel.training.train` (also `lenakernel.train`); `lenakernel.learning` will be
    removed."
    """

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module 'lenakernel.{old}' has no attribute {name!r}")
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if not caller.startswith("lenakernel."):  # the package's own imports move with it
            warnings.warn(
                f"`lenakernel.{old}.{name}` moved to `lenakernel.{homes[name]}.{name}` (also `lenakernel.{name}`); "
                f"`lenakernel.{old}` will be removed.",
                DeprecationWarning,
                stacklevel=2,
            )
        return getattr(importlib.import_module(f"lenakernel.{homes[name]}"), name)

    return __getattr__


def renamed_argument(function: str, old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``function(old=...)`` is now ``function(new=...)``.

    ``stacklevel`` counts from this function to the caller's line (3: called directly
    from the public function), so the warning points at the caller's code.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     renamed_argument("sample_projection", "generator", "seed")
    >>> str(caught[0].message)
    '`sample_projection(generator=...)` is now `sample_projection(seed=...)`; the old name will be removed.'
    """
    warnings.warn(
        f"`{function}({old}=...)` is now `{function}({new}=...)`; the old name will be removed.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
