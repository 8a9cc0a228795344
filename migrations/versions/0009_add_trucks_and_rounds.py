"""Add trucks, load sizes of equipment types and the delivery rounds of each day

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-12 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("equipment_types") as batch:
        batch.add_column(sa.Column("load_per_item", sa.Double(), nullable=True))
    op.create_table(
        "trucks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("day_start", sa.Time(), nullable=False),
        sa.Column("day_end", sa.Time(), nullable=False),
        sa.Column("break_start", sa.Time(), nullable=True),
        sa.Column("break_minutes", sa.Integer(), nullable=False),
        sa.Column("cost_per_km", sa.Double(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["depot_id"], ["sites.id"], name=op.f("fk_trucks_depot_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trucks")),
        sa.UniqueConstraint("name", name=op.f("uq_trucks_name")),
    )
    op.create_index(op.f("ix_trucks_depot_id"), "trucks", ["depot_id"], unique=False)
    op.create_table(
        "round_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("DONE", "FAILED", name="rounddaystatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("km", sa.Double(), nullable=False),
        sa.Column("time_limit_seconds", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_days")),
        sa.UniqueConstraint("day", name=op.f("uq_round_days_day")),
    )
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day_id", sa.Integer(), nullable=False),
        sa.Column("truck_id", sa.Integer(), nullable=False),
        sa.Column("depart_dt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("return_dt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("km", sa.Double(), nullable=False),
        sa.Column("load_at_depot", sa.Integer(), nullable=False),
        sa.Column("break_start_dt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("break_end_dt", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["day_id"],
            ["round_days.id"],
            name=op.f("fk_rounds_day_id_round_days"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["truck_id"], ["trucks.id"], name=op.f("fk_rounds_truck_id_trucks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rounds")),
        sa.UniqueConstraint("day_id", "truck_id", name=op.f("uq_rounds_day_id")),
    )
    op.create_index(op.f("ix_rounds_day_id"), "rounds", ["day_id"], unique=False)
    op.create_index(op.f("ix_rounds_truck_id"), "rounds", ["truck_id"], unique=False)
    op.create_table(
        "round_stops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("arrival_dt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("departure_dt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("load", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["day_id"],
            ["round_days.id"],
            name=op.f("fk_round_stops_day_id_round_days"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"],
            ["loan_requests.id"],
            name=op.f("fk_round_stops_loan_id_loan_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_round_stops_round_id_rounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_round_stops_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_stops")),
    )
    op.create_index(op.f("ix_round_stops_day_id"), "round_stops", ["day_id"], unique=False)
    op.create_index(op.f("ix_round_stops_round_id"), "round_stops", ["round_id"], unique=False)
    op.create_index(op.f("ix_round_stops_site_id"), "round_stops", ["site_id"], unique=False)
    op.create_index("ix_round_stops_loan_kind", "round_stops", ["loan_id", "kind"], unique=False)
    op.create_table(
        "round_stop_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stop_id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("load", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stop_id"],
            ["round_stops.id"],
            name=op.f("fk_round_stop_lines_stop_id_round_stops"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["equipment_types.id"],
            name=op.f("fk_round_stop_lines_type_id_equipment_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_stop_lines")),
    )
    op.create_index(
        op.f("ix_round_stop_lines_stop_id"), "round_stop_lines", ["stop_id"], unique=False
    )
    op.create_index(
        op.f("ix_round_stop_lines_type_id"), "round_stop_lines", ["type_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("round_stop_lines")
    op.drop_table("round_stops")
    op.drop_table("rounds")
    op.drop_table("round_days")
    op.drop_table("trucks")
    with op.batch_alter_table("equipment_types") as batch:
        batch.drop_column("load_per_item")
