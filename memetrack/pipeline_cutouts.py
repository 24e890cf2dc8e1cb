"""The cut-out half of :class:`memetrack.pipeline.Memetrack` (registration, detection, backfill).

A mixin so the pipeline stays one front door while the two halves stay readable.

* **Registration** (:meth:`CutoutsMixin.add_cutout`): the file is indexed like any media, refused
  unless it has real transparency, compared with the registered cut-outs on its opaque pixels
  (PDQ of the opaque view) and mask shape (an existing one within both thresholds is returned),
  represented (:class:`~memetrack.cutout_detect.CutoutRepresentation`, stored in
  ``media_features`` as algorithm ``cutorb``, view ``cutout``), added to the detector and searched
  for among the media already indexed (backfill).
* **Detection** of every registered cut-out in each newly indexed media (from its stored
  sample), in every matched image (:meth:`CutoutsMixin.find_cutouts`), and in a backfill.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from memetrack import families as fam
from memetrack.cutout_detect import (
    ALGORITHM,
    VERSION,
    VIEW,
    CutoutDetector,
    CutoutRepresentation,
    Detection,
)
from memetrack.cutout_records import Cutout, CutoutReport, Occurrence
from memetrack.cutouts import as_rgba, mask_signature, opaque_view, transparent_fraction
from memetrack.errors import BadInput, NotFound, NotReady
from memetrack.hashing import pdq
from memetrack.imageio import fit, load_image
from memetrack.records import CutoutHit

if TYPE_CHECKING:
    from memetrack.config import Settings
    from memetrack.records import MediaInput
    from memetrack.store import Store

ProgressCallback = Callable[[int, int, int, int], None]
"""``(media done, media total, occurrences found so far, id of the last media searched)``."""


class CutoutsMixin:
    settings: Settings
    store: Store
    _cutout_detector: CutoutDetector | None = None
    _cutout_lock = threading.Lock()

    def analyze(self, data: bytes) -> MediaInput:  # provided by Memetrack
        raise NotImplementedError

    # -- loading -------------------------------------------------------------------------------
    def _load_cutouts(self) -> None:
        """Load the registered cut-outs' stored representations into the detector (missing or
        outdated representations are computed again from the stored samples)."""
        detector = CutoutDetector(self.settings.cutouts)
        stored = self.store.cutouts.representations(ALGORITHM, VERSION, VIEW)
        for cutout_id in self.store.cutouts.ids():
            blob = stored.get(cutout_id)
            rep = (CutoutRepresentation.unpack(blob) if blob is not None
                   else self._represent_stored(cutout_id))
            if rep is not None:
                detector.add(cutout_id, rep)
        detector.build()
        self._cutout_detector = detector

    @property
    def cutout_detector(self) -> CutoutDetector:
        if self._cutout_detector is None:
            raise NotReady("the cut-out detector is still loading")
        return self._cutout_detector

    def _represent_stored(self, cutout_id: int) -> CutoutRepresentation | None:
        cutout = self.store.cutouts.get(cutout_id)
        data = self.store.families.sample(cutout.media_id)
        if data is None:
            return None
        rgb, alpha = fam.decode_sample_rgba(data)
        if alpha is None:
            return None
        rep = CutoutDetector(self.settings.cutouts).represent(np.dstack([rgb, alpha]))
        self.store.cutouts.save_representation(cutout.media_id, ALGORITHM, VERSION, VIEW,
                                               rep.pack())
        return rep

    # -- registration --------------------------------------------------------------------------
    def _is_cutout(self, rgba: np.ndarray) -> bool:
        s = self.settings.cutouts
        return s.min_transparent <= transparent_fraction(rgba) <= s.max_transparent

    def _register_rgba(self, media_id: int, rgba: np.ndarray, name: str | None,
                       notes: str | None) -> tuple[Cutout, bool]:
        s = self.settings.cutouts
        identity = pdq(fit(opaque_view(rgba), 512)).hash.bits
        signature = mask_signature(rgba[:, :, 3])
        with self._cutout_lock:
            cutout, created = self.store.cutouts.register(
                media_id, identity, signature, name=name, notes=notes,
                pdq_threshold=s.identity_pdq_threshold, mask_threshold=s.identity_mask_threshold)
            if created:
                rep = CutoutDetector(s).represent(rgba)
                self.store.cutouts.save_representation(media_id, ALGORITHM, VERSION, VIEW,
                                                       rep.pack())
                if self._cutout_detector is not None:
                    self._cutout_detector.add(cutout.id, rep)
        return cutout, created

    def add_cutout(self, data: bytes, *, name: str | None = None, notes: str | None = None,
                   backfill: bool = True, progress: bool | None = False
                   ) -> tuple[Cutout, bool]:
        """Register an RGBA image as a cut-out; ``(cut-out, created)``.

        The bytes are indexed as a media. An image without real transparency is refused
        (:class:`~memetrack.errors.BadInput`, nothing stored). When the same cut-out is
        registered already (opaque PDQ and mask within the identity thresholds) that one is
        returned with ``created`` False. A new cut-out is searched for among the media already
        indexed when ``backfill``.
        """
        image = load_image(data, max_bytes=self.settings.max_image_bytes,
                           max_pixels=self.settings.max_image_pixels,
                           max_side=fam.SAMPLE_MAX_SIDE)
        rgba = as_rgba(image.rgba())
        share = transparent_fraction(rgba)
        if image.alpha is None or not self._is_cutout(rgba):
            s = self.settings.cutouts
            raise BadInput("a cut-out needs real transparency: "
                           f"{share:.1%} of its pixels are transparent, not "
                           f"{s.min_transparent:.0%}-{s.max_transparent:.0%}",
                           transparent_fraction=round(share, 4))
        result = self.store.ingest(self.analyze(data))
        indexes = getattr(self, "_indexes", None)
        if indexes is not None:
            indexes.catch_up(self.store)
        cutout, created = self._register_rgba(result.media.id, rgba, name, notes)
        if created and backfill:
            self.backfill_cutouts([cutout.id], progress=progress)
            cutout = self.store.cutouts.get(cutout.id)
        return cutout, created

    def register_cutout(self, data: bytes, name: str | None = None,
                        notes: str | None = None) -> Cutout:
        """Register an RGBA image as a cut-out (or return the same one registered before)."""
        return self.add_cutout(data, name=name, notes=notes)[0]

    def rename_cutout(self, cutout_id: int, *, name: str | None = None,
                      notes: str | None = None) -> Cutout:
        return self.store.cutouts.rename(cutout_id, name=name, notes=notes)

    def delete_cutout(self, cutout_id: int) -> None:
        self.store.cutouts.delete(cutout_id)
        if self._cutout_detector is not None:
            self._cutout_detector.remove(cutout_id)

    # -- detection -----------------------------------------------------------------------------
    def _detect_in_media(self, media_id: int, detector: CutoutDetector,
                         pixels: np.ndarray | None = None) -> list[Occurrence]:
        """Detect ``detector``'s cut-outs in a stored media's sample (``pixels``, when the caller
        has decoded it already) and store the occurrences (in the media's original pixels). A
        cut-out is not looked for in its own file."""
        if pixels is None:
            data = self.store.families.sample(media_id)
            if data is None:
                return []
            pixels = fam.decode_sample(data)
        found = []
        for d in detector.detect(pixels):
            try:
                if self.store.cutouts.get(d.cutout_id).media_id != media_id:
                    found.append(d)
            except NotFound:  # deleted meanwhile
                continue
        if not found:
            return []
        k = self.store.get_media(media_id).width / pixels.shape[1]
        out = []
        for d in found:
            occ, _created = self.store.cutouts.add_occurrence(
                d.cutout_id, media_id, quad=(d.quad * k).tolist(), scale=d.scale,
                mirrored=d.mirrored, score=d.score, inliers=d.inliers)
            out.append(occ)
        return out

    def _searching_cutouts(self) -> bool:
        """Whether new media are searched for registered cut-outs (some are loaded)."""
        return self._cutout_detector is not None and len(self._cutout_detector) > 0

    def _after_ingest_cutouts(self, media_id: int) -> None:
        """A new media was stored: register it as a cut-out (if it is one and auto-registration
        is on), else record the registered cut-outs found in it."""
        detector = self._cutout_detector
        searching = self._searching_cutouts()
        if not (searching or self.settings.cutouts.auto_register):
            return
        data = self.store.families.sample(media_id)
        if data is None:
            return
        rgb, alpha = fam.decode_sample_rgba(data)
        if alpha is not None and self.settings.cutouts.auto_register:
            rgba = np.dstack([rgb, alpha])
            if self._is_cutout(rgba):
                cutout, created = self._register_rgba(media_id, rgba, None, None)
                if created:
                    self.backfill_cutouts([cutout.id], progress=False)
                return
        if searching:
            assert detector is not None
            self._detect_in_media(media_id, detector, fam.over_grey(rgb, alpha))

    def detect_cutouts(self, rgb: np.ndarray,
                       original_size: tuple[int, int] | None = None) -> list[Detection]:
        """Registered cut-outs in an image, quads in ``original_size`` (width, height) pixels
        when given, else in the pixels of ``rgb``."""
        work = fit(rgb, self.settings.cutouts.query_side)
        detections = self.cutout_detector.detect(work)
        k = (original_size[0] if original_size else rgb.shape[1]) / work.shape[1]
        return [replace(d, quad=d.quad * k) for d in detections]

    def find_cutouts(self, rgb: np.ndarray, alpha: np.ndarray | None = None,
                     original_size: tuple[int, int] | None = None) -> tuple[CutoutHit, ...]:
        """Registered cut-outs found in an image (nothing is stored). ``rgb`` is the image
        flattened over grey (``alpha`` is not needed then); quads are in ``original_size``
        pixels when given."""
        if self._cutout_detector is None or not len(self._cutout_detector):
            return ()
        hits = []
        for d in self.detect_cutouts(rgb, original_size):
            try:
                name = self.store.cutouts.get(d.cutout_id).name
            except NotFound:  # deleted meanwhile
                continue
            quad = tuple((float(x), float(y)) for x, y in d.quad)
            hits.append(CutoutHit(d.cutout_id, name, quad, d.scale, d.mirrored, d.score,
                                  d.inliers))
        return tuple(hits)

    # -- backfill ------------------------------------------------------------------------------
    def backfill_cutouts(self, cutout_ids: Sequence[int] | None = None,
                         progress: bool | None = None,
                         on_progress: ProgressCallback | None = None,
                         after_media_id: int = 0) -> int:
        """Detect the given cut-outs (default: all) in every media already indexed (with an id
        above ``after_media_id``), page by page in id order; returns the number of occurrences
        recorded (new or confirmed). ``on_progress`` is called after every page."""
        from memetrack.pipeline import Progress

        ids = self.store.cutouts.ids() if cutout_ids is None else sorted(set(cutout_ids))
        for cutout_id in ids:
            self.store.cutouts.get(cutout_id)  # NotFound for an unknown id
        detector = CutoutDetector(self.settings.cutouts)
        stored = self.store.cutouts.representations(ALGORITHM, VERSION, VIEW, ids)
        for cutout_id in ids:
            blob = stored.get(cutout_id)
            rep = (CutoutRepresentation.unpack(blob) if blob is not None
                   else self._represent_stored(cutout_id))
            if rep is not None:
                detector.add(cutout_id, rep)
        if not len(detector):
            return 0
        detector.build()
        total = self.store.count_media()
        bar = Progress(total, progress)
        done = found = 0
        after = after_media_id
        while page := self.store.media_ids(after, limit=self.settings.cutouts.backfill_page):
            for media_id in page:
                found += len(self._detect_in_media(media_id, detector))
                done += 1
                bar.step()
            after = page[-1]
            if on_progress is not None:
                on_progress(done, total, found, after)
        bar.close()
        return found

    def backfill_job(self, cutout_ids: Sequence[int], *, resume: bool = False,
                     progress: bool | None = False) -> int:
        """:meth:`backfill_cutouts` that records its progress in the store, page by page, for
        :meth:`backfill_status` (the service runs it in the background). With ``resume``, a
        single cut-out's interrupted backfill goes on from the last page it recorded."""
        repo = self.store.cutouts
        ids = sorted(set(cutout_ids))
        start = {"done": 0, "found": 0, "after": 0}
        if resume and len(ids) == 1:
            last = repo.backfill(ids[0])
            if last is not None and last["state"] == "running":
                start = {"done": int(last["done"]), "found": int(last["found"]),  # type: ignore[call-overload]
                         "after": int(last["after_media_id"])}  # type: ignore[call-overload]
        now = {"done": start["done"], "found": start["found"], "after": start["after"],
               "total": self.store.count_media()}

        def save(state: str, error: str | None = None) -> None:
            for cutout_id in ids:
                repo.save_backfill(cutout_id, state=state, done=now["done"], total=now["total"],
                                   found=now["found"], after_media_id=now["after"], error=error)

        def step(done: int, total: int, found: int, after: int) -> None:
            now.update(done=start["done"] + done, found=start["found"] + found, after=after,
                       total=max(total, start["done"] + done))
            save("running")

        save("running")
        try:
            self.backfill_cutouts(ids, progress=progress, on_progress=step,
                                  after_media_id=start["after"])
        except Exception as exc:
            save("failed", f"{type(exc).__name__}: {exc}")
            raise
        save("done")
        return now["found"]

    def resume_backfills(self, progress: bool | None = False) -> int:
        """Finish the backfills a stopped process left running; returns how many."""
        ids = self.store.cutouts.interrupted_backfills()
        for cutout_id in ids:
            try:
                self.backfill_job([cutout_id], resume=True, progress=progress)
            except NotFound:  # deleted meanwhile
                continue
        return len(ids)

    def backfill_status(self, cutout_id: int) -> dict[str, object] | None:
        """Progress of the latest backfill of a cut-out (None when there was none)."""
        return self.store.cutouts.backfill(cutout_id)

    # -- reports -------------------------------------------------------------------------------
    def cutout_report(self, cutout_id: int) -> CutoutReport:
        return self.store.cutouts.report(cutout_id)
