"""The dense stage: low-texture templates (flat colours, a few shapes) found in crops of them."""

from __future__ import annotations

import pickle

import cv2
import numpy as np

from memetrack.appearance import cell_agreement, place, thumbnail
from memetrack.config import MatcherSettings
from memetrack.matcher import TemplateMatcher
from memetrack.pipeline import Memetrack
from tests.imagegen import encode
from tests.matcher_scenes import caption, crop, scene

GREEN, RED, WHITE = (7, 193, 96), (210, 40, 40), (255, 255, 255)


def flat_template(background: tuple[int, int, int] = GREEN, *, left: bool = False) -> np.ndarray:
    """A payment-card-like shell: one colour, a white rounded box, a white band under a curve
    (few keypoints: a handful of corners and two smooth edges). ``left``: an off-centre white
    ellipse and a yellow disc instead of the box, so that the mirror differs."""
    img = np.zeros((600, 480, 3), np.uint8)
    img[:] = background
    if left:  # smooth shapes only: an ellipse, a disc and the curve
        cv2.ellipse(img, (170, 260), (120, 100), 0, 0, 360, WHITE, -1)
        cv2.circle(img, (390, 110), 45, (250, 210, 60), -1)
        cv2.ellipse(img, (240, 620), (330, 140), 0, 180, 360, WHITE, -1)
        return img
    x0 = 110
    cv2.rectangle(img, (x0 + 20, 150), (x0 + 240, 380), WHITE, -1)
    cv2.rectangle(img, (x0, 170), (x0 + 260, 360), WHITE, -1)
    for cx, cy in ((x0 + 20, 170), (x0 + 240, 170), (x0 + 20, 360), (x0 + 240, 360)):
        cv2.circle(img, (cx, cy), 20, WHITE, -1)
    cv2.ellipse(img, (240, 620), (330, 140), 0, 180, 360, WHITE, -1)
    return img


def flat_matcher(*templates: np.ndarray, **settings: object) -> TemplateMatcher:
    matcher = TemplateMatcher(MatcherSettings(**settings))  # type: ignore[arg-type]
    for i, img in enumerate(templates):
        matcher.add_reference(i, img)
    for j in range(4):  # textured references the query must not land on
        matcher.add_reference(100 + j, scene(40 + j))
    matcher.build()
    return matcher


def test_a_cropped_captioned_low_texture_template_is_found_densely() -> None:
    template = flat_template()
    query = crop(caption(template), 0.12)
    matcher = flat_matcher(template)
    prep = matcher.prepare(query)
    found, _ = matcher.match_prepared(prep)
    assert len(prep.features[(0, False)]) < matcher.settings.dense_max_query_features
    assert found and found[0].ref_id == 0 and found[0].kind == "dense"
    assert not found[0].mirrored and found[0].inliers == 0
    assert found[0].score >= matcher.settings.dense_min_agreement
    # the template's corners in query pixels: the crop removed 12 % on each side
    h, w = template.shape[:2]
    dx, dy = int(0.12 * w), int(0.12 * h)
    expected = np.array([[-dx, -dy], [w - dx, -dy], [w - dx, h - dy], [-dx, h - dy]], np.float32)
    assert np.abs(found[0].region - expected).max() < 0.04 * h
    # without the dense stage the same query matches nothing: the stage is what finds it
    assert flat_matcher(template, dense_max_query_features=0).match(query) == []


def test_a_mirrored_low_texture_crop_is_found_mirrored() -> None:
    template = flat_template(left=True)
    query = crop(caption(np.ascontiguousarray(template[:, ::-1])), 0.1)
    # local features find some of these smooth shapes; with no candidate voted through, the
    # dense stage alone decides (whatever the count of keypoints)
    found = flat_matcher(template, min_votes=10_000, dense_max_query_features=1000).match(query)
    assert found and found[0].ref_id == 0 and found[0].kind == "dense" and found[0].mirrored
    assert flat_matcher(template, min_votes=10_000, dense_max_query_features=1000,
                        try_mirror=False).match(query) == []


def test_the_same_shapes_in_other_colours_are_not_the_template() -> None:
    matcher = flat_matcher(flat_template(GREEN))
    assert matcher.match(crop(caption(flat_template(RED)), 0.12)) == []


def test_one_colour_alone_is_not_a_template() -> None:
    # A plain red shell and a plain red captioned image agree everywhere, on colour only: the
    # dense stage wants some matching structure, so it does not call this a match.
    plain = np.zeros((400, 400, 3), np.uint8)
    plain[:] = RED
    matcher = flat_matcher(plain)
    assert matcher.match(crop(caption(plain), 0.1)) == []


def test_a_query_prepared_in_a_worker_is_placed_densely_too() -> None:
    template = flat_template()
    matcher = flat_matcher(template)
    query = crop(caption(template), 0.12)
    prep = pickle.loads(pickle.dumps(matcher.prepare(query, eager=True)))
    assert 0 in prep.text_thumbs  # the caption mask travels with the prepared query
    found, _ = matcher.match_prepared(prep)
    assert found and found[0].ref_id == 0 and found[0].kind == "dense"


def test_place_finds_a_crop_and_the_caption_mask_is_left_out() -> None:
    template = flat_template(left=True)
    ref = thumbnail(template)
    part = np.ascontiguousarray(template[90:510, 70:430])
    query = thumbnail(part)
    fractions = np.arange(1.0, 0.5, -0.01)
    best = place(ref, query, fractions=fractions, side=None)[0]
    # query thumbnail px -> reference thumbnail px: offset of the crop, in thumbnail px
    k = ref.lightness.shape[1] / ref.width
    assert abs(best.offset[0] - 70 * k) <= 2 and abs(best.offset[1] - 90 * k) <= 2
    look = cell_agreement(ref, query, best.transform(ref, query))
    assert look.share > 0.95 and look.structure > 0
    # cells under a mask are not compared
    mask = np.zeros(query.lightness.shape, bool)
    mask[: mask.shape[0] // 2] = True
    masked = cell_agreement(ref, query, best.transform(ref, query), query_mask=mask)
    assert 0 < masked.cells < look.cells


def test_a_low_texture_crop_joins_its_family_as_a_dense_member(core: Memetrack) -> None:
    # The box's corners give this synthetic card a few keypoints that real flat templates lack;
    # with no candidate voted through, the dense stage alone decides, as it does for those.
    matcher = core.settings.matcher.model_copy(update={"min_votes": 10_000})
    core = Memetrack(core.settings.model_copy(update={"matcher": matcher}), core.store)
    core.load_indexes()
    # registered as a blank shell: the whole image is the template (an indexed media's own core
    # view would drop the uniform bands above and below the box)
    family = core.register_shell(encode(flat_template(), "PNG"), name="card")
    shell = family.representative_media_id
    query = crop(caption(flat_template()), 0.12)
    member = core.index_bytes(encode(query, "JPEG", quality=90)).media.id
    families = core.store.families
    assert families.membership(member).family_id == families.membership(shell).family_id
    evidence = families.membership(member).evidence
    assert evidence["kind"] == "dense" and evidence["inliers"] == 0
    assert evidence["appearance"] >= core.settings.matcher.dense_min_agreement
    # a plain captioned picture of another colour founds a family of its own
    other = core.index_bytes(encode(crop(caption(flat_template(RED)), 0.12), "JPEG")).media.id
    assert families.membership(other).family_id != families.membership(shell).family_id
