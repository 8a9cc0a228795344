"""Create the initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 02:42:47.173925
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "communes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communes")),
        sa.UniqueConstraint("slug", name=op.f("uq_communes_slug")),
    )
    op.create_table(
        "equipment_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("turnaround_minutes", sa.Integer(), nullable=False),
        sa.Column("min_notice_hours", sa.Integer(), nullable=False),
        sa.Column("max_loan_days", sa.Integer(), nullable=True),
        sa.Column("is_delivered", sa.Boolean(), nullable=False),
        sa.Column("is_pooled", sa.Boolean(), nullable=False),
        sa.Column("max_direct_transfer_hours", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment_types")),
        sa.UniqueConstraint("code", name=op.f("uq_equipment_types_code")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_attempts_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_attempts_email"), ["email"], unique=False)

    op.create_table(
        "outbox_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PENDING", "SENT", "FAILED", name="outboxstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_emails")),
    )
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_emails_status"), ["status"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("DEPOT", "DELIVERY", name="sitekind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["communes.id"], name=op.f("fk_sites_commune_id_communes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_commune_id"), ["commune_id"], unique=False)

    op.create_table(
        "type_substitutes",
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("substitute_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["substitute_id"],
            ["equipment_types.id"],
            name=op.f("fk_type_substitutes_substitute_id_equipment_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["equipment_types.id"],
            name=op.f("fk_type_substitutes_type_id_equipment_types"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("type_id", "substitute_id", name=op.f("pk_type_substitutes")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum("TECHNICIAN", "MANAGER", "ADMIN", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column("is_active_account", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["communes.id"], name=op.f("fk_users_commune_id_communes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_commune_id"), ["commune_id"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("object_type", sa.String(length=60), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_events_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_events_object", ["object_type", "object_id"], unique=False)

    op.create_table(
        "feed_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "COMMUNE",
                "UNIT",
                "TYPE",
                "ROUND",
                "MANAGER",
                name="feedkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_feed_tokens_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_feed_tokens_token_hash")),
    )
    with op.batch_alter_table("feed_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_tokens_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "loan_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("requested_start_dt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_end_dt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("earliest_start_dt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latest_end_dt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("priority_reason", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "SUBMITTED",
                "PLANNED",
                "APPROVED",
                "DECLINED",
                "CANCELLED",
                "HANDED_OVER",
                "RETURNED",
                name="requeststatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "priority BETWEEN 1 AND 4", name=op.f("ck_loan_requests_priority_range")
        ),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["communes.id"], name=op.f("fk_loan_requests_commune_id_communes")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_loan_requests_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["users.id"], name=op.f("fk_loan_requests_submitted_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_requests")),
    )
    with op.batch_alter_table("loan_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_loan_requests_commune_id"), ["commune_id"], unique=False
        )
        batch_op.create_index(
            "ix_loan_requests_flex_window", ["earliest_start_dt", "latest_end_dt"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_loan_requests_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_loan_requests_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_loan_requests_submitted_by_id"), ["submitted_by_id"], unique=False
        )
        batch_op.create_index(
            "ix_loan_requests_window", ["requested_start_dt", "requested_end_dt"], unique=False
        )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_user_id"), ["user_id"], unique=False)

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PROPOSED",
                "APPROVED",
                "SUPERSEDED",
                "DISCARDED",
                name="planstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("strategy", sa.String(length=40), nullable=False),
        sa.Column("problem_json", sa.JSON(), nullable=False),
        sa.Column("plan_json", sa.JSON(), nullable=True),
        sa.Column("problem_sha", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("baseline_metrics", sa.JSON(), nullable=True),
        sa.Column("data_watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["users.id"], name=op.f("fk_plans_approved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_plans_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plans_approved_by_id"), ["approved_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_plans_created_by_id"), ["created_by_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plans_problem_sha"), ["problem_sha"], unique=False)
        batch_op.create_index(batch_op.f("ix_plans_status"), ["status"], unique=False)

    op.create_table(
        "pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["depot_id"], ["sites.id"], name=op.f("fk_pools_depot_id_sites")),
        sa.ForeignKeyConstraint(
            ["type_id"], ["equipment_types.id"], name=op.f("fk_pools_type_id_equipment_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pools")),
        sa.UniqueConstraint("type_id", "depot_id", name=op.f("uq_pools_type_id")),
    )
    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pools_depot_id"), ["depot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pools_type_id"), ["type_id"], unique=False)

    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("home_depot_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "AVAILABLE",
                "MAINTENANCE",
                "RETIRED",
                name="unitstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["home_depot_id"], ["sites.id"], name=op.f("fk_units_home_depot_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["type_id"], ["equipment_types.id"], name=op.f("fk_units_type_id_equipment_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("code", name=op.f("uq_units_code")),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_units_home_depot_id"), ["home_depot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_units_type_id"), ["type_id"], unique=False)

    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("is_served", sa.Boolean(), nullable=False),
        sa.Column("start_dt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_dt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=True),
        sa.Column("is_pinned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_assignments_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["loan_requests.id"],
            name=op.f("fk_assignments_request_id_loan_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignments_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignments_request_id"), ["request_id"], unique=False)
        batch_op.create_index("ix_assignments_window", ["start_dt", "end_dt"], unique=False)

    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("CHECK_OUT", "CHECK_IN", name="handoverkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "condition",
            sa.Enum("GOOD", "WORN", "DAMAGED", name="condition", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("damage", sa.Text(), nullable=True),
        sa.Column("missing_quantity", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], name=op.f("fk_handovers_by_id_users")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["loan_requests.id"],
            name=op.f("fk_handovers_request_id_loan_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_handovers_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handovers")),
    )
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handovers_by_id"), ["by_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_handovers_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_handovers_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "request_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_request_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["loan_requests.id"],
            name=op.f("fk_request_lines_request_id_loan_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["equipment_types.id"],
            name=op.f("fk_request_lines_type_id_equipment_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_lines")),
    )
    with op.batch_alter_table("request_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_lines_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_request_lines_type_id"), ["type_id"], unique=False)

    op.create_table(
        "solver_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "QUEUED",
                "RUNNING",
                "SUCCEEDED",
                "FAILED",
                "CANCELLED",
                name="jobstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("stage", sa.String(), nullable=True),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("best_objective", sa.Double(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("time_limit_seconds", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_solver_jobs_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name=op.f("fk_solver_jobs_requested_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_solver_jobs")),
    )
    with op.batch_alter_table("solver_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_solver_jobs_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_solver_jobs_requested_by_id"), ["requested_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_solver_jobs_status"), ["status"], unique=False)

    op.create_table(
        "unavailabilities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("start_dt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_dt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_unavailabilities_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unavailabilities")),
    )
    with op.batch_alter_table("unavailabilities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unavailabilities_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(
            "ix_unavailabilities_unit_window", ["unit_id", "start_dt", "end_dt"], unique=False
        )

    op.create_table(
        "assignment_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_assignment_draws_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["request_lines.id"],
            name=op.f("fk_assignment_draws_line_id_request_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["pools.id"], name=op.f("fk_assignment_draws_pool_id_pools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_draws")),
    )
    with op.batch_alter_table("assignment_draws", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignment_draws_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_assignment_draws_line_id"), ["line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignment_draws_pool_id"), ["pool_id"], unique=False)

    op.create_table(
        "assignment_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_assignment_units_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["request_lines.id"],
            name=op.f("fk_assignment_units_line_id_request_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_assignment_units_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_units")),
    )
    with op.batch_alter_table("assignment_units", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignment_units_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_assignment_units_line_id"), ["line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignment_units_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assignment_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_units_unit_id"))
        batch_op.drop_index(batch_op.f("ix_assignment_units_line_id"))
        batch_op.drop_index(batch_op.f("ix_assignment_units_assignment_id"))

    op.drop_table("assignment_units")
    with op.batch_alter_table("assignment_draws", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_draws_pool_id"))
        batch_op.drop_index(batch_op.f("ix_assignment_draws_line_id"))
        batch_op.drop_index(batch_op.f("ix_assignment_draws_assignment_id"))

    op.drop_table("assignment_draws")
    with op.batch_alter_table("unavailabilities", schema=None) as batch_op:
        batch_op.drop_index("ix_unavailabilities_unit_window")
        batch_op.drop_index(batch_op.f("ix_unavailabilities_unit_id"))

    op.drop_table("unavailabilities")
    with op.batch_alter_table("solver_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_solver_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_solver_jobs_requested_by_id"))
        batch_op.drop_index(batch_op.f("ix_solver_jobs_plan_id"))

    op.drop_table("solver_jobs")
    with op.batch_alter_table("request_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_lines_type_id"))
        batch_op.drop_index(batch_op.f("ix_request_lines_request_id"))

    op.drop_table("request_lines")
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handovers_unit_id"))
        batch_op.drop_index(batch_op.f("ix_handovers_request_id"))
        batch_op.drop_index(batch_op.f("ix_handovers_by_id"))

    op.drop_table("handovers")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_window")
        batch_op.drop_index(batch_op.f("ix_assignments_request_id"))
        batch_op.drop_index(batch_op.f("ix_assignments_plan_id"))

    op.drop_table("assignments")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_type_id"))
        batch_op.drop_index(batch_op.f("ix_units_home_depot_id"))

    op.drop_table("units")
    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pools_type_id"))
        batch_op.drop_index(batch_op.f("ix_pools_depot_id"))

    op.drop_table("pools")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_status"))
        batch_op.drop_index(batch_op.f("ix_plans_problem_sha"))
        batch_op.drop_index(batch_op.f("ix_plans_created_by_id"))
        batch_op.drop_index(batch_op.f("ix_plans_approved_by_id"))

    op.drop_table("plans")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_user_id"))

    op.drop_table("notifications")
    with op.batch_alter_table("loan_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_loan_requests_window")
        batch_op.drop_index(batch_op.f("ix_loan_requests_submitted_by_id"))
        batch_op.drop_index(batch_op.f("ix_loan_requests_status"))
        batch_op.drop_index(batch_op.f("ix_loan_requests_site_id"))
        batch_op.drop_index("ix_loan_requests_flex_window")
        batch_op.drop_index(batch_op.f("ix_loan_requests_commune_id"))

    op.drop_table("loan_requests")
    with op.batch_alter_table("feed_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_tokens_owner_id"))

    op.drop_table("feed_tokens")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_object")
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_actor_id"))

    op.drop_table("audit_events")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_commune_id"))

    op.drop_table("users")
    op.drop_table("type_substitutes")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_commune_id"))

    op.drop_table("sites")
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_emails_status"))

    op.drop_table("outbox_emails")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_email"))
        batch_op.drop_index(batch_op.f("ix_login_attempts_at"))

    op.drop_table("login_attempts")
    op.drop_table("equipment_types")
    op.drop_table("communes")
