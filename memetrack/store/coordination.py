"""Co-posting queries for the coordination analysis, aggregated in SQL (SQLite and PostgreSQL).

Two sightings *co-post* when they show the same item (family, variant or media, see
:func:`item_key`), come from two different accounts, and are at most ``window`` seconds apart.
Each sighting is paired with the next :data:`MAX_NEIGHBOURS` sightings of its item in time
order, kept when they are within the window, so a viral minute with hundreds of posts yields a
bounded number of pairs. Pairs are found in two passes over the sightings in (item, time)
order, which the item-key indexes (``ix_sightings_family_key_posted``, ``..._variant_...``,
``ix_sightings_media_posted``) give without a sort:

1. every sighting is compared with the one before and the one after it (``LAG``/``LEAD`` of
   the time only): a sighting with no other sighting of its item within the window cannot
   co-post;
2. the ones left (the *candidates*) are paired with the next candidates of their item (any
   sighting between two candidates less than a window apart is itself a candidate, so this is
   the same as pairing among all sightings).

**Stored pairs.** Which pairs exist does not depend on the window (the next neighbours are
the next neighbours), only which are kept. So the pairs up to
:data:`~memetrack.store.coposts.STORED_WINDOW` are stored (``co_posts``, with per-account-pair
counts in ``co_post_links``) and a query for a window up to that, optionally limited in time,
filters them: it reads the pairs of the account pairs with at least ``min_repetitions`` stored
pairs only, and never touches the sightings. Writes mark the items whose sightings changed
stale (:mod:`memetrack.store.coposts`); :func:`refresh_co_posts` recomputes those items' pairs
first. A wider window or a platform filter (which changes who is whose neighbour) finds the pairs
from the sightings at query time, into a temporary table. Either way only aggregated account
pairs (or a bounded list of evidence rows) come back to Python.

A time range on stored pairs keeps the pairs with both sightings in the range; pairing only the
sightings inside the range could in rare cases pair a sighting near the range's edge with a
later neighbour instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    MetaData,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from memetrack.errors import BadInput
from memetrack.spread import SpreadFilter
from memetrack.store.coposts import STORED_WINDOW
from memetrack.store.models import (
    AccountRow,
    CoPostLinkRow,
    CoPostRow,
    PlatformRow,
    SightingRow,
    StaleItemRow,
)
from memetrack.store.spread import analytic, apply_filters, epoch, utc
from memetrack.store.store import Store

S, P, A = SightingRow, PlatformRow, AccountRow
CP, CL, St = CoPostRow, CoPostLinkRow, StaleItemRow
LEVELS = ("family", "variant", "media")
MAX_NEIGHBOURS = 3  # each sighting pairs with at most this many later sightings of its item


def item_key(level: str) -> ColumnElement[Any]:
    """The item a sighting shows at ``level``; a media without a family/variant is its own item.

    Family and variant ids are positive; a media standing for itself is ``-media_id`` (the
    denormalised ``sightings.family_key``/``variant_key`` hold exactly that).
    """
    if level == "family":
        return S.family_key
    if level == "variant":
        return S.variant_key
    if level == "media":
        return -S.media_id
    raise BadInput(f"unknown coordination level {level!r}; use one of {', '.join(LEVELS)}",
                   level=level)


def _partition_key(level: str) -> ColumnElement[Any]:
    """What the window functions partition by: an indexed column, so that the database reads
    sightings in (item, time) index order instead of sorting them."""
    return S.media_id if level == "media" else item_key(level)


def _candidates(store: Store, level: str, window: float, filters: SpreadFilter,
                items: Any = None) -> Any:
    """Sightings with another sighting of their item at most ``window`` seconds away
    (``items``: only the items of this subquery)."""
    dialect = store.dialect
    base = (select(S.id.label("sid"), S.account_id.label("acc"),
                   _partition_key(level).label("pk"), S.posted_at.label("ts"))
            .where(S.account_id.is_not(None), S.posted_at.is_not(None)))
    if items is not None:
        base = base.where(S.media_id.in_(select(-items.c.item)) if level == "media"
                          else item_key(level).in_(select(items.c.item)))
    base = apply_filters(base, filters, dialect, S.posted_at).subquery("base")
    order = {"partition_by": base.c.pk, "order_by": base.c.ts}
    t = epoch(base.c.ts, dialect)
    gaps = select(base.c.sid, base.c.acc, base.c.pk, base.c.ts, t.label("t"),
                  (t - epoch(func.lag(base.c.ts).over(**order), dialect)).label("before"),
                  (epoch(func.lead(base.c.ts).over(**order), dialect) - t).label("after")
                  ).subquery("gaps")
    return (select(gaps.c.sid, gaps.c.acc, gaps.c.pk, gaps.c.ts, gaps.c.t)
            .where(or_(gaps.c.before <= window, gaps.c.after <= window))
            .subquery("candidates"))


def _pairs(store: Store, level: str, window: float, filters: SpreadFilter,
           items: Any = None, neighbours: int = MAX_NEIGHBOURS) -> Any:
    """Co-posting sighting pairs: lo/hi account, their sightings and times (epoch), item,
    delay."""
    cand = _candidates(store, level, window, filters, items)
    order = {"partition_by": cand.c.pk, "order_by": (cand.c.ts, cand.c.sid)}
    leads: list[Any] = []
    for k in range(1, neighbours + 1):
        leads += [func.lead(cand.c.acc, k).over(**order).label(f"a{k}"),
                  func.lead(cand.c.sid, k).over(**order).label(f"s{k}"),
                  func.lead(cand.c.t, k).over(**order).label(f"t{k}")]
    near = select(cand.c.pk, cand.c.acc, cand.c.sid, cand.c.t, *leads).cte("near")
    item = (-near.c.pk) if level == "media" else near.c.pk
    parts = []
    for k in range(1, neighbours + 1):
        a, sid, t = near.c[f"a{k}"], near.c[f"s{k}"], near.c[f"t{k}"]
        lower = near.c.acc < a
        parts.append(select(
            case((lower, near.c.acc), else_=a).label("lo"),
            case((lower, a), else_=near.c.acc).label("hi"),
            case((lower, near.c.sid), else_=sid).label("s_lo"),
            case((lower, sid), else_=near.c.sid).label("s_hi"),
            case((lower, near.c.t), else_=t).label("t_lo"),
            case((lower, t), else_=near.c.t).label("t_hi"),
            item.label("item"),
            (t - near.c.t).label("delay"),
        ).where(a.is_not(None), a != near.c.acc, t - near.c.t <= window))
    return union_all(*parts)


def _timed_sightings(store: Store, level: str, filters: SpreadFilter) -> Select[Any]:
    dialect = store.dialect
    stmt = (select(S.id.label("sid"), S.account_id.label("acc"), item_key(level).label("item"),
                   epoch(S.posted_at, dialect).label("t"))
            .where(S.account_id.is_not(None), S.posted_at.is_not(None)))
    return apply_filters(stmt, filters, dialect, S.posted_at)


@dataclass(frozen=True)
class EdgeRow:
    """One account pair that co-posted; ``repetitions`` counts distinct sightings on both sides."""

    lo: int
    hi: int
    repetitions: int
    pairs: int
    items: int
    first_t: float
    last_t: float
    mean_delay: float


@dataclass(frozen=True)
class PairRow:
    """One co-posting event: two sightings of the same item by two accounts, close in time."""

    item: int
    lo: int
    hi: int
    s_lo: int
    s_hi: int
    t_lo: float
    t_hi: float


def _pairs_table(name: str = "copost_scratch") -> Table:
    """A temporary table for co-posting pairs (private to the connection)."""
    return Table(
        name, MetaData(),
        Column("lo", BigInteger), Column("hi", BigInteger), Column("s_lo", BigInteger),
        Column("s_hi", BigInteger), Column("t_lo", Float), Column("t_hi", Float),
        Column("item", BigInteger), Column("delay", Float),
        prefixes=["TEMPORARY"],
    )


class CoPosts:
    """The co-posting pairs of one analysis: the stored pairs (``co_posts``), or the pairs found
    for this query in a temporary table."""

    def __init__(self, session: Session, level: str, window: float, filters: SpreadFilter,
                 table: Table | None = None) -> None:
        self.session = session
        self.level, self.window, self.filters = level, window, filters
        self.table = table
        self.stored = table is None

    def _stored(self, min_repetitions: int | None = None,
                accounts: list[int] | None = None) -> Select[Any]:
        stmt = (select(CP.lo, CP.hi, CP.s_lo, CP.s_hi, CP.t_lo, CP.t_hi, CP.item)
                .where(CP.level == self.level, CP.delay <= self.window))
        if min_repetitions is not None and min_repetitions > 1:
            # only account pairs with enough stored pairs (at the widest window, over all
            # time) can have enough in this query: a few thousand of the many pairs
            linked = (select(CL.lo, CL.hi).where(CL.level == self.level,
                                                CL.pairs >= min_repetitions)
                      .subquery("linked"))
            stmt = stmt.join(linked, and_(linked.c.lo == CP.lo, linked.c.hi == CP.hi))
        if accounts is not None:
            stmt = stmt.where(CP.lo.in_(accounts), CP.hi.in_(accounts))
        if self.filters.since is not None:
            since = self.filters.since.timestamp()
            stmt = stmt.where(CP.t_lo >= since, CP.t_hi >= since)
        if self.filters.until is not None:
            until = self.filters.until.timestamp()
            stmt = stmt.where(CP.t_lo < until, CP.t_hi < until)
        return stmt

    def edges(self, min_repetitions: int) -> list[EdgeRow]:
        """Account pairs with at least ``min_repetitions`` co-posts (each side's distinct
        sightings)."""
        p: Any = (self._stored(min_repetitions).cte("pairs") if self.table is None
                  else self.table)
        # a pair needs at least min_repetitions pairs of sightings before its distinct sightings
        # are worth counting: a cheap hashed count first, the distinct counts on the candidates
        candidates = (select(p.c.lo, p.c.hi).group_by(p.c.lo, p.c.hi)
                      .having(func.count() >= min_repetitions).subquery("candidates"))
        n_lo, n_hi = func.count(func.distinct(p.c.s_lo)), func.count(func.distinct(p.c.s_hi))
        stmt = (select(p.c.lo, p.c.hi, n_lo, n_hi, func.count(),
                       func.count(func.distinct(p.c.item)), func.min(p.c.t_lo),
                       func.max(p.c.t_lo), func.avg(func.abs(p.c.t_hi - p.c.t_lo)))
                .select_from(p.join(candidates, and_(candidates.c.lo == p.c.lo,
                                                     candidates.c.hi == p.c.hi)))
                .group_by(p.c.lo, p.c.hi)
                .having(and_(n_lo >= min_repetitions, n_hi >= min_repetitions)))
        return [EdgeRow(int(lo), int(hi), int(min(a, b)), int(n), int(items), float(first),
                        float(last), float(delay))
                for lo, hi, a, b, n, items, first, last, delay in self.session.execute(stmt)]

    def events(self, accounts: list[int], limit: int) -> list[PairRow]:
        """The co-posting events among ``accounts`` (both sides in the list), earliest first."""
        if not accounts:
            return []
        if self.table is None:
            p: Any = self._stored(accounts=accounts).subquery("pairs")
        else:
            p = (select(self.table).where(self.table.c.lo.in_(accounts),
                                          self.table.c.hi.in_(accounts)).subquery("pairs"))
        stmt = (select(p.c.item, p.c.lo, p.c.hi, p.c.s_lo, p.c.s_hi, p.c.t_lo, p.c.t_hi)
                .order_by(p.c.t_lo, p.c.lo, p.c.hi, p.c.s_lo, p.c.s_hi).limit(limit))
        return [PairRow(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), float(r[5]),
                        float(r[6])) for r in self.session.execute(stmt)]


def _use_stored(window: float, filters: SpreadFilter) -> bool:
    """Stored pairs answer windows up to STORED_WINDOW with at most a time range; a platform
    (or account) filter changes which sightings are neighbours, so it runs live."""
    return window <= STORED_WINDOW and not filters.platform and not filters.account


def _upsert(session: Session, table: Any, index: list[str], values: Select[Any],
            add: str) -> None:
    """INSERT ... SELECT, adding column ``add`` to the existing row on a key conflict."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(table).from_select([c.name for c in values.selected_columns], values)
    session.execute(stmt.on_conflict_do_update(
        index_elements=index, set_={add: getattr(table.c, add) + stmt.excluded[add]}))


