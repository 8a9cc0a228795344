"""The rows a plan is built from, the windows open requests may be placed in, and the
fingerprint of those rows.

A plan records the fingerprint of the data it was built from; approval recomputes it and
refuses the plan when they differ (a request edited, cancelled or added, an approved plan
replaced, the inventory changed).

An open request is never placed in the past, nor moved earlier than its types' minimum
notice allows from its submission (see ``plannable_window``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from booking.i18n import local_datetime
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


@dataclass(frozen=True)
class Window:
    """Where the optimiser may place an open request, whole minutes, aware UTC.

    Attributes:
        start, end: the requested times (start floored, end ceiled to the minute).
        earliest: the earliest start it may get: the flexibility window's start, moved
            later to ``now`` and to the minimum notice after submission when needed.
        latest: the latest end it may get.
    """

    start: datetime
    end: datetime
    earliest: datetime
    latest: datetime

    @property
    def is_plannable(self) -> bool:
        """Whether the request still fits between ``earliest`` and ``latest``."""
        return self.latest - self.earliest >= self.end - self.start

    @property
    def latest_start(self) -> datetime:
        """The latest start that still ends by ``latest``."""
        return self.latest - (self.end - self.start)


def _floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _ceil_minute(moment: datetime) -> datetime:
    floored = _floor_minute(moment)
    return floored if floored == moment else floored + timedelta(minutes=1)


def request_window(loan: LoanRequest) -> tuple[datetime, datetime]:
    """The earliest start and latest end allowed, never narrower than the request."""
    earliest = min(loan.earliest_start_dt or loan.requested_start_dt, loan.requested_start_dt)
    latest = max(loan.latest_end_dt or loan.requested_end_dt, loan.requested_end_dt)
    return earliest, latest


def notice_start(loan: LoanRequest, types: Mapping[int, EquipmentType]) -> datetime:
    """The earliest start the minimum notice of ``loan``'s types allows.

    The request was checked against the notice when it was submitted, but only at its
    requested start: moving it earlier inside its flexibility must not give the fleet
    less notice than its types need, counted from the submission. The requested start
    itself stays allowed (the commune asked for it and it was accepted; a notice raised
    since does not push the loan later).
    """
    hours = max((types[line.type_id].min_notice_hours for line in loan.lines), default=0)
    return min(loan.submitted_at + timedelta(hours=hours), loan.requested_start_dt)


def plannable_window(
    loan: LoanRequest, types: Mapping[int, EquipmentType], now: datetime
) -> Window:
    """Where the optimiser may place the open request ``loan``.

    Its flexibility window, starting no earlier than ``now`` (nothing is planned in the
    past) and than ``notice_start``. When even the latest placement would start before
    ``now``, the result is not ``is_plannable``: the request can no longer be served.

    Args:
        loan: an open request.
        types: every equipment type by id.
        now: the current time, aware.
    """
    earliest, latest = request_window(loan)
    bound = max(now, notice_start(loan, types))
    return Window(
        start=_floor_minute(loan.requested_start_dt),
        end=_ceil_minute(loan.requested_end_dt),
        earliest=max(_floor_minute(earliest), _ceil_minute(bound)),
        latest=_ceil_minute(latest),
    )


def expired_reason(latest_start: datetime) -> dict[str, Any]:
    """The stored reason (``Assignment.reason``) of a request whose dates have passed."""
    return {
        "text": _(
            "Its dates have passed: even its latest possible start, %(when)s, is in the past.",
            when=local_datetime(latest_start, "short"),
        ),
        "latest_start": latest_start.isoformat(),
    }


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
