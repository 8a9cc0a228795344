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
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from booking import limits
from booking.i18n import local_datetime
from booking.models import (
    LOCKED_STATUSES,
    OPEN_STATUSES,
    Assignment,
    EquipmentType,
    LoanRequest,
    Plan,
    PlanStatus,
    Pool,
    RequestLine,
    RequestStatus,
    Unavailability,
    Unit,
    type_substitutes,
)
from booking.services.feeds_cache import current_generation


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
    hours = max(
        (limits.notice_hours(types[line.type_id].min_notice_hours) for line in loan.lines),
        default=0,
    )
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


def beyond_horizon_reason(limit: datetime) -> dict[str, Any]:
    """The stored reason of a request whose dates reach past the planning horizon."""
    return {
        "text": _(
            "Its dates reach past %(when)s, beyond the planning horizon: correct its dates "
            "(or decline it), then run again.",
            when=local_datetime(limit, "short"),
        ),
        "limit": limit.isoformat(),
    }


def rejected_reason(detail: str) -> dict[str, Any]:
    """The stored reason of a request the optimiser cannot take as it is."""
    return {
        "text": _(
            "The optimiser cannot take it as it is (%(detail)s): correct the request or its "
            "equipment types, then run again.",
            detail=detail,
        )
    }


def read_rows(session: Session) -> Rows:
    """The approved plan, the open and approved requests and the inventory, as ORM objects."""
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


# --- the fingerprint ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineFacts:
    """The columns of a request line the fingerprint covers."""

    id: int
    type_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """The columns of a request the fingerprint covers, read from a row or an ORM object."""

    id: int
    status: RequestStatus
    commune_id: int
    site_id: int
    priority: int
    requested_start_dt: datetime
    requested_end_dt: datetime
    earliest_start_dt: datetime | None
    latest_end_dt: datetime | None
    lines: tuple[LineFacts, ...] = ()

    @classmethod
    def of(cls, loan: LoanRequest) -> RequestFacts:
        return cls(
            id=loan.id,
            status=loan.status,
            commune_id=loan.commune_id,
            site_id=loan.site_id,
            priority=loan.priority,
            requested_start_dt=loan.requested_start_dt,
            requested_end_dt=loan.requested_end_dt,
            earliest_start_dt=loan.earliest_start_dt,
            latest_end_dt=loan.latest_end_dt,
            lines=tuple(LineFacts(line.id, line.type_id, line.quantity) for line in loan.lines),
        )


@dataclass(frozen=True)
class FingerprintData:
    """Everything a plan depends on.

    Attributes:
        approved_plan_id: the approved plan, if any.
        requests: the open requests, then the approved loans, each by id.
        types, units, pools: the inventory, by id.
    """

    approved_plan_id: int | None
    requests: list[RequestFacts]
    types: list[EquipmentType]
    units: list[Unit]
    pools: list[Pool]

    @classmethod
    def of_rows(cls, rows: Rows) -> FingerprintData:
        return cls(
            approved_plan_id=rows.approved.id if rows.approved else None,
            requests=[RequestFacts.of(r) for r in rows.open_requests + rows.locked_requests],
            types=rows.types,
            units=rows.units,
            pools=rows.pools,
        )


