"""Co-posting queries for the coordination analysis, aggregated in SQL (SQLite and PostgreSQL).

Two sightings *co-post* when they show the same item (family, variant or media, see
:func:`item_key`), come from two different accounts, and are at most ``window`` seconds apart.
Pairs are found in one pass over the sightings in (item, time) order: window functions
(``LEAD``) pair each sighting with the next :data:`MAX_NEIGHBOURS` sightings of its item, kept
when they are within the window. The cost is one sort (none at media level, where the
``(media_id, posted_at)`` index gives the order) and the number of pairs is bounded even in a
viral minute. Only aggregated account pairs (or a bounded list of evidence rows) come back to
Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select, union_all
from sqlalchemy.sql import ColumnElement, Select

from memetrack.errors import BadInput
from memetrack.spread import SpreadFilter
from memetrack.store.models import (
    AccountRow,
    FamilyMemberRow,
    PlatformRow,
    SightingRow,
)
from memetrack.store.spread import analytic, apply_filters, epoch, utc
from memetrack.store.store import Store

S, FM, P, A = SightingRow, FamilyMemberRow, PlatformRow, AccountRow
LEVELS = ("family", "variant", "media")
MAX_NEIGHBOURS = 3  # each sighting pairs with at most this many later sightings of its item


def item_key(level: str) -> ColumnElement[Any]:
    """The item a sighting shows at ``level``; a media without a family/variant is its own item.

    Family and variant ids are positive; a media standing for itself is ``-media_id``.
    """
    if level == "family":
        return case((FM.family_id.is_(None), -S.media_id), else_=FM.family_id)
    if level == "variant":
        return case((FM.variant_id.is_(None), -S.media_id), else_=FM.variant_id)
    if level == "media":
        return -S.media_id
    raise BadInput(f"unknown coordination level {level!r}; use one of {', '.join(LEVELS)}",
                   level=level)


def _partition_key(level: str) -> ColumnElement[Any]:
    """What the window functions partition by (the media id itself at media level, so that
    PostgreSQL can read sightings in ``ix_sightings_media_posted`` order instead of sorting)."""
    return S.media_id if level == "media" else item_key(level)


def _pairs(store: Store, level: str, window: float, filters: SpreadFilter,
           accounts: list[int] | None = None, neighbours: int = MAX_NEIGHBOURS) -> Any:
    """Subquery of co-posting sighting pairs: lo/hi account, their sightings and times, item.

    One pass in (item, time) order: each sighting is paired with the next ``neighbours``
    sightings of the same item that are at most ``window`` seconds later (window functions,
    ``LEAD``), so a viral minute with hundreds of posts yields a bounded number of pairs.
    """
    dialect = store.dialect
    key = _partition_key(level)
    base = select(S.id.label("sid"), S.account_id.label("acc"), key.label("pk"),
                  S.posted_at.label("ts")).select_from(S)
    if level != "media":
        base = base.outerjoin(FM, FM.media_id == S.media_id)
    base = base.where(S.account_id.is_not(None), S.posted_at.is_not(None))
    if accounts is not None:
        base = base.where(S.account_id.in_(accounts))
    base = apply_filters(base, filters, dialect, S.posted_at).subquery("base")
    order = {"partition_by": base.c.pk, "order_by": base.c.ts}
    leads: list[Any] = []
    for k in range(1, neighbours + 1):
        leads += [func.lead(base.c.acc, k).over(**order).label(f"a{k}"),
                  func.lead(base.c.sid, k).over(**order).label(f"s{k}"),
                  func.lead(base.c.ts, k).over(**order).label(f"ts{k}")]
    ordered = select(base.c.pk, base.c.acc, base.c.sid, base.c.ts, *leads).subquery("ordered")
    t0 = epoch(ordered.c.ts, dialect)
    near = (select(ordered.c.pk, ordered.c.acc, ordered.c.sid, t0.label("t"),
                   *[c for k in range(1, neighbours + 1)
                     for c in (ordered.c[f"a{k}"], ordered.c[f"s{k}"],
                               epoch(ordered.c[f"ts{k}"], dialect).label(f"t{k}"))])
            .where(epoch(ordered.c.ts1, dialect) - t0 <= window)
            .cte("near"))
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
        ).where(a.is_not(None), a != near.c.acc, t - near.c.t <= window))
    return union_all(*parts)


def _timed_sightings(store: Store, level: str, filters: SpreadFilter) -> Select[Any]:
    dialect = store.dialect
    stmt = (select(S.id.label("sid"), S.account_id.label("acc"), item_key(level).label("item"),
                   epoch(S.posted_at, dialect).label("t"))
            .select_from(S).outerjoin(FM, FM.media_id == S.media_id)
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


def co_posting_edges(store: Store, level: str, window: float, min_repetitions: int,
                     filters: SpreadFilter) -> list[EdgeRow]:
    """Account pairs with at least ``min_repetitions`` co-posts (each side's distinct sightings)."""
    p = _pairs(store, level, window, filters).cte("pairs")
    # a pair needs at least min_repetitions pairs of sightings before its distinct sightings
    # are worth counting: a cheap hashed count first, the distinct counts on the few candidates
    candidates = (select(p.c.lo, p.c.hi).group_by(p.c.lo, p.c.hi)
                  .having(func.count() >= min_repetitions).subquery("candidates"))
    n_lo, n_hi = func.count(func.distinct(p.c.s_lo)), func.count(func.distinct(p.c.s_hi))
    stmt = (select(p.c.lo, p.c.hi, n_lo, n_hi, func.count(), func.count(func.distinct(p.c.item)),
                   func.min(p.c.t_lo), func.max(p.c.t_lo),
                   func.avg(func.abs(p.c.t_hi - p.c.t_lo)))
            .select_from(p.join(candidates, and_(candidates.c.lo == p.c.lo,
                                                 candidates.c.hi == p.c.hi)))
            .group_by(p.c.lo, p.c.hi)
            .having(and_(n_lo >= min_repetitions, n_hi >= min_repetitions)))
    with store.session() as session:
        analytic(session, store.dialect)
        return [EdgeRow(int(lo), int(hi), int(min(a, b)), int(n), int(items), float(first),
                        float(last), float(delay))
                for lo, hi, a, b, n, items, first, last, delay in session.execute(stmt)]


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


def co_posting_events(store: Store, level: str, window: float, accounts: list[int],
                      filters: SpreadFilter, limit: int) -> list[PairRow]:
    """The co-posting events among ``accounts`` (both sides in the list), earliest first."""
    if not accounts:
        return []
    p = _pairs(store, level, window, filters, accounts).subquery("pairs")
    stmt = (select(p.c.item, p.c.lo, p.c.hi, p.c.s_lo, p.c.s_hi, p.c.t_lo, p.c.t_hi)
            .order_by(p.c.t_lo, p.c.lo, p.c.hi, p.c.s_lo, p.c.s_hi).limit(limit))
    with store.session() as session:
        analytic(session, store.dialect)
        return [PairRow(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), float(r[5]),
                        float(r[6])) for r in session.execute(stmt)]


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
