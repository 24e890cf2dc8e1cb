"""The only place that combines loading, hashing, the store and the indexes.

:class:`Memetrack` is the library's front door, used by the CLI and the service alike.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memetrack import families as fam
from memetrack.analysis import AnalyzeParams, FileOutcome, analyze_bytes, analyze_path
from memetrack.config import Settings
from memetrack.errors import BadHash, NotFound, NotReady
from memetrack.hashing import PDQ, PHASH, PerceptualHash, compute_all, pdq_query_set
from memetrack.imageio import fit, load_image
from memetrack.index.hashes import HashIndexes, set_threads
from memetrack.manifest import ManifestError, read_manifest
from memetrack.matcher import PreparedQuery, Representation, TemplateMatcher
from memetrack.pipeline_cutouts import CutoutsMixin
from memetrack.records import (
    Family,
    FamilyMember,
    IngestResult,
    MatchReport,
    MediaInput,
    Neighbour,
    SightingInput,
    TemplateHit,
)
from memetrack.store import Store, open_store
from memetrack.store.store import FileState

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".jfif"}


@dataclass
class BatchSummary:
    files: int = 0
    indexed: int = 0
    already_known: int = 0
    sightings_added: int = 0
    sightings_known: int = 0
    unchanged: int = 0  # files an earlier run finished, not read again
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (where, code, message)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "files": self.files, "indexed": self.indexed, "already_known": self.already_known,
            "sightings_added": self.sightings_added, "sightings_known": self.sightings_known,
            "unchanged_files_skipped": self.unchanged,
            "failed": [{"where": w, "code": c, "message": m} for w, c, m in self.failed],
            "seconds": round(self.seconds, 3),
        }


def walk_images(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus image-suffixed files found below named folders (sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = [p for p in path.rglob("*")
                     if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)]
            out.extend(sorted(found))
        else:
            out.append(path)
    return out


def _shown(path: str) -> str:
    """A path as the user would like to read it: relative to the working folder when below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


class Progress:
    """A small progress bar on stderr (only when it is a terminal)."""

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = 0.0

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done == self.total):
            self._last = now
            width = 30
            filled = int(width * self.done / max(1, self.total))
            rate = self.done / max(1e-9, now - self.start)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                             f"{self.done}/{self.total} files  {rate:6.1f}/s")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


