"""Spread reports: where and when a family, a variant, a cut-out or a single media was seen.

Pure domain code: the report dataclasses, the targets and filters, the choice of the timeline's
bucket, and the JSON/CSV renderings. The SQL aggregation lives in ``memetrack.store.spread``.

A report answers, for one target and optional filters (platform, time range, account):

* **patient zero**: the first sighting overall, and the first sighting on each platform with its
  lag after patient zero and its hop after the platform reached just before it;
* **counts** of sightings, distinct accounts and distinct variants, per platform and over time
  (hourly buckets when the span is at most :data:`HOURLY_MAX_SPAN`, daily buckets otherwise);
* the accounts that posted it most, and the first posters;
* its variants (distinct captions) with their own first/last seen and counts, and the cut-outs
  found in its media.

The time of a sighting is ``posted_at``, or ``collected_at`` when the scraper had no post time.
Times are UTC. ``since`` is inclusive, ``until`` exclusive.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from memetrack.errors import BadInput
from memetrack.records import parse_time

TARGET_KINDS: tuple[str, ...] = ("family", "variant", "cutout", "media")
BUCKETS: dict[str, int] = {"hour": 3600, "day": 86400}
HOURLY_MAX_SPAN = timedelta(hours=72)  # spans up to 3 days get hourly buckets, longer ones daily
TOP_ACCOUNTS = 10  # accounts listed under "posted it most" and under "first posters"
MAX_VARIANTS = 100  # variants listed in a report (by sightings); totals still count them all


@dataclass(frozen=True)
class Target:
    """What a report is about: ``kind`` is one of :data:`TARGET_KINDS`."""

    kind: str
    id: int

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise BadInput(f"unknown report target {self.kind!r}; use one of {', '.join(TARGET_KINDS)}",
                           kind=self.kind)


@dataclass(frozen=True)
class SpreadFilter:
    """Optional restrictions; ``None`` means no restriction. Times are UTC-aware."""

    platform: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    account: str | None = None

    @classmethod
    def parse(cls, platform: str | None = None, since: Any = None, until: Any = None,
              account: str | None = None) -> SpreadFilter:
        """Coerce raw (CLI/HTTP) values once: lower-case platform, ISO-8601 times with a zone."""
        start = parse_time(since, "since")
        end = parse_time(until, "until")
        if start is not None and end is not None and end <= start:
            raise BadInput("until must be later than since", since=str(since), until=str(until))
        return cls(platform=(platform or "").strip().lower() or None, since=start, until=end,
                   account=(account or "").strip() or None)

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "since": _iso(self.since), "until": _iso(self.until),
                "account": self.account}


def choose_bucket(first: datetime | None, last: datetime | None) -> str:
    """``hour`` when the span is at most :data:`HOURLY_MAX_SPAN`, else ``day``."""
    if first is None or last is None or last - first <= HOURLY_MAX_SPAN:
        return "hour"
    return "day"


@dataclass(frozen=True)
class SightingRef:
    """One sighting as a report cites it."""

    sighting_id: int
    media_id: int
    platform: str
    account: str | None
    post_id: str | None
    url: str | None
    at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"sighting_id": self.sighting_id, "media_id": self.media_id,
                "platform": self.platform, "account": self.account, "post_id": self.post_id,
                "url": self.url, "at": _iso(self.at)}


@dataclass(frozen=True)
class PlatformFirst:
    """The first sighting on a platform; ``lag`` after patient zero, ``hop`` after the previous."""

    platform: str
    first: SightingRef
    lag_seconds: float
    hop_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "first": self.first.to_dict(),
                "lag_seconds": self.lag_seconds, "hop_seconds": self.hop_seconds}


@dataclass(frozen=True)
class Counts:
    """Sightings, distinct accounts, variants (a media without a variant counts as its own)."""

    sightings: int
    accounts: int
    variants: int
    first_at: datetime | None = None
    last_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"sightings": self.sightings, "accounts": self.accounts, "variants": self.variants,
                "first_at": _iso(self.first_at), "last_at": _iso(self.last_at)}


@dataclass(frozen=True)
class Totals(Counts):
    platforms: int = 0
    media: int = 0

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"platforms": self.platforms, "media": self.media}


@dataclass(frozen=True)
class TimelineRow:
    """One bucket; ``platform`` ``None`` is the all-platforms row."""

    bucket_start: datetime
    platform: str | None
    counts: Counts

    def to_dict(self) -> dict[str, Any]:
        return {"bucket_start": _iso(self.bucket_start), "platform": self.platform,
                "sightings": self.counts.sightings, "accounts": self.counts.accounts,
                "variants": self.counts.variants}


@dataclass(frozen=True)
class AccountActivity:
    account_id: int
    platform: str
    handle: str
    sightings: int
    first_at: datetime | None
    last_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "platform": self.platform, "handle": self.handle,
                "sightings": self.sightings, "first_at": _iso(self.first_at),
                "last_at": _iso(self.last_at)}


@dataclass(frozen=True)
class VariantSpread:
    """A variant's own spread; ``variant_id`` ``None`` groups the media with no variant yet."""

    variant_id: int | None
    representative_media_id: int | None
    sightings: int
    accounts: int
    platforms: int
    media: int
    first_at: datetime | None
    last_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"variant_id": self.variant_id,
                "representative_media_id": self.representative_media_id,
                "sightings": self.sightings, "accounts": self.accounts,
                "platforms": self.platforms, "media": self.media,
                "first_at": _iso(self.first_at), "last_at": _iso(self.last_at)}


