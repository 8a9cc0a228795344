"""Reasons in detail: what each eligible unit or pool is doing at one shift.

``Describer`` turns a shift chosen by ``solver.explain.analysis`` into a
``Reason``: unit statuses, the shortage period, the loans holding the
resources, and whether serving the request would only displace lower
priorities worth at least as much. Integer minutes since ``horizon.start``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from solver.explain.index import Loan, Occupancy, PoolProfile, Spans
from solver.explain.reason import Reason, ReasonKind, UnitState, UnitStatus
from solver.explain.spans import Steps
from solver.problem import Problem, Request


@dataclass
class LineSpec:
    """One request line, with the units that may serve it."""

    index: int
    type_id: str
    quantity: int
    pooled: bool
    units: list[str] = field(default_factory=list)  # own type first, then substitutes
    substitutes: tuple[str, ...] = ()  # substitute types that have units


@dataclass
class Tables:
    """Every eligible resource's answer at every candidate shift of one request."""

    request: Request
    s: int
    e: int
    lo: int  # smallest allowed shift (window and horizon)
    hi: int  # largest allowed shift
    lines: list[LineSpec]
    # Free shifts of each eligible unit, per layer (blackouts; loans; travel).
    free_spans: dict[str, tuple[Spans, Spans, Spans]] = field(default_factory=dict)
    # Quantity left in all pools of a type, at each shift.
    pool_steps: dict[str, Steps] = field(default_factory=dict)
    # Filled by ``Analyser.fill_candidates`` for the CP-SAT search only:
    shifts: list[int] = field(default_factory=list)  # candidate shifts
    codes: dict[str, list[int]] = field(default_factory=dict)  # unit -> StateCode per shift
    pool_free: dict[str, list[int]] = field(default_factory=dict)  # type -> free per shift

    def order(self, c: int) -> tuple[int, int]:
        """Sort key preferring small shifts, earlier first on ties."""
        d = self.shifts[c]
        return (abs(d), d)


def max_matching(
    demands: Sequence[tuple[int, Sequence[str]]], usable: Callable[[str], bool]
) -> int:
    """Most slots filled when demand ``(quantity, eligible units)`` takes distinct units."""
    owner: dict[str, int] = {}
    slots = [units for quantity, units in demands for _ in range(quantity)]

    def augment(slot: int, seen: set[str]) -> bool:
        for unit in slots[slot]:
            if unit in seen or not usable(unit):
                continue
            seen.add(unit)
            if unit not in owner or augment(owner[unit], seen):
                owner[unit] = slot
                return True
        return False

    return sum(1 for slot in range(len(slots)) if augment(slot, set()))


