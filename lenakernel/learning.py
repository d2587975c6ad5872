"""Deprecated: ``lenakernel.learning`` was split into one module per idea.

:mod:`lenakernel.metric_learning` (the learned-metric smoother, chapter 4),
:mod:`lenakernel.training` (``train``) and :mod:`lenakernel.in_context` (chapter 5).
Every name is also available as ``lenakernel.<name>``.
"""

from ._deprecation import forward_module

__all__: list[str] = []

_HOMES = {
    **dict.fromkeys(["metric_kernel_smoother", "KernelSmoother", "KernelFit", "fit_kernel_smoother"],
                    "metric_learning"),
    "train": "training",
    **dict.fromkeys(["RegressionTasks", "sample_regression_tasks", "in_context_features",
                     "in_context_attention", "AttentionRegressor"], "in_context"),
}

__getattr__ = forward_module("learning", _HOMES)
