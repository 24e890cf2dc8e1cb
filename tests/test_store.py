"""The store on SQLite and PostgreSQL: migrations, idempotent ingest, accounts and platforms."""

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from memetrack.errors import BadMetadata, NotFound, StoreError
from memetrack.hashing import PerceptualHash
from memetrack.records import MediaInput, SightingInput
from memetrack.store import Store, migrate
from memetrack.store.models import Base


def media(n: int) -> MediaInput:
    pdq = PerceptualHash("pdq", 1, bytes([n]) * 32)
    ph = PerceptualHash("phash", 1, bytes([n]) * 8)
    return MediaInput(f"{n:064x}", "png", 100 + n, 50, 1234, False, 1,
                      (("full", pdq, 90), ("full", ph, 100)))


def sighting(**kw: object) -> SightingInput:
    row = {"platform": "X", "account": "alice", "post_id": "p1",
           "posted_at": "2026-03-01T12:00:00+01:00"} | kw
    s = SightingInput.from_mapping(row)
    assert s is not None
    return s


def test_migrations_match_the_models(database_url: str) -> None:
    store = Store(database_url)
    assert store.schema_revision() is None
    with pytest.raises(StoreError, match="db upgrade"):
        store.require_current()
    store.upgrade()
    assert store.is_current()
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []
    migrate.downgrade(store.engine, "base")
    assert store.schema_revision() is None
    store.upgrade()
    assert store.is_current()
    store.close()


def test_ingest_is_idempotent(store: Store) -> None:
    first = store.ingest(media(1), [sighting()])
    again = store.ingest(media(1), [sighting()])
    assert first.media_created and not again.media_created
    assert first.sightings_created == 1 and again.sightings_created == 0
    assert first.media.id == again.media.id
    assert store.count_media() == 1 and store.count_sightings() == 1
    loaded = store.get_media(first.media.id)
    assert {h.hash.algorithm for h in loaded.hashes} == {"pdq", "phash"}
    assert loaded.hashes[0].hash == media(1).hashes[0][1]


def test_sighting_fields_and_utc(store: Store) -> None:
    result = store.ingest(media(2), [sighting(url="https://x.example/p1", text="look at this",
                                              collected_at="2026-03-02T00:00:00Z")])
    s = store.sightings_for_media([result.media.id])[result.media.id][0]
    assert s.platform == "x" and s.account == "alice" and s.text == "look at this"
    assert s.posted_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert s.collected_at == datetime(2026, 3, 2, tzinfo=UTC)


def test_same_post_of_another_media_is_another_sighting(store: Store) -> None:
    store.ingest(media(3), [sighting()])
    store.ingest(media(4), [sighting()])
    assert store.count_sightings() == 2


def test_accounts_are_unique_per_platform_with_first_and_last_seen(store: Store) -> None:
    store.ingest(media(5), [
        sighting(post_id="a", posted_at="2026-01-05T00:00:00Z"),
        sighting(post_id="b", posted_at="2026-01-01T00:00:00Z"),
        sighting(post_id="c", platform="telegram", posted_at="2026-01-03T00:00:00Z"),
    ])
    from sqlalchemy import select

    from memetrack.store.models import AccountRow, PlatformRow

    with store.session() as session:
        accounts = session.execute(
            select(PlatformRow.name, AccountRow.handle, AccountRow.sighting_count,
                   AccountRow.first_seen_at, AccountRow.last_seen_at)
            .join(PlatformRow, PlatformRow.id == AccountRow.platform_id)
            .order_by(PlatformRow.name)).all()
    assert [(a[0], a[1], a[2]) for a in accounts] == [("telegram", "alice", 1), ("x", "alice", 2)]
    first, last = accounts[1][3], accounts[1][4]
    assert first.replace(tzinfo=UTC) == datetime(2026, 1, 1, tzinfo=UTC)
    assert last.replace(tzinfo=UTC) == datetime(2026, 1, 5, tzinfo=UTC)


def test_hashes_after_feeds_the_index_in_order(store: Store) -> None:
    for n in range(1, 6):
        store.ingest(media(n))
    batch = store.hashes_after("pdq", 1, "full", 0, limit=3)
    assert len(batch.ids) == 3 and batch.ids == sorted(batch.ids)
    rest = store.hashes_after("pdq", 1, "full", batch.ids[-1])
    assert len(rest.ids) == 2
    assert rest.bits[-1] == bytes([5]) * 32


def test_missing_media(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_media(999)


@pytest.mark.parametrize("row,field", [
    ({"platform": "x", "posted_at": "2026-01-01T00:00:00"}, "posted_at"),
    ({"platform": "x", "posted_at": "yesterday"}, "posted_at"),
    ({"account": "bob"}, "platform"),
    ({"platform": "x", "url": "ftp://nope"}, "url"),
    ({"platform": "x", "post_id": "p" * 300}, "post_id"),
])
def test_bad_sighting_fields(row: dict, field: str) -> None:
    with pytest.raises(BadMetadata) as info:
        SightingInput.from_mapping(row)
    assert info.value.details["field"] == field


def test_empty_row_is_no_sighting() -> None:
    assert SightingInput.from_mapping({"platform": " ", "account": ""}) is None
