"""Cut-out registration, identity, detection at ingest, backfill and reports (both stores)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from PIL import Image

from memetrack.config import CutoutSettings, Settings
from memetrack.errors import BadInput, NotFound
from memetrack.pipeline import Memetrack
from memetrack.records import SightingInput
from memetrack.store import Store
from tests.imagegen import encode
from tests.test_cutout_detect import background, cutout_rgba, paste


def png(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    return encode(np.asarray(img), "JPEG", quality=quality)


def test_registration_and_identity(core: Memetrack) -> None:
    cut = cutout_rgba(200, hidden=0)
    first, created = core.add_cutout(png(cut), name="Candidate A", notes="campaign 1")
    assert created and first.name == "Candidate A" and first.notes == "campaign 1"
    # the same cut-out with other colours hidden under full transparency
    same, created = core.add_cutout(png(cutout_rgba(200, hidden=255)), name="dup")
    assert not created and same.id == first.id and same.name == "Candidate A"
    # re-saved at 60 % with a transparent margin
    small = cv2.resize(cut, (180, 216), interpolation=cv2.INTER_AREA)
    margin = np.zeros((216 + 80, 180 + 60, 4), np.uint8)
    margin[40:256, 30:210] = small
    again, created = core.add_cutout(png(margin))
    assert not created and again.id == first.id
    other, created = core.add_cutout(png(cutout_rgba(201)), name="Candidate B")
    assert created and other.id != first.id
    assert [c.id for c in core.store.cutouts.list()] == [first.id, other.id]
    renamed = core.rename_cutout(other.id, notes="seen on x")
    assert renamed.name == "Candidate B" and renamed.notes == "seen on x"


def test_an_image_without_transparency_is_refused(core: Memetrack) -> None:
    with pytest.raises(BadInput):
        core.add_cutout(jpeg(background(1)))
    opaque = np.dstack([np.asarray(background(2)), np.full((540, 720), 255, np.uint8)])
    with pytest.raises(BadInput):
        core.add_cutout(png(opaque))
    assert core.store.cutouts.count() == 0 and core.store.count_media() == 0


def test_new_media_are_searched_for_registered_cutouts(core: Memetrack) -> None:
    cutout = core.register_cutout(png(cutout_rgba(210)), name="C")
    comp = paste(11, cutout_rgba(210), size_frac=0.4, mirror=True, caption=True, jpeg_quality=70)
    media = core.index_bytes(jpeg(comp.image)).media
    plain = core.index_bytes(jpeg(background(12))).media
    occ = core.store.cutouts.occurrences_in_media(media.id)
    assert [o.cutout_id for o in occ] == [cutout.id]
    assert occ[0].mirrored and occ[0].inliers >= 8
    from memetrack.cutout_detect import polygon_iou

    assert polygon_iou(np.array(occ[0].quad), comp.quad) > 0.8
    assert core.store.cutouts.occurrences_in_media(plain.id) == []
    assert core.store.cutouts.get(cutout.id).occurrence_count == 1
    # matching reports it without storing anything
    report = core.match_bytes(jpeg(comp.image))
    assert [h.cutout_id for h in report.cutouts] == [cutout.id]
    assert report.cutouts[0].name == "C"


def test_backfill_finds_an_earlier_indexed_composite(core: Memetrack) -> None:
    comp = paste(13, cutout_rgba(220), size_frac=0.35)
    earlier = core.index_bytes(jpeg(comp.image)).media
    core.index_bytes(jpeg(background(14)))
    cutout, created = core.add_cutout(png(cutout_rgba(220)), name="late")
    assert created
    occ = core.store.cutouts.occurrences(cutout.id)
    assert [o.media_id for o in occ] == [earlier.id]
    # a second backfill confirms, never duplicates
    assert core.backfill_cutouts([cutout.id], progress=False) == 1
    assert len(core.store.cutouts.occurrences(cutout.id)) == 1
    with pytest.raises(NotFound):
        core.backfill_cutouts([9999], progress=False)


def test_report_accounts_platforms_first_and_last_seen(core: Memetrack) -> None:
    cutout = core.register_cutout(png(cutout_rgba(230)), name="R")
    t = [datetime(2026, 3, d, 12, tzinfo=UTC) for d in (1, 2, 5)]
    a = paste(15, cutout_rgba(230), size_frac=0.45)
    b = paste(16, cutout_rgba(230), size_frac=0.5, mirror=True)
    ma = core.index_bytes(jpeg(a.image), [
        SightingInput("x", account="alice", post_id="1", posted_at=t[1]),
        SightingInput("telegram", account="chan", post_id="2", posted_at=t[2])]).media
    mb = core.index_bytes(jpeg(b.image), [
        SightingInput("x", account="bob", post_id="3", posted_at=t[0])]).media
    core.index_bytes(jpeg(background(17)), [SightingInput("x", account="carol", post_id="4")])
    report = core.cutout_report(cutout.id)
    assert set(report.media_ids) == {ma.id, mb.id}
    assert report.sightings == 3
    assert report.first_seen == t[0] and report.last_seen == t[2]
    platforms = {p.platform: p for p in report.platforms}
    assert set(platforms) == {"x", "telegram"}
    assert platforms["x"].sightings == 2 and platforms["x"].media == 2
    assert platforms["x"].first_seen == t[0] and platforms["x"].last_seen == t[1]
    accounts = {(a.platform, a.account) for a in report.accounts}
    assert accounts == {("x", "alice"), ("x", "bob"), ("telegram", "chan")}
    assert sum(f.media for f in report.families) == 2
    body = report.to_dict()
    assert body["media_count"] == 2 and body["first_seen"].startswith("2026-03-01")
    core.delete_cutout(cutout.id)
    with pytest.raises(NotFound):
        core.cutout_report(cutout.id)
    assert core.store.cutouts.occurrences_in_media(ma.id) == []


@pytest.mark.parametrize("auto", [True, False])
def test_auto_registration_at_indexing(settings: Settings, store: Store, auto: bool) -> None:
    on = settings.model_copy(update={"cutouts": CutoutSettings(auto_register=auto)})
    app = Memetrack(on, store)
    app.load_indexes()
    media = app.index_bytes(png(cutout_rgba(240))).media
    registered = app.store.cutouts.by_media(media.id)
    assert (registered is not None) is auto
    comp = paste(18, cutout_rgba(240), size_frac=0.4)
    found = app.index_bytes(jpeg(comp.image)).media
    occ = app.store.cutouts.occurrences_in_media(found.id)
    assert [o.cutout_id for o in occ] == ([registered.id] if registered else [])
    # an opaque image never becomes a cut-out
    app.index_bytes(jpeg(background(19)))
    assert app.store.cutouts.count() == (1 if auto else 0)


def test_detector_reloads_from_the_store(settings: Settings, store: Store) -> None:
    app = Memetrack(settings, store)
    app.load_indexes()
    cutout = app.register_cutout(png(cutout_rgba(250)))
    fresh = Memetrack(settings, store)
    fresh.load_indexes()
    comp = paste(20, cutout_rgba(250), size_frac=0.4)
    hits = fresh.find_cutouts(np.asarray(comp.image))
    assert [h.cutout_id for h in hits] == [cutout.id]
    assert fresh.find_cutouts(np.asarray(background(21))) == ()


def test_an_outdated_representation_is_rebuilt_from_the_stored_sample(
        settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import memetrack.cutout_detect as detect
    import memetrack.pipeline_cutouts as pipeline_cutouts

    current = detect.VERSION
    # registered by an older memetrack: its representation is stored under the older version
    monkeypatch.setattr(detect, "VERSION", current - 1)
    monkeypatch.setattr(pipeline_cutouts, "VERSION", current - 1)
    old = Memetrack(settings, store)
    old.load_indexes()
    cutout = old.register_cutout(png(cutout_rgba(255)))
    assert set(store.cutouts.representations(detect.ALGORITHM, current - 1, detect.VIEW)) == {
        cutout.id}
    monkeypatch.undo()
    assert store.cutouts.representations(detect.ALGORITHM, current, detect.VIEW) == {}
    # the current version cannot read it: the representation is computed again and stored
    fresh = Memetrack(settings, store)
    fresh.load_indexes()
    comp = paste(23, cutout_rgba(255), size_frac=0.4)
    assert [h.cutout_id for h in fresh.find_cutouts(np.asarray(comp.image))] == [cutout.id]
    stored = store.cutouts.representations(detect.ALGORITHM, current, detect.VIEW)
    rep = detect.CutoutRepresentation.unpack(stored[cutout.id])
    assert rep.version == current and rep.chroma.shape == (*rep.thumb.shape, 2)


def test_occurrences_are_idempotent(core: Memetrack) -> None:
    cutout = core.register_cutout(png(cutout_rgba(260)))
    media = core.index_bytes(jpeg(background(22))).media
    quad = [[0, 0], [10, 0], [10, 10], [0, 10]]
    first, created = core.store.cutouts.add_occurrence(cutout.id, media.id, quad=quad, scale=0.2,
                                                      mirrored=False, score=0.5, inliers=20)
    assert created
    again, created = core.store.cutouts.add_occurrence(cutout.id, media.id, quad=quad,
                                                      scale=0.2, mirrored=True, score=0.7,
                                                      inliers=30)
    assert not created and again.id == first.id and again.inliers == 30
    assert len(core.store.cutouts.occurrences(cutout.id)) == 1
    with pytest.raises(NotFound):
        core.store.cutouts.add_occurrence(9999, media.id, quad=quad, scale=0.2, mirrored=False,
                                          score=0.5, inliers=20)


def test_backfill_progress_is_stored_and_an_interrupted_backfill_resumes(
        core: Memetrack, settings: Settings) -> None:
    a = core.index_bytes(jpeg(paste(17, cutout_rgba(240), size_frac=0.4).image)).media
    b = core.index_bytes(jpeg(paste(18, cutout_rgba(240), size_frac=0.45).image)).media
    cutout, _created = core.add_cutout(png(cutout_rgba(240)), name="P", backfill=False)
    assert core.backfill_status(cutout.id) is None
    # a process that scanned up to media a, then stopped
    core.store.cutouts.save_backfill(cutout.id, state="running", done=1, total=3, found=0,
                                     after_media_id=a.id)
    with Memetrack(settings) as other:  # a new process sees the stored progress, and resumes
        other.load_indexes()
        assert other.backfill_status(cutout.id)["state"] == "running"  # type: ignore[index]
        assert other.resume_backfills() == 1
    status = core.backfill_status(cutout.id)
    assert status is not None and status["state"] == "done"
    # it went on after media a: only b was searched (and the cut-out's own file after it)
    assert [o.media_id for o in core.store.cutouts.occurrences(cutout.id)] == [b.id]
    assert status["found"] == 1 and status["done"] == 3  # 1 before + b + the cut-out's file
    assert core.resume_backfills() == 0
    # a full backfill job records its own progress
    assert core.backfill_job([cutout.id]) == 2
    assert core.backfill_status(cutout.id)["found"] == 2  # type: ignore[index]
    core.delete_cutout(cutout.id)
    assert core.backfill_status(cutout.id) is None
