"""Spread reports and account listings, aggregated in SQL (SQLite and PostgreSQL).

Nothing here loads a target's sightings into Python: every part of a report is one aggregate
query over the target's sightings (selected through ``family_members``, ``occurrences`` or the
media id, each backed by an index), and only the aggregated rows come back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.sql import ColumnElement, Select

from memetrack.errors import NotFound
from memetrack.spread import (
    BUCKETS,
    MAX_VARIANTS,
    TOP_ACCOUNTS,
    AccountActivity,
    Counts,
    CutoutUse,
    SightingRef,
    SpreadFilter,
    SpreadReport,
    Target,
    TimelineRow,
    Totals,
    VariantSpread,
    choose_bucket,
    order_platform_firsts,
)
from memetrack.store.models import (
    AccountRow,
    CutoutRow,
    FamilyMemberRow,
    FamilyRow,
    MediaRow,
    OccurrenceRow,
    PlatformRow,
    SightingRow,
    VariantRow,
)
from memetrack.store.store import Store

S, FM, P, A = SightingRow, FamilyMemberRow, PlatformRow, AccountRow


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregates over expressions may come back as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bind_time(value: datetime, dialect: str) -> datetime:
    """A UTC time to compare with stored times (SQLite stores them naive, in UTC)."""
    value = value.astimezone(UTC)
    return value.replace(tzinfo=None) if dialect == "sqlite" else value


def epoch(column: Any, dialect: str) -> ColumnElement[Any]:
    """Seconds since 1970 (float) of a stored time, in either dialect."""
    if dialect == "sqlite":
        # rounded to milliseconds: julianday's float loses a few microseconds
        return func.round((func.julianday(column) - 2440587.5) * 86400.0, 3)
    return func.date_part("epoch", column)  # double precision (extract() is numeric: slow)


def floor_div(value: ColumnElement[Any], width: float, dialect: str) -> ColumnElement[Any]:
    """``floor(value / width)`` as an integer (epochs are positive, so truncation is floor)."""
    if dialect == "sqlite":
        return cast(value / width, BigInteger)
    return cast(func.floor(value / width), BigInteger)


def analytic(session: Any, dialect: str) -> None:
    """Session settings for one big analytic query (PostgreSQL: no JIT, its compile costs more)."""
    if dialect == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '128MB'"))


def variant_key(variant_id: Any, media_id: Any) -> ColumnElement[Any]:
    """A variant id, or minus the media id for a media not assigned to a variant yet."""
    return case((variant_id.is_(None), -media_id), else_=variant_id)


# ------------------------------------------------------------------------------ the target


def resolve_target(store: Store, target: Target) -> tuple[Target, int | None]:
    """Check the target exists; a merged family is redirected to the family it was merged into."""
    model = {"family": FamilyRow, "variant": VariantRow, "cutout": CutoutRow,
             "media": MediaRow}[target.kind]
    with store.session() as session:
        row = session.get(model, target.id)
        if row is None:
            raise NotFound(f"no {target.kind} with id {target.id}", kind=target.kind, id=target.id)
        if target.kind != "family":
            return target, None
        seen = {row.id}
        while row.merged_into_id is not None and row.merged_into_id not in seen:
            row = session.get(FamilyRow, row.merged_into_id)
            assert row is not None
            seen.add(row.id)
        if row.id == target.id:
            return target, None
        return Target("family", row.id), target.id


def target_sightings(target: Target, filters: SpreadFilter, dialect: str) -> Select[Any]:
    """The target's sightings (id, media, platform, account, time, variant key) after filters.

    Families and variants are selected by the sightings' denormalised item keys, so PostgreSQL
    reads them from ``ix_sightings_family_key_posted`` (``..._variant_...``) alone.
    """
    at = func.coalesce(S.posted_at, S.collected_at)
    stmt = (
        select(S.id.label("sid"), S.media_id.label("media_id"), S.platform_id.label("platform_id"),
               S.account_id.label("account_id"), at.label("at"),
               case((S.variant_key > 0, S.variant_key)).label("variant_id"),
               S.variant_key.label("vkey"))
        .select_from(S)
    )
    if target.kind == "family":
        stmt = stmt.where(S.family_key == target.id)
    elif target.kind == "variant":
        stmt = stmt.where(S.variant_key == target.id)
    elif target.kind == "cutout":
        stmt = stmt.where(S.media_id.in_(
            select(OccurrenceRow.media_id).where(OccurrenceRow.cutout_id == target.id)))
    else:
        stmt = stmt.where(S.media_id == target.id)
    return apply_filters(stmt, filters, dialect, at)


def apply_filters(stmt: Select[Any], filters: SpreadFilter, dialect: str,
                  at: ColumnElement[Any]) -> Select[Any]:
    if filters.platform:
        stmt = stmt.where(S.platform_id.in_(select(P.id).where(P.name == filters.platform)))
    if filters.account:
        accounts = select(A.id).where(A.handle == filters.account)
        if filters.platform:
            accounts = accounts.join(P, P.id == A.platform_id).where(P.name == filters.platform)
        stmt = stmt.where(S.account_id.in_(accounts))
    if filters.since is not None:
        stmt = stmt.where(at >= bind_time(filters.since, dialect))
    if filters.until is not None:
        stmt = stmt.where(at < bind_time(filters.until, dialect))
    return stmt


# ------------------------------------------------------------------------------ the report


def spread_report(store: Store, target: Target, filters: SpreadFilter | None = None, *,
                  bucket: str | None = None, top: int = TOP_ACCOUNTS) -> SpreadReport:
    """The spread of one target (see :mod:`memetrack.spread`), aggregated in SQL."""
    filters = filters or SpreadFilter()
    target, resolved_from = resolve_target(store, target)
    dialect = store.dialect
    selected = target_sightings(target, filters, dialect)
    with store.session() as session:
        analytic(session, dialect)
        # the target's sightings are fetched once into a temporary table (dropped at the end of
        # the transaction); every part of the report aggregates over it
        t = _scratch_table()
        t.create(session.connection())
        session.execute(t.insert().from_select([c.name for c in t.columns], selected))
        names = dict(session.execute(select(P.id, P.name)).all())

        total_row = session.execute(select(
            func.count(), func.count(func.distinct(t.c.account_id)),
            func.count(func.distinct(t.c.vkey)), func.min(t.c.at), func.max(t.c.at),
            func.count(func.distinct(t.c.platform_id)), func.count(func.distinct(t.c.media_id)),
        ).select_from(t)).one()
        totals = Totals(int(total_row[0]), int(total_row[1]), int(total_row[2]),
                        utc(total_row[3]), utc(total_row[4]), int(total_row[5]),
                        int(total_row[6]))

        per_platform: dict[str, Counts] = {}
        for pid, n, accounts, variants, first, last in session.execute(
            select(t.c.platform_id, func.count(), func.count(func.distinct(t.c.account_id)),
                   func.count(func.distinct(t.c.vkey)), func.min(t.c.at), func.max(t.c.at))
            .group_by(t.c.platform_id).order_by(func.min(t.c.at), t.c.platform_id)
        ):
            per_platform[names[pid]] = Counts(int(n), int(accounts), int(variants), utc(first),
                                              utc(last))

        # the first sighting of each platform: its earliest time, ties broken by sighting id
        first_at = (select(t.c.platform_id, func.min(t.c.at).label("first"))
                    .where(t.c.at.is_not(None)).group_by(t.c.platform_id).subquery("first_at"))
        earliest = (select(func.min(t.c.sid).label("sid"))
                    .select_from(t.join(first_at, and_(first_at.c.platform_id == t.c.platform_id,
                                                       first_at.c.first == t.c.at)))
                    .group_by(t.c.platform_id).subquery("earliest"))
        firsts: list[tuple[str, SightingRef]] = []
        for sid, media_id, pid, handle, at, post_id, url in session.execute(
            select(t.c.sid, t.c.media_id, t.c.platform_id, A.handle, t.c.at, S.post_id, S.url)
            .join(earliest, earliest.c.sid == t.c.sid)
            .join(S, S.id == t.c.sid)
            .outerjoin(A, A.id == t.c.account_id)
        ):
            firsts.append((names[pid], SightingRef(sid, media_id, names[pid], handle, post_id, url,
                                                   utc(at))))
        first_per_platform = order_platform_firsts(firsts)
        patient_zero = first_per_platform[0].first if first_per_platform else None

        bucket = bucket or choose_bucket(totals.first_at, totals.last_at)
        width = BUCKETS[bucket]
        timeline = _timeline(session, t, names, width, dialect)

        top_accounts, first_posters = _accounts(session, t, names, top)

        variants = tuple(
            VariantSpread(vid, rep, int(n), int(acc), int(plats), int(media), utc(first),
                          utc(last))
            for vid, rep, n, acc, plats, media, first, last in session.execute(
                select(t.c.variant_id, VariantRow.representative_media_id, func.count(),
                       func.count(func.distinct(t.c.account_id)),
                       func.count(func.distinct(t.c.platform_id)),
                       func.count(func.distinct(t.c.media_id)), func.min(t.c.at),
                       func.max(t.c.at))
                .select_from(t).outerjoin(VariantRow, VariantRow.id == t.c.variant_id)
                .group_by(t.c.variant_id, VariantRow.representative_media_id)
                .order_by(func.count().desc(), func.min(t.c.at), t.c.variant_id)
                .limit(MAX_VARIANTS)
            )
        )

        cutouts = tuple(
            CutoutUse(cid, name, int(media), int(n), utc(first))
            for cid, name, media, n, first in session.execute(
                select(OccurrenceRow.cutout_id, CutoutRow.name,
                       func.count(func.distinct(t.c.media_id)), func.count(), func.min(t.c.at))
                .select_from(t)
                .join(OccurrenceRow, OccurrenceRow.media_id == t.c.media_id)
                .join(CutoutRow, CutoutRow.id == OccurrenceRow.cutout_id)
                .group_by(OccurrenceRow.cutout_id, CutoutRow.name)
                .order_by(func.count().desc(), OccurrenceRow.cutout_id)
            )
        )
        t.drop(session.connection())
    return SpreadReport(target, filters, totals, patient_zero, first_per_platform, per_platform,
                        bucket, timeline, top_accounts, first_posters, variants, cutouts,
                        resolved_from)


def _scratch_table() -> Table:
    """A temporary table for one report's sightings (private to the connection)."""
    return Table(
        "spread_scratch", MetaData(),
        Column("sid", BigInteger), Column("media_id", BigInteger),
        Column("platform_id", BigInteger), Column("account_id", BigInteger),
        Column("at", DateTime(timezone=True)), Column("variant_id", BigInteger),
        Column("vkey", BigInteger),
        prefixes=["TEMPORARY"],
    )


