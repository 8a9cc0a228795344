"""The independent plan checker, and the metrics of a plan.

Written from ``docs/file-formats.md`` alone: it knows nothing of how a plan was
made, so it is what proves a strategy right. ``check_assignments`` checks the
feasibility rules 1-5, ``check_plan`` a whole ``loan-plan/1``
document, ``compute_metrics`` recomputes the objective's figures.

Rules are numbered as in "What a valid plan respects" of
``docs/file-formats.md``; ``"plan"`` marks a structural fault (a request
missing or listed twice, lines that do not match the request, bad status...),
``"metrics"`` a figure that differs from the recomputation. A unit named
twice in one request breaks rule 2; a unit whose loans of two requests
overlap (with turnaround) breaks rule 3. Times in messages are local times of
``problem.timezone``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from solver.geo import TravelMatrix
from solver.itinerary import UnitLoan, minutes_of, plan_km, served_minutes, unit_loans
from solver.plan import PLAN_FORMAT, LineAssignment, Metrics, Plan, RequestAssignment, Status
from solver.problem import Line, Problem, Request

PLAN = "plan"
METRICS = "metrics"
KM_TOLERANCE = 0.05 + 1e-9  # metrics.km must equal the recomputation to 0.1 km
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``rule`` is "1".."5" (feasibility), "plan" or "metrics"."""

    rule: str
    message: str
    request: str | None = None

    def __str__(self) -> str:
        label = f"rule {self.rule}" if self.rule.isdigit() else self.rule
        where = f"{self.request}: " if self.request else ""
        return f"{label}: {where}{self.message}"


def check_assignments(
    problem: Problem, assignments: Sequence[RequestAssignment]
) -> list[Violation]:
    """Checks the feasibility rules 1-5 on the given assignments.

    Requests absent from ``assignments`` are not reported (locked assignments
    can be checked alone); use ``check_plan`` for a whole plan. Also reports
    the structural faults of the given assignments: unknown or repeated
    request ids, lines that do not match the request's, a served request
    without times, an unserved one with times or lines.

    Returns:
        The violations, empty when the assignments are feasible.
    """
    times = LocalTimes(problem)
    violations: list[Violation] = []
    known: list[RequestAssignment] = []
    seen: set[str] = set()
    for assignment in assignments:
        if assignment.id in seen:
            violations.append(Violation(PLAN, "listed more than once", assignment.id))
            continue
        seen.add(assignment.id)
        request = problem.request_by_id.get(assignment.id)
        if request is None:
            violations.append(Violation(PLAN, "not a request of the problem", assignment.id))
            continue
        violations.extend(_check_request(problem, times, request, assignment))
        if request.locked is not None:
            violations.extend(_check_locked(times, request, assignment))
        # Occupations of requests without usable times cannot be placed in time.
        if assignment.served and assignment.start is not None and assignment.end is not None:
            known.append(assignment)
    violations.extend(_check_units(problem, times, known))
    violations.extend(_check_pools(problem, times, known))
    return violations


def check_plan(problem: Problem, plan: Plan, problem_sha256: str | None = None) -> list[Violation]:
    """Checks a whole ``loan-plan/1`` document against its problem.

    Every request exactly once, feasibility (rules 1-5), a reason on every
    unserved request, a known status and format, the problem's sha256 when
    ``problem_sha256`` is given, and metrics equal to the recomputation (km
    to 0.1).

    Returns:
        The violations, empty when the plan is valid.
    """
    violations: list[Violation] = []
    if plan.format != PLAN_FORMAT:
        violations.append(Violation(PLAN, f"format is {plan.format!r}, not {PLAN_FORMAT!r}"))
    status = getattr(plan.status, "value", plan.status)
    if status not in {s.value for s in Status}:
        allowed = ", ".join(s.value for s in Status)
        violations.append(Violation(PLAN, f"status is {status!r}, not one of {allowed}"))
    if problem_sha256 is not None and plan.problem.lower() != problem_sha256.lower():
        violations.append(
            Violation(
                PLAN,
                f"made for problem {plan.problem or '(none)'}, "
                f"but this problem's sha256 is {problem_sha256}",
            )
        )
    listed = {a.id for a in plan.requests}
    for request in problem.requests:
        if request.id not in listed:
            violations.append(Violation(PLAN, "missing from the plan", request.id))
    violations.extend(check_assignments(problem, plan.requests))
    for assignment in plan.requests:
        if not assignment.served and not (assignment.reason or "").strip():
            violations.append(Violation(PLAN, "unserved without a reason", assignment.id))
    violations.extend(_check_metrics(plan.metrics, compute_metrics(problem, plan.requests)))
    return violations


