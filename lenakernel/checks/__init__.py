"""Machine-checked exercises: one checker per exercise, grouped by chapter.

Each checker runs the student's function on seeded random cases against the package
and prints a friendly verdict (the input, what was expected, what came back); it
returns True or False and never raises.

Examples
--------
>>> import lenakernel as lk
>>> def square(x):
...     return x * x
>>> lk.checks.run_cases(square, square, [{"x": -2.0}], exercise="square")
Correct: square matches the package on all 1 test cases.
True
"""

from . import chapter01, chapter02, chapter03, chapter04, chapter05, chapter06, chapter07, chapter08, chapter09, layer
from ._core import run_cases
from .chapter01 import *  # noqa: F401,F403
from .chapter02 import *  # noqa: F401,F403
from .chapter03 import *  # noqa: F401,F403
from .chapter04 import *  # noqa: F401,F403
from .chapter05 import *  # noqa: F401,F403
from .chapter06 import *  # noqa: F401,F403
from .chapter07 import *  # noqa: F401,F403
from .chapter08 import *  # noqa: F401,F403
from .chapter09 import *  # noqa: F401,F403
from .layer import *  # noqa: F401,F403

__all__ = ["run_cases"] + (
    chapter01.__all__ + chapter02.__all__ + chapter03.__all__ + chapter04.__all__ + chapter05.__all__
    + chapter06.__all__ + chapter07.__all__ + chapter08.__all__ + chapter09.__all__ + layer.__all__
)
