"""Record who took the equipment and which line a hand-over row is for

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 05:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite adds a foreign key only by rebuilding the table.
    with op.batch_alter_table("handovers") as batch:
        batch.add_column(sa.Column("taken_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("line_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_handovers_line_id_request_lines",
            "request_lines",
            ["line_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_handovers_line_id", ["line_id"])


def downgrade() -> None:
    with op.batch_alter_table("handovers") as batch:
        batch.drop_index("ix_handovers_line_id")
        batch.drop_constraint("fk_handovers_line_id_request_lines", type_="foreignkey")
        batch.drop_column("line_id")
        batch.drop_column("taken_by")
