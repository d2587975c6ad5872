"""Machine-checked exercises: one checker per exercise, grouped by chapter.

Each checker calls the student's function with positional arguments on named, seeded
cases, compares the answer with the package under one tolerance rule (see
``lenakernel.checks._core``), checks what the exercise's constraints allow (causality,
memory, loops), and prints a verdict: which lenakernel functions the exercise allows,
what it checks, and for a wrong answer the failing case, what it tests, a hint read
from the answer, and the inputs (large arrays as shapes; :func:`last_failure` returns
them in full). A checker returns True or False and never raises.

``ALLOWED`` maps each checker's name to the lenakernel functions its exercise allows.

Examples
--------
>>> import lenakernel as lk
>>> def square(x):
...     return x * x
>>> lk.checks.run_cases(square, square, [{"x": -2.0}], exercise="square")
square. Allowed from lenakernel: nothing (NumPy only). Checks values only.
Correct: square passes all 1 cases: case 1.
True
"""

from . import chapter01, chapter02, chapter03, chapter04, chapter05, chapter06, chapter07, chapter08, chapter09
from ._core import last_failure, run_cases
from .chapter01 import *  # noqa: F401,F403
from .chapter02 import *  # noqa: F401,F403
from .chapter03 import *  # noqa: F401,F403
from .chapter04 import *  # noqa: F401,F403
from .chapter05 import *  # noqa: F401,F403
from .chapter06 import *  # noqa: F401,F403
from .chapter07 import *  # noqa: F401,F403
from .chapter08 import *  # noqa: F401,F403
from .chapter09 import *  # noqa: F401,F403

__all__ = ["run_cases", "last_failure"] + (
    chapter01.__all__ + chapter02.__all__ + chapter03.__all__ + chapter04.__all__ + chapter05.__all__
    + chapter06.__all__ + chapter07.__all__ + chapter08.__all__ + chapter09.__all__
)

ALLOWED = {
    "check_nadaraya_watson": chapter01.NADARAYA_WATSON_ALLOWED,
    "check_loo_error": chapter01.LOO_ERROR_ALLOWED,
    "check_single_query_attention": chapter02.SINGLE_QUERY_ALLOWED,
    "check_local_attention": chapter02.LOCAL_ATTENTION_ALLOWED,
    "check_qk_norm_attention": chapter03.QK_NORM_ALLOWED,
    "check_metric_smoother": chapter04.METRIC_SMOOTHER_ALLOWED,
    "check_attention_form": chapter04.ATTENTION_FORM_ALLOWED,
    "check_in_context_attention": chapter05.IN_CONTEXT_HEAD_ALLOWED,
    "check_gaussian_projections": chapter05.GAUSSIAN_PROJECTIONS_ALLOWED,
    "check_linear_attention": chapter06.LINEAR_ATTENTION_ALLOWED,
    "check_taylor_features": chapter06.TAYLOR_FEATURES_ALLOWED,
    "check_random_fourier_features": chapter07.RANDOM_FOURIER_ALLOWED,
    "check_hyperbolic_random_features": chapter07.HYPERBOLIC_ALLOWED,
    "check_causal_linear_attention": chapter08.CAUSAL_LINEAR_ALLOWED,
    "check_chunked_linear_attention": chapter08.CHUNKED_LINEAR_ALLOWED,
    "check_is_psd": chapter09.IS_PSD_ALLOWED,
    "check_min_quadratic_form": chapter09.MIN_QUADRATIC_FORM_ALLOWED,
}
