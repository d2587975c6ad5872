"""The package's version, in this one place.

pyproject.toml reads it (``dynamic = ["version"]``), the notebooks' install cells pin it,
CITATION.cff and CHANGELOG.md name it, and a release tags it as ``v<version>``.
"""

__version__ = "0.2.0"
