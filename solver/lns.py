"""Large-neighbourhood search with CP-SAT on a valid plan.

The staged optimiser (:mod:`solver.cpsat`) decides dates, units and draws one
after the other; each stage fixes what the one before chose. This search takes
its plan and re-optimises small neighbourhoods of it with everything at once:
which requests are served, when, on which units and from which pools.

A neighbourhood is a seed request and the requests of its type group
(:mod:`solver.decompose`) whose windows meet the seed's, nearest the seed's
site first: a time window by a region by a type group. Seeds are drawn, with
weights that adapt to what paid off, from the unserved requests (value), the
most shifted ones (shift), the ones served farthest from home (km), the
longest legs of the units that drive the most (itinerary), the changed ones
(``changed``) or at random; the last ``SETTLE_SHARE`` of the time goes to the
kinds that keep who is served (shift, km, itinerary), so the lower levels get
iterations after value. The neighbourhood's size adapts to the
solver: it grows while CP-SAT proves its levels in the time given and shrinks
when it does not.

The model of a neighbourhood is exact for every rule of the spec, so its
solution is a valid plan: every other served request is fixed and seen
through the units and pools it holds; a free line's unit literal carries the
starts that fit between that unit's fixed loans (turnaround and travel
included) and its blackouts, two free loans on one unit are ordered with
travel time, and free draws share each pool's cumulative with the fixed
ones. Its levels are the plan's: served value, kept from ``previous``,
shift, and km (units counted by insertion between their fixed loans, draws
exactly). The result is measured exactly (value, changed, shift, and km by
:mod:`solver.itinerary`'s rule on the units it touches), checked against the
plan's occupations, and kept only when the plan's lexicographic objective is
no worse, so the search only ever improves the plan and can stop at any
moment with a valid one.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from solver.check import assignment_changed
from solver.decompose import type_groups
from solver.instance import Instance, ReqData
from solver.itinerary import unit_itinerary_km
from solver.lexsolve import Level, solve_levels
from solver.options import SolveOptions
from solver.plan import Draw, LineAssignment, RequestAssignment

logger = logging.getLogger(__name__)

Key = tuple[float, float, float, float]  # (-value, changed, shift, km): smaller is better
KINDS = ("value", "shift", "km", "itinerary", "changed", "random")
MIN_SIZE = 8
MAX_SIZE = 400
START_SIZE = 40
SECONDS = 0.6  # per neighbourhood, all levels
SETTLED = ("shift", "km", "itinerary")  # keep the served requests, re-time or re-route them
SETTLE_SHARE = 0.3  # last part of the search's time, for settled neighbourhoods only
COSTLY_UNITS = 8  # units with the longest itineraries, seeds of "itinerary" neighbourhoods
UNIT_CANDIDATES = 6  # units offered to a free line besides its current ones
DAY = 24 * 60


@dataclass(frozen=True)
class UnitLoanRef:
    """One unit's loan in the plan, in minutes."""

    start: int
    end: int
    site: str
    request: str


@dataclass
class LnsStats:
    """What the search did, for logs and tests."""

    iterations: int = 0
    improved: int = 0
    rejected: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    size: int = START_SIZE


