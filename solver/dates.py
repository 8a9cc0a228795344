"""Stage one of the optimiser: which requests are served, when, from which pools.

Concrete units are not chosen here. Each unit-tracked type is a cumulative
resource whose capacity is its number of units (minus blackouts), and each
pool a cumulative of its quantity, so identical units bring no symmetry. A
unit's occupation is padded by the longest travel time from the loan's site
to any site of the part: with that padding, loans that fit the cumulative of a
type can always be given distinct units with enough time to travel (interval
graphs are perfect), and only unit-specific blackouts can still need repair
when units are assigned (``solver.units``).

Levels, most important first: served value, requests kept as in ``previous``,
total absolute shift, pool km.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from solver.instance import Instance, ReqData
from solver.lexsolve import Level
from solver.plan import LineAssignment, RequestAssignment


@dataclass
class Dated:
    """A served request as decided by this stage.

    ``unit_types[i]`` maps each unit type to the number of its units serving
    line ``i`` (empty for a pooled line); ``draws[i]`` lists ``(pool, quantity)``
    for a pooled line (empty for a unit-tracked one).
    """

    start: int
    unit_types: list[dict[str, int]] = field(default_factory=list)
    draws: list[list[tuple[str, int]]] = field(default_factory=list)


@dataclass
class _LineVars:
    # Each term is (variable, multiplier): a line with one choice uses
    # (served, quantity), a line split over several uses (count, 1).
    counts: dict[str, tuple[cp_model.IntVar, int]]  # unit type -> units used
    draws: dict[str, tuple[cp_model.IntVar, int]]  # pool id -> quantity drawn
    uses: dict[str, cp_model.IntVar]  # pool id -> 1 when drawn from


@dataclass
class _ReqVars:
    served: cp_model.IntVar
    start: cp_model.IntVar
    lines: list[_LineVars]


class DatesModel:
    """The CP-SAT model of one batch of parts (see module docstring)."""

    def __init__(
        self,
        inst: Instance,
        request_ids: Sequence[str],
        pads: Mapping[str, int],
        fixed: Mapping[str, Dated] | None = None,
    ):
        self.inst = inst
        self.model = cp_model.CpModel()
        self.vars: dict[str, _ReqVars] = {}
        # (interval, demand): the demand is a fixed quantity or a count variable.
        self._unit_intervals: dict[
            str, list[tuple[cp_model.IntervalVar, cp_model.LinearExprT]]
        ] = {}
        self._pool_intervals: dict[
            str, list[tuple[cp_model.IntervalVar, cp_model.LinearExprT]]
        ] = {}
        self.value_terms: list[cp_model.LinearExprT] = []
        self.keep_terms: list[cp_model.IntVar] = []
        self.shift_terms: list[cp_model.IntVar] = []
        self.km_terms: list[cp_model.LinearExprT] = []
        span: list[int | None] = [None, None]  # earliest start, latest end (minutes)
        fixed = fixed or {}
        for rid in [*request_ids, *(r for r in fixed if r not in set(request_ids))]:
            rd = inst.reqs[rid]
            if not rd.servable:
                continue
            self._add_request(rd, 0 if rid in fixed else pads.get(rid, 0))
            if rid in fixed:
                self._fix(rid, fixed[rid])
            end = rd.hi + rd.duration + pads.get(rid, 0) + 10_000
            span[0] = rd.lo if span[0] is None else min(span[0], rd.lo)
            span[1] = end if span[1] is None else max(span[1], end)
        self.span = (span[0] or 0, span[1] or 0)
        self.add_unit_capacity()
        self.add_pool_capacity()
        self.add_keep_previous()

    def _add_request(self, rd: ReqData, pad: int) -> None:
        """Served flag, start, and per line the units or draws it takes."""
        m = self.model
        inst = self.inst
        locked = rd.request.locked
        x = m.new_bool_var(f"x[{rd.id}]")
        s = m.new_int_var(rd.lo, rd.hi, f"s[{rd.id}]")
        if locked is not None:
            m.add(x == 1)
            pad = 0  # locked loans are known to fit as they are
        lines: list[_LineVars] = []
        for index, line in enumerate(rd.request.lines):
            lv = _LineVars({}, {}, {})
            lock = locked.lines[index] if locked is not None else None
            if inst.problem.is_pooled(line.type):
                self._add_pooled_line(rd, line.type, line.quantity, x, s, lv, lock)
            else:
                self._add_unit_line(rd, line.type, line.quantity, x, s, pad, lv, lock)
            lines.append(lv)
        self.vars[rd.id] = _ReqVars(x, s, lines)
        self.value_terms.append(rd.value * x)
        span = max(rd.start - rd.lo, rd.hi - rd.start, 0)
        a = m.new_int_var(0, span, f"shift[{rd.id}]")
        m.add(a >= s - rd.start).OnlyEnforceIf(x)
        m.add(a >= rd.start - s).OnlyEnforceIf(x)
        self.shift_terms.append(a)

    def _fix(self, rid: str, dated: Dated) -> None:
        """Keeps a request served as ``dated`` says (a neighbour outside the window)."""
        m = self.model
        rv = self.vars[rid]
        m.add(rv.served == 1)
        m.add(rv.start == dated.start)
        for lv, counts, draws in zip(rv.lines, dated.unit_types, dated.draws, strict=True):
            for t, (var, mult) in lv.counts.items():
                m.add(mult * var == counts.get(t, 0))
            given = dict(draws)
            for pool_id, (var, mult) in lv.draws.items():
                m.add(mult * var == given.get(pool_id, 0))

    def _add_unit_line(
        self,
        rd: ReqData,
        type_id: str,
        qty: int,
        x: cp_model.IntVar,
        s: cp_model.IntVar,
        pad: int,
        lv: _LineVars,
        lock: LineAssignment | None,
    ) -> None:
        """A line of ``qty`` units split over its eligible types' cumulatives."""
        m = self.model
        types = self.inst.eligible_unit_types(type_id)
        locked_counts: dict[str, int] = {}
        if lock is not None:
            for unit_id in lock.units:
                t = self.inst.problem.unit_by_id[unit_id].type
                locked_counts[t] = locked_counts.get(t, 0) + 1
        if not types or qty > sum(len(self.inst.units_by_type[t]) for t in types):
            m.add(x == 0)
            return
        site = rd.request.site
        for t in types:
            size = rd.duration + self.inst.turnaround(t) + pad
            cap = min(qty, len(self.inst.units_by_type[t]))
            # km of a round trip from the nearest home of the type: direct
            # transfers are left to the units stage, but ties in value and
            # shift already prefer requests close to a depot.
            trip = min(
                self.inst.km100(u.home, site) + self.inst.km100(site, u.home)
                for u in self.inst.units_by_type[t]
            )
            if len(types) == 1:
                interval = m.new_optional_fixed_size_interval_var(s, size, x, f"u[{rd.id},{t}]")
                lv.counts[t] = (x, qty)
                self.km_terms.append(trip * qty * x)
                self._unit_intervals.setdefault(t, []).append((interval, qty))
                continue
            q = m.new_int_var(0, cap, f"q[{rd.id},{t}]")
            p = m.new_bool_var(f"p[{rd.id},{t}]")
            m.add(q <= cap * p)
            m.add(q >= p)
            m.add_implication(p, x)
            interval = m.new_optional_fixed_size_interval_var(s, size, p, f"u[{rd.id},{t}]")
            self._unit_intervals.setdefault(t, []).append((interval, q))
            lv.counts[t] = (q, 1)
            self.km_terms.append(trip * q)
            if lock is not None:
                m.add(q == locked_counts.get(t, 0))
        if len(types) > 1:
            m.add(sum(v for v, _ in lv.counts.values()) == qty * x)

    def _add_pooled_line(
        self,
        rd: ReqData,
        type_id: str,
        qty: int,
        x: cp_model.IntVar,
        s: cp_model.IntVar,
        lv: _LineVars,
        lock: LineAssignment | None,
    ) -> None:
        """A line of ``qty`` items drawn from one or more pools of its type."""
        m = self.model
        inst = self.inst
        pools = inst.pools_by_type.get(type_id, [])
        if not pools or qty > sum(p.quantity for p in pools):
            m.add(x == 0)
            return
        size = rd.duration + inst.turnaround(type_id)
        locked = {d.pool: d.quantity for d in lock.pools} if lock is not None else None
        site = rd.request.site
        for pool in pools:
            km = 2 * inst.km100(pool.site, site)
            if len(pools) == 1:
                interval = m.new_optional_fixed_size_interval_var(
                    s, size, x, f"d[{rd.id},{pool.id}]"
                )
                self._pool_intervals.setdefault(pool.id, []).append((interval, qty))
                lv.draws[pool.id] = (x, qty)
                lv.uses[pool.id] = x
                self.km_terms.append(km * x)
                continue
            cap = min(qty, pool.quantity)
            q = m.new_int_var(0, cap, f"q[{rd.id},{pool.id}]")
            u = m.new_bool_var(f"use[{rd.id},{pool.id}]")
            m.add(q <= cap * u)
            m.add(q >= u)
            m.add_implication(u, x)
            interval = m.new_optional_fixed_size_interval_var(s, size, u, f"d[{rd.id},{pool.id}]")
            self._pool_intervals.setdefault(pool.id, []).append((interval, q))
            lv.draws[pool.id] = (q, 1)
            lv.uses[pool.id] = u
            self.km_terms.append(km * u)
            if locked is not None:
                m.add(q == locked.get(pool.id, 0))
        if len(pools) > 1:
            m.add(sum(v for v, _ in lv.draws.values()) == qty * x)

    def add_unit_capacity(self) -> None:
        """At every instant a type's loans use at most its units not blacked out."""
        m = self.model
        lo, hi = self.span
        for t, items in self._unit_intervals.items():
            intervals = [iv for iv, _ in items]
            demands = [d for _, d in items]
            for unit in self.inst.units_by_type[t]:
                for b0, b1 in self.inst.blackouts[unit.id]:
                    b0, b1 = max(b0, lo), min(b1, hi)
                    if b0 < b1:
                        intervals.append(
                            m.new_fixed_size_interval_var(b0, b1 - b0, f"off[{unit.id}]")
                        )
                        demands.append(1)
            m.add_cumulative(intervals, demands, len(self.inst.units_by_type[t]))

    def add_pool_capacity(self) -> None:
        """At every instant the draws on a pool sum to at most its quantity."""
        for pool_id, items in self._pool_intervals.items():
            quantity = self.inst.problem.pool_by_id[pool_id].quantity
            if sum(d if isinstance(d, int) else quantity for _, d in items) <= quantity:
                continue
            self.model.add_cumulative([iv for iv, _ in items], [d for _, d in items], quantity)

    def add_keep_previous(self) -> None:
        """Rewards serving a previously served request at the same time and sources."""
        m = self.model
        inst = self.inst
        for rid, rv in self.vars.items():
            prev = inst.previous.get(rid)
            if prev is None or prev.start is None or inst.is_locked(rid):
                continue
            rd = inst.reqs[rid]
            start = inst.timebase.to_minutes(prev.start)
            if not rd.lo <= start <= rd.hi or len(prev.lines) != len(rd.request.lines):
                continue
            k = m.new_bool_var(f"keep[{rid}]")
            m.add_implication(k, rv.served)
            m.add(rv.start == start).OnlyEnforceIf(k)
            ok = True
            for lv, pl in zip(rv.lines, prev.lines, strict=True):
                if lv.counts:
                    counts: dict[str, int] = {}
                    for unit_id in pl.units:
                        unit = inst.problem.unit_by_id.get(unit_id)
                        t = unit.type if unit is not None else "?"
                        counts[t] = counts.get(t, 0) + 1
                    if not set(counts) <= set(lv.counts):
                        ok = False
                        break
                    for t, (var, mult) in lv.counts.items():
                        m.add(mult * var == counts.get(t, 0)).OnlyEnforceIf(k)
                elif lv.draws:
                    draws = {d.pool: d.quantity for d in pl.pools}
                    if not set(draws) <= set(lv.draws):
                        ok = False
                        break
                    # ``changed`` compares which pools are drawn from, not quantities.
                    for pool_id, (_, mult) in lv.draws.items():
                        if mult == 1:
                            m.add(lv.uses[pool_id] == int(pool_id in draws)).OnlyEnforceIf(k)
            if not ok:
                m.add(k == 0)
            self.keep_terms.append(k)

    def hint(self, assignments: Mapping[str, RequestAssignment]) -> None:
        """Hints served flags, starts, type counts and draws from earlier plans."""
        m = self.model
        inst = self.inst
        for rid, rv in self.vars.items():
            a = assignments.get(rid)
            if a is None or not a.served or a.start is None:
                m.add_hint(rv.served, 0)
                continue
            start = inst.timebase.to_minutes(a.start)
            rd = inst.reqs[rid]
            if not rd.lo <= start <= rd.hi or len(a.lines) != len(rv.lines):
                continue
            m.add_hint(rv.served, 1)
            m.add_hint(rv.start, start)
            for lv, la in zip(rv.lines, a.lines, strict=True):
                counts: dict[str, int] = {}
                for unit_id in la.units:
                    unit = inst.problem.unit_by_id.get(unit_id)
                    if unit is not None:
                        counts[unit.type] = counts.get(unit.type, 0) + 1
                own = rv.served.Index()
                for t, (var, _) in lv.counts.items():
                    if var.Index() != own:
                        m.add_hint(var, counts.get(t, 0))
                draws = {d.pool: d.quantity for d in la.pools}
                for pool_id, (var, _) in lv.draws.items():
                    if var.Index() != own:
                        m.add_hint(var, draws.get(pool_id, 0))
                        m.add_hint(lv.uses[pool_id], int(draws.get(pool_id, 0) > 0))

    def hint_dated(self, current: Mapping[str, Dated]) -> None:
        """Hints the current solution of these requests (absent ones unserved)."""
        m = self.model
        for rid, rv in self.vars.items():
            dated = current.get(rid)
            m.add_hint(rv.served, int(dated is not None))
            if dated is None:
                continue
            m.add_hint(rv.start, dated.start)
            own = rv.served.Index()
            for lv, counts, draws in zip(rv.lines, dated.unit_types, dated.draws, strict=True):
                for t, (var, _) in lv.counts.items():
                    if var.Index() != own:
                        m.add_hint(var, counts.get(t, 0))
                given = dict(draws)
                for pool_id, (var, _) in lv.draws.items():
                    if var.Index() != own:
                        m.add_hint(var, given.get(pool_id, 0))
                        m.add_hint(lv.uses[pool_id], int(given.get(pool_id, 0) > 0))

    def levels(self) -> list[Level]:
        levels = [Level("value", sum(self.value_terms), True, 0.45)]
        if self.keep_terms:
            levels.append(Level("kept", sum(self.keep_terms), True, 0.1))
        levels.append(Level("shift", sum(self.shift_terms), False, 0.35))
        if self.km_terms:
            levels.append(Level("km", sum(self.km_terms), False, 0.1))
        return levels

    def read(self, values: Sequence[int]) -> dict[str, Dated]:
        """The served requests of a solution (values of all model variables)."""

        def val(term: tuple[cp_model.IntVar, int]) -> int:
            return term[1] * values[term[0].Index()]

        out: dict[str, Dated] = {}
        for rid, rv in self.vars.items():
            if not values[rv.served.Index()]:
                continue
            dated = Dated(values[rv.start.Index()])
            for lv in rv.lines:
                dated.unit_types.append({t: val(e) for t, e in lv.counts.items() if val(e) > 0})
                dated.draws.append([(p, val(e)) for p, e in lv.draws.items() if val(e) > 0])
            out[rid] = dated
        return out
