"""The storage interface over SQLAlchemy: SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from memetrack.config import Settings
from memetrack.errors import NotFound, StoreError
from memetrack.hashing import PerceptualHash
from memetrack.records import (
    IngestResult,
    Media,
    MediaInput,
    Sighting,
    SightingInput,
    StoredHash,
)
from memetrack.store import migrate
from memetrack.store.coposts import mark_stale, sighting_items
from memetrack.store.models import (
    AccountRow,
    FamilyMemberRow,
    HashRow,
    IndexFileRow,
    MediaRow,
    PlatformRow,
    SampleRow,
    SightingRow,
)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@dataclass(frozen=True)
class FileState:
    """A batch run's record of one file."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None
    status: str  # done | failed
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class HashBatch:
    """Rows of one hash kind after a checkpoint, for index catch-up."""

    ids: list[int]  # hash row ids (the checkpoint key)
    media_ids: list[int]
    bits: list[bytes]


class Store:
    """Everything memetrack keeps. Methods take and return domain records."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        from memetrack.store.cutouts import CutoutRepo
        from memetrack.store.families import FamilyRepo

        self.families = FamilyRepo(self)
        self.cutouts = CutoutRepo(self)

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self) -> None:
        migrate.upgrade(self.engine)

    def schema_revision(self) -> str | None:
        try:
            return migrate.current_revision(self.engine)
        except OperationalError as exc:
            raise StoreError(f"cannot reach the store: {exc.orig}") from None

    def is_current(self) -> bool:
        return self.schema_revision() == migrate.head_revision()

    def require_current(self) -> None:
        rev = self.schema_revision()
        if rev != migrate.head_revision():
            raise StoreError(
                f"the store is at schema revision {rev or 'none'}, not {migrate.head_revision()}: "
                "run `memetrack db upgrade`",
                revision=rev,
            )

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    # -- writes --------------------------------------------------------------------------------
    def ingest(self, item: MediaInput, sightings: Sequence[SightingInput] = ()) -> IngestResult:
        return self.ingest_many([(item, sightings)])[0]

    def ingest_many(
        self, items: Sequence[tuple[MediaInput, Sequence[SightingInput]]]
    ) -> list[IngestResult]:
        """Add media (idempotent on SHA-256) with their sightings (idempotent on their key).

        One transaction for the whole batch; a concurrent writer that inserts the same media or
        sighting first is tolerated (the existing row is used).
        """
        for attempt in range(3):
            try:
                with self.session() as session:
                    return self._ingest_batch(session, items)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _ingest_batch(
        self, session: Session, items: Sequence[tuple[MediaInput, Sequence[SightingInput]]]
    ) -> list[IngestResult]:
        # One SELECT for the known media and batched INSERTs for the new ones (media, then their
        # hashes and samples) instead of a round trip per row.
        wanted = {item.sha256 for item, _s in items}
        known = {row.sha256: row for row in session.scalars(
            select(MediaRow).where(MediaRow.sha256.in_(wanted)))}
        new: dict[str, tuple[MediaInput, MediaRow]] = {}
        for item, _s in items:
            if item.sha256 not in known and item.sha256 not in new:
                row = MediaRow(
                    sha256=item.sha256, format=item.format, width=item.width,
                    height=item.height, byte_size=item.byte_size, has_alpha=item.has_alpha,
                    frames=item.frames, created_at=_now(),
                )
                session.add(row)
                new[item.sha256] = (item, row)
        session.flush()
        hash_rows: dict[int, list[HashRow]] = {}
        for item, row in new.values():
            hash_rows[row.id] = [
                HashRow(media_id=row.id, algorithm=value.algorithm, version=value.version,
                        view=view, bits=value.bits, quality=quality)
                for view, value, quality in item.hashes
            ]
            session.add_all(hash_rows[row.id])
            if item.sample is not None:
                fmt, (w, h) = _image_size(item.sample)
                session.add(SampleRow(media_id=row.id, format=fmt, width=w, height=h,
                                      data=item.sample))
        session.flush()
        results: list[IngestResult] = []
        reported: set[str] = set()
        for item, sightings in items:
            created = item.sha256 in new and item.sha256 not in reported
            reported.add(item.sha256)
            row = known[item.sha256] if item.sha256 in known else new[item.sha256][1]
            added = 0
            out: list[Sighting] = []
            for sighting in sightings:
                record, was_new = self._add_sighting(session, row.id, item.sha256, sighting)
                out.append(record)
                added += was_new
            media = self._media(session, row, hash_rows.get(row.id))
            results.append(IngestResult(media, created, tuple(out), added))
        session.flush()
        return results

    def add_sightings(self, sha256: str, sightings: Sequence[SightingInput]) -> tuple[Media, int]:
        """Attach sightings to an already indexed media (by SHA-256); returns (media, added)."""
        with self.session() as session:
            row = session.scalar(select(MediaRow).where(MediaRow.sha256 == sha256))
            if row is None:
                raise NotFound(f"no media with sha256 {sha256}", sha256=sha256)
            added = sum(self._add_sighting(session, row.id, sha256, s)[1] for s in sightings)
            return self._media(session, row), added

    def _platform(self, session: Session, name: str, when: datetime | None) -> PlatformRow:
        row = session.scalar(select(PlatformRow).where(PlatformRow.name == name))
        if row is None:
            row = PlatformRow(name=name, sighting_count=0)
            session.add(row)
            session.flush()
        _touch(row, when)
        return row

    def _account(self, session: Session, platform: PlatformRow, handle: str,
                 when: datetime | None) -> AccountRow:
        row = session.scalar(select(AccountRow).where(AccountRow.platform_id == platform.id,
                                                      AccountRow.handle == handle))
        if row is None:
            row = AccountRow(platform_id=platform.id, handle=handle, sighting_count=0)
            session.add(row)
            session.flush()
        _touch(row, when)
        return row

    def _add_sighting(self, session: Session, media_id: int, sha256: str,
                      sighting: SightingInput) -> tuple[Sighting, bool]:
        key = sighting.dedupe_key(sha256)
        existing = session.scalar(select(SightingRow).where(SightingRow.dedupe_key == key))
        if existing is not None:
            return self._sighting(session, existing), False
        when = sighting.posted_at or sighting.collected_at
        platform = self._platform(session, sighting.platform, when)
        account = (self._account(session, platform, sighting.account, when)
                   if sighting.account else None)
        row = SightingRow(
            media_id=media_id, platform_id=platform.id,
            account_id=account.id if account else None, post_id=sighting.post_id,
            url=sighting.url, posted_at=sighting.posted_at, collected_at=sighting.collected_at,
            text=sighting.text, dedupe_key=key, created_at=_now(),
        )
        row.family_key, row.variant_key = item_keys(session, media_id)
        if row.account_id is not None and row.posted_at is not None:  # it can co-post
            mark_stale(session, sighting_items(media_id, row.family_key, row.variant_key))
        session.add(row)
        session.flush()
        return self._sighting(session, row, platform.name,
                              account.handle if account else None), True

    # -- reads ---------------------------------------------------------------------------------
    def _media(self, session: Session, row: MediaRow,
               hashes: Sequence[HashRow] | None = None) -> Media:
        if hashes is None:
            hashes = session.scalars(select(HashRow).where(HashRow.media_id == row.id)
                                     .order_by(HashRow.id)).all()
        return Media(
            id=row.id, sha256=row.sha256, format=row.format, width=row.width, height=row.height,
            byte_size=row.byte_size, has_alpha=row.has_alpha, frames=row.frames,
            created_at=_utc(row.created_at) or _now(),
            hashes=tuple(
                StoredHash(h.id, h.media_id, h.view,
                           PerceptualHash(h.algorithm, h.version, bytes(h.bits)), h.quality)
                for h in hashes
            ),
        )

    def _sighting(self, session: Session, row: SightingRow, platform: str | None = None,
                  account: str | None = None) -> Sighting:
        if platform is None:
            platform = session.scalar(select(PlatformRow.name)
                                      .where(PlatformRow.id == row.platform_id))
        if account is None and row.account_id is not None:
            account = session.scalar(select(AccountRow.handle)
                                     .where(AccountRow.id == row.account_id))
        return Sighting(
            id=row.id, media_id=row.media_id, platform=platform or "", account=account,
            post_id=row.post_id, url=row.url, posted_at=_utc(row.posted_at),
            collected_at=_utc(row.collected_at), text=row.text,
        )

    def get_media(self, media_id: int) -> Media:
        with self.session() as session:
            row = session.get(MediaRow, media_id)
            if row is None:
                raise NotFound(f"no media with id {media_id}", media_id=media_id)
            return self._media(session, row)

    def find_media_by_sha256(self, sha256: str) -> Media | None:
        with self.session() as session:
            row = session.scalar(select(MediaRow).where(MediaRow.sha256 == sha256))
            return None if row is None else self._media(session, row)

    def get_media_many(self, media_ids: Iterable[int]) -> dict[int, Media]:
        ids = sorted(set(media_ids))
        if not ids:
            return {}
        with self.session() as session:
            rows = session.scalars(select(MediaRow).where(MediaRow.id.in_(ids))).all()
            return {r.id: self._media(session, r) for r in rows}

    def sightings_for_media(self, media_ids: Iterable[int]) -> dict[int, tuple[Sighting, ...]]:
        ids = sorted(set(media_ids))
        out: dict[int, list[Sighting]] = {i: [] for i in ids}
        if not ids:
            return {}
        stmt = (
            select(SightingRow, PlatformRow.name, AccountRow.handle)
            .join(PlatformRow, PlatformRow.id == SightingRow.platform_id)
            .outerjoin(AccountRow, AccountRow.id == SightingRow.account_id)
            .where(SightingRow.media_id.in_(ids))
            .order_by(SightingRow.media_id, SightingRow.posted_at, SightingRow.id)
        )
        with self.session() as session:
            for row, platform, handle in session.execute(stmt):
                out[row.media_id].append(self._sighting(session, row, platform, handle))
        return {k: tuple(v) for k, v in out.items()}

    def count_media(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(MediaRow)) or 0)

    def media_ids(self, after_id: int = 0, limit: int = 10_000) -> list[int]:
        """Media ids in id order (for rebuilds and backfills, page by page)."""
        with self.session() as session:
            return list(session.scalars(select(MediaRow.id).where(MediaRow.id > after_id)
                                        .order_by(MediaRow.id).limit(limit)))

    # -- batch-indexing state -------------------------------------------------------------------
    def file_states(self, paths: Sequence[str]) -> dict[str, FileState]:
        """What earlier runs recorded for these paths."""
        out: dict[str, FileState] = {}
        with self.session() as session:
            for start in range(0, len(paths), 500):
                chunk = list(paths[start:start + 500])
                for row in session.scalars(select(IndexFileRow)
                                           .where(IndexFileRow.path.in_(chunk))):
                    out[row.path] = FileState(row.path, row.size, row.mtime_ns, row.sha256,
                                              row.status, row.error_code, row.error)
        return out

    def record_files(self, states: Sequence[FileState]) -> None:
        """Remember what a run did with each file (insert or update by path)."""
        if not states:
            return
        now = _now()
        with self.session() as session:
            existing = {r.path: r for r in session.scalars(select(IndexFileRow).where(
                IndexFileRow.path.in_([s.path for s in states])))}
            for st in states:
                row = existing.get(st.path)
                if row is None:
                    row = IndexFileRow(path=st.path)
                    session.add(row)
                    existing[st.path] = row
                row.size, row.mtime_ns, row.sha256 = st.size, st.mtime_ns, st.sha256
                row.status, row.error_code, row.error = st.status, st.error_code, st.error
                row.updated_at = now

    def failed_files(self, limit: int = 1000) -> list[FileState]:
        with self.session() as session:
            rows = session.scalars(select(IndexFileRow).where(IndexFileRow.status == "failed")
                                   .order_by(IndexFileRow.path).limit(limit)).all()
            return [FileState(r.path, r.size, r.mtime_ns, r.sha256, r.status, r.error_code,
                              r.error) for r in rows]

    def pending_media(self, limit: int = 1000) -> list[int]:
        """Media stored but not yet processed (family assignment, cut-out detection)."""
        with self.session() as session:
            return list(session.scalars(select(MediaRow.id).where(MediaRow.processed.is_(False))
                                        .order_by(MediaRow.id).limit(limit)))

    def mark_processed(self, media_ids: Sequence[int]) -> None:
        if media_ids:
            with self.session() as session:
                session.execute(update(MediaRow).where(MediaRow.id.in_(list(media_ids)))
                                .values(processed=True))

    def count_sightings(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(SightingRow)) or 0)

    def hashes_after(self, algorithm: str, version: int, view: str, after_id: int,
                     limit: int = 50_000) -> HashBatch:
        """Hash rows of one kind with id > ``after_id``, in id order (index catch-up)."""
        stmt = (
            select(HashRow.id, HashRow.media_id, HashRow.bits)
            .where(HashRow.algorithm == algorithm, HashRow.version == version,
                   HashRow.view == view, HashRow.id > after_id)
            .order_by(HashRow.id)
            .limit(limit)
        )
        with self.session() as session:
            rows = session.execute(stmt).all()
        return HashBatch([r[0] for r in rows], [r[1] for r in rows], [bytes(r[2]) for r in rows])


def item_keys(session: Session, media_id: int) -> tuple[int, int]:
    """(family key, variant key) of a media's sightings: its family (variant) id, or minus the
    media id while it has none (``sightings.family_key``/``variant_key``)."""
    member = session.get(FamilyMemberRow, media_id)
    if member is None:
        return -media_id, -media_id
    return member.family_id, (member.variant_id if member.variant_id is not None else -media_id)


def _touch(row: PlatformRow | AccountRow, when: datetime | None) -> None:
    row.sighting_count = (row.sighting_count or 0) + 1
    if when is None:
        return
    first, last = _utc(row.first_seen_at), _utc(row.last_seen_at)
    if first is None or when < first:
        row.first_seen_at = when
    if last is None or when > last:
        row.last_seen_at = when


def _image_size(data: bytes) -> tuple[str, tuple[int, int]]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return (im.format or "").lower(), im.size


def open_store(settings: Settings) -> Store:
    return Store(settings.resolved_database_url)
