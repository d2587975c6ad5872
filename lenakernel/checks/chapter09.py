"""Checkers for chapter 10's exercises: testing positive semi-definiteness, and the
smallest value of a quadratic form (which only sees a matrix's symmetric part).

Used in chapter 10, "Where the analogy breaks".
"""

from __future__ import annotations

import numpy as np

from ._core import Case, Mistake, run_cases

__all__ = ["check_is_psd", "check_min_quadratic_form"]

# The lenakernel functions each exercise may use; the exercise text says the same.
IS_PSD_ALLOWED: tuple = ()
MIN_QUADRATIC_FORM_ALLOWED: tuple = ()

# Eigenvalues above -_RTOL * (largest absolute eigenvalue) count as zero: rounding.
_RTOL = 1e-10


def _is_psd_reference(gram) -> bool:
    """True when ``gram`` is symmetric and its eigenvalues are >= 0 up to rounding."""
    gram = np.asarray(gram, dtype=np.float64)
    scale = float(np.max(np.abs(gram))) if gram.size else 0.0
    if not np.allclose(gram, gram.T, rtol=0.0, atol=_RTOL * max(scale, 1e-300)):
        return False
    eigenvalues = np.linalg.eigvalsh((gram + gram.T) / 2)
    largest = float(np.max(np.abs(eigenvalues))) if eigenvalues.size else 0.0
    return bool(eigenvalues.min() >= -_RTOL * largest)