class Memetrack(CutoutsMixin):
    """The library's front door: index, match, look up. Thread-safe for the service's use."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.params = AnalyzeParams.from_settings(settings)
        self._indexes: HashIndexes | None = None
        self._matcher: TemplateMatcher | None = None
        set_threads(settings.faiss_threads)

    # -- indexes -------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._indexes is not None

    def load_indexes(self) -> HashIndexes:
        """Load the persisted indexes and catch them up from the store (the readiness step)."""
        self.store.require_current()
        indexes = HashIndexes.load(self.settings.index_dir, self.settings.hash_index)
        if indexes.catch_up(self.store):
            indexes.save()
        self._matcher = self._load_matcher()
        self._load_cutouts()
        self.process_pending()
        self._indexes = indexes
        return indexes

    def _load_matcher(self) -> TemplateMatcher:
        """The template matcher over every family representative's stored representation."""
        matcher = TemplateMatcher(self.settings.matcher)
        reps = self.store.families.representatives()
        blobs = self.store.families.features(
            [m for _f, m in reps], fam.REPRESENTATION_ALGORITHM, fam.REPRESENTATION_VERSION,
            "reference")
        for family_id, media_id in reps:
            blob = blobs.get(media_id)
            if blob is None:
                blob = self._represent(media_id)
            if blob is not None:
                matcher.add_representation(family_id, fam.unpack_representation(blob))
        matcher.build()
        return matcher

    @property
    def matcher(self) -> TemplateMatcher:
        if self._matcher is None:
            raise NotReady("the template matcher is still loading")
        return self._matcher

    @property
    def indexes(self) -> HashIndexes:
        if self._indexes is None:
            raise NotReady("the search indexes are still loading")
        return self._indexes

    def rebuild_indexes(self) -> int:
        self.store.require_current()
        indexes = HashIndexes(self.settings.index_dir, self.settings.hash_index)
        added = indexes.rebuild(self.store)
        self._indexes = indexes
        return added

    def save_indexes(self) -> None:
        if self._indexes is not None:
            self._indexes.save()

    # -- single images -------------------------------------------------------------------------
    def analyze(self, data: bytes) -> MediaInput:
        return analyze_bytes(data, self.params)

    def index_bytes(self, data: bytes, sightings: Sequence[SightingInput] = ()) -> IngestResult:
        """Index one image with its sightings. Nothing is stored if the image is bad."""
        item = self.analyze(data)
        result = self.store.ingest(item, sightings)
        if self._indexes is not None:
            self._indexes.catch_up(self.store)
        if result.media_created and self._matcher is not None:
            self._after_ingest(result.media.id)
        return result

    def _has_work_after_ingest(self) -> bool:
        """Whether a new media needs the per-media step (families, cut-outs) at all."""
        return (self.settings.assign_families or self.settings.cutouts.auto_register
                or self._searching_cutouts())

    def _after_ingest(self, media_id: int, prepared: PreparedQuery | None = None) -> None:
        """Family assignment and cut-out detection of a newly stored media (``prepared``: the
        query side of its template match, when a worker process computed it)."""
        if self.settings.assign_families:
            self.assign_family(media_id, prepared=prepared)
        self._after_ingest_cutouts(media_id)
        self.store.mark_processed([media_id])

    def match_bytes(self, data: bytes, limit: int | None = None) -> MatchReport:
        """Near-duplicates of an image, without storing it."""
        # one decode, large enough for the template matcher and the cut-out detector
        side = max(self.params.max_side, fam.SAMPLE_MAX_SIDE, self.settings.matcher.view_max_side)
        image = load_image(data, max_bytes=self.params.max_bytes,
                           max_pixels=self.params.max_pixels, max_side=side)
        full = image.flattened()
        flat = fit(full, self.params.max_side)
        hashes = compute_all(flat)
        queries: dict[str, list[tuple[str, PerceptualHash]]] = {
            "phash": [("original", hashes["phash"].hash)]}
        if hashes["pdq"].quality >= self.settings.pdq_min_quality:
            queries["pdq"] = pdq_query_set(flat)
        neighbours = self._search(queries, limit)
        report = self._report(hashlib.sha256(data).hexdigest(),
                              {k: v.hash.hex for k, v in hashes.items()}, neighbours)
        size = (image.width, image.height)
        return MatchReport(report.query_sha256, report.query_hashes, report.neighbours,
                           report.media, report.sightings, self.find_templates(full, size),
                           self.find_cutouts(full, image.alpha, original_size=size))

    def find_templates(self, rgb: np.ndarray, original_size: tuple[int, int] | None = None
                       ) -> tuple[TemplateHit, ...]:
        """Template families whose representative verifiably matches the image; regions are in
        ``original_size`` pixels when given."""
        hits = []
        pixels = fit(rgb, self.settings.matcher.view_max_side)
        scale = original_size[0] / pixels.shape[1] if original_size else 1.0
        for m in self.matcher.match(pixels):
            try:
                family = self.store.families.get(m.ref_id)
            except NotFound:  # removed meanwhile
                continue
            hits.append(TemplateHit(family, m.kind, float(m.score),
                                    fam.match_evidence(m, scale)))
        return tuple(hits)

    def match_hash(self, value: PerceptualHash, limit: int | None = None) -> MatchReport:
        if value.algorithm not in (PDQ.name, PHASH.name):
            raise BadHash(f"cannot match {value.algorithm} hashes")
        neighbours = self._search({value.algorithm: [("original", value)]}, limit)
        return self._report("", {value.algorithm: value.hex}, neighbours)

    def _search(self, queries: dict[str, list[tuple[str, PerceptualHash]]],
                limit: int | None) -> list[Neighbour]:
        k = limit or self.settings.match_limit
        thresholds = {"pdq": self.settings.pdq_threshold, "phash": self.settings.phash_threshold}
        best: dict[int, Neighbour] = {}
        for algo, named in queries.items():
            values = [h for _name, h in named]
            for hit in self.indexes[algo].search(values, k, thresholds[algo]):
                n = Neighbour(hit.media_id, algo, hit.distance, named[hit.query_index][0])
                # PDQ (256 bits) is the stronger witness: prefer it when both found the media.
                current = best.get(hit.media_id)
                if current is None or (current.algorithm == "phash" and algo == "pdq"):
                    best[hit.media_id] = n
        ordered = sorted(best.values(),
                         key=lambda n: (n.distance / (256 if n.algorithm == "pdq" else 64),
                                        n.media_id))
        return ordered[:k]

    def _report(self, sha: str, hexes: dict[str, str],
                neighbours: list[Neighbour]) -> MatchReport:
        ids = [n.media_id for n in neighbours]
        return MatchReport(sha, hexes, tuple(neighbours), self.store.get_media_many(ids),
                           self.store.sightings_for_media(ids))

    # -- batches -------------------------------------------------------------------------------
    def index_paths(
        self,
        paths: Sequence[Path] = (),
        manifest: Path | None = None,
        *,
        workers: int | None = None,
        dask: str | None = None,
        progress: bool | None = None,
        retry_failed: bool = False,
        on_error: Callable[[str, str, str], None] | None = None,
    ) -> BatchSummary:
        """Index files and folders, and/or the files of a sighting manifest.

        Never stops on a bad file. Safe to kill at any moment and run again: files recorded as
        done by an earlier run (same path, size and modification time) are not read again,
        media stored but not yet processed are finished first, and the FAISS indexes catch up
        from the store. ``dask`` names a Dask scheduler (``"local"`` starts a local cluster of
        ``workers`` processes) that does the decoding and hashing instead of local processes.
        """
        started = time.monotonic()
        summary = BatchSummary()
        self.process_pending()
        sightings: dict[str, list[SightingInput]] = {}
        order: list[str] = []

        def want(path: Path) -> str:
            key = os.path.abspath(path)  # a file named twice (folder and manifest) is one task
            if key not in sightings:
                sightings[key] = []
                order.append(key)
            return key

        for path in walk_images(paths):
            want(path)
        if manifest is not None:
            rows, errors = read_manifest(manifest)
            for err in errors:
                self._fail(summary, f"{manifest}:{err.line}", err.code, err.message, on_error)
            for row in rows:
                key = want(row.path)
                if row.sighting is not None:
                    sightings[key].append(row.sighting)
        summary.files = len(order)
        todo = self._skip_unchanged(order, sightings, summary, retry_failed, on_error)
        bar = Progress(len(order), progress)
        bar.step(len(order) - len(todo))
        pending: list[tuple[MediaInput, list[SightingInput], FileState]] = []
        prepared: dict[str, PreparedQuery] = {}  # by SHA-256, until its media is processed
        failed: list[FileState] = []
        for outcome in self._analyze_all(todo, workers, dask):
            bar.step()
            stat = self._stat.get(outcome.path, (0, 0))
            if outcome.media is None:
                self._fail(summary, _shown(outcome.path), outcome.error_code or "error",
                           outcome.error or "", on_error)
                failed.append(FileState(outcome.path, stat[0], stat[1], None, "failed",
                                        outcome.error_code, outcome.error))
                continue
            if outcome.prepared is not None:
                prepared[outcome.media.sha256] = outcome.prepared
            pending.append((outcome.media, sightings[outcome.path],
                            FileState(outcome.path, stat[0], stat[1], outcome.media.sha256,
                                      "done")))
            if len(pending) >= self.settings.batch_size:
                self._flush(pending, summary, prepared)
            if len(failed) >= self.settings.batch_size:
                self.store.record_files(failed)
                failed.clear()
        self._flush(pending, summary, prepared)
        self.store.record_files(failed)
        bar.close()
        if self._indexes is not None:
            self._indexes.catch_up(self.store)
            self._indexes.save()
        summary.seconds = time.monotonic() - started
        return summary

    def _skip_unchanged(self, order: list[str], sightings: dict[str, list[SightingInput]],
                        summary: BatchSummary, retry_failed: bool,
                        on_error: Callable[[str, str, str], None] | None) -> list[str]:
        """Files an earlier run finished (unchanged since) are not read again: their new
        sightings are attached by SHA-256. Returns the files still to analyse."""
        self._stat: dict[str, tuple[int, int]] = {}
        for key in order:
            try:
                st = os.stat(key)
                self._stat[key] = (st.st_size, st.st_mtime_ns)
            except OSError:
                pass
        states = self.store.file_states(order)
        todo: list[str] = []
        for key in order:
            state = states.get(key)
            if state is None or (state.size, state.mtime_ns) != self._stat.get(key):
                todo.append(key)
            elif state.status == "done" and state.sha256:
                summary.already_known += 1
                summary.unchanged += 1
                if sightings[key]:
                    _media, added = self.store.add_sightings(state.sha256, sightings[key])
                    summary.sightings_added += added
                    summary.sightings_known += len(sightings[key]) - added
            elif retry_failed:
                todo.append(key)
            else:
                self._fail(summary, _shown(key), state.error_code or "error",
                           f"{state.error} (failed before; --retry-failed tries again)", on_error)
        return todo

    def process_pending(self) -> int:
        """Finish media that a killed run stored but did not process (families, cut-outs)."""
        if self._matcher is None:
            return 0
        done = 0
        while ids := self.store.pending_media():
            for media_id in ids:
                self._after_ingest(media_id)
            done += len(ids)
        return done

    @staticmethod
    def _fail(summary: BatchSummary, where: str, code: str, message: str,
              on_error: Callable[[str, str, str], None] | None) -> None:
        summary.failed.append((where, code, message))
        if on_error is not None:
            on_error(where, code, message)

    def _flush(self, pending: list[tuple[MediaInput, list[SightingInput], FileState]],
               summary: BatchSummary, prepared: dict[str, PreparedQuery]) -> None:
        if not pending:
            return
        results = self.store.ingest_many([(m, rows) for m, rows, _f in pending])
        for result, (_media, rows, _file) in zip(results, pending, strict=True):
            if result.media_created:
                summary.indexed += 1
            else:
                summary.already_known += 1
            summary.sightings_added += result.sightings_created
            summary.sightings_known += len(rows) - result.sightings_created
        if self._matcher is not None:
            created = [r.media for r in results if r.media_created]
            if self._has_work_after_ingest():
                for media in created:
                    self._after_ingest(media.id, prepared.get(media.sha256))
            else:
                self.store.mark_processed([m.id for m in created])
        for media, _rows, _file in pending:
            prepared.pop(media.sha256, None)
        self.store.record_files([f for _m, _r, f in pending])
        pending.clear()

    def _analyze_all(self, paths: list[str], workers: int | None,
                     dask: str | None = None) -> Iterable[FileOutcome]:
        """Analyse files in order (the order keeps family assignment deterministic)."""
        n = workers if workers is not None else (self.settings.workers or os.cpu_count() or 1)
        tasks = [(p, self.params) for p in paths]
        if dask:
            from memetrack.distributed import analyze_on_dask

            yield from analyze_on_dask(tasks, dask, n)
            return
        if n <= 1 or len(tasks) < 8:
            yield from map(analyze_path, tasks)
            return
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(processes=n) as pool:
            yield from pool.imap(analyze_path, tasks, chunksize=4)

    # -- families ------------------------------------------------------------------------------
    def _pixels(self, media_id: int) -> np.ndarray:
        data = self.store.families.sample(media_id)
        if data is None:
            raise NotFound(f"media {media_id} has no stored sample (MEMETRACK_STORE_SAMPLES was "
                           "off when it was indexed): index its file again", media_id=media_id)
        return fam.decode_sample(data)

    def _represent(self, media_id: int, *, shell: bool = False) -> bytes | None:
        """Compute and store a media's reference representation from its sample.

        A registered blank shell is represented whole, as the matcher was calibrated
        (`memetrack eval shells`); any other representative is itself a meme (captions, panels,
        a screenshot), so it is represented like a query: its core view, caption text masked.
        """
        try:
            pixels = self._pixels(media_id)
        except NotFound:
            return None
        rep = TemplateMatcher(self.settings.matcher).represent(pixels, reference=shell)
        return self._save_representation(media_id, rep)

    def _save_representation(self, media_id: int, rep: Representation) -> bytes:
        blob = fam.pack_representation(rep)
        self.store.families.save_features(media_id, fam.REPRESENTATION_ALGORITHM,
                                          fam.REPRESENTATION_VERSION, "reference", blob)
        return blob

    def _add_reference(self, family_id: int, media_id: int, *, shell: bool = False,
                       rep: Representation | None = None) -> None:
        """Make a media its family's reference: ``rep`` when the caller computed it (the same
        as :meth:`_represent` gives), else represented from its sample."""
        blob = (self._represent(media_id, shell=shell) if rep is None
                else self._save_representation(media_id, rep))
        if blob is not None and self._matcher is not None:  # as stored: a restart sees the same
            self._matcher.add_representation(family_id, fam.unpack_representation(blob))

    def assign_family(self, media_id: int, *,
                      prepared: PreparedQuery | None = None) -> FamilyMember | None:
        """Join the family whose representative the media verifiably matches, or found one.

        Only the representative is compared, never other members, so families cannot chain.
        ``prepared`` is the query side of the match computed from the media's stored sample
        (by a batch worker); without it the sample is read and prepared here.
        """
        repo = self.store.families
        current = repo.membership(media_id)
        if current is not None:
            return current
        if prepared is None:
            try:
                prepared = self.matcher.prepare(self._pixels(media_id))
            except NotFound:
                return None
        rejected = repo.rejected_families(media_id)
        found, own = self.matcher.match_prepared(prepared)
        matches = [m for m in found if m.ref_id not in rejected]
        if not matches:
            family = repo.create(media_id)
            # own is None when it matched only families it must not join
            self._add_reference(family.id, media_id, rep=own)
            return repo.membership(media_id)
        best = matches[0]
        media = self.store.get_media(media_id)
        full = next(h.hash for h in media.hashes
                    if h.view == "full" and h.hash.algorithm == "pdq")
        variant_id, distance = fam.choose_variant(
            full, repo.variant_hashes(best.ref_id, "pdq", 1, "full"), self.settings.pdq_threshold)
        evidence = (fam.match_evidence(best, media.width / prepared.width)
                    | {"variant_pdq_distance": distance})
        return repo.add_member(media_id, best.ref_id, kind=best.kind, score=float(best.score),
                               evidence=evidence, variant_id=variant_id)

    def register_shell(self, data: bytes, *, name: str | None = None,
                       notes: str | None = None) -> Family:
        """Index a known blank shell and make it the representative of a new family."""
        item = self.analyze(data)
        result = self.store.ingest(item)
        if self._indexes is not None:
            self._indexes.catch_up(self.store)
        old = self.store.families.membership(result.media.id)
        family = self.store.families.create(result.media.id, name=name, notes=notes,
                                            registered_shell=True)
        if old is not None:
            self._refresh_family(old.family_id)
        self._add_reference(family.id, result.media.id, shell=True)
        return family

    def _refresh_family(self, family_id: int) -> None:
        """Point the matcher at a family's current representative (or drop an empty family)."""
        if self._matcher is None:
            return
        self._matcher.remove_reference(family_id)
        if self.store.families.is_empty(family_id):
            return
        family = self.store.families.get(family_id)
        if family.id == family_id:
            self._add_reference(family_id, family.representative_media_id,
                                shell=family.registered_shell)

    def rename_family(self, family_id: int, *, name: str | None = None,
                      notes: str | None = None) -> Family:
        return self.store.families.rename(family_id, name=name, notes=notes)

    def merge_families(self, into_id: int, from_id: int) -> Family:
        family = self.store.families.merge(into_id, from_id)
        if self._matcher is not None:
            self._matcher.remove_reference(from_id)
        return family

    def remove_from_family(self, media_id: int, *, wrong_match: bool = False,
                           found_own: bool = True) -> FamilyMember | None:
        """Move a media out of its family. ``wrong_match`` records that the match was wrong, so
        it is never made again; with ``found_own`` the media then founds a family of its own."""
        old_family, _new_rep = self.store.families.remove_member(media_id, reject=wrong_match)
        self._refresh_family(old_family)
        if not found_own:
            return None
        family = self.store.families.create(media_id)
        self._add_reference(family.id, media_id)
        return self.store.families.membership(media_id)

    def rebuild_families(self, progress: bool | None = None) -> int:
        """Forget automatic families and assign every media again, in id order (deterministic).

        Registered shells (with their names) and analysts' wrong-match marks are kept.
        """
        self.store.require_current()
        self.store.families.clear()
        self._matcher = self._load_matcher()
        total = self.store.count_media()
        bar = Progress(total, progress)
        after = 0
        while ids := self.store.media_ids(after):
            for media_id in ids:
                self.assign_family(media_id)
                bar.step()
            after = ids[-1]
        bar.close()
        self.store.families.settle()
        self._matcher = self._load_matcher()
        return self.store.families.count_nonempty()

    def recover_shell(self, family_id: int) -> tuple[np.ndarray, int]:
        """The family's blank shell: its members aligned to the representative, median-combined."""
        family = self.store.families.get(family_id)
        rep = self._pixels(family.representative_media_id)
        if family.registered_shell:
            return rep, 1
        members = [fam.decode_sample(data) for media_id, data in
                   self.store.families.samples(family.id, self.settings.shell_members)
                   if media_id != family.representative_media_id]
        return fam.recover_shell(rep, members, self.settings.matcher)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Memetrack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Memetrack", "BatchSummary", "ManifestError", "analyze_bytes"]
