"""What the chapters' notebooks need to run the same in the book, in Jupyter and on Colab.

:func:`glue` hands a number or figure to the book (myst-nb's glue) when myst-nb is
installed and quietly does nothing where it is not, so a chapter runs on Colab.
:func:`use_book_style` sets one colour-blind-safe plotting style for every chapter.
"""

from __future__ import annotations

import importlib.util

__all__ = ["glue", "use_book_style"]

# The Okabe-Ito palette: eight colours told apart under the common colour-vision
# deficiencies. Black is last, so that it is used only when asked for.
_OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

# Line styles cycle with the colours, so two lines never differ by colour alone.
_LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), "-")


def glue(name, value, display=True):
    """Store ``value`` under ``name`` for the book's prose; a no-op without myst-nb.

    Parameters
    ----------
    name : str
        The key the prose uses (``{glue:text}`name```), prefixed with the chapter.
    value : object
        A number (glue ``float(x)``, not a NumPy scalar) or a figure.
    display : bool, default True
        Whether the value is also shown in the notebook where it is glued.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``name`` is not a string or ``display`` is not a bool.

    Examples
    --------
    >>> glue("example_value", 0.25, display=False)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string; got {name!r}.")
    if not isinstance(display, bool):
        raise TypeError(f"`display` must be True or False; got {display!r}.")
    if importlib.util.find_spec("myst_nb") is not None:
        from myst_nb import glue as myst_glue

        myst_glue(name, value, display=display)
    elif display:
        # Without myst-nb (Colab, plain Jupyter) the value is simply shown.
        from IPython.display import display as show

        show(value)


def use_book_style():
    """Set the plotting style every chapter shares: readable, and never colour alone.

    Colours come from the Okabe-Ito palette, each paired with its own line style;
    text is large enough to stay at least 10 CSS pixels when a figure up to 8 inches
    wide is shrunk to the page's column.

    Returns
    -------
    None

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> use_book_style()
    >>> import matplotlib.pyplot as plt
    >>> plt.rcParams["legend.fontsize"]
    11.0
    """
    import matplotlib.pyplot as plt
    from cycler import cycler

    plt.rcParams.update({
        "axes.prop_cycle": cycler(color=list(_OKABE_ITO)) + cycler(linestyle=list(_LINE_STYLES)),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "font.size": 12,
        "axes.titlesize": 12,
        "axes.labelsize": 12,
        "xtick.labelsize": 11,
        "ytick.labelsize": 11,
        "legend.fontsize": 11,
        "lines.linewidth": 1.8,
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
    })
