"""Schemas of the planning, hand-over, notification and calendar feed resources."""

from __future__ import annotations

import marshmallow as ma

from booking.api.fields import Id, Text, UtcDateTime, When
from booking.api.schemas import ItemsOf, Nullable, Schema
from booking.models import Condition, FeedKind, HandoverKind, JobStatus, PlanStatus

# --- optimiser runs and plans ----------------------------------------------------------------


class RunInSchema(Schema):
    time_limit_seconds = ma.fields.Float(
        load_default=60, allow_nan=False, metadata={"description": "1 to 600 seconds."}
    )
    strategy = ma.fields.String(
        load_default="cpsat",
        validate=ma.validate.Length(max=40),
        metadata={"description": "`cpsat` (optimised) or `baseline` (first come, first served)."},
    )


class JobSchema(Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.Enum(JobStatus, by_value=True, required=True)
    strategy = ma.fields.String(required=True)
    stage = ma.fields.String(**Nullable)
    progress = ma.fields.Float(required=True)
    best_objective = ma.fields.Float(**Nullable)
    message = ma.fields.String(**Nullable)
    plan_id = ma.fields.Integer(**Nullable)
    time_limit_seconds = ma.fields.Float(required=True)
    created_at = UtcDateTime(required=True)
    started_at = UtcDateTime(**Nullable)
    finished_at = UtcDateTime(**Nullable)


class PlanQuery(Schema):
    page = ma.fields.Integer(validate=ma.validate.Range(min=1, max=1_000_000), load_default=1)
    unserved_page = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=1_000_000), load_default=1
    )


class AssignmentUnitSchema(Schema):
    line_id = ma.fields.Integer(required=True)
    unit_id = ma.fields.Integer(required=True)


class AssignmentDrawSchema(Schema):
    line_id = ma.fields.Integer(required=True)
    pool_id = ma.fields.Integer(required=True)
    quantity = ma.fields.Integer(required=True)


class AssignmentSchema(Schema):
    request_id = ma.fields.Integer(required=True)
    commune_id = ma.fields.Function(lambda a: a.request.commune_id, required=True)
    is_served = ma.fields.Boolean(required=True)
    start_dt = UtcDateTime(**Nullable)
    end_dt = UtcDateTime(**Nullable)
    is_pinned = ma.fields.Boolean(required=True)
    units = ma.fields.List(ma.fields.Nested(AssignmentUnitSchema), required=True)
    draws = ma.fields.List(ma.fields.Nested(AssignmentDrawSchema), required=True)


class UnservedSchema(AssignmentSchema):
    reason = ma.fields.String(**Nullable, metadata={"description": "Why, in words."})


class AssignmentPage(Schema):
    items = ma.fields.List(ma.fields.Nested(AssignmentSchema), required=True)
    page = ma.fields.Integer(required=True)
    pages = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)


class UnservedPage(AssignmentPage):
    items = ma.fields.List(ma.fields.Nested(UnservedSchema), required=True)


class DiffSchema(Schema):
    """What the plan changes against the plan approved when it was proposed."""

    against_plan_id = ma.fields.Integer(**Nullable)
    new = ma.fields.List(ma.fields.Integer(), required=True)
    moved = ma.fields.List(ma.fields.Integer(), required=True)
    dropped = ma.fields.List(ma.fields.Integer(), required=True)


class ComparisonSchema(Schema):
    """One headline figure for this plan and for first come, first served."""

    key = ma.fields.String(required=True)
    plan = ma.fields.Raw(**Nullable)
    fcfs = ma.fields.Raw(**Nullable)


class CommuneShareSchema(Schema):
    name = ma.fields.String(required=True)
    requests = ma.fields.Integer(required=True)
    served = ma.fields.Integer(required=True)


