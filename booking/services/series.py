"""Recurring requests: a series becomes one request per occurrence.

A technician describes a series (every week, every month, or a list of dates, with
exceptions) once; :func:`submit_series` stores the rule (iCalendar text read by
``dateutil.rrule``) and one SUBMITTED request per occurrence. The optimiser plans each
occurrence on its own, so two occurrences may get other units, and the calendar feeds
show them as separate events.

Occurrences are edited or cancelled one at a time, from one onwards, or all together
(:class:`Scope`); those already approved and handed over, or past the point where they
could change, are left as they are and counted.

A series may not run beyond the planning horizon (``PLANNING_HORIZON_DAYS``, one year by
default) from today.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dateutil.rrule import rrulestr
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from booking.db import utcnow
from booking.errors import Conflict, NotFound, ValidationError
from booking.models import LoanRequest, RequestLine, RequestSeries, RequestStatus, Role, User
from booking.services.access import commune_filter, require_role
from booking.services.audit import record_event
from booking.services.concurrency import conflict_on_concurrent_write
from booking.services.notifications import notify
from booking.services.request_rules import (
    PRIORITY_NORMAL,
    REQUESTER_ROLES,
    Errors,
    Line,
    is_valid_id,
    validate_request,
)
from booking.services.requests import (
    CANCELLABLE,
    EDITABLE,
    _apply,
    _Details,
    get_request,
    request_snapshot,
    update_request,
)
from booking.services.waiting import offer_freed_capacity
from booking.timeutil import from_local, to_local

# How far ahead a series may run unless the application says otherwise (days).
DEFAULT_HORIZON_DAYS = 365
# A series never makes more requests than this, whatever the horizon.
MAX_OCCURRENCES = 200
# iCalendar basic date-time format, local wall-clock (no zone).
_ICAL = "%Y%m%dT%H%M%S"


def _changed_meanwhile() -> str:
    return _("This request was changed at the same time; reload it and try again.")


class Frequency(enum.Enum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    DATES = "dates"


class Scope(enum.Enum):
    """Which occurrences of a series a change applies to."""

    ONE = "one"
    FOLLOWING = "following"
    ALL = "all"


@dataclass(frozen=True)
class Recurrence:
    """How a request repeats.

    ``until`` (last possible day, inclusive) is needed for weekly and monthly series;
    ``dates`` are the other days of a listed series (the first loan's day is always one);
    ``exceptions`` are days left out.
    """

    frequency: Frequency
    until: date | None = None
    dates: tuple[date, ...] = ()
    exceptions: tuple[date, ...] = field(default=())


# --- the rule ----------------------------------------------------------------------------


def recurrence_rule(recurrence: Recurrence, first_start: datetime) -> str:
    """The iCalendar text of ``recurrence`` for a first loan starting at ``first_start``.

    Args:
        recurrence: how the loan repeats.
        first_start: the first loan's start, a naive local (Europe/Paris) wall-clock time.

    Raises:
        ValueError: if a weekly or monthly recurrence has no ``until``.
    """
    lines = [f"DTSTART:{first_start.strftime(_ICAL)}"]
    at = first_start.time()
    if recurrence.frequency is Frequency.DATES:
        days = sorted({first_start.date(), *recurrence.dates})
        lines.append("RDATE:" + ",".join(datetime.combine(d, at).strftime(_ICAL) for d in days))
    else:
        if recurrence.until is None:
            raise ValueError("a weekly or monthly series needs an end date")
        freq = "WEEKLY" if recurrence.frequency is Frequency.WEEKLY else "MONTHLY"
        until = datetime.combine(recurrence.until, datetime.max.time().replace(microsecond=0))
        lines.append(f"RRULE:FREQ={freq};UNTIL={until.strftime(_ICAL)}")
    if recurrence.exceptions:
        excluded = sorted(set(recurrence.exceptions))
        lines.append(
            "EXDATE:" + ",".join(datetime.combine(d, at).strftime(_ICAL) for d in excluded)
        )
    return "\n".join(lines)


def occurrence_starts(rule: str, *, limit: int = MAX_OCCURRENCES + 1) -> list[datetime]:
    """The local wall-clock starts ``rule`` gives, at most ``limit`` of them, in order."""
    starts: list[datetime] = []
    for start in rrulestr(rule, forceset=True):
        starts.append(start)
        if len(starts) >= limit:
            break
    return starts


def horizon_end(now: datetime, horizon_days: int) -> date:
    """The last local day a series may run on, ``horizon_days`` from ``now``."""
    return (to_local(now) + timedelta(days=horizon_days)).date()


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _check_recurrence(
    recurrence: Recurrence, *, first_start: datetime, last_day: date, horizon_days: int
) -> list[datetime]:
    """The local starts of the series, or every problem of its description.

    Raises:
        ValidationError: the series has no end date, runs beyond ``last_day``, gives no
            occurrence or too many.
    """
    errors: Errors = []
    too_far = _(
        "A series may run at most %(days)d days ahead, until %(date)s.",
        days=horizon_days,
        date=_day(last_day),
    )
    if recurrence.frequency is Frequency.DATES:
        if not recurrence.dates:
            errors.append(("repeat_dates", _("List the dates the loan repeats on.")))
        elif max(recurrence.dates) > last_day:
            errors.append(("repeat_dates", too_far))
    elif recurrence.until is None:
        errors.append(("repeat_until", _("Say until when the loan repeats.")))
    elif recurrence.until < first_start.date():
        errors.append(("repeat_until", _("The series must end after its first loan.")))
    elif recurrence.until > last_day:
        errors.append(("repeat_until", too_far))
    if errors:
        raise ValidationError(errors=errors)
    starts = occurrence_starts(recurrence_rule(recurrence, first_start))
    if not starts:
        raise ValidationError(
            _("These repeat settings give no date: check the end date and the exceptions."),
            field="repeat_except" if recurrence.exceptions else "repeat_until",
        )
    if len(starts) > MAX_OCCURRENCES:
        raise ValidationError(
            _("A series may hold at most %(count)d loans.", count=MAX_OCCURRENCES),
            field="repeat_until",
        )
    return starts


def _validate_occurrences(
    session: Session,
    *,
    by: User,
    commune_id: int,
    occurrences: Sequence[tuple[datetime, datetime]],
    template: _Details,
    now: datetime,
) -> None:
    """Check every occurrence against the request rules, in few messages.

    A message every occurrence breaks is given once; one that only some break names
    their days.

    Raises:
        ValidationError: listing every rule some occurrence breaks.
    """
    found: dict[tuple[str | None, str], list[date]] = {}
    for start, end in occurrences:
        for problem in validate_request(
            session,
            by=by,
            commune_id=commune_id,
            site_id=template.site_id,
            start_dt=start,
            end_dt=end,
            flex_days_before=template.flex_days_before,
            flex_days_after=template.flex_days_after,
            lines=template.lines,
            priority=template.priority,
            priority_reason=template.priority_reason,
            now=now,
        ):
            found.setdefault(problem, []).append(to_local(start).date())
    errors: Errors = []
    for (name, message), days in found.items():
        if len(days) == len(occurrences):
            errors.append((name, message))
        else:
            listed = ", ".join(_day(d) for d in days)
            errors.append((name, _("%(message)s (on %(days)s)", message=message, days=listed)))
    if errors:
        raise ValidationError(errors=errors)


# --- operations --------------------------------------------------------------------------


def submit_series(
    session: Session,
    *,
    by: User,
    commune_id: int,
    site_id: int,
    start_dt: datetime,
    end_dt: datetime,
    recurrence: Recurrence,
    lines: Sequence[Line],
    flex_days_before: int = 0,
    flex_days_after: int = 0,
    priority: int = PRIORITY_NORMAL,
    priority_reason: str | None = None,
    notes: str | None = None,
    title: str = "",
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    now: datetime | None = None,
) -> RequestSeries:
    """Store a recurring request: the series and one SUBMITTED request per occurrence.

    Each occurrence keeps the first loan's local start time and length (08:00 stays
    08:00 after the change of summer time).

    Args:
        session: the database session.
        by: the technician of the commune, or a manager acting for it.
        commune_id, site_id, lines, flex_days_before, flex_days_after, priority,
            priority_reason, notes, title: as in ``submit_request``, for every occurrence.
        start_dt: start of the first loan (aware).
        end_dt: end of the first loan (aware).
        recurrence: how the loan repeats.
        horizon_days: how many days ahead of ``now`` the series may run.
        now: the current time (default: the clock).

    Returns:
        The stored series, its requests in date order.

    Raises:
        Forbidden: if ``by`` may not submit requests.
        ValidationError: the series runs beyond the horizon, gives no occurrence, or an
            occurrence breaks a request rule (each message names the days concerned).
    """
    require_role(by, *REQUESTER_ROLES)
    for value in (start_dt, end_dt):
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: give it a timezone")
    now = now or utcnow()
    first_start = to_local(start_dt).replace(tzinfo=None)
    length = to_local(end_dt).replace(tzinfo=None) - first_start
    starts = _check_recurrence(
        recurrence,
        first_start=first_start,
        last_day=horizon_end(now, horizon_days),
        horizon_days=horizon_days,
    )
    occurrences = [(from_local(s), from_local(s + length)) for s in starts]
    template = _Details(
        site_id=site_id,
        start_dt=start_dt,
        end_dt=end_dt,
        flex_days_before=flex_days_before,
        flex_days_after=flex_days_after,
        lines=lines,
        priority=priority,
        priority_reason=priority_reason,
        notes=notes,
        title=title,
    )
    _validate_occurrences(
        session,
        by=by,
        commune_id=commune_id,
        occurrences=occurrences,
        template=template,
        now=now,
    )
    series = RequestSeries(
        commune_id=commune_id,
        frequency=recurrence.frequency.value,
        rule=recurrence_rule(recurrence, first_start),
        title=title.strip()[:200],
        created_by_id=by.id,
    )
    session.add(series)
    for start, end in occurrences:
        loan = LoanRequest(
            commune_id=commune_id,
            status=RequestStatus.SUBMITTED,
            submitted_by_id=by.id,
            submitted_at=now,
            title="",
            series=series,
        )
        _apply(loan, _with_times(template, start, end))
        session.add(loan)
    session.flush()
    for loan in series.requests:
        record_event(
            session,
            by=by,
            action="request.submit",
            object_type="loan_request",
            object_id=loan.id,
            after=request_snapshot(loan) | {"series_id": series.id},
        )
    record_event(
        session,
        by=by,
        action="series.submit",
        object_type="request_series",
        object_id=series.id,
        after={"rule": series.rule, "request_ids": [r.id for r in series.requests]},
    )
    session.commit()
    return series


def _with_times(details: _Details, start: datetime, end: datetime) -> _Details:
    return _Details(
        site_id=details.site_id,
        start_dt=start,
        end_dt=end,
        flex_days_before=details.flex_days_before,
        flex_days_after=details.flex_days_after,
        lines=details.lines,
        priority=details.priority,
        priority_reason=details.priority_reason,
        notes=details.notes,
        title=details.title,
    )


def get_series(session: Session, series_id: int, *, by: User) -> RequestSeries:
    """The series ``series_id`` with its requests, their lines and sites.

    Raises:
        Forbidden: if ``by`` is not signed in or disabled.
        NotFound: if there is no such series or it belongs to a commune ``by`` may not see.
    """
    require_role(by)
    series = None
    if is_valid_id(series_id):
        series = session.scalars(
            select(RequestSeries)
            .where(RequestSeries.id == series_id, commune_filter(by, RequestSeries.commune_id))
            .options(
                selectinload(RequestSeries.requests)
                .selectinload(LoanRequest.lines)
                .selectinload(RequestLine.type),
                selectinload(RequestSeries.requests).selectinload(LoanRequest.site),
                selectinload(RequestSeries.commune),
            )
        ).one_or_none()
    if series is None:
        raise NotFound(_("Series %(id)s does not exist.", id=series_id))
    return series


def occurrences_in_scope(loan: LoanRequest, scope: Scope) -> list[LoanRequest]:
    """The occurrences of ``loan``'s series that ``scope`` names, in date order.

    ``loan`` alone when it belongs to no series.
    """
    if loan.series is None or scope is Scope.ONE:
        return [loan]
    if scope is Scope.ALL:
        return list(loan.series.requests)
    return [r for r in loan.series.requests if r.requested_start_dt >= loan.requested_start_dt]


@dataclass(frozen=True)
class SeriesChange:
    """What a change to several occurrences did: the requests changed, and those skipped
    because their state no longer allows it."""

    changed: list[LoanRequest]
    skipped: list[LoanRequest]


def cancel_occurrences(
    session: Session, request_id: int, *, by: User, scope: Scope, reason: str | None = None
) -> SeriesChange:
    """Cancel one occurrence of a series, it and the following ones, or all of them.

    Occurrences already handed over, returned, declined or cancelled are skipped. The
    managers get one notification for the whole change.

    Raises:
        NotFound: if ``by`` may not see the request.
        Conflict: if no occurrence in ``scope`` can still be cancelled, or another change
            to one of them was written at the same time.
    """
    require_role(by, *REQUESTER_ROLES)
    loan = get_request(session, request_id, by=by)
    targets = occurrences_in_scope(loan, scope)
    changed = [r for r in targets if r.status in CANCELLABLE]
    skipped = [r for r in targets if r.status not in CANCELLABLE]
    if not changed:
        raise Conflict(_("None of these requests can still be cancelled."))
    reason = (reason or "").strip() or None
    was_approved = [r.id for r in changed if r.status is RequestStatus.APPROVED]
    with conflict_on_concurrent_write(session, _changed_meanwhile()):
        for target in changed:
            before = request_snapshot(target)
            target.status = RequestStatus.CANCELLED
            target.sequence += 1
            session.flush()
            record_event(
                session,
                by=by,
                action="request.cancel",
                object_type="loan_request",
                object_id=target.id,
                before=before,
                after=request_snapshot(target) | {"cancel_reason": reason},
            )
        _notify_series_cancelled(
            session, loan, changed, by=by, reason=reason, was_approved=was_approved
        )
        session.commit()
    if was_approved:
        offer_freed_capacity(
            session,
            by=by,
            cause=lambda: _(
                "Approved requests %(ids)s were cancelled.",
                ids=", ".join(f"n° {i}" for i in was_approved),
            ),
        )
    return SeriesChange(changed=changed, skipped=skipped)


def _notify_series_cancelled(
    session: Session,
    loan: LoanRequest,
    cancelled: list[LoanRequest],
    *,
    by: User,
    reason: str | None,
    was_approved: list[int],
) -> None:
    """Tell the active managers once which occurrences were cancelled."""
    managers = session.scalars(
        select(User).where(User.role == Role.MANAGER, User.is_active_account.is_(True))
    ).all()
    days = ", ".join(_day(to_local(r.requested_start_dt).date()) for r in cancelled)

    def message() -> str:
        text = _(
            "%(who)s cancelled %(count)d requests of %(commune)s (%(days)s).",
            who=by.name,
            count=len(cancelled),
            commune=loan.commune.name,
            days=days,
        )
        if was_approved:
            text += " " + _("Some were approved: their equipment is free again.")
        if reason:
            text += " " + _("Reason: %(reason)s", reason=reason)
        return text

    notify(
        session,
        managers,
        "request.cancelled",
        message,
        {
            "request_id": loan.id,
            "request_ids": [r.id for r in cancelled],
            "series_id": loan.series_id,
            "was_approved": was_approved,
            "reason": reason,
        },
    )


def update_occurrences(
    session: Session,
    request_id: int,
    *,
    by: User,
    scope: Scope,
    site_id: int,
    start_dt: datetime,
    end_dt: datetime,
    lines: Sequence[Line],
    flex_days_before: int = 0,
    flex_days_after: int = 0,
    priority: int = PRIORITY_NORMAL,
    priority_reason: str | None = None,
    notes: str | None = None,
    title: str | None = None,
    expected_version: int | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    now: datetime | None = None,
) -> SeriesChange:
    """Change one occurrence of a series, it and the following ones, or all of them.

    The edited occurrence takes the new values as they are; the others take the same
    place, equipment, priority and notes, and move by as much as the edited one moved
    (in local wall-clock time) with its new length. Occurrences no plan may change any
    more (approved, handed over, ...) are skipped; each changed one goes back to
    SUBMITTED, as in ``update_request``.

    Raises:
        NotFound: if ``by`` may not see the request.
        Conflict: if the edited request was changed meanwhile or no occurrence in
            ``scope`` can still be changed.
        ValidationError: listing every rule the new values break (with the days).
    """
    template = _Details(
        site_id=site_id,
        start_dt=start_dt,
        end_dt=end_dt,
        flex_days_before=flex_days_before,
        flex_days_after=flex_days_after,
        lines=lines,
        priority=priority,
        priority_reason=priority_reason,
        notes=notes,
        title=title,
    )
    require_role(by, *REQUESTER_ROLES)
    loan = get_request(session, request_id, by=by)
    if scope is Scope.ONE or loan.series is None:
        saved = update_request(
            session,
            request_id,
            by=by,
            site_id=site_id,
            start_dt=start_dt,
            end_dt=end_dt,
            flex_days_before=flex_days_before,
            flex_days_after=flex_days_after,
            lines=lines,
            priority=priority,
            priority_reason=priority_reason,
            notes=notes,
            title=title,
            expected_version=expected_version,
            now=now,
        )
        return SeriesChange(changed=[saved], skipped=[])
    if expected_version is not None and loan.version != expected_version:
        raise Conflict(_("Someone changed this request meanwhile: reload it and try again."))
    now = now or utcnow()
    targets = occurrences_in_scope(loan, scope)
    changed = [r for r in targets if r.status in EDITABLE]
    skipped = [r for r in targets if r.status not in EDITABLE]
    if not changed:
        raise Conflict(_("None of these requests can still be changed."))
    old_start = to_local(loan.requested_start_dt).replace(tzinfo=None)
    new_start = to_local(start_dt).replace(tzinfo=None)
    length = to_local(end_dt).replace(tzinfo=None) - new_start
    times: dict[int, tuple[datetime, datetime]] = {}
    for target in changed:
        moved = to_local(target.requested_start_dt).replace(tzinfo=None) + (new_start - old_start)
        times[target.id] = (from_local(moved), from_local(moved + length))
    last_day = horizon_end(now, horizon_days)
    if max(to_local(s).date() for s, _e in times.values()) > last_day:
        raise ValidationError(
            _(
                "A series may run at most %(days)d days ahead, until %(date)s.",
                days=horizon_days,
                date=_day(last_day),
            ),
            field="start_dt",
        )
    _validate_occurrences(
        session,
        by=by,
        commune_id=loan.commune_id,
        occurrences=list(times.values()),
        template=template,
        now=now,
    )
    with conflict_on_concurrent_write(session, _changed_meanwhile()):
        for target in changed:
            before = request_snapshot(target)
            _apply(target, _with_times(template, *times[target.id]))
            target.status = RequestStatus.SUBMITTED
            target.sequence += 1
            session.flush()
            record_event(
                session,
                by=by,
                action="request.update",
                object_type="loan_request",
                object_id=target.id,
                before=before,
                after=request_snapshot(target) | {"series_id": target.series_id},
            )
        session.commit()
    return SeriesChange(changed=changed, skipped=skipped)


_DATE_PATTERNS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y")


def parse_dates(text: str | None) -> tuple[list[date], list[str]]:
    """The dates written in ``text`` (separated by lines, commas, semicolons or spaces),
    as ``dd/mm/yyyy`` or ``yyyy-mm-dd``, and the words that are no date."""
    found: list[date] = []
    bad: list[str] = []
    for word in re.split(r"[\s,;]+", text or ""):
        if not word:
            continue
        for pattern in _DATE_PATTERNS:
            try:
                found.append(datetime.strptime(word, pattern).date())
                break
            except ValueError:
                continue
        else:
            bad.append(word)
    return found, bad
