"""Tests for lenakernel._backend (NumPy/torch conversion) and lenakernel._validation."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from lenakernel import _validation as V
from lenakernel._backend import as_scalar_tensor, as_tensors

# --- as_tensors ---------------------------------------------------------------------


def test_numpy_in_numpy_out_and_shares_memory():
    x = np.arange(4.0)
    tensors, restore = as_tensors(x=x)
    assert tensors["x"].dtype == torch.float64
    tensors["x"][0] = 7.0  # from_numpy shares memory with a contiguous float array
    assert x[0] == 7.0
    out = restore(tensors["x"] * 2)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64


def test_torch_in_torch_out_keeps_dtype_and_graph():
    x = torch.arange(3, dtype=torch.float32, requires_grad=True)
    tensors, restore = as_tensors(x=x)
    assert tensors["x"] is x
    out = restore(tensors["x"] * 2)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.requires_grad


@pytest.mark.parametrize("value", [np.arange(3), np.array([True, False]), [1, 2, 3], (1, 2)])
def test_integers_bools_and_lists_become_float64(value):
    tensors, restore = as_tensors(a=value)
    assert tensors["a"].dtype == torch.float64
    assert isinstance(restore(tensors["a"]), np.ndarray)


def test_torch_integers_become_default_float():
    tensors, _ = as_tensors(a=torch.arange(3))
    assert tensors["a"].dtype == torch.get_default_dtype()


def test_dtypes_are_promoted_to_a_common_one():
    tensors, _ = as_tensors(a=torch.zeros(2, dtype=torch.float32), b=torch.zeros(2, dtype=torch.float64))
    assert tensors["a"].dtype == tensors["b"].dtype == torch.float64
    tensors, _ = as_tensors(a=np.zeros(2, dtype=np.float32), b=np.zeros(2, dtype=np.float32))
    assert tensors["a"].dtype == torch.float32


def test_none_passes_through_only_where_optional():
    tensors, restore = as_tensors(a=np.zeros(2), b=None, optional=("b",))
    assert tensors["b"] is None
    assert isinstance(restore(tensors["a"]), np.ndarray)
    with pytest.raises(TypeError, match="`b` must be a NumPy array or a torch tensor, got None"):
        as_tensors(a=np.zeros(2), b=None)


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), torch.tensor([1 + 2j]), np.array(["a"]), np.array([None])])
def test_complex_strings_and_objects_are_refused_by_name(bad):
    with pytest.raises(TypeError, match="`a` must hold real numbers"):
        as_tensors(a=bad)


def test_restore_handles_tuples():
    tensors, restore = as_tensors(a=np.ones(2))
    first, second = restore((tensors["a"], tensors["a"] + 1))
    assert isinstance(first, np.ndarray) and isinstance(second, np.ndarray)


def test_non_contiguous_numpy_is_accepted():
    x = np.arange(12.0).reshape(3, 4)[:, ::2]
    tensors, _ = as_tensors(x=x)
    np.testing.assert_array_equal(tensors["x"].numpy(), x)


def test_mixing_numpy_and_torch_is_a_type_error_naming_both():
    with pytest.raises(TypeError, match=r"mix of NumPy arrays and torch tensors \(`a` is numpy, `b` is torch\)"):
        as_tensors(a=np.zeros(2), b=torch.zeros(2))


@pytest.mark.parametrize("value", ["abc", {"a": 1}, object()])
def test_non_arrays_are_a_type_error_naming_the_argument(value):
    with pytest.raises(TypeError, match="`x_train` must be a NumPy array or a torch tensor"):
        as_tensors(x_train=value)


def test_zero_dimensional_input_keeps_its_shape():
    tensors, restore = as_tensors(a=np.float64(2.0))
    assert tensors["a"].shape == ()
    assert restore(tensors["a"]).shape == ()


def test_read_only_numpy_array_is_copied():
    # torch warns only the first time, so test the cause (shared memory), not the warning.
    x = np.arange(3.0)
    x.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tensors, _ = as_tensors(x=x)
    assert tensors["x"].data_ptr() != x.ctypes.data


# --- as_scalar_tensor ---------------------------------------------------------------

def test_scalar_from_python_float_matches_like():
    like = torch.zeros(2, dtype=torch.float32)
    t = as_scalar_tensor(0.25, "bandwidth", like)
    assert t.shape == () and t.dtype == torch.float32 and float(t) == 0.25


def test_scalar_tensor_keeps_its_gradient():
    h = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    t = as_scalar_tensor(h, "bandwidth", torch.zeros(1, dtype=torch.float64))
    (t * 3).backward()
    assert float(h.grad) == 3.0


@pytest.mark.parametrize("value, error, match", [
    (True, TypeError, "`bandwidth` must be a positive number, got bool"),
    ("0.3", TypeError, "`bandwidth` must be a positive number, got str"),
    (torch.tensor([0.1, 0.2]), ValueError, r"`bandwidth` must be a single number, got shape \(2,\)"),
    (np.array([0.1, 0.2]), ValueError, r"`bandwidth` must be a single number, got shape \(2,\)"),
])
def test_scalar_rejects_non_scalars(value, error, match):
    with pytest.raises(error, match=match):
        as_scalar_tensor(value, "bandwidth", torch.zeros(1))


# --- _validation --------------------------------------------------------------------

def test_check_ndim():
    V.check_ndim(torch.zeros(2, 3), "x", (1, 2))
    with pytest.raises(ValueError, match=r"`x` must have 1 or 2 dimensions \(n,\) or \(n, p\); got 3 dimensions"):
        V.check_ndim(torch.zeros(1, 1, 1), "x", (1, 2), "(n,) or (n, p)")


def test_check_min_ndim():
    V.check_min_ndim(torch.zeros(2, 3), "q", 2, "(..., m, d)")
    with pytest.raises(ValueError, match=r"`q` must have shape \(\.\.\., m, d\) \(at least 2 dimensions\)"):
        V.check_min_ndim(torch.zeros(3), "q", 2, "(..., m, d)")


def test_check_not_empty():
    V.check_not_empty(torch.zeros(1), "x")
    with pytest.raises(ValueError, match=r"`x` is empty: at least one of its rows is needed; got shape \(0, 2\)"):
        V.check_not_empty(torch.zeros(0, 2), "x")
    with pytest.raises(ValueError, match="`x` is empty"):
        V.check_not_empty(torch.tensor(1.0), "x")


def test_check_finite():
    V.check_finite(torch.zeros(3), "y")
    with pytest.raises(ValueError, match=r"`y` contains NaN or infinite values \(2 of 3 entries\)"):
        V.check_finite(torch.tensor([1.0, float("inf"), float("nan")]), "y")


def test_check_finite_ignores_the_graph():
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    V.check_finite(t * 2, "y")


def test_check_same_size():
    V.check_same_size(torch.zeros(3, 2), "a", 0, torch.zeros(3), "b", 0, "rows")
    with pytest.raises(ValueError, match="`a` and `b` must agree in rows: `a` has 3"):
        V.check_same_size(torch.zeros(3, 2), "a", 0, torch.zeros(2), "b", 0, "rows")


@pytest.mark.parametrize("value", [0.5, 3, np.float32(2.0), np.array(1.5), torch.tensor(0.1)])
def test_check_positive_scalar_accepts(value):
    V.check_positive_scalar(value, "bandwidth")


@pytest.mark.parametrize("value, error, match", [
    (0.0, ValueError, "got 0.0"),
    (-2, ValueError, "got -2.0"),
    (float("nan"), ValueError, "got nan"),
    (float("inf"), ValueError, "got inf"),
    (torch.tensor(-1.0), ValueError, "got -1.0"),
    (torch.tensor([1.0, 2.0]), ValueError, r"single number; got shape \(2,\)"),
    (True, TypeError, "got True"),
    (None, TypeError, "got None"),
    ("big", TypeError, "got str"),
])
def test_check_positive_scalar_rejects(value, error, match):
    with pytest.raises(error, match="`bandwidth` must be a"):
        V.check_positive_scalar(value, "bandwidth")
    with pytest.raises(error, match=match):
        V.check_positive_scalar(value, "bandwidth")


def test_check_positive_scalar_numpy_array_of_several_values_names_the_shape():
    with pytest.raises(ValueError, match=r"single number; got shape \(2,\)"):
        V.check_positive_scalar(np.array([1.0, 2.0]), "bandwidth")


def test_check_positive_int():
    assert V.check_positive_int(np.int64(3), "k") == 3
    with pytest.raises(ValueError, match="`k` must be an integer >= 1; got 0"):
        V.check_positive_int(0, "k")
    for bad in (2.0, True, "3"):
        with pytest.raises(TypeError, match="`k` must be an integer >= 1"):
            V.check_positive_int(bad, "k")


def test_check_choice():
    V.check_choice("a", "mode", ("a", "b"))
    with pytest.raises(ValueError, match="`mode` must be one of 'a', 'b'; got 'c'"):
        V.check_choice("c", "mode", ("a", "b"))


def test_broadcast_leading_returns_the_shape_or_names_every_argument():
    q, k, v = torch.zeros(4, 1, 3, 5), torch.zeros(2, 7, 5), torch.zeros(2, 7, 6)
    assert V.broadcast_leading(2, q=q, k=k, v=v) == torch.Size([4, 2])
    with pytest.raises(ValueError, match=r"`q` \(4, 1\), `k` \(3,\) and `v` \(2,\) do not broadcast"):
        V.broadcast_leading(2, q=q, k=torch.zeros(3, 7, 5), v=torch.zeros(2, 7, 6))


# A fresh process per probe: the race it guards against happens only on the first
# elementwise call in a process. Two threads, forced, so that the call is split.
_FIRST_EXP_PROBE = """
import numpy as np, torch
torch.set_num_threads(2)
import lenakernel
x = -np.abs(np.random.default_rng(0).normal(size=(300, 16)))
first = torch.exp(torch.from_numpy(x)).numpy()
print(int((np.abs(first - np.exp(x)) > 1e-14).sum()))
"""


def test_first_elementwise_exp_after_import_is_accurate_in_fresh_processes():
    # Without the warm-up in lenakernel._backend, about one process in four got ~half of
    # these values wrong by ~3e-9, so twelve clean processes in a row would be luck (3%).
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    # One after another: the race needs both threads on a core at once.
    wrong_counts = [
        int(subprocess.run([sys.executable, "-c", _FIRST_EXP_PROBE], env=env, check=True,
                           capture_output=True, text=True, timeout=120).stdout)
        for _ in range(12)
    ]
    assert wrong_counts == [0] * 12, f"values wrong per fresh process: {wrong_counts}"


def test_tensors_of_one_float_dtype_pass_through_unconverted():
    from lenakernel._backend import as_tensors

    q, k = torch.zeros(2, 3), torch.ones(3)
    tensors, restore = as_tensors(q=q, k=k, w=None, optional=("w",))
    assert tensors["q"] is q and tensors["k"] is k and tensors["w"] is None
    assert restore(q) is q and restore((q, k)) == (q, k)


def test_mixed_float_dtypes_are_still_promoted_and_none_still_refused():
    from lenakernel._backend import as_tensors

    tensors, _ = as_tensors(q=torch.zeros(2, dtype=torch.float32), k=torch.zeros(2, dtype=torch.float64))
    assert tensors["q"].dtype == tensors["k"].dtype == torch.float64
    with pytest.raises(TypeError, match="`k` must be a NumPy array or a torch tensor, got None"):
        as_tensors(q=torch.zeros(2), k=None)


def test_the_fused_finiteness_test_sends_overflowing_sums_to_the_full_check():
    from lenakernel import _validation as V

    big = torch.full((4,), 3e38)  # finite, but the sum overflows float32
    assert not V.all_finite_fast(big)
    V.check_all_finite(big=big)  # the full check passes it
    with pytest.raises(ValueError, match="`b` contains NaN"):
        V.check_all_finite(a=big, b=torch.tensor([0.0, float("nan")]))
    assert V.all_finite_fast(torch.zeros(0), torch.ones(2, requires_grad=True))
