"""The dates stage's batches of independent parts, solved one by one or in processes.

Parts of :mod:`solver.decompose` share no unit nor pool at any instant, so the
batches of the dates stage can be solved in separate processes. With
``workers`` of two or more, each batch is sent to a pool of ``workers``
processes (started with *spawn*, so nothing but pure data crosses: the
problem once per process, then per batch its request ids, hints and seconds),
each solving with one CP-SAT worker. The results are plain ``Dated`` records.
A batch that does not come back in time keeps its hinted dates.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from solver.dates import Dated, DatesModel
from solver.exact import EXACT_LIMIT, ExactUnits, exact_literals
from solver.instance import Instance
from solver.lexsolve import solve_levels
from solver.options import SolveOptions
from solver.padding import travel_pads
from solver.plan import RequestAssignment
from solver.problem import Problem
from solver.windows import dated_from_assignment, solve_by_windows

LARGE_PART = 800  # parts with more requests are solved window by window
# Below this, one process whose CP-SAT searches each batch with every worker
# does as well: on year-1 at 60 s (a 40 s dates stage, 2 workers) processes
# ended at 5,435-5,439 of value against 5,437-5,441 without them.
MIN_PARALLEL_SECONDS = 120.0

Units = dict[tuple[str, int], tuple[str, ...]]


@dataclass(frozen=True)
class Batch:
    """One batch of parts to date: its parts' request ids and its seconds."""

    parts: tuple[tuple[str, ...], ...]
    seconds: float

    @property
    def request_ids(self) -> list[str]:
        return [r for part in self.parts for r in part]


def hinted(
    inst: Instance, rids: Sequence[str], hints: Mapping[str, RequestAssignment]
) -> tuple[dict[str, Dated], Units]:
    """Dates and units of the hinted assignments of ``rids`` that fit their windows."""
    current: dict[str, Dated] = {}
    units: Units = {}
    for rid in rids:
        hint = hints.get(rid)
        dated_hint = dated_from_assignment(inst, hint) if hint is not None else None
        if hint is not None and dated_hint is not None:
            current[rid] = dated_hint
            for i, la in enumerate(hint.lines):
                if la.units:
                    units[(rid, i)] = la.units
    return current, units


def date_batch(
    inst: Instance,
    batch: Batch,
    hints: Mapping[str, RequestAssignment],
    options: SolveOptions,
) -> tuple[dict[str, Dated], Units]:
    """Dates one batch: which of its requests are served, when, with what.

    Returns:
        The served requests, and the units of those the exact model (or the
        hint, for window-by-window parts) gave.
    """
    rids = batch.request_ids
    seconds = batch.seconds
    current, current_units = hinted(inst, rids, hints)
    started = time.monotonic()
    pads: dict[str, int] = {}
    if len(rids) > LARGE_PART:
        for part in batch.parts:
            pads.update(travel_pads(inst, part))
        found = solve_by_windows(inst, rids, pads, current, options, seconds * 0.7, current_units)
        left = seconds - (time.monotonic() - started)
        found = solve_by_windows(
            inst, rids, pads, found, options, left, current_units or None, shifts_only=True
        )
        return found, current_units
    exact = exact_literals(inst, rids) <= EXACT_LIMIT
    if not exact:
        for part in batch.parts:
            pads.update(travel_pads(inst, part))
    model = DatesModel(inst, rids, pads)
    extra = ExactUnits(model) if exact else None
    model.hint(hints)
    if extra is not None:
        extra.hint(hints)
    values, _ = solve_levels(model.model, model.levels(), max(seconds, 0.05), options)
    found = model.read(values) if values is not None else {}
    if _value(inst, found) < _value(inst, current):
        return current, {}
    units = extra.read(values) if extra is not None and values is not None else {}
    return found, units


def _value(inst: Instance, dated: Mapping[str, Dated]) -> int:
    return sum(inst.reqs[r].value for r in dated)


# -- processes ------------------------------------------------------------------

_INSTANCE: Instance | None = None


def _start(problem: Problem) -> None:
    global _INSTANCE
    _INSTANCE = Instance(problem)


def _run(
    batch: Batch, hints: dict[str, RequestAssignment], options: SolveOptions
) -> tuple[dict[str, Dated], Units]:
    assert _INSTANCE is not None
    return date_batch(_INSTANCE, batch, hints, options)


def can_fork() -> bool:
    """Whether this process may start worker processes (a daemon, e.g. a Celery worker, may not)."""
    return not multiprocessing.current_process().daemon


def date_in_processes(
    inst: Instance,
    batches: Sequence[Batch],
    hints: Mapping[str, RequestAssignment],
    options: SolveOptions,
    deadline: float,
) -> list[tuple[dict[str, Dated], Units]]:
    """Dates every batch in ``options.workers`` processes, one CP-SAT worker each.

    The longest batches go first. A batch whose result is not back at
    ``deadline`` (plus a second) keeps its hinted dates.
    """
    sub = replace(options, workers=1, on_progress=None, should_stop=None)
    context = multiprocessing.get_context("spawn")
    order = sorted(range(len(batches)), key=lambda i: -batches[i].seconds)
    results: list[tuple[dict[str, Dated], Units] | None] = [None] * len(batches)
    try:
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=options.workers,
            mp_context=context,
            initializer=_start,
            initargs=(inst.problem,),
        ) as pool:
            futures = {}
            for i in order:
                rids = batches[i].request_ids
                own = {r: hints[r] for r in rids if r in hints}
                futures[pool.submit(_run, batches[i], own, sub)] = i
            try:
                for future in concurrent.futures.as_completed(
                    futures, timeout=max(0.0, deadline - time.monotonic()) + 1.0
                ):
                    results[futures[future]] = future.result()
            except concurrent.futures.TimeoutError:
                for future in futures:
                    future.cancel()
    except (OSError, RuntimeError, concurrent.futures.process.BrokenProcessPool):
        # No worker processes on this host after all: the batches keep their hinted dates.
        pass
    out = []
    for i, result in enumerate(results):
        if result is None:
            current, _ = hinted(inst, batches[i].request_ids, hints)
            result = (current, {})
        out.append(result)
    return out
