"""Exact unit constraints for small parts of the dates model.

The cumulative of ``solver.dates`` pads loans by the longest travel time of
their part, which is safe but can lose value when loans must follow each
other closely. For a small part the model can afford the exact rule instead:
one presence literal per (line, eligible unit), no overlap per unit over
``[start, end + turnaround)`` and its blackouts, and for each pair of loans at
different sites an order literal that adds the travel time. Then the served
value found is the true optimum when the solve is proven optimal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ortools.sat.python import cp_model

from solver.dates import DatesModel
from solver.instance import Instance
from solver.plan import RequestAssignment

# Largest number of (line, unit) literals for which a part is modelled exactly.
EXACT_LIMIT = 120


def exact_literals(inst: Instance, request_ids: Sequence[str]) -> int:
    """Number of (line, unit) literals an exact model of these requests needs."""
    return sum(
        len(inst.units_by_type[t])
        for r in request_ids
        for line in inst.reqs[r].request.lines
        for t in inst.eligible_unit_types(line.type)
    )


class ExactUnits:
    """Adds the exact unit rules to a ``DatesModel`` (built with no padding)."""

    def __init__(self, dm: DatesModel) -> None:
        self.dm = dm
        inst = dm.inst
        m = dm.model
        self.assign: dict[tuple[str, int, str], cp_model.IntVar] = {}
        per_unit: dict[str, list[tuple[str, int]]] = {}
        for rid, rv in dm.vars.items():
            locked = inst.reqs[rid].request.locked
            for i, lv in enumerate(rv.lines):
                for t, (var, mult) in lv.counts.items():
                    lits = []
                    for unit in inst.units_by_type[t]:
                        a = m.new_bool_var(f"a[{rid},{i},{unit.id}]")
                        self.assign[(rid, i, unit.id)] = a
                        m.add_implication(a, rv.served)
                        lits.append(a)
                        per_unit.setdefault(unit.id, []).append((rid, i))
                        if locked is not None:
                            m.add(a == int(unit.id in locked.lines[i].units))
                    m.add(sum(lits) == mult * var)
        for unit_id, items in per_unit.items():
            self._add_unit(unit_id, items)

    def _add_unit(self, unit_id: str, items: list[tuple[str, int]]) -> None:
        """No overlap, blackouts and travel between the loans of one unit."""
        dm, inst, m = self.dm, self.dm.inst, self.dm.model
        unit = inst.problem.unit_by_id[unit_id]
        ta = inst.turnaround(unit.type)
        intervals = []
        for rid, i in items:
            rd = inst.reqs[rid]
            a = self.assign[(rid, i, unit_id)]
            s = dm.vars[rid].start
            intervals.append(m.new_optional_fixed_size_interval_var(s, rd.duration + ta, a, ""))
        for b0, b1 in inst.blackouts[unit_id]:
            intervals.append(m.new_fixed_size_interval_var(b0, b1 - b0, ""))
        m.add_no_overlap(intervals)
        for pos, (r1, i1) in enumerate(items):
            d1 = inst.reqs[r1]
            for r2, i2 in items[pos + 1 :]:
                d2 = inst.reqs[r2]
                if r1 == r2:
                    continue
                t12 = inst.travel.minutes(d1.request.site, d2.request.site)
                t21 = inst.travel.minutes(d2.request.site, d1.request.site)
                if t12 == 0 and t21 == 0:
                    continue
                reach = ta + max(t12, t21)
                if d1.hi + d1.duration + reach <= d2.lo or d2.hi + d2.duration + reach <= d1.lo:
                    continue
                a1 = self.assign[(r1, i1, unit_id)]
                a2 = self.assign[(r2, i2, unit_id)]
                s1, s2 = dm.vars[r1].start, dm.vars[r2].start
                first = m.new_bool_var("")
                m.add(s2 >= s1 + d1.duration + ta + t12).OnlyEnforceIf([a1, a2, first])
                m.add(s1 >= s2 + d2.duration + ta + t21).OnlyEnforceIf([a1, a2, first.Not()])

    def hint(self, assignments: Mapping[str, RequestAssignment]) -> None:
        """Hints the units of earlier plans where the dates model hinted the request."""
        m = self.dm.model
        for (rid, i, unit_id), a in self.assign.items():
            prev = assignments.get(rid)
            on = (
                prev is not None
                and prev.served
                and i < len(prev.lines)
                and unit_id in prev.lines[i].units
            )
            m.add_hint(a, int(on))

    def fix_units(self, units: Mapping[tuple[str, int], tuple[str, ...]], rids: set[str]) -> None:
        """Keeps the units of requests ``rids`` (neighbours outside a window)."""
        m = self.dm.model
        for (rid, i, unit_id), a in self.assign.items():
            if rid in rids:
                m.add(a == int(unit_id in units.get((rid, i), ())))

    def hint_units(self, units: Mapping[tuple[str, int], tuple[str, ...]]) -> None:
        """Hints the units of a current solution."""
        m = self.dm.model
        for (rid, i, unit_id), a in self.assign.items():
            m.add_hint(a, int(unit_id in units.get((rid, i), ())))

    def read(self, values: list[int]) -> dict[tuple[str, int], tuple[str, ...]]:
        """Units per (request, line) in a solution."""
        out: dict[tuple[str, int], list[str]] = {}
        for (rid, i, unit_id), a in self.assign.items():
            if values[a.Index()]:
                out.setdefault((rid, i), []).append(unit_id)
        return {k: tuple(v) for k, v in out.items()}
