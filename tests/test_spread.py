"""Spread reports on SQLite and PostgreSQL: patient zero, lags, counts, timelines, filters, time zones."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from memetrack.errors import BadInput, NotFound
from memetrack.hashing import PerceptualHash
from memetrack.records import MediaInput, SightingInput
from memetrack.spread import SpreadFilter, Target, choose_bucket, report_to_csv
from memetrack.store import Store
from memetrack.store.coposts import mark_media_stale, mark_stale
from memetrack.store.models import (
    CutoutRow,
    FamilyMemberRow,
    FamilyRow,
    OccurrenceRow,
    SightingRow,
    VariantRow,
)
from memetrack.store.spread import list_accounts, list_platforms, spread_report

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


# ------------------------------------------------------------------ helpers (shared by the tests)


def fake_media(key: str) -> MediaInput:
    """A media record with made-up hashes (no image needed): sha256 from ``key``."""
    import hashlib

    digest = hashlib.sha256(key.encode()).digest()
    return MediaInput(digest.hex(), "jpeg", 100, 80, 1000, False, 1,
                      (("full", PerceptualHash("pdq", 1, digest), 90),
                       ("full", PerceptualHash("phash", 1, digest[:8]), 100)))


def sighting(platform: str, account: str | None, post: str, when: datetime | str,
             offset_hours: float = 0, **extra: str) -> SightingInput:
    if isinstance(when, datetime):
        local = when.astimezone(UTC).astimezone(
            __import__("datetime").timezone(timedelta(hours=offset_hours)))
        when = local.isoformat()
    row = {"platform": platform, "account": account, "post_id": post, "posted_at": when} | extra
    s = SightingInput.from_mapping(row)
    assert s is not None
    return s


def add(store: Store, key: str, sightings: list[SightingInput]) -> int:
    """Ingest a fake media with sightings; returns the media id."""
    return store.ingest(fake_media(key), sightings).media.id


def assign(store: Store, families: dict[str, dict[str, list[int]]],
           cutouts: dict[str, list[int]] | None = None) -> tuple[dict[str, int], dict[str, int],
                                                               dict[str, int]]:
    """Write families/variants/members (and cut-outs with occurrences) straight into the store.

    ``families``: {family name: {variant name: [media ids]}}; the first media is the
    representative. Returns (family ids, variant ids, cut-out ids) by name.
    """
    now = datetime.now(UTC)
    fam_ids: dict[str, int] = {}
    var_ids: dict[str, int] = {}
    cut_ids: dict[str, int] = {}
    with store.session() as session:
        for fname, variants in families.items():
            first = next(iter(variants.values()))[0]
            fam = FamilyRow(name=fname, representative_media_id=first, registered_shell=False,
                            created_at=now, updated_at=now)
            session.add(fam)
            session.flush()
            fam_ids[fname] = fam.id
            for vname, media_ids in variants.items():
                var = VariantRow(family_id=fam.id, representative_media_id=media_ids[0],
                                 created_at=now)
                session.add(var)
                session.flush()
                var_ids[vname] = var.id
                for m in media_ids:
                    session.add(FamilyMemberRow(media_id=m, family_id=fam.id, variant_id=var.id,
                                                kind="variant", score=1.0, evidence=None,
                                                created_at=now))
                    # as the membership writes of store.families do
                    mark_media_stale(session, m)
                    session.execute(update(SightingRow).where(SightingRow.media_id == m)
                                    .values(family_key=fam.id, variant_key=var.id))
                    mark_stale(session, [("family", fam.id), ("variant", var.id)])
        for cname, media_ids in (cutouts or {}).items():
            cut = CutoutRow(media_id=media_ids[0], name=cname, opaque_pdq=b"\0" * 32,
                            mask_signature=b"\0" * 8, created_at=now)
            session.add(cut)
            session.flush()
            cut_ids[cname] = cut.id
            for m in media_ids[1:]:
                session.add(OccurrenceRow(cutout_id=cut.id, media_id=m, quad="[]", scale=0.3,
                                          mirrored=False, score=1.0, inliers=30, created_at=now))
    return fam_ids, var_ids, cut_ids


@pytest.fixture
def world(store: Store) -> dict[str, dict[str, int]]:
    """One family (2 variants, 3 media) seen on 3 platforms, delivered out of order and twice."""
    a1, a2, b1 = "fam-a1", "fam-a2", "fam-b1"
    late = [  # delivered first, though posted later
        sighting("reddit", "r_user", "r1", T0 + timedelta(hours=5), offset_hours=-8),
        sighting("x", "bob", "x2", T0 + timedelta(minutes=30), offset_hours=0),
        sighting("x", "alice", "x3", T0 + timedelta(hours=2)),
    ]
    m_a1 = add(store, a1, late[:2])
    m_b1 = add(store, b1, [late[2],
                           sighting("telegram", "tg1", "t1", T0 + timedelta(hours=1), 3)])
    early = [
        # patient zero, delivered last, in a +02:00 offset
        sighting("x", "alice", "x1", T0, offset_hours=2),
        sighting("x", "alice", "x4", T0 + timedelta(hours=3)),
        sighting("telegram", "tg2", "t2", T0 + timedelta(hours=4), offset_hours=5.5),
    ]
    m_a2 = add(store, a2, early)
    # re-delivery of everything changes nothing
    add(store, a1, late[:2])
    add(store, a2, early)
    other = add(store, "other", [sighting("x", "alice", "o1", T0 - timedelta(days=1))])
    fams, variants, cuts = assign(store, {"fam": {"va": [m_a1, m_a2], "vb": [m_b1]},
                                          "other": {"vo": [other]}},
                                  {"face": [other, m_b1, m_a2]})
    media = {"a1": m_a1, "a2": m_a2, "b1": m_b1, "other": other}
    return {"families": fams, "variants": variants, "cutouts": cuts, "media": media}


# ------------------------------------------------------------------ tests


def test_family_report(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    assert store.count_sightings() == 8  # 7 of the family + 1 other; duplicates were ignored
    report = spread_report(store, Target("family", world["families"]["fam"]))
    t = report.totals
    assert (t.sightings, t.accounts, t.variants, t.platforms, t.media) == (7, 5, 2, 3, 3)
    assert t.first_at == T0 and t.last_at == T0 + timedelta(hours=5)
    zero = report.patient_zero
    assert zero is not None and zero.platform == "x" and zero.account == "alice"
    assert zero.post_id == "x1" and zero.at == T0 and zero.media_id == world["media"]["a2"]
    firsts = [(p.platform, p.lag_seconds, p.hop_seconds) for p in report.first_per_platform]
    assert firsts == [("x", 0, 0), ("telegram", 3600, 3600), ("reddit", 5 * 3600, 4 * 3600)]
    assert report.per_platform["x"].sightings == 4 and report.per_platform["x"].accounts == 2
    assert report.per_platform["telegram"].variants == 2
    assert report.bucket == "hour"
    totals = [r for r in report.timeline if r.platform is None]
    assert [r.bucket_start for r in totals] == [T0 + timedelta(hours=h) for h in range(6)]
    assert sum(r.counts.sightings for r in totals) == 7
    per_x = [r for r in report.timeline if r.platform == "x"]
    assert sum(r.counts.sightings for r in per_x) == 4
    assert report.top_accounts[0].handle == "alice" and report.top_accounts[0].sightings == 3
    assert [a.handle for a in report.first_posters][:3] == ["alice", "bob", "tg1"]
    by_variant = {v.variant_id: v for v in report.variants}
    va = by_variant[world["variants"]["va"]]
    assert va.sightings == 5 and va.first_at == T0 and va.media == 2 and va.platforms == 3
    assert by_variant[world["variants"]["vb"]].first_at == T0 + timedelta(hours=1)
    assert [(c.name, c.media) for c in report.cutouts] == [("face", 2)]
    json.dumps(report.to_dict())


def test_same_instant_in_different_offsets(store: Store) -> None:
    when = T0 + timedelta(minutes=10)
    m = add(store, "tz", [
        sighting("x", "u1", "1", "2026-04-01T12:10:00Z"),
        sighting("telegram", "u2", "2", "2026-04-01T17:40:00+05:30"),
        sighting("facebook", "u3", "3", "2026-04-01T07:10:00-05:00"),
    ])
    report = spread_report(store, Target("media", m))
    assert {p.first.at for p in report.first_per_platform} == {when}
    assert all(p.lag_seconds == 0 for p in report.first_per_platform)
    assert [(r.bucket_start, r.counts.sightings) for r in report.timeline if r.platform is None] \
        == [(T0, 3)]
    # since is inclusive, until exclusive, whatever offset they are given in
    only = spread_report(store, Target("media", m),
                         SpreadFilter.parse(since="2026-04-01T14:10:00+02:00"))
    assert only.totals.sightings == 3
    none = spread_report(store, Target("media", m),
                         SpreadFilter.parse(until="2026-04-01T08:10:00-04:00"))
    assert none.totals.sightings == 0 and none.patient_zero is None


def test_filters(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    fam = Target("family", world["families"]["fam"])
    x = spread_report(store, fam, SpreadFilter.parse(platform="X"))
    assert x.totals.sightings == 4 and set(x.per_platform) == {"x"}
    window = spread_report(store, fam, SpreadFilter.parse(
        since=(T0 + timedelta(hours=1)).isoformat(), until=(T0 + timedelta(hours=4)).isoformat()))
    assert window.totals.sightings == 3  # t1 at +1 h, x3 at +2 h, x4 at +3 h
    assert window.patient_zero is not None and window.patient_zero.post_id == "t1"
    alice = spread_report(store, fam, SpreadFilter.parse(account="alice"))
    assert alice.totals.sightings == 3 and alice.totals.accounts == 1
    nobody = spread_report(store, fam, SpreadFilter.parse(platform="x", account="tg1"))
    assert nobody.totals.sightings == 0
    with pytest.raises(BadInput):
        SpreadFilter.parse(since="2026-04-02T00:00:00Z", until="2026-04-01T00:00:00Z")
    with pytest.raises(BadInput):
        SpreadFilter.parse(since="2026-04-02 00:00")  # no zone


def test_daily_buckets_and_bucket_choice(store: Store) -> None:
    m = add(store, "long", [sighting("x", f"u{i}", str(i), T0 + timedelta(days=i, hours=i))
                            for i in range(6)])
    report = spread_report(store, Target("media", m))
    assert report.bucket == "day"
    days = [r for r in report.timeline if r.platform is None]
    assert len(days) == 6 and days[0].bucket_start == T0.replace(hour=0)
    forced = spread_report(store, Target("media", m), bucket="hour")
    assert forced.bucket == "hour" and len([r for r in forced.timeline if r.platform]) == 6
    assert choose_bucket(T0, T0 + timedelta(hours=72)) == "hour"
    assert choose_bucket(T0, T0 + timedelta(hours=73)) == "day"
    assert choose_bucket(None, None) == "hour"


def test_other_targets_and_errors(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    variant = spread_report(store, Target("variant", world["variants"]["vb"]))
    assert variant.totals.sightings == 2 and variant.totals.variants == 1
    cut = spread_report(store, Target("cutout", world["cutouts"]["face"]))
    assert cut.totals.media == 2 and cut.totals.sightings == 5  # b1 (2) + a2 (3)
    media = spread_report(store, Target("media", world["media"]["a1"]))
    assert media.totals.sightings == 2
    with pytest.raises(NotFound):
        spread_report(store, Target("family", 999_999))
    with pytest.raises(BadInput):
        Target("galaxy", 1)
    # a merged family resolves to the family it was merged into
    other, fam = world["families"]["other"], world["families"]["fam"]
    with store.session() as session:
        row = session.get(FamilyRow, other)
        assert row is not None
        row.merged_into_id = fam
    merged = spread_report(store, Target("family", other))
    assert merged.target.id == fam and merged.resolved_from == other


def test_csv_rendering(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    report = spread_report(store, Target("family", world["families"]["fam"]))
    rows = list(csv.DictReader(io.StringIO(report_to_csv(report))))
    sections = {r["section"] for r in rows}
    assert {"totals", "patient_zero", "first_per_platform", "platform", "timeline_hour",
            "top_account", "first_poster", "variant", "cutout"} <= sections
    reddit = next(r for r in rows if r["section"] == "first_per_platform"
                  and r["platform"] == "reddit")
    assert float(reddit["seconds"]) == 5 * 3600


def test_accounts_are_first_class(store: Store, world) -> None:  # type: ignore[no-untyped-def]
    accounts = {(a.platform, a.handle): a for a in list_accounts(store)}
    alice = accounts[("x", "alice")]
    assert alice.sightings == 4  # three in the family, one other
    assert alice.first_at == T0 - timedelta(days=1) and alice.last_at == T0 + timedelta(hours=3)
    only_tg = list_accounts(store, "Telegram")
    assert {a.handle for a in only_tg} == {"tg1", "tg2"}
    platforms = {p[0]: p for p in list_platforms(store)}
    assert platforms["x"][1] == 5 and platforms["x"][4] == 2
    # an account is unique per platform: the same handle elsewhere is another account
    add(store, "elsewhere", [sighting("reddit", "alice", "r9", T0)])
    assert {(a.platform, a.handle) for a in list_accounts(store) if a.handle == "alice"} == {
        ("x", "alice"), ("reddit", "alice")}


def test_item_keys_follow_every_membership_write(store: Store) -> None:
    """``sightings.family_key``/``variant_key`` (what reports and coordination select by) follow
    create, add_member, merge, remove_member and clear, and a sighting added later gets them."""
    from sqlalchemy import select

    def keys(media_id: int) -> set[tuple[int, int]]:
        with store.session() as session:
            return {(f, v) for f, v in session.execute(
                select(SightingRow.family_key, SightingRow.variant_key)
                .where(SightingRow.media_id == media_id))}

    a = add(store, "keys-a", [sighting("x", "u1", "ka1", T0), sighting("x", "u2", "ka2", T0)])
    b = add(store, "keys-b", [sighting("x", "u3", "kb1", T0)])
    c = add(store, "keys-c", [sighting("x", "u4", "kc1", T0)])
    assert keys(a) == {(-a, -a)} and keys(b) == {(-b, -b)}
    fa = store.families.create(a)
    va = store.families.membership(a).variant_id
    assert keys(a) == {(fa.id, va)}
    mb = store.families.add_member(b, fa.id, kind="verified", score=0.9, evidence={},
                                   variant_id=None)
    assert keys(b) == {(fa.id, mb.variant_id)}
    fc = store.families.create(c)
    vc = store.families.membership(c).variant_id
    store.families.merge(fa.id, fc.id)
    assert keys(c) == {(fa.id, vc)}
    # a sighting delivered after the media joined its family gets the keys on insert
    store.add_sightings(store.get_media(c).sha256, [sighting("x", "u5", "kc2", T0)])
    assert keys(c) == {(fa.id, vc)}
    assert spread_report(store, Target("family", fa.id)).totals.sightings == 5
    store.families.remove_member(b, reject=False)
    assert keys(b) == {(-b, -b)}
    store.families.clear()
    assert keys(a) == {(-a, -a)} and keys(c) == {(-c, -c)}