class PlanSchema(Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.Enum(PlanStatus, by_value=True, required=True)
    strategy = ma.fields.String(required=True)
    created_at = UtcDateTime(required=True)
    approved_at = UtcDateTime(**Nullable)
    metrics = ma.fields.Dict(**Nullable)
    baseline_metrics = ma.fields.Dict(
        **Nullable, metadata={"description": "The same figures for first come, first served."}
    )


class PlanReviewSchema(PlanSchema):
    is_stale = ma.fields.Boolean(
        required=True, metadata={"description": "The data changed since: it cannot be approved."}
    )
    diff = ma.fields.Nested(DiffSchema, **Nullable)
    comparison = ma.fields.List(ma.fields.Nested(ComparisonSchema), required=True)
    communes = ma.fields.List(ma.fields.Nested(CommuneShareSchema), required=True)
    served = ma.fields.Nested(AssignmentPage, required=True)
    unserved = ma.fields.Nested(UnservedPage, required=True)


# --- hand-overs ------------------------------------------------------------------------------


class HandoverItemSchema(Schema):
    key = ma.fields.String(required=True, metadata={"description": "`unit-<id>` or `line-<id>`."})
    label = ma.fields.String(required=True)
    line_id = ma.fields.Function(lambda item: item.line.id, required=True)
    unit_id = ma.fields.Function(lambda item: item.unit.id if item.unit else None, **Nullable)
    quantity = ma.fields.Integer(required=True)


class HandoverRowSchema(Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.Enum(HandoverKind, by_value=True, required=True)
    unit_id = ma.fields.Integer(**Nullable)
    line_id = ma.fields.Integer(**Nullable)
    at = UtcDateTime(required=True)
    taken_by = ma.fields.String(**Nullable)
    condition = ma.fields.Enum(Condition, by_value=True, required=True)
    damage = ma.fields.String(**Nullable)
    missing_quantity = ma.fields.Integer(required=True)
    notes = ma.fields.String(**Nullable)


class LoanSchema(Schema):
    """An approved loan's window and the items it hands over."""

    request_id = ma.fields.Function(lambda loan: loan.request.id, required=True)
    status = ma.fields.Function(lambda loan: loan.request.status.value, required=True)
    start_dt = UtcDateTime(required=True)
    end_dt = UtcDateTime(required=True)
    items = ma.fields.List(ma.fields.Nested(HandoverItemSchema), required=True)
    handovers = ma.fields.Function(
        lambda loan: HandoverRowSchema(many=True).dump(loan.request.handovers), required=True
    )


class ItemReportSchema(Schema):
    key = ma.fields.String(required=True, validate=ma.validate.Length(max=40))
    condition = ma.fields.Enum(Condition, by_value=True, load_default=Condition.GOOD)
    damage = Text(2000, allow_none=True)
    missing_quantity = ma.fields.Integer(
        strict=True, load_default=0, validate=ma.validate.Range(min=0, max=1_000_000)
    )


class CheckOutSchema(Schema):
    taken_by = Text(200, required=True)
    at = When(allow_none=True, metadata={"description": "Default: now."})
    notes = Text(2000, allow_none=True)
    items = ma.fields.List(
        ma.fields.Nested(ItemReportSchema),
        load_default=list,
        validate=ma.validate.Length(max=500),
        metadata={"description": "Items left out are in good condition."},
    )


class CheckInSchema(Schema):
    at = When(allow_none=True, metadata={"description": "Default: now."})
    notes = Text(2000, allow_none=True)
    items = ma.fields.List(
        ma.fields.Nested(ItemReportSchema), load_default=list, validate=ma.validate.Length(max=500)
    )
    send_to_maintenance = ma.fields.List(
        Id(), load_default=list, validate=ma.validate.Length(max=500)
    )
    maintenance_until = When(allow_none=True)


class CheckInResultSchema(Schema):
    handovers = ma.fields.List(ma.fields.Nested(HandoverRowSchema), required=True)
    clashes = ma.fields.Function(
        lambda result: sorted(loan.id for loan in result.clashes),
        required=True,
        metadata={"description": "Approved requests the maintenance windows clash with."},
    )
    missing_units = ma.fields.Function(
        lambda result: sorted(unit.id for unit in result.missing_units), required=True
    )


HandoverRowList = ItemsOf.make(HandoverRowSchema, "HandoverRowList")


# --- notifications and feeds -----------------------------------------------------------------


class NotificationSchema(Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    text = ma.fields.String(required=True)
    payload = ma.fields.Dict(**Nullable)
    created_at = UtcDateTime(required=True)
    read_at = UtcDateTime(**Nullable)


class NotificationList(Schema):
    items = ma.fields.List(ma.fields.Nested(NotificationSchema), required=True)
    unread = ma.fields.Integer(required=True)


class MarkedSchema(Schema):
    marked = ma.fields.Integer(required=True)


class FeedSchema(Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.Enum(FeedKind, by_value=True, required=True)
    target_id = ma.fields.Integer(**Nullable)
    name = ma.fields.String(required=True)
    created_at = UtcDateTime(required=True)
    last_used_at = UtcDateTime(**Nullable)


FeedList = ItemsOf.make(FeedSchema, "FeedList")


class FeedInSchema(Schema):
    kind = ma.fields.Enum(FeedKind, by_value=True, required=True)
    target_id = Id(
        allow_none=True, metadata={"description": "The commune, unit or type; none for others."}
    )
    name = Text(200, required=True)


class NewFeedSchema(Schema):
    """A new feed and its secret address, shown only this once."""

    feed = ma.fields.Nested(FeedSchema, required=True)
    url = ma.fields.String(required=True)
