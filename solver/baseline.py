"""Two non-optimising strategies: the booking tool's rule and a strong greedy.

``solve_fcfs`` decides as a conventional booking tool does, the reference
the optimiser is measured against: locked requests exactly as locked, then
requests in ``submitted_at`` order (ties by id), each at its desired dates
(never shifted), with the first free units in id order (the line's own type
first, then its substitutes) and pooled lines drawn from the pools in id order
(a line may be split across pools). A request is served whole or not at all.

``solve_greedy`` is the honest second reference: locked requests, then the
previous plan's assignments that still fit, then the others by priority
value (highest first, then ``submitted_at``, then id). Each is tried at its
desired dates, then at the smallest shifts inside its window: whole days and
the minute-precise gaps left by other loans, pools and blackouts. Among the
feasible choices at the smallest shift it takes the units and pools that add
the fewest km (own type before substitutes, so substitutes stay free for the
requests that need them).

Both finish through ``solver.assemble.build_plan``: every plan is checked,
explained and measured the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from solver.assemble import build_plan
from solver.occupancy import Occupancy, sorted_shifts
from solver.options import Progress, SolveOptions
from solver.plan import Draw, LineAssignment, Plan, RequestAssignment, Status
from solver.problem import Line, Problem, Request

DAY = 24 * 60  # minutes
MAX_CANDIDATE_SHIFTS = 160  # per request; keeps unservable requests cheap on big instances

# A chooser books one line at [start, end) and returns the line's assignment
# and the km it adds, or None (booking nothing) when the line cannot be served.
Chooser = Callable[[Occupancy, Request, Line, int, int], tuple[LineAssignment, float] | None]


def solve_fcfs(problem: Problem, options: SolveOptions, problem_sha256: str = "") -> Plan:
    """First come, first served, as a conventional booking tool decides.

    Args:
        problem: the problem to plan.
        options: only ``should_stop`` is used (the strategy takes well under
            a second per thousand requests).
        problem_sha256: the problem file's hash, copied into the plan.

    Returns:
        A checked plan with status ``BASELINE`` and strategy ``"baseline"``.

    Raises:
        solver.assemble.InvalidPlanError: a bug made an infeasible plan.
    """
    started = time.monotonic()
    occ = Occupancy(problem)
    chosen = _book_locked(occ)
    order = sorted(
        (r for r in problem.requests if r.locked is None),
        key=lambda r: (occ.minutes(r.submitted_at), r.id),
    )
    for request in order:
        if options.should_stop is not None and options.should_stop():
            break
        placed = place(occ, request, 0, first_free_line)
        if placed is not None:
            chosen[request.id] = placed[0]
    return _finish(problem, options, chosen, "baseline", started, problem_sha256)


def solve_greedy(problem: Problem, options: SolveOptions, problem_sha256: str = "") -> Plan:
    """Priority-first greedy with shifts and nearest units and pools.

    Args:
        problem: the problem to plan.
        options: ``time_limit_seconds`` bounds the search for shifts (past
            it, remaining requests are only tried at their desired dates);
            ``should_stop`` ends the placement early.
        problem_sha256: the problem file's hash, copied into the plan.

    Returns:
        A checked plan with status ``BASELINE`` and strategy ``"greedy"``.

    Raises:
        solver.assemble.InvalidPlanError: a bug made an infeasible plan.
    """
    started = time.monotonic()
    deadline = started + 0.8 * options.time_limit_seconds
    occ = Occupancy(problem)
    chosen = _book_locked(occ)
    chosen.update(keep_previous(occ, problem, skip=chosen))
    order = sorted(
        (r for r in problem.requests if r.id not in chosen),
        key=lambda r: (-problem.value_of(r), occ.minutes(r.submitted_at), r.id),
    )
    for request in order:
        if options.should_stop is not None and options.should_stop():
            break
        assignment = place_best(occ, request, search_shifts=time.monotonic() < deadline)
        if assignment is not None:
            chosen[request.id] = assignment
    return _finish(problem, options, chosen, "greedy", started, problem_sha256)


def _book_locked(occ: Occupancy) -> dict[str, RequestAssignment]:
    """Books every locked request exactly as locked (the loader checked them)."""
    chosen: dict[str, RequestAssignment] = {}
    for request in occ.problem.requests:
        if request.locked is not None:
            locked = request.locked
            if locked.id != request.id or not locked.served:
                locked = RequestAssignment(
                    id=request.id,
                    served=True,
                    start=locked.start,
                    end=locked.end,
                    lines=locked.lines,
                )
            occ.add_assignment(locked)
            chosen[request.id] = locked
    return chosen


def keep_previous(
    occ: Occupancy, problem: Problem, skip: Iterable[str] = ()
) -> dict[str, RequestAssignment]:
    """Books the previous plan's served assignments that still fit, highest value first.

    An assignment is kept only if it still matches its request (same lines,
    window, eligible units, pools of the right type) and fits what is
    already booked; the others are left to be placed again.
    """
    kept: dict[str, RequestAssignment] = {}
    if problem.previous is None:
        return kept
    skipped = set(skip)
    candidates = [
        a
        for a in problem.previous.requests
        if a.served and a.id in problem.request_by_id and a.id not in skipped
    ]
    candidates.sort(key=lambda a: (-problem.value_of(problem.request_by_id[a.id]), a.id))
    for assignment in candidates:
        if assignment.id not in kept and occ.fits_assignment(assignment):
            clean = RequestAssignment(
                id=assignment.id,
                served=True,
                start=assignment.start,
                end=assignment.end,
                lines=assignment.lines,
            )
            occ.add_assignment(clean)
            kept[assignment.id] = clean
    return kept


def place(
    occ: Occupancy, request: Request, shift: int, choose: Chooser
) -> tuple[RequestAssignment, float] | None:
    """Books a whole request shifted by ``shift`` minutes, line by line, or nothing.

    Later lines see the units and draws of earlier ones, so two lines never
    share a unit nor overdraw a pool. On failure every booking is undone.

    Returns:
        The assignment and the km its units' itineraries and draws add, or
        None when the shifted dates leave the window or the horizon, or a
        line cannot be served (nothing stays booked).
    """
    base_start, base_end, lo, hi = occ.window(request)
    if not lo <= shift <= hi:  # outside the window or the horizon (spec rule 1)
        return None
    start, end = base_start + shift, base_end + shift
    lines: list[LineAssignment] = []
    km = 0.0
    for line in request.lines:
        result = choose(occ, request, line, start, end)
        if result is None:
            _unbook(occ, request, start, end, lines)
            return None
        lines.append(result[0])
        km += result[1]
    start_dt, end_dt = occ.to_datetime(request, shift)
    assignment = RequestAssignment(
        id=request.id, served=True, start=start_dt, end=end_dt, lines=tuple(lines)
    )
    return assignment, km


def _unbook(
    occ: Occupancy, request: Request, start: int, end: int, lines: Iterable[LineAssignment]
) -> None:
    for line in lines:
        for unit_id in line.units:
            occ.units[unit_id].remove(start, end, request.site, request.id)
        for draw in line.pools:
            occ.pools[draw.pool].add(start, end, -draw.quantity)


def first_free_line(
    occ: Occupancy, request: Request, line: Line, start: int, end: int
) -> tuple[LineAssignment, float] | None:
    """The booking tool's choice: first free units in id order, pools in id order."""
    problem = occ.problem
    if problem.is_pooled(line.type):
        free = [
            (pool_id, occ.pools[pool_id].free(start, end))
            for pool_id in occ.pool_candidates(line.type)
        ]
        return _draw(occ, request, line, start, end, free)
    units: list[str] = []
    km = 0.0
    for unit_id, _ in occ.unit_candidates(line.type):
        calendar = occ.units[unit_id]
        if calendar.fits(start, end, request.site):
            km += calendar.added_km(start, end, request.site)
            units.append(unit_id)
            if len(units) == line.quantity:
                break
    return _take_units(occ, request, line, start, end, units, km)


