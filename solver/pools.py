"""A final stage of the optimiser: pool draws re-chosen for km, dates fixed.

Every draw costs twice the distance from its pool to the request's site,
whatever the quantity, so each pooled line would rather take everything from
its nearest pool; the pools' capacities over time are what stop it. With the
served requests and their dates fixed, the draws of each pooled type form a
small problem: per line, how much from each pool (summing to the line's
quantity), each pool holding at most its quantity at every instant over the
draws' occupations ``[s, e + turnaround)``, fewest km. Locked requests keep
their draws exactly, and a request served as in ``previous`` keeps drawing
from the same pools (quantities may change: ``changed`` compares pools only),
so neither the served value, ``changed`` nor the shift can get worse.

Each type's lines are first moved one at a time to nearer pools
(:mod:`solver.pools_local`), which is fast on thousands of lines; the CP-SAT
model below then starts from that and can also swap pools between lines.

With fixed occupations the pool load only rises where a draw starts, so the
capacity is one linear constraint per distinct start over the draws
occupying it: a tighter relaxation than a cumulative constraint.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from solver.instance import Instance
from solver.options import SolveOptions
from solver.plan import Draw, LineAssignment, RequestAssignment
from solver.pools_local import reinsert_nearest
from solver.stopping import solve_stoppable

# Of each type's time, at most this share goes to moving lines to nearer pools one at a
# time (solver.pools_local) before CP-SAT; the local search usually stops much sooner.
LOCAL_SHARE = 0.5


@dataclass(frozen=True)
class PooledLine:
    """One pooled line of a served request, its occupation in minutes."""

    request: str
    line: int
    start: int
    until: int  # end + turnaround
    site: str
    quantity: int
    draws: tuple[tuple[str, int], ...]  # current (pool, quantity)
    fixed: bool  # draws kept exactly (locked)
    pools_kept: bool  # the same pools kept (served as in ``previous``)


def pooled_lines(
    inst: Instance, assignments: Sequence[RequestAssignment], kept: set[str]
) -> dict[str, list[PooledLine]]:
    """The pooled lines of the served ``assignments``, per type with several pools.

    Args:
        inst: the instance.
        assignments: the plan's assignments.
        kept: requests whose pools must stay the same (served as in ``previous``).
    """
    tb = inst.timebase
    out: dict[str, list[PooledLine]] = {}
    for a in assignments:
        if not a.served or a.start is None or a.end is None:
            continue
        request = inst.reqs[a.id].request
        start, end = tb.to_minutes(a.start), tb.to_minutes(a.end)
        for index, la in enumerate(a.lines):
            if not la.pools or len(inst.pools_by_type.get(la.type, [])) < 2:
                continue
            draws = tuple((d.pool, d.quantity) for d in la.pools)
            out.setdefault(la.type, []).append(
                PooledLine(
                    a.id,
                    index,
                    start,
                    end + inst.turnaround(la.type),
                    request.site,
                    sum(q for _, q in draws),
                    draws,
                    request.locked is not None,
                    a.id in kept,
                )
            )
    return out


class DrawsModel:
    """CP-SAT model re-choosing the draws of one pooled type's lines."""

    def __init__(self, inst: Instance, type_id: str, lines: Sequence[PooledLine]) -> None:
        self.inst = inst
        self.lines = list(lines)
        self.pools = inst.pools_by_type[type_id]
        m = self.model = cp_model.CpModel()
        self.qty: dict[tuple[int, str], cp_model.IntVar] = {}
        self.use: dict[tuple[int, str], cp_model.IntVar] = {}
        km_terms = []
        for i, line in enumerate(self.lines):
            current = dict(line.draws)
            for pool in self.pools:
                cap = min(line.quantity, pool.quantity)
                q = self.qty[(i, pool.id)] = m.new_int_var(0, cap, "")
                u = self.use[(i, pool.id)] = m.new_bool_var("")
                m.add(q <= cap * u)
                m.add(q >= u)
                if line.fixed:
                    m.add(q == current.get(pool.id, 0))
                elif line.pools_kept:
                    m.add(u == int(pool.id in current))
                km_terms.append(2 * inst.km100(pool.site, line.site) * u)
            m.add(sum(self.qty[(i, p.id)] for p in self.pools) == line.quantity)
        self._add_capacity()
        self.km = sum(km_terms)
        m.minimize(self.km)

    def _add_capacity(self) -> None:
        """Per pool, at each distinct start, the draws occupying it fit its quantity."""
        order = sorted(range(len(self.lines)), key=lambda i: self.lines[i].start)
        starts = sorted({ln.start for ln in self.lines})
        for pool in self.pools:
            active: list[int] = []
            pos = 0
            for t in starts:
                while pos < len(order) and self.lines[order[pos]].start <= t:
                    active.append(order[pos])
                    pos += 1
                active = [i for i in active if self.lines[i].until > t]
                most = sum(min(self.lines[i].quantity, pool.quantity) for i in active)
                if most > pool.quantity:
                    self.model.add(sum(self.qty[(i, pool.id)] for i in active) <= pool.quantity)

    def current_km(self) -> int:
        return sum(
            2 * self.inst.km100(self.inst.problem.pool_by_id[p].site, ln.site)
            for ln in self.lines
            for p, _ in ln.draws
        )

    def hint(self) -> None:
        for i, line in enumerate(self.lines):
            current = dict(line.draws)
            for pool in self.pools:
                self.model.add_hint(self.qty[(i, pool.id)], current.get(pool.id, 0))
                self.model.add_hint(self.use[(i, pool.id)], int(pool.id in current))

    def solve(
        self, seconds: float, options: SolveOptions
    ) -> tuple[dict[tuple[str, int], tuple[tuple[str, int], ...]] | None, bool]:
        """The draws of a solution no worse than the current ones, and whether proven.

        Returns:
            ``(request, line) -> ((pool, quantity), ...)`` or None when no
            solution lowers the km, and whether the km is proven optimal.
        """
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = max(1, options.workers)
        solver.parameters.random_seed = options.seed
        solver.parameters.max_time_in_seconds = max(0.05, seconds)
        status = solve_stoppable(solver, self.model, options.should_stop)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None, False
        if round(solver.ObjectiveValue()) >= self.current_km():
            return None, status == cp_model.OPTIMAL
        out = {}
        for i, line in enumerate(self.lines):
            draws = tuple(
                (p.id, solver.Value(self.qty[(i, p.id)]))
                for p in self.pools
                if solver.Value(self.qty[(i, p.id)]) > 0
            )
            out[(line.request, line.line)] = draws
        return out, status == cp_model.OPTIMAL


