"""Domain records: plain frozen dataclasses that cross every layer (ORM rows never leave the store)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memetrack.errors import BadMetadata
from memetrack.hashing import PerceptualHash

SIGHTING_FIELDS = ("platform", "account", "post_id", "url", "posted_at", "collected_at", "text")
_MAX_LEN = {"platform": 64, "account": 256, "post_id": 256, "url": 2048, "text": 20000}


def parse_time(value: Any, name: str) -> datetime | None:
    """A timezone-aware datetime in UTC from an ISO-8601 string or datetime; naive times are refused."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise BadMetadata(f"{name} is not an ISO-8601 time: {value!r}", field=name) from None
    else:
        raise BadMetadata(f"{name} must be an ISO-8601 string", field=name)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise BadMetadata(
            f"{name} has no timezone: {value!r} (add Z or an offset like +02:00)", field=name
        )
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class SightingInput:
    """One appearance of an image in the wild, as delivered by a scraper or an uploader."""

    platform: str
    account: str | None = None
    post_id: str | None = None
    url: str | None = None
    posted_at: datetime | None = None
    collected_at: datetime | None = None
    text: str | None = None

    @classmethod
    def from_mapping(cls, row: dict[str, Any]) -> SightingInput | None:
        """Validate a raw row (JSON/CSV/form fields). ``None`` when the row names no sighting."""
        values: dict[str, Any] = {}
        for name in SIGHTING_FIELDS:
            raw = row.get(name)
            if isinstance(raw, str):
                raw = raw.strip() or None
            values[name] = raw
        if all(values[n] is None for n in SIGHTING_FIELDS):
            return None
        if not values["platform"]:
            raise BadMetadata("a sighting needs a platform", field="platform")
        for name, limit in _MAX_LEN.items():
            raw = values[name]
            if raw is None:
                continue
            if not isinstance(raw, str):
                raw = str(raw)
            if len(raw) > limit:
                raise BadMetadata(f"{name} is longer than {limit} characters", field=name)
            values[name] = raw
        values["platform"] = values["platform"].lower()
        if values["url"] and not values["url"].startswith(("http://", "https://")):
            raise BadMetadata(f"url must start with http:// or https://: {values['url']!r}",
                              field="url")
        values["posted_at"] = parse_time(values["posted_at"], "posted_at")
        values["collected_at"] = parse_time(values["collected_at"], "collected_at")
        return cls(**values)

    def dedupe_key(self, media_sha256: str) -> str:
        """Identity of a sighting: platform + post id (or URL) + media; re-delivery changes nothing."""
        if self.post_id:
            parts = ["post", self.platform, self.post_id]
        elif self.url:
            parts = ["url", self.platform, self.url]
        else:
            when = self.posted_at.isoformat() if self.posted_at else ""
            parts = ["acct", self.platform, self.account or "", when]
        parts.append(media_sha256)
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class StoredHash:
    id: int
    media_id: int
    view: str
    hash: PerceptualHash
    quality: int


@dataclass(frozen=True)
class Sighting:
    id: int
    media_id: int
    platform: str
    account: str | None
    post_id: str | None
    url: str | None
    posted_at: datetime | None
    collected_at: datetime | None
    text: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "media_id": self.media_id, "platform": self.platform,
            "account": self.account, "post_id": self.post_id, "url": self.url,
            "posted_at": _iso(self.posted_at), "collected_at": _iso(self.collected_at),
            "text": self.text,
        }


@dataclass(frozen=True)
class Media:
    id: int
    sha256: str
    format: str
    width: int
    height: int
    byte_size: int
    has_alpha: bool
    frames: int
    created_at: datetime
    hashes: tuple[StoredHash, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "sha256": self.sha256, "format": self.format, "width": self.width,
            "height": self.height, "byte_size": self.byte_size, "has_alpha": self.has_alpha,
            "frames": self.frames, "created_at": _iso(self.created_at),
            "hashes": [
                {"algorithm": h.hash.algorithm, "version": h.hash.version, "view": h.view,
                 "hex": h.hash.hex, "quality": h.quality}
                for h in self.hashes
            ],
        }


