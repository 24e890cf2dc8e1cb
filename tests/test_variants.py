"""Query variants: seeded, pure, and shaped like the memes they imitate."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFont

from memetrack.errors import BadInput, EmptyImage
from memetrack.evaluation.variants import (
    VARIANT_KINDS,
    Composite,
    add_caption_panel,
    add_top_bottom_caption,
    caption_font,
    composite_cutout,
    make_variant,
    random_caption,
    screenshot,
)


def template(width: int = 400, height: int = 300, seed: int = 0) -> Image.Image:
    """A synthetic blank template: a colour gradient with a few shapes."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 226, size=(4, 4, 3), dtype=np.uint8)
    rgb = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(5):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        cv2.circle(rgb, centre, int(rng.integers(10, 60)), colour, -1)
    return Image.fromarray(rgb, "RGB")


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def caption_rows(before: Image.Image, after: Image.Image) -> np.ndarray:
    """Per row: did the caption change any pixel?"""
    return (pixels(before) != pixels(after)).any(axis=2).any(axis=1)


# ----------------------------------------------------------------------------------- contract


@pytest.mark.parametrize("kind", VARIANT_KINDS)
def test_variant_is_a_new_rgb_image_and_input_is_untouched(kind: str) -> None:
    base = template()
    before = base.tobytes()
    out = make_variant(kind, base, random.Random(1))
    assert isinstance(out, Image.Image) and out.mode == "RGB"
    assert out is not base
    assert base.tobytes() == before and base.mode == "RGB"


@pytest.mark.parametrize("kind", VARIANT_KINDS)
def test_variant_is_seeded(kind: str) -> None:
    base = template()
    first = make_variant(kind, base, random.Random(42))
    again = make_variant(kind, base, random.Random(42))
    assert first.size == again.size and first.tobytes() == again.tobytes()
    if kind != "greyscale":  # the only kind without randomness
        others = [make_variant(kind, base, random.Random(seed)) for seed in range(10)]
        assert any(o.size != first.size or o.tobytes() != first.tobytes() for o in others)


def test_unknown_kind_raises() -> None:
    with pytest.raises(BadInput) as info:
        make_variant("sepia", template(), random.Random(0))
    assert info.value.details["kind"] == "sepia"


def test_transparent_input_is_flattened_onto_white() -> None:
    rgba = Image.new("RGBA", (200, 100), (255, 0, 0, 0))  # red, but fully transparent
    out = make_variant("greyscale", rgba, random.Random(0))
    assert np.all(np.asarray(out) == 255)


# ----------------------------------------------------------------------------------- captions


def test_caption_font_is_a_bold_scalable_font() -> None:
    font = caption_font(40)
    assert isinstance(font, ImageFont.FreeTypeFont)
    assert font.size == 40
    assert caption_font(40) is font  # cached


def test_random_caption_word_counts() -> None:
    rng = random.Random(3)
    for _ in range(50):
        words = random_caption(rng, (2, 7)).split()
        assert 2 <= len(words) <= 7
    assert random_caption(random.Random(5)) == random_caption(random.Random(5))