@dataclass(frozen=True)
class CutoutUse:
    """A cut-out found in the target's media, with how often those media were seen."""

    cutout_id: int
    name: str | None
    media: int
    sightings: int
    first_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"cutout_id": self.cutout_id, "name": self.name, "media": self.media,
                "sightings": self.sightings, "first_at": _iso(self.first_at)}


@dataclass(frozen=True)
class SpreadReport:
    target: Target
    filters: SpreadFilter
    totals: Totals
    patient_zero: SightingRef | None
    first_per_platform: tuple[PlatformFirst, ...]
    per_platform: dict[str, Counts]
    bucket: str
    timeline: tuple[TimelineRow, ...]
    top_accounts: tuple[AccountActivity, ...]
    first_posters: tuple[AccountActivity, ...]
    variants: tuple[VariantSpread, ...]
    cutouts: tuple[CutoutUse, ...]
    resolved_from: int | None = None  # a merged family's old id, when the target was redirected
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": {"kind": self.target.kind, "id": self.target.id,
                       "resolved_from": self.resolved_from},
            "filters": self.filters.to_dict(),
            "totals": self.totals.to_dict(),
            "patient_zero": self.patient_zero.to_dict() if self.patient_zero else None,
            "first_per_platform": [p.to_dict() for p in self.first_per_platform],
            "per_platform": {name: c.to_dict() for name, c in self.per_platform.items()},
            "bucket": self.bucket,
            "timeline": [row.to_dict() for row in self.timeline],
            "top_accounts": [a.to_dict() for a in self.top_accounts],
            "first_posters": [a.to_dict() for a in self.first_posters],
            "variants": [v.to_dict() for v in self.variants],
            "cutouts": [c.to_dict() for c in self.cutouts],
        }


def order_platform_firsts(firsts: list[tuple[str, SightingRef]]) -> tuple[PlatformFirst, ...]:
    """Sort per-platform first sightings by time and compute lag (after the first) and hop."""
    timed = sorted(((p, s) for p, s in firsts if s.at is not None),
                   key=lambda item: (item[1].at, item[1].sighting_id))
    out: list[PlatformFirst] = []
    zero: datetime | None = timed[0][1].at if timed else None
    previous = zero
    for platform, ref in timed:
        assert ref.at is not None and zero is not None and previous is not None
        out.append(PlatformFirst(platform, ref, (ref.at - zero).total_seconds(),
                                 (ref.at - previous).total_seconds()))
        previous = ref.at
    return tuple(out)


CSV_COLUMNS = ("section", "key", "platform", "time", "sightings", "accounts", "variants",
               "seconds", "detail")


