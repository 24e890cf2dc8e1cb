"""SQLAlchemy 2 table models. Only the store package imports SQLAlchemy.

The schema is created by Alembic migrations (``migrations/``), never by ``create_all`` in
production code; a test checks that the migrations and these models agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class PlatformRow(Base):
    __tablename__ = "platforms"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sighting_count: Mapped[int] = mapped_column(BigInteger, default=0)


class AccountRow(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform_id", "handle", name="uq_accounts_platform_handle"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    handle: Mapped[str] = mapped_column(String(256))
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sighting_count: Mapped[int] = mapped_column(BigInteger, default=0)


class MediaRow(Base):
    __tablename__ = "media"
    __table_args__ = (Index("ix_media_processed", "processed"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(BigInteger)
    has_alpha: Mapped[bool] = mapped_column(Boolean)
    frames: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # family assignment and cut-out detection done (a killed run finishes them on restart)
    processed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class IndexFileRow(Base):
    """What a batch run did with a file: done (with its SHA-256) or failed (with the reason).

    A file whose path, size and modification time are unchanged is not read again by the next
    run (resuming a killed run costs one lookup per file); failed files are retried on request.
    """

    __tablename__ = "index_files"
    __table_args__ = (Index("ix_index_files_status", "status"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))  # done | failed
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HashRow(Base):
    __tablename__ = "media_hashes"
    __table_args__ = (
        UniqueConstraint("media_id", "algorithm", "version", "view", name="uq_media_hashes_kind"),
        Index("ix_media_hashes_algorithm_id", "algorithm", "version", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    algorithm: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    view: Mapped[str] = mapped_column(String(16))
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    quality: Mapped[int] = mapped_column(Integer)


class SightingRow(Base):
    __tablename__ = "sightings"
    __table_args__ = (
        Index("ix_sightings_media_posted", "media_id", "posted_at"),
        Index("ix_sightings_account_posted", "account_id", "posted_at"),
        Index("ix_sightings_platform_posted", "platform_id", "posted_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    post_id: Mapped[str | None] = mapped_column(String(256))
    url: Mapped[str | None] = mapped_column(String(2048))
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    collected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    text: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FamilyRow(Base):
    """A template family. ``merged_into_id`` keeps a merged family's id resolvable (stable ids)."""

    __tablename__ = "families"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(String(256))
    notes: Mapped[str | None] = mapped_column(Text)
    representative_media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    registered_shell: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("families.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VariantRow(Base):
    """Near-exact copies of one captioned meme inside a family (same shell, same caption)."""

    __tablename__ = "variants"
    __table_args__ = (Index("ix_variants_family", "family_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("families.id"))
    representative_media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FamilyMemberRow(Base):
    """Which family (and variant) a media belongs to, how it matched, and the evidence."""

    __tablename__ = "family_members"
    __table_args__ = (
        Index("ix_family_members_family", "family_id"),
        Index("ix_family_members_variant", "variant_id"),
    )
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"),
                                          primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("families.id"))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id"))
    kind: Mapped[str] = mapped_column(String(16))  # representative|exact|variant|verified|manual
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str | None] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RejectedMatchRow(Base):
    """An analyst said: this media does not belong with that one (the representative of the
    family it had joined). Kept by media, not by family, so it survives family rebuilds: the media
    never joins a family that holds the other one."""

    __tablename__ = "rejected_matches"
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"),
                                          primary_key=True)
    other_media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"),
                                                primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeatureRow(Base):
    """A stored local-feature set (versioned like every representation) of a media or cut-out."""

    __tablename__ = "media_features"
    __table_args__ = (
        UniqueConstraint("media_id", "algorithm", "version", "view", name="uq_media_features_kind"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    algorithm: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    view: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class SampleRow(Base):
    """A small copy (longer side <= 1024 px) of a few members per family, for shell recovery."""

    __tablename__ = "media_samples"
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"),
                                          primary_key=True)
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CutoutRow(Base):
    """A registered transparent cut-out; identity is computed on its opaque pixels only."""

    __tablename__ = "cutouts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    name: Mapped[str | None] = mapped_column(String(256))
    notes: Mapped[str | None] = mapped_column(Text)
    opaque_pdq: Mapped[bytes] = mapped_column(LargeBinary)
    mask_signature: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OccurrenceRow(Base):
    """A cut-out found inside a media: where (quadrilateral), how big, mirrored, and the evidence."""

    __tablename__ = "occurrences"
    __table_args__ = (
        UniqueConstraint("cutout_id", "media_id", name="uq_occurrences_cutout_media"),
        Index("ix_occurrences_media", "media_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cutout_id: Mapped[int] = mapped_column(ForeignKey("cutouts.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    quad: Mapped[str] = mapped_column(Text)  # JSON [[x, y] x 4] in original image pixels
    scale: Mapped[float] = mapped_column(Float)
    mirrored: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    inliers: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
