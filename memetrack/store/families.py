"""Family, variant and curation storage (``store.families``). Returns domain records only."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from memetrack.errors import Conflict, NotFound
from memetrack.records import Family, FamilyMember
from memetrack.store.coposts import (
    mark_all_stale,
    mark_media_stale,
    mark_stale,
    sighting_items,
)
from memetrack.store.models import (
    CoPostLinkRow,
    CoPostRow,
    FamilyMemberRow,
    FamilyRow,
    FeatureRow,
    HashRow,
    MediaRow,
    RejectedMatchRow,
    SampleRow,
    SightingRow,
    VariantRow,
)
from memetrack.store.store import item_keys

if TYPE_CHECKING:
    from memetrack.store.store import Store


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class FamilyRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reads ---------------------------------------------------------------------------------
    def _resolve(self, session: Session, family_id: int) -> FamilyRow:
        """The family, following merges to the surviving one (ids stay valid after a merge)."""
        seen: set[int] = set()
        row = session.get(FamilyRow, family_id)
        while row is not None and row.merged_into_id is not None and row.id not in seen:
            seen.add(row.id)
            row = session.get(FamilyRow, row.merged_into_id)
        if row is None:
            raise NotFound(f"no family with id {family_id}", family_id=family_id)
        return row

    def _record(self, session: Session, row: FamilyRow) -> Family:
        members = session.scalar(select(func.count()).select_from(FamilyMemberRow)
                                 .where(FamilyMemberRow.family_id == row.id)) or 0
        variants = session.scalar(select(func.count()).select_from(VariantRow)
                                  .where(VariantRow.family_id == row.id)) or 0
        return Family(row.id, row.name, row.notes, row.representative_media_id,
                      row.registered_shell, int(members), int(variants), _utc(row.created_at),
                      _utc(row.updated_at))

    def get(self, family_id: int) -> Family:
        with self.store.session() as session:
            return self._record(session, self._resolve(session, family_id))

    def list(self, limit: int = 100, offset: int = 0) -> list[Family]:
        with self.store.session() as session:
            rows = session.scalars(select(FamilyRow).where(FamilyRow.merged_into_id.is_(None))
                                   .order_by(FamilyRow.id).limit(limit).offset(offset)).all()
            return [self._record(session, r) for r in rows]

    def count(self) -> int:
        with self.store.session() as session:
            return int(session.scalar(select(func.count()).select_from(FamilyRow)
                                      .where(FamilyRow.merged_into_id.is_(None))) or 0)

    def count_nonempty(self) -> int:
        with self.store.session() as session:
            return int(session.scalar(select(func.count(func.distinct(
                FamilyMemberRow.family_id)))) or 0)

    def membership(self, media_id: int) -> FamilyMember | None:
        with self.store.session() as session:
            row = session.get(FamilyMemberRow, media_id)
            return None if row is None else _member(row)

    def members(self, family_id: int, limit: int = 1000, offset: int = 0) -> list[FamilyMember]:
        with self.store.session() as session:
            fam = self._resolve(session, family_id)
            rows = session.scalars(select(FamilyMemberRow)
                                   .where(FamilyMemberRow.family_id == fam.id)
                                   .order_by(FamilyMemberRow.created_at, FamilyMemberRow.media_id)
                                   .limit(limit).offset(offset)).all()
            return [_member(r) for r in rows]

    def representatives(self) -> list[tuple[int, int]]:
        """(family id, representative media id) of every live family."""
        with self.store.session() as session:
            has_members = select(FamilyMemberRow.family_id).where(
                FamilyMemberRow.media_id == FamilyRow.representative_media_id,
                FamilyMemberRow.family_id == FamilyRow.id).exists()
            return [(r[0], r[1]) for r in session.execute(
                select(FamilyRow.id, FamilyRow.representative_media_id)
                .where(FamilyRow.merged_into_id.is_(None), has_members).order_by(FamilyRow.id))]

    def rejected_families(self, media_id: int) -> set[int]:
        """Families the media must not join: those holding a media it was separated from."""
        with self.store.session() as session:
            return self._rejected_families(session, media_id)

    @staticmethod
    def _rejected_families(session: Session, media_id: int) -> set[int]:
        others = select(RejectedMatchRow.other_media_id).where(
            RejectedMatchRow.media_id == media_id).union(
            select(RejectedMatchRow.media_id).where(RejectedMatchRow.other_media_id == media_id))
        return set(session.scalars(select(FamilyMemberRow.family_id)
                                   .where(FamilyMemberRow.media_id.in_(others))))

    def variant_hashes(self, family_id: int, algorithm: str, version: int,
                       view: str) -> list[tuple[int, bytes]]:
        """(variant id, hash bits of its representative) of a family's variants."""
        with self.store.session() as session:
            rows = session.execute(
                select(VariantRow.id, HashRow.bits)
                .join(HashRow, HashRow.media_id == VariantRow.representative_media_id)
                .where(VariantRow.family_id == family_id, HashRow.algorithm == algorithm,
                       HashRow.version == version, HashRow.view == view)
                .order_by(VariantRow.id)).all()
            return [(r[0], bytes(r[1])) for r in rows]

    # -- writes --------------------------------------------------------------------------------
    def create(self, representative_media_id: int, *, name: str | None = None,
               notes: str | None = None, registered_shell: bool = False,
               evidence: dict[str, Any] | None = None) -> Family:
        """A new family whose representative (and first member) is the given media."""
        with self.store.session() as session:
            if session.get(MediaRow, representative_media_id) is None:
                raise NotFound(f"no media with id {representative_media_id}")
            existing = session.get(FamilyMemberRow, representative_media_id)
            if existing is not None:
                self._remove_member(session, existing)
            now = _now()
            fam = self._dormant(session, representative_media_id) if not registered_shell else None
            if fam is None:
                fam = FamilyRow(name=name, notes=notes,
                                representative_media_id=representative_media_id,
                                registered_shell=registered_shell, created_at=now, updated_at=now)
                session.add(fam)
            else:  # the same representative founds its family again: the id stays
                fam.updated_at = now
            session.flush()
            variant = VariantRow(family_id=fam.id, representative_media_id=representative_media_id,
                                 created_at=now)
            session.add(variant)
            session.flush()
            session.add(FamilyMemberRow(media_id=representative_media_id, family_id=fam.id,
                                        variant_id=variant.id, kind="representative", score=1.0,
                                        evidence=json.dumps(evidence or {}), created_at=now))
            session.flush()
            _sync_sightings(session, representative_media_id)
            return self._record(session, fam)

    @staticmethod
    def _dormant(session: Session, media_id: int) -> FamilyRow | None:
        """An earlier, now empty family founded by this media (reused to keep ids stable)."""
        has_members = select(FamilyMemberRow.media_id).where(
            FamilyMemberRow.family_id == FamilyRow.id).exists()
        return session.scalars(select(FamilyRow).where(
            FamilyRow.representative_media_id == media_id, FamilyRow.merged_into_id.is_(None),
            ~has_members).order_by(FamilyRow.id)).first()

    def add_member(self, media_id: int, family_id: int, *, kind: str, score: float,
                   evidence: dict[str, Any], variant_id: int | None) -> FamilyMember:
        """Join a family (a new variant is created when ``variant_id`` is None)."""
        with self.store.session() as session:
            fam = self._resolve(session, family_id)
            if fam.id in self._rejected_families(session, media_id):
                raise Conflict(f"media {media_id} was marked as not of family {fam.id}")
            existing = session.get(FamilyMemberRow, media_id)
            if existing is not None:
                self._remove_member(session, existing)
            now = _now()
            if variant_id is None:
                variant = VariantRow(family_id=fam.id, representative_media_id=media_id,
                                     created_at=now)
                session.add(variant)
                session.flush()
                variant_id = variant.id
            row = FamilyMemberRow(media_id=media_id, family_id=fam.id, variant_id=variant_id,
                                  kind=kind, score=score, evidence=json.dumps(evidence),
                                  created_at=now)
            session.add(row)
            fam.updated_at = now
            session.flush()
            _sync_sightings(session, media_id)
            return _member(row)

    def rename(self, family_id: int, *, name: str | None = None,
               notes: str | None = None) -> Family:
        with self.store.session() as session:
            fam = self._resolve(session, family_id)
            if name is not None:
                fam.name = name.strip() or None
            if notes is not None:
                fam.notes = notes.strip() or None
            fam.updated_at = _now()
            session.flush()
            return self._record(session, fam)

    def merge(self, into_id: int, from_id: int) -> Family:
        """Move every member and variant of ``from_id`` into ``into_id``; ``from_id`` then
        resolves to ``into_id``."""
        with self.store.session() as session:
            into = self._resolve(session, into_id)
            src = self._resolve(session, from_id)
            if into.id == src.id:
                raise Conflict("cannot merge a family into itself")
            self._merge(session, into, src)
            return self._record(session, into)

    @staticmethod
    def _merge(session: Session, into: FamilyRow, src: FamilyRow) -> None:
        session.execute(update(VariantRow).where(VariantRow.family_id == src.id)
                        .values(family_id=into.id))
        session.execute(update(FamilyMemberRow).where(FamilyMemberRow.family_id == src.id)
                        .values(family_id=into.id))
        session.execute(update(SightingRow).where(SightingRow.family_key == src.id)
                        .values(family_key=into.id)
                        .execution_options(synchronize_session=False))
        mark_stale(session, [("family", src.id), ("family", into.id)])
        session.execute(update(FamilyMemberRow)
                        .where(FamilyMemberRow.media_id == src.representative_media_id,
                               FamilyMemberRow.family_id == into.id)
                        .values(kind="manual"))
        src.merged_into_id = into.id
        into.updated_at = src.updated_at = _now()
        if src.name and not into.name:
            into.name = src.name
        session.flush()

    def remove_member(self, media_id: int, *, reject: bool) -> tuple[int, int | None]:
        """Take a media out of its family; with ``reject`` it never joins that family again.

        Returns (old family id, its new representative id if the representative was removed;
        None when the family is now empty or kept its representative).
        """
        with self.store.session() as session:
            row = session.get(FamilyMemberRow, media_id)
            if row is None:
                raise NotFound(f"media {media_id} is in no family", media_id=media_id)
            family_id = row.family_id
            fam = session.get(FamilyRow, family_id)
            other = fam.representative_media_id if fam is not None else None
            if (reject and other is not None and other != media_id
                    and session.get(RejectedMatchRow, (media_id, other)) is None):
                session.add(RejectedMatchRow(media_id=media_id, other_media_id=other,
                                             created_at=_now()))
            new_rep = self._remove_member(session, row)
            return family_id, new_rep

    def _remove_member(self, session: Session, row: FamilyMemberRow) -> int | None:
        fam = session.get(FamilyRow, row.family_id)
        variant_id = row.variant_id
        session.delete(row)
        session.flush()
        _sync_sightings(session, row.media_id)
        if variant_id is not None:
            variant = session.get(VariantRow, variant_id)
            left = session.scalars(select(FamilyMemberRow.media_id)
                                   .where(FamilyMemberRow.variant_id == variant_id)
                                   .order_by(FamilyMemberRow.created_at,
                                             FamilyMemberRow.media_id)).first()
            if variant is not None and left is None:
                session.delete(variant)
            elif variant is not None and variant.representative_media_id == row.media_id:
                variant.representative_media_id = left
        new_rep = None
        if fam is not None and fam.representative_media_id == row.media_id:
            nxt = session.scalars(select(FamilyMemberRow.media_id)
                                  .where(FamilyMemberRow.family_id == fam.id)
                                  .order_by(FamilyMemberRow.created_at,
                                            FamilyMemberRow.media_id)).first()
            if nxt is not None:
                fam.representative_media_id = nxt
                new_rep = nxt
                session.execute(update(FamilyMemberRow).where(FamilyMemberRow.media_id == nxt)
                                .values(kind="representative"))
        if fam is not None:
            fam.updated_at = _now()
        session.flush()
        return new_rep

    def is_empty(self, family_id: int) -> bool:
        with self.store.session() as session:
            return not session.scalar(select(func.count()).select_from(FamilyMemberRow)
                                      .where(FamilyMemberRow.family_id == family_id))

    def clear(self) -> None:
        """Forget every automatic membership (for a rebuild).

        Family rows stay, so a family whose representative founds a family again keeps its id;
        registered shells, analysts' merges and wrong-match marks are kept.
        """
        with self.store.session() as session:
            shells = select(FamilyRow.id).where(FamilyRow.registered_shell.is_(True))
            session.execute(delete(FamilyMemberRow).where(
                (FamilyMemberRow.kind != "representative")
                | FamilyMemberRow.family_id.not_in(shells)))
            session.execute(delete(VariantRow).where(VariantRow.id.not_in(
                select(FamilyMemberRow.variant_id).where(FamilyMemberRow.variant_id.is_not(None)))))
            # the sightings of media left without a family stand for their media again
            kept = select(FamilyMemberRow.media_id)
            session.execute(update(SightingRow)
                            .where(SightingRow.family_key > 0, SightingRow.media_id.not_in(kept))
                            .values(family_key=-SightingRow.media_id,
                                    variant_key=-SightingRow.media_id)
                            .execution_options(synchronize_session=False))
            # and every family and variant's co-posting pairs are recomputed
            for model in (CoPostRow, CoPostLinkRow):
                session.execute(delete(model).where(model.level.in_(("family", "variant"))))
            mark_all_stale(session, ("family", "variant"))

    def settle(self) -> None:
        """After a rebuild: re-apply analysts' merges, and let each family left empty resolve to
        the family that now holds its representative."""
        with self.store.session() as session:
            for row in session.scalars(select(FamilyRow).where(
                    FamilyRow.merged_into_id.is_not(None)).order_by(FamilyRow.id)).all():
                target = self._resolve(session, row.id)
                src_member = session.get(FamilyMemberRow, row.representative_media_id)
                dst_member = session.get(FamilyMemberRow, target.representative_media_id)
                if (src_member is not None and dst_member is not None
                        and src_member.family_id != dst_member.family_id):
                    self._merge(session, session.get(FamilyRow, dst_member.family_id),
                                session.get(FamilyRow, src_member.family_id))
            for row in session.scalars(select(FamilyRow).where(
                    FamilyRow.merged_into_id.is_(None)).order_by(FamilyRow.id)).all():
                has_members = session.scalar(select(func.count()).select_from(FamilyMemberRow)
                                             .where(FamilyMemberRow.family_id == row.id))
                holder = session.get(FamilyMemberRow, row.representative_media_id)
                if not has_members and holder is not None and holder.family_id != row.id:
                    row.merged_into_id = holder.family_id

    # -- stored representations and samples ----------------------------------------------------
    def save_features(self, media_id: int, algorithm: str, version: int, view: str,
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

    def features(self, media_ids: Iterable[int], algorithm: str, version: int,
                 view: str) -> dict[int, bytes]:
        ids = sorted(set(media_ids))
        if not ids:
            return {}
        with self.store.session() as session:
            rows = session.execute(select(FeatureRow.media_id, FeatureRow.data).where(
                FeatureRow.media_id.in_(ids), FeatureRow.algorithm == algorithm,
                FeatureRow.version == version, FeatureRow.view == view)).all()
            return {r[0]: bytes(r[1]) for r in rows}

    def save_sample(self, media_id: int, fmt: str, width: int, height: int, data: bytes) -> None:
        with self.store.session() as session:
            if session.get(SampleRow, media_id) is None:
                session.add(SampleRow(media_id=media_id, format=fmt, width=width, height=height,
                                      data=data))

    def sample_count(self, family_id: int) -> int:
        with self.store.session() as session:
            return int(session.scalar(
                select(func.count()).select_from(SampleRow)
                .join(FamilyMemberRow, FamilyMemberRow.media_id == SampleRow.media_id)
                .where(FamilyMemberRow.family_id == family_id)) or 0)

    def samples(self, family_id: int, limit: int) -> list[tuple[int, bytes]]:
        """(media id, encoded image) of up to ``limit`` members with a stored sample."""
        with self.store.session() as session:
            fam = self._resolve(session, family_id)
            rows = session.execute(
                select(SampleRow.media_id, SampleRow.data)
                .join(FamilyMemberRow, FamilyMemberRow.media_id == SampleRow.media_id)
                .where(FamilyMemberRow.family_id == fam.id)
                .order_by(FamilyMemberRow.created_at, SampleRow.media_id).limit(limit)).all()
            return [(r[0], bytes(r[1])) for r in rows]

    def sample(self, media_id: int) -> bytes | None:
        with self.store.session() as session:
            row = session.get(SampleRow, media_id)
            return None if row is None else bytes(row.data)


def _sync_sightings(session: Session, media_id: int) -> None:
    """Copy a media's (new) membership onto its sightings' item keys; the items it leaves and
    joins need their co-posting pairs recomputed."""
    mark_media_stale(session, media_id)
    family_key, variant_key = item_keys(session, media_id)
    mark_stale(session, sighting_items(media_id, family_key, variant_key)[:2])
    session.execute(update(SightingRow).where(SightingRow.media_id == media_id)
                    .values(family_key=family_key, variant_key=variant_key)
                    .execution_options(synchronize_session=False))


def _member(row: FamilyMemberRow) -> FamilyMember:
    return FamilyMember(row.media_id, row.family_id, row.variant_id, row.kind, float(row.score),
                        json.loads(row.evidence) if row.evidence else {}, _utc(row.created_at))
