"""Group recurring requests in series

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["communes.id"], name=op.f("fk_request_series_commune_id_communes")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_request_series_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_series")),
    )
    op.create_index(
        op.f("ix_request_series_commune_id"), "request_series", ["commune_id"], unique=False
    )
    op.create_index(
        op.f("ix_request_series_created_by_id"), "request_series", ["created_by_id"], unique=False
    )
    with op.batch_alter_table("loan_requests") as batch:
        batch.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_loan_requests_series_id"), ["series_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_loan_requests_series_id_request_series"),
            "request_series",
            ["series_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("loan_requests") as batch:
        batch.drop_constraint(
            batch.f("fk_loan_requests_series_id_request_series"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_loan_requests_series_id"))
        batch.drop_column("series_id")
    op.drop_index(op.f("ix_request_series_created_by_id"), table_name="request_series")
    op.drop_index(op.f("ix_request_series_commune_id"), table_name="request_series")
    op.drop_table("request_series")