class PlanState:
    """A valid plan with its occupations and exact objective, updated in place."""

    def __init__(self, inst: Instance, assignments: Sequence[RequestAssignment]) -> None:
        self.inst = inst
        self.problem = inst.problem
        self.by_id: dict[str, RequestAssignment] = {}
        self.unit_loans: dict[str, list[UnitLoanRef]] = {u.id: [] for u in self.problem.units}
        self.unit_starts: dict[str, list[int]] = {u.id: [] for u in self.problem.units}
        self.pool_draws: dict[str, dict[str, tuple[int, int, int]]] = {
            p.id: {} for p in self.problem.pools
        }
        self.value = 0
        self.changed = 0
        self.shift = 0
        self.pool_km = 0.0
        self.unit_km: dict[str, float] = {}
        self.longest = max((rd.duration for rd in inst.reqs.values()), default=0)
        self.changed = len(inst.previous)  # each counts until served as before
        for a in assignments:
            if a.served and a.start is not None:
                self._add(a)
        for unit in self.problem.units:
            self.unit_km[unit.id] = self._itinerary(unit.id)

    # -- exact objective ------------------------------------------------------

    def key(self) -> Key:
        km = self.pool_km + sum(self.unit_km.values())
        return (-float(self.value), float(self.changed), float(self.shift), km)

    def start_of(self, a: RequestAssignment) -> int:
        return self.inst.timebase.to_minutes(a.start)  # type: ignore[arg-type]

    def _itinerary(self, unit_id: str) -> float:
        loans = self.unit_loans[unit_id]
        if not loans:
            return 0.0
        unit = self.problem.unit_by_id[unit_id]
        return unit_itinerary_km(
            self.problem, self.inst.travel, unit, [(ln.start, ln.end, ln.site) for ln in loans]
        )

    def _changed(self, rid: str, a: RequestAssignment | None) -> int:
        prev = self.inst.previous.get(rid)
        return int(prev is not None and assignment_changed(prev, a))

    def _add(self, a: RequestAssignment) -> None:
        rd = self.inst.reqs[a.id]
        start = self.start_of(a)
        end = start + rd.duration
        site = rd.request.site
        self.by_id[a.id] = a
        self.value += rd.value
        self.shift += abs(start - rd.start)
        self.changed += self._changed(a.id, a) - self._changed(a.id, None)
        for line, la in zip(rd.request.lines, a.lines, strict=True):
            for unit_id in la.units:
                index = bisect.bisect_right(self.unit_starts[unit_id], start)
                self.unit_starts[unit_id].insert(index, start)
                self.unit_loans[unit_id].insert(index, UnitLoanRef(start, end, site, a.id))
            until = end + self.inst.turnaround(line.type)
            for d in la.pools:
                self.pool_draws[d.pool][a.id] = (start, until, d.quantity)
                self.pool_km += 2 * self.inst.travel.km(self.problem.pool_by_id[d.pool].site, site)

    def _remove(self, rid: str) -> RequestAssignment:
        a = self.by_id.pop(rid)
        rd = self.inst.reqs[rid]
        start = self.start_of(a)
        site = rd.request.site
        self.value -= rd.value
        self.shift -= abs(start - rd.start)
        self.changed += self._changed(rid, None) - self._changed(rid, a)
        for la in a.lines:
            for unit_id in la.units:
                loans = self.unit_loans[unit_id]
                index = bisect.bisect_left(self.unit_starts[unit_id], start)
                while loans[index].request != rid:
                    index += 1
                del loans[index], self.unit_starts[unit_id][index]
            for d in la.pools:
                del self.pool_draws[d.pool][rid]
                self.pool_km -= 2 * self.inst.travel.km(self.problem.pool_by_id[d.pool].site, site)
        return a

    def replace(
        self, old: Sequence[str], new: Sequence[RequestAssignment]
    ) -> tuple[list[RequestAssignment], set[str]]:
        """Takes ``old`` out and puts ``new`` in; returns what was taken and the units touched."""
        taken = [self._remove(rid) for rid in old if rid in self.by_id]
        touched = {u for a in [*taken, *new] for la in a.lines for u in la.units}
        for a in new:
            self._add(a)
        for unit_id in touched:
            self.unit_km[unit_id] = self._itinerary(unit_id)
        return taken, touched

    # -- occupations ------------------------------------------------------------

    def loans_near(self, unit_id: str, first: int, last: int) -> list[UnitLoanRef]:
        """The unit's loans that may reach into ``[first, last)``."""
        starts = self.unit_starts[unit_id]
        low = bisect.bisect_left(starts, first - self.longest - DAY)
        high = bisect.bisect_left(starts, last)
        return [ln for ln in self.unit_loans[unit_id][low:high] if ln.end + DAY > first]

    def valid_units(self, unit_ids: set[str]) -> bool:
        """Whether the loans of these units keep turnaround, travel and blackouts."""
        inst = self.inst
        for unit_id in unit_ids:
            unit = self.problem.unit_by_id[unit_id]
            ta = inst.turnaround(unit.type)
            loans = self.unit_loans[unit_id]
            for a, b in itertools.pairwise(loans):
                if a.end + ta + inst.travel.minutes(a.site, b.site) > b.start:
                    return False
            blackouts = inst.blackouts[unit_id]
            for ln in loans:
                if any(b0 < ln.end + ta and ln.start < b1 for b0, b1 in blackouts):
                    return False
        return True

    def valid_pools(self, pool_ids: set[str], first: int, last: int) -> bool:
        """Whether the draws on these pools fit their quantities over ``[first, last)``."""
        for pool_id in pool_ids:
            quantity = self.problem.pool_by_id[pool_id].quantity
            draws = [d for d in self.pool_draws[pool_id].values() if d[0] < last and d[1] > first]
            for t in {d[0] for d in draws}:
                if sum(q for s, u, q in draws if s <= t < u) > quantity:
                    return False
        return True

    def assignments(self) -> list[RequestAssignment]:
        return list(self.by_id.values())


