"""Item keys on sightings (denormalised family/variant) with covering indexes; stored co-posts.

``sightings.family_key`` / ``variant_key`` hold the family (variant) id of the sighting's media,
or minus the media id while it has none; the membership writes keep them in sync. Indexed with
the time (and, on PostgreSQL, the columns spread reports and coordination read), so both read a
family's sightings in time order without joining ``family_members`` or sorting.

``co_posts`` holds the co-posting sighting pairs per level, recomputed per item when
``co_post_stale`` marks the item (every existing item starts stale); ``co_post_links`` counts
them per account pair.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INCLUDE = ["id", "account_id", "platform_id", "media_id", "collected_at", "variant_key"]
COPOST_INCLUDE = ["s_lo", "s_hi", "t_lo", "t_hi", "item", "delay"]


def upgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("family_key", sa.BigInteger))
        batch.add_column(sa.Column("variant_key", sa.BigInteger))
    op.execute(
        "UPDATE sightings SET "
        "family_key = coalesce((SELECT fm.family_id FROM family_members fm "
        "WHERE fm.media_id = sightings.media_id), -media_id), "
        "variant_key = coalesce((SELECT fm.variant_id FROM family_members fm "
        "WHERE fm.media_id = sightings.media_id), -media_id)")
    op.create_index("ix_sightings_family_key_posted", "sightings", ["family_key", "posted_at"],
                    postgresql_include=INCLUDE)
    op.create_index("ix_sightings_variant_key_posted", "sightings", ["variant_key", "posted_at"],
                    postgresql_include=INCLUDE)
    op.create_table(
        "co_posts",
        sa.Column("level", sa.String(8), primary_key=True),
        sa.Column("s_lo", sa.BigInteger, primary_key=True),
        sa.Column("s_hi", sa.BigInteger, primary_key=True),
        sa.Column("item", sa.BigInteger, nullable=False),
        sa.Column("lo", sa.BigInteger, nullable=False),
        sa.Column("hi", sa.BigInteger, nullable=False),
        sa.Column("t_lo", sa.Float, nullable=False),
        sa.Column("t_hi", sa.Float, nullable=False),
        sa.Column("delay", sa.Float, nullable=False),
    )
    op.create_index("ix_co_posts_level_pair", "co_posts", ["level", "lo", "hi"],
                    postgresql_include=COPOST_INCLUDE)
    op.create_index("ix_co_posts_level_item", "co_posts", ["level", "item"])
    op.create_table(
        "co_post_links",
        sa.Column("level", sa.String(8), primary_key=True),
        sa.Column("lo", sa.BigInteger, primary_key=True),
        sa.Column("hi", sa.BigInteger, primary_key=True),
        sa.Column("pairs", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_co_post_links_level_pairs", "co_post_links", ["level", "pairs"])
    op.create_table(
        "co_post_stale",
        sa.Column("level", sa.String(8), primary_key=True),
        sa.Column("item", sa.BigInteger, primary_key=True),
    )
    op.execute("INSERT INTO co_post_stale (level, item) "
               "SELECT DISTINCT 'family', family_key FROM sightings UNION "
               "SELECT DISTINCT 'variant', variant_key FROM sightings UNION "
               "SELECT DISTINCT 'media', -media_id FROM sightings")


def downgrade() -> None:
    op.drop_table("co_post_stale")
    op.drop_index("ix_co_post_links_level_pairs", "co_post_links")
    op.drop_table("co_post_links")
    op.drop_index("ix_co_posts_level_item", "co_posts")
    op.drop_index("ix_co_posts_level_pair", "co_posts")
    op.drop_table("co_posts")
    op.drop_index("ix_sightings_variant_key_posted", "sightings")
    op.drop_index("ix_sightings_family_key_posted", "sightings")
    with op.batch_alter_table("sightings") as batch:
        batch.drop_column("variant_key")
        batch.drop_column("family_key")
