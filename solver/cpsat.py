"""The CP-SAT optimiser: decomposition, dates, units, repair, checked plan.

The solve runs in stages, each hinted by the one before and by the greedy
plan (``solver.baseline.solve_greedy``) when available:

1. ``solver.decompose`` splits the problem into type groups and time clusters
   (parts); ``solver.bound`` gives each part an LP upper bound on its value,
   and time goes to parts in proportion to what the greedy plan leaves
   between it and that bound.
2. ``solver.dates`` decides, per batch of parts, which requests are served,
   when, with how many units of each type and which pool draws
   (lexicographic: value, kept from ``previous``, shift, km), with unit
   cumulatives padded by travel (``solver.padding``); small batches use the
   exact unit rules instead (``solver.exact``), parts larger than
   ``LARGE_PART`` go window by window (``solver.windows``).
3. Units are given nearest first (``solver.units.greedy_units``);
   ``solver.repair`` inserts what is still unserved and moves shifted
   requests nearer their asked start, on the exact minute schedule; then
   ``solver.units_local`` moves loans one at a time to units that drive less.
4. ``solver.units`` re-chooses units per substitution group with CP-SAT
   (previous units kept, then km with direct transfers).
5. ``solver.pools`` re-chooses the pool draws per pooled type for km, dates,
   units and the pools of requests kept from ``previous`` fixed (lines moved
   to nearer pools one at a time first, ``solver.pools_local``).
6. ``solver.assemble.build_plan`` checks the plan; the better of this plan
   and the greedy one (lexicographically) is returned, so a stage that fails
   never costs a valid plan.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace

from solver.assemble import InvalidPlanError, build_plan
from solver.bound import part_bounds, tighten_bounds
from solver.dates import Dated, DatesModel
from solver.decompose import Part, TypeGroup, batch_parts, decompose, share_time, unit_type_groups
from solver.exact import EXACT_LIMIT, ExactUnits, exact_literals
from solver.instance import Instance
from solver.lexsolve import solve_levels
from solver.options import Progress, SolveOptions
from solver.padding import travel_pads
from solver.plan import Draw, LineAssignment, Metrics, Plan, RequestAssignment, Status
from solver.pools import improve_draws
from solver.problem import Problem
from solver.repair import compact_shifts, insert_unserved
from solver.units import UnitsModel, greedy_units, make_loans
from solver.units_local import improve_units
from solver.windows import dated_from_assignment, solve_by_windows

logger = logging.getLogger(__name__)

STRATEGY = "cp-sat"
LARGE_PART = 800  # parts with more requests are solved window by window
MIN_BATCH_SECONDS = 0.25  # a batch given less keeps the hinted plan's dates
MAX_UNIT_LITERALS = 30_000  # largest (loan, unit) count re-assigned by CP-SAT at once

# Fractions of the time limit per stage; unused time flows to the next stage.
GREEDY_SHARE = 0.1
DATES_SHARE = 0.8
LOCAL_UNITS_SHARE = 0.1  # of what is left after repair, at most; it usually ends sooner
UNITS_SHARE = 0.85  # of what is left after dates, the rest goes to repair and checks
DRAWS_SHARE = 0.5  # of what is left after units, for the pool draws
MIN_DRAWS_SECONDS = 0.1
BOUND_SHARE = 0.1  # at most, to tighten the bound where the dates fall short of it


class _Clock:
    """Seconds left for the stages: the limit minus a reserve for the final check.

    Checking, explaining and measuring the plan takes time that grows with the
    number of requests (about a second per 1,500 on a shared laptop core).
    """

    def __init__(self, options: SolveOptions, requests: int) -> None:
        self.t0 = time.monotonic()
        reserve = min(0.1 * options.time_limit_seconds, 0.5 + requests / 1500)
        self.limit = options.time_limit_seconds - reserve
        self.options = options

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def left(self) -> float:
        return max(0.0, self.limit - self.elapsed())

    def stopped(self) -> bool:
        return self.options.should_stop is not None and self.options.should_stop()


def solve_cpsat(problem: Problem, options: SolveOptions, problem_sha256: str = "") -> Plan:
    """Plans ``problem`` with the staged CP-SAT optimiser.

    Args:
        problem: the problem.
        options: time limit for the whole solve, workers, seed, callbacks.
        problem_sha256: written into the plan.

    Returns:
        The best valid plan found, with status OPTIMAL only when every level
        of the objective is proven, and a bound on every level.

    Raises:
        InvalidPlanError: only if no strategy at all produced a valid plan
            (a bug).
    """
    clock = _Clock(options, len(problem.requests))
    inst = Instance(problem)
    greedy = _greedy_plan(problem, options, problem_sha256, clock)
    hints: dict[str, RequestAssignment] = dict(inst.previous)
    if greedy is not None:
        hints.update({a.id: a for a in greedy.requests if a.served})
    else:
        start = insert_unserved(inst, [], clock.left() * GREEDY_SHARE)
        hints.update({a.id: a for a in start})
    _report(options, clock, greedy, None, "greedy")
    logger.debug("greedy done at %.1f s", clock.elapsed())

    groups, parts = decompose(inst)
    bounds = part_bounds(inst, parts, min(clock.left() * 0.05, 5.0))
    dated, exact_units = _solve_dates(
        inst, parts, bounds, hints, options, clock, clock.left() * DATES_SHARE
    )
    logger.debug("dates done at %.1f s", clock.elapsed())
    achieved = [
        float(_value(inst, {r: dated[r] for r in p.request_ids if r in dated})) for p in parts
    ]
    budget = min(options.time_limit_seconds * BOUND_SHARE, clock.left() * 0.3)
    upper = sum(tighten_bounds(inst, parts, bounds, achieved, budget, options))
    starts = {rid: d.start for rid, d in dated.items()}
    splits = {rid: d.unit_types for rid, d in dated.items()}
    units = _quick_units(inst, groups, starts, exact_units, splits)
    assignments = _assemble(inst, dated, units)
    assignments = insert_unserved(inst, assignments, clock.left() * 0.2)
    frozen = _frozen(inst, assignments)
    assignments = compact_shifts(inst, assignments, clock.left() * 0.3, frozen)
    assignments = _local_units(inst, assignments, clock)
    first = _metrics(problem, assignments)
    logger.debug("repair done at %.1f s: %s", clock.elapsed(), first)
    if first is None:  # pragma: no cover - a bug upstream: fall back to the greedy plan
        assignments = []
    elif options.on_progress is not None:
        options.on_progress(Progress(clock.elapsed(), first.served_value, first.km, upper, "dates"))
    key = _key(first) if first is not None else (float("inf"),)
    final = _final_units(inst, groups, assignments, options, clock, clock.left() * UNITS_SHARE)
    if final is not None and first is not None:
        final_key = _key_of(problem, final)
        if final_key <= key:
            assignments, key = final, final_key
    _log_stage(problem, clock, assignments, "units")
    assignments = _final_draws(inst, problem, assignments, key, options, clock)
    _log_stage(problem, clock, assignments, "draws")
    plan = _checked(problem, assignments, clock, problem_sha256, upper)
    best = _better(plan, greedy)
    if best is None:
        raise InvalidPlanError("no valid plan could be made")
    if best is greedy:
        best = _with_bound(best, upper)
    _report(options, clock, best, upper, "done")
    return best


def _greedy_plan(problem: Problem, options: SolveOptions, sha: str, clock: _Clock) -> Plan | None:
    """The greedy baseline's plan, used as hint and as fallback."""
    try:
        from solver.baseline import solve_greedy
    except ImportError:
        return None
    sub = SolveOptions(
        time_limit_seconds=max(0.5, options.time_limit_seconds * GREEDY_SHARE),
        workers=options.workers,
        seed=options.seed,
    )
    try:
        return solve_greedy(problem, sub, sha)
    except InvalidPlanError:
        return None


