"""Views: each normalisation step on its own, then the named pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from memetrack.normalize import (
    DEFAULT_STEPS,
    STEPS,
    View,
    core_view,
    flatten_alpha,
    remove_caption_panels,
    remove_screenshot_chrome,
    to_rgb,
    trim_uniform_borders,
)
from tests.matcher_scenes import caption, jpeg, scene, screenshot, with_panel


def close(box: tuple[int, ...], expected: tuple[int, ...], tol: int = 3) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(box, expected, strict=True))


def test_flatten_alpha_composites_over_grey() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[0, 0, 3] = 255
    out = flatten_alpha(rgba)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == (200, 200, 200)
    assert tuple(out[1, 1]) == (128, 128, 128)
    assert tuple(flatten_alpha(rgba, grey=0)[1, 1]) == (0, 0, 0)


def test_flatten_alpha_hides_the_colour_under_transparent_pixels() -> None:
    a = np.zeros((8, 8, 4), np.uint8)
    b = a.copy()
    b[..., :3] = 255  # different hidden colour, still fully transparent
    assert np.array_equal(flatten_alpha(a), flatten_alpha(b))


def test_to_rgb_accepts_grey_rgb_rgba() -> None:
    grey = np.full((3, 5), 7, np.uint8)
    assert to_rgb(grey).shape == (3, 5, 3)
    assert to_rgb(np.zeros((3, 5, 4), np.uint8)).shape == (3, 5, 3)
    with pytest.raises(ValueError):
        to_rgb(np.zeros((3, 5), np.float32))


def test_trim_uniform_borders() -> None:
    pic = scene(1, 200, 150)
    framed = np.full((150 + 40, 200 + 60, 3), 255, np.uint8)
    framed[25:175, 35:235] = pic
    assert close(trim_uniform_borders(framed), (35, 25, 235, 175), tol=1)
    # Nothing to trim on a picture without borders.
    assert trim_uniform_borders(pic) == (0, 0, 200, 150)


def test_trim_uniform_borders_survives_jpeg_noise() -> None:
    pic = scene(2, 200, 150)
    framed = np.zeros((230, 280, 3), np.uint8)
    framed[40:190, 40:240] = pic
    noisy = jpeg(framed, quality=30, factor=1.0)
    assert close(trim_uniform_borders(noisy), (40, 40, 240, 190), tol=3)


def test_remove_caption_panel_recovers_the_picture() -> None:
    pic = scene(3, 400, 300)
    meme = with_panel(pic, height=90)
    assert close(remove_caption_panels(meme), (0, 90, 400, 390))


def test_remove_caption_panel_leaves_plain_pictures_alone() -> None:
    pic = scene(4, 400, 300)
    assert remove_caption_panels(pic) == (0, 0, 400, 300)
    # A drawing on white that fades in (no straight edge) is not a panel either.
    drawing = np.full((300, 400, 3), 255, np.uint8)
    drawing[60:240, 100:300] = scene(5, 200, 180)
    drawing[60:240, 100:300][::3] = 255
    box = remove_caption_panels(drawing)
    assert box[1] < 60


@pytest.mark.parametrize("dark", [False, True])
def test_remove_screenshot_chrome_finds_the_picture(dark: bool) -> None:
    pic = caption(scene(6, 420, 320))
    shot, expected = screenshot(pic, dark=dark)
    assert close(remove_screenshot_chrome(shot), expected)


def test_remove_screenshot_chrome_leaves_non_screenshots_alone() -> None:
    pic = scene(7, 400, 300)
    assert remove_screenshot_chrome(pic) == (0, 0, 400, 300)
    # A blank white card on a coloured frame is a template, not a screenshot.
    card = np.zeros((400, 300, 3), np.uint8)
    card[:] = (30, 110, 230)
    card[100:350, 40:260] = 255
    assert remove_screenshot_chrome(card) == (0, 0, 300, 400)


def test_core_view_composes_boxes_in_original_coordinates() -> None:
    pic = scene(8, 360, 270)
    shot, (x0, y0, x1, y1) = screenshot(with_panel(pic, height=80))
    view = core_view(shot)
    assert isinstance(view, View)
    assert close(view.box, (x0, y0 + 80, x1, y1), tol=4)
    bx0, by0, bx1, by1 = view.box
    assert view.image.shape == (by1 - by0, bx1 - bx0, 3)
    assert np.array_equal(view.image, shot[by0:by1, bx0:bx1])


def test_core_view_steps_are_switchable() -> None:
    pic = scene(9, 300, 200)
    meme = with_panel(pic, height=60)
    assert core_view(meme, steps=()).box == (0, 0, 300, 260)
    assert close(core_view(meme, steps=("remove_caption_panels",)).box, (0, 60, 300, 260))
    assert set(DEFAULT_STEPS) <= set(STEPS)