def nearest_line(
    occ: Occupancy, request: Request, line: Line, start: int, end: int
) -> tuple[LineAssignment, float] | None:
    """The greedy's choice: units and pools that add the fewest km.

    Units of the line's own type come before substitutes whatever the km.
    One pool that can cover the whole line is preferred to a split (each draw
    costs a round trip); otherwise the nearest pools are drawn from in turn.
    """
    problem = occ.problem
    travel = occ.travel
    if problem.is_pooled(line.type):
        free = [
            (pool_id, occ.pools[pool_id].free(start, end))
            for pool_id in occ.pool_candidates(line.type)
        ]
        by_km = sorted(
            free, key=lambda pf: (travel.km(problem.pool_by_id[pf[0]].site, request.site), pf[0])
        )
        whole = [pf for pf in by_km if pf[1] >= line.quantity]
        return _draw(occ, request, line, start, end, whole[:1] or by_km)
    ranked: list[tuple[bool, float, str]] = []
    for unit_id, substitute in occ.unit_candidates(line.type):
        calendar = occ.units[unit_id]
        if calendar.fits(start, end, request.site):
            ranked.append((substitute, calendar.added_km(start, end, request.site), unit_id))
    ranked.sort()
    best = ranked[: line.quantity]
    return _take_units(
        occ, request, line, start, end, [u for _, _, u in best], sum(k for _, k, _ in best)
    )