class NeighbourhoodModel:
    """The exact CP-SAT model of a neighbourhood of free requests (module docstring)."""

    def __init__(self, state: PlanState, free: Sequence[str], settled: bool = False) -> None:
        """Builds the model; ``settled`` keeps the served free requests served and no others."""
        self.state = state
        inst = self.inst = state.inst
        self.free = [r for r in free if inst.reqs[r].servable and not inst.is_locked(r)]
        free_set = set(self.free)
        m = self.model = cp_model.CpModel()
        self.x: dict[str, cp_model.IntVar] = {}
        self.s: dict[str, cp_model.IntVar] = {}
        self.unit_lits: dict[tuple[str, int], dict[str, cp_model.IntVar]] = {}
        self.pool_qty: dict[
            tuple[str, int], dict[str, tuple[cp_model.IntVar, cp_model.IntVar]]
        ] = {}
        value_terms: list[cp_model.LinearExprT] = []
        shift_terms: list[cp_model.LinearExprT] = []
        km_terms: list[cp_model.LinearExprT] = []
        keep_terms: list[cp_model.LinearExprT] = []
        self.first = min((inst.reqs[r].lo for r in self.free), default=0)
        self.last = max((inst.reqs[r].hi + inst.reqs[r].duration for r in self.free), default=0)
        per_unit: dict[str, list[tuple[str, int, cp_model.IntVar]]] = {}
        pool_items: dict[str, list[tuple[cp_model.IntervalVar, cp_model.LinearExprT]]] = {}
        for rid in self.free:
            rd = inst.reqs[rid]
            x = self.x[rid] = m.new_bool_var("")
            if settled:
                m.add(x == int(rid in state.by_id))
            s = self.s[rid] = m.new_int_var(rd.lo, rd.hi, "")
            value_terms.append(rd.value * x)
            spread = max(rd.start - rd.lo, rd.hi - rd.start, 0)
            if spread:
                a = m.new_int_var(0, spread, "")
                m.add(a >= s - rd.start).only_enforce_if(x)
                m.add(a >= rd.start - s).only_enforce_if(x)
                shift_terms.append(a)
            current = state.by_id.get(rid)
            for index, line in enumerate(rd.request.lines):
                if inst.problem.is_pooled(line.type):
                    km_terms.extend(self._pooled(rd, index, line.type, line.quantity, pool_items))
                    continue
                now = current.lines[index].units if current is not None else ()
                lits = self._unit_line(rd, index, line.type, now, free_set)
                if len(lits) < line.quantity:
                    m.add(x == 0)
                for unit_id, (lit, cost) in lits.items():
                    m.add_implication(lit, x)
                    per_unit.setdefault(unit_id, []).append((rid, index, lit))
                    km_terms.append(cost * lit)
                m.add(sum(lit for lit, _ in lits.values()) == line.quantity * x)
                self.unit_lits[(rid, index)] = {u: lit for u, (lit, _) in lits.items()}
            keep = self._keep(rid)
            if keep is not None:
                keep_terms.append(keep)
        for unit_id, items in per_unit.items():
            self._order_free(unit_id, items)
        self._pool_capacity(pool_items, free_set)
        self.levels = [] if settled else [Level("value", sum(value_terms), True, 0.4)]
        if keep_terms:
            self.levels.append(Level("kept", sum(keep_terms), True, 0.1))
        self.levels.append(Level("shift", sum(shift_terms), False, 0.3))
        self.levels.append(Level("km", sum(km_terms), False, 0.2))

    # -- units ------------------------------------------------------------------

    def _allowed(self, rd: ReqData, unit_id: str, free: set[str]) -> list[tuple[int, int]]:
        """Starts of ``rd`` that fit the unit's fixed loans and blackouts."""
        inst = self.inst
        ta = inst.turnaround(inst.problem.unit_by_id[unit_id].type)
        site = rd.request.site
        d = rd.duration
        cuts: list[tuple[int, int]] = []
        for b0, b1 in inst.blackouts[unit_id]:
            cuts.append((b0 - d - ta + 1, b1 - 1))
        for ln in self.state.loans_near(unit_id, rd.lo, rd.hi + d + ta + DAY):
            if ln.request in free:
                continue
            there = inst.travel.minutes(site, ln.site)
            back = inst.travel.minutes(ln.site, site)
            cuts.append((ln.start - ta - there - d + 1, ln.end + ta + back - 1))
        allowed: list[tuple[int, int]] = []
        position = rd.lo
        for a, b in sorted(cuts):
            if b < position:
                continue
            if a > position:
                allowed.append((position, min(a - 1, rd.hi)))
            position = max(position, b + 1)
            if position > rd.hi:
                break
        if position <= rd.hi:
            allowed.append((position, rd.hi))
        return [(a, b) for a, b in allowed if a <= b]

    def _insertion_km(self, unit_id: str, rd: ReqData, start: int, free: set[str]) -> int:
        """km100 the unit drives more with this loan at ``start`` among its fixed loans."""
        inst = self.inst
        unit = inst.problem.unit_by_id[unit_id]
        ta = inst.turnaround(unit.type)
        limit = inst.direct_limit(unit.type)
        loans = self.state.unit_loans[unit_id]
        index = bisect.bisect_right(self.state.unit_starts[unit_id], start)
        j = index - 1
        while j >= 0 and loans[j].request in free:
            j -= 1
        k = index
        while k < len(loans) and loans[k].request in free:
            k += 1
        before = loans[j] if j >= 0 else None
        after = loans[k] if k < len(loans) else None
        end = start + rd.duration
        site = rd.request.site
        km = inst.km100
        home = unit.home

        def leg(a_site: str, a_end: int, b_site: str, b_start: int) -> int:
            if b_start - (a_end + ta) <= limit:
                return km(a_site, b_site)
            return km(a_site, home) + km(home, b_site)

        cost = leg(before.site, before.end, site, start) if before else km(home, site)
        cost += leg(site, end, after.site, after.start) if after else km(site, home)
        if before and after:
            cost -= leg(before.site, before.end, after.site, after.start)
        elif before:
            cost -= km(before.site, home)
        elif after:
            cost -= km(home, after.site)
        return cost

    def _unit_line(
        self, rd: ReqData, index: int, type_id: str, now: tuple[str, ...], free: set[str]
    ) -> dict[str, tuple[cp_model.IntVar, int]]:
        """A literal per candidate unit of the line, with its start domain and km."""
        inst = self.inst
        m = self.model
        current = self.state.by_id.get(rd.id)
        at = self.state.start_of(current) if current is not None else rd.start
        options: list[tuple[int, str, list[tuple[int, int]]]] = []
        for t in inst.eligible_unit_types(type_id):
            for unit in inst.units_by_type[t]:
                allowed = self._allowed(rd, unit.id, free)
                if allowed:
                    cost = self._insertion_km(unit.id, rd, at, free)
                    options.append((cost, unit.id, allowed))
        options.sort()
        keep = set(now)
        chosen = [o for o in options if o[1] in keep]
        chosen += [o for o in options if o[1] not in keep][:UNIT_CANDIDATES]
        out: dict[str, tuple[cp_model.IntVar, int]] = {}
        for cost, unit_id, allowed in chosen:
            lit = m.new_bool_var("")
            if not (len(allowed) == 1 and allowed[0] == (rd.lo, rd.hi)):
                domain = cp_model.Domain.from_intervals([list(iv) for iv in allowed])
                m.add_linear_expression_in_domain(self.s[rd.id], domain).only_enforce_if(lit)
            out[unit_id] = (lit, cost)
        return out

    def _order_free(self, unit_id: str, items: list[tuple[str, int, cp_model.IntVar]]) -> None:
        """Two free loans on one unit: never the same request, else one after the other.

        A no-overlap of the unit's occupations (free ones optional, fixed ones
        nearby) is implied, travel aside, but it lets CP-SAT reason on the
        unit as a whole and prove neighbourhoods far larger.
        """
        inst = self.inst
        m = self.model
        ta = inst.turnaround(inst.problem.unit_by_id[unit_id].type)
        if len(items) > 1:
            intervals = [
                m.new_optional_fixed_size_interval_var(
                    self.s[r], inst.reqs[r].duration + ta, lit, ""
                )
                for r, _, lit in items
            ]
            free = {r for r, _, _ in items}
            first = min(inst.reqs[r].lo for r in free)
            last = max(inst.reqs[r].hi + inst.reqs[r].duration + ta for r in free)
            for ln in self.state.loans_near(unit_id, first, last):
                if ln.request not in self.x and ln.end + ta > first and ln.start < last:
                    intervals.append(
                        m.new_fixed_size_interval_var(ln.start, ln.end + ta - ln.start, "")
                    )
            m.add_no_overlap(intervals)
        for i, (r1, _, a1) in enumerate(items):
            d1 = inst.reqs[r1]
            for r2, _, a2 in items[i + 1 :]:
                if r1 == r2:
                    m.add_bool_or([a1.Not(), a2.Not()])
                    continue
                d2 = inst.reqs[r2]
                go = inst.travel.minutes(d1.request.site, d2.request.site)
                back = inst.travel.minutes(d2.request.site, d1.request.site)
                apart = d1.hi + d1.duration + ta + go <= d2.lo
                if apart or d2.hi + d2.duration + ta + back <= d1.lo:
                    continue  # never in each other's way
                o = m.new_bool_var("")
                m.add(self.s[r2] >= self.s[r1] + d1.duration + ta + go).only_enforce_if([a1, a2, o])
                m.add(self.s[r1] >= self.s[r2] + d2.duration + ta + back).only_enforce_if(
                    [a1, a2, o.Not()]
                )

    # -- pools ------------------------------------------------------------------

    def _pooled(
        self,
        rd: ReqData,
        index: int,
        type_id: str,
        quantity: int,
        pool_items: dict[str, list[tuple[cp_model.IntervalVar, cp_model.LinearExprT]]],
    ) -> list[cp_model.LinearExprT]:
        inst = self.inst
        m = self.model
        x = self.x[rd.id]
        pools = inst.pools_by_type.get(type_id, [])
        size = rd.duration + inst.turnaround(type_id)
        terms: list[cp_model.LinearExprT] = []
        vars_: dict[str, tuple[cp_model.IntVar, cp_model.IntVar]] = {}
        if quantity > sum(p.quantity for p in pools):
            m.add(x == 0)
        for pool in pools:
            cap = min(quantity, pool.quantity)
            q = m.new_int_var(0, cap, "")
            use = m.new_bool_var("")
            m.add(q <= cap * use)
            m.add(q >= use)
            m.add_implication(use, x)
            interval = m.new_optional_fixed_size_interval_var(self.s[rd.id], size, use, "")
            pool_items.setdefault(pool.id, []).append((interval, q))
            terms.append(2 * inst.km100(pool.site, rd.request.site) * use)
            vars_[pool.id] = (q, use)
        m.add(sum(q for q, _ in vars_.values()) == quantity * x)
        self.pool_qty[(rd.id, index)] = vars_
        return terms

    def _pool_capacity(
        self,
        pool_items: dict[str, list[tuple[cp_model.IntervalVar, cp_model.LinearExprT]]],
        free: set[str],
    ) -> None:
        m = self.model
        span_end = self.last + max(
            (self.inst.turnaround(t.id) for t in self.inst.problem.types), default=0
        )
        for pool_id, items in pool_items.items():
            quantity = self.inst.problem.pool_by_id[pool_id].quantity
            intervals = [iv for iv, _ in items]
            demands = [q for _, q in items]
            for rid, (start, until, q) in self.state.pool_draws[pool_id].items():
                if rid in free or until <= self.first or start >= span_end:
                    continue
                intervals.append(m.new_fixed_size_interval_var(start, until - start, ""))
                demands.append(q)
            m.add_cumulative(intervals, demands, quantity)

    # -- previous ---------------------------------------------------------------

    def _keep(self, rid: str) -> cp_model.IntVar | None:
        """A literal true when ``rid`` is served exactly as in ``previous``."""
        inst = self.inst
        prev = inst.previous.get(rid)
        if prev is None or prev.start is None:
            return None
        m = self.model
        k = m.new_bool_var("")
        rd = inst.reqs[rid]
        start = inst.timebase.to_minutes(prev.start)
        if not rd.lo <= start <= rd.hi or len(prev.lines) != len(rd.request.lines):
            m.add(k == 0)
            return k
        m.add_implication(k, self.x[rid])
        m.add(self.s[rid] == start).only_enforce_if(k)
        prev_units = {u for la in prev.lines for u in la.units}
        prev_pools = {d.pool for la in prev.lines for d in la.pools}
        for index, la in enumerate(prev.lines):
            lits = self.unit_lits.get((rid, index))
            if lits is not None:
                if not set(la.units) <= set(lits):
                    m.add(k == 0)
                    return k
                for unit_id, lit in lits.items():
                    m.add(lit == int(unit_id in prev_units)).only_enforce_if(k)
            draws = self.pool_qty.get((rid, index))
            if draws is not None:
                for pool_id, (_, use) in draws.items():
                    m.add(use == int(pool_id in prev_pools)).only_enforce_if(k)
        return k

    # -- hint and read ------------------------------------------------------------

    def hint(self) -> None:
        m = self.model
        for rid in self.free:
            a = self.state.by_id.get(rid)
            m.add_hint(self.x[rid], int(a is not None))
            if a is None:
                continue
            m.add_hint(self.s[rid], self.state.start_of(a))
            for index, la in enumerate(a.lines):
                for unit_id, lit in self.unit_lits.get((rid, index), {}).items():
                    m.add_hint(lit, int(unit_id in la.units))
                drawn = {d.pool: d.quantity for d in la.pools}
                for pool_id, (q, use) in self.pool_qty.get((rid, index), {}).items():
                    m.add_hint(q, drawn.get(pool_id, 0))
                    m.add_hint(use, int(pool_id in drawn))

    def read(self, values: Sequence[int]) -> list[RequestAssignment]:
        """The served free requests of a solution."""
        inst = self.inst
        tb = inst.timebase
        out = []
        for rid in self.free:
            if not values[self.x[rid].Index()]:
                continue
            rd = inst.reqs[rid]
            s = values[self.s[rid].Index()]
            lines = []
            for index, line in enumerate(rd.request.lines):
                if (rid, index) in self.unit_lits:
                    units = tuple(
                        u for u, lit in self.unit_lits[(rid, index)].items() if values[lit.Index()]
                    )
                    lines.append(LineAssignment(line.type, units=units))
                else:
                    draws = tuple(
                        Draw(p, values[q.Index()])
                        for p, (q, _) in self.pool_qty[(rid, index)].items()
                        if values[q.Index()] > 0
                    )
                    lines.append(LineAssignment(line.type, pools=draws))
            out.append(
                RequestAssignment(
                    rid,
                    True,
                    tb.to_datetime(s, like=rd.request.start),
                    tb.to_datetime(s + rd.duration, like=rd.request.end),
                    tuple(lines),
                )
            )
        return out


