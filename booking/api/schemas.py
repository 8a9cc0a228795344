"""Schemas of the inventory, availability and request resources.

Input schemas check the shape of what is sent (types, lengths); the services check the
business rules and report every problem at once.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import marshmallow as ma

from booking.api.fields import Id, Text, UtcDateTime, When
from booking.models import RequestStatus, SiteKind, UnitStatus
from booking.services.request_rules import MAX_FLEX_DAYS

# A field always present in answers, whose value may be null.
Nullable: dict[str, Any] = {"allow_none": True, "required": True}


class Schema(ma.Schema):
    """Input refuses unknown fields; output lists every field, ``null`` included."""

    class Meta:
        unknown = ma.RAISE


class ItemsOf:
    """Wraps a list in ``{"items": [...]}`` so that lists can grow other keys later."""

    @staticmethod
    def make(item: type[ma.Schema], name: str) -> type[ma.Schema]:
        return type(
            name, (Schema,), {"items": ma.fields.List(ma.fields.Nested(item), required=True)}
        )


# --- inventory ------------------------------------------------------------------------------


class CommuneSchema(Schema):
    id = ma.fields.Integer(required=True)
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    lat = ma.fields.Float(**Nullable)
    lon = ma.fields.Float(**Nullable)


class SiteSchema(Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.Enum(SiteKind, by_value=True, required=True)
    commune_id = ma.fields.Integer(**Nullable)
    address = ma.fields.String(**Nullable)
    lat = ma.fields.Float(required=True)
    lon = ma.fields.Float(required=True)
    is_active = ma.fields.Boolean(required=True)


class EquipmentTypeSchema(Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(**Nullable)
    is_pooled = ma.fields.Boolean(required=True)
    is_delivered = ma.fields.Boolean(required=True)
    turnaround_minutes = ma.fields.Integer(required=True)
    min_notice_hours = ma.fields.Integer(required=True)
    max_loan_days = ma.fields.Integer(**Nullable)


class UnitSchema(Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    type_id = ma.fields.Integer(required=True)
    home_depot_id = ma.fields.Integer(required=True)
    status = ma.fields.Enum(UnitStatus, by_value=True, required=True)
    notes = ma.fields.String(**Nullable)


class PoolSchema(Schema):
    id = ma.fields.Integer(required=True)
    type_id = ma.fields.Integer(required=True)
    depot_id = ma.fields.Integer(required=True)
    quantity = ma.fields.Integer(required=True)


class UnavailabilitySchema(Schema):
    id = ma.fields.Integer(required=True)
    unit_id = ma.fields.Integer(required=True)
    start_dt = UtcDateTime(required=True)
    end_dt = UtcDateTime(required=True)
    reason = ma.fields.String(**Nullable)


CommuneList = ItemsOf.make(CommuneSchema, "CommuneList")
SiteList = ItemsOf.make(SiteSchema, "SiteList")
EquipmentTypeList = ItemsOf.make(EquipmentTypeSchema, "EquipmentTypeList")
UnitList = ItemsOf.make(UnitSchema, "UnitList")
PoolList = ItemsOf.make(PoolSchema, "PoolList")
UnavailabilityList = ItemsOf.make(UnavailabilitySchema, "UnavailabilityList")


# --- availability ----------------------------------------------------------------------------


class AvailabilityQuery(Schema):
    start = When(required=True, metadata={"description": "Start of the window."})
    end = When(required=True, metadata={"description": "End of the window."})
    type_id = ma.fields.List(Id(), metadata={"description": "Only these types (repeatable)."})
    quantity = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=1_000_000),
        metadata={"description": "How many are needed: sets `is_enough` on each type."},
    )
    site_id = Id(
        metadata={"description": "The delivery site: its commune's own requests are told apart."}
    )
    exclude_request_id = Id(metadata={"description": "A request left out of the counts."})


class TypeAvailabilitySchema(Schema):
    type_id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    is_pooled = ma.fields.Boolean(required=True)
    stock = ma.fields.Integer(required=True)
    out_of_service = ma.fields.Integer(required=True)
    planned = ma.fields.Integer(required=True)
    free = ma.fields.Integer(required=True)
    requested_by_others = ma.fields.Integer(required=True)
    requests_by_others = ma.fields.Integer(required=True)
    requested_by_commune = ma.fields.Integer(required=True)
    is_enough = ma.fields.Boolean(
        **Nullable, metadata={"description": "free >= quantity; null without a quantity."}
    )


AvailabilityList = ItemsOf.make(TypeAvailabilitySchema, "AvailabilityList")


# --- requests --------------------------------------------------------------------------------


class LineInSchema(Schema):
    type_id = ma.fields.Integer(required=True, strict=True)
    quantity = ma.fields.Integer(required=True, strict=True)


class RequestInSchema(Schema):
    """A request as submitted or replaced; the services check every rule at once."""

    commune_id = ma.fields.Integer(
        strict=True,
        allow_none=True,
        metadata={"description": "Staff choose the commune; technicians' is their own."},
    )
    site_id = ma.fields.Integer(strict=True, allow_none=True)
    title = Text(200, metadata={"description": "Left out on a replacement: kept."})
    start_dt = When(allow_none=True)
    end_dt = When(allow_none=True)
    flex_days_before = ma.fields.Integer(
        strict=True, load_default=0, metadata={"description": f"0 to {MAX_FLEX_DAYS}."}
    )
    flex_days_after = ma.fields.Integer(
        strict=True, load_default=0, metadata={"description": f"0 to {MAX_FLEX_DAYS}."}
    )
    lines = ma.fields.List(
        ma.fields.Nested(LineInSchema), load_default=list, validate=ma.validate.Length(max=50)
    )
    priority = ma.fields.Integer(
        strict=True,
        load_default=2,
        metadata={"description": "1 low, 2 normal, 3 high, 4 imperative."},
    )
    priority_reason = Text(1000, allow_none=True)
    notes = Text(2000, allow_none=True)


class RequestUpdateSchema(RequestInSchema):
    version = ma.fields.Integer(
        strict=True,
        metadata={"description": "The version read; another one means a concurrent change (409)."},
    )


class CancelSchema(Schema):
    reason = Text(1000, allow_none=True)


class LineSchema(Schema):
    id = ma.fields.Integer(required=True)
    type_id = ma.fields.Integer(required=True)
    type_code = ma.fields.Function(lambda line: line.type.code, required=True)
    quantity = ma.fields.Integer(required=True)


class AssignedUnitSchema(Schema):
    line_id = ma.fields.Integer(required=True)
    unit_id = ma.fields.Integer(required=True)
    unit_code = ma.fields.Function(lambda u: u.unit.code, required=True)


class DrawSchema(Schema):
    line_id = ma.fields.Integer(required=True)
    pool_id = ma.fields.Integer(required=True)
    quantity = ma.fields.Integer(required=True)


class OutcomeSchema(Schema):
    """What the latest approved plan (or, for staff, a proposed one) gives the request."""

    plan_id = ma.fields.Function(lambda o: o.plan.id, required=True)
    is_proposed = ma.fields.Boolean(required=True)
    is_served = ma.fields.Function(lambda o: o.assignment.is_served, required=True)
    start_dt = ma.fields.Function(
        lambda o: _iso(o.assignment.start_dt), **Nullable, metadata={"format": "date-time"}
    )
    end_dt = ma.fields.Function(
        lambda o: _iso(o.assignment.end_dt), **Nullable, metadata={"format": "date-time"}
    )
    units = ma.fields.List(ma.fields.Nested(AssignedUnitSchema), required=True)
    draws = ma.fields.List(ma.fields.Nested(DrawSchema), required=True)
    reason = ma.fields.String(attribute="reason_text", **Nullable)


def _iso(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


class RequestSchema(Schema):
    id = ma.fields.Integer(required=True)
    commune_id = ma.fields.Integer(required=True)
    site_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Enum(RequestStatus, by_value=True, required=True)
    requested_start_dt = UtcDateTime(required=True)
    requested_end_dt = UtcDateTime(required=True)
    earliest_start_dt = UtcDateTime(**Nullable)
    latest_end_dt = UtcDateTime(**Nullable)
    priority = ma.fields.Integer(required=True)
    priority_reason = ma.fields.String(**Nullable)
    notes = ma.fields.String(**Nullable)
    decline_reason = ma.fields.String(**Nullable)
    submitted_by_id = ma.fields.Integer(**Nullable)
    submitted_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
    version = ma.fields.Integer(required=True)
    lines = ma.fields.List(ma.fields.Nested(LineSchema), required=True)


class RequestDetailSchema(RequestSchema):
    outcome = ma.fields.Nested(OutcomeSchema, **Nullable)


class RequestQuery(Schema):
    status = ma.fields.List(
        ma.fields.Enum(RequestStatus, by_value=True),
        metadata={"description": "Only these states (repeatable)."},
    )
    commune_id = Id(metadata={"description": "Only this commune's (staff)."})
    date_from = When(metadata={"description": "Loans still running at or after this time."})
    date_to = When(metadata={"description": "Loans starting before this time."})
    page = ma.fields.Integer(validate=ma.validate.Range(min=1, max=1_000_000), load_default=1)
    per_page = ma.fields.Integer(validate=ma.validate.Range(min=1, max=100), load_default=50)


class RequestPage(Schema):
    """One page of requests, soonest first (ties by id), and where it stands."""

    items = ma.fields.List(ma.fields.Nested(RequestSchema), required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    pages = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
