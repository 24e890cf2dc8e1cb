"""Cut-out and occurrence storage (``store.cutouts``). Returns domain records only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memetrack.cutout_records import (
    AccountSpread,
    Cutout,
    CutoutReport,
    FamilySpread,
    Occurrence,
    PlatformSpread,
)
from memetrack.cutouts import MASK_SIGNATURE_BYTES, mask_distance
from memetrack.errors import NotFound
from memetrack.store.models import (
    AccountRow,
    CutoutBackfillRow,
    CutoutRow,
    FamilyMemberRow,
    FamilyRow,
    FeatureRow,
    MediaRow,
    OccurrenceRow,
    PlatformRow,
    SightingRow,
)

if TYPE_CHECKING:
    from memetrack.store.store import Store

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _occurrence(row: OccurrenceRow) -> Occurrence:
    quad = tuple((float(x), float(y)) for x, y in json.loads(row.quad))
    return Occurrence(row.id, row.cutout_id, row.media_id, quad, float(row.scale),
                      bool(row.mirrored), float(row.score), int(row.inliers),
                      _utc(row.created_at) or _now())


class CutoutRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- cut-outs ------------------------------------------------------------------------------
    @staticmethod
    def _record(session: Session, row: CutoutRow) -> Cutout:
        count = session.scalar(select(func.count()).select_from(OccurrenceRow)
                               .where(OccurrenceRow.cutout_id == row.id)) or 0
        return Cutout(row.id, row.media_id, row.name, row.notes, bytes(row.opaque_pdq).hex(),
                      bytes(row.mask_signature).hex(), _utc(row.created_at) or _now(),
                      int(count))

    @staticmethod
    def _row(session: Session, cutout_id: int) -> CutoutRow:
        row = session.get(CutoutRow, cutout_id)
        if row is None:
            raise NotFound(f"no cut-out with id {cutout_id}", cutout_id=cutout_id)
        return row

    def find_same(self, opaque_pdq: bytes, signature: bytes, *, pdq_threshold: int,
                  mask_threshold: int) -> Cutout | None:
        """The registered cut-out that is the same as this one (opaque PDQ within
        ``pdq_threshold`` and mask signature within ``mask_threshold``), nearest PDQ first."""
        with self.store.session() as session:
            rows = session.execute(select(CutoutRow.id, CutoutRow.opaque_pdq,
                                          CutoutRow.mask_signature).order_by(CutoutRow.id)).all()
            if not rows:
                return None
            query = np.frombuffer(opaque_pdq, np.uint8)
            hashes = np.stack([np.frombuffer(bytes(r[1]), np.uint8) for r in rows])
            pdq = _POPCOUNT[np.bitwise_xor(hashes, query[None, :])].sum(axis=1)
            for i in np.argsort(pdq, kind="stable"):
                if pdq[i] > pdq_threshold:
                    break
                other = bytes(rows[i][2])
                if (len(other) == MASK_SIGNATURE_BYTES
                        and mask_distance(signature, other) <= mask_threshold):
                    return self._record(session, self._row(session, rows[i][0]))
            return None

    def register(self, media_id: int, opaque_pdq: bytes, signature: bytes, *,
                 name: str | None = None, notes: str | None = None, pdq_threshold: int = 31,
                 mask_threshold: int = 16) -> tuple[Cutout, bool]:
        """Register a cut-out, unless the same one is registered already: then that one is
        returned (``created`` False) and, if it had no name or notes, it takes these."""
        with self.store.session() as session:
            row = session.scalar(select(CutoutRow).where(CutoutRow.media_id == media_id)
                                 .order_by(CutoutRow.id).limit(1))
            existing = None if row is None else row.id
        if existing is None:
            same = self.find_same(opaque_pdq, signature, pdq_threshold=pdq_threshold,
                                  mask_threshold=mask_threshold)
            existing = None if same is None else same.id
        with self.store.session() as session:
            if existing is not None:
                row = self._row(session, existing)
                if row.name is None and name:
                    row.name = name
                if row.notes is None and notes:
                    row.notes = notes
                session.flush()
                return self._record(session, row), False
            row = CutoutRow(media_id=media_id, name=name, notes=notes, opaque_pdq=opaque_pdq,
                            mask_signature=signature, created_at=_now())
            session.add(row)
            session.flush()
            return self._record(session, row), True

    def get(self, cutout_id: int) -> Cutout:
        with self.store.session() as session:
            return self._record(session, self._row(session, cutout_id))

    def list(self, limit: int = 100, offset: int = 0) -> list[Cutout]:
        counts = (select(OccurrenceRow.cutout_id, func.count().label("n"))
                  .group_by(OccurrenceRow.cutout_id).subquery())
        with self.store.session() as session:
            rows = session.execute(
                select(CutoutRow, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.cutout_id == CutoutRow.id)
                .order_by(CutoutRow.id).limit(limit).offset(offset)).all()
            return [Cutout(r.id, r.media_id, r.name, r.notes, bytes(r.opaque_pdq).hex(),
                           bytes(r.mask_signature).hex(), _utc(r.created_at) or _now(), int(n))
                    for r, n in rows]

    def ids(self) -> list[int]:
        with self.store.session() as session:
            return list(session.scalars(select(CutoutRow.id).order_by(CutoutRow.id)))

    def count(self) -> int:
        with self.store.session() as session:
            return int(session.scalar(select(func.count()).select_from(CutoutRow)) or 0)

    def by_media(self, media_id: int) -> Cutout | None:
        """The cut-out registered from this media, if any."""
        with self.store.session() as session:
            row = session.scalar(select(CutoutRow).where(CutoutRow.media_id == media_id)
                                 .order_by(CutoutRow.id).limit(1))
            return None if row is None else self._record(session, row)

    def rename(self, cutout_id: int, *, name: str | None = None,
               notes: str | None = None) -> Cutout:
        """Set the name and/or notes (``None`` leaves a field as it is)."""
        with self.store.session() as session:
            row = self._row(session, cutout_id)
            if name is not None:
                row.name = name
            if notes is not None:
                row.notes = notes
            session.flush()
            return self._record(session, row)

    def delete(self, cutout_id: int) -> None:
        """Forget a cut-out and its occurrences (the media it came from stays indexed)."""
        with self.store.session() as session:
            row = self._row(session, cutout_id)
            session.query(OccurrenceRow).filter(OccurrenceRow.cutout_id == cutout_id).delete()
            session.query(CutoutBackfillRow).filter(
                CutoutBackfillRow.cutout_id == cutout_id).delete()
            session.delete(row)

    # -- backfill progress ---------------------------------------------------------------------
    def save_backfill(self, cutout_id: int, *, state: str, done: int, total: int, found: int,
                      after_media_id: int, error: str | None = None) -> None:
        """Record the progress of a cut-out's backfill (its latest one replaces the last)."""
        with self.store.session() as session:
            if session.get(CutoutRow, cutout_id) is None:
                return  # deleted meanwhile: nothing to record
            row = session.get(CutoutBackfillRow, cutout_id)
            if row is None:
                row = CutoutBackfillRow(cutout_id=cutout_id)
                session.add(row)
            row.state, row.done, row.total, row.found = state, done, total, found
            row.after_media_id, row.error, row.updated_at = after_media_id, error, _now()

    def backfill(self, cutout_id: int) -> dict[str, object] | None:
        """The latest backfill's progress (None when there was none)."""
        with self.store.session() as session:
            row = session.get(CutoutBackfillRow, cutout_id)
            if row is None:
                return None
            out: dict[str, object] = {
                "state": row.state, "done": row.done, "total": row.total, "found": row.found,
                "after_media_id": row.after_media_id,
                "updated_at": (_utc(row.updated_at) or _now()).isoformat()}
            if row.error:
                out["error"] = row.error
            return out

    def interrupted_backfills(self) -> list[int]:
        """Cut-outs whose backfill was still running when its process stopped (or is running
        elsewhere now)."""
        with self.store.session() as session:
            return list(session.scalars(select(CutoutBackfillRow.cutout_id)
                                        .where(CutoutBackfillRow.state == "running")
                                        .order_by(CutoutBackfillRow.cutout_id)))

    # -- representations -----------------------------------------------------------------------
    def save_representation(self, media_id: int, algorithm: str, version: int, view: str,
                            data: bytes) -> None:
        with self.store.session() as session:
            row = session.scalar(select(FeatureRow).where(
                FeatureRow.media_id == media_id, FeatureRow.algorithm == algorithm,
                FeatureRow.version == version, FeatureRow.view == view))
            if row is None:
                session.add(FeatureRow(media_id=media_id, algorithm=algorithm, version=version,
                                       view=view, data=data))
            else:
                row.data = data

    def representations(self, algorithm: str, version: int, view: str,
                        cutout_ids: Sequence[int] | None = None) -> dict[int, bytes]:
        """Stored representations of this kind, by cut-out id (cut-outs without one are absent)."""
        stmt = (select(CutoutRow.id, FeatureRow.data)
                .join(FeatureRow, FeatureRow.media_id == CutoutRow.media_id)
                .where(FeatureRow.algorithm == algorithm, FeatureRow.version == version,
                       FeatureRow.view == view))
        if cutout_ids is not None:
            stmt = stmt.where(CutoutRow.id.in_(list(cutout_ids)))
        with self.store.session() as session:
            return {r[0]: bytes(r[1]) for r in session.execute(stmt)}

    # -- occurrences ---------------------------------------------------------------------------
    def add_occurrence(self, cutout_id: int, media_id: int, *,
                       quad: Sequence[Sequence[float]], scale: float, mirrored: bool,
                       score: float, inliers: int) -> tuple[Occurrence, bool]:
        """Record a cut-out found in a media; idempotent per (cut-out, media): a second finding
        replaces the first only when it scores higher. Returns (occurrence, created)."""
        text = json.dumps([[round(float(x), 2), round(float(y), 2)] for x, y in quad])
        with self.store.session() as session:
            self._row(session, cutout_id)
            if session.get(MediaRow, media_id) is None:
                raise NotFound(f"no media with id {media_id}", media_id=media_id)
            row = session.scalar(select(OccurrenceRow).where(
                OccurrenceRow.cutout_id == cutout_id, OccurrenceRow.media_id == media_id))
            if row is not None:
                if score > row.score:
                    row.quad, row.scale, row.mirrored = text, float(scale), bool(mirrored)
                    row.score, row.inliers = float(score), int(inliers)
                    session.flush()
                return _occurrence(row), False
            row = OccurrenceRow(cutout_id=cutout_id, media_id=media_id, quad=text,
                                scale=float(scale), mirrored=bool(mirrored), score=float(score),
                                inliers=int(inliers), created_at=_now())
            session.add(row)
            session.flush()
            return _occurrence(row), True

    def occurrences_in_media(self, media_id: int) -> list[Occurrence]:
        with self.store.session() as session:
            rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.media_id == media_id)
                                   .order_by(OccurrenceRow.score.desc(), OccurrenceRow.id)).all()
            return [_occurrence(r) for r in rows]

    def occurrences(self, cutout_id: int, limit: int = 1000, offset: int = 0) -> list[Occurrence]:
        with self.store.session() as session:
            self._row(session, cutout_id)
            rows = session.scalars(select(OccurrenceRow)
                                   .where(OccurrenceRow.cutout_id == cutout_id)
                                   .order_by(OccurrenceRow.media_id)
                                   .limit(limit).offset(offset)).all()
            return [_occurrence(r) for r in rows]

    # -- report --------------------------------------------------------------------------------
    def report(self, cutout_id: int) -> CutoutReport:
        """Media, families, platforms and accounts where the cut-out appears, first/last seen."""
        when = func.coalesce(SightingRow.posted_at, SightingRow.collected_at)
        occ = select(OccurrenceRow.media_id).where(OccurrenceRow.cutout_id == cutout_id)
        with self.store.session() as session:
            cutout = self._record(session, self._row(session, cutout_id))
            media_ids = tuple(session.scalars(occ.order_by(OccurrenceRow.media_id)))
            families = tuple(
                FamilySpread(int(fid), name, int(n)) for fid, name, n in session.execute(
                    select(FamilyMemberRow.family_id, FamilyRow.name, func.count())
                    .join(FamilyRow, FamilyRow.id == FamilyMemberRow.family_id)
                    .where(FamilyMemberRow.media_id.in_(occ))
                    .group_by(FamilyMemberRow.family_id, FamilyRow.name)
                    .order_by(func.count().desc(), FamilyMemberRow.family_id)))
            platforms = tuple(
                PlatformSpread(name, int(n), int(m), _utc(first), _utc(last))
                for name, n, m, first, last in session.execute(
                    select(PlatformRow.name, func.count(SightingRow.id),
                           func.count(func.distinct(SightingRow.media_id)),
                           func.min(when), func.max(when))
                    .join(PlatformRow, PlatformRow.id == SightingRow.platform_id)
                    .where(SightingRow.media_id.in_(occ))
                    .group_by(PlatformRow.name)
                    .order_by(func.min(when), PlatformRow.name)))
            accounts = tuple(
                AccountSpread(platform, handle, int(n), int(m), _utc(first), _utc(last))
                for platform, handle, n, m, first, last in session.execute(
                    select(PlatformRow.name, AccountRow.handle, func.count(SightingRow.id),
                           func.count(func.distinct(SightingRow.media_id)),
                           func.min(when), func.max(when))
                    .join(AccountRow, AccountRow.id == SightingRow.account_id)
                    .join(PlatformRow, PlatformRow.id == SightingRow.platform_id)
                    .where(SightingRow.media_id.in_(occ))
                    .group_by(PlatformRow.name, AccountRow.handle)
                    .order_by(func.min(when), PlatformRow.name, AccountRow.handle)))
            total, first, last = session.execute(
                select(func.count(SightingRow.id), func.min(when), func.max(when))
                .where(SightingRow.media_id.in_(occ))).one()
        return CutoutReport(cutout, media_ids, families, platforms, accounts, int(total or 0),
                            _utc(first), _utc(last))
