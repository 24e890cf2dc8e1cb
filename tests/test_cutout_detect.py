"""Cut-out detection: representation, a mirrored paste, captions and JPEG, nothing found."""

from __future__ import annotations

import io
import random

import cv2
import numpy as np
import pytest
from PIL import Image

from memetrack.config import CutoutSettings
from memetrack.cutout_detect import (
    ALGORITHM,
    VERSION,
    CutoutDetector,
    CutoutRepresentation,
    _colour_ball,
    _colour_keys,
    _pose_candidates,
    _PoseTable,
    polygon_iou,
)
from memetrack.evaluation.variants import Composite, composite_cutout
from memetrack.features import Verification, frame_quad, verify
from memetrack.index.cutout_index import CutoutIndex
from tests.imagegen import scene


def cutout_rgba(seed: int, width: int = 300, height: int = 360, hidden: int = 0) -> np.ndarray:
    """A textured picture under an irregular blob mask; ``hidden`` fills transparent pixels."""
    rgb = scene(seed, width, height)
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (width // 2, height // 2), (width // 2 - 10, height // 2 - 20), 0, 0, 360,
                255, -1)
    cv2.circle(mask, (width // 3, height // 5), width // 5, 255, -1)
    rgb[mask == 0] = hidden
    return np.dstack([rgb, mask])


def background(seed: int, width: int = 720, height: int = 540) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (width, height),
                      interpolation=cv2.INTER_CUBIC)
    for _ in range(30):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.rectangle(base, (x, y), (x + int(rng.integers(10, 60)), y + int(rng.integers(10, 60))),
                      c, -1)
    return Image.fromarray(base)


def paste(seed: int, cut: np.ndarray, **kwargs: object):  # type: ignore[no-untyped-def]
    options = {"size_frac": 0.45, "mirror": False, "caption": False, "jpeg_quality": None}
    options.update(kwargs)
    return composite_cutout(background(seed), Image.fromarray(cut, "RGBA"), random.Random(seed),
                            **options)  # type: ignore[arg-type]


def random_descriptors(seed: int, *counts: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (n, 32), dtype=np.uint8) for n in counts]


@pytest.fixture(scope="module")
def detector() -> CutoutDetector:
    det = CutoutDetector(CutoutSettings())
    for i in range(4):
        det.add(i + 1, det.represent(cutout_rgba(100 + i)))
    return det


def test_representation_round_trip_is_versioned() -> None:
    rep = CutoutDetector().represent(cutout_rgba(1))
    back = CutoutRepresentation.unpack(rep.pack())
    assert (back.algorithm, back.version) == (ALGORITHM, VERSION)
    assert (back.width, back.height) == (rep.width, rep.height)
    assert np.array_equal(back.features.descriptors, rep.features.descriptors)
    assert np.array_equal(back.mirrored_features.points, rep.mirrored_features.points)
    assert np.array_equal(back.thumb, rep.thumb) and np.array_equal(back.thumb_mask, rep.thumb_mask)
    assert len(rep.features) > 50 and len(rep.mirrored_features) > 50


def test_hidden_pixels_do_not_change_the_representation() -> None:
    det = CutoutDetector()
    a = det.represent(cutout_rgba(2, hidden=0))
    b = det.represent(cutout_rgba(2, hidden=255))
    assert np.array_equal(a.features.descriptors, b.features.descriptors)
    assert np.array_equal(a.thumb, b.thumb)