def refresh_co_posts(session: Session, store: Store, level: str) -> int:
    """Recompute the stored pairs (and the per-account-pair counts) of the stale items of
    ``level``; returns how many items were stale.

    The stale items' pairs are found again into a temporary table and compared with the stored
    ones: only the pairs that appeared or went away are written, so a new sighting in a large
    family costs one pass over that family, not a rewrite of its pairs.
    """
    if store.dialect == "postgresql":
        # writers marking items stale wait until the pairs are recomputed and the marks gone
        session.execute(text("LOCK TABLE co_post_stale IN SHARE ROW EXCLUSIVE MODE"))
    stale = select(St.item).where(St.level == level)
    count = session.scalar(select(func.count()).select_from(stale.subquery())) or 0
    if not count:
        return 0
    found = _pairs_table("copost_found")
    found.create(session.connection())
    session.execute(found.insert().from_select(
        [c.name for c in found.columns],
        _pairs(store, level, STORED_WINDOW, SpreadFilter(), stale.subquery("stale"))))
    if store.dialect == "postgresql":
        session.execute(text("ANALYZE copost_found"))
    f = found.c
    still_found = (select(f.s_lo).where(f.s_lo == CP.s_lo, f.s_hi == CP.s_hi, f.item == CP.item)
                   .exists())
    gone = and_(CP.level == level, CP.item.in_(stale), ~still_found)
    stored = (select(CP.s_lo).where(CP.level == level, CP.s_lo == f.s_lo, CP.s_hi == f.s_hi,
                                    CP.item == f.item).exists())
    deltas = union_all(select(CP.lo, CP.hi, literal(-1).label("d")).where(gone),
                       select(f.lo, f.hi, literal(1).label("d")).where(~stored)).subquery("d")
    _upsert(session, CL.__table__, ["level", "lo", "hi"],
            select(literal(level, String(8)).label("level"), deltas.c.lo, deltas.c.hi,
                   func.sum(deltas.c.d).label("pairs"))
            .where(deltas.c.d != 0).group_by(deltas.c.lo, deltas.c.hi)
            .having(func.sum(deltas.c.d) != 0), "pairs")
    session.execute(delete(CP).where(gone).execution_options(synchronize_session=False))
    session.execute(insert(CP).from_select(
        ["level", "lo", "hi", "s_lo", "s_hi", "t_lo", "t_hi", "item", "delay"],
        select(literal(level, String(8)), f.lo, f.hi, f.s_lo, f.s_hi, f.t_lo, f.t_hi, f.item,
               f.delay).where(~stored)))
    session.execute(delete(CL).where(CL.level == level, CL.pairs <= 0))
    session.execute(delete(St).where(St.level == level))
    found.drop(session.connection())
    return int(count)


