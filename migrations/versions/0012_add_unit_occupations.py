"""Keep the approved loans' unit occupations, with PostgreSQL forbidding overlaps

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXCLUSION = "ex_unit_occupations_no_overlap"


def upgrade() -> None:
    op.create_table(
        "unit_occupations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("start_dt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_dt", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name="fk_unit_occupations_assignment_id_assignments",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["loan_requests.id"],
            name="fk_unit_occupations_request_id_loan_requests",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name="fk_unit_occupations_unit_id_units"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_unit_occupations"),
    )
    op.create_index("ix_unit_occupations_unit_id", "unit_occupations", ["unit_id"])
    op.create_index("ix_unit_occupations_assignment_id", "unit_occupations", ["assignment_id"])
    op.create_index("ix_unit_occupations_request_id", "unit_occupations", ["request_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")
        op.execute(
            f"ALTER TABLE unit_occupations ADD CONSTRAINT {EXCLUSION} EXCLUDE USING gist "
            "(unit_id WITH =, tstzrange(start_dt, end_dt, '[)') WITH &&)"
        )
    # The loans approved before this revision: the approved plan's served assignments
    # whose requests still hold equipment, each unit until the end plus its turnaround.
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT au.unit_id, a.id, a.request_id, a.start_dt, a.end_dt, "
                "t.turnaround_minutes FROM assignment_units au "
                "JOIN assignments a ON a.id = au.assignment_id "
                "JOIN plans p ON p.id = a.plan_id "
                "JOIN loan_requests r ON r.id = a.request_id "
                "JOIN units u ON u.id = au.unit_id "
                "JOIN equipment_types t ON t.id = u.type_id "
                "WHERE p.status = 'APPROVED' AND a.is_served "
                "AND r.status IN ('APPROVED', 'HANDED_OVER') "
                "AND a.start_dt IS NOT NULL AND a.end_dt IS NOT NULL"
            )
        )
        .all()
    )
    if rows:
        from datetime import UTC, datetime, timedelta

        def aware(value: object) -> datetime:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

        table = sa.table(
            "unit_occupations",
            sa.column("unit_id"),
            sa.column("assignment_id"),
            sa.column("request_id"),
            sa.column("start_dt", sa.DateTime(timezone=True)),
            sa.column("end_dt", sa.DateTime(timezone=True)),
        )
        op.bulk_insert(
            table,
            [
                {
                    "unit_id": unit_id,
                    "assignment_id": assignment_id,
                    "request_id": request_id,
                    "start_dt": aware(start),
                    "end_dt": aware(end) + timedelta(minutes=min(max(turn or 0, 0), 10080)),
                }
                for unit_id, assignment_id, request_id, start, end, turn in rows
            ],
        )


def downgrade() -> None:
    op.drop_table("unit_occupations")
