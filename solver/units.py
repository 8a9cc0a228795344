"""Stage two of the optimiser: concrete units for the dated unit-tracked lines.

Times are fixed by ``solver.dates``; here each line of quantity q gets q
distinct units so that a unit's successive loans leave turnaround plus travel
between them and never overlap its blackouts. Levels: value kept (a request
whose lines cannot all be given units is dropped: only unit-specific
blackouts can cause that), requests kept on their previous units, then km
with direct transfers, exactly as ``solver.itinerary`` counts them: every loan
costs the round trip from the unit's home, minus the saving of each direct leg
between two successive loans close enough in time.

Redundant constraints keep the linear relaxation close to the integer model,
so that most groups are proven optimal in well under a second: per unit, at
most one of the loans occupying any instant, and per loan at most one direct
leg in and one out per unit (and ``quantity`` over all units).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from solver.instance import Instance
from solver.lexsolve import Level, LevelResult, solve_levels
from solver.options import SolveOptions
from solver.problem import Unit


@dataclass(frozen=True)
class Loan:
    """One unit-tracked line of a dated request, in minutes."""

    request: str
    line: int
    start: int
    end: int
    site: str
    quantity: int
    units: tuple[str, ...]  # eligible units, free of blackouts over the loan
    locked: tuple[str, ...] | None = None
    previous: tuple[str, ...] | None = None  # units to keep, when kept
    split: tuple[tuple[str, int], ...] = ()  # (unit type, count) the dates stage chose


def make_loans(
    inst: Instance,
    type_ids: Sequence[str],
    starts: Mapping[str, int],
    kept: Mapping[str, Sequence[tuple[str, ...]]],
    splits: Mapping[str, Sequence[Mapping[str, int]]] | None = None,
) -> list[Loan]:
    """The unit-tracked lines of the dated requests of one type group.

    Args:
        inst: the instance.
        type_ids: the group's types.
        starts: start minute of each served request of the group.
        kept: for requests kept at their previous time, the previous units of
            each line.
    """
    group = set(type_ids)
    loans = []
    for rid, start in starts.items():
        rd = inst.reqs[rid]
        end = start + rd.duration
        locked = rd.request.locked
        for index, line in enumerate(rd.request.lines):
            if line.type not in group or inst.problem.is_pooled(line.type):
                continue
            eligible = []
            for t in inst.eligible_unit_types(line.type):
                occupied_end = end + inst.turnaround(t)
                for unit in inst.units_by_type[t]:
                    if all(b1 <= start or occupied_end <= b0 for b0, b1 in inst.blackouts[unit.id]):
                        eligible.append(unit.id)
            lock = tuple(locked.lines[index].units) if locked is not None else None
            prev = tuple(kept[rid][index]) if rid in kept else None
            split: tuple[tuple[str, int], ...] = ()
            if splits is not None and rid in splits:
                split = tuple(sorted(splits[rid][index].items()))
            loans.append(
                Loan(
                    rid,
                    index,
                    start,
                    end,
                    rd.request.site,
                    line.quantity,
                    tuple(eligible),
                    lock,
                    prev,
                    split,
                )
            )
    loans.sort(key=lambda ln: (ln.start, ln.end, ln.request, ln.line))
    return loans


class UnitTimes:
    """Turnaround, home and travel lookups for one unit."""

    def __init__(self, inst: Instance, unit: Unit) -> None:
        self.inst = inst
        self.unit = unit
        self.turnaround = inst.turnaround(unit.type)
        self.direct = inst.direct_limit(unit.type)

    def fits_before(self, a: Loan, b: Loan) -> bool:
        """True when ``b`` can follow ``a`` on this unit."""
        return a.end + self.turnaround + self.inst.travel.minutes(a.site, b.site) <= b.start

    def compatible(self, a: Loan, b: Loan) -> bool:
        return self.fits_before(a, b) or self.fits_before(b, a)

    def round_trip(self, loan: Loan) -> int:
        home = self.unit.home
        return self.inst.km100(home, loan.site) + self.inst.km100(loan.site, home)

    def saving(self, a: Loan, b: Loan) -> int | None:
        """km100 saved by going directly from ``a`` to ``b``, if the rule sends it so."""
        if b.start - (a.end + self.turnaround) > self.direct:
            return None
        home = self.unit.home
        inst = self.inst
        return inst.km100(a.site, home) + inst.km100(home, b.site) - inst.km100(a.site, b.site)


def greedy_units(inst: Instance, loans: Sequence[Loan]) -> dict[tuple[str, int], tuple[str, ...]]:
    """Gives units to loans in time order, request by request, nearest first.

    Locked lines first, then lines kept from ``previous`` on their units, then
    the others on the feasible units that add the least km. A request whose
    lines cannot all be given units is left out entirely.

    Returns:
        ``(request, line) -> units`` for the requests served.
    """
    times = {u.id: UnitTimes(inst, u) for u in inst.problem.units}
    on_unit: dict[str, list[Loan]] = {}
    result: dict[tuple[str, int], tuple[str, ...]] = {}
    by_request: dict[str, list[Loan]] = {}
    for loan in loans:
        by_request.setdefault(loan.request, []).append(loan)
    order = sorted(
        by_request,
        key=lambda r: (by_request[r][0].locked is None, by_request[r][0].start, r),
    )

    def free(unit_id: str, loan: Loan) -> bool:
        ut = times[unit_id]
        return all(ut.compatible(other, loan) for other in on_unit.get(unit_id, []))

    def cost(unit_id: str, loan: Loan) -> int:
        ut = times[unit_id]
        before = [o for o in on_unit.get(unit_id, []) if o.start < loan.start]
        if before:
            last = max(before, key=lambda o: o.start)
            sav = ut.saving(last, loan)
            if sav is not None:
                return ut.round_trip(loan) - sav
        return ut.round_trip(loan)

    for rid in order:
        chosen: list[tuple[Loan, tuple[str, ...]]] = []
        ok = True
        for loan in by_request[rid]:
            if loan.locked is not None:
                units = loan.locked
            else:
                taken = {u for _, us in chosen for u in us}
                candidates = [u for u in loan.units if u not in taken and free(u, loan)]
                prev = [u for u in (loan.previous or ()) if u in candidates]
                if len(prev) == loan.quantity:
                    units = tuple(prev)
                else:
                    candidates.sort(key=lambda u: (cost(u, loan), u))
                    if len(candidates) < loan.quantity:
                        ok = False
                        break
                    units = _by_split(inst, loan, candidates)
            chosen.append((loan, units))
            for u in units:
                on_unit.setdefault(u, []).append(loan)
        if not ok:
            for loan, units in chosen:
                for u in units:
                    on_unit[u].remove(loan)
            continue
        for loan, units in chosen:
            result[(loan.request, loan.line)] = units
    return result


def _by_split(inst: Instance, loan: Loan, candidates: list[str]) -> tuple[str, ...]:
    """The cheapest candidates, taking from each type what the dates stage chose.

    Following the split keeps substitutes free for the lines that need them;
    when a type has too few candidates the others make up the quantity.
    """
    chosen: list[str] = []
    for type_id, count in loan.split:
        of_type = [u for u in candidates if inst.problem.unit_by_id[u].type == type_id]
        chosen.extend(of_type[:count])
    rest = [u for u in candidates if u not in chosen]
    chosen.extend(rest[: loan.quantity - len(chosen)])
    return tuple(chosen[: loan.quantity])


class UnitsModel:
    """CP-SAT model giving units to the loans of one type group."""

    def __init__(self, inst: Instance, loans: Sequence[Loan], serve_all: bool = False) -> None:
        """Builds the model; ``serve_all`` requires every loan served (known feasible)."""
        self.inst = inst
        self.loans = list(loans)
        m = self.model = cp_model.CpModel()
        self.assign: dict[tuple[int, str], cp_model.IntVar] = {}  # (loan index, unit)
        self.served: dict[str, cp_model.IntVar] = {}
        self.arcs: dict[tuple[int, int, str], cp_model.IntVar] = {}
        value_terms, keep_terms, km_terms = [], [], []
        for rid in sorted({ln.request for ln in loans}):
            y = self.served[rid] = m.new_bool_var(f"y[{rid}]")
            if serve_all or self.inst.is_locked(rid):
                m.add(y == 1)
            value_terms.append(inst.reqs[rid].value * y)
        per_unit: dict[str, list[int]] = {}
        for i, loan in enumerate(self.loans):
            units = loan.locked if loan.locked is not None else loan.units
            lits = []
            for u in units:
                a = self.assign[(i, u)] = m.new_bool_var(f"a[{i},{u}]")
                lits.append(a)
                per_unit.setdefault(u, []).append(i)
            m.add(sum(lits) == loan.quantity * self.served[loan.request])
            if loan.locked is not None:
                for a in lits:
                    m.add(a == 1)
        # Per request, the literals of its previous units; None for a previous
        # unit no longer eligible, which keeps the request from being kept.
        kept_requests: dict[str, list[cp_model.IntVar | None]] = {}
        for i, loan in enumerate(self.loans):
            if loan.previous is not None and loan.locked is None:
                previous = [self.assign.get((i, u)) for u in loan.previous]
                kept_requests.setdefault(loan.request, []).extend(previous)
        for rid, kept_lits in kept_requests.items():
            k = m.new_bool_var(f"keep[{rid}]")
            present = [a for a in kept_lits if a is not None]
            if len(present) < len(kept_lits):
                m.add(k == 0)
            else:
                for a in present:
                    m.add_implication(k, a)
            keep_terms.append(k)
        self._out: dict[int, list[cp_model.IntVar]] = {}
        self._in: dict[int, list[cp_model.IntVar]] = {}
        for unit in inst.problem.units:
            idx = per_unit.get(unit.id)
            if idx:
                km_terms.extend(self._add_unit(unit, idx))
        # Over all units too: a line of quantity q leaves directly at most q times.
        for ends in (self._out, self._in):
            for i, arcs in ends.items():
                if len(arcs) > self.loans[i].quantity:
                    m.add(sum(arcs) <= self.loans[i].quantity)
        self.levels = [] if serve_all else [Level("value", sum(value_terms), True, 0.4)]
        if keep_terms:
            self.levels.append(Level("kept", sum(keep_terms), True, 0.1))
        self.levels.append(Level("km", sum(km_terms), False, 0.5))

    def _add_unit(self, unit: Unit, idx: list[int]) -> list[cp_model.LinearExprT]:
        """No overlap and travel time between the unit's loans; its km terms."""
        m = self.model
        ut = UnitTimes(self.inst, unit)
        intervals = []
        km_terms: list[cp_model.LinearExprT] = []
        for i in idx:
            loan = self.loans[i]
            a = self.assign[(i, unit.id)]
            size = loan.end - loan.start + ut.turnaround
            intervals.append(m.new_optional_fixed_size_interval_var(loan.start, size, a, ""))
            km_terms.append(ut.round_trip(loan) * a)
        m.add_no_overlap(intervals)
        self._add_cliques(unit, ut, idx)
        sites = sorted({self.loans[i].site for i in idx})
        max_travel = max(self.inst.travel.minutes(p, q) for p in sites for q in sites)
        reach = ut.turnaround + max(max_travel, ut.direct)
        outgoing: dict[int, list[cp_model.IntVar]] = {}
        incoming: dict[int, list[cp_model.IntVar]] = {}
        for pos, i in enumerate(idx):
            a_loan = self.loans[i]
            a = self.assign[(i, unit.id)]
            for j in idx[pos + 1 :]:
                b_loan = self.loans[j]
                if b_loan.start > a_loan.end + reach:
                    break
                b = self.assign[(j, unit.id)]
                overlap = b_loan.start < a_loan.end + ut.turnaround
                if not overlap and not ut.fits_before(a_loan, b_loan):
                    m.add_bool_or([a.Not(), b.Not()])
                    continue
                if overlap or b_loan.start == a_loan.start:
                    continue
                sav = ut.saving(a_loan, b_loan)
                if sav is None:
                    continue
                z = m.new_bool_var("")
                self.arcs[(i, j, unit.id)] = z
                m.add_implication(z, a)
                m.add_implication(z, b)
                between = [
                    self.assign[(k, unit.id)]
                    for k in idx[pos + 1 :]
                    if a_loan.start < self.loans[k].start < b_loan.start
                ]
                for c in between:
                    m.add_bool_or([z.Not(), c.Not()])
                if sav < 0:
                    m.add(z >= a + b - 1 - sum(between))
                km_terms.append(-sav * z)
                outgoing.setdefault(i, []).append(z)
                incoming.setdefault(j, []).append(z)
                self._out.setdefault(i, []).append(z)
                self._in.setdefault(j, []).append(z)
        # A loan has at most one direct leg out and one in: implied by the
        # loans-between rule, but it keeps the relaxation from taking them all.
        for ends in (outgoing, incoming):
            for i, arcs in ends.items():
                if len(arcs) > 1:
                    m.add(sum(arcs) <= self.assign[(i, unit.id)])
        return km_terms

    def _add_cliques(self, unit: Unit, ut: UnitTimes, idx: list[int]) -> None:
        """At most one of the loans occupying each loan's start: a tighter relaxation.

        The occupations are fixed intervals, so these cliques describe the unit's
        no-overlap exactly in the linear relaxation (interval graphs are perfect).
        """
        active: list[int] = []
        for i in sorted(idx, key=lambda k: self.loans[k].start):
            start = self.loans[i].start
            active = [k for k in active if self.loans[k].end + ut.turnaround > start]
            active.append(i)
            if len(active) > 1:
                self.model.add_at_most_one(self.assign[(k, unit.id)] for k in active)

    def hint(self, units: Mapping[tuple[str, int], tuple[str, ...]]) -> None:
        """Hints a complete assignment (e.g. ``greedy_units``'), with its arcs."""
        m = self.model
        served = {rid for rid, _ in units}
        for rid, y in self.served.items():
            m.add_hint(y, int(rid in served))
        on: set[tuple[int, str]] = set()
        for i, loan in enumerate(self.loans):
            for u in units.get((loan.request, loan.line), ()):
                on.add((i, u))
        for key, a in self.assign.items():
            m.add_hint(a, int(key in on))
        seq: dict[str, list[int]] = {}
        for i, u in sorted(on, key=lambda k: (self.loans[k[0]].start, k[0])):
            seq.setdefault(u, []).append(i)
        succ = {(i, j, u) for u, lst in seq.items() for i, j in itertools.pairwise(lst)}
        for arc, z in self.arcs.items():
            m.add_hint(z, int(arc in succ))

    def solve(
        self, seconds: float, options: SolveOptions
    ) -> tuple[dict[tuple[str, int], tuple[str, ...]] | None, list[LevelResult]]:
        values, results = solve_levels(self.model, self.levels, seconds, options)
        if values is None:
            return None, results
        out: dict[tuple[str, int], list[str]] = {}
        for (i, u), a in self.assign.items():
            if values[a.Index()]:
                loan = self.loans[i]
                out.setdefault((loan.request, loan.line), []).append(u)
        served = {rid for rid, y in self.served.items() if values[y.Index()]}
        return {k: tuple(v) for k, v in out.items() if k[0] in served}, results
