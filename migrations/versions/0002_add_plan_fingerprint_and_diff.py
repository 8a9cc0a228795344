"""Add the data fingerprint and the diff of a plan

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 03:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("diff", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("diff")
        batch_op.drop_column("data_fingerprint")
