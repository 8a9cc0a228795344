"""Large parts solved window by window, each window re-optimised in turn.

A busy type group over a year is one part too large for one model. Its
requests are taken in order of their earliest start, in overlapping windows
of ``WINDOW`` requests; each window is solved by ``solver.dates`` with the
served requests around it kept as they are, and its result replaces the
current one only when it is lexicographically no worse (value, then shift).
Overlap, and a second pass with offset windows when time allows, recover
what a window loses at its borders.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from solver.dates import Dated, DatesModel
from solver.decompose import share_time
from solver.exact import ExactUnits, exact_literals
from solver.instance import Instance
from solver.lexsolve import solve_levels
from solver.options import SolveOptions
from solver.plan import RequestAssignment

WINDOW = 400  # requests per window
WINDOW_EXACT = 1500  # most (line, unit) literals for an exact window
STEP = 300  # requests between window starts (the rest overlaps)


def dated_from_assignment(inst: Instance, a: RequestAssignment) -> Dated | None:
    """The dates-stage view of a served assignment, or None if it does not fit."""
    rd = inst.reqs.get(a.id)
    if rd is None or not a.served or a.start is None:
        return None
    start = inst.timebase.to_minutes(a.start)
    if not rd.lo <= start <= rd.hi or len(a.lines) != len(rd.request.lines):
        return None
    dated = Dated(start)
    for la in a.lines:
        counts: dict[str, int] = {}
        for unit_id in la.units:
            unit = inst.problem.unit_by_id.get(unit_id)
            if unit is None:
                return None
            counts[unit.type] = counts.get(unit.type, 0) + 1
        dated.unit_types.append(counts)
        dated.draws.append([(d.pool, d.quantity) for d in la.pools])
    return dated


def _score(inst: Instance, rids: Sequence[str], dated: Mapping[str, Dated]) -> tuple[int, int]:
    """(-value, shift) of ``rids`` in ``dated``: smaller is better."""
    value = shift = 0
    for rid in rids:
        d = dated.get(rid)
        if d is not None:
            value += inst.reqs[rid].value
            shift += abs(d.start - inst.reqs[rid].start)
    return -value, shift


def solve_by_windows(
    inst: Instance,
    request_ids: Sequence[str],
    pads: Mapping[str, int],
    current: Mapping[str, Dated],
    options: SolveOptions,
    seconds: float,
    units: dict[tuple[str, int], tuple[str, ...]] | None = None,
    shifts_only: bool = False,
) -> dict[str, Dated]:
    """Improves ``current`` (served requests of this part) window by window.

    Args:
        inst: the instance.
        request_ids: the part's requests.
        pads: travel padding per request (see ``solver.dates``).
        current: the starting solution, e.g. from the greedy plan.
        options: workers, seed, ``should_stop``.
        seconds: budget for all windows and passes.

        units: the units of ``current``'s unit-tracked lines, when known for
            all of them: windows small enough are then modelled exactly
            (``solver.exact``, no padding) and this map is updated in place.

        shifts_only: keep which requests are served and only re-time them
            (the dedicated shift stage, once value is settled).

    Returns:
        The part's served requests.
    """
    deadline = time.monotonic() + seconds
    order = sorted(
        (r for r in request_ids if inst.reqs[r].servable),
        key=lambda r: (inst.reqs[r].lo, r),
    )
    best = {r: d for r, d in current.items() if r in set(request_ids)}
    margin = max((pads.get(r, 0) + inst.reqs[r].duration for r in order), default=0)
    for offset in (0,) if shifts_only else (0, STEP // 2):
        starts = list(range(offset, max(len(order) - WINDOW + STEP, 1), STEP))
        if offset and (len(order) <= WINDOW or time.monotonic() > deadline - 0.5):
            break
        sizes = [1.0] * len(starts)
        for index, first in enumerate(starts):
            left = deadline - time.monotonic()
            if left <= 0.05 or (options.should_stop is not None and options.should_stop()):
                return best
            free = order[first : first + WINDOW]
            lo = min(inst.reqs[r].lo for r in free) - margin
            hi = max(inst.reqs[r].hi + inst.reqs[r].duration for r in free) + margin
            free_set = set(free)
            fixed = {
                r: d
                for r, d in best.items()
                if r not in free_set and d.start < hi and d.start + margin + 1440 > lo
            }
            exact = units is not None and exact_literals(inst, [*free, *fixed]) <= WINDOW_EXACT
            model = DatesModel(inst, free, {} if exact else pads, fixed)
            model.hint_dated(best)
            extra = None
            if exact:
                extra = ExactUnits(model)
                extra.fix_units(units, set(fixed))  # type: ignore[arg-type]
                extra.hint_units(units)  # type: ignore[arg-type]
            budget = share_time(sizes, left if offset else left * 0.8, index)
            levels = model.levels()
            if shifts_only:
                for rid in free:
                    if rid in model.vars:
                        model.model.add(model.vars[rid].served == int(rid in best))
                levels = [lv for lv in levels if lv.name != "value"]
            values, _ = solve_levels(model.model, levels, budget, options)
            if values is None:
                continue
            found = {r: d for r, d in model.read(values).items() if r in free_set}
            if _score(inst, free, found) <= _score(inst, free, best):
                for r in free:
                    best.pop(r, None)
                best.update(found)
                if extra is not None and units is not None:
                    for key in [k for k in units if k[0] in free_set]:
                        del units[key]
                    units.update({k: v for k, v in extra.read(values).items() if k[0] in free_set})
                elif units is not None:
                    units.clear()  # padded windows do not choose units: stop modelling exactly
                    units = None
    return best
