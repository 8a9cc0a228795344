"""Why a request is unserved, as a structure and as one English line.

The web application renders ``Reason`` in French from its fields; the plan
file carries ``Reason.to_text()``. Datetimes are aware and already in the
problem's timezone.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

MAX_LISTED = 5  # blocking requests named in a line of text before "and N more"
MAX_DETAILED = 3  # units described one by one; beyond, they are counted by state


class ReasonKind(str, enum.Enum):
    """The main obstacle, from the most to the least structural."""

    NO_SUCH_EQUIPMENT = "NO_SUCH_EQUIPMENT"  # no unit or pool of the type or its substitutes
    EXCEEDS_STOCK = "EXCEEDS_STOCK"  # more asked than the whole stock
    OUTSIDE_HORIZON = "OUTSIDE_HORIZON"  # no allowed shift lies inside the horizon
    MAINTENANCE = "MAINTENANCE"  # units exist but are blacked out at every allowed shift
    BUSY = "BUSY"  # held by other loans at every allowed shift
    TRAVEL = "TRAVEL"  # free, but cannot get there in time after turnaround and travel
    COMBINATION = "COMBINATION"  # each line fits alone, never all together at one shift
    LOWER_PRIORITY_TRADEOFF = "LOWER_PRIORITY_TRADEOFF"  # fits only by displacing more value
    NOT_SELECTED = "NOT_SELECTED"  # fits beside the plan's loans; the strategy left it out


class UnitState(str, enum.Enum):
    FREE = "FREE"
    TRAVEL = "TRAVEL"
    BUSY = "BUSY"
    MAINTENANCE = "MAINTENANCE"


@dataclass(frozen=True)
class UnitStatus:
    """How one eligible unit stands at the reason's shift.

    ``start``/``end`` bound the conflict (blackout, loans, or the drive);
    ``request_ids`` are the loans holding it. For TRAVEL, ``request_ids`` is
    the neighbouring loan it cannot get from or to in time; after it,
    ``start``/``end`` are when the unit is ready there and the earliest
    arrival; before it, the latest end of this loan and the next loan's start.
    """

    unit_id: str
    type_id: str
    state: UnitState
    start: datetime | None = None
    end: datetime | None = None
    request_ids: tuple[str, ...] = ()
    travel_minutes: int = 0
    turnaround_minutes: int = 0
    travel_side: str = ""  # TRAVEL: "after" the previous loan or "before" the next one


@dataclass(frozen=True)
class Reason:
    """Why one request is unserved, complete enough to be rendered in any language.

    Attributes:
        request_id: the unserved request.
        kind: the main obstacle.
        type_id: the requested type that ran short (None for OUTSIDE_HORIZON).
        period_start: start of the shortage, at the shift ``shift_minutes``.
        period_end: end of the shortage.
        blocking_ids: served requests holding the resource over the period
            (for LOWER_PRIORITY_TRADEOFF: the cheapest set to displace).
        shifts_tried: whether the request's window allowed shifts (all were
            tried; the period is at the least bad one).
        substitutes_tried: substitute types whose units were considered.
        short_by: units or quantity missing at the least bad shift.
        asked: units or quantity asked of ``type_id`` (all lines of that type).
        available: units or quantity free at the least bad shift.
        stock: units eligible (own type and substitutes) or pooled quantity.
        types: for COMBINATION, the types of a smallest set of lines that
            cannot be served together; otherwise other types also short.
        unit_statuses: each eligible unit at the least bad shift.
        min_shift_minutes: most negative allowed shift (<= 0).
        max_shift_minutes: most positive allowed shift (>= 0).
        shift_minutes: the shift the period and statuses refer to.
        blocking_value: total priority value of ``blocking_ids``.
        own_value: priority value of the request.
        site: the request's delivery site.
    """

    request_id: str
    kind: ReasonKind
    type_id: str | None
    period_start: datetime | None = None
    period_end: datetime | None = None
    blocking_ids: tuple[str, ...] = ()
    shifts_tried: bool = False
    substitutes_tried: tuple[str, ...] = ()
    short_by: int = 0
    asked: int = 0
    available: int = 0
    stock: int = 0
    types: tuple[str, ...] = ()
    unit_statuses: tuple[UnitStatus, ...] = ()
    min_shift_minutes: int = 0
    max_shift_minutes: int = 0
    shift_minutes: int = 0
    blocking_value: int = 0
    own_value: int = 0
    site: str = ""

    def to_text(self) -> str:
        """One English line for the plan file."""
        return _TEXT[self.kind](self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (enums by name, datetimes in RFC 3339) for storage."""
        plain: dict[str, Any] = _plain(asdict(self))
        return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def fmt_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "?"


