"""Add feed watermarks, event states and the feed generation counter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 03:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_generation")),
    )
    # The one row the feed generation lives in; raising it is then always an UPDATE.
    op.execute("INSERT INTO feed_generation (id, generation) VALUES (1, 0)")
    op.create_table(
        "feed_watermarks",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("built_for", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["feed_tokens.id"],
            name=op.f("fk_feed_watermarks_token_id_feed_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_feed_watermarks")),
    )
    op.create_table(
        "feed_event_states",
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"],
            ["loan_requests.id"],
            name=op.f("fk_feed_event_states_loan_id_loan_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("loan_id", "kind", "audience", name=op.f("pk_feed_event_states")),
    )


def downgrade() -> None:
    op.drop_table("feed_event_states")
    op.drop_table("feed_watermarks")
    op.drop_table("feed_generation")
