"""The audit trail: writing events, and reading them back for the staff.

Every state change records an :class:`AuditEvent` (who, when, what, the values before and
after) in the transaction of the change. Managers and admins read the trail, filtered and
paginated newest first, and export the same rows as CSV.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from booking.errors import ValidationError
from booking.models import AuditEvent, Commune, LoanRequest, Site, User
from booking.services.access import require_staff
from booking.services.paging import Pager, make_pager
from booking.timeutil import from_local, to_local

PAGE_SIZE = 50
# Primary keys are 32-bit integers; larger ids cannot exist.
MAX_ID = 2**31 - 1
# Longest text a filter accepts (the action and object type columns hold 60 characters).
MAX_TEXT = 60
CSV_COLUMNS = (
    "id",
    "at",
    "actor_email",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows read from the database per round trip while exporting.
EXPORT_BATCH = 500
# As the inventory files: ';' and a byte-order mark, so that Excel in French opens it.
CSV_DELIMITER = ";"
BOM = "\ufeff"


def record_event(
    session: Session,
    *,
    by: User | None,
    action: str,
    object_type: str,
    object_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to ``session`` (committed with the change it describes).

    Args:
        session: the session carrying the change.
        by: who made it; ``None`` for the system (CLI, jobs).
        action: a dotted verb such as ``"user.create"``.
        object_type: the kind of object, such as ``"user"``.
        object_id: its primary key.
        before: JSON-serialisable values before the change.
        after: JSON-serialisable values after it.
    """
    event = AuditEvent(
        actor_id=by.id if by is not None else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
    session.add(event)
    return event


# --- filters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What to show of the trail; empty values mean "any".

    Attributes:
        action: a prefix of the action, such as ``"request."`` or ``"plan.approve"``.
        object_type: the exact object type, such as ``"loan_request"``.
        object_id: the object's primary key.
        actor: part of the actor's e-mail address or name (case-insensitive).
        date_from: first day shown, in Europe/Paris.
        date_to: last day shown (included), in Europe/Paris.
        commune_id: only events about this commune's requests, sites and accounts.
    """

    action: str = ""
    object_type: str = ""
    object_id: int | None = None
    actor: str = ""
    date_from: date | None = None
    date_to: date | None = None
    commune_id: int | None = None


def check_filters(session: Session, filters: AuditFilters) -> AuditFilters:
    """Validate ``filters`` and return them with their texts trimmed.

    Raises:
        ValidationError: naming every filter that cannot be used.
    """
    errors: list[tuple[str | None, str]] = []
    for name in ("action", "object_type", "actor"):
        if len(getattr(filters, name).strip()) > MAX_TEXT:
            errors.append((name, _("Keep this filter under %(max)d characters.", max=MAX_TEXT)))
    if filters.object_id is not None and not 0 < filters.object_id <= MAX_ID:
        errors.append(
            ("object_id", _("The object id is a whole number from 1 to %(max)d.", max=MAX_ID))
        )
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        errors.append(("date_to", _("The end date is before the start date.")))
    if filters.commune_id is not None and (
        not 0 < filters.commune_id <= MAX_ID or session.get(Commune, filters.commune_id) is None
    ):
        errors.append(("commune_id", _("Commune %(id)s does not exist.", id=filters.commune_id)))
    if errors:
        raise ValidationError(errors=errors)
    return AuditFilters(
        action=filters.action.strip(),
        object_type=filters.object_type.strip(),
        object_id=filters.object_id,
        actor=filters.actor.strip(),
        date_from=filters.date_from,
        date_to=filters.date_to,
        commune_id=filters.commune_id,
    )


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching itself literally (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _commune_clause(commune_id: int) -> ColumnElement[bool]:
    """Events about the commune's requests, sites and accounts (the commune is derivable)."""
    owned = (
        ("loan_request", select(LoanRequest.id).where(LoanRequest.commune_id == commune_id)),
        ("site", select(Site.id).where(Site.commune_id == commune_id)),
        ("user", select(User.id).where(User.commune_id == commune_id)),
    )
    return or_(
        *(
            and_(AuditEvent.object_type == kind, AuditEvent.object_id.in_(ids))
            for kind, ids in owned
        )
    )


def _query(filters: AuditFilters) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.object_type:
        query = query.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id is not None:
        query = query.where(AuditEvent.object_id == filters.object_id)
    if filters.actor:
        pattern = f"%{_like(filters.actor.lower())}%"
        query = query.where(
            AuditEvent.actor_id.in_(
                select(User.id).where(
                    or_(
                        func.lower(User.email).like(pattern, escape="\\"),
                        func.lower(User.name).like(pattern, escape="\\"),
                    )
                )
            )
        )
    if filters.date_from is not None:
        query = query.where(
            AuditEvent.at >= from_local(datetime.combine(filters.date_from, time()))
        )
    if filters.date_to is not None:
        end = datetime.combine(filters.date_to + timedelta(days=1), time())
        query = query.where(AuditEvent.at < from_local(end))
    if filters.commune_id is not None:
        query = query.where(_commune_clause(filters.commune_id))
    return query


# --- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One key whose value differs between ``before`` and ``after`` (None when absent)."""

    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first, and where it stands in the trail."""

    events: list[AuditEvent]
    pager: Pager

    @property
    def page(self) -> int:
        return self.pager.page

    @property
    def pages(self) -> int:
        return self.pager.pages

    @property
    def total(self) -> int:
        return self.pager.total

    @property
    def has_previous(self) -> bool:
        return self.pager.has_previous

    @property
    def has_next(self) -> bool:
        return self.pager.has_next


def changes(event: AuditEvent) -> list[Change]:
    """The keys that ``event`` changed, in key order (every key for a creation or deletion)."""
    before, after = event.before or {}, event.after or {}
    return [
        Change(key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if key not in before or key not in after or before[key] != after[key]
    ]


def display_value(value: Any) -> str:
    """A changed value as a person reads it: text as is, other values as JSON, none as "—"."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def list_events(
    session: Session,
    filters: AuditFilters | None = None,
    *,
    by: User,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> EventPage:
    """A page of the audit trail, newest first.

    Args:
        session: the database session.
        filters: what to show (default: everything).
        by: who reads; a manager or an admin.
        page: 1-based page number; a page past the end gives the last page.
        page_size: events per page.

    Raises:
        Forbidden: ``by`` is not staff.
        ValidationError: a filter or the page number cannot be used.
    """
    require_staff(by)
    filters = check_filters(session, filters or AuditFilters())
    if not 0 < page <= MAX_ID:
        raise ValidationError(_("The page is a whole number from 1."), field="page")
    query = _query(filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pager = make_pager(page, page_size, total)
    events = list(
        session.scalars(
            query.options(selectinload(AuditEvent.actor))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(page_size)
            .offset(pager.offset)
        )
    )
    return EventPage(events=events, pager=pager)


def filter_choices(session: Session, *, by: User) -> tuple[list[str], list[str]]:
    """The actions and object types present in the trail, for the filter form.

    Raises:
        Forbidden: ``by`` is not staff.
    """
    require_staff(by)
    actions = session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    kinds = session.scalars(
        select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)
    )
    return list(actions), list(kinds)


# --- CSV --------------------------------------------------------------------------------


def safe_cell(value: str) -> str:
    """``value`` made inert for spreadsheets: a leading formula character gets a quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _json(value: dict[str, Any] | None) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def csv_row(event: AuditEvent) -> list[str]:
    """The CSV cells of ``event``, in :data:`CSV_COLUMNS` order."""
    cells = [
        str(event.id),
        to_local(event.at).isoformat(timespec="seconds"),
        event.actor.email if event.actor is not None else "",
        event.action,
        event.object_type,
        str(event.object_id) if event.object_id is not None else "",
        _json(event.before),
        _json(event.after),
    ]
    return [safe_cell(cell) for cell in cells]


def export_csv(session: Session, filters: AuditFilters | None = None, *, by: User) -> Iterator[str]:
    """The filtered trail as CSV text, newest first, produced piece by piece.

    UTF-8 text starting with a byte-order mark, ';' separators; times in Europe/Paris
    with their offset; cells a spreadsheet would run as formulas are quoted.

    Access and filters are checked at once, before the first piece is asked for, so that
    a refusal is raised here rather than in the middle of a response.

    Args:
        session: the database session (it must stay open while the text is read).
        filters: what to export (default: everything).
        by: who exports; a manager or an admin.

    Returns:
        An iterator of CSV chunks: the header line, then batches of rows.

    Raises:
        Forbidden: ``by`` is not staff.
        ValidationError: a filter cannot be used.
    """
    require_staff(by)
    query = _query(check_filters(session, filters or AuditFilters())).order_by(
        AuditEvent.at.desc(), AuditEvent.id.desc()
    )
    return _csv_chunks(session, query)


def _csv_chunks(session: Session, query: Select[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    last: tuple[datetime, int] | None = None
    while True:
        # Keyset pagination: each batch is a short query, whatever the trail's length.
        batch_query = query
        if last is not None:
            batch_query = query.where(
                or_(
                    AuditEvent.at < last[0],
                    and_(AuditEvent.at == last[0], AuditEvent.id < last[1]),
                )
            )
        batch = list(
            session.scalars(batch_query.options(selectinload(AuditEvent.actor)).limit(EXPORT_BATCH))
        )
        for event in batch:
            writer.writerow(csv_row(event))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < EXPORT_BATCH:
            return
        last = (batch[-1].at, batch[-1].id)
