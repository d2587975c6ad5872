"""Deprecated: ``lenakernel.linear_attention`` (the module) shared its name with the function.

Its contents moved to :mod:`lenakernel.linear` (``linear_attention``,
``LinearAttentionState``), :mod:`lenakernel.favor` (``favor_attention``),
:mod:`lenakernel.random_feature_smoothing` (``rff_nadaraya_watson``) and
:mod:`lenakernel.feature_maps` (``FEATURE_MAPS``). Every function is also
``lenakernel.<name>``; note that ``lenakernel.linear_attention`` is the function.
"""

from ._deprecation import forward_module

__all__: list[str] = []

__getattr__ = forward_module("linear_attention", {
    "linear_attention": "linear",
    "LinearAttentionState": "linear",
    "METHODS": "linear",
    "favor_attention": "favor",
    "rff_nadaraya_watson": "random_feature_smoothing",
    "FEATURE_MAPS": "feature_maps",
})