def _timeline(session: Any, t: Any, names: dict[int, str], width: int,
              dialect: str) -> tuple[TimelineRow, ...]:
    b = floor_div(epoch(t.c.at, dialect), float(width), dialect).label("b")
    timed = select(t.c.platform_id, t.c.account_id, t.c.vkey, b).where(
        t.c.at.is_not(None)).subquery("timed")
    rows: list[TimelineRow] = []
    aggregates = (func.count(), func.count(func.distinct(timed.c.account_id)),
                  func.count(func.distinct(timed.c.vkey)))
    for bk, n, acc, var in session.execute(
            select(timed.c.b, *aggregates).group_by(timed.c.b).order_by(timed.c.b)):
        rows.append(TimelineRow(_bucket_time(bk, width), None, Counts(int(n), int(acc), int(var))))
    for bk, pid, n, acc, var in session.execute(
            select(timed.c.b, timed.c.platform_id, *aggregates)
            .group_by(timed.c.b, timed.c.platform_id).order_by(timed.c.b, timed.c.platform_id)):
        rows.append(TimelineRow(_bucket_time(bk, width), names[pid],
                                Counts(int(n), int(acc), int(var))))
    rows.sort(key=lambda r: (r.bucket_start, r.platform is not None, r.platform or ""))
    return tuple(rows)


