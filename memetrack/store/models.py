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


# columns the item-key indexes of ``sightings`` carry (PostgreSQL INCLUDE), so that spread
# reports and coordination queries read them with index-only scans
SPREAD_COLUMNS = ["id", "account_id", "platform_id", "media_id", "collected_at", "variant_key"]


COPOST_COLUMNS = ["s_lo", "s_hi", "t_lo", "t_hi", "item", "delay"]


class SightingRow(Base):
    __tablename__ = "sightings"
    __table_args__ = (
        Index("ix_sightings_media_posted", "media_id", "posted_at"),
        Index("ix_sightings_account_posted", "account_id", "posted_at"),
        Index("ix_sightings_platform_posted", "platform_id", "posted_at"),
        # the item keys in time order, covering what spread reports and coordination read
        Index("ix_sightings_family_key_posted", "family_key", "posted_at",
              postgresql_include=SPREAD_COLUMNS),
        Index("ix_sightings_variant_key_posted", "variant_key", "posted_at",
              postgresql_include=SPREAD_COLUMNS),
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
    # denormalised from family_members, kept in sync by every membership write: the family id
    # (variant id) of the media, or minus the media id while it has none (it stands for itself)
    family_key: Mapped[int | None] = mapped_column(BigInteger)
    variant_key: Mapped[int | None] = mapped_column(BigInteger)


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


class CutoutBackfillRow(Base):
    """Progress of a cut-out's latest backfill: media scanned up to ``after_media_id``."""

    __tablename__ = "cutout_backfills"
    cutout_id: Mapped[int] = mapped_column(BigId, ForeignKey("cutouts.id", ondelete="CASCADE"),
                                           primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # running, done, failed
    done: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    found: Mapped[int] = mapped_column(Integer)
    after_media_id: Mapped[int] = mapped_column(BigId)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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


class CoPostRow(Base):
    """A stored co-posting pair of sightings at one level (``family``, ``variant``, ``media``):
    each sighting with the next few sightings of its item by another account at most
    ``memetrack.store.coposts.STORED_WINDOW`` seconds later. Derived from ``sightings``;
    an item's pairs are recomputed when :class:`StaleItemRow` marks it (new sightings,
    membership changes), so a coordination query only aggregates pairs."""

    __tablename__ = "co_posts"
    __table_args__ = (
        Index("ix_co_posts_level_pair", "level", "lo", "hi", postgresql_include=COPOST_COLUMNS),
        Index("ix_co_posts_level_item", "level", "item"),
    )
    level: Mapped[str] = mapped_column(String(8), primary_key=True)
    s_lo: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # sighting of account lo
    s_hi: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # sighting of account hi
    item: Mapped[int] = mapped_column(BigInteger)  # family/variant id, or -media id
    lo: Mapped[int] = mapped_column(BigInteger)  # the smaller account id
    hi: Mapped[int] = mapped_column(BigInteger)
    t_lo: Mapped[float] = mapped_column(Float)  # epoch seconds of s_lo
    t_hi: Mapped[float] = mapped_column(Float)
    delay: Mapped[float] = mapped_column(Float)  # |t_hi - t_lo|


class StaleItemRow(Base):
    """An item whose stored co-posting pairs must be recomputed before the next query."""

    __tablename__ = "co_post_stale"
    level: Mapped[str] = mapped_column(String(8), primary_key=True)
    item: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class CoPostLinkRow(Base):
    """Per level and account pair, how many stored co-posting pairs it has (kept with
    ``co_posts``): an account pair below ``min_repetitions`` here cannot be an edge at any
    window, so a coordination query reads the pairs of the few linked account pairs only."""

    __tablename__ = "co_post_links"
    __table_args__ = (Index("ix_co_post_links_level_pairs", "level", "pairs"),)
    level: Mapped[str] = mapped_column(String(8), primary_key=True)
    lo: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hi: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pairs: Mapped[int] = mapped_column(BigInteger)
