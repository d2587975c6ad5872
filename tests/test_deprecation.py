"""Old names keep working, with a DeprecationWarning that names the new place."""

import numpy as np
import pytest

import lenakernel as lk


@pytest.mark.parametrize("module, name, home", [
    ("learning", "metric_kernel_smoother", "metric_learning"),
    ("learning", "train", "training"),
    ("learning", "AttentionRegressor", "in_context"),
    ("linear_attention", "LinearAttentionState", "linear"),
    ("linear_attention", "favor_attention", "favor"),
    ("linear_attention", "rff_nadaraya_watson", "random_feature_smoothing"),
    ("linear_attention", "FEATURE_MAPS", "feature_maps"),
])
def test_moved_names_warn_and_work(module, name, home):
    import importlib

    old = importlib.import_module(f"lenakernel.{module}")
    with pytest.warns(DeprecationWarning, match=f"lenakernel.{home}.{name}"):
        moved = getattr(old, name)
    assert moved is getattr(importlib.import_module(f"lenakernel.{home}"), name)


def test_the_package_attribute_linear_attention_is_the_function():
    assert callable(lk.linear_attention) and lk.linear_attention.__module__ == "lenakernel.linear"


def test_unknown_names_of_a_moved_module_raise_attribute_error():
    import lenakernel.learning

    with pytest.raises(AttributeError):
        lenakernel.learning.no_such_name  # noqa: B018


def test_rff_generator_is_the_deprecated_name_of_seed():
    x = np.linspace(0, 1, 20)
    with pytest.warns(DeprecationWarning, match=r"rff_nadaraya_watson\(seed=...\)"):
        old = lk.rff_nadaraya_watson(x, np.sin(x), x, bandwidth=0.2, num_features=8,
                                     generator=np.random.default_rng(0))
    np.testing.assert_array_equal(old, lk.rff_nadaraya_watson(x, np.sin(x), x, bandwidth=0.2, num_features=8,
                                                               seed=np.random.default_rng(0)))