def _bucket_time(index: Any, width: int) -> datetime:
    return datetime.fromtimestamp(int(index) * width, UTC)


def _accounts(session: Any, t: Any, names: dict[int, str],
              limit: int) -> tuple[tuple[AccountActivity, ...], tuple[AccountActivity, ...]]:
    """(the accounts that posted most, the first posters): one pass over the accounts."""
    first = func.min(t.c.at)
    untimed = case((first.is_(None), 1), else_=0)  # NULLs sort differently per dialect
    per = (select(t.c.account_id, func.count().label("n"), first.label("first"),
                  func.max(t.c.at).label("last"),
                  func.row_number().over(order_by=(func.count().desc(), untimed, first,
                                                   t.c.account_id)).label("by_count"),
                  func.row_number().over(order_by=(untimed, first, t.c.account_id))
                  .label("by_time"))
           .where(t.c.account_id.is_not(None)).group_by(t.c.account_id).subquery("per"))
    top: list[tuple[int, AccountActivity]] = []
    early: list[tuple[int, AccountActivity]] = []
    for aid, pid, handle, n, first_at, last_at, by_count, by_time in session.execute(
        select(per.c.account_id, A.platform_id, A.handle, per.c.n, per.c.first, per.c.last,
               per.c.by_count, per.c.by_time)
        .join(A, A.id == per.c.account_id)
        .where((per.c.by_count <= limit) | (per.c.by_time <= limit))
    ):
        activity = AccountActivity(aid, names[pid], handle, int(n), utc(first_at), utc(last_at))
        if by_count <= limit:
            top.append((by_count, activity))
        if by_time <= limit and first_at is not None:
            early.append((by_time, activity))
    return (tuple(a for _r, a in sorted(top, key=lambda x: x[0])),
            tuple(a for _r, a in sorted(early, key=lambda x: x[0])))