@dataclass(frozen=True)
class MediaInput:
    """Everything the store needs to add one media: computed in worker processes, no DB access."""

    sha256: str
    format: str
    width: int
    height: int
    byte_size: int
    has_alpha: bool
    frames: int
    hashes: tuple[tuple[str, PerceptualHash, int], ...]  # (view, hash, quality)
    sample: bytes | None = None  # small JPEG of the image (shell recovery, rebuilds, the web page)


@dataclass(frozen=True)
class IngestResult:
    media: Media
    media_created: bool
    sightings: tuple[Sighting, ...] = ()
    sightings_created: int = 0


@dataclass(frozen=True)
class Neighbour:
    """A near-duplicate found by a global hash."""

    media_id: int
    algorithm: str
    distance: int
    transform: str = "original"  # which dihedral variant of the query matched (PDQ)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


@dataclass(frozen=True)
class FamilyMember:
    media_id: int
    family_id: int
    variant_id: int | None
    kind: str  # representative | exact | variant | verified | manual
    score: float
    evidence: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"media_id": self.media_id, "family_id": self.family_id,
                "variant_id": self.variant_id, "kind": self.kind, "score": round(self.score, 4),
                "evidence": self.evidence, "created_at": _iso(self.created_at)}


@dataclass(frozen=True)
class Family:
    id: int
    name: str | None
    notes: str | None
    representative_media_id: int
    registered_shell: bool
    member_count: int
    variant_count: int
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "notes": self.notes,
                "representative_media_id": self.representative_media_id,
                "registered_shell": self.registered_shell, "member_count": self.member_count,
                "variant_count": self.variant_count, "created_at": _iso(self.created_at),
                "updated_at": _iso(self.updated_at)}


@dataclass(frozen=True)
class TemplateHit:
    """A template family found in a query, with how it matched."""

    family: Family
    kind: str
    score: float
    evidence: dict[str, Any]


@dataclass(frozen=True)
class CutoutHit:
    """A registered cut-out found inside an image: where (quadrilateral in the image's original
    pixels, clockwise from the cut-out's own top-left), how big (its height over the image's
    shorter side), whether mirrored, and the evidence."""

    cutout_id: int
    name: str | None
    quad: tuple[tuple[float, float], ...]
    scale: float
    mirrored: bool
    score: float
    inliers: int

    def to_dict(self) -> dict[str, Any]:
        return {"cutout_id": self.cutout_id, "name": self.name,
                "quad": [[round(x, 1), round(y, 1)] for x, y in self.quad],
                "scale": round(self.scale, 4), "mirrored": self.mirrored,
                "score": round(self.score, 4), "inliers": self.inliers}


@dataclass(frozen=True)
class MatchReport:
    query_sha256: str
    query_hashes: dict[str, str]
    neighbours: tuple[Neighbour, ...]
    media: dict[int, Media] = field(default_factory=dict)
    sightings: dict[int, tuple[Sighting, ...]] = field(default_factory=dict)
    templates: tuple[TemplateHit, ...] = ()
    cutouts: tuple[CutoutHit, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": {"sha256": self.query_sha256 or None, "hashes": self.query_hashes},
            "cutouts": [c.to_dict() for c in self.cutouts],
            "templates": [
                {"family": t.family.to_dict(), "kind": t.kind, "score": round(t.score, 4),
                 "evidence": t.evidence}
                for t in self.templates
            ],
            "matches": [
                {
                    "media_id": n.media_id, "algorithm": n.algorithm, "distance": n.distance,
                    "transform": n.transform,
                    "media": self.media[n.media_id].to_dict() if n.media_id in self.media
                    else None,
                    "sightings": [s.to_dict() for s in self.sightings.get(n.media_id, ())],
                }
                for n in self.neighbours
            ],
        }