def test_keypoints_lie_inside_the_mask() -> None:
    cut = cutout_rgba(3)
    rep = CutoutDetector().represent(cut)
    n_grey = len(CutoutDetector(CutoutSettings(reference_backgrounds=())).represent(cut).features)
    mask = cut[:, :, 3] > 0  # the bounding box is the whole image here, less a margin
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    k = crop.shape[1] / rep.width
    pts = np.clip((rep.features.points * k).astype(int), 0, np.array(crop.shape[::-1]) - 1)
    # the grey view's keypoints inside the eroded mask; the outline views' on the mask, give or
    # take the pixel that resizing the mask to each reference side moves its edge
    assert crop[pts[:n_grey, 1], pts[:n_grey, 0]].all()
    near = cv2.dilate(crop.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert near[pts[:, 1], pts[:, 0]].all()


def test_plain_paste_is_found_where_it_is(detector: CutoutDetector) -> None:
    comp = paste(1, cutout_rgba(101), size_frac=0.4)
    found = detector.detect(np.asarray(comp.image))
    assert [d.cutout_id for d in found] == [2]
    d = found[0]
    assert not d.mirrored and d.inliers >= 8 and 0 < d.score <= 1
    assert polygon_iou(d.quad, comp.quad) > 0.85
    assert abs(d.scale - comp.scale) < 0.05
    assert np.allclose(d.quad[0], comp.quad[0], atol=8)  # the cut-out's own top-left corner


def test_mirrored_paste_is_found_with_a_correct_quad(detector: CutoutDetector) -> None:
    comp = paste(2, cutout_rgba(102), size_frac=0.5, mirror=True)
    found = detector.detect(np.asarray(comp.image))
    assert [d.cutout_id for d in found] == [3]
    d = found[0]
    assert d.mirrored
    assert polygon_iou(d.quad, comp.quad) > 0.85
    # the cut-out's top-left corner landed on the right of the pasted box
    assert np.allclose(d.quad[0], comp.quad[0], atol=8)
    assert d.quad[0][0] > d.quad[1][0]


def test_paste_under_a_caption_and_jpeg_is_found(detector: CutoutDetector) -> None:
    comp = paste(3, cutout_rgba(103), size_frac=0.3, caption=True, jpeg_quality=60)
    found = detector.detect(np.asarray(comp.image))
    assert 4 in [d.cutout_id for d in found]
    best = next(d for d in found if d.cutout_id == 4)
    assert polygon_iou(best.quad, comp.quad) > 0.8


def test_small_paste_is_found(detector: CutoutDetector) -> None:
    comp = paste(4, cutout_rgba(100), size_frac=0.22, jpeg_quality=80)
    found = detector.detect(np.asarray(comp.image))
    assert [d.cutout_id for d in found] == [1]


def test_image_without_a_cutout_returns_none(detector: CutoutDetector) -> None:
    assert detector.detect(np.asarray(background(5))) == []
    unregistered = paste(6, cutout_rgba(555), size_frac=0.5)
    assert detector.detect(np.asarray(unregistered.image)) == []
    assert CutoutDetector().detect(np.asarray(background(5))) == []


def test_removed_cutout_is_no_longer_found() -> None:
    det = CutoutDetector()
    det.add(7, det.represent(cutout_rgba(107)))
    comp = paste(7, cutout_rgba(107))
    assert [d.cutout_id for d in det.detect(np.asarray(comp.image))] == [7]
    det.remove(7)
    assert det.detect(np.asarray(comp.image)) == [] and len(det) == 0


def test_quads_are_in_the_given_image_pixels(detector: CutoutDetector) -> None:
    comp = paste(8, cutout_rgba(101), size_frac=0.4)
    big = comp.image.resize((comp.image.width * 2, comp.image.height * 2))
    found = detector.detect(np.asarray(big))
    assert found and polygon_iou(found[0].quad, comp.quad * 2) > 0.85


def test_polygon_iou() -> None:
    a = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float32)
    assert polygon_iou(a, a) == pytest.approx(1.0)
    assert polygon_iou(a, a + [5, 0]) == pytest.approx(1 / 3)
    assert polygon_iou(a, a[[1, 0, 3, 2]]) == pytest.approx(1.0)  # orientation does not matter
    assert polygon_iou(a, a + [20, 0]) == 0.0


def test_index_votes_go_to_the_distinctive_group() -> None:
    a, b = random_descriptors(0, 50, 50)
    index = CutoutIndex(ivf_min_rows=10_000)
    index.add(10, 5, a)
    index.add(11, 5, a[:, ::-1])  # another orientation of group 5
    index.add(20, 6, b)
    votes = index.match(a[:20], k=4, max_distance=40, ratio=0.8).candidates()
    assert votes[0].ref_id == 10 and votes[0].votes == 20
    assert sorted(votes[0].pairs[:, 1].tolist()) == list(range(20))
    assert all(v.group == 5 for v in votes)
    index.remove(10)
    assert [v.ref_id for v in index.match(a[:20], k=4, max_distance=40).candidates()] == []


def test_near_identical_groups_share_votes_only_with_ties() -> None:
    # Two frames of one animation (groups 5 and 6 hold the same descriptors), one other cut-out.
    a, c = random_descriptors(2, 50, 50)
    index = CutoutIndex(ivf_min_rows=10_000)
    index.add(10, 5, a)
    index.add(12, 6, a)
    index.add(14, 7, c)
    # they cancel out
    assert index.match(a[:20], k=4, max_distance=40, ratio=0.8).candidates() == []
    tied = index.match(a[:20], k=4, max_distance=40, ratio=0.8, ties=True).candidates()
    assert sorted((v.ref_id, v.votes) for v in tied) == [(10, 20), (12, 20)]
    # a descriptor as near to three groups is generic: no votes, ties or not
    index.add(16, 8, a)
    assert index.match(a[:20], k=4, max_distance=40, ratio=0.8, ties=True).candidates() == []
    # a distinctive descriptor still votes for its group alone
    alone = index.match(c[:10], k=4, max_distance=40, ratio=0.8, ties=True).candidates()
    assert [(v.ref_id, v.votes) for v in alone] == [(14, 10)]