# ------------------------------------------------------------------------------ accounts


def list_accounts(store: Store, platform: str | None = None, *, limit: int = 1000,
                  offset: int = 0, order: str = "sightings") -> list[AccountActivity]:
    """First-class accounts with first/last seen and sighting counts (kept up to date on ingest)."""
    stmt = select(A.id, P.name, A.handle, A.sighting_count, A.first_seen_at,
                  A.last_seen_at).join(P, P.id == A.platform_id)
    if platform:
        stmt = stmt.where(P.name == platform.strip().lower())
    if order == "sightings":
        stmt = stmt.order_by(A.sighting_count.desc(), A.id)
    else:
        stmt = stmt.order_by(A.first_seen_at, A.id)
    with store.session() as session:
        return [AccountActivity(aid, name, handle, int(n or 0), utc(first), utc(last))
                for aid, name, handle, n, first, last
                in session.execute(stmt.limit(limit).offset(offset))]


def list_platforms(store: Store) -> list[tuple[str, int, datetime | None, datetime | None, int]]:
    """(name, sightings, first seen, last seen, accounts) per platform."""
    accounts = (select(A.platform_id, func.count().label("n")).group_by(A.platform_id)
                .subquery("acc"))
    stmt = (select(P.name, P.sighting_count, P.first_seen_at, P.last_seen_at,
                   func.coalesce(accounts.c.n, literal(0)))
            .outerjoin(accounts, accounts.c.platform_id == P.id).order_by(P.name))
    with store.session() as session:
        return [(name, int(n or 0), utc(first), utc(last), int(acc))
                for name, n, first, last, acc in session.execute(stmt)]


# ------------------------------------------------------------------------------ benchmark data


