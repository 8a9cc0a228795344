"""The rows a plan is built from, and their fingerprint.

A plan records the fingerprint of the data it was built from; approval recomputes it and
refuses the plan when they differ (a request edited, cancelled or added, an approved plan
replaced, the inventory changed).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from booking.models import (
    Assignment,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestStatus,
    Unit,
)

# Requests the optimiser may place, and approved loans it must keep as they are.
OPEN_STATUSES = (RequestStatus.SUBMITTED, RequestStatus.PLANNED)
LOCKED_STATUSES = (RequestStatus.APPROVED, RequestStatus.HANDED_OVER)


@dataclass
class Rows:
    """The approved plan, the open and approved requests, and the inventory."""

    approved: Plan | None
    open_requests: list[LoanRequest]
    locked_requests: list[LoanRequest]
    types: list[EquipmentType]
    units: list[Unit]
    pools: list[Pool]


def read_rows(session: Session) -> Rows:
    approved = session.scalars(
        select(Plan)
        .where(Plan.status == PlanStatus.APPROVED)
        .options(
            selectinload(Plan.assignments).selectinload(Assignment.units),
            selectinload(Plan.assignments).selectinload(Assignment.draws),
        )
        .order_by(Plan.id.desc())
    ).first()
    requests = session.scalars(
        select(LoanRequest)
        .where(LoanRequest.status.in_(OPEN_STATUSES + LOCKED_STATUSES))
        .options(selectinload(LoanRequest.lines), selectinload(LoanRequest.commune))
        .order_by(LoanRequest.id)
    ).all()
    types = list(session.scalars(select(EquipmentType).order_by(EquipmentType.id)))
    units = list(
        session.scalars(select(Unit).options(selectinload(Unit.unavailabilities)).order_by(Unit.id))
    )
    pools = list(session.scalars(select(Pool).order_by(Pool.id)))
    return Rows(
        approved=approved,
        open_requests=[r for r in requests if r.status in OPEN_STATUSES],
        locked_requests=[r for r in requests if r.status in LOCKED_STATUSES],
        types=types,
        units=units,
        pools=pools,
    )


def fingerprint(rows: Rows, horizon: tuple[datetime, datetime] | None) -> str:
    """SHA-256 of everything a plan depends on, in a canonical JSON form.

    Statuses SUBMITTED and PLANNED count as one (proposing a plan moves requests from
    one to the other); versions and ``updated_at`` are left out for the same reason.
    """

    def t(moment: datetime | None) -> str | None:
        return moment.astimezone(UTC).isoformat() if moment is not None else None

    def request_data(r: LoanRequest) -> list[Any]:
        return [
            r.id,
            "open" if r.status in OPEN_STATUSES else r.status.value,
            r.commune_id,
            r.site_id,
            r.priority,
            t(r.requested_start_dt),
            t(r.requested_end_dt),
            t(r.earliest_start_dt),
            t(r.latest_end_dt),
            [[line.id, line.type_id, line.quantity] for line in r.lines],
        ]

    data = {
        "horizon": [t(horizon[0]), t(horizon[1])] if horizon else None,
        "approved_plan": rows.approved.id if rows.approved else None,
        "requests": [request_data(r) for r in rows.open_requests + rows.locked_requests],
        "types": [
            [
                et.id,
                et.code,
                et.turnaround_minutes,
                et.is_pooled,
                et.max_direct_transfer_hours,
                sorted(s.id for s in et.substitutes),
            ]
            for et in rows.types
        ],
        "units": [
            [
                u.id,
                u.code,
                u.type_id,
                u.home_depot_id,
                u.status.value,
                sorted([w.id, t(w.start_dt), t(w.end_dt)] for w in u.unavailabilities),
            ]
            for u in rows.units
        ],
        "pools": [[p.id, p.type_id, p.depot_id, p.quantity] for p in rows.pools],
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def data_fingerprint(session: Session, *, horizon: tuple[datetime, datetime] | None) -> str:
    """The fingerprint of the planning data as it is now (see ``build_problem``)."""
    return fingerprint(read_rows(session), horizon)
