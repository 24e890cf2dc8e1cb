"""Local features: text mask, storage round trip, geometric verification."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from memetrack.features import (
    ALGORITHM,
    VERSION,
    LocalFeatures,
    extract,
    extract_working,
    match_pairs,
    text_mask,
    verify,
    working_image,
)
from tests.matcher_scenes import caption, crop, scene


def test_text_mask_covers_outlined_caption_letters() -> None:
    pic = scene(11, 480, 360)
    meme = caption(pic)
    mask = text_mask(meme)
    # The caption bands are masked, the middle of the picture is not.
    assert mask[int(0.06 * 360) : int(0.16 * 360)].mean() > 0.25
    assert mask[int(0.3 * 360) : int(0.7 * 360)].mean() < 0.02
    assert text_mask(pic).mean() < 0.02


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_text_mask_of_the_mirror_is_the_mirrored_mask(seed: int) -> None:
    # The matcher masks a query's mirror with the mirrored mask instead of computing it again.
    meme = working_image(caption(scene(seed, 470, 350), top="MIRROR ME", bottom="LEFT RIGHT"))
    mask = text_mask(meme)
    assert mask.any()
    assert np.array_equal(text_mask(np.ascontiguousarray(meme[:, ::-1])), mask[:, ::-1])
    mirrored = extract_working(meme, mirrored=True)
    reused = extract_working(meme, mirrored=True, text=mask)
    assert np.array_equal(mirrored.descriptors, reused.descriptors)
    assert np.array_equal(mirrored.points, reused.points)


def line_art_eyes(img: np.ndarray) -> np.ndarray:
    """Two black-ringed white ovals with pupils, far apart, and one lone ringed white blob: a
    drawing's eyes and a highlight, letter-sized but not in a line."""
    out = img.copy()
    for cx, cy in ((150, 180), (330, 180)):
        cv2.ellipse(out, (cx, cy), (16, 22), 0, 0, 360, (255, 255, 255), -1)
        cv2.ellipse(out, (cx, cy), (16, 22), 0, 0, 360, (0, 0, 0), 3)
        cv2.circle(out, (cx + 4, cy + 6), 6, (0, 0, 0), -1)
    cv2.circle(out, (240, 290), 12, (255, 255, 255), -1)
    cv2.circle(out, (240, 290), 12, (0, 0, 0), 3)
    return out


def test_text_mask_in_lines_keeps_captions_and_drops_line_art() -> None:
    meme = line_art_eyes(caption(scene(11, 480, 360)))
    every = text_mask(meme)
    lines = text_mask(meme, min_line=2)
    # the eyes and the highlight pass as letters one by one ...
    assert every[180, 150] and every[180, 330] and every[290, 240]
    # ... but not in lines, where the caption still does
    assert not lines[180, 150] and not lines[180, 330] and not lines[290, 240]
    top = slice(int(0.06 * 360), int(0.16 * 360))
    assert lines[top].mean() > 0.25 and lines[top].mean() >= 0.9 * every[top].mean()


def test_text_mask_leaves_large_white_areas_alone() -> None:
    img = np.full((300, 400, 3), 255, np.uint8)
    cv2.rectangle(img, (50, 50), (350, 250), (0, 0, 0), 3)  # outlined white box: not a letter
    assert not text_mask(img).any()


def test_extract_has_versioned_fixed_size_output() -> None:
    feats = extract(scene(12), n_features=300)
    assert feats.algorithm == ALGORITHM and feats.version == VERSION
    assert 50 < len(feats) <= 300
    assert feats.points.dtype == np.float32 and feats.points.shape == (len(feats), 2)
    assert feats.descriptors.dtype == np.uint8 and feats.descriptors.shape == (len(feats), 32)
    assert max(feats.width, feats.height) == 480
    assert (feats.points >= 0).all()
    assert (feats.points[:, 0] < feats.width).all() and (feats.points[:, 1] < feats.height).all()


def test_working_image_limits_upscaling() -> None:
    small = scene(13, 120, 90)
    assert working_image(small, 480, max_upscale=2.0).shape[:2] == (180, 240)
    assert working_image(scene(13, 960, 720), 480).shape[:2] == (360, 480)


def test_text_masking_drops_keypoints_on_captions() -> None:
    meme = caption(scene(14))
    masked = extract(meme, mask_text=True)
    work = working_image(meme)
    mask = text_mask(work)
    on_text = mask[masked.points[:, 1].astype(int), masked.points[:, 0].astype(int)]
    assert not on_text.any()


def test_bytes_round_trip() -> None:
    feats = extract(scene(15), n_features=200, mirrored=True)
    data = feats.to_bytes()
    back = LocalFeatures.from_bytes(data)
    assert (back.algorithm, back.version, back.width, back.height, back.mirrored) == (
        feats.algorithm, feats.version, feats.width, feats.height, True)
    assert np.array_equal(back.points, feats.points)
    assert np.array_equal(back.descriptors, feats.descriptors)
    with pytest.raises(ValueError):
        LocalFeatures.from_bytes(data[:-1])
    with pytest.raises(ValueError):
        LocalFeatures.from_bytes(b"XXXX" + data[4:])


def test_empty_features_round_trip() -> None:
    empty = extract(np.full((100, 100, 3), 128, np.uint8))
    assert len(empty) == 0
    assert len(LocalFeatures.from_bytes(empty.to_bytes())) == 0


def test_verify_recovers_a_crop_and_its_outline() -> None:
    pic = scene(16, 480, 360)
    ref = extract(pic, mask_text=False)
    cropped = crop(caption(pic), 0.1)
    query = extract(cropped)
    v = verify(query, ref, match_pairs(query, ref))
    assert v is not None
    assert v.inliers >= 40 and v.inlier_ratio > 0.3 and v.coverage > 0.3
    assert not v.mirrored and abs(v.angle) < 1.5
    # The reference outline lands 10 % outside the crop on every side (query working pixels).
    k = query.width / cropped.shape[1]
    expected = np.array([[-48, -36], [432, -36], [432, 324], [-48, 324]], np.float32) * k
    assert np.abs(v.quad - expected).max() < 8 * k + 4


def test_verify_handles_mirrored_queries() -> None:
    pic = scene(17, 480, 360)
    ref = extract(pic, mask_text=False)
    flipped = np.ascontiguousarray(caption(pic)[:, ::-1])
    plain = extract(flipped)
    assert verify(plain, ref, match_pairs(plain, ref), min_inliers=12) is None
    mirrored = extract(flipped, mirrored=True)
    v = verify(mirrored, ref, match_pairs(mirrored, ref))
    assert v is not None and v.mirrored and v.inliers >= 40
    # In unflipped query pixels the reference's top-left corner is at the top right.
    assert v.quad[0, 0] > v.quad[1, 0]


def test_verify_rejects_unrelated_images() -> None:
    a = extract(scene(18), mask_text=False)
    b = extract(scene(19))
    v = verify(b, a, match_pairs(b, a), min_inliers=4)
    assert v is None or v.inliers < 10
