"""Domain records of cut-outs: frozen dataclasses that cross every layer (no ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


@dataclass(frozen=True)
class Cutout:
    """A registered cut-out. ``media_id`` is the indexed file it was registered from;
    ``opaque_pdq`` (hex) and ``mask_signature`` (hex) are its identity."""

    id: int
    media_id: int
    name: str | None
    notes: str | None
    opaque_pdq: str
    mask_signature: str
    created_at: datetime
    occurrence_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "media_id": self.media_id, "name": self.name, "notes": self.notes,
                "opaque_pdq": self.opaque_pdq, "mask_signature": self.mask_signature,
                "created_at": _iso(self.created_at), "occurrence_count": self.occurrence_count}


@dataclass(frozen=True)
class Occurrence:
    """A cut-out found inside a media: its quadrilateral in the media's original pixels (from the
    cut-out's own top-left corner, clockwise as seen on the cut-out), its height over the media's
    shorter side, mirrored or not, and the evidence."""

    id: int
    cutout_id: int
    media_id: int
    quad: tuple[tuple[float, float], ...]
    scale: float
    mirrored: bool
    score: float
    inliers: int
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "cutout_id": self.cutout_id, "media_id": self.media_id,
                "quad": [[round(x, 1), round(y, 1)] for x, y in self.quad],
                "scale": round(self.scale, 4), "mirrored": self.mirrored,
                "score": round(self.score, 4), "inliers": self.inliers,
                "created_at": _iso(self.created_at)}


@dataclass(frozen=True)
class PlatformSpread:
    platform: str
    sightings: int
    media: int
    first_seen: datetime | None
    last_seen: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "sightings": self.sightings, "media": self.media,
                "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen)}


@dataclass(frozen=True)
class AccountSpread:
    platform: str
    account: str
    sightings: int
    media: int
    first_seen: datetime | None
    last_seen: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "account": self.account,
                "sightings": self.sightings, "media": self.media,
                "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen)}


@dataclass(frozen=True)
class FamilySpread:
    family_id: int
    name: str | None
    media: int

    def to_dict(self) -> dict[str, Any]:
        return {"family_id": self.family_id, "name": self.name, "media": self.media}


@dataclass(frozen=True)
class CutoutReport:
    """Where a cut-out appears: the media it was found in, their families, the accounts and
    platforms that posted them, and when it was first and last seen (posting time, else
    collection time, of those media's sightings)."""

    cutout: Cutout
    media_ids: tuple[int, ...]
    families: tuple[FamilySpread, ...]
    platforms: tuple[PlatformSpread, ...]
    accounts: tuple[AccountSpread, ...]
    sightings: int
    first_seen: datetime | None
    last_seen: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"cutout": self.cutout.to_dict(), "media_ids": list(self.media_ids),
                "media_count": len(self.media_ids),
                "families": [f.to_dict() for f in self.families],
                "platforms": [p.to_dict() for p in self.platforms],
                "accounts": [a.to_dict() for a in self.accounts],
                "sightings": self.sightings, "first_seen": _iso(self.first_seen),
                "last_seen": _iso(self.last_seen)}
