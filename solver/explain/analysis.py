"""The direct capacity analysis behind ``solver.explain``.

For one unserved request, with the plan's served loans fixed, it computes the
set of shifts (integer minutes, inside the window and the horizon) at which
each eligible unit is free, in three layers: blackouts only, then loans too,
then travel too, and the quantity left in each pooled type at every shift.
A line that fits at no shift on its own is named, with the first layer that
rules it out (MAINTENANCE, BUSY, TRAVEL); when every line fits on its own but
no shift suits them all, the lines conflict together (COMBINATION) and the
candidate tables are handed to ``solver.explain.core``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from solver.explain.details import Describer, LineSpec, Tables, max_matching
from solver.explain.index import Spans, StateCode
from solver.explain.reason import Reason, ReasonKind
from solver.explain.spans import (
    Steps,
    at_least,
    best_shift,
    closest,
    coverage,
    intersect,
    value_at,
)
from solver.problem import Request


class Analyser(Describer):
    """Diagnoses unserved requests against one plan's occupation."""

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
            return self.pool_reason(
                request,
                tables,
                spec,
                d,
                ReasonKind.BUSY,
                others,
                may_displace=self.others_fit(tables, spec, d),
            )
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
        return self.unit_reason(
            request, tables, [spec], d, kind, others, may_displace=self.others_fit(tables, spec, d)
        )

    def others_fit(self, tables: Tables, spec: LineSpec, d: int) -> bool:
        """Whether every line but ``spec`` fits at shift ``d``, each on its own."""
        return all(
            value_at(self.line_steps(tables, other), d) >= other.quantity
            for other in tables.lines
            if other is not spec
        )

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
