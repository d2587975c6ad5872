"""Figures that stay interactive in the static book, and readable by everyone.

A slider normally needs a running kernel to redraw its figure. :func:`frame_slider`
draws every frame once, in advance, and links the slider to the frames in the browser
(``ipywidgets.jslink``), so the slider works on the published page with no kernel,
and in Jupyter, Binder and Colab alike. Every frame carries a text alternative.
"""

from __future__ import annotations

import base64
import html
import io
import numbers

__all__ = ["frame_slider"]

# The CSS class of the widget; the book's stylesheet and script (book/_vendor/
# lenakernel-a11y.css and .js) find frame sliders by it.
SLIDER_CLASS = "lenakernel-frame-slider"

# Frames are shown at their natural size (one image pixel per CSS pixel) when they
# fit the column. At 80 dots per inch the book style's smallest text (11 pt) is
# 11 / 72 * 80 = 12 CSS pixels, and a figure 8 inches wide is 640 pixels, which fits
# the book's column without shrinking.
_MIN_DPI = 72


def frame_slider(draw, values, *, alt=None, description="value", readout_format="{:.3g}", dpi=80):
    """A slider over precomputed figures that works without a kernel.

    The slider shows ``description`` as its visible label and each value formatted by
    ``readout_format``; the book's script (``book/_vendor/lenakernel-a11y.js``) makes
    the label the handle's accessible name and the shown value its ``aria-valuetext``.
    Each frame is an ``<img>`` whose ``alt`` attribute is ``alt(value)``.

    Parameters
    ----------
    draw : callable
        ``draw(value)`` returns a matplotlib ``Figure`` for one slider position.
        Each figure is closed after it is rendered.
    values : sequence of float
        The slider positions, in order (at least one).
    alt : callable, optional
        ``alt(value)`` returns the text alternative of that frame: what it shows and
        what to notice, in a sentence or two. By default the text names the frame
        only ("Frame 2 of 5: h = 0.3."), so a chapter should pass its own.
    description : str, default "value"
        The label shown beside the slider, the name of the value (``"h"``).
    readout_format : str, default "{:.3g}"
        Format for the values shown on the slider.
    dpi : int, default 80
        Resolution of the rendered frames, at least 72. At 80, text of 11 points is
        12 CSS pixels on the page.

    Returns
    -------
    ipywidgets.VBox
        A slider above a stack of frames (``ipywidgets.HTML``, each holding one image);
        moving the slider shows another frame.

    Raises
    ------
    ValueError
        If ``values`` is empty or ``dpi`` is below 72.
    TypeError
        If ``draw`` or ``alt`` is not callable, ``values`` is not a sequence,
        ``draw`` returns something other than a figure, or ``alt`` returns
        something other than a non-empty string.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> def draw(a):
    ...     fig, ax = plt.subplots()
    ...     ax.plot([0, 1], [0, a])
    ...     return fig
    >>> def alt(a):
    ...     return f"A line from the origin rising to height {a}."
    >>> box = frame_slider(draw, [0.5, 1.0, 2.0], alt=alt, description="slope")
    >>> len(box.children[1].children)
    3
    >>> 'alt="A line from the origin rising to height 2.0."' in box.children[1].children[2].value
    True
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    if not callable(draw):
        raise TypeError(f"`draw` must be a function value -> matplotlib Figure; got {type(draw).__name__}.")
    if alt is not None and not callable(alt):
        raise TypeError(f"`alt` must be a function value -> str (the frame's text alternative); "
                        f"got {type(alt).__name__}.")
    if values is None or isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"`values` must be a sequence of slider positions; got {type(values).__name__}.")
    values = list(values)
    if not values:
        raise ValueError("`values` must hold at least one slider position; got an empty sequence.")
    if not isinstance(description, str):
        raise TypeError(f"`description` must be a string; got {type(description).__name__}.")
    if not isinstance(dpi, numbers.Real) or isinstance(dpi, bool) or not dpi >= _MIN_DPI:
        raise ValueError(f"`dpi` must be a number >= {_MIN_DPI}, so that text stays readable; got {dpi!r}.")

    labels = [readout_format.format(v) for v in values]
    images = []
    for position, (value, label) in enumerate(zip(values, labels), start=1):
        fig = draw(value)
        if not isinstance(fig, Figure):
            plt.close("all")
            raise TypeError(f"`draw` must return a matplotlib Figure; draw({value!r}) returned "
                            f"{type(fig).__name__}. End it with `return fig`.")
        buffer = io.BytesIO()
        # Fixed metadata keeps the PNG bytes identical run to run.
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
        plt.close(fig)
        text = _frame_text(alt, value, position, len(values), description, label)
        images.append(widgets.HTML(value=_image_tag(buffer.getvalue(), text)))

    slider = widgets.SelectionSlider(options=labels, index=0, description=description,
                                     continuous_update=True)
    stack = widgets.Stack(children=images, selected_index=0)
    # Linked in the browser, so it works on the static page too.
    widgets.jslink((slider, "index"), (stack, "selected_index"))
    box = widgets.VBox([slider, stack])
    box.add_class(SLIDER_CLASS)
    return box


def _image_tag(png, text):
    """An ``<img>`` holding the PNG bytes inline, with ``text`` as its alt attribute.

    ipywidgets' own Image widget has no alt attribute (and its tooltip breaks the
    static page's renderer), so each frame is a small piece of HTML instead.
    """
    source = base64.b64encode(png).decode("ascii")
    return (f'<img src="data:image/png;base64,{source}" alt="{html.escape(text, quote=True)}" '
            f'style="max-width: 100%; height: auto;">')


def _frame_text(alt, value, position, count, description, label):
    """The text alternative of one frame: ``alt(value)``, or a plain default."""
    if alt is None:
        return f"Frame {position} of {count}: {description} = {label}."
    text = alt(value)
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"`alt` must return a non-empty string for every value; alt({value!r}) "
                        f"returned {text!r}.")
    return text