def compute_metrics(problem: Problem, assignments: Sequence[RequestAssignment]) -> Metrics:
    """Recomputes a plan's metrics from the problem and its assignments.

    Only the first assignment of each request of the problem counts. ``km``
    is rounded to 0.1; see ``solver.itinerary`` for how it is made up.
    """
    first = _first_known(problem, assignments)
    served = [a for a in first if a.served]
    shift = 0
    for assignment in served:
        if assignment.start is not None:
            request = problem.request_by_id[assignment.id]
            shift += shift_minutes(request, assignment.start)
    return Metrics(
        requests=len(problem.requests),
        served=len(served),
        served_value=sum(problem.value_of(problem.request_by_id[a.id]) for a in served),
        changed=count_changed(problem, first),
        shift_minutes=shift,
        km=round(plan_km(problem, first, TravelMatrix(problem)), 1),
    )


def objective_of(metrics: Metrics) -> tuple[float, float, float, float]:
    """The lexicographic objective levels: (served value, changed, shift minutes, km)."""
    return (
        float(metrics.served_value),
        float(metrics.changed),
        float(metrics.shift_minutes),
        float(metrics.km),
    )


def shift_minutes(request: Request, start: datetime) -> int:
    """The absolute shift, in whole minutes, of a request served from ``start``."""
    return int(abs(elapsed(request.start, start)) // _MINUTE)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time from ``start`` to ``end``, also across a change of summer time.

    Python subtracts two datetimes sharing one ``ZoneInfo`` by wall clock;
    converting to UTC first counts the hour gained or lost.
    """
    return end.astimezone(UTC) - start.astimezone(UTC)


def assignment_changed(previous: RequestAssignment, current: RequestAssignment | None) -> bool:
    """Whether a request served in the previous plan counts as changed now.

    Changed means: unserved (or absent) now, moved (another start or end), or
    served by other units or pools: the set of units, or the set of pools
    drawn from, differs over the request's lines. Pool quantities do not
    count, only which pools are drawn from. ``previous`` unserved is never
    changed.
    """
    if not previous.served:
        return False
    if current is None or not current.served:
        return True
    if current.start != previous.start or current.end != previous.end:
        return True
    return _resources(current.lines) != _resources(previous.lines)


def count_changed(problem: Problem, assignments: Iterable[RequestAssignment]) -> int:
    """How many requests served in ``problem.previous`` and still in the problem changed."""
    if problem.previous is None:
        return 0
    current = {a.id: a for a in assignments}
    changed = 0
    counted: set[str] = set()
    for previous in problem.previous.requests:
        if previous.id in counted or previous.id not in problem.request_by_id:
            continue
        counted.add(previous.id)
        if assignment_changed(previous, current.get(previous.id)):
            changed += 1
    return changed


def _resources(lines: Sequence[LineAssignment]) -> tuple[frozenset[str], frozenset[str]]:
    units = frozenset(u for line in lines for u in line.units)
    pools = frozenset(d.pool for line in lines for d in line.pools)
    return units, pools


def _first_known(
    problem: Problem, assignments: Iterable[RequestAssignment]
) -> list[RequestAssignment]:
    first: dict[str, RequestAssignment] = {}
    for assignment in assignments:
        if assignment.id in problem.request_by_id and assignment.id not in first:
            first[assignment.id] = assignment
    return list(first.values())


def _check_metrics(given: Metrics, expected: Metrics) -> list[Violation]:
    violations = []
    for name in ("requests", "served", "served_value", "changed", "shift_minutes"):
        if getattr(given, name) != getattr(expected, name):
            violations.append(
                Violation(
                    METRICS,
                    f"{name} is {getattr(given, name)}, but the assignments give "
                    f"{getattr(expected, name)}",
                )
            )
    if abs(given.km - expected.km) > KM_TOLERANCE:
        violations.append(
            Violation(METRICS, f"km is {given.km}, but the assignments give {expected.km}")
        )
    return violations


class LocalTimes:
    """Formats instants and problem minutes as local times of the problem's timezone."""

    def __init__(self, problem: Problem) -> None:
        # Minutes count real time from the horizon's start (see ``minutes_of``).
        self._origin = problem.horizon.start.astimezone(UTC)
        try:
            self._zone: ZoneInfo | None = ZoneInfo(problem.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self._zone = None  # keep each instant's own offset

    def instant(self, moment: datetime) -> str:
        """``2027-07-13 08:00``, in the problem's timezone."""
        local = moment.astimezone(self._zone) if self._zone is not None else moment
        return local.strftime("%Y-%m-%d %H:%M")

    def span(self, start: datetime, end: datetime) -> str:
        """``2027-07-13 08:00-2027-07-15 18:00``."""
        return f"{self.instant(start)}-{self.instant(end)}"

    def minute(self, minutes: int) -> str:
        """An instant given in the problem's minutes."""
        return self.instant(self._origin + timedelta(minutes=minutes))

    def minute_span(self, start: int, end: int) -> str:
        return f"{self.minute(start)}-{self.minute(end)}"

    @staticmethod
    def duration(length: timedelta) -> str:
        """``2 d 10 h 30 min``; whole minutes."""
        minutes = int(length // _MINUTE)
        days, rest = divmod(minutes, 1440)
        hours, mins = divmod(rest, 60)
        parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min"]
        text = " ".join(p for p in parts if p)
        return text if mins or not (days or hours) else text.removesuffix(" 0 min")


# --- rules 1, 2 and 4 on one request ----------------------------------------


def _check_request(
    problem: Problem, times: LocalTimes, request: Request, assignment: RequestAssignment
) -> list[Violation]:
    rid = request.id
    if not assignment.served:
        if assignment.start is not None or assignment.end is not None or assignment.lines:
            return [Violation(PLAN, "unserved, yet it names times or lines", rid)]
        return []
    if assignment.start is None or assignment.end is None:
        return [Violation(PLAN, "served without a start and an end", rid)]
    violations = _check_interval(problem, times, request, assignment.start, assignment.end)
    if len(assignment.lines) != len(request.lines):
        violations.append(
            Violation(
                PLAN,
                f"has {len(assignment.lines)} lines, the request has {len(request.lines)}",
                rid,
            )
        )
        return violations
    for index, (line, served) in enumerate(
        zip(request.lines, assignment.lines, strict=True), start=1
    ):
        if served.type != line.type:
            violations.append(
                Violation(PLAN, f"line {index} is of type {served.type}, not {line.type}", rid)
            )
        elif line.type not in problem.type_by_id:
            violations.append(Violation(PLAN, f"line {index}: unknown type {line.type}", rid))
        elif problem.is_pooled(line.type):
            violations.extend(_check_pooled_line(problem, rid, index, line, served))
        else:
            violations.extend(_check_unit_line(problem, rid, index, line, served))
    violations.extend(_check_unit_once(rid, assignment.lines))
    return violations


def _check_interval(
    problem: Problem, times: LocalTimes, request: Request, start: datetime, end: datetime
) -> list[Violation]:
    """Rule 1: the shifted interval keeps the duration, fits the window and the horizon."""
    rid = request.id
    violations = []
    for name, moment in (("start", start), ("end", end)):
        if elapsed(problem.horizon.start, moment) % _MINUTE:
            violations.append(
                Violation("1", f"{name} {moment.isoformat()} is not on a whole minute", rid)
            )
    served_span = f"served {times.span(start, end)}"
    requested = elapsed(request.start, request.end)
    if elapsed(start, end) != requested:
        violations.append(
            Violation(
                "1",
                f"{served_span} lasts {times.duration(elapsed(start, end))}, "
                f"the request lasts {times.duration(requested)}",
                rid,
            )
        )
    if start < request.earliest_start or end > request.latest_end:
        violations.append(
            Violation(
                "1",
                f"{served_span}, outside its window "
                f"{times.span(request.earliest_start, request.latest_end)}",
                rid,
            )
        )
    if start < problem.horizon.start or end > problem.horizon.end:
        violations.append(
            Violation(
                "1",
                f"{served_span}, outside the horizon "
                f"{times.span(problem.horizon.start, problem.horizon.end)}",
                rid,
            )
        )
    return violations


def _check_unit_line(
    problem: Problem, rid: str, index: int, line: Line, served: LineAssignment
) -> list[Violation]:
    """Rule 2 on one unit-tracked line: q distinct units of the type or a substitute."""
    label = f"line {index} ({line.type})"
    violations = []
    if served.pools:
        violations.append(
            Violation("2", f"{label} is unit-tracked, it cannot draw from pools", rid)
        )
    if len(served.units) != line.quantity:
        violations.append(
            Violation(
                "2", f"{label} names {len(served.units)} units, it asks for {line.quantity}", rid
            )
        )
    eligible = problem.eligible_unit_types(line.type)
    for unit_id, count in Counter(served.units).items():
        if count > 1:
            violations.append(Violation("2", f"{label} names unit {unit_id} {count} times", rid))
        unit = problem.unit_by_id.get(unit_id)
        if unit is None:
            violations.append(Violation("2", f"{label}: unknown unit {unit_id}", rid))
        elif unit.type not in eligible:
            violations.append(
                Violation(
                    "2",
                    f"{label}: unit {unit_id} is a {unit.type}, "
                    f"which is not one of {', '.join(eligible)}",
                    rid,
                )
            )
    return violations


def _check_pooled_line(
    problem: Problem, rid: str, index: int, line: Line, served: LineAssignment
) -> list[Violation]:
    """Rule 4 on one pooled line: draws from pools of its type summing to q."""
    label = f"line {index} ({line.type})"
    violations = []
    if served.units:
        violations.append(
            Violation(
                "4",
                f"{label} is pooled, it cannot name units "
                f"({', '.join(served.units)}); substitutes apply to unit-tracked types only",
                rid,
            )
        )
    total = 0
    for draw in served.pools:
        total += draw.quantity
        pool = problem.pool_by_id.get(draw.pool)
        if pool is None:
            violations.append(Violation("4", f"{label}: unknown pool {draw.pool}", rid))
        elif pool.type != line.type:
            violations.append(
                Violation("4", f"{label}: pool {pool.id} holds {pool.type}, not {line.type}", rid)
            )
        if draw.quantity < 1:
            violations.append(
                Violation("4", f"{label}: draws {draw.quantity} from {draw.pool}", rid)
            )
    if total != line.quantity:
        violations.append(
            Violation("4", f"{label}: draws sum to {total}, the line asks for {line.quantity}", rid)
        )
    return violations


def _check_unit_once(rid: str, lines: Sequence[LineAssignment]) -> list[Violation]:
    """Rule 2: a unit serves at most one line of a request."""
    lines_of: dict[str, list[int]] = {}
    for index, line in enumerate(lines, start=1):
        for unit_id in dict.fromkeys(line.units):
            lines_of.setdefault(unit_id, []).append(index)
    return [
        Violation(
            "2",
            f"unit {unit_id} serves lines {', '.join(map(str, indexes))} at the same time",
            rid,
        )
        for unit_id, indexes in lines_of.items()
        if len(indexes) > 1
    ]


# --- rule 5 ------------------------------------------------------------------


def _check_locked(
    times: LocalTimes, request: Request, assignment: RequestAssignment
) -> list[Violation]:
    """Rule 5: a locked request is served exactly as locked."""
    locked = request.locked
    assert locked is not None
    rid = request.id
    if assignment.served != locked.served:
        state = "served" if locked.served else "unserved"
        return [Violation("5", f"locked {state}, but it is not", rid)]
    if not locked.served:
        return []
    violations = []
    if assignment.start != locked.start or assignment.end != locked.end:
        violations.append(
            Violation(
                "5",
                f"locked {_span_or_none(times, locked.start, locked.end)}, "
                f"served {_span_or_none(times, assignment.start, assignment.end)}",
                rid,
            )
        )
    if len(assignment.lines) != len(locked.lines):
        violations.append(
            Violation(
                "5",
                f"locked with {len(locked.lines)} lines, served with {len(assignment.lines)}",
                rid,
            )
        )
        return violations
    for index, (want, got) in enumerate(zip(locked.lines, assignment.lines, strict=True), start=1):
        if set(want.units) != set(got.units):
            violations.append(
                Violation(
                    "5",
                    f"line {index} locked to units {_names(want.units)}, "
                    f"served by {_names(got.units)}",
                    rid,
                )
            )
        want_draws = Counter((d.pool, d.quantity) for d in want.pools)
        got_draws = Counter((d.pool, d.quantity) for d in got.pools)
        if want_draws != got_draws:
            violations.append(
                Violation(
                    "5",
                    f"line {index} locked to draws {_draws(want)}, served by {_draws(got)}",
                    rid,
                )
            )
    return violations


def _span_or_none(times: LocalTimes, start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "without times"
    return times.span(start, end)


def _names(ids: Iterable[str]) -> str:
    return ", ".join(sorted(ids)) or "(none)"


def _draws(line: LineAssignment) -> str:
    return ", ".join(f"{d.quantity} from {d.pool}" for d in line.pools) or "(none)"


# --- rules 2 and 3 across requests ---------------------------------------------


def _check_units(
    problem: Problem, times: LocalTimes, assignments: Sequence[RequestAssignment]
) -> list[Violation]:
    """Rule 3 per unit: occupations apart, turnaround and travel between, no blackout.

    Every pair of overlapping occupations is reported, not only successive
    loans, so that one long loan over several short ones names them all.
    """
    travel = TravelMatrix(problem)
    violations: list[Violation] = []
    for unit_id, loans in unit_loans(problem, assignments).items():
        unit = problem.unit_by_id[unit_id]
        unit_type = problem.type_by_id.get(unit.type)
        turnaround = unit_type.turnaround_minutes if unit_type is not None else 0
        # A unit named twice in one request breaks rule 2, reported with the request.
        distinct = list({loan.request: loan for loan in reversed(loans)}.values())
        distinct.sort()
        for i, first in enumerate(distinct):
            for later in distinct[i + 1 :]:
                if later.start >= first.end + turnaround:
                    break  # sorted by start: no later loan overlaps ``first``
                violations.append(_overlap(times, unit_id, turnaround, first, later))
        for previous, following in pairwise(distinct):
            free_at = previous.end + turnaround
            if following.start < free_at:
                continue  # reported above as an overlap
            minutes = travel.minutes(previous.site, following.site)
            if free_at + minutes > following.start:
                violations.append(
                    Violation(
                        "3",
                        f"unit {unit_id} is free at {previous.site} at "
                        f"{times.minute(free_at)} after {previous.request} "
                        f"(turnaround {turnaround} min) and needs {minutes} min to reach "
                        f"{following.site}, arriving {times.minute(free_at + minutes)}; "
                        f"this loan starts {times.minute(following.start)}",
                        following.request,
                    )
                )
        for loan in distinct:
            violations.extend(_check_blackouts(problem, times, unit_id, turnaround, loan))
    return violations


def _overlap(
    times: LocalTimes, unit_id: str, turnaround: int, first: UnitLoan, later: UnitLoan
) -> Violation:
    if later.start < first.end:
        return Violation(
            "3",
            f"unit {unit_id} serves it {times.minute_span(later.start, later.end)}, "
            f"which overlaps its loan to {first.request} "
            f"{times.minute_span(first.start, first.end)}",
            later.request,
        )
    return Violation(
        "3",
        f"unit {unit_id} starts it at {times.minute(later.start)} while still in "
        f"turnaround ({turnaround} min) after {first.request} ended "
        f"{times.minute(first.end)}, until {times.minute(first.end + turnaround)}",
        later.request,
    )


def _check_blackouts(
    problem: Problem, times: LocalTimes, unit_id: str, turnaround: int, loan: UnitLoan
) -> list[Violation]:
    unit = problem.unit_by_id[unit_id]
    occupied_until = loan.end + turnaround
    violations = []
    for blackout in unit.unavailable:
        start, end = minutes_of(problem, blackout.start), minutes_of(problem, blackout.end)
        if loan.start < end and start < occupied_until:
            violations.append(
                Violation(
                    "3",
                    f"unit {unit_id} is occupied {times.minute_span(loan.start, occupied_until)} "
                    f"(with {turnaround} min turnaround) but unavailable "
                    f"{times.span(blackout.start, blackout.end)}",
                    loan.request,
                )
            )
    return violations


# --- rule 4 across requests ------------------------------------------------------


def _check_pools(
    problem: Problem, times: LocalTimes, assignments: Sequence[RequestAssignment]
) -> list[Violation]:
    """Rule 4 per pool: at every instant, what is drawn stays within its quantity."""
    # Per pool: (minute, delta, request id) events of occupations [s, e + turnaround).
    events: dict[str, list[tuple[int, int, str]]] = {}
    for assignment in assignments:
        interval = served_minutes(problem, assignment)
        assert interval is not None
        for line in assignment.lines:
            for draw in line.pools:
                pool = problem.pool_by_id.get(draw.pool)
                if pool is None:
                    continue
                pool_type = problem.type_by_id.get(pool.type)
                turnaround = pool_type.turnaround_minutes if pool_type is not None else 0
                pool_events = events.setdefault(pool.id, [])
                pool_events.append((interval[0], draw.quantity, assignment.id))
                pool_events.append((interval[1] + turnaround, -draw.quantity, assignment.id))
    violations = []
    for pool in problem.pools:
        # Releases sort before draws at the same minute: occupations are half-open.
        pool_events = sorted(events.get(pool.id, ()), key=lambda ev: (ev[0], ev[1], ev[2]))
        holding: Counter[str] = Counter()
        overloaded = False
        drawing = ""  # the last request to draw: the one that finds the pool short
        for index, (minute, delta, rid) in enumerate(pool_events):
            holding[rid] += delta
            if holding[rid] == 0:
                del holding[rid]
            if delta > 0:
                drawing = rid
            same_minute_next = index + 1 < len(pool_events) and pool_events[index + 1][0] == minute
            if same_minute_next:
                continue  # judge the level once all events of this minute are applied
            total = sum(holding.values())
            if total > pool.quantity and not overloaded:
                held = ", ".join(f"{r}: {q}" for r, q in sorted(holding.items()))
                violations.append(
                    Violation(
                        "4",
                        f"pool {pool.id} has {pool.quantity} {pool.type} but {total} are "
                        f"drawn at {times.minute(minute)} ({held})",
                        drawing,
                    )
                )
            overloaded = total > pool.quantity
    return violations
