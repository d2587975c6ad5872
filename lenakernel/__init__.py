"""lenakernel: attention is a kernel method.

The package behind the course *Attention Is a Kernel Method*. Every public function
takes NumPy arrays or torch tensors and returns the same kind.

Modules, in the order the course meets them:

- :mod:`lenakernel.kernels` -- smoothing kernels (chapter 1)
- :mod:`lenakernel.smoothing` -- the Nadaraya-Watson estimator and bandwidths (chapter 1)
- :mod:`lenakernel.attention` -- softmax attention as a kernel smoother (chapters 2-3)
- :mod:`lenakernel.learning` -- learning the kernel, in-context regression (chapters 4-5)
- :mod:`lenakernel.feature_maps` -- feature maps, deterministic and random (chapters 6-7)
- :mod:`lenakernel.feature_error` -- closed-form error of random-feature estimators (chapter 7)
- :mod:`lenakernel.linear_attention` -- linear attention, causal forms, recurrent state (chapters 6-8)
- :mod:`lenakernel.multi_head` -- multi-head attention as a sum of smoothers (the layer chapter)
- :mod:`lenakernel.positional` -- rotary and ALiBi positional log-kernels (the layer chapter)
- :mod:`lenakernel.checks` -- machine-checked exercises
- :mod:`lenakernel.viz` -- sliders that work in the static book
- :mod:`lenakernel.notebook` -- glue and plotting style, the same in the book and on Colab
"""

from . import attention, checks, feature_error, feature_maps, kernels, learning, linear_attention, multi_head, notebook, positional, smoothing, viz

# The public names, collected before the star imports below: `from .linear_attention
# import *` rebinds the name `linear_attention` from the module to the function.
_MODULES = (kernels, smoothing, attention, learning, feature_maps, feature_error, linear_attention, multi_head, positional, viz, notebook)
__all__ = [name for module in _MODULES for name in module.__all__]
del _MODULES

from .attention import *  # noqa: E402,F401,F403
from .feature_error import *  # noqa: E402,F401,F403
from .feature_maps import *  # noqa: E402,F401,F403
from .kernels import *  # noqa: E402,F401,F403
from .learning import *  # noqa: E402,F401,F403
from .linear_attention import *  # noqa: E402,F401,F403
from .multi_head import *  # noqa: E402,F401,F403
from .notebook import *  # noqa: E402,F401,F403
from .positional import *  # noqa: E402,F401,F403
from .smoothing import *  # noqa: E402,F401,F403
from .viz import *  # noqa: E402,F401,F403

from ._version import __version__  # noqa: E402
