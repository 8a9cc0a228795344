"""Add indexes for availability, request lists and the review of long plans

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 05:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plan's loans in date order (review pages, timelines).
    op.create_index(
        "ix_assignments_plan_start", "assignments", ["plan_id", "is_served", "start_dt"]
    )
    # The approved plan's loans still running after a date (availability).
    op.create_index("ix_assignments_plan_end", "assignments", ["plan_id", "end_dt"])
    # Pending requests still running after a date (availability).
    op.create_index("ix_loan_requests_status_end", "loan_requests", ["status", "requested_end_dt"])
    # A commune's requests in date order (its request list).
    op.create_index(
        "ix_loan_requests_commune_start", "loan_requests", ["commune_id", "requested_start_dt"]
    )


def downgrade() -> None:
    op.drop_index("ix_loan_requests_commune_start", table_name="loan_requests")
    op.drop_index("ix_loan_requests_status_end", table_name="loan_requests")
    op.drop_index("ix_assignments_plan_end", table_name="assignments")
    op.drop_index("ix_assignments_plan_start", table_name="assignments")