def _take_units(
    occ: Occupancy,
    request: Request,
    line: Line,
    start: int,
    end: int,
    units: list[str],
    km: float,
) -> tuple[LineAssignment, float] | None:
    if len(units) < line.quantity:
        return None
    for unit_id in units:
        occ.units[unit_id].add(start, end, request.site, request.id)
    return LineAssignment(type=line.type, units=tuple(units)), km


def _draw(
    occ: Occupancy,
    request: Request,
    line: Line,
    start: int,
    end: int,
    free: list[tuple[str, int]],
) -> tuple[LineAssignment, float] | None:
    """Draws ``line.quantity`` from the pools in the given order, or nothing."""
    if sum(max(0, f) for _, f in free) < line.quantity:
        return None
    left = line.quantity
    draws: list[Draw] = []
    km = 0.0
    for pool_id, available in free:
        if left == 0:
            break
        take = min(left, available)
        if take <= 0:
            continue
        occ.pools[pool_id].add(start, end, take)
        draws.append(Draw(pool=pool_id, quantity=take))
        km += 2 * occ.travel.km(occ.problem.pool_by_id[pool_id].site, request.site)
        left -= take
    return LineAssignment(type=line.type, pools=tuple(draws)), km


def candidate_shifts(occ: Occupancy, request: Request) -> list[int]:
    """Shifts worth trying for ``request``, smallest absolute shift first.

    Zero, whole days, the window's ends, and the shifts that make the loan
    start just when an eligible unit or pool frees up, or end just in time
    for a unit's next loan (with turnaround and travel), or next to a
    blackout. At most ``MAX_CANDIDATE_SHIFTS``.
    """
    start, end, lo, hi = occ.window(request)
    shifts = [0, lo, hi]
    shifts += [k * DAY for k in range(-(-lo // DAY) if lo < 0 else 0, hi // DAY + 1)]
    shifts += [-k * DAY for k in range(1, -lo // DAY + 1)]
    first, last = start + lo, end + hi
    minutes = occ.travel.minutes
    site = request.site
    for line in request.lines:
        if occ.problem.is_pooled(line.type):
            for pool_id in occ.pool_candidates(line.type):
                profile = occ.pools[pool_id]
                for moment in profile.breakpoints(first, last + profile.turnaround):
                    shifts.append(moment - start)
                    shifts.append(moment - profile.turnaround - end)
            continue
        for unit_id, _ in occ.unit_candidates(line.type):
            calendar = occ.units[unit_id]
            ta = calendar.turnaround
            for loan in calendar.loans_near(first, last + ta):
                shifts.append(loan.end + ta + minutes(loan.site, site) - start)
                shifts.append(loan.start - minutes(site, loan.site) - ta - end)
            for b_start, b_end in calendar.blackouts:
                if b_start <= last + ta and b_end >= first:
                    shifts.append(b_end - start)
                    shifts.append(b_start - ta - end)
    return sorted_shifts(shifts, lo, hi)[:MAX_CANDIDATE_SHIFTS]


def place_best(
    occ: Occupancy, request: Request, search_shifts: bool = True
) -> RequestAssignment | None:
    """Books ``request`` at the smallest feasible shift, fewest km among equal shifts.

    Returns:
        The booked assignment, or None (nothing booked).
    """
    placed = place(occ, request, 0, nearest_line)
    if placed is not None:
        return placed[0]
    if not search_shifts:
        return None
    shifts = candidate_shifts(occ, request)
    for index, shift in enumerate(shifts):
        if shift == 0:
            continue
        placed = place(occ, request, shift, nearest_line)
        if placed is None:
            continue
        # The opposite shift has the same size: keep whichever adds fewer km.
        if index + 1 < len(shifts) and shifts[index + 1] == -shift:
            occ.remove_assignment(placed[0])
            other = place(occ, request, -shift, nearest_line)
            if other is not None and other[1] < placed[1]:
                return other[0]
            if other is not None:
                occ.remove_assignment(other[0])
            placed = place(occ, request, shift, nearest_line)
            if placed is None:  # it fitted a moment ago: the calendars are corrupt
                raise RuntimeError(f"{request.id} no longer fits at shift {shift}")
        return placed[0]
    return None


def _finish(
    problem: Problem,
    options: SolveOptions,
    chosen: dict[str, RequestAssignment],
    strategy: str,
    started: float,
    problem_sha256: str,
) -> Plan:
    plan = build_plan(
        problem,
        list(chosen.values()),
        strategy=strategy,
        status=Status.BASELINE,
        seconds=time.monotonic() - started,
        problem_sha256=problem_sha256,
    )
    if options.on_progress is not None:
        options.on_progress(
            Progress(
                elapsed_seconds=time.monotonic() - started,
                served_value=plan.metrics.served_value,
                km=plan.metrics.km,
                bound=None,
                message=strategy,
            )
        )
    return plan
