"""Tests for lenakernel.kernels: normalised densities, log-densities, get_kernel."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

import lenakernel as lk
from lenakernel.kernels import KERNELS

from tests.conftest import KERNEL_NAMES as NAMES

FUNCTIONS = {name: getattr(lk, name) for name in NAMES}
SUPPORT = {"gaussian": math.inf, "epanechnikov": 1.0, "triangular": 1.0, "boxcar": 1.0}
finite_u = st.floats(min_value=-50, max_value=50, allow_nan=False)


def _integral(function, power=0):
    """Integral of u**power * K(u) over the real line, piece by piece between the kinks."""
    pieces = [(-np.inf, -1.0), (-1.0, 0.0), (0.0, 1.0), (1.0, np.inf)]
    return sum(quad(lambda v: v**power * float(function(np.array([v]))[0]), a, b, epsabs=1e-13)[0]
               for a, b in pieces)


@pytest.mark.parametrize("name", NAMES)
def test_kernel_integrates_to_one(name):
    assert _integral(FUNCTIONS[name]) == pytest.approx(1.0, abs=1e-10)
    # The trapezoid rule on a fine grid agrees (to its own accuracy at the boxcar's jumps).
    u = np.linspace(-12.0, 12.0, 240_001)
    assert np.trapezoid(FUNCTIONS[name](u), u) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_kernel_second_moment(name):
    # Second moments: 1 (Gaussian), 1/5 (Epanechnikov), 1/6 (triangular), 1/3 (boxcar).
    expected = {"gaussian": 1.0, "epanechnikov": 0.2, "triangular": 1 / 6, "boxcar": 1 / 3}[name]
    assert _integral(FUNCTIONS[name], power=2) == pytest.approx(expected, abs=1e-10)


def test_known_values():
    u = np.array([0.0, 0.5, 1.0, 1.5])
    np.testing.assert_allclose(lk.gaussian(u), np.exp(-u**2 / 2) / np.sqrt(2 * np.pi), rtol=1e-15)
    np.testing.assert_allclose(lk.epanechnikov(u), [0.75, 0.5625, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(lk.triangular(u), [1.0, 0.5, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(lk.boxcar(u), [0.5, 0.5, 0.5, 0.0], atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(u=finite_u)
def test_kernel_is_non_negative_symmetric_and_supported(name, u):
    k = FUNCTIONS[name]
    value = float(k(np.array([u]))[0])
    assert value >= 0
    assert value == float(k(np.array([-u]))[0])
    if abs(u) > SUPPORT[name]:
        assert value == 0.0
    if abs(u) < 1:
        assert value > 0


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(u=finite_u)
def test_log_kernel_is_log_of_kernel(name, u):
    t = torch.tensor([u], dtype=torch.float64)
    log_value = float(KERNELS[name].log(t)[0])
    value = float(FUNCTIONS[name](t)[0])
    if abs(u) > SUPPORT[name]:
        assert log_value == -math.inf
    else:
        assert math.isfinite(log_value) or (value == 0 and abs(u) == 1)
        # exp(log K) = K, also where K itself underflows to 0 (far Gaussian tails).
        assert math.exp(log_value) == pytest.approx(value, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("name", NAMES)
def test_log_kernel_gradient_has_no_nan(name):
    # Inside, on the edge of and outside the support: gradients must be finite.
    u = torch.tensor([0.0, 0.3, 1.0, 1.7, 30.0], dtype=torch.float64, requires_grad=True)
    log_k = KERNELS[name].log(u)
    torch.where(torch.isfinite(log_k), log_k, torch.zeros_like(log_k)).sum().backward()
    assert torch.isfinite(u.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_same_kind_and_dtype_out(name):
    k = FUNCTIONS[name]
    assert isinstance(k(np.linspace(-2, 2, 5)), np.ndarray)
    out = k(torch.linspace(-2, 2, 5, dtype=torch.float32))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(k(np.linspace(-2, 2, 5)), k(torch.linspace(-2, 2, 5, dtype=torch.float64)).numpy(),
                               rtol=0, atol=1e-15)


def test_gaussian_gradient_flows():
    u = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    lk.gaussian(u).sum().backward()
    expected = -u.detach() * lk.gaussian(u.detach())
    torch.testing.assert_close(u.grad, expected)


def test_get_kernel_by_name_and_callable():
    for name in NAMES:
        assert lk.get_kernel(name) is FUNCTIONS[name]

    def my_kernel(u):
        return np.maximum(0, 1 - u)

    assert lk.get_kernel(my_kernel) is my_kernel


def test_get_kernel_unknown_name_lists_names():
    with pytest.raises(ValueError, match=r"`kernel` must be one of 'gaussian', 'epanechnikov', 'triangular', 'boxcar'"):
        lk.get_kernel("rbf")


@pytest.mark.parametrize("bad", [3, None, 1.5, ["gaussian"]])
def test_get_kernel_wrong_type(bad):
    with pytest.raises(TypeError, match="`kernel`"):
        lk.get_kernel(bad)


def test_registry_holds_one_record_per_kernel():
    for name, record in KERNELS.items():
        assert record.function is getattr(lk, name)
        u = torch.linspace(-0.9, 0.9, 7, dtype=torch.float64)
        torch.testing.assert_close(torch.exp(record.log(u)), record.function(u))


def test_user_callable_gives_the_builtin_answer():
    x = np.linspace(0, 1, 9)
    y = np.sin(3 * x)
    grid = np.linspace(0, 1, 5)

    def tent(v):
        return torch.clamp(1 - v.abs(), min=0)

    expected = lk.nadaraya_watson(x, y, grid, kernel="triangular", bandwidth=0.3)
    np.testing.assert_allclose(lk.nadaraya_watson(x, y, grid, kernel=tent, bandwidth=0.3), expected)


@pytest.mark.parametrize("bad", [lambda v: 1 - v * v, lambda v: v * np.inf, lambda v: v * np.nan])
def test_user_kernel_returning_negative_or_nonfinite_values_is_rejected(bad):
    with pytest.raises(ValueError, match="`kernel` returned negative"):
        lk.nadaraya_watson(np.linspace(-2, 2, 5), np.zeros(5), np.zeros(1), kernel=bad, bandwidth=1.0)


@pytest.mark.parametrize("bad", [lambda v: v.sum(), lambda v: None])
def test_user_kernel_returning_wrong_shape_or_no_array_is_rejected(bad):
    with pytest.raises((ValueError, TypeError), match="`kernel` must (return|be a function returning) an array"):
        lk.nadaraya_watson(np.linspace(-2, 2, 5), np.zeros(5), np.zeros(1), kernel=bad, bandwidth=1.0)