class Describer:
    """Builds reasons for one plan's occupation."""

    def __init__(self, problem: Problem, occupancy: Occupancy) -> None:
        self.problem = problem
        self.occ = occupancy
        self.tb = problem.timebase
        self.tz = ZoneInfo(problem.timezone)
        self.horizon_end = self.tb.to_minutes(problem.horizon.end)
        self.locked = frozenset(r.id for r in problem.requests if r.locked is not None)

    # -- helpers ------------------------------------------------------------

    def local(self, minutes: int) -> datetime:
        return self.tb.to_datetime(minutes).astimezone(self.tz)

    def value(self, request_id: str) -> int:
        request = self.problem.request_by_id.get(request_id)
        return self.problem.value_of(request) if request else 0

    def _base(self, request: Request, **fields: object) -> Reason:
        """A reason with the request's own facts; the period defaults to its own times."""
        fields.setdefault("period_start", request.start.astimezone(self.tz))
        fields.setdefault("period_end", request.end.astimezone(self.tz))
        lo = self.tb.to_minutes(request.earliest_start) - self.tb.to_minutes(request.start)
        hi = self.tb.to_minutes(request.latest_end) - self.tb.to_minutes(request.end)
        return Reason(
            request_id=request.id,
            shifts_tried=hi > lo,
            min_shift_minutes=min(0, lo),
            max_shift_minutes=max(0, hi),
            own_value=self.problem.value_of(request),
            site=request.site,
            **fields,  # type: ignore[arg-type]
        )

    def _period(self, hull: tuple[int, int] | None, a: int, b: int) -> dict[str, datetime]:
        """The conflict's hull, cut to the loan itself when they overlap."""
        start, end = hull if hull else (a, b)
        if max(start, a) < min(end, b):
            start, end = max(start, a), min(end, b)
        return {"period_start": self.local(start), "period_end": self.local(end)}

    def unit_statuses(
        self, request: Request, tables: Tables, specs: Sequence[LineSpec], d: int
    ) -> list[tuple[UnitStatus, tuple[int, int] | None]]:
        """Each eligible unit at shift ``d``, with its conflict in minutes."""
        a, b = tables.s + d, tables.e + d
        result = []
        for unit_id in dict.fromkeys(u for spec in specs for u in spec.units):
            calendar = self.occ.units[unit_id]
            conflict = calendar.conflict(a, b, request.site, self.occ.travel)
            state = UnitState[conflict.state.name]
            free = state is UnitState.FREE
            status = UnitStatus(
                unit_id=unit_id,
                type_id=calendar.unit.type,
                state=state,
                start=None if free else self.local(conflict.start),
                end=None if free else self.local(conflict.end),
                request_ids=conflict.request_ids,
                travel_minutes=conflict.travel_minutes,
                travel_side=conflict.side,
                turnaround_minutes=calendar.turnaround,
            )
            span = conflict.span or (conflict.start, conflict.end)
            result.append((status, None if free else span))
        return result

    def unit_reason(
        self,
        request: Request,
        tables: Tables,
        specs: Sequence[LineSpec],
        d: int,
        kind: ReasonKind,
        others: tuple[str, ...] = (),
        may_displace: bool = False,
    ) -> Reason:
        """What the eligible units of ``specs`` are doing at shift ``d``.

        With ``may_displace`` (every other line fits at ``d``), a BUSY reason
        becomes LOWER_PRIORITY_TRADEOFF when that is what it is.
        """
        a, b = tables.s + d, tables.e + d
        statuses = self.unit_statuses(request, tables, specs, d)
        asked = sum(spec.quantity for spec in specs)
        demands = [(spec.quantity, spec.units) for spec in specs]
        free = {status.unit_id for status, _ in statuses if status.state is UnitState.FREE}
        available = max_matching(demands, free.__contains__)
        wanted = {
            ReasonKind.MAINTENANCE: {UnitState.MAINTENANCE},
            ReasonKind.TRAVEL: {UnitState.TRAVEL},
        }.get(kind, {UnitState.BUSY, UnitState.TRAVEL, UnitState.MAINTENANCE})
        spans = [span for status, span in statuses if span and status.state in wanted]
        hull = (min(x for x, _ in spans), max(y for _, y in spans)) if spans else None
        blockers = tuple(
            dict.fromkeys(
                i
                for status, _ in statuses
                if status.state is not UnitState.FREE
                for i in status.request_ids
            )
        )
        fields = {
            "kind": kind,
            "type_id": specs[0].type_id,
            "blocking_ids": blockers,
            "substitutes_tried": tuple(dict.fromkeys(t for s in specs for t in s.substitutes)),
            "short_by": asked - available,
            "asked": asked,
            "available": available,
            "stock": len({u for s in specs for u in s.units}),
            "types": others,
            "unit_statuses": tuple(status for status, _ in statuses),
            "shift_minutes": d,
            "blocking_value": sum(self.value(i) for i in blockers),
            **self._period(hull, a, b),
        }
        if kind is ReasonKind.BUSY and may_displace:
            displaced = self._cheapest_units(request, statuses, asked - available)
            if displaced is not None and self._is_tradeoff(request, displaced):
                fields.update(
                    kind=ReasonKind.LOWER_PRIORITY_TRADEOFF,
                    blocking_ids=displaced,
                    blocking_value=sum(self.value(i) for i in displaced),
                    period_start=self.local(a),
                    period_end=self.local(b),
                )
        return self._base(request, **fields)

    def _cheapest_units(
        self, request: Request, statuses: list[tuple[UnitStatus, tuple[int, int] | None]], need: int
    ) -> tuple[str, ...] | None:
        """The loans to cancel to free ``need`` more units at least value, if possible."""
        options = []
        for order, (status, _) in enumerate(statuses):
            if status.state not in (UnitState.BUSY, UnitState.TRAVEL):
                continue
            if any(i in self.locked for i in status.request_ids):
                continue
            options.append((sum(self.value(i) for i in status.request_ids), order, status))
        if need <= 0 or len(options) < need:
            return None
        options.sort(key=lambda o: (o[0], o[1]))
        return tuple(
            dict.fromkeys(i for _, _, status in options[:need] for i in status.request_ids)
        )

    def _is_tradeoff(self, request: Request, displaced: tuple[str, ...]) -> bool:
        """Serving it means dropping only lower priorities, but at least as much value.

        This is the case a manager questions ("why them and not us?"); when
        some of the loans to drop have an equal or higher priority, plain
        BUSY says enough.
        """
        by_id = self.problem.request_by_id
        lower = all(i in by_id and by_id[i].priority < request.priority for i in displaced)
        value = sum(self.value(i) for i in displaced)
        return lower and value >= self.problem.value_of(request)

    def pool_reason(
        self,
        request: Request,
        tables: Tables,
        spec: LineSpec,
        d: int,
        kind: ReasonKind,
        others: tuple[str, ...] = (),
        asked: int | None = None,
        may_displace: bool = False,
    ) -> Reason:
        """What holds the pools of the line's type at shift ``d`` (see ``unit_reason``)."""
        a, b = tables.s + d, tables.e + d
        z = b + self.occ.turnaround(spec.type_id)
        pools = self.occ.pools_by_type.get(spec.type_id, [])
        spans = [span for _, profile in pools if (span := profile.peak_span(a, z))]
        hull = (min(x for x, _ in spans), max(y for _, y in spans)) if spans else None
        window = hull or (a, z)
        holders: dict[str, int] = {}
        for _, profile in pools:
            for loan in profile.holders(*window):
                holders[loan.request_id] = holders.get(loan.request_id, 0) + loan.quantity
        blockers = tuple(sorted(holders, key=lambda i: (-holders[i], i)))
        asked = spec.quantity if asked is None else asked
        available = self.occ.pool_free(spec.type_id, a, b)
        fields: dict[str, object] = {
            "kind": kind,
            "type_id": spec.type_id,
            "blocking_ids": blockers,
            "short_by": max(0, asked - available),
            "asked": asked,
            "available": available,
            "stock": self.occ.pool_stock(spec.type_id),
            "types": others,
            "shift_minutes": d,
            "blocking_value": sum(self.value(i) for i in blockers),
            **self._period(hull, a, b),
        }
        if kind is ReasonKind.BUSY and may_displace:
            displaced = self._cheapest_draws(request, pools, a, z, asked)
            if displaced is not None and self._is_tradeoff(request, displaced):
                fields.update(
                    kind=ReasonKind.LOWER_PRIORITY_TRADEOFF,
                    blocking_ids=displaced,
                    blocking_value=sum(self.value(i) for i in displaced),
                    period_start=self.local(a),
                    period_end=self.local(b),
                )
        return self._base(request, **fields)

    def _cheapest_draws(
        self, request: Request, pools: list[tuple[str, PoolProfile]], a: int, z: int, asked: int
    ) -> tuple[str, ...] | None:
        """Loans to cancel, least priority and biggest draws first, until ``asked`` is free."""
        holders = [(pool_id, loan) for pool_id, profile in pools for loan in profile.holders(a, z)]
        quantities = {pool_id: profile.quantity for pool_id, profile in pools}
        order = sorted(
            {loan.request_id: loan for _, loan in holders}.values(),
            key=lambda loan: (loan.priority, -loan.quantity, loan.request_id),
        )
        removed: set[str] = set()
        for loan in [None, *order]:
            if loan is not None:
                if loan.request_id in self.locked:
                    continue
                removed.add(loan.request_id)
            free = sum(
                quantities[pool_id]
                - _peak(
                    [x for p, x in holders if p == pool_id and x.request_id not in removed], a, z
                )
                for pool_id in quantities
            )
            if free >= asked:
                return tuple(sorted(removed)) if removed else None
        return None


def _peak(loans: Sequence[Loan], a: int, z: int) -> int:
    """Most quantity held at once over ``[a, z)`` by ``loans``."""
    events: list[tuple[int, int]] = []
    for loan in loans:
        lo, hi = max(a, loan.start), min(z, loan.busy_until)
        if lo < hi:
            events += [(lo, loan.quantity), (hi, -loan.quantity)]
    level = peak = 0
    for _, delta in sorted(events, key=lambda ev: (ev[0], ev[1])):
        level += delta
        peak = max(peak, level)
    return peak
