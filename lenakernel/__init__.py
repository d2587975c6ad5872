"""lenakernel: attention is a kernel method.

The package behind the course *Attention Is a Kernel Method*. Every public function
takes NumPy arrays or torch tensors and returns the same kind.

Modules, one idea each, in the order the course meets them:

- :mod:`lenakernel.kernels` -- smoothing kernels K(u), one registry record per kernel (chapter 1)
- :mod:`lenakernel.smoothing` -- the Nadaraya-Watson estimator and bandwidths (chapter 1)
- :mod:`lenakernel.attention` -- softmax and Gaussian attention as a kernel smoother (chapters 2-3)
- :mod:`lenakernel.metric_learning` -- a learned metric: N-W on transformed inputs (chapter 4)
- :mod:`lenakernel.training` -- gradient descent, reproducibly (chapters 4-5)
- :mod:`lenakernel.in_context` -- in-context regression with one softmax head (chapter 5)
- :mod:`lenakernel.feature_maps` -- feature maps, deterministic and random (chapters 7-8)
- :mod:`lenakernel.linear` -- linear attention, its causal forms and recurrent state (chapters 7, 9)
- :mod:`lenakernel.causal_linear_backward` -- the chunk-wise backward pass of causal linear attention (chapter 9)
- :mod:`lenakernel.favor` -- FAVOR+: linear attention with positive random features (chapters 8-9)
- :mod:`lenakernel.random_feature_smoothing` -- N-W in linear time with random Fourier features (chapter 8)
- :mod:`lenakernel.feature_error` -- closed-form error of random-feature estimators (chapter 8)
- :mod:`lenakernel.multi_head` -- multi-head attention as a sum of smoothers (chapter 6)
- :mod:`lenakernel.positional` -- rotary and ALiBi positional log-kernels (chapter 6)
- :mod:`lenakernel.reference` -- short readable references that the tuned paths are tested against
- :mod:`lenakernel.checks` -- machine-checked exercises
- :mod:`lenakernel.viz` -- sliders that work in the static book
- :mod:`lenakernel.notebook` -- glue and plotting style, the same in the book and on Colab

``lenakernel.learning`` and the module ``lenakernel.linear_attention`` are deprecated
aliases of the modules above (``lenakernel.linear_attention`` is the function).
"""

from . import (
    attention,
    causal_linear_backward,
    favor,
    feature_error,
    feature_maps,
    in_context,
    kernels,
    linear,
    metric_learning,
    multi_head,
    notebook,
    positional,
    random_feature_smoothing,
    reference,
    smoothing,
    training,
    viz,
)
from . import learning, linear_attention  # noqa: F401  deprecated module aliases
from . import checks  # noqa: E402

_MODULES = (kernels, smoothing, attention, metric_learning, training, in_context, feature_maps, linear,
            causal_linear_backward, favor,
            random_feature_smoothing, feature_error, multi_head, positional, viz, notebook)
__all__ = [name for module in _MODULES for name in module.__all__]
del _MODULES

# Importing the deprecated module `linear_attention` bound that name to the module;
# the star imports below bind it (and every public name) to the function.
from .attention import *  # noqa: E402,F401,F403
from .causal_linear_backward import *  # noqa: E402,F401,F403
from .favor import *  # noqa: E402,F401,F403
from .feature_error import *  # noqa: E402,F401,F403
from .feature_maps import *  # noqa: E402,F401,F403
from .in_context import *  # noqa: E402,F401,F403
from .kernels import *  # noqa: E402,F401,F403
from .linear import *  # noqa: E402,F401,F403
from .metric_learning import *  # noqa: E402,F401,F403
from .multi_head import *  # noqa: E402,F401,F403
from .notebook import *  # noqa: E402,F401,F403
from .positional import *  # noqa: E402,F401,F403
from .random_feature_smoothing import *  # noqa: E402,F401,F403
from .smoothing import *  # noqa: E402,F401,F403
from .training import *  # noqa: E402,F401,F403
from .viz import *  # noqa: E402,F401,F403

from ._version import __version__  # noqa: E402