def _utc_text(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _request_data(r: RequestFacts) -> list[Any]:
    return [
        r.id,
        "open" if r.status in OPEN_STATUSES else r.status.value,
        r.commune_id,
        r.site_id,
        r.priority,
        _utc_text(r.requested_start_dt),
        _utc_text(r.requested_end_dt),
        _utc_text(r.earliest_start_dt),
        _utc_text(r.latest_end_dt),
        [[line.id, line.type_id, line.quantity] for line in r.lines],
    ]


def fingerprint(data: FingerprintData, horizon: tuple[datetime, datetime] | None) -> str:
    """SHA-256 of everything a plan depends on, in a canonical JSON form.

    Statuses SUBMITTED and PLANNED count as one (proposing a plan moves requests from
    one to the other); versions and ``updated_at`` are left out for the same reason.
    """
    document = {
        "horizon": [_utc_text(horizon[0]), _utc_text(horizon[1])] if horizon else None,
        "approved_plan": data.approved_plan_id,
        "requests": [_request_data(r) for r in data.requests],
        "types": [
            [
                et.id,
                et.code,
                et.turnaround_minutes,
                et.is_pooled,
                et.max_direct_transfer_hours,
                sorted(s.id for s in et.substitutes),
            ]
            for et in data.types
        ],
        "units": [
            [
                u.id,
                u.code,
                u.type_id,
                u.home_depot_id,
                u.status.value,
                sorted(
                    [w.id, _utc_text(w.start_dt), _utc_text(w.end_dt)] for w in u.unavailabilities
                ),
            ]
            for u in data.units
        ],
        "pools": [[p.id, p.type_id, p.depot_id, p.quantity] for p in data.pools],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def data_fingerprint(session: Session, *, horizon: tuple[datetime, datetime] | None) -> str:
    """The fingerprint of the planning data as it is now, read in full (see
    ``build_problem``); approval uses it."""
    return fingerprint(FingerprintData.of_rows(read_rows(session)), horizon)


def stale_message() -> str:
    """Why a plan cannot be approved any more, and what to do."""
    return _(
        "The requests or the inventory changed since this plan was proposed (a request was "
        "edited, cancelled or added). Run the optimiser again and approve the new plan."
    )


# --- the fingerprint for the pages, cached ----------------------------------------------------

# Fingerprints computed by this process, by what they were computed from.
_FINGERPRINTS: dict[tuple[Any, ...], str] = {}
_FINGERPRINTS_KEPT = 64


def _fingerprint_key(session: Session) -> tuple[Any, ...]:
    """What tells that the fingerprint's data may have changed, in a few small reads.

    The feed generation is raised by every transaction that writes requests, lines,
    plans, units, types or pools through a session (see ``booking.services.feeds_cache``);
    the requests' count, highest id and latest update tell databases (or rolled-back
    transactions) apart; unavailability windows and type substitutions, which the
    generation does not count, are part of the key themselves.
    """
    stamp = session.execute(
        select(
            func.count(LoanRequest.id), func.max(LoanRequest.id), func.max(LoanRequest.updated_at)
        )
    ).one()
    windows = session.execute(
        select(
            Unavailability.id,
            Unavailability.unit_id,
            Unavailability.start_dt,
            Unavailability.end_dt,
        ).order_by(Unavailability.id)
    ).all()
    substitutes = session.execute(
        select(type_substitutes.c.type_id, type_substitutes.c.substitute_id).order_by(
            type_substitutes.c.type_id, type_substitutes.c.substitute_id
        )
    ).all()
    return (
        str(session.connection().engine.url),
        current_generation(session),
        tuple(stamp),
        tuple(tuple(w) for w in windows),
        tuple(tuple(x) for x in substitutes),
    )


def current_fingerprint(session: Session) -> str:
    """``data_fingerprint(session, horizon=None)``, cheaply, for the pages.

    Computed again only when :func:`_fingerprint_key` changed (or the session holds
    unflushed changes); then by the same fingerprint function over the same values, but
    with the requests and their lines read as plain columns rather than ORM objects, and
    without the approved plan's assignments (which the fingerprint does not cover).
    Approval always recomputes the fingerprint in full.
    """
    key = None
    if not (session.new or session.dirty or session.deleted):
        key = _fingerprint_key(session)
        cached = _FINGERPRINTS.get(key)
        if cached is not None:
            return cached
    value = fingerprint(_read_fingerprint_data(session), None)
    if key is not None:
        if len(_FINGERPRINTS) >= _FINGERPRINTS_KEPT:
            _FINGERPRINTS.clear()
        _FINGERPRINTS[key] = value
    return value


def _request_facts(session: Session) -> list[RequestFacts]:
    """The open and approved requests with their lines, as plain columns, by id."""
    # Sorted here rather than by the database, and lines read without a join: both cost
    # the database a sort of every row.
    rows = session.execute(
        select(
            LoanRequest.id,
            LoanRequest.status,
            LoanRequest.commune_id,
            LoanRequest.site_id,
            LoanRequest.priority,
            LoanRequest.requested_start_dt,
            LoanRequest.requested_end_dt,
            LoanRequest.earliest_start_dt,
            LoanRequest.latest_end_dt,
        ).where(LoanRequest.status.in_(OPEN_STATUSES + LOCKED_STATUSES))
    ).all()
    lines: dict[int, list[LineFacts]] = {}
    for request_id, line_id, type_id, quantity in session.execute(
        select(
            RequestLine.request_id, RequestLine.id, RequestLine.type_id, RequestLine.quantity
        ).order_by(RequestLine.id)
    ):
        lines.setdefault(request_id, []).append(LineFacts(line_id, type_id, quantity))
    return sorted(
        (RequestFacts(*row, lines=tuple(lines.get(row.id, ()))) for row in rows),
        key=lambda r: r.id,
    )


def _read_fingerprint_data(session: Session) -> FingerprintData:
    requests = _request_facts(session)
    approved_id = session.scalar(
        select(Plan.id).where(Plan.status == PlanStatus.APPROVED).order_by(Plan.id.desc()).limit(1)
    )
    return FingerprintData(
        approved_plan_id=approved_id,
        requests=[r for r in requests if r.status in OPEN_STATUSES]
        + [r for r in requests if r.status in LOCKED_STATUSES],
        types=list(
            session.scalars(
                select(EquipmentType)
                .order_by(EquipmentType.id)
                .options(selectinload(EquipmentType.substitutes))
            )
        ),
        units=list(
            session.scalars(
                select(Unit).options(selectinload(Unit.unavailabilities)).order_by(Unit.id)
            )
        ),
        pools=list(session.scalars(select(Pool).order_by(Pool.id))),
    )
