"""The direct capacity analysis behind ``solver.explain``.

For one unserved request, with the plan's served loans fixed, it tries every
shift that matters (the window bounds and the instants where an occupation of
an eligible unit or pool begins or ends, moved by turnaround and travel) and
finds which line cannot be served, and why. The answer of each unit is one of
``StateCode``; a line alone is tested in three layers (blackouts only, then
loans, then travel) so that the reason names the first rule that rules it out.
Integer minutes since ``horizon.start`` throughout.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from solver.explain_index import Loan, Occupancy, Spans, StateCode
from solver.explain_reason import Reason, ReasonKind, UnitState, UnitStatus
from solver.explain_spans import (
    Steps,
    at_least,
    best_shift,
    closest,
    coverage,
    intersect,
)
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


class Analyser:
    """Diagnoses unserved requests against one plan's occupation."""

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

    # -- structure ----------------------------------------------------------

    def line_specs(self, request: Request) -> list[LineSpec]:
        specs = []
        for index, line in enumerate(request.lines):
            if self.problem.is_pooled(line.type):
                specs.append(LineSpec(index, line.type, line.quantity, pooled=True))
                continue
            kind = self.problem.type_by_id.get(line.type)
            subs = tuple(t for t in (kind.substitutes if kind else ()) if t != line.type)
            units = [
                c.unit.id for t in (line.type, *subs) for c in self.occ.units_by_type.get(t, [])
            ]
            with_units = tuple(t for t in subs if self.occ.units_by_type.get(t))
            specs.append(LineSpec(index, line.type, line.quantity, False, units, with_units))
        return specs

    def structural(self, request: Request, specs: list[LineSpec]) -> Reason | None:
        """NO_SUCH_EQUIPMENT or EXCEEDS_STOCK, whatever the time."""
        for spec in specs:
            if (spec.pooled and self.occ.pool_stock(spec.type_id) == 0) or (
                not spec.pooled and not spec.units
            ):
                return self._base(
                    request,
                    kind=ReasonKind.NO_SUCH_EQUIPMENT,
                    type_id=spec.type_id,
                    asked=spec.quantity,
                    short_by=spec.quantity,
                )
        for type_id, asked in self._pooled_demand(specs).items():
            stock = self.occ.pool_stock(type_id)
            if asked > stock:
                return self._base(
                    request,
                    kind=ReasonKind.EXCEEDS_STOCK,
                    type_id=type_id,
                    asked=asked,
                    stock=stock,
                    available=stock,
                    short_by=asked - stock,
                )
        unit_specs = [s for s in specs if not s.pooled]
        for spec in unit_specs:
            if spec.quantity > len(spec.units):
                return self._exceeds_units(request, [spec])
        demands = [(s.quantity, s.units) for s in unit_specs]
        if max_matching(demands, lambda _unit: True) < sum(s.quantity for s in unit_specs):
            return self._exceeds_units(request, unit_specs)
        return None

    def _exceeds_units(self, request: Request, specs: list[LineSpec]) -> Reason:
        units = {u for s in specs for u in s.units}
        asked = sum(s.quantity for s in specs)
        subs = tuple(dict.fromkeys(t for s in specs for t in s.substitutes))
        return self._base(
            request,
            kind=ReasonKind.EXCEEDS_STOCK,
            type_id=specs[0].type_id,
            asked=asked,
            stock=len(units),
            available=len(units),
            short_by=asked - len(units),
            substitutes_tried=subs,
            types=tuple(dict.fromkeys(s.type_id for s in specs[1:])),
        )

    @staticmethod
    def _pooled_demand(specs: Sequence[LineSpec]) -> dict[str, int]:
        demand: dict[str, int] = {}
        for spec in specs:
            if spec.pooled:
                demand[spec.type_id] = demand.get(spec.type_id, 0) + spec.quantity
        return demand

    # -- shift sets -----------------------------------------------------------

    def window(self, request: Request, specs: list[LineSpec]) -> Tables:
        """The allowed shifts (window and horizon); ``lo > hi`` when there is none."""
        s, e = self.tb.to_minutes(request.start), self.tb.to_minutes(request.end)
        lo = max(self.tb.to_minutes(request.earliest_start) - s, -s)
        hi = min(self.tb.to_minutes(request.latest_end) - e, self.horizon_end - e)
        return Tables(request, s, e, lo, hi, specs)

    def unit_spans(self, tables: Tables, unit_id: str) -> tuple[Spans, Spans, Spans]:
        spans = tables.free_spans.get(unit_id)
        if spans is None:
            calendar = self.occ.units[unit_id]
            spans = calendar.free_shifts(
                tables.s, tables.e, tables.request.site, tables.lo, tables.hi, self.occ.travel
            )
            tables.free_spans[unit_id] = spans
        return spans

    def unit_steps(self, tables: Tables, spec: LineSpec, layer: int) -> Steps:
        """How many of the line's eligible units are free at each shift."""
        lists = [self.unit_spans(tables, u)[layer] for u in spec.units]
        return coverage(lists, tables.lo, tables.hi)

    def pool_steps(self, tables: Tables, type_id: str) -> Steps:
        """Quantity of ``type_id`` left in all its pools at each shift.

        A stretch ``[t_j, t_j+1)`` of a pool's profile meets the occupation
        exactly for ``d`` in ``[t_j - e - turnaround + 1, t_j+1 - s - 1]``, so
        the quantity left only changes at shifts ``t - e - turnaround + 1``
        and ``t - s``: one look-up per piece.
        """
        steps = tables.pool_steps.get(type_id)
        if steps is not None:
            return steps
        s, e, lo, hi = tables.s, tables.e, tables.lo, tables.hi
        tail = e + self.occ.turnaround(type_id)
        points = {lo}
        for _, profile in self.occ.pools_by_type.get(type_id, ()):
            times = profile.times
            first, last = bisect_right(times, s + lo), bisect_right(times, s + hi)
            points.update(t - s for t in times[first:last])
            first, last = bisect_right(times, tail + lo - 1), bisect_right(times, tail + hi - 1)
            points.update(t - tail + 1 for t in times[first:last])
        ordered = sorted(points)
        steps = [
            (
                d,
                ordered[i + 1] - 1 if i + 1 < len(ordered) else hi,
                self.occ.pool_free(type_id, s + d, e + d),
            )
            for i, d in enumerate(ordered)
        ]
        tables.pool_steps[type_id] = steps
        return steps

    def line_steps(self, tables: Tables, spec: LineSpec, layer: int = 2) -> Steps:
        if spec.pooled:
            return self.pool_steps(tables, spec.type_id)
        return self.unit_steps(tables, spec, layer)

    def fill_candidates(self, tables: Tables) -> Tables:
        """Every resource's answer at every shift where one of them may change.

        A set of shifts where the whole request fits is a union of spans whose
        first shifts are first shifts of some unit's or pool's spans, so these
        candidates are enough to decide it, and to search for a conflict.
        """
        if tables.shifts:
            return tables
        specs = tables.lines
        points = {tables.lo}
        unit_ids = list(dict.fromkeys(u for spec in specs for u in spec.units))
        for unit_id in unit_ids:
            points.update(first for first, _ in self.unit_spans(tables, unit_id)[2])
        for type_id in self._pooled_demand(specs):
            points.update(first for first, _, _ in self.pool_steps(tables, type_id))
        tables.shifts = sorted(points)
        s, e, site, travel = tables.s, tables.e, tables.request.site, self.occ.travel
        for unit_id in unit_ids:
            calendar = self.occ.units[unit_id]
            tables.codes[unit_id] = [
                calendar.state(s + d, e + d, site, travel) for d in tables.shifts
            ]
        for type_id in self._pooled_demand(specs):
            tables.pool_free[type_id] = [
                self.occ.pool_free(type_id, s + d, e + d) for d in tables.shifts
            ]
        return tables

    def deficit(self, tables: Tables, specs: Sequence[LineSpec], c: int) -> int:
        """Units or quantity missing for ``specs`` all together at candidate ``c``."""
        missing = 0
        for type_id, asked in self._pooled_demand(specs).items():
            missing += max(0, asked - tables.pool_free[type_id][c])
        unit_specs = [s for s in specs if not s.pooled]
        if unit_specs:
            demands = [(s.quantity, s.units) for s in unit_specs]
            filled = max_matching(demands, lambda u: tables.codes[u][c] == StateCode.FREE)
            missing += sum(s.quantity for s in unit_specs) - filled
        return missing

    # -- the diagnosis ------------------------------------------------------

    def diagnose(self, request: Request) -> tuple[Reason, Tables | None]:
        """The reason, and the tables when the lines conflict only together."""
        specs = self.line_specs(request)
        reason = self.structural(request, specs)
        if reason is not None:
            return reason, None
        tables = self.window(request, specs)
        if tables.lo > tables.hi:
            return self._base(
                request,
                kind=ReasonKind.OUTSIDE_HORIZON,
                type_id=None,
                period_start=request.start.astimezone(self.tz),
                period_end=request.end.astimezone(self.tz),
            ), None
        alone = [at_least(self.line_steps(tables, spec), spec.quantity) for spec in specs]
        failing = [spec for spec, spans in zip(specs, alone, strict=True) if not spans]
        if failing:
            spec = failing[0]
            others = tuple(
                dict.fromkeys(f.type_id for f in failing[1:] if f.type_id != spec.type_id)
            )
            return self.single_line(request, tables, spec, others), None
        together: Spans = [(tables.lo, tables.hi)]
        for spans in alone:
            together = intersect(together, spans)
        for type_id, asked in self._pooled_demand(specs).items():
            together = intersect(together, at_least(self.pool_steps(tables, type_id), asked))
        unit_specs = [spec for spec in specs if not spec.pooled]
        shared = sum(len(spec.units) for spec in unit_specs) > len(
            {u for spec in unit_specs for u in spec.units}
        )
        if together and not shared:
            return self.not_selected(request, tables, closest(together)), None
        self.fill_candidates(tables)
        if together:
            inside = [
                c
                for c, d in enumerate(tables.shifts)
                if any(first <= d <= last for first, last in together)
                and self.deficit(tables, specs, c) == 0
            ]
            if inside:
                d = min((tables.shifts[c] for c in inside), key=lambda d: (abs(d), d))
                return self.not_selected(request, tables, d), None
        return self.combination(request, tables, specs, specs), tables

    def not_selected(self, request: Request, tables: Tables, d: int) -> Reason:
        return self._base(
            request,
            kind=ReasonKind.NOT_SELECTED,
            type_id=None,
            shift_minutes=d,
            period_start=self.local(tables.s + d),
            period_end=self.local(tables.e + d),
        )

    def single_line(
        self, request: Request, tables: Tables, spec: LineSpec, others: tuple[str, ...]
    ) -> Reason:
        """The reason for one line that fits at no shift even on its own."""
        if spec.pooled:
            d = best_shift([self.pool_steps(tables, spec.type_id)], lambda v: v)
            return self.pool_reason(request, tables, spec, d, ReasonKind.BUSY, others)
        q = spec.quantity
        layers = [self.unit_steps(tables, spec, layer) for layer in range(3)]
        if max(v for _, _, v in layers[0]) < q:
            kind = ReasonKind.MAINTENANCE
            d = best_shift([layers[0], layers[2]], lambda v: v)
        elif max(v for _, _, v in layers[1]) < q:
            kind = ReasonKind.BUSY
            d = best_shift([layers[1], layers[2]], lambda v: v)
        else:
            kind = ReasonKind.TRAVEL
            d = best_shift([layers[2], layers[1]], lambda v: (v[0], min(v[1], q)))
        return self.unit_reason(request, tables, [spec], d, kind, others)

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
    ) -> Reason:
        """What the eligible units of ``specs`` are doing at shift ``d``."""
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
        if kind is ReasonKind.BUSY:
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
        self, request: Request, statuses: list[tuple[UnitStatus, object]], need: int
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
    ) -> Reason:
        """What holds the pools of the line's type at shift ``d``."""
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
        if kind is ReasonKind.BUSY:
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
        self, request: Request, pools: list[tuple[str, object]], a: int, z: int, asked: int
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

    def combination(
        self, request: Request, tables: Tables, specs: Sequence[LineSpec], core: Sequence[LineSpec]
    ) -> Reason:
        """Each line of ``core`` fits alone at some shift, never all together."""
        n = len(tables.shifts)
        c = min(range(n), key=lambda c: (self.deficit(tables, core, c), *tables.order(c)))
        d = tables.shifts[c]
        types = tuple(dict.fromkeys(spec.type_id for spec in core))
        for type_id, asked in self._pooled_demand(core).items():
            if tables.pool_free[type_id][c] < asked:
                spec = next(s for s in core if s.type_id == type_id)
                reason = self.pool_reason(
                    request, tables, spec, d, ReasonKind.COMBINATION, types, asked
                )
                return reason
        unit_specs = [s for s in core if not s.pooled] or [s for s in specs if not s.pooled]
        return self.unit_reason(request, tables, unit_specs, d, ReasonKind.COMBINATION, types)


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