def load_synthetic(store: Store, shape: Any, columns: dict[str, Any],
                   chunk: int = 50_000) -> float:
    """Bulk-load a synthetic log (``memetrack.simulate.bench_columns``) into an empty store;
    returns the seconds spent computing the stored co-posting pairs.

    Platforms, accounts, media (fake hashes), families, variants, family members and sightings
    are written with explicit ids (1-based: media ``m`` gets id ``m + 1``); PostgreSQL uses COPY.
    """
    now = datetime.now(UTC)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    per_variant = max(1, shape.media_per_family // shape.variants_per_family)
    tables: dict[str, tuple[list[str], Any]] = {
        "platforms": (["id", "name", "sighting_count"],
                      lambda: ((p + 1, f"platform{p}", 0) for p in range(shape.platforms))),
        "accounts": (["id", "platform_id", "handle", "sighting_count"],
                     lambda: ((a + 1, a % shape.platforms + 1, f"acct{a}", 0)
                              for a in range(shape.accounts))),
        "media": (["id", "sha256", "format", "width", "height", "byte_size", "has_alpha",
                   "frames", "created_at"],
                  lambda: ((m + 1, f"{m + 1:064x}", "jpeg", 480, 360, 1000, False, 1, now)
                           for m in range(shape.media))),
        "families": (["id", "representative_media_id", "registered_shell", "created_at",
                      "updated_at"],
                     lambda: ((f + 1, f * shape.media_per_family + 1, False, now, now)
                              for f in range(shape.families))),
        "variants": (["id", "family_id", "representative_media_id", "created_at"],
                     lambda: ((v + 1, v * per_variant // shape.media_per_family + 1,
                               v * per_variant + 1, now)
                              for v in range(shape.media // per_variant))),
        "family_members": (["media_id", "family_id", "variant_id", "kind", "score", "created_at"],
                           lambda: ((m + 1, m // shape.media_per_family + 1, m // per_variant + 1,
                                     "variant", 1.0, now) for m in range(shape.media))),
    }
    media, account, t = columns["media"], columns["account"], columns["t"]

    def sightings() -> Any:
        for i in range(len(media)):
            a = int(account[i])
            when = datetime.fromtimestamp(start + float(t[i]), UTC)
            m = int(media[i])
            yield (i + 1, m + 1, a % shape.platforms + 1, a + 1, f"p{i + 1}", when,
                   when, f"{i + 1:064x}", now, m // shape.media_per_family + 1,
                   m // per_variant + 1)

    tables["sightings"] = (["id", "media_id", "platform_id", "account_id", "post_id",
                            "posted_at", "collected_at", "dedupe_key", "created_at",
                            "family_key", "variant_key"], sightings)
    if store.dialect == "postgresql":
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            for name, (cols, rows) in tables.items():
                with cur.copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows():
                        copy.write_row(row)
            cur.execute("UPDATE accounts SET sighting_count = c.n, first_seen_at = c.f, "
                        "last_seen_at = c.l FROM (SELECT account_id, count(*) n, min(posted_at) f,"
                        " max(posted_at) l FROM sightings GROUP BY account_id) c "
                        "WHERE c.account_id = accounts.id")
            raw.commit()
        finally:
            raw.close()
        pairs_seconds = build_co_posts(store)
        raw = store.engine.raw_connection()
        try:
            driver = raw.driver_connection
            driver.autocommit = True
            driver.execute("VACUUM ANALYZE")
            driver.autocommit = False
        finally:
            raw.close()
        return pairs_seconds
    from sqlalchemy import column as sql_column
    from sqlalchemy import table as sql_table

    with store.engine.begin() as conn:
        for name, (cols, rows) in tables.items():
            tbl = sql_table(name, *(sql_column(c) for c in cols))
            batch: list[dict[str, Any]] = []
            for row in rows():
                batch.append(dict(zip(cols, row, strict=True)))
                if len(batch) >= chunk:
                    conn.execute(tbl.insert(), batch)
                    batch.clear()
            if batch:
                conn.execute(tbl.insert(), batch)
        conn.exec_driver_sql(
            "UPDATE accounts SET sighting_count = (SELECT count(*) FROM sightings s WHERE "
            "s.account_id = accounts.id), first_seen_at = (SELECT min(posted_at) FROM sightings s"
            " WHERE s.account_id = accounts.id), last_seen_at = (SELECT max(posted_at) FROM "
            "sightings s WHERE s.account_id = accounts.id)")
    pairs_seconds = build_co_posts(store)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return pairs_seconds


def build_co_posts(store: Store) -> float:
    """Compute every stored co-posting pair (after a bulk load that bypassed ``Store``);
    returns the seconds it took."""
    import time

    from memetrack.store.coordination import refresh_co_posts
    from memetrack.store.coposts import LEVELS, mark_all_stale

    started = time.monotonic()
    with store.session() as session:
        mark_all_stale(session)
    for level in LEVELS:
        with store.session() as session:
            analytic(session, store.dialect)
            refresh_co_posts(session, store, level)
    return time.monotonic() - started


__all__ = ["spread_report", "list_accounts", "list_platforms", "resolve_target",
           "target_sightings", "epoch", "floor_div", "bind_time", "utc", "load_synthetic",
           "build_co_posts"]