@contextmanager
def co_posts(store: Store, level: str, window: float, filters: SpreadFilter,
             stored: bool | None = None) -> Iterator[CoPosts]:
    """The co-posting pairs for one analysis (one transaction): the stored pairs (stale items
    recomputed first) when they can answer it, else found now into a temporary table
    (``stored`` forces the choice; the stored pairs cannot answer every query)."""
    item_key(level)  # checks the level
    if stored is None:
        stored = _use_stored(window, filters)
    elif stored and not _use_stored(window, filters):
        raise BadInput("the stored co-posting pairs cannot answer this query")
    with store.session() as session:
        analytic(session, store.dialect)
        if stored:
            refresh_co_posts(session, store, level)
            yield CoPosts(session, level, window, filters)
            return
        table = _pairs_table()
        table.create(session.connection())
        session.execute(table.insert().from_select(
            [c.name for c in table.columns], _pairs(store, level, window, filters)))
        try:
            yield CoPosts(session, level, window, filters, table)
        finally:
            table.drop(session.connection())


def co_posting_edges(store: Store, level: str, window: float, min_repetitions: int,
                     filters: SpreadFilter) -> list[EdgeRow]:
    """Account pairs with at least ``min_repetitions`` co-posts (each side's distinct sightings)."""
    with co_posts(store, level, window, filters) as found:
        return found.edges(min_repetitions)


