"""Figures that stay interactive in the static book.

A slider normally needs a running kernel to redraw its figure. :func:`frame_slider`
draws every frame once, in advance, and links the slider to the frames in the browser
(``ipywidgets.jslink``), so the slider works on the published page with no kernel,
and in Jupyter, Binder and Colab alike.
"""

from __future__ import annotations

import io

__all__ = ["frame_slider"]


def frame_slider(draw, values, *, description="value", readout_format="{:.3g}", dpi=72):
    """A slider over precomputed figures that works without a kernel.

    Parameters
    ----------
    draw : callable
        ``draw(value)`` returns a matplotlib ``Figure`` for one slider position.
        Each figure is closed after it is rendered.
    values : sequence of float
        The slider positions, in order (at least one).
    description : str, default "value"
        The label shown beside the slider.
    readout_format : str, default "{:.3g}"
        Format for the values shown on the slider.
    dpi : int, default 72
        Resolution of the rendered frames; lower keeps the notebook small.

    Returns
    -------
    ipywidgets.VBox
        A slider above a stack of images; moving the slider shows another image.

    Raises
    ------
    ValueError
        If ``values`` is empty.
    TypeError
        If ``draw`` is not callable.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> def draw(a):
    ...     fig, ax = plt.subplots()
    ...     ax.plot([0, 1], [0, a])
    ...     return fig
    >>> box = frame_slider(draw, [0.5, 1.0, 2.0], description="slope")
    >>> len(box.children[1].children)
    3
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    if not callable(draw):
        raise TypeError(f"`draw` must be a function value -> matplotlib Figure; got {type(draw).__name__}.")
    values = list(values)
    if not values:
        raise ValueError("`values` must hold at least one slider position; got an empty sequence.")

    images = []
    for value in values:
        fig = draw(value)
        buffer = io.BytesIO()
        # Fixed metadata keeps the PNG bytes identical run to run.
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
        plt.close(fig)
        images.append(widgets.Image(value=buffer.getvalue(), format="png"))

    labels = [readout_format.format(v) for v in values]
    slider = widgets.SelectionSlider(options=labels, index=0, description=description,
                                     continuous_update=True)
    stack = widgets.Stack(children=images, selected_index=0)
    # Linked in the browser, so it works on the static page too.
    widgets.jslink((slider, "index"), (stack, "selected_index"))
    return widgets.VBox([slider, stack])