def report_to_csv(report: SpreadReport) -> str:
    """The report as one long CSV table; ``section`` says which part of the report a row is."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    t = report.totals

    def row(section: str, key: object = "", platform: object = "", time: datetime | None = None,
            sightings: object = "", accounts: object = "", variants: object = "",
            seconds: object = "", detail: object = "") -> None:
        writer.writerow([section, key, platform or "", _iso(time) or "", sightings, accounts,
                         variants, seconds, detail])

    row("totals", f"{report.target.kind}:{report.target.id}", "", t.first_at, t.sightings,
        t.accounts, t.variants, "", f"platforms={t.platforms};media={t.media}")
    if report.patient_zero is not None:
        z = report.patient_zero
        row("patient_zero", z.sighting_id, z.platform, z.at, detail=_ref_detail(z))
    for p in report.first_per_platform:
        row("first_per_platform", p.first.sighting_id, p.platform, p.first.at,
            seconds=p.lag_seconds, detail=f"hop_seconds={p.hop_seconds};{_ref_detail(p.first)}")
    for name, c in report.per_platform.items():
        row("platform", name, name, c.first_at, c.sightings, c.accounts, c.variants,
            detail=f"last_at={_iso(c.last_at)}")
    for tl in report.timeline:
        row(f"timeline_{report.bucket}", "", tl.platform or "*", tl.bucket_start,
            tl.counts.sightings, tl.counts.accounts, tl.counts.variants)
    for section, accounts in (("top_account", report.top_accounts),
                              ("first_poster", report.first_posters)):
        for a in accounts:
            row(section, a.handle, a.platform, a.first_at, a.sightings,
                detail=f"account_id={a.account_id};last_at={_iso(a.last_at)}")
    for v in report.variants:
        row("variant", "" if v.variant_id is None else v.variant_id, "", v.first_at, v.sightings,
            v.accounts, 1, detail=f"platforms={v.platforms};media={v.media};"
            f"representative_media_id={v.representative_media_id or ''};last_at={_iso(v.last_at)}")
    for c in report.cutouts:
        row("cutout", c.cutout_id, "", c.first_at, c.sightings,
            detail=f"name={c.name or ''};media={c.media}")
    return buf.getvalue()


def format_report(report: SpreadReport) -> str:
    """A short human-readable summary for the terminal."""
    t = report.totals
    lines = [f"{report.target.kind} {report.target.id}: {t.sightings} sightings, {t.accounts} "
             f"accounts, {t.variants} variants, {t.platforms} platforms, {t.media} media"]
    if report.resolved_from is not None:
        lines.append(f"(family {report.resolved_from} was merged into {report.target.id})")
    if report.patient_zero is not None:
        z = report.patient_zero
        lines.append(f"patient zero: {_iso(z.at)} {z.platform} @{z.account or '?'} "
                     f"{z.url or z.post_id or ''} (media {z.media_id})")
    if report.first_per_platform:
        lines.append("first per platform:")
        for p in report.first_per_platform:
            lines.append(f"  {p.platform:12s} {_iso(p.first.at)}  lag {_duration(p.lag_seconds)}"
                         f"  hop {_duration(p.hop_seconds)}  @{p.first.account or '?'}")
    if report.per_platform:
        lines.append("per platform: sightings / accounts / variants")
        for name, c in report.per_platform.items():
            lines.append(f"  {name:12s} {c.sightings:8d} {c.accounts:8d} {c.variants:8d}")
    totals_rows = [r for r in report.timeline if r.platform is None]
    if totals_rows:
        adjective = {"hour": "hourly", "day": "daily"}.get(report.bucket, report.bucket)
        lines.append(f"timeline ({adjective} buckets, all platforms): "
                     + ", ".join(f"{_iso(r.bucket_start)}={r.counts.sightings}"
                                 for r in totals_rows[:12])
                     + (" ..." if len(totals_rows) > 12 else ""))
    if report.top_accounts:
        lines.append("posted it most: " + ", ".join(
            f"{a.platform}/@{a.handle} ({a.sightings})" for a in report.top_accounts))
    if report.first_posters:
        lines.append("first posters: " + ", ".join(
            f"{a.platform}/@{a.handle} {_iso(a.first_at)}" for a in report.first_posters))
    if report.variants:
        lines.append(f"variants ({len(report.variants)} shown):")
        for v in report.variants[:20]:
            name = "unassigned" if v.variant_id is None else f"variant {v.variant_id}"
            lines.append(f"  {name:16s} {v.sightings:7d} sightings {v.accounts:6d} accounts "
                         f"first {_iso(v.first_at)}")
    for c in report.cutouts:
        lines.append(f"cut-out {c.cutout_id} {c.name or ''}: in {c.media} media, "
                     f"{c.sightings} sightings, first {_iso(c.first_at)}")
    return "\n".join(lines)


def _ref_detail(ref: SightingRef) -> str:
    return (f"account={ref.account or ''};media_id={ref.media_id};post_id={ref.post_id or ''};"
            f"url={ref.url or ''}")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


# ------------------------------------------------------------------ sighting batches (the API)

BATCH_MAX_ROWS = 10_000  # rows accepted by one batch request
MEDIA_KEYS = ("media_sha256", "image_base64")


@dataclass(frozen=True)
class BatchRow:
    """One parsed batch row: its number (1-based; the line for JSONL/CSV) and raw fields."""

    row: int
    fields: dict[str, Any]


@dataclass
class BatchResult:
    rows: int = 0
    sightings_added: int = 0
    sightings_known: int = 0
    media_created: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, row: int, code: str, message: str) -> None:
        self.errors.append({"row": row, "code": code, "message": message})

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "sightings_added": self.sightings_added,
                "sightings_known": self.sightings_known, "media_created": self.media_created,
                "failed": len(self.errors),
                "errors": sorted(self.errors, key=lambda e: e["row"])}


def parse_batch(body: bytes, content_type: str) -> tuple[list[BatchRow], list[dict[str, Any]]]:
    """Rows of a batch body: a JSON array, JSONL (one object per line) or CSV with a header.

    Returns the rows and the per-row parse errors (``{"row", "code", "message"}``). Row numbers
    are 1-based: the array position for JSON, the line number for JSONL and CSV.
    """
    import json

    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput("the batch body must be UTF-8 text") from None
    kind = (content_type or "").split(";")[0].strip().lower()
    rows: list[BatchRow] = []
    errors: list[dict[str, Any]] = []
    if kind in ("text/csv", "application/csv"):
        reader = csv.DictReader(io.StringIO(text))
        for raw in reader:
            rows.append(BatchRow(reader.line_num, dict(raw)))
    elif kind == "application/json" or (not kind and text.lstrip().startswith("[")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"the batch body is not valid JSON: {exc.msg}") from None
        if not isinstance(value, list):
            raise BadInput("a JSON batch must be an array of row objects")
        for number, item in enumerate(value, start=1):
            if isinstance(item, dict):
                rows.append(BatchRow(number, item))
            else:
                errors.append({"row": number, "code": "bad_metadata",
                               "message": "a row must be a JSON object"})
    else:  # JSONL (application/x-ndjson, application/jsonl, text/plain, ...)
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append({"row": number, "code": "bad_metadata",
                               "message": f"not valid JSON: {exc.msg}"})
                continue
            if isinstance(item, dict):
                rows.append(BatchRow(number, item))
            else:
                errors.append({"row": number, "code": "bad_metadata",
                               "message": "a row must be a JSON object"})
    if len(rows) + len(errors) > BATCH_MAX_ROWS:
        raise BadInput(f"a batch holds at most {BATCH_MAX_ROWS} rows; split it",
                       limit=BATCH_MAX_ROWS)
    return rows, errors


def ingest_batch(core: Any, body: bytes, content_type: str) -> BatchResult:
    """Store a batch of sighting rows (``core`` is a :class:`memetrack.pipeline.Memetrack`).

    A row names its media by ``media_sha256`` (already indexed) or carries it inline as
    ``image_base64``. Bad rows are reported by row number; the others are stored; re-sending
    the same rows adds nothing (sightings are idempotent).
    """
    import base64
    import binascii
    from collections import defaultdict

    from memetrack.errors import MemetrackError
    from memetrack.records import SightingInput

    rows, parse_errors = parse_batch(body, content_type)
    result = BatchResult(rows=len(rows) + len(parse_errors))
    for e in parse_errors:
        result.error(e["row"], e["code"], e["message"])
    by_sha: dict[str, list[tuple[int, SightingInput]]] = defaultdict(list)
    for row in rows:
        try:
            sighting = SightingInput.from_mapping(row.fields)
            if sighting is None:
                raise BadInput("the row names no sighting (platform, account, post_id, ...)")
            sha = str(row.fields.get("media_sha256") or "").strip().lower()
            inline = row.fields.get("image_base64")
            if inline:
                try:
                    data = base64.b64decode(str(inline), validate=True)
                except (binascii.Error, ValueError):
                    raise BadInput("image_base64 is not valid base64") from None
                outcome = core.index_bytes(data, [sighting])
                result.media_created += int(outcome.media_created)
                result.sightings_added += outcome.sightings_created
                result.sightings_known += 1 - outcome.sightings_created
                continue
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise BadInput("a row needs media_sha256 (64 hex digits) or image_base64")
            by_sha[sha].append((row.row, sighting))
        except MemetrackError as exc:
            result.error(row.row, exc.code, exc.message)
    for sha, items in by_sha.items():
        try:
            _media, added = core.store.add_sightings(sha, [s for _n, s in items])
        except MemetrackError as exc:
            for number, _s in items:
                result.error(number, exc.code, exc.message)
            continue
        result.sightings_added += added
        result.sightings_known += len(items) - added
    return result