class Neighbourhoods:
    """Draws neighbourhoods: seed kind by adaptive weights, then nearby requests."""

    def __init__(self, state: PlanState, rng: random.Random) -> None:
        self.state = state
        inst = state.inst
        self.rng = rng
        self.group_of: dict[str, int] = {}
        self.groups: list[list[str]] = []
        for index, group in enumerate(type_groups(inst)):
            members = sorted(
                (r for r in group.request_ids if inst.reqs[r].servable and not inst.is_locked(r)),
                key=lambda r: (inst.reqs[r].lo, r),
            )
            self.groups.append(members)
            for rid in members:
                self.group_of[rid] = index
        self.los = [[inst.reqs[r].lo for r in g] for g in self.groups]
        self.longest = [max((inst.reqs[r].hi - inst.reqs[r].lo + inst.reqs[r].duration
                             for r in g), default=0) for g in self.groups]  # fmt: skip
        self.weights = dict.fromkeys(KINDS, 1.0)
        self.all = sorted(self.group_of)

    def kind(self, settled_only: bool = False) -> str:
        kinds = [k for k in self.weights if not settled_only or k in SETTLED]
        return self.rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]

    def reward(self, kind: str, gain: bool) -> None:
        old = self.weights[kind]
        self.weights[kind] = max(0.1, min(10.0, 0.9 * old + (1.0 if gain else 0.0) + 0.02))

    def seed(self, kind: str) -> str | None:
        state = self.state
        inst = state.inst
        rng = self.rng
        if kind == "value":
            pool = [r for r in self.all if r not in state.by_id]
            if not pool:
                return None
            return rng.choices(pool, weights=[inst.reqs[r].value for r in pool])[0]
        if kind == "shift":
            shifted = [
                (abs(state.start_of(a) - inst.reqs[r].start), r)
                for r, a in state.by_id.items()
                if r in self.group_of
            ]
            shifted = [item for item in shifted if item[0] > 0]
            if not shifted:
                return None
            shifted.sort(reverse=True)
            top = shifted[: max(20, len(shifted) // 10)]
            return rng.choice(top)[1]
        if kind == "km":
            return self._far_seed()
        if kind == "itinerary":
            return self._costly_seed()
        if kind == "changed":
            changed = [
                r
                for r, prev in inst.previous.items()
                if r in self.group_of and assignment_changed(prev, state.by_id.get(r))
            ]
            return rng.choice(changed) if changed else None
        return rng.choice(self.all) if self.all else None

    def _far_seed(self) -> str | None:
        """A served request whose units or pools are far from its site."""
        state = self.state
        inst = state.inst
        sample = self.rng.sample(sorted(state.by_id), min(200, len(state.by_id)))
        best, best_km = None, 0.0
        for rid in sample:
            if rid not in self.group_of:
                continue
            a = state.by_id[rid]
            site = inst.reqs[rid].request.site
            km = 0.0
            for la in a.lines:
                for u in la.units:
                    km += inst.travel.km(inst.problem.unit_by_id[u].home, site)
                for d in la.pools:
                    km += inst.travel.km(inst.problem.pool_by_id[d.pool].site, site)
            if km > best_km:
                best, best_km = rid, km
        return best

    def _costly_seed(self) -> str | None:
        """A loan of one of the units that drive the most, at its longest leg.

        The leg is the km from the loan before (or the unit's home) to this
        one: re-routing the loans around it is where the unit can drive less.
        """
        state = self.state
        inst = state.inst
        costly = sorted(((km, u) for u, km in state.unit_km.items() if km > 0), reverse=True)[
            :COSTLY_UNITS
        ]
        if not costly:
            return None
        unit_id = self.rng.choice(costly)[1]
        home = inst.problem.unit_by_id[unit_id].home
        legs = []
        previous = home
        for ln in state.unit_loans[unit_id]:
            if ln.request in self.group_of:
                legs.append((inst.travel.km(previous, ln.site), ln.request))
            previous = ln.site
        if not legs:
            return None
        legs.sort(reverse=True)
        return self.rng.choice(legs[: max(3, len(legs) // 10)])[1]

    def around(self, seed: str, size: int) -> list[str]:
        """Up to ``size`` requests of the seed's group meeting its window, nearest first."""
        inst = self.state.inst
        index = self.group_of[seed]
        group = self.groups[index]
        rd = inst.reqs[seed]
        margin = DAY + self.rng.choice((0, DAY, 3 * DAY))
        first = rd.lo - margin
        last = rd.hi + rd.duration + margin
        low = bisect.bisect_left(self.los[index], first - self.longest[index])
        high = bisect.bisect_right(self.los[index], last)
        near = []
        site = rd.request.site
        # Nearest in space first (a region), or nearest in time (a time window).
        by_place = self.rng.random() < 0.5
        for rid in group[low:high]:
            other = inst.reqs[rid]
            if other.hi + other.duration < first or other.lo > last:
                continue
            if by_place:
                km = inst.travel.km(site, other.request.site)
                overlap = max(0, min(last, other.hi + other.duration) - max(first, other.lo))
                near.append((km - overlap / DAY, rid))
            else:
                near.append((abs(other.start - rd.start) / DAY, rid))
        near.sort()
        chosen = [rid for _, rid in near[:size]]
        if seed not in chosen:
            chosen.append(seed)
        return chosen


def search(
    inst: Instance,
    assignments: Sequence[RequestAssignment],
    options: SolveOptions,
    deadline: float,
    on_improve: Callable[[Key], None] | None = None,
    stats: LnsStats | None = None,
    max_iterations: int | None = None,
) -> list[RequestAssignment]:
    """Improves a valid plan neighbourhood by neighbourhood until ``deadline``.

    Args:
        inst: the instance.
        assignments: a valid plan's served assignments.
        options: workers, seed and ``should_stop`` (polled between and during
            solves).
        deadline: ``time.monotonic()`` value to stop at.
        on_improve: called with the new objective key after each improvement.
        stats: filled with what the search did, when given.
        max_iterations: stop after this many neighbourhoods (tests).

    Returns:
        The served assignments of the best plan, no worse than ``assignments``
        on any level taken lexicographically.
    """
    stats = stats if stats is not None else LnsStats()
    state = PlanState(inst, assignments)
    rng = random.Random(options.seed)
    hoods = Neighbourhoods(state, rng)
    if not hoods.all:
        return state.assignments()
    size = min(START_SIZE, len(hoods.all))
    seconds = SECONDS
    sub = SolveOptions(
        time_limit_seconds=seconds,
        workers=max(1, options.workers),
        seed=options.seed,
        should_stop=lambda: (
            (options.should_stop is not None and options.should_stop())
            or time.monotonic() > deadline
        ),
    )
    # The last part of the time goes to the lower levels only: neighbourhoods
    # that keep who is served and re-time or re-route them (value seldom
    # gains there, while shift and km would otherwise get few iterations).
    settle_at = deadline - SETTLE_SHARE * max(0.0, deadline - time.monotonic())
    misses = 0
    while True:
        left = deadline - time.monotonic()
        if left < 0.2 or (options.should_stop is not None and options.should_stop()):
            break
        if max_iterations is not None and stats.iterations >= max_iterations:
            break
        kind = hoods.kind(settled_only=time.monotonic() >= settle_at)
        seed = hoods.seed(kind)
        if seed is None:
            hoods.reward(kind, False)
            hoods.weights[kind] = 0.1
            misses += 1
            if misses > 100:
                break  # nothing left to seed from (every request served as asked, say)
            continue
        misses = 0
        free = hoods.around(seed, size)
        stats.iterations += 1
        before = state.key()
        model = NeighbourhoodModel(state, free, settled=kind in SETTLED)
        model.hint()
        budget = min(seconds, left)
        values, results = solve_levels(model.model, model.levels, budget, sub)
        # Sized by the levels above km: km is seldom proven and matters least.
        above = [lv.name for lv in model.levels if lv.name != "km"]
        done = {r.name for r in results if r.optimal}
        proven = bool(results) and all(name in done for name in above)
        if values is None:
            size = _resize(size, proven, False, len(hoods.all))
            hoods.reward(kind, False)
            continue
        found = model.read(values)
        taken, touched = state.replace(model.free, found)
        pools = {d.pool for a in [*taken, *found] for la in a.lines for d in la.pools}
        ok = state.valid_units(touched) and state.valid_pools(pools, model.first, model.last + DAY)
        after = state.key()
        if not ok or _worse(after, before):
            size = _resize(size, proven, False, len(hoods.all))
            state.replace([a.id for a in found], taken)
            stats.rejected += int(not ok)
            if not ok:
                logger.warning("lns: a neighbourhood broke a rule; its result was dropped")
            hoods.reward(kind, False)
            continue
        gain = _better(after, before)
        size = _resize(size, proven, gain, len(hoods.all))
        stats.size = size
        hoods.reward(kind, gain)
        if gain:
            stats.improved += 1
            stats.by_kind[kind] = stats.by_kind.get(kind, 0) + 1
            if on_improve is not None:
                on_improve(after)
    logger.debug(
        "lns: %d neighbourhoods, %d improved, %d rejected, size %d, by kind %s, weights %s",
        stats.iterations,
        stats.improved,
        stats.rejected,
        stats.size,
        stats.by_kind,
        {k: round(w, 2) for k, w in hoods.weights.items()},
    )
    return state.assignments()


def _resize(size: int, proven: bool, gain: bool, most: int) -> int:
    """Larger after a proven neighbourhood, smaller after one that neither was proven
    nor improved the plan (too large to search in its time), else the same."""
    if proven:
        size = math.ceil(size * 1.1)
    elif not gain:
        size = math.floor(size * 0.93)
    return max(min(MIN_SIZE, most), min(size, MAX_SIZE, most))


def _better(a: Key, b: Key) -> bool:
    """Lexicographically smaller, km compared to 0.05 km."""
    if a[:3] != b[:3]:
        return a[:3] < b[:3]
    return a[3] < b[3] - 0.05


def _worse(a: Key, b: Key) -> bool:
    if a[:3] != b[:3]:
        return a[:3] > b[:3]
    return a[3] > b[3] + 1e-6


def state_key(inst: Instance, assignments: Sequence[RequestAssignment]) -> Key:
    """The exact objective key of a valid plan's served assignments."""
    return PlanState(inst, assignments).key()


__all__ = ["LnsStats", "NeighbourhoodModel", "Neighbourhoods", "PlanState", "search", "state_key"]