@pytest.mark.parametrize("size", [(600, 425), (400, 400), (240, 480), (1000, 300), (2000, 1100)])
def test_top_bottom_caption_covers_15_to_30_percent(size: tuple[int, int]) -> None:
    base = Image.new("RGB", size, (90, 120, 150))
    for seed in range(8):
        rng = random.Random(seed)
        out = add_top_bottom_caption(base, random_caption(rng, (2, 6)), random_caption(rng, (2, 6)))
        assert out.size == base.size
        rows = caption_rows(base, out)
        assert 0.15 <= rows.mean() <= 0.30
        middle = slice(int(size[1] * 0.36), int(size[1] * 0.64))
        assert not rows[middle].any()  # the picture's middle stays free
        assert rows[: size[1] // 5].any() and rows[-size[1] // 5 :].any()


def test_caption_is_white_with_black_outline() -> None:
    base = Image.new("RGB", (500, 400), (90, 120, 150))
    out = pixels(add_top_bottom_caption(base, "one does not", "simply"))
    changed = (out != pixels(base)).any(axis=2)
    colours = out[changed]
    assert (colours.min(axis=1) > 240).mean() > 0.2  # white letters
    assert (colours.max(axis=1) < 15).mean() > 0.2  # black outline


def test_caption_panel_grows_the_image_and_keeps_the_picture() -> None:
    base = template(400, 300)
    out = add_caption_panel(base, "Me when the code works on the first try")
    width, height = out.size
    band = height - 300
    assert width == 400 and 0 < band < 300
    assert np.array_equal(np.asarray(out)[band:], np.asarray(base))
    panel = pixels(out)[:band]
    assert (panel.min(axis=2) > 240).mean() > 0.6  # mostly white
    assert (panel.max(axis=2) < 60).any()  # with black text


# ------------------------------------------------------------------------------------ by kind


def test_caption_jpeg_resize_halves_the_size() -> None:
    out = make_variant("caption_jpeg_resize", template(400, 300), random.Random(0))
    assert out.size == (200, 150)


def test_caption_crop_removes_8_to_15_percent_per_side() -> None:
    for seed in range(10):
        out = make_variant("caption_crop", template(400, 300), random.Random(seed))
        assert 400 * 0.70 - 1 <= out.width <= 400 * 0.84 + 1
        assert 300 * 0.70 - 1 <= out.height <= 300 * 0.84 + 1


def test_mirror_flips_the_picture_but_not_the_text() -> None:
    base = template(400, 300)
    out = np.asarray(make_variant("mirror", base, random.Random(0)))
    flipped = np.asarray(base)[:, ::-1]
    middle = slice(110, 190)  # between the captions
    assert np.array_equal(out[middle], flipped[middle])
    assert not np.array_equal(out, flipped)  # captioned


def test_rotate_expands_and_fills_corners_white_or_black() -> None:
    for seed in range(6):
        out = np.asarray(make_variant("rotate", template(400, 300), random.Random(seed)))
        assert out.shape[1] > 400 and out.shape[0] > 300
        corner = out[0, 0]
        assert tuple(corner) in ((255, 255, 255), (0, 0, 0))
        assert tuple(out[-1, -1]) == tuple(corner)


def test_greyscale_has_equal_channels() -> None:
    out = np.asarray(make_variant("greyscale", template(), random.Random(0)))
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_stickers_cover_5_to_15_percent() -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
    base = Image.fromarray(noise)  # every pasted pixel changes something
    for seed in range(20):
        out = make_variant("sticker", base, random.Random(seed))
        changed = (pixels(out) != pixels(base)).any(axis=2).mean()
        assert 0.035 <= changed <= 0.16


def test_watermark_is_faint() -> None:
    base = template()
    for seed in range(6):
        out = make_variant("watermark", base, random.Random(seed))
        diff = np.abs(pixels(out) - pixels(base))
        changed = diff.any(axis=2)
        assert 0.002 < changed.mean() < 0.4
        assert diff.max() < 255  # semi-transparent: never the full swing


def test_screenshot_looks_like_a_device_screen() -> None:
    sizes = set()
    for seed in range(12):
        out = screenshot(template(), random.Random(seed))
        sizes.add(out.size)
        width, height = out.size
        assert width in (720, 750, 828, 1080, 1280, 1366, 1440, 1920)
        assert height >= 768
    assert any(w < h for w, h in sizes) and any(w > h for w, h in sizes)  # phones and desktops


def test_screenshot_contains_the_picture() -> None:
    base = template(400, 300, seed=4)
    out = screenshot(base, random.Random(0))
    small = out.resize((out.width // 4, out.height // 4), Image.Resampling.BOX)  # search at 1/4
    grey = cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2GRAY)
    best = 0.0
    for width in range(36, small.width, 2):  # the picture's scale is not known
        probe = base.resize((width, width * 3 // 4), Image.Resampling.BOX).convert("L")
        if probe.height >= small.height:
            break
        best = max(best, float(cv2.matchTemplate(grey, np.asarray(probe), cv2.TM_CCOEFF_NORMED).max()))
    assert best > 0.9


# ----------------------------------------------------------------------------------- cut-outs


def two_colour_cutout() -> Image.Image:
    """Red left half, yellow right half of a disc; green hidden under transparency; margins."""
    rgba = np.zeros((120, 160, 4), dtype=np.uint8)
    rgba[..., :3] = (0, 255, 0)
    yy, xx = np.mgrid[:120, :160]
    disc = (xx - 80) ** 2 + (yy - 60) ** 2 <= 40**2
    rgba[disc & (xx < 80)] = (255, 0, 0, 255)
    rgba[disc & (xx >= 80)] = (255, 255, 0, 255)
    return Image.fromarray(rgba, "RGBA")


def blue(width: int = 500, height: int = 400) -> Image.Image:
    return Image.new("RGB", (width, height), (0, 0, 255))


@pytest.mark.parametrize("mirror", [False, True])
def test_composite_places_the_cutout_at_the_quad(mirror: bool) -> None:
    for seed in range(5):
        result = composite_cutout(
            blue(),
            two_colour_cutout(),
            random.Random(seed),
            size_frac=0.4,
            mirror=mirror,
            caption=False,
            jpeg_quality=None,
        )
        assert isinstance(result, Composite) and result.mirrored is mirror
        assert result.image.mode == "RGB" and result.image.size == (500, 400)
        quad = result.quad
        assert quad.shape == (4, 2) and quad.dtype == np.float64
        left, top = quad.min(axis=0)
        right, bottom = quad.max(axis=0)
        assert 0 <= left < right <= 500 and 0 <= top < bottom <= 400
        assert right - left == pytest.approx(0.4 * 400, abs=1)  # larger side = 40 % of 400
        assert result.scale == pytest.approx((bottom - top) / 400)
        out = pixels(result.image)
        not_blue = (out != (0, 0, 255)).any(axis=2)
        ys, xs = np.nonzero(not_blue)
        assert xs.min() >= left and xs.max() < right and ys.min() >= top and ys.max() < bottom
        assert not ((out[..., 1] > 200) & (out[..., 0] < 50)).any()  # no hidden green leaked
        mid_y = int((top + bottom) / 2)
        left_colour = out[mid_y, int(left + (right - left) * 0.25)]
        expected = (255, 255, 0) if mirror else (255, 0, 0)
        assert tuple(left_colour) == expected
        if mirror:  # the cut-out's own top-left corner lands on the right
            assert quad[0][0] > quad[1][0]
        else:
            assert quad[0][0] < quad[1][0]


def test_composite_caption_and_jpeg() -> None:
    args = dict(size_frac=0.3, mirror=False)
    plain = composite_cutout(
        blue(), two_colour_cutout(), random.Random(9), caption=False, jpeg_quality=None, **args
    )
    captioned = composite_cutout(
        blue(), two_colour_cutout(), random.Random(9), caption=True, jpeg_quality=None, **args
    )
    compressed = composite_cutout(
        blue(), two_colour_cutout(), random.Random(9), caption=False, jpeg_quality=40, **args
    )
    assert np.array_equal(plain.quad, captioned.quad) and np.array_equal(plain.quad, compressed.quad)
    assert captioned.image.size == plain.image.size == compressed.image.size
    white = (pixels(captioned.image).min(axis=2) > 240).mean()
    assert white > 0.01  # caption letters
    assert not np.array_equal(np.asarray(compressed.image), np.asarray(plain.image))
    assert np.abs(pixels(compressed.image) - pixels(plain.image)).mean() < 10


def test_composite_is_seeded() -> None:
    a = composite_cutout(
        template(),
        two_colour_cutout(),
        random.Random(2),
        size_frac=0.5,
        mirror=True,
        caption=True,
        jpeg_quality=70,
    )
    b = composite_cutout(
        template(),
        two_colour_cutout(),
        random.Random(2),
        size_frac=0.5,
        mirror=True,
        caption=True,
        jpeg_quality=70,
    )
    assert a.image.tobytes() == b.image.tobytes() and np.array_equal(a.quad, b.quad)


def test_composite_of_empty_cutout_raises() -> None:
    empty = Image.new("RGBA", (50, 50), (255, 0, 0, 0))
    with pytest.raises(EmptyImage):
        composite_cutout(
            blue(),
            empty,
            random.Random(0),
            size_frac=0.3,
            mirror=False,
            caption=False,
            jpeg_quality=None,
        )