def _min_quadratic_form_reference(matrix) -> float:
    """min of x^T A x over unit vectors x: the smallest eigenvalue of (A + A^T) / 2."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return float(np.linalg.eigvalsh((matrix + matrix.T) / 2)[0])


def _exp_dot_gram(x, w_query, w_key):
    """Gram matrix of K(x, y) = exp((W_Q x) . (W_K y) / sqrt(d)) over the rows of x."""
    q, k = x @ w_query.T, x @ w_key.T
    return np.exp(q @ k.T / np.sqrt(q.shape[-1]))


def _cases_psd():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 3))
    w = rng.standard_normal((3, 3)) / np.sqrt(3)
    w_other = rng.standard_normal((3, 3)) / np.sqrt(3)
    shared = _exp_dot_gram(x, w, w)                 # positive definite
    asymmetric = _exp_dot_gram(x, w, w_other)       # not even symmetric
    points = rng.standard_normal((7, 2))
    low_rank = points @ points.T                   # rank 2: eigenvalues ~ +-1e-16
    grid = np.linspace(0.0, 1.0, 5)
    boxcar = (np.abs(grid[:, None] - grid[None, :]) <= 0.3).astype(float)  # indefinite
    rounding = "eigenvalues above -1e-10 times the largest absolute eigenvalue count as zero"
    return [
        Case("a Gram matrix with shared projections (positive definite)", {"gram": shared}),
        Case("the asymmetric Gram matrix of a head", {"gram": asymmetric},
             note="not symmetric, so not PSD whatever its eigenvalues; np.linalg.eigvalsh reads one "
                  "triangle only, so check symmetry first"),
        Case("rank 2: eigenvalues near -1e-16", {"gram": low_rank}, note=f"rounding: {rounding}"),
        Case("a boxcar kernel on a grid (indefinite)", {"gram": boxcar}),
        Case("positive entries, an eigenvalue of -1", {"gram": np.array([[1.0, 2.0], [2.0, 1.0]])},
             note="positive entries do not make a matrix PSD"),
        Case("the identity", {"gram": np.eye(4)}),
        Case("the symmetric part of the head's Gram matrix", {"gram": (asymmetric + asymmetric.T) / 2}),
        Case("all zeros", {"gram": np.zeros((3, 3))},
             note=f"the zero matrix is PSD: {rounding}, and here that is 0 >= 0"),
    ]


def _cases_quadratic_form():
    rng = np.random.default_rng(90)
    x = rng.standard_normal((5, 3))
    w = rng.standard_normal((3, 3)) / np.sqrt(3)
    w_other = rng.standard_normal((3, 3)) / np.sqrt(3)
    gram = _exp_dot_gram(x, w, w_other)
    attention = gram / gram.sum(axis=1, keepdims=True)
    return [
        Case("[[1, 4], [0, 1]]: eigenvalues 1 and 1, answer -1",
             {"matrix": np.array([[1.0, 4.0], [0.0, 1.0]])},
             note="the smallest eigenvalue of the matrix itself (1) is not the answer"),
        Case("a rotation: x^T A x = 0", {"matrix": np.array([[0.0, -1.0], [1.0, 0.0]])}),
        Case("a random 4 x 4 matrix", {"matrix": rng.standard_normal((4, 4))}),
        Case("a diagonal matrix", {"matrix": np.diag([3.0, 0.5, 2.0])}),
        Case("an attention matrix (rows sum to 1)", {"matrix": attention}),
        Case("a symmetric Gram matrix", {"matrix": _exp_dot_gram(x, w, w)}),
    ]


_QUADRATIC_FORM_MISTAKES = [
    Mistake("a quadratic form only sees the symmetric part: use the eigenvalues of (A + A^T) / 2, not of A",
            lambda matrix: float(np.min(np.linalg.eigvals(matrix).real))),
    Mistake("the smallest value is the smallest eigenvalue, not the largest",
            lambda matrix: float(np.linalg.eigvalsh((matrix + matrix.T) / 2)[-1])),
]


def check_is_psd(is_psd) -> bool:
    """Check ``is_psd(gram)``: is a Gram matrix symmetric positive semi-definite?

    The student's function gets a square NumPy array and returns ``True`` when it is
    symmetric with every eigenvalue >= 0, counting eigenvalues above
    ``-1e-10 * (largest absolute eigenvalue)`` as zero (rounding), and ``False``
    otherwise. The cases include a rank-deficient Gram matrix whose computed
    eigenvalues dip just below zero, an asymmetric attention Gram matrix, and
    symmetric matrices with positive entries but a negative eigenvalue, and all zeros.
    Allowed from lenakernel: nothing (NumPy only). Checks values only.

    Used in chapter 10.

    Parameters
    ----------
    is_psd : callable
        The student's function, ``is_psd(gram) -> bool``.

    Returns
    -------
    bool
        True when every case matches. A verdict is printed either way; never raises.

    Examples
    --------
    A first attempt that trusts the signs of the entries:

    >>> import numpy as np
    >>> def is_psd(gram):
    ...     return bool(np.all(gram >= 0))
    >>> check_is_psd(is_psd)  # doctest: +ELLIPSIS
    Testing positive semi-definiteness. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Case 2 of 8, "the asymmetric Gram matrix of a head", failed: you returned True, expected False.
    ...
    False
    """
    return run_cases(is_psd, _is_psd_reference, _cases_psd(), exercise="Testing positive semi-definiteness",
                     allowed=IS_PSD_ALLOWED)


def check_min_quadratic_form(min_quadratic_form) -> bool:
    """Check ``min_quadratic_form(matrix)``: the smallest ``x @ matrix @ x`` over unit ``x``.

    A quadratic form only sees the symmetric part of a matrix, so the answer is the
    smallest eigenvalue of ``(matrix + matrix.T) / 2`` -- not the smallest (real part
    of an) eigenvalue of ``matrix`` itself, which the first case tells apart. Cases:
    [[1, 4], [0, 1]]; a rotation; a random 4 x 4 matrix; a diagonal matrix; an attention
    matrix (rows sum to 1); a symmetric Gram matrix. Allowed from lenakernel: nothing
    (NumPy only). Checks values only.

    Used in chapter 10.

    Parameters
    ----------
    min_quadratic_form : callable
        The student's function, ``min_quadratic_form(matrix) -> float``.

    Returns
    -------
    bool
        True when every case matches. A verdict is printed either way;
        never raises.

    Examples
    --------
    A first attempt that takes the eigenvalues of the matrix itself:

    >>> import numpy as np
    >>> def min_quadratic_form(matrix):
    ...     return float(np.linalg.eigvals(matrix).real.min())
    >>> check_min_quadratic_form(min_quadratic_form)  # doctest: +ELLIPSIS
    The smallest quadratic form. Allowed from lenakernel: nothing (NumPy only). Checks values only.
    Case 1 of 6, "[[1, 4], [0, 1]]: eigenvalues 1 and 1, answer -1", failed: the values differ ...
      This case: the smallest eigenvalue of the matrix itself (1) is not the answer
      Hint: a quadratic form only sees the symmetric part: ...
    False
    """
    return run_cases(min_quadratic_form, _min_quadratic_form_reference, _cases_quadratic_form(),
                     exercise="The smallest quadratic form", allowed=MIN_QUADRATIC_FORM_ALLOWED,
                     mistakes=_QUADRATIC_FORM_MISTAKES)