def improve_draws(
    inst: Instance,
    assignments: Sequence[RequestAssignment],
    kept: set[str],
    options: SolveOptions,
    seconds: float,
) -> list[RequestAssignment] | None:
    """The assignments with pool draws re-chosen per pooled type for fewer km.

    Args:
        inst: the instance.
        assignments: a valid plan's assignments; dates and units are kept.
        kept: requests served as in ``previous``, whose pools must stay the same.
        options: workers, seed and ``should_stop``.
        seconds: time for all types, shared by their number of lines.

    Returns:
        The new assignments, or None when no type's km went down.
    """
    by_type = pooled_lines(inst, assignments, kept)
    deadline = time.monotonic() + seconds
    total = sum(len(lines) for lines in by_type.values())
    found: dict[tuple[str, int], tuple[tuple[str, int], ...]] = {}
    for type_id in sorted(by_type, key=lambda t: -len(by_type[t])):
        lines = by_type[type_id]
        left = deadline - time.monotonic()
        if left < 0.05 or (options.should_stop is not None and options.should_stop()):
            break
        share = left * len(lines) / max(total, 1)
        total -= len(lines)
        type_deadline = time.monotonic() + share
        moved = reinsert_nearest(inst, type_id, lines, time.monotonic() + share * LOCAL_SHARE)
        if moved:
            found.update(moved)
            lines = [replace(ln, draws=moved.get((ln.request, ln.line), ln.draws)) for ln in lines]
        model = DrawsModel(inst, type_id, lines)
        model.hint()
        draws, _ = model.solve(max(0.05, type_deadline - time.monotonic()), options)
        if draws is not None:
            found.update(draws)
    if not found:
        return None
    return [_with_draws(a, found) for a in assignments]


def _with_draws(
    a: RequestAssignment, found: Mapping[tuple[str, int], tuple[tuple[str, int], ...]]
) -> RequestAssignment:
    if not any((a.id, i) in found for i in range(len(a.lines))):
        return a
    lines = tuple(
        LineAssignment(la.type, pools=tuple(Draw(p, q) for p, q in found[(a.id, i)]))
        if (a.id, i) in found
        else la
        for i, la in enumerate(a.lines)
    )
    return replace(a, lines=lines)