def fmt_period(start: datetime | None, end: datetime | None) -> str:
    return f"{fmt_time(start)}-{fmt_time(end)}"


def fmt_minutes(minutes: int) -> str:
    """A duration as '3 days', '5 h', '1 day 4 h' or '90 min'."""
    minutes = abs(minutes)
    if minutes == 0:
        return "0 min"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" + ("s" if days > 1 else ""))
    if hours:
        parts.append(f"{hours} h")
    if mins:
        parts.append(f"{mins} min")
    return " ".join(parts)


def fmt_ids(ids: tuple[str, ...]) -> str:
    if len(ids) <= MAX_LISTED:
        return ", ".join(ids)
    return ", ".join(ids[:MAX_LISTED]) + f" and {len(ids) - MAX_LISTED} more"


def _window(reason: Reason) -> str:
    low, high = -reason.min_shift_minutes, reason.max_shift_minutes
    if low == high:
        return f"±{fmt_minutes(high)}"
    if low == 0:
        return f"up to {fmt_minutes(high)} later"
    if high == 0:
        return f"up to {fmt_minutes(low)} earlier"
    return f"{fmt_minutes(low)} earlier to {fmt_minutes(high)} later"


def _no_shift(reason: Reason, verb: str) -> str:
    if not reason.shifts_tried:
        return ""
    return f"; no shift inside the window ({_window(reason)}) {verb}"


def _count_word(n: int, state: str) -> str:
    if n == 1:
        return f"the only unit is {state}"
    if n == 2:
        return f"both units {state}"
    return f"all {n} units {state}"


def _unit_summary(reason: Reason, type_id: str) -> str:
    """What the units of one type are doing at the reason's shift."""
    statuses = [s for s in reason.unit_statuses if s.type_id == type_id]
    if not statuses:
        return "no unit of its own"
    states = {s.state for s in statuses}
    period = fmt_period(reason.period_start, reason.period_end)
    if states == {UnitState.BUSY}:
        ids = tuple(dict.fromkeys(i for s in statuses for i in s.request_ids))
        return f"{_count_word(len(statuses), 'busy')} {period} ({fmt_ids(ids)})"
    if len(statuses) > MAX_DETAILED:
        return _unit_counts(statuses, period)
    parts = []
    for status in statuses:
        when = fmt_period(status.start, status.end)
        if status.state is UnitState.MAINTENANCE:
            parts.append(f"{status.unit_id} in maintenance {when}")
        elif status.state is UnitState.BUSY:
            parts.append(f"{status.unit_id} busy {when} ({fmt_ids(status.request_ids)})")
        elif status.state is UnitState.TRAVEL:
            drive = (
                f"{status.turnaround_minutes} min turnaround + {status.travel_minutes} min drive"
            )
            other = fmt_ids(status.request_ids)
            if status.travel_side == "after":
                parts.append(
                    f"{status.unit_id} reaches {reason.site} at {fmt_time(status.end)} at the "
                    f"earliest, after {other} ({drive})"
                )
            else:
                parts.append(
                    f"{status.unit_id} must be released by {fmt_time(status.start)} to reach "
                    f"{other} at {fmt_time(status.end)} ({drive})"
                )
        else:
            parts.append(f"{status.unit_id} free")
    return ", ".join(parts)


def _unit_counts(statuses: list[UnitStatus], period: str) -> str:
    """Many units in mixed states, counted by state rather than listed one by one."""
    free = sum(1 for s in statuses if s.state is UnitState.FREE)
    head = (
        f"all {len(statuses)} units unavailable {period}"
        if free == 0
        else f"{free} of {len(statuses)} units free {period}"
    )
    parts = []
    for state, label in (
        (UnitState.BUSY, "busy"),
        (UnitState.TRAVEL, "too far to arrive in time"),
        (UnitState.MAINTENANCE, "in maintenance"),
    ):
        group = [s for s in statuses if s.state is state]
        if not group:
            continue
        if state is UnitState.MAINTENANCE:
            names = tuple(s.unit_id for s in group)
        else:
            names = tuple(dict.fromkeys(i for s in group for i in s.request_ids))
        parts.append(f"{len(group)} {label} ({fmt_ids(names)})")
    return f"{head}: {', '.join(parts)}"


