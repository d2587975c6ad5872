"""Helpers shared by the package tests (pytest loads this file before any test module).

Import them as ``from tests.conftest import qkv``; fixtures defined here are available
to every test without an import.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import settings

KERNEL_NAMES = ["gaussian", "epanechnikov", "triangular", "boxcar"]
LINEAR_METHODS = ["quadratic", "prefix_sum", "recurrent", "chunked"]

# Property tests: modest example counts, no deadline (a loaded machine is slow, not wrong).
SETTINGS = settings(max_examples=25, deadline=None)


def arrays(seed, *shapes, scale=1.0):
    """Seeded float64 NumPy arrays of the given shapes."""
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(shape) for shape in shapes]


def sine_data(n=60, seed=0, noise=0.2):
    """Seeded 1-D regression data: x uniform on [0, 1], y = sin(2 pi x) plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    y = np.sin(2 * np.pi * x) + noise * rng.standard_normal(n)
    return x, y


def qkv(*shape, d=4, dv=3, seed=0, dtype=torch.float64, scale=1.0):
    """Seeded torch queries, keys (``shape + (d,)``) and values (``shape + (dv,)``)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*shape, d, generator=g, dtype=dtype) * scale
    k = torch.randn(*shape, d, generator=g, dtype=dtype) * scale
    v = torch.randn(*shape[:-1], shape[-1], dv, generator=g, dtype=dtype)
    return q, k, v


@pytest.fixture
def one_thread():
    """Run a test on one torch thread: tiny models train fastest so on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
