"""Cut-out identity: only opaque pixels count, and the mask shape is a second signature."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pdqhash
import pytest
from PIL import Image

from memetrack.cutouts import (
    MASK_MATCH_THRESHOLD,
    MASK_SIGNATURE_BYTES,
    MASK_SIGNATURE_VERSION,
    alpha_bbox,
    as_rgba,
    has_real_transparency,
    mask_distance,
    mask_signature,
    opaque_view,
    transparent_fraction,
)
from memetrack.errors import BadHash, BadInput, EmptyImage

PDQ_MATCH = 31


def textured_rgb(seed: int, height: int, width: int) -> np.ndarray:
    """Smooth random colour blobs plus a few hard-edged shapes: something PDQ can see."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    rgb = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(6):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        cv2.circle(rgb, centre, int(rng.integers(8, max(9, width // 4))), colour, -1)
    return rgb


def cutout(seed: int, shape: str = "ellipse", height: int = 240, width: int = 200) -> np.ndarray:
    """An RGBA cut-out: textured pixels inside a shape, random junk under the transparent rest."""
    rng = np.random.default_rng(seed + 1000)
    rgb = textured_rgb(seed, height, width)
    alpha = np.zeros((height, width), dtype=np.uint8)
    if shape == "ellipse":
        cv2.ellipse(
            alpha,
            (width // 2, height // 2),
            (width // 2 - 12, height // 2 - 8),
            0,
            0,
            360,
            255,
            -1,
            lineType=cv2.LINE_AA,
        )
    else:  # a blocky "person": head and shoulders
        cv2.circle(alpha, (width // 2, height // 3), width // 5, 255, -1, lineType=cv2.LINE_AA)
        cv2.rectangle(alpha, (width // 8, height // 2), (width - width // 8, height - 5), 255, -1)
    junk = rng.integers(0, 256, size=rgb.shape, dtype=np.uint8)
    rgb = np.where(alpha[:, :, None] == 0, junk, rgb)
    return np.dstack([rgb, alpha])


def pdq(rgb: np.ndarray) -> np.ndarray:
    vector, _quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return vector


def pdq_distance(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(pdq(a) != pdq(b)))


def resave(rgba: np.ndarray, factor: float) -> np.ndarray:
    """Resize (Pillow resizes RGBA premultiplied) and round-trip through PNG."""
    image = Image.fromarray(rgba, "RGBA")
    size = (round(image.width * factor), round(image.height * factor))
    buffer = io.BytesIO()
    image.resize(size, Image.Resampling.LANCZOS).save(buffer, format="PNG")
    buffer.seek(0)
    with Image.open(buffer) as reloaded:
        return np.asarray(reloaded.convert("RGBA"))


# ----------------------------------------------------------------------------- the invariances


def test_hidden_colour_under_transparency_is_ignored() -> None:
    a = cutout(1)
    hidden = a[:, :, 3] == 0
    b = a.copy()
    a[hidden, :3] = 0  # the same cut-out saved by two tools: black or white under alpha 0
    b[hidden, :3] = 255
    assert not np.array_equal(a, b)
    # Hashing the raw RGB would see the hidden colours ...
    assert pdq_distance(a[:, :, :3], b[:, :, :3]) > PDQ_MATCH
    # ... the opaque view does not.
    assert np.array_equal(opaque_view(a), opaque_view(b))
    assert pdq_distance(opaque_view(a), opaque_view(b)) == 0
    assert mask_signature(a[:, :, 3]) == mask_signature(b[:, :, 3])


def test_faint_alpha_below_threshold_counts_as_transparent() -> None:
    a = cutout(2)
    b = a.copy()
    b[:3, :3, 3] = 10  # a few barely-there pixels in the corner
    b[:3, :3, :3] = 255
    assert np.array_equal(opaque_view(a), opaque_view(b))
    assert mask_signature(a[:, :, 3]) == mask_signature(b[:, :, 3])


def test_transparent_margin_does_not_change_identity() -> None:
    a = cutout(3)
    padded = np.pad(a, ((31, 7), (0, 45), (0, 0)))
    padded[:31, :, :3] = 200  # a coloured but invisible margin
    assert np.array_equal(opaque_view(a), opaque_view(padded))
    assert pdq_distance(opaque_view(a), opaque_view(padded)) == 0
    assert mask_signature(a[:, :, 3]) == mask_signature(padded[:, :, 3])


@pytest.mark.parametrize("factor", [0.5, 0.75, 1.6])
def test_resized_resaved_copy_stays_close(factor: float) -> None:
    a = cutout(4)
    b = resave(a, factor)
    assert pdq_distance(opaque_view(a), opaque_view(b)) <= PDQ_MATCH
    assert mask_distance(mask_signature(a[:, :, 3]), mask_signature(b[:, :, 3])) <= 8


def test_different_cutout_is_far() -> None:
    a, b = cutout(5, "ellipse"), cutout(6, "person")
    assert pdq_distance(opaque_view(a), opaque_view(b)) > 2 * PDQ_MATCH
    assert mask_distance(mask_signature(a[:, :, 3]), mask_signature(b[:, :, 3])) > 2 * MASK_MATCH_THRESHOLD


def test_same_shape_different_picture_is_far_by_pdq_only() -> None:
    a, b = cutout(7, "ellipse"), cutout(8, "ellipse")
    assert pdq_distance(opaque_view(a), opaque_view(b)) > 2 * PDQ_MATCH
    assert mask_distance(mask_signature(a[:, :, 3]), mask_signature(b[:, :, 3])) <= MASK_MATCH_THRESHOLD


# ------------------------------------------------------------------------------ the functions


def test_opaque_view_composites_over_grey_and_crops() -> None:
    rgba = np.zeros((10, 12, 4), dtype=np.uint8)
    rgba[2:5, 3:9] = (255, 0, 0, 255)
    rgba[4, 8] = (255, 0, 0, 128)
    view = opaque_view(rgba)
    assert view.shape == (3, 6, 3) and view.dtype == np.uint8
    assert tuple(view[0, 0]) == (255, 0, 0)
    assert tuple(view[2, 5]) == (192, 64, 64)  # half red over grey 128
    assert tuple(opaque_view(rgba, grey=0)[2, 5]) == (128, 0, 0)


def test_opaque_view_of_opaque_rgb_is_the_picture() -> None:
    rgb = textured_rgb(9, 20, 30)
    assert np.array_equal(opaque_view(rgb), rgb)


def test_fully_transparent_raises_empty_image() -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 3] = 15
    with pytest.raises(EmptyImage):
        opaque_view(rgba)
    with pytest.raises(EmptyImage):
        mask_signature(rgba[:, :, 3])


def test_alpha_bbox_is_exclusive_on_the_right() -> None:
    alpha = np.zeros((6, 7), dtype=np.uint8)
    alpha[1, 2] = alpha[3, 5] = 255
    assert alpha_bbox(alpha) == (2, 1, 6, 4)


def test_has_real_transparency() -> None:
    assert has_real_transparency(cutout(10))
    opaque = cutout(10)
    opaque[..., 3] = 255
    assert not has_real_transparency(opaque)
    assert not has_real_transparency(opaque[:, :, :3])
    opaque[0, :5, 3] = 0  # a handful of clear pixels is incidental
    assert not has_real_transparency(opaque)
    clear = np.zeros((100, 100, 4), dtype=np.uint8)
    clear[0, 0, 3] = 255
    assert not has_real_transparency(clear)
    assert has_real_transparency(clear, max_frac=1.0)
    assert transparent_fraction(clear) == pytest.approx(0.9999)


def test_as_rgba_rejects_bad_arrays() -> None:
    with pytest.raises(BadInput):
        as_rgba(np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(BadInput):
        as_rgba(np.zeros((4, 4, 4), dtype=np.float32))  # type: ignore[arg-type]
    assert as_rgba(np.zeros((4, 5), dtype=np.uint8)).shape == (4, 5, 4)


def test_mask_signature_layout_golden() -> None:
    alpha = np.zeros((50, 120), dtype=np.uint8)
    alpha[5:25, 10:50] = 255  # a filled 40x20 rectangle: every grid bit set, aspect 2:1
    signature = mask_signature(alpha)
    assert len(signature) == MASK_SIGNATURE_BYTES == 34
    assert signature[0] == MASK_SIGNATURE_VERSION
    assert signature[1:33] == b"\xff" * 32
    assert signature[33] == 128 + 16
    assert mask_distance(signature, signature) == 0


def test_mask_signature_sees_the_aspect_ratio() -> None:
    wide, tall = np.zeros((40, 80), dtype=np.uint8), np.zeros((80, 40), dtype=np.uint8)
    wide[:], tall[:] = 255, 255
    assert mask_distance(mask_signature(wide), mask_signature(tall)) == 32


def test_mask_distance_rejects_foreign_signatures() -> None:
    good = mask_signature(np.full((4, 4), 255, dtype=np.uint8))
    with pytest.raises(BadHash):
        mask_distance(good, good[:-1])
    with pytest.raises(BadHash):
        mask_distance(good, bytes([99]) + good[1:])