def _solve_dates(
    inst: Instance,
    parts: list[Part],
    bounds: list[float],
    hints: Mapping[str, RequestAssignment],
    options: SolveOptions,
    clock: _Clock,
    budget: float,
) -> tuple[dict[str, Dated], dict[tuple[str, int], tuple[str, ...]]]:
    """Stage 2 over all batches of parts, sharing ``budget`` by size.

    Returns:
        The served requests, and for the batches small enough to be modelled
        exactly (``solver.exact``), the units they were given.
    """
    bound_of = {id(p): b for p, b in zip(parts, bounds, strict=True)}
    # Every model has a fixed cost (building, presolve): on large problems
    # fewer, larger batches keep that cost within the budget.
    batches = batch_parts(parts, max(40, len(inst.reqs) // 100))
    # Time goes where value may still be won: the gap between a batch's LP
    # bound and the hinted (greedy) plan's value, plus a share by size for
    # the shift and km levels.
    sizes = []
    for batch in batches:
        rids = [r for p in batch for r in p.request_ids]
        hinted = sum(inst.reqs[r].value for r in rids if r in hints and hints[r].served)
        gap = max(0.0, sum(bound_of[id(p)] for p in batch) - hinted)
        sizes.append(_weight(inst, rids) / 10 + gap)
    deadline = time.monotonic() + budget
    dated: dict[str, Dated] = {}
    exact_units: dict[tuple[str, int], tuple[str, ...]] = {}
    for index, batch in enumerate(batches):
        rids = [r for p in batch for r in p.request_ids]
        # The hinted plan's dates and units for this batch: kept when there
        # is no time to solve it, or when the model does no better.
        current, current_units = _hinted(inst, rids, hints)
        seconds = share_time(sizes, deadline - time.monotonic(), index)
        if clock.stopped() or seconds < MIN_BATCH_SECONDS:
            dated.update(current)
            continue
        started = time.monotonic()
        if len(rids) > LARGE_PART:
            pads = _pads(inst, batch)
            found = solve_by_windows(
                inst, rids, pads, current, options, seconds * 0.7, current_units
            )
            left = seconds - (time.monotonic() - started)
            found = solve_by_windows(
                inst, rids, pads, found, options, left, current_units or None, shifts_only=True
            )
            dated.update(found)
            exact_units.update(current_units)
            continue
        exact = exact_literals(inst, rids) <= EXACT_LIMIT
        model = DatesModel(inst, rids, {} if exact else _pads(inst, batch))
        extra = ExactUnits(model) if exact else None
        model.hint(hints)
        if extra is not None:
            extra.hint(hints)
        values, _ = solve_levels(model.model, model.levels(), max(seconds, 0.05), options)
        found = model.read(values) if values is not None else {}
        if _value(inst, found) < _value(inst, current):
            dated.update(current)
            continue
        dated.update(found)
        if extra is not None and values is not None:
            exact_units.update(extra.read(values))
    return dated, exact_units


def _hinted(
    inst: Instance, rids: list[str], hints: Mapping[str, RequestAssignment]
) -> tuple[dict[str, Dated], dict[tuple[str, int], tuple[str, ...]]]:
    """Dates and units of the hinted assignments of ``rids`` that fit their windows."""
    current: dict[str, Dated] = {}
    units: dict[tuple[str, int], tuple[str, ...]] = {}
    for rid in rids:
        hinted = hints.get(rid)
        dated_hint = dated_from_assignment(inst, hinted) if hinted is not None else None
        if hinted is not None and dated_hint is not None:
            current[rid] = dated_hint
            for i, la in enumerate(hinted.lines):
                if la.units:
                    units[(rid, i)] = la.units
    return current, units


def _value(inst: Instance, dated: Mapping[str, Dated]) -> int:
    return sum(inst.reqs[r].value for r in dated)


def _weight(inst: Instance, rids: Iterable[str]) -> int:
    return sum(1 + len(inst.reqs[r].request.lines) for r in rids)


def _pads(inst: Instance, batch: Iterable[Part]) -> dict[str, int]:
    """Travel padding of every request of the batch's parts (``solver.padding``)."""
    pads: dict[str, int] = {}
    for part in batch:
        pads.update(travel_pads(inst, part.request_ids))
    return pads


def _kept(inst: Instance, starts: Mapping[str, int]) -> dict[str, list[tuple[str, ...]]]:
    """Previous units per line of requests dated at their previous start."""
    kept = {}
    for rid, prev in inst.previous.items():
        if (
            rid in starts
            and prev.start is not None
            and inst.timebase.to_minutes(prev.start) == starts[rid]
            and len(prev.lines) == len(inst.reqs[rid].request.lines)
        ):
            kept[rid] = [tuple(line.units) for line in prev.lines]
    return kept


def _quick_units(
    inst: Instance,
    groups: list[TypeGroup],
    starts: Mapping[str, int],
    exact_units: Mapping[tuple[str, int], tuple[str, ...]],
    splits: Mapping[str, list[dict[str, int]]],
) -> dict[tuple[str, int], tuple[str, ...]]:
    """Units from the exact dates model where it ran, else nearest-first greedy."""
    kept = _kept(inst, starts)
    units: dict[tuple[str, int], tuple[str, ...]] = {}
    for group in groups:
        group_starts = {r: starts[r] for r in group.request_ids if r in starts}
        loans = make_loans(inst, group.type_ids, group_starts, kept, splits)
        if not loans:
            continue
        chosen = greedy_units(inst, loans)
        keys = {(ln.request, ln.line) for ln in loans}
        if keys <= set(exact_units):
            from_exact = {k: exact_units[k] for k in keys}
            if _served_count(from_exact) >= _served_count(chosen):
                chosen = from_exact
        units.update(chosen)
    return units


def _local_units(
    inst: Instance, assignments: list[RequestAssignment], clock: _Clock
) -> list[RequestAssignment]:
    """Stage 3b: units moved one loan at a time where they drive fewer km
    (``solver.units_local``), for the groups too large for the units model."""
    budget = clock.left() * LOCAL_UNITS_SHARE
    if not assignments or clock.stopped():
        return assignments
    tb = inst.timebase
    starts = {a.id: tb.to_minutes(a.start) for a in assignments if a.start is not None}
    found = improve_units(inst, assignments, _kept(inst, starts), time.monotonic() + budget)
    return assignments if found is None else found


def _final_units(
    inst: Instance,
    groups: list[TypeGroup],
    assignments: list[RequestAssignment],
    options: SolveOptions,
    clock: _Clock,
    budget: float,
) -> list[RequestAssignment] | None:
    """Stage 4: units re-chosen by CP-SAT per type group for km, times kept.

    Returns:
        The assignments with new units, or None if stopped before any group.
    """
    if budget < 0.5:
        return None
    tb = inst.timebase
    by_id = {a.id: a for a in assignments}
    starts = {a.id: tb.to_minutes(a.start) for a in assignments}  # type: ignore[arg-type]
    current = {(a.id, i): la.units for a in assignments for i, la in enumerate(a.lines) if la.units}
    kept = _kept(inst, starts)
    deadline = time.monotonic() + budget
    unit_groups = [
        (types, loans)
        for types in unit_type_groups(inst)
        if (loans := make_loans(inst, types, starts, kept))
    ]
    sizes = [float(len(loans)) for _, loans in unit_groups]
    changed = False
    for index, (_, loans) in enumerate(unit_groups):
        if clock.stopped():
            break
        literals = sum(len(ln.units) for ln in loans)
        if literals > MAX_UNIT_LITERALS or deadline - time.monotonic() < 0.2 + literals / 20_000:
            logger.debug("units group of %d loans, %d literals skipped", len(loans), literals)
            continue  # too large to build in time: the nearest-first units stay
        hint = {(ln.request, ln.line): current[(ln.request, ln.line)] for ln in loans}
        model = UnitsModel(inst, loans, serve_all=True)
        model.hint(hint)
        seconds = share_time(sizes, deadline - time.monotonic(), index)
        found, results = model.solve(max(seconds, 0.05), options)
        logger.debug(
            "units group of %d loans, %d literals, %.2f s: %s",
            len(loans),
            literals,
            seconds,
            results,
        )
        if found is None or _served_count(found) < _served_count(hint):
            continue
        changed = True
        for rid in {ln.request for ln in loans}:
            a = by_id[rid]
            if a.id not in {r for r, _ in found}:
                del by_id[rid]
                continue
            lines = tuple(
                replace(la, units=found[(rid, i)]) if (rid, i) in found else la
                for i, la in enumerate(a.lines)
            )
            by_id[rid] = replace(a, lines=lines)
    return list(by_id.values()) if changed else None


def _log_stage(
    problem: Problem, clock: _Clock, assignments: list[RequestAssignment], stage: str
) -> None:
    """Logs when a stage ended and the plan's metrics then (at debug level only)."""
    if logger.isEnabledFor(logging.DEBUG):
        metrics = _metrics(problem, assignments)
        logger.debug("%s done at %.1f s: %s", stage, clock.elapsed(), metrics)


def _final_draws(
    inst: Instance,
    problem: Problem,
    assignments: list[RequestAssignment],
    key: tuple[float, ...],
    options: SolveOptions,
    clock: _Clock,
) -> list[RequestAssignment]:
    """Stage 5: pool draws re-chosen for km (``solver.pools``), kept only if better.

    Args:
        key: the lexicographic objective of ``assignments`` (``_key``).
    """
    budget = clock.left() * DRAWS_SHARE
    if not assignments or budget < MIN_DRAWS_SECONDS or clock.stopped():
        return assignments
    from solver.check import assignment_changed

    kept = {
        a.id
        for a in assignments
        if a.id in inst.previous and not assignment_changed(inst.previous[a.id], a)
    }
    found = improve_draws(inst, assignments, kept, options, budget)
    if found is None or _key_of(problem, found) >= key:
        return assignments
    return found


def _frozen(inst: Instance, assignments: list[RequestAssignment]) -> set[str]:
    """Requests not to move: locked, or served exactly as in ``previous``."""
    from solver.check import assignment_changed

    frozen = {rid for rid, rd in inst.reqs.items() if rd.request.locked is not None}
    for a in assignments:
        prev = inst.previous.get(a.id)
        if prev is not None and not assignment_changed(prev, a):
            frozen.add(a.id)
    return frozen


def _metrics(problem: Problem, assignments: list[RequestAssignment]) -> Metrics | None:
    """The metrics of valid assignments, or None when they break a rule."""
    from solver.check import check_assignments, compute_metrics

    by_id = {a.id: a for a in assignments}
    ordered = [
        by_id.get(r.id) or RequestAssignment(id=r.id, served=False, reason="-")
        for r in problem.requests
    ]
    if check_assignments(problem, ordered):
        return None
    return compute_metrics(problem, ordered)


def _key_of(problem: Problem, assignments: list[RequestAssignment]) -> tuple[float, ...]:
    m = _metrics(problem, assignments)
    if m is None:
        return (float("inf"),)
    return (-m.served_value, m.changed, m.shift_minutes, m.km)


def _served_count(units: Mapping[tuple[str, int], tuple[str, ...]]) -> int:
    return len({rid for rid, _ in units})


def _assemble(
    inst: Instance,
    dated: Mapping[str, Dated],
    units: Mapping[tuple[str, int], tuple[str, ...]],
) -> list[RequestAssignment]:
    """Assignments of the requests whose every line got units or draws."""
    out = []
    tb = inst.timebase
    for rid, d in dated.items():
        request = inst.reqs[rid].request
        if request.locked is not None:
            out.append(request.locked)
            continue
        lines = []
        for index, line in enumerate(request.lines):
            if inst.problem.is_pooled(line.type):
                draws = tuple(Draw(p, q) for p, q in d.draws[index])
                lines.append(LineAssignment(line.type, pools=draws))
            else:
                got = units.get((rid, index))
                if got is None:
                    break
                lines.append(LineAssignment(line.type, units=tuple(got)))
        else:
            start = tb.to_datetime(d.start, like=request.start)
            end = tb.to_datetime(d.start + inst.reqs[rid].duration, like=request.end)
            out.append(RequestAssignment(rid, True, start, end, tuple(lines)))
    return out


def _checked(
    problem: Problem,
    assignments: list[RequestAssignment],
    clock: _Clock,
    sha: str,
    upper: float,
) -> Plan | None:
    """The plan built from ``assignments``, or None if it breaks a rule."""
    try:
        plan = build_plan(
            problem,
            assignments,
            strategy=STRATEGY,
            status=Status.FEASIBLE,
            seconds=clock.elapsed(),
            problem_sha256=sha,
            explain_seconds=min(5.0, max(0.5, clock.left())),
        )
    except InvalidPlanError:
        return None
    return _with_bound(plan, upper)


def _with_bound(plan: Plan, upper: float) -> Plan:
    from dataclasses import replace

    m = plan.metrics
    upper = max(upper, m.served_value)  # a valid plan's value is a lower bound on the optimum
    proven = m.served_value >= upper and m.changed == 0 and m.shift_minutes == 0 and m.km == 0
    bound = (float(upper), 0.0, 0.0, 0.0)
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    return replace(plan, status=status, solver=replace(plan.solver, strategy=STRATEGY, bound=bound))


def _key(item: Plan | Metrics) -> tuple[float, ...]:
    """The lexicographic objective as a tuple to minimise."""
    m = item.metrics if isinstance(item, Plan) else item
    return (-m.served_value, m.changed, m.shift_minutes, m.km)


def _better(plan: Plan | None, greedy: Plan | None) -> Plan | None:
    if plan is None:
        return greedy
    if greedy is None or _key(plan) <= _key(greedy):
        return plan
    return greedy


def _report(
    options: SolveOptions, clock: _Clock, plan: Plan | None, bound: float | None, message: str
) -> None:
    if options.on_progress is None or plan is None:
        return
    options.on_progress(
        Progress(clock.elapsed(), plan.metrics.served_value, plan.metrics.km, bound, message)
    )
