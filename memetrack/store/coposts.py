"""Keeping the stored co-posting pairs (``co_posts``) current: which items are stale.

Every write that changes which sightings an item has (a new sighting, a media joining, leaving
or changing family or variant, a merge, a rebuild) marks the items concerned stale in
``co_post_stale``; :func:`memetrack.store.coordination.refresh_co_posts` recomputes the pairs of
the stale items (one window query restricted to them) before a coordination query reads the
pairs. Items are ``(level, key)``: the family or variant id, or minus the media id.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from memetrack.store.models import SightingRow, StaleItemRow

STORED_WINDOW = 120.0  # pairs are stored up to this many seconds apart; wider windows run live
LEVELS = ("family", "variant", "media")


def _insert(session: Session):  # type: ignore[no-untyped-def]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(StaleItemRow)


def sighting_items(media_id: int, family_key: int | None,
                   variant_key: int | None) -> list[tuple[str, int]]:
    """The items (one per level) a sighting of this media with these keys belongs to."""
    return [("family", family_key if family_key is not None else -media_id),
            ("variant", variant_key if variant_key is not None else -media_id),
            ("media", -media_id)]


def mark_stale(session: Session, items: Iterable[tuple[str, int]]) -> None:
    """Mark items stale (idempotent; sorted, so concurrent writers lock in the same order)."""
    rows = [{"level": level, "item": int(item)} for level, item in sorted(set(items))]
    if rows:
        session.execute(_insert(session).values(rows).on_conflict_do_nothing())


def mark_media_stale(session: Session, media_id: int) -> None:
    """Mark the family and variant items of a media's sightings stale (before and after a
    membership change: call it on both sides of the change)."""
    keys = session.execute(select(SightingRow.family_key, SightingRow.variant_key)
                           .where(SightingRow.media_id == media_id).distinct()).all()
    mark_stale(session, [item for f, v in keys
                         for item in sighting_items(media_id, f, v)[:2]])


def mark_all_stale(session: Session, levels: Iterable[str] = LEVELS) -> None:
    """Every item of these levels is stale (after a rebuild or a bulk load)."""
    columns = {"family": SightingRow.family_key, "variant": SightingRow.variant_key,
               "media": -SightingRow.media_id}
    for level in levels:
        session.execute(
            _insert(session).from_select(["level", "item"],
                                         select(_literal(level), columns[level])
                                         .where(columns[level].is_not(None)).distinct())
            .on_conflict_do_nothing())


def _literal(value: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import String, literal

    return literal(value, String(8))
