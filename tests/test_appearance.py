"""The appearance check: an aligned template must look like the query over the whole overlap."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from memetrack.appearance import Thumbnail, agreement, thumbnail
from memetrack.config import MatcherSettings
from memetrack.features import extract_working, match_pairs, verify
from memetrack.matcher import TemplateMatcher
from tests.matcher_scenes import caption, crop, jpeg, scene

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_thumbnail_round_trip_and_greyscale() -> None:
    t = thumbnail(scene(11, 480, 360))
    assert t.lightness.shape == (96, 128) and t.chroma.shape == (12, 16, 2)
    back = Thumbnail.from_bytes(t.to_bytes())
    assert (back.width, back.height) == (480, 360)
    assert np.array_equal(back.lightness, t.lightness)
    assert np.array_equal(back.chroma, t.chroma)
    assert not t.greyscale
    grey = cv2.cvtColor(cv2.cvtColor(scene(11), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    assert thumbnail(grey).greyscale
    with pytest.raises(ValueError):
        Thumbnail.from_bytes(t.to_bytes()[:-1])


def test_an_image_agrees_with_itself_and_not_with_another() -> None:
    a, b = thumbnail(scene(12)), thumbnail(scene(13))
    assert agreement(a, a, IDENTITY) > 0.95
    assert agreement(a, b, IDENTITY) < 0.3


def test_agreement_follows_the_transform_and_the_mirror() -> None:
    img = scene(14, 480, 360)
    ref = thumbnail(img)
    # the query is the template at half size, shifted by (40, 30) on a bigger canvas
    canvas = np.full((300, 360, 3), 127, np.uint8)
    canvas[30:210, 40:280] = cv2.resize(img, (240, 180), interpolation=cv2.INTER_AREA)
    half = np.array([[0.5, 0.0, 40.0], [0.0, 0.5, 30.0]])
    assert agreement(ref, thumbnail(canvas), half) > 0.85
    assert agreement(ref, thumbnail(canvas), IDENTITY) < 0.4
    # a mirrored query: the transform maps into the flipped query
    flipped = np.ascontiguousarray(img[:, ::-1])
    assert agreement(ref, thumbnail(flipped), IDENTITY, mirrored=True) > 0.95
    assert agreement(ref, thumbnail(flipped), IDENTITY) < 0.4


def test_a_shared_element_is_not_the_template() -> None:
    # Two memes that share one drawn element (a sixth of the picture) and differ elsewhere.
    first, second = scene(21, 480, 360), scene(22, 480, 360)
    second[110:260, 160:360] = first[110:260, 160:360]
    # aligned exactly on the shared element (where it sits in both)
    look = agreement(thumbnail(first), thumbnail(second), IDENTITY)
    assert look < MatcherSettings().appearance_min
    feats_a = extract_working(first, mask_text=False)
    # ... and a real copy with a caption, compressed, still looks like the template
    copy = jpeg(caption(first), quality=40, factor=1.0)
    feats_c = extract_working(copy)
    v = verify(feats_c, feats_a, match_pairs(feats_c, feats_a), min_inliers=10)
    assert v is not None
    assert agreement(thumbnail(first), thumbnail(copy), v.transform) >= 0.7


def test_matcher_rejects_a_shared_element_only_with_the_appearance_check() -> None:
    first, second = scene(31, 480, 360), scene(32, 480, 360)
    second[110:260, 160:360] = first[110:260, 160:360]
    query = caption(second)
    checked = TemplateMatcher(MatcherSettings())
    unchecked = TemplateMatcher(MatcherSettings(appearance_min=0.0))
    for m in (checked, unchecked):
        m.add_reference(1, first)
        for i in range(10):
            m.add_reference(100 + i, scene(3000 + i, 420, 320))
    assert [f.ref_id for f in unchecked.match(query)] == [1]  # the scene really is a trap
    assert checked.match(query) == []
    found = checked.match(caption(first))
    assert found and found[0].ref_id == 1
    assert found[0].kind == "exact" or (found[0].appearance or 0) >= 0.7


def test_low_coverage_match_is_accepted_when_it_looks_alike() -> None:
    # Coverage demanded beyond reach: only the appearance can accept the match.
    template = scene(41, 480, 360)
    query = crop(caption(template), 0.12)
    strict = dict(min_coverage=0.99, strong_inliers=10_000, pdq_match_threshold=-1)
    on = TemplateMatcher(MatcherSettings(**strict))
    off = TemplateMatcher(MatcherSettings(**strict, appearance_strong=1.01))
    for m in (on, off):
        m.add_reference(1, template)
    found = on.match(query)
    assert found and found[0].ref_id == 1 and found[0].appearance >= 0.7
    assert off.match(query) == []


def test_stored_representation_keeps_its_thumbnail() -> None:
    import json
    import struct

    from memetrack.families import pack_representation, unpack_representation

    m = TemplateMatcher(MatcherSettings())
    rep = m.represent(scene(51))
    back = unpack_representation(pack_representation(rep))
    assert back.thumb is not None and rep.thumb is not None
    assert np.array_equal(back.thumb.lightness, rep.thumb.lightness)
    assert np.array_equal(back.thumb.chroma, rep.thumb.chroma)
    assert np.array_equal(back.features.descriptors, rep.features.descriptors)
    # the version-1 layout (header without a length, no thumbnail) still reads
    header = json.dumps({"box": list(rep.box), "scale": rep.scale,
                         "pdq": bytes(rep.pdq).hex(), "quality": rep.pdq_quality}).encode()
    old = struct.pack("<I", len(header)) + header + rep.features.to_bytes()
    legacy = unpack_representation(old)
    assert legacy.thumb is None and len(legacy.features) == len(rep.features)
    # a reference without a thumbnail is matched on geometry alone
    m2 = TemplateMatcher(MatcherSettings(pdq_match_threshold=-1))
    m2.add_representation(7, legacy)
    found = m2.match(caption(scene(51)))
    assert found and found[0].ref_id == 7 and found[0].appearance is None