def _substitutes(reason: Reason) -> str:
    texts = []
    for sub in reason.substitutes_tried:
        statuses = [s for s in reason.unit_statuses if s.type_id == sub]
        states = {s.state for s in statuses}
        ids = tuple(dict.fromkeys(i for s in statuses for i in s.request_ids))
        if states == {UnitState.MAINTENANCE}:
            texts.append(f"substitute {sub} also in maintenance")
        elif states <= {UnitState.BUSY}:
            texts.append(f"substitute {sub} also busy ({fmt_ids(ids)})")
        elif UnitState.FREE in states:
            texts.append(f"substitute {sub} partly free")
        else:
            texts.append(f"substitute {sub} also unavailable ({fmt_ids(ids)})")
    return "".join(f"; {t}" for t in texts)


def _shortage(reason: Reason) -> str:
    """The main clause for a shortage of ``type_id`` at the reason's shift."""
    period = fmt_period(reason.period_start, reason.period_end)
    if not reason.unit_statuses:  # a pooled type
        held = f" (held by {fmt_ids(reason.blocking_ids)})" if reason.blocking_ids else ""
        return f"{reason.asked} asked, {reason.available} free at best {period}{held}"
    if reason.asked > 1 and reason.available > 0:
        return (
            f"{reason.asked} asked, {reason.available} free at best {period} "
            f"({fmt_ids(reason.blocking_ids)})"
        )
    return _unit_summary(reason, reason.type_id or "")


def _also(reason: Reason) -> str:
    return f"; also short: {', '.join(reason.types)}" if reason.types else ""


def _text_no_such(reason: Reason) -> str:
    return f"{reason.type_id}: no unit or pool of this type or of a substitute"


def _text_exceeds(reason: Reason) -> str:
    subs = f" (with substitutes {', '.join(reason.substitutes_tried)})"
    return f"{reason.type_id}: {reason.asked} asked, only {reason.stock} in stock" + (
        subs if reason.substitutes_tried else ""
    )


def _text_horizon(reason: Reason) -> str:
    return (
        f"requested {fmt_period(reason.period_start, reason.period_end)}, outside the planning "
        "horizon" + (f" even when shifted ({_window(reason)})" if reason.shifts_tried else "")
    )


def _text_maintenance(reason: Reason) -> str:
    return (
        f"{reason.type_id}: {_unit_summary(reason, reason.type_id or '')}"
        + _substitutes(reason)
        + _no_shift(reason, "avoids it")
        + _also(reason)
    )


def _text_busy(reason: Reason) -> str:
    main = _shortage(reason)
    subs = _substitutes(reason) if reason.unit_statuses else ""
    return f"{reason.type_id}: {main}{subs}{_no_shift(reason, 'frees it')}{_also(reason)}"


def _text_travel(reason: Reason) -> str:
    return (
        f"{reason.type_id}: {_unit_summary(reason, reason.type_id or '')}"
        + _substitutes(reason)
        + _no_shift(reason, "leaves time for the drive")
        + _also(reason)
    )


def _text_combination(reason: Reason) -> str:
    where = f" inside the window ({_window(reason)})" if reason.shifts_tried else ""
    types = reason.types or (reason.type_id or "",)
    if len(types) == 1:
        return f"{types[0]}: its lines fit one at a time{where}, not together: {_shortage(reason)}"
    return (
        f"{' + '.join(types)}: each line fits alone{where} but never all at once; "
        f"best try: {reason.type_id}: {_shortage(reason)}"
    )


def _text_tradeoff(reason: Reason) -> str:
    return (
        f"{reason.type_id}: fits {fmt_period(reason.period_start, reason.period_end)} only by "
        f"displacing lower-priority {fmt_ids(reason.blocking_ids)} (total value "
        f"{reason.blocking_value} >= its value {reason.own_value})"
        + _no_shift(reason, "avoids that")
    )


def _text_not_selected(reason: Reason) -> str:
    return (
        f"fits {fmt_period(reason.period_start, reason.period_end)} beside the planned loans; "
        "left out by the planning strategy (order of arrival or time limit): re-run the optimiser"
    )


_TEXT = {
    ReasonKind.NO_SUCH_EQUIPMENT: _text_no_such,
    ReasonKind.EXCEEDS_STOCK: _text_exceeds,
    ReasonKind.OUTSIDE_HORIZON: _text_horizon,
    ReasonKind.MAINTENANCE: _text_maintenance,
    ReasonKind.BUSY: _text_busy,
    ReasonKind.TRAVEL: _text_travel,
    ReasonKind.COMBINATION: _text_combination,
    ReasonKind.LOWER_PRIORITY_TRADEOFF: _text_tradeoff,
    ReasonKind.NOT_SELECTED: _text_not_selected,
}
