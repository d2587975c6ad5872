"""Tests for lenakernel.viz: the frame slider that works without a kernel."""

import base64
import html
import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

import lenakernel as lk  # noqa: E402
from lenakernel import viz  # noqa: E402


def draw(value):
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, value])
    ax.set_title(f"slope {value}")
    return fig


def alt(value):
    return f"A line rising to {value}."


def parts(box):
    slider, stack = box.children
    return slider, stack, list(stack.children)


def alt_of(frame):
    return html.unescape(re.search(r'alt="([^"]*)"', frame.value).group(1))


def png_of(frame):
    return base64.b64decode(re.search(r"base64,([^\"]+)\"", frame.value).group(1))


def test_one_frame_per_value_in_order_and_linked():
    box = lk.frame_slider(draw, [0.5, 1.0, 2.0], alt=alt, description="slope")
    slider, stack, images = parts(box)
    assert slider.options == ("0.5", "1", "2")
    assert slider.description == "slope"
    assert len(images) == 3 and stack.selected_index == 0
    assert len({png_of(image) for image in images}) == 3   # three different frames
    assert viz.SLIDER_CLASS in box._dom_classes


def test_every_frame_has_its_text_alternative():
    box = lk.frame_slider(draw, [0.5, 2.0], alt=alt)
    assert [alt_of(image) for image in parts(box)[2]] == ["A line rising to 0.5.", "A line rising to 2.0."]


def test_default_text_alternative_names_the_frame_and_value():
    box = lk.frame_slider(draw, [0.25, 4.0], description="h")
    assert [alt_of(image) for image in parts(box)[2]] == ["Frame 1 of 2: h = 0.25.", "Frame 2 of 2: h = 4."]


def test_frames_are_drawn_at_the_requested_resolution():
    for dpi in (80, 100):
        image = parts(lk.frame_slider(draw, [1.0], alt=alt, dpi=dpi))[2][0]
        width, height = PILImage.open(io.BytesIO(png_of(image))).size
        assert (width, height) == (4 * dpi, 2 * dpi)


def test_default_resolution_keeps_small_text_at_least_ten_css_pixels():
    # The book style's smallest text is 11 pt; a frame is shown one pixel per CSS pixel.
    dpi = lk.frame_slider.__kwdefaults__["dpi"]
    assert 11 / 72 * dpi >= 10


def test_figures_are_closed():
    before = len(plt.get_fignums())
    lk.frame_slider(draw, [1.0, 2.0, 3.0], alt=alt)
    assert len(plt.get_fignums()) == before


def test_the_same_frames_twice_give_the_same_bytes():
    first = [png_of(image) for image in parts(lk.frame_slider(draw, [1.0, 2.0], alt=alt))[2]]
    second = [png_of(image) for image in parts(lk.frame_slider(draw, [1.0, 2.0], alt=alt))[2]]
    assert first == second


@pytest.mark.parametrize("values", [None, 3.0, "abc"])
def test_values_that_are_not_a_sequence_are_refused_by_name(values):
    with pytest.raises(TypeError, match="`values`"):
        lk.frame_slider(draw, values, alt=alt)


def test_empty_values_are_refused_by_name():
    with pytest.raises(ValueError, match="`values`"):
        lk.frame_slider(draw, [], alt=alt)


def test_draw_that_is_not_callable_is_refused_by_name():
    with pytest.raises(TypeError, match="`draw`"):
        lk.frame_slider(None, [1.0], alt=alt)


def test_draw_that_returns_none_is_refused_by_name():
    def forgets_to_return(value):
        plt.subplots()

    before = len(plt.get_fignums())
    with pytest.raises(TypeError, match=r"`draw` must return a matplotlib Figure.*NoneType"):
        lk.frame_slider(forgets_to_return, [1.0], alt=alt)
    assert len(plt.get_fignums()) == before   # the stray figure was closed


def test_alt_text_is_escaped_for_html():
    box = lk.frame_slider(draw, [1.0], alt=lambda value: 'h < 2 & "quoted"')
    frame = parts(box)[2][0]
    assert 'alt="h &lt; 2 &amp; &quot;quoted&quot;"' in frame.value
    assert alt_of(frame) == 'h < 2 & "quoted"'


def test_alt_that_is_not_callable_is_refused_by_name():
    with pytest.raises(TypeError, match="`alt`"):
        lk.frame_slider(draw, [1.0], alt="a line")


@pytest.mark.parametrize("bad", [None, "", "   ", 3])
def test_alt_that_returns_no_text_is_refused_by_name(bad):
    with pytest.raises(TypeError, match="`alt` must return a non-empty string"):
        lk.frame_slider(draw, [1.0], alt=lambda value: bad)


@pytest.mark.parametrize("dpi", [30, 60, 0, -1, "high", True])
def test_unreadable_or_invalid_dpi_is_refused_by_name(dpi):
    with pytest.raises(ValueError, match="`dpi`"):
        lk.frame_slider(draw, [1.0], alt=alt, dpi=dpi)


def test_description_must_be_text():
    with pytest.raises(TypeError, match="`description`"):
        lk.frame_slider(draw, [1.0], alt=alt, description=None)
