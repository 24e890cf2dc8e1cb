"""Families, variants, curation, features, samples, cut-outs, occurrences, indexing state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.add_column(sa.Column("processed", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    op.create_index("ix_media_processed", "media", ["processed"])
    op.create_table(
        "index_files",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("path", sa.Text, nullable=False, unique=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_index_files_status", "index_files", ["status"])
    op.create_table(
        "families",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256)),
        sa.Column("notes", sa.Text),
        sa.Column("representative_media_id", BigId, sa.ForeignKey("media.id"), nullable=False),
        sa.Column("registered_shell", sa.Boolean, nullable=False),
        sa.Column("merged_into_id", BigId, sa.ForeignKey("families.id")),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "variants",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("family_id", BigId, sa.ForeignKey("families.id"), nullable=False),
        sa.Column("representative_media_id", BigId, sa.ForeignKey("media.id"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_variants_family", "variants", ["family_id"])
    op.create_table(
        "family_members",
        sa.Column("media_id", BigId, sa.ForeignKey("media.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("family_id", BigId, sa.ForeignKey("families.id"), nullable=False),
        sa.Column("variant_id", BigId, sa.ForeignKey("variants.id")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("evidence", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_family_members_family", "family_members", ["family_id"])
    op.create_index("ix_family_members_variant", "family_members", ["variant_id"])
    op.create_table(
        "rejected_matches",
        sa.Column("media_id", BigId, sa.ForeignKey("media.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("other_media_id", BigId, sa.ForeignKey("media.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "media_features",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("media_id", BigId, sa.ForeignKey("media.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("view", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("media_id", "algorithm", "version", "view",
                            name="uq_media_features_kind"),
    )
    op.create_table(
        "media_samples",
        sa.Column("media_id", BigId, sa.ForeignKey("media.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "cutouts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("media_id", BigId, sa.ForeignKey("media.id"), nullable=False),
        sa.Column("name", sa.String(256)),
        sa.Column("notes", sa.Text),
        sa.Column("opaque_pdq", sa.LargeBinary, nullable=False),
        sa.Column("mask_signature", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "occurrences",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("cutout_id", BigId, sa.ForeignKey("cutouts.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("media_id", BigId, sa.ForeignKey("media.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("quad", sa.Text, nullable=False),
        sa.Column("scale", sa.Float, nullable=False),
        sa.Column("mirrored", sa.Boolean, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("inliers", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("cutout_id", "media_id", name="uq_occurrences_cutout_media"),
    )
    op.create_index("ix_occurrences_media", "occurrences", ["media_id"])


def downgrade() -> None:
    op.drop_index("ix_media_processed", "media")
    with op.batch_alter_table("media") as batch:
        batch.drop_column("processed")
    for table in ("index_files", "occurrences", "cutouts", "media_samples", "media_features", "rejected_matches",
                  "family_members", "variants", "families"):
        op.drop_table(table)
