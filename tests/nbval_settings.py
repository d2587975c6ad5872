"""pytest plugin with the nbval settings for the notebooks under ``book/``.

Loaded for every pytest run through ``addopts = "-p tests.nbval_settings"`` in
``pyproject.toml``, so it applies to ``book/*.ipynb`` as well as to ``tests/``.
"""

# Glued figures are stored as PNG under the papermill record type; nbval compares
# that key unless told not to (it skips only the plain image/png key itself).
GLUED_IMAGES = (
    "application/papermill.record/image/png",
    "application/papermill.record/image/jpeg",
    "application/papermill.record/image/svg+xml",
)


def pytest_collectstart(collector):
    if type(collector).__name__ == "IPyNbFile":
        collector.skip_compare = tuple(collector.skip_compare) + GLUED_IMAGES
