"""Response and request models (the OpenAPI contract)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HashOut(BaseModel):
    algorithm: str
    version: int
    view: str
    hex: str
    quality: int


class SightingOut(BaseModel):
    id: int
    media_id: int
    platform: str
    account: str | None
    post_id: str | None
    url: str | None
    posted_at: str | None
    collected_at: str | None
    text: str | None


class MediaOut(BaseModel):
    id: int
    sha256: str
    format: str
    width: int
    height: int
    byte_size: int
    has_alpha: bool
    frames: int
    created_at: str | None
    hashes: list[HashOut]


class MediaWithSightings(MediaOut):
    sightings: list[SightingOut]


class IndexOut(BaseModel):
    created: bool = Field(description="false when the same bytes were indexed before")
    sightings_added: int
    media: MediaWithSightings


class MatchOut(BaseModel):
    media_id: int
    algorithm: str
    distance: int
    transform: str
    media: MediaOut | None
    sightings: list[SightingOut]


class QueryOut(BaseModel):
    sha256: str | None
    hashes: dict[str, str]


class FamilyOut(BaseModel):
    id: int
    name: str | None
    notes: str | None
    representative_media_id: int
    registered_shell: bool
    member_count: int
    variant_count: int
    created_at: str | None
    updated_at: str | None


class TemplateOut(BaseModel):
    family: FamilyOut
    kind: str = Field(description="exact | variant (global hash of the core view) | verified "
                      "(local features + geometric verification) | dense (a low-texture query "
                      "placed over the template's thumbnail)")
    score: float
    evidence: dict


class CutoutHitOut(BaseModel):
    cutout_id: int
    name: str | None
    quad: list[list[float]] = Field(description="the cut-out's corners in the image's pixels, "
                                    "clockwise from its own top-left")
    scale: float = Field(description="cut-out height over the image's shorter side")
    mirrored: bool
    score: float
    inliers: int


class MatchResponse(BaseModel):
    query: QueryOut
    templates: list[TemplateOut] = Field(description="template families found in the image")
    cutouts: list[CutoutHitOut] = Field(description="registered cut-outs found in the image")
    matches: list[MatchOut] = Field(description="near-duplicate media by global hash")


class MemberOut(BaseModel):
    media_id: int
    family_id: int
    variant_id: int | None
    kind: str
    score: float
    evidence: dict
    created_at: str | None


class FamilyDetail(FamilyOut):
    members: list[MemberOut]


class FamilyPatch(BaseModel):
    name: str | None = None
    notes: str | None = None


class CutoutPatch(FamilyPatch):
    """New name and/or notes of a cut-out."""


class MergeRequest(BaseModel):
    source_family_id: int = Field(description="the family merged into this one (its id keeps "
                                  "resolving to this family)")


class HashQuery(BaseModel):
    algorithm: str = Field(description="pdq or phash")
    hash: str = Field(description="hex string (64 digits for PDQ, 16 for pHash)")
    limit: int | None = Field(None, ge=1, le=100)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict | None = None


class ErrorOut(BaseModel):
    error: ErrorBody
