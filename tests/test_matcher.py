"""TemplateMatcher end to end on drawn scenes (no data set)."""

from __future__ import annotations

import numpy as np
import pytest

from memetrack.config import MatcherSettings
from memetrack.matcher import TemplateMatch, TemplateMatcher
from tests.matcher_scenes import caption, crop, jpeg, scene, screenshot, with_panel

A, B, C = 1, 2, 3


@pytest.fixture(scope="module")
def matcher() -> TemplateMatcher:
    m = TemplateMatcher(MatcherSettings())
    m.add_reference(A, scene(101, 480, 360))
    m.add_reference(B, scene(102, 400, 400))
    m.add_reference(C, scene(103, 360, 480))
    # Unrelated references so that votes have competition.
    for i in range(20):
        m.add_reference(1000 + i, scene(2000 + i, 420, 320))
    return m


def top(found: list[TemplateMatch]) -> TemplateMatch:
    assert found, "expected a match"
    return found[0]


def test_exact_copy_is_a_hash_match(matcher: TemplateMatcher) -> None:
    m = top(matcher.match(scene(101, 480, 360)))
    assert (m.ref_id, m.kind, m.distance) == (A, "exact", 0)
    assert not m.mirrored
    assert np.allclose(m.region, [[0, 0], [480, 0], [480, 360], [0, 360]])


def test_captioned_copy_matches(matcher: TemplateMatcher) -> None:
    m = top(matcher.match(caption(scene(102, 400, 400))))
    assert m.ref_id == B and m.kind in ("variant", "verified")


def test_mirrored_captioned_copy_matches(matcher: TemplateMatcher) -> None:
    flipped = np.ascontiguousarray(scene(101, 480, 360)[:, ::-1])
    m = top(matcher.match(caption(flipped)))
    assert m.ref_id == A and m.mirrored


def test_cropped_captioned_copy_matches_with_its_region(matcher: TemplateMatcher) -> None:
    query = crop(caption(scene(101, 480, 360)), 0.12)  # 422 x 302 left of 480 x 360
    m = top(matcher.match(query))
    assert (m.ref_id, m.kind, m.mirrored) == (A, "verified", False)
    assert m.inliers >= MatcherSettings().min_inliers
    # The template's outline extends 12 % beyond the crop on each side.
    dx, dy = 0.12 * 480, 0.12 * 360
    expected = np.array([[-dx, -dy], [480 - dx, -dy], [480 - dx, 360 - dy], [-dx, 360 - dy]])
    assert np.abs(m.region - expected).max() < 10


def test_panel_jpeg_and_screenshot_copies_match(matcher: TemplateMatcher) -> None:
    assert top(matcher.match(with_panel(caption(scene(103, 360, 480))))).ref_id == C
    assert top(matcher.match(jpeg(caption(scene(102, 400, 400))))).ref_id == B
    shot, (x0, y0, x1, y1) = screenshot(caption(scene(101, 480, 360)), dark=True)
    m = top(matcher.match(shot))
    assert m.ref_id == A
    assert np.abs(m.region - [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]).max() < 12


def test_unrelated_image_returns_no_match(matcher: TemplateMatcher) -> None:
    assert matcher.match(scene(999)) == []
    assert matcher.match(caption(scene(998, 400, 300))) == []
    assert matcher.match(np.full((200, 300, 3), 255, np.uint8)) == []


def test_unrelated_templates_with_caption_panels_do_not_match_each_other() -> None:
    m = TemplateMatcher(MatcherSettings())
    first = with_panel(scene(301, 400, 300), text="when you see it")
    second = with_panel(scene(302, 400, 300), text="when you see it")
    m.add_reference(1, first)
    assert m.match(second) == []
    m.add_reference(2, second)
    assert [x.ref_id for x in m.match(first)] == [1]
    assert [x.ref_id for x in m.match(second)] == [2]


def test_remove_reference() -> None:
    m = TemplateMatcher(MatcherSettings())
    m.add_reference(5, scene(401))
    m.add_reference(6, scene(402))
    assert top(m.match(caption(scene(401)))).ref_id == 5
    m.remove_reference(5)
    assert len(m) == 1
    assert m.match(caption(scene(401))) == []
    m.remove_reference(5)  # no-op


def test_representation_is_storable() -> None:
    m = TemplateMatcher(MatcherSettings())
    rep = m.represent(scene(501))
    assert rep.pdq.shape == (32,) and rep.pdq.dtype == np.uint8 and rep.pdq_quality >= 50
    other = TemplateMatcher(MatcherSettings())
    other.add_representation(9, rep)
    assert top(other.match(caption(scene(501)))).ref_id == 9


def test_unmatched_query_comes_with_its_representation(matcher: TemplateMatcher) -> None:
    # An image that matches nothing founds a family: the representation the match returns must
    # be exactly the one represent() computes for it, since both are stored as the reference.
    query = with_panel(scene(777, 440, 330))
    found, own = matcher.match_prepared(matcher.prepare(query))
    assert found == [] and own is not None
    expected = matcher.represent(query, reference=False)
    assert (own.box, own.scale, own.pdq_quality) == (expected.box, expected.scale,
                                                      expected.pdq_quality)
    assert np.array_equal(own.pdq, expected.pdq)
    assert np.array_equal(own.features.descriptors, expected.features.descriptors)
    assert np.array_equal(own.features.points, expected.features.points)
    found, own = matcher.match_prepared(matcher.prepare(caption(scene(101, 480, 360))))
    assert found and own is None


def test_thresholds_come_from_settings() -> None:
    strict = TemplateMatcher(MatcherSettings(min_inliers=10_000, pdq_match_threshold=-1))
    strict.add_reference(1, scene(601))
    assert strict.match(caption(scene(601))) == []
