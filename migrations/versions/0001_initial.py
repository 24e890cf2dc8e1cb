"""Initial store: platforms, accounts, media, media hashes, sightings.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "platforms",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("first_seen_at", TS),
        sa.Column("last_seen_at", TS),
        sa.Column("sighting_count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("platform_id", BigId, sa.ForeignKey("platforms.id"), nullable=False),
        sa.Column("handle", sa.String(256), nullable=False),
        sa.Column("first_seen_at", TS),
        sa.Column("last_seen_at", TS),
        sa.Column("sighting_count", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("platform_id", "handle", name="uq_accounts_platform_handle"),
    )
    op.create_table(
        "media",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("byte_size", sa.BigInteger, nullable=False),
        sa.Column("has_alpha", sa.Boolean, nullable=False),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "media_hashes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("media_id", BigId, sa.ForeignKey("media.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("view", sa.String(16), nullable=False),
        sa.Column("bits", sa.LargeBinary, nullable=False),
        sa.Column("quality", sa.Integer, nullable=False),
        sa.UniqueConstraint("media_id", "algorithm", "version", "view",
                            name="uq_media_hashes_kind"),
    )
    op.create_index("ix_media_hashes_algorithm_id", "media_hashes", ["algorithm", "version", "id"])
    op.create_table(
        "sightings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("media_id", BigId, sa.ForeignKey("media.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("platform_id", BigId, sa.ForeignKey("platforms.id"), nullable=False),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id")),
        sa.Column("post_id", sa.String(256)),
        sa.Column("url", sa.String(2048)),
        sa.Column("posted_at", TS),
        sa.Column("collected_at", TS),
        sa.Column("text", sa.Text),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_sightings_media_posted", "sightings", ["media_id", "posted_at"])
    op.create_index("ix_sightings_account_posted", "sightings", ["account_id", "posted_at"])
    op.create_index("ix_sightings_platform_posted", "sightings", ["platform_id", "posted_at"])


def downgrade() -> None:
    op.drop_table("sightings")
    op.drop_table("media_hashes")
    op.drop_table("media")
    op.drop_table("accounts")
    op.drop_table("platforms")