def co_posting_events(store: Store, level: str, window: float, accounts: list[int],
                      filters: SpreadFilter, limit: int) -> list[PairRow]:
    """The co-posting events among ``accounts`` (both sides in the list), earliest first."""
    if not accounts:
        return []
    with co_posts(store, level, window, filters) as found:
        return found.events(accounts, limit)


def first_share_delays(store: Store, level: str, filters: SpreadFilter) -> list[float]:
    """Per item seen by at least two accounts: seconds from its first to its second account."""
    base = _timed_sightings(store, level, filters).subquery("base")
    firsts = (select(base.c.item, base.c.acc, func.min(base.c.t).label("t"))
              .group_by(base.c.item, base.c.acc).subquery("firsts"))
    ranked = select(
        firsts.c.item, firsts.c.t,
        func.row_number().over(partition_by=firsts.c.item, order_by=firsts.c.t).label("rn"),
    ).subquery("ranked")
    stmt = (select(func.max(ranked.c.t) - func.min(ranked.c.t))
            .where(ranked.c.rn <= 2).group_by(ranked.c.item)
            .having(func.count() == 2))
    with store.session() as session:
        analytic(session, store.dialect)
        return [float(d) for (d,) in session.execute(stmt)]


@dataclass(frozen=True)
class AccountInfo:
    id: int
    platform: str
    handle: str
    sightings: int
    first_at: datetime | None
    last_at: datetime | None


def accounts_by_id(store: Store, ids: list[int]) -> dict[int, AccountInfo]:
    out: dict[int, AccountInfo] = {}
    with store.session() as session:
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            for aid, name, handle, n, first, last in session.execute(
                select(A.id, P.name, A.handle, A.sighting_count, A.first_seen_at, A.last_seen_at)
                .join(P, P.id == A.platform_id).where(A.id.in_(chunk))
            ):
                out[aid] = AccountInfo(aid, name, handle, int(n or 0), utc(first), utc(last))
    return out


def sighting_refs(store: Store, ids: list[int]) -> dict[int, tuple[int, str | None, str | None]]:
    """sighting id -> (media id, post id, url) for the evidence rows."""
    out: dict[int, tuple[int, str | None, str | None]] = {}
    with store.session() as session:
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            for sid, media_id, post_id, url in session.execute(
                    select(S.id, S.media_id, S.post_id, S.url).where(S.id.in_(chunk))):
                out[sid] = (media_id, post_id, url)
    return out