def test_ivf_index_agrees_with_exact_search() -> None:
    rng = np.random.default_rng(1)
    refs = [rng.integers(0, 256, (400, 32), dtype=np.uint8) for _ in range(60)]
    exact, ivf = CutoutIndex(ivf_min_rows=10**9), CutoutIndex(ivf_min_rows=1000, nprobe=64)
    for i, desc in enumerate(refs):
        exact.add(i, i, desc)
        ivf.add(i, i, desc)
    noisy = refs[7][:60].copy()
    noisy[:, :2] ^= 0x11  # a few flipped bits
    assert exact.match(noisy).candidates()[0].ref_id == 7
    assert ivf.match(noisy).candidates()[0].ref_id == 7


def test_encoded_png_round_trip_keeps_the_mask() -> None:
    buf = io.BytesIO()
    Image.fromarray(cutout_rgba(9), "RGBA").save(buf, "PNG")
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        assert np.asarray(im)[:, :, 3].min() == 0


def cartoon_rgba(seed: int, size: int = 320) -> np.ndarray:
    """A flat-coloured drawing with dark outlines under an irregular mask: little texture
    inside, its corners on the outline (like a drawn fist or a sticker)."""
    rng = np.random.default_rng(seed)
    rgb = np.zeros((size, size, 3), np.uint8)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(5):
        centre = (int(rng.integers(size // 4, 3 * size // 4)),
                  int(rng.integers(size // 4, 3 * size // 4)))
        axes = (int(rng.integers(size // 8, size // 4)), int(rng.integers(size // 10, size // 5)))
        angle = float(rng.uniform(0, 180))
        colour = tuple(int(c) for c in rng.integers(60, 256, 3))
        cv2.ellipse(rgb, centre, axes, angle, 0, 360, colour, -1)
        cv2.ellipse(rgb, centre, axes, angle, 0, 360, (30, 20, 20), 4)
        cv2.ellipse(mask, centre, axes, angle, 0, 360, 255, -1)
        cv2.ellipse(mask, centre, axes, angle, 0, 360, 255, 4)
    return np.dstack([rgb, mask])


def test_representation_keeps_keypoint_geometry() -> None:
    rep = CutoutDetector().represent(cutout_rgba(1))
    back = CutoutRepresentation.unpack(rep.pack())
    assert rep.geometry.shape == (len(rep.features), 2)
    assert rep.mirrored_geometry.shape == (len(rep.mirrored_features), 2)
    assert np.array_equal(back.geometry, rep.geometry)
    assert np.array_equal(back.mirrored_geometry, rep.mirrored_geometry)
    assert (rep.geometry[:, 1] > 0).all() and (np.abs(rep.geometry[:, 0]) <= 360).all()


def test_outline_views_add_keypoints_only_near_the_outline() -> None:
    cut = cartoon_rgba(11)
    grey_only = CutoutDetector(CutoutSettings(reference_backgrounds=())).represent(cut)
    rep = CutoutDetector().represent(cut)
    assert len(rep.features) > len(grey_only.features)
    # the grey view comes first and is unchanged; the added keypoints lie inside the mask
    n = len(grey_only.features)
    assert np.array_equal(rep.features.descriptors[:n], grey_only.features.descriptors)
    mask = cut[:, :, 3] > 0
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    k = crop.shape[1] / rep.width
    pts = np.clip((rep.features.points[n:] * k).astype(int), 0, np.array(crop.shape[::-1]) - 1)
    near = cv2.dilate(crop.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert near[pts[:, 1], pts[:, 0]].all()
    # ... and near its outline (none deep inside the drawing)
    inside = cv2.distanceTransform(crop.astype(np.uint8), cv2.DIST_L2, 3)
    assert np.median(inside[pts[:, 1], pts[:, 0]]) < np.median(inside[crop])


@pytest.mark.parametrize("seed", [21, 22])
def test_flat_drawing_is_found_among_other_drawings(seed: int) -> None:
    cut = cartoon_rgba(seed)
    det = CutoutDetector()
    det.add(1, det.represent(cut))
    for i in range(4):
        det.add(10 + i, det.represent(cartoon_rgba(seed * 10 + i)))
    for k in range(4):
        comp = paste(seed + k, cut, size_frac=0.45, jpeg_quality=80, mirror=k % 2 == 1)
        found = det.detect(np.asarray(comp.image))
        assert [d.cutout_id for d in found] == [1]
        assert found[0].mirrored == (k % 2 == 1)
        assert polygon_iou(found[0].quad, comp.quad) > 0.85


def test_pose_votes_pick_the_pairs_that_agree() -> None:
    # Two other registered cut-outs are the same picture turned by 90 and 180 degrees: their
    # descriptors pair with the paste's as well, but in a pose no meme paste has.
    cut = cutout_rgba(31)
    comp = paste(31, cut, size_frac=0.45, jpeg_quality=70)
    det = CutoutDetector()
    det.add(1, det.represent(cut))
    for i, k in enumerate((1, 2)):
        det.add(2 + i, det.represent(np.ascontiguousarray(np.rot90(cut, k))))
    s = det.settings
    query = det.query_features(np.asarray(comp.image))
    matches = det._index.match(query.feats.descriptors, k=s.search_neighbours,
                               max_distance=s.search_max_distance, ratio=s.ratio_test,
                               ties=s.vote_ties)
    poses = _pose_candidates(query, matches, _PoseTable.of(det._reps), s)
    assert poses and poses[0][0] == 2  # cut-out 1, as it is (not mirrored)
    ref_id, pairs = poses[0]
    assert {r // 2 for r, _ in poses[1:]} <= {1, 2, 3}
    v = verify(query.feats, det._reps[1].features, pairs, min_inliers=6)
    assert v is not None and v.inlier_ratio > 0.8 and len(pairs) >= 20
    # the turned copies get no pose as strong, and are not reported
    assert all(len(p) < len(pairs) / 2 for r, p in poses if r // 2 != 1)
    assert [d.cutout_id for d in det.detect(np.asarray(comp.image))] == [1]


def test_match_pairs_agree_with_the_voted_candidates() -> None:
    a, b = random_descriptors(3, 40, 40)
    index = CutoutIndex(ivf_min_rows=10_000)
    index.add(10, 5, a)
    index.add(20, 6, b)
    matches = index.match(a[:15], k=2, max_distance=40)
    assert set(matches.ref.tolist()) == {10}  # b is too far to pair
    assert matches.votes.all() and sorted(matches.keypoint.tolist()) == list(range(15))
    [vote] = matches.candidates()
    assert (vote.ref_id, vote.votes) == (10, 15)


def busy_beside_soft(seed: int = 3) -> np.ndarray:
    """Grey 600 x 800: big black strokes over the left three quarters, a soft texture right."""
    rng = np.random.default_rng(seed)
    grey = np.full((600, 800), 200, np.uint8)
    for _ in range(100):
        x, y = int(rng.integers(0, 580)), int(rng.integers(0, 580))
        cv2.rectangle(grey, (x, y), (x + int(rng.integers(4, 20)), y + int(rng.integers(4, 20))),
                      0, -1)
    soft = cv2.cvtColor(scene(seed, 200, 600), cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey[:, 600:] = np.clip(150 + 0.35 * (soft - soft.mean()), 0, 255).astype(np.uint8)
    return grey


def test_query_keypoints_are_topped_up_where_a_busy_background_took_them() -> None:
    from memetrack.cutout_detect import _query_keypoints

    grey = busy_beside_soft()
    strongest = CutoutSettings(query_features=600, query_extra=0)
    topped = CutoutSettings(query_features=600, query_extra=300, query_grid=6)
    base_pts, _, _ = _query_keypoints(grey, None, strongest)
    pts, desc, geometry = _query_keypoints(grey, None, topped)
    assert len(pts) == len(desc) == len(geometry)
    assert len(base_pts) <= 600 < len(pts) <= 900
    # every keypoint of the strongest selection is kept, with the extras after it
    np.testing.assert_array_equal(pts[: len(base_pts)], base_pts)
    soft_before = int((base_pts[:, 0] > 600).sum())
    soft_after = int((pts[:, 0] > 600).sum())
    assert soft_before < 60
    assert soft_after - soft_before >= 100  # the sparse cells get the extras first


def test_colour_check_refuses_a_recoloured_paste_but_not_a_greyscale_copy() -> None:
    # every fit is colour-checked here (no inlier count skips it)
    settings = CutoutSettings(strong_inliers=10_000, colour_min_inliers=10_000)
    cut = cutout_rgba(104)
    swapped = np.ascontiguousarray(cut[:, :, [2, 1, 0, 3]])  # red <-> blue, same texture
    with_colour = CutoutDetector(settings)
    without = CutoutDetector(settings.model_copy(update={"colour_check": False}))
    for det in (with_colour, without):
        det.add(1, det.represent(cut))
    own = np.asarray(paste(4, cut, size_frac=0.45).image)
    recoloured = np.asarray(paste(4, swapped, size_frac=0.45).image)
    grey = np.repeat(cv2.cvtColor(recoloured, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    assert [d.cutout_id for d in with_colour.detect(own)] == [1]
    assert [d.cutout_id for d in without.detect(recoloured)] == [1]
    assert with_colour.detect(recoloured) == []
    # a greyscale copy has no colour to compare: found on its grey levels alone
    assert [d.cutout_id for d in with_colour.detect(grey)] == [1]


def test_representation_keeps_the_cutout_colours() -> None:
    cut = cutout_rgba(5)
    rep = CutoutDetector().represent(cut)
    back = CutoutRepresentation.unpack(rep.pack())
    assert back.chroma.shape == (*rep.thumb.shape, 2)
    assert np.array_equal(back.chroma, rep.chroma)
    swapped = CutoutDetector().represent(np.ascontiguousarray(cut[:, :, [2, 1, 0, 3]]))
    mask = rep.thumb_mask
    # a* and b* move when red and blue swap; the hidden pixels never reach them
    assert np.abs(swapped.chroma[mask].astype(int) - rep.chroma[mask].astype(int)).mean() > 5
    hidden = CutoutDetector().represent(cutout_rgba(5, hidden=255))
    assert np.array_equal(hidden.chroma, rep.chroma)


def drop_rgba(colour: tuple[int, int, int] = (40, 110, 230), height: int = 240) -> np.ndarray:
    """A smooth, shaded colour drop leaning right: no corner for ORB but its tip."""
    w, h = int(height * 0.75), height
    mask = np.zeros((h, w), np.uint8)
    r = w // 2 - 6
    cy = h - r - 6
    cv2.circle(mask, (w // 2, cy), r, 255, -1, cv2.LINE_AA)
    tip = np.array([[w // 2 + r // 2, 6], [w // 2 - r + 4, cy - r // 4],
                    [w // 2 + r - 4, cy - r // 4]], np.int32)
    cv2.fillPoly(mask, [tip], 255, cv2.LINE_AA)
    shade = np.linspace(1.15, 0.7, h)[:, None, None]
    rgb = np.array(colour, np.float32)[None, None] * shade * np.ones((h, w, 1), np.float32)
    return np.dstack([np.clip(rgb, 0, 255).astype(np.uint8), mask])


def warm_background(seed: int, width: int = 720, height: int = 540) -> Image.Image:
    """A warm gradient with grey boxes: nothing of the drop's blue."""
    rng = np.random.default_rng(seed)
    base = np.empty((height, width, 3), np.uint8)
    base[:] = np.linspace(200, 240, width)[None, :, None].astype(np.uint8)
    base[:, :, 2] = (base[:, :, 2] * 0.8).astype(np.uint8)
    for _ in range(12):
        g = int(rng.integers(60, 200))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.rectangle(base, (x, y), (x + int(rng.integers(20, 80)), y + int(rng.integers(20, 80))),
                      (g, g, int(g * 0.9)), -1)
    return Image.fromarray(base)


def paste_on_warm(seed: int, cut: np.ndarray, mirror: bool = False, size_frac: float = 0.4,
                  jpeg_quality: int | None = 80) -> Composite:
    return composite_cutout(warm_background(seed), Image.fromarray(cut, "RGBA"),
                            random.Random(seed), size_frac=size_frac, mirror=mirror,
                            caption=False, jpeg_quality=jpeg_quality)


@pytest.mark.parametrize("mirror", [False, True])
def test_flat_colour_drawing_is_found_by_its_colour_and_silhouette(mirror: bool) -> None:
    drop = drop_rgba()
    on, off = CutoutDetector(), CutoutDetector(CutoutSettings(flat_stage=False))
    for det in (on, off):
        det.add(1, det.represent(drop))
    for seed in (1, 2):
        comp = paste_on_warm(seed, drop, mirror)
        image = np.asarray(comp.image)
        assert off.detect(image) == []  # ORB finds no corners to hold
        found = on.detect(image)
        assert [d.cutout_id for d in found] == [1]
        assert found[0].mirrored == mirror
        assert found[0].inliers == 0 and found[0].appearance >= 0.6
        assert polygon_iou(found[0].quad, comp.quad) > 0.9


def test_flat_stage_needs_the_shape_the_picture_and_the_colour() -> None:
    drop = drop_rgba()
    det = CutoutDetector()
    det.add(1, det.represent(drop))
    # a blue box of the drop's proportions: the colour, not the shape
    box = drop_rgba()
    box[:, :, 3] = 255
    assert det.detect(np.asarray(paste_on_warm(3, box).image)) == []
    # the drop in red: the shape, not the colour
    red = np.ascontiguousarray(drop[:, :, [2, 1, 0, 3]])
    assert det.detect(np.asarray(paste_on_warm(3, red).image)) == []
    # a greyscale copy has no colour to place the drop by
    image = np.asarray(paste_on_warm(3, drop).image)
    grey = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    assert [d.cutout_id for d in det.detect(image)] == [1]
    assert det.detect(grey) == []


def test_flat_stage_has_a_budget_of_flat_cutouts() -> None:
    drop = drop_rgba()
    image = np.asarray(paste_on_warm(4, drop).image)
    det = CutoutDetector(CutoutSettings(flat_max_shapes=1))
    det.add(1, det.represent(drop))
    assert [d.cutout_id for d in det.detect(image)] == [1]
    det.add(2, det.represent(drop_rgba((230, 60, 40))))  # a second flat cut-out: over budget
    assert det.detect(image) == []


def test_only_cutouts_with_a_dominant_colour_have_a_flat_shape() -> None:
    det = CutoutDetector()
    det.add(1, det.represent(drop_rgba()))
    det.add(2, det.represent(drop_rgba((128, 128, 128))))  # grey: no colour to look for
    det.add(3, det.represent(cutout_rgba(5)))  # a textured picture of many colours
    assert set(det._flats) == {1}
    det.remove(1)
    assert det._flats == {}


def test_flat_drawing_is_found_in_a_query_with_too_few_corners_to_match() -> None:
    plain = np.empty((300, 400, 3), np.uint8)
    plain[:] = (225, 215, 180)
    drop = drop_rgba()
    comp = composite_cutout(Image.fromarray(plain), Image.fromarray(drop, "RGBA"),
                            random.Random(0), size_frac=0.5, mirror=False, caption=False,
                            jpeg_quality=None)
    det = CutoutDetector(CutoutSettings(min_inliers=50))  # more than the query has keypoints
    det.add(7, det.represent(drop))
    image = np.asarray(comp.image)
    assert len(det.query_features(image).feats) < 50
    found = det.detect(image)
    assert [d.cutout_id for d in found] == [7]
    assert polygon_iou(found[0].quad, comp.quad) > 0.9


def test_colour_ball_holds_exactly_the_colours_within_the_radius() -> None:
    centre = np.array([23.4, -41.7], np.float32)
    a, b = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8),
                       indexing="ij")
    near = (a.astype(np.float64) - 128 - centre[0]) ** 2 + (
        b.astype(np.float64) - 128 - centre[1]) ** 2 <= 16.0 ** 2
    ball = _colour_ball(centre, 16.0)
    assert set(ball.tolist()) == set(_colour_keys(a[near], b[near]).tolist())
    assert 700 < ball.size < 900  # about pi * 16 ** 2 colours


@pytest.mark.parametrize("size", [0.09, 0.1])
def test_flat_paste_near_the_smallest_size_passes_the_colour_prefilter(size: float) -> None:
    # MIN_SIZE is 0.08: the query holds about twice the pixels the prefilter asks for (a
    # prefilter asking for three times as many misses both)
    drop = drop_rgba()
    det = CutoutDetector()
    det.add(1, det.represent(drop))
    comp = paste_on_warm(5, drop, size_frac=size)
    found = det.detect(np.asarray(comp.image))
    assert [d.cutout_id for d in found] == [1]
    assert polygon_iou(found[0].quad, comp.quad) > 0.8


def heart_rgba(colour: tuple[int, int, int] = (220, 30, 90), side: int = 240) -> np.ndarray:
    """A heart of one flat colour: no texture, no outline."""
    mask = np.zeros((side, side), np.uint8)
    r = side // 4
    cv2.circle(mask, (side // 2 - r + 4, r + 8), r, 255, -1, cv2.LINE_AA)
    cv2.circle(mask, (side // 2 + r - 4, r + 8), r, 255, -1, cv2.LINE_AA)
    tip = np.array([[8, r + 30], [side - 8, r + 30], [side // 2, side - 8]], np.int32)
    cv2.fillPoly(mask, [tip], 255, cv2.LINE_AA)
    rgb = np.empty((side, side, 3), np.uint8)
    rgb[:] = colour
    return np.dstack([rgb, mask])


def test_plain_flat_shape_is_found_by_its_silhouette_and_colour() -> None:
    heart = heart_rgba()
    on = CutoutDetector()
    # no query is plain enough: a uniform cut-out has no other way to be placed
    off = CutoutDetector(CutoutSettings(flat_plain_query_texture=-1.0))
    for det in (on, off):
        det.add(1, det.represent(heart))
    assert on._flats[1].plain and on._flats[1].uniform
    for seed in (1, 2):
        comp = paste_on_warm(seed, heart, mirror=seed == 2)
        image = np.asarray(comp.image)
        assert off.detect(image) == []  # nothing for the appearance check to compare
        found = on.detect(image)
        assert [d.cutout_id for d in found] == [1]
        assert found[0].inliers == 0
        assert polygon_iou(found[0].quad, comp.quad) > 0.85
    # another colour, or a textured heart of the same colour, is not it
    other = np.asarray(paste_on_warm(1, heart_rgba((40, 200, 60))).image)
    assert on.detect(other) == []
    striped = heart.copy()
    striped[::6, :, :3] = (120, 10, 40)
    striped[1::6, :, :3] = (120, 10, 40)
    assert on.detect(np.asarray(paste_on_warm(1, striped).image)) == []


def test_generic_or_textured_flat_shapes_are_not_plain() -> None:
    det = CutoutDetector()
    box = heart_rgba()
    box[:, :, 3] = 0
    box[40:200, 20:220, 3] = 255
    ellipse = heart_rgba()
    alpha = np.zeros((240, 240), np.uint8)
    cv2.ellipse(alpha, (120, 120), (100, 70), 0, 0, 360, 255, -1)
    ellipse[:, :, 3] = alpha
    for n, cut in enumerate([box, ellipse, drop_rgba()]):
        det.add(n, det.represent(np.ascontiguousarray(cut)))
        assert not det._flats[n].plain


def test_a_colour_paste_on_a_black_and_white_picture_is_not_a_greyscale_query() -> None:
    det = CutoutDetector()
    rng = np.random.default_rng(3)
    grey = np.repeat(rng.integers(0, 255, (300, 400, 1), dtype=np.uint8), 3, axis=2)
    grey = cv2.GaussianBlur(grey, (0, 0), 3)
    assert det.query_features(grey).greyscale
    pasted = grey.copy()
    pasted[100:160, 150:210] = (220, 30, 90)  # a patch of colour, 3 % of the picture
    assert det.query_features(pasted).greyscale is False
    # ... and a flat drawing pasted on it is found there
    heart = heart_rgba()
    det.add(1, det.represent(heart))
    comp = composite_cutout(Image.fromarray(grey), Image.fromarray(heart, "RGBA"),
                            random.Random(4), size_frac=0.35, mirror=False, caption=False,
                            jpeg_quality=80)
    assert [d.cutout_id for d in det.detect(np.asarray(comp.image))] == [1]


def test_flat_appearance_clips_the_background_off_a_shaded_drawing() -> None:
    # a gently shaded heart on white, placed two working pixels off: the white the thumbnail's
    # edge then sees would swamp the gradient, unless clipped to the heart's own grey levels
    heart = heart_rgba((40, 90, 200))
    shade = np.linspace(1.1, 0.8, heart.shape[0])[:, None, None]
    heart[:, :, :3] = np.clip(heart[:, :, :3] * shade, 0, 255).astype(np.uint8)
    white = Image.new("RGB", (640, 480), (255, 255, 255))
    comp = composite_cutout(white, Image.fromarray(heart, "RGBA"), random.Random(2),
                            size_frac=0.4, mirror=False, caption=False, jpeg_quality=None)
    det = CutoutDetector()
    rep = det.represent(heart)
    query = det.query_features(np.asarray(comp.image))
    x0, y0 = comp.quad[0] / query.to_original
    scale = (comp.quad[1][0] - comp.quad[0][0]) / query.to_original / rep.width
    for shift, clipped_least in ((0.0, 0.9), (2.0, 0.6)):
        transform = np.array([[scale, 0.0, x0 + shift], [0.0, scale, y0 + shift]])
        v = Verification(0, 1.0, 1.0, 1.0, scale, 0.0,
                         frame_quad(rep.width, rep.height, transform), transform, False,
                         np.zeros((0, 2), np.int32))
        plain = det._appearance(query, rep, False, v, unknown=-1.0)
        clipped = det._appearance(query, rep, False, v, unknown=-1.0, clip=True)
        assert clipped >= clipped_least
        if shift:
            assert plain < clipped - 0.2


def hershey_word(text: str) -> np.ndarray:
    """A dark word of thin strokes in OpenCV's own font, as a cut-out (RGBA)."""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.6, 2)
    alpha = np.zeros((h + base + 20, w + 20), np.uint8)
    cv2.putText(alpha, text, (10, h + 10), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 2, cv2.LINE_AA)
    rgb = np.full(alpha.shape + (3,), 40, np.uint8)
    return np.dstack([rgb, alpha])


@pytest.mark.parametrize("seed", [0, 2])
def test_a_fit_the_picture_cannot_confirm_needs_strong_inliers(seed: int) -> None:
    # Another word in the same font shares letters, so a few of its corners fit the registered
    # word consistently; the caption mask takes both for text, so there is no picture to
    # compare, and a weak fit must not count as a detection.
    det = CutoutDetector()
    for i, word in enumerate(["ANAGRAMMARIAN", "MARGARINEMAN", "GRAMMARIAN", "RAMENRAMEN"]):
        det.add(i, det.represent(hershey_word(word)))
    comp = paste_on_warm(seed, hershey_word("ARAMAGERAN"), size_frac=0.5, jpeg_quality=None)
    assert det.detect(np.asarray(comp.image)) == []


def navy_word(text: str) -> np.ndarray:
    """``hershey_word`` in one flat navy: its strokes are too thin for the appearance thumbnail
    and too plain for a correlation inside them."""
    word = hershey_word(text)
    word[:, :, :3] = (20, 30, 120)
    return word


def test_only_a_thin_cutout_keeps_an_outline_view() -> None:
    det = CutoutDetector()
    thin = det.represent(navy_word("VOTE NOW"))
    assert thin.outline.shape[2] == 2 and max(thin.outline.shape[:2]) == det.settings.outline_side
    assert np.array_equal(CutoutRepresentation.unpack(thin.pack()).outline, thin.outline)
    assert det.represent(cutout_rgba(1)).outline.size == 0
    assert det.represent(drop_rgba()).outline.size == 0


@pytest.mark.parametrize(("seed", "mirror"), [(0, False), (2, False), (3, True), (5, False)])
def test_a_thin_word_mark_is_found_by_its_outline(seed: int, mirror: bool) -> None:
    word = navy_word("VOTE NOW")
    comp = paste(seed, word, mirror=mirror, size_frac=0.5)
    image = np.asarray(comp.image)
    det = CutoutDetector()
    det.add(1, det.represent(word))
    found = det.detect(image)
    assert [d.cutout_id for d in found] == [1]
    assert found[0].mirrored == mirror and polygon_iou(found[0].quad, comp.quad) >= 0.9
    assert found[0].outline is not None and found[0].outline >= det.settings.outline_min
    assert found[0].appearance < det.settings.min_appearance  # the thumbnail could not tell
    assert found[0].to_dict()["outline"] == round(found[0].outline, 4)
    # without the outline view, the same fit is refused
    blind = CutoutDetector(CutoutSettings(outline_max_thickness=0.0))
    blind.add(1, blind.represent(word))
    assert blind.detect(image) == []


@pytest.mark.parametrize("seed", [0, 2, 5])
def test_outline_agreement_is_low_for_another_word_at_the_same_place(seed: int) -> None:
    det = CutoutDetector()
    det.add(1, det.represent(navy_word("VOTE NOW")))
    det.add(2, det.represent(navy_word("BIG SALE")))
    comp = paste(seed, navy_word("VOTE NOW"), size_frac=0.5)
    found = det.detect(np.asarray(comp.image))
    assert [d.cutout_id for d in found] == [1]
    # each word placed on the pasted box: only the true one lines up with its edges
    query = det.query_features(np.asarray(comp.image))
    x0, y0 = comp.quad[0] / query.to_original
    width = (comp.quad[1][0] - comp.quad[0][0]) / query.to_original
    agreement = {}
    for cutout_id in (1, 2):
        rep = det._reps[cutout_id]
        scale = width / rep.width
        transform = np.array([[scale, 0.0, x0], [0.0, scale, y0]])
        v = Verification(0, 1.0, 1.0, 1.0, scale, 0.0,
                         frame_quad(rep.width, rep.height, transform), transform, False,
                         np.zeros((0, 2), np.int32))
        agreement[cutout_id] = det._outline_agreement(query, rep, det._outlines[cutout_id],
                                                      False, v)
    assert agreement[1] is not None and agreement[2] is not None
    assert agreement[1] >= det.settings.outline_min > 0.3 > agreement[2]


def test_plain_tone_ignores_a_few_edge_pixels_but_not_texture() -> None:
    # a flat heart on white, placed four working pixels off: the white at its rim (a standard
    # deviation of 14) must not make it look textured; a striped heart at the exact place must
    heart = heart_rgba((40, 60, 180))
    white = Image.new("RGB", (640, 480), (255, 255, 255))
    det = CutoutDetector()
    det.add(1, det.represent(heart))
    rep, flat = det._reps[1], det._flats[1]
    limit = det.settings.flat_plain_query_texture

    def tone(picture: np.ndarray, shift: float) -> float:
        comp = composite_cutout(white, Image.fromarray(picture, "RGBA"), random.Random(2),
                                size_frac=0.4, mirror=False, caption=False, jpeg_quality=90)
        query = det.query_features(np.asarray(comp.image))
        x0, y0 = comp.quad[0] / query.to_original
        scale = (comp.quad[1][0] - comp.quad[0][0]) / query.to_original / rep.width
        transform = np.array([[scale, 0.0, x0 + shift], [0.0, scale, y0 + shift]])
        v = Verification(0, 1.0, 1.0, 1.0, scale, 0.0,
                         frame_quad(rep.width, rep.height, transform), transform, False,
                         np.zeros((0, 2), np.int32))
        return det._tone(query, rep, flat, False, v)

    assert tone(heart, 0.0) <= limit and tone(heart, 4.0) <= limit
    striped = heart.copy()
    striped[::8, :, :3] = 250
    striped[1::8, :, :3] = 250
    striped[2::8, :, :3] = 250
    assert tone(striped, 0.0) > limit
