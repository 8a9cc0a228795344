"""Delivery rounds on the peak days of generated seasons, against other routing engines.

For each season (``bench.generate``), the loan plan is made first-come-first-served
(``solver`` ``baseline``), then each served loan of equipment that trucks carry
(barriers, chairs, tables, tents, sound, generators...) gives a delivery on the
working day before it starts and a collection on the working day after it ends,
08:00-16:00. The days with the most stops are planned by:

- our OR-Tools routing model (``solver.rounds``), and the same model searched as
  before groups of rounds were replanned (guided local search of the whole day);
- one trip per stop, depot -> site -> depot from the nearest depot (the loan
  optimiser's transport proxy);
- a nearest-neighbour round per truck, timed by our schedule;
- PyVRP and VROOM (``pip install pyvrp pyvroom``; benchmark only, skipped with a
  note when not installed), given the same stops, trucks, capacities, time windows
  and integer-minute travel times, minimising metres.

Every engine's orders are timed by ``solver.rounds.schedule`` and the plan goes
through ``solver.rounds.check``; violations are counted per rule. PyVRP has no driver
breaks: its trucks get a shift shortened by the break, and our schedule then places
the break. Writes the "## Delivery rounds" section of BENCHMARKS.md, keeping the rest::

    python -m bench.rounds --seconds 20
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.generate import generate
from bench.run import machine
from solver import solve
from solver.io import problem_from_json
from solver.options import SolveOptions
from solver.rounds.check import check_rounds
from solver.rounds.model import (
    Break,
    Dropped,
    DropReason,
    Item,
    RoundsPlan,
    RoundsProblem,
    Route,
    Site,
    SolverRun,
    Stop,
    StopKind,
    Truck,
    Visit,
    Window,
)
from solver.rounds.routing import RoundsOptions, assemble_plan, make_route, solve_rounds
from solver.rounds.schedule import load_profile, schedule
from solver.rounds.screen import screen
from solver.rounds.travel import RoundsTravel

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Delivery rounds"
ZONE = ZoneInfo("Europe/Paris")
LOAD_UNIT = "tenths of a pallet place"
# Load of one piece, in tenths of a pallet place; types not listed drive or are towed.
LOAD_PER_PIECE: dict[str, float] = {
    "barriere": 0.5,
    "chaise": 0.2,
    "table": 1.0,
    "tente-3x3": 5.0,
    "grille-expo": 1.0,
    "isoloir": 2.5,
    "urne": 1.0,
    "sono-concert": 20.0,
    "sono-portable": 5.0,
    "groupe-20kva": 10.0,
    "groupe-60kva": 30.0,
    "broyeur": 15.0,
    "desherbeur": 5.0,
}
CAPACITY = 160  # a 19 t rigid truck with a tail lift: 16 pallet places
SERVICE = (10, 0.3)  # minutes per stop, minutes per tenth of a pallet place
DAY = ((8, 0), (16, 0))  # the stop window on a working day
SHIFT = ((7, 30), (16, 30))
BREAK = ((11, 30), (13, 30), 45)
SEASONS = (("summer", 1, 3), ("department", 1, 4))  # size, seed, trucks per depot
DAYS_PER_SEASON = 2
GLS_ONLY = "ours, whole-day GLS only (the previous search)"


@dataclass
class Outcome:
    engine: str
    plan: RoundsPlan | None
    seconds: float
    note: str = ""
    violations: Counter[str] | None = None


# ---------------------------------------------------------------------------
# Day instances


def _working_day(day: date, step: int) -> date:
    day += timedelta(days=step)
    while day.weekday() >= 5:
        day += timedelta(days=step)
    return day


def _at(day: date, hm: tuple[int, int]) -> datetime:
    return datetime(day.year, day.month, day.day, hm[0], hm[1], tzinfo=ZONE)


def derive_days(size: str, seed: int, trucks_per_depot: int) -> dict[date, RoundsProblem]:
    """One rounds problem per working day of a generated season's FCFS loan plan."""
    document = generate(size, seed)
    problem = problem_from_json(json.dumps(document))
    plan = solve(problem, "baseline", SolveOptions(time_limit_seconds=60, workers=1), "")
    sites = {s.id: s for s in problem.sites}
    depots = [s for s in problem.sites if s.commune is None]
    stops_by_day: dict[date, list[Stop]] = {}
    for assignment in plan.requests:
        if not assignment.served or assignment.start is None or assignment.end is None:
            continue
        request = problem.request_by_id[assignment.id]
        items = []
        for line in request.lines:
            per_piece = LOAD_PER_PIECE.get(line.type)
            if per_piece is not None:
                load = math.ceil(line.quantity * per_piece - 1e-9)
                items.append(Item(line.type, line.quantity, load))
        if not items:
            continue
        load = sum(i.load for i in items)
        minutes = SERVICE[0] + math.ceil(SERVICE[1] * load - 1e-9)
        for kind, day in (
            (StopKind.DELIVERY, _working_day(assignment.start.astimezone(ZONE).date(), -1)),
            (StopKind.COLLECTION, _working_day(assignment.end.astimezone(ZONE).date(), 1)),
        ):
            stops_by_day.setdefault(day, []).append(
                Stop(
                    f"{kind.value[0]}-{assignment.id}",
                    kind,
                    request.site,
                    Window(_at(day, DAY[0]), _at(day, DAY[1])),
                    tuple(items),
                    minutes,
                    label=request.commune,
                )
            )
    days = {}
    for day, stops in stops_by_day.items():
        used = {s.site for s in stops} | {d.id for d in depots}
        trucks = [
            Truck(
                f"{depot.id}-{n}@{day}",
                f"Porteur {n} ({depot.name})",
                depot.id,
                CAPACITY,
                Window(_at(day, SHIFT[0]), _at(day, SHIFT[1])),
                Break(_at(day, BREAK[0]), _at(day, BREAK[1]), BREAK[2]),
            )
            for depot in depots
            for n in range(1, trucks_per_depot + 1)
        ]
        days[day] = RoundsProblem(
            timezone="Europe/Paris",
            load_unit=LOAD_UNIT,
            sites=tuple(Site(s.id, s.name, s.lat, s.lon) for s in sites.values() if s.id in used),
            trucks=tuple(trucks),
            stops=tuple(stops),
        )
    return days


# ---------------------------------------------------------------------------
# Engines


def _plan_from_orders(
    problem: RoundsProblem, orders: dict[str, list[str]], engine: str, seconds: float, limit: float
) -> RoundsPlan:
    """Our plan for given truck orders: timed by our schedule, unknown stops dropped."""
    travel = RoundsTravel(problem)
    screening = screen(problem, travel)
    routes: list[Route] = []
    served: set[str] = set()
    for truck_id, stop_ids in orders.items():
        if not stop_ids:
            continue
        truck = problem.truck_by_id[truck_id]
        stops = [problem.stop_by_id[s] for s in stop_ids]
        route = make_route(problem, travel, truck, stops) or _untimed_route(
            problem, travel, truck, stops
        )
        routes.append(route)
        served.update(stop_ids)
    screened = {d.stop: d for d in screening.dropped}
    dropped = [
        screened.get(s.id) or Dropped(s.id, DropReason.NOT_ROUTED, f"left out by {engine}")
        for s in problem.stops
        if s.id not in served
    ]
    return assemble_plan(problem, routes, dropped, SolverRun(engine, seconds, limit, 0))


def _untimed_route(
    problem: RoundsProblem, travel: RoundsTravel, truck: Truck, stops: list[Stop]
) -> Route:
    """An order our schedule cannot time: earliest times, no break (the checker says why)."""
    t = problem.minute(truck.shift.start)
    here = truck.depot
    visits = []
    for s in stops:
        t = max(t + travel.minutes(here, s.site), problem.minute(s.window.start))
        visits.append(Visit(s.id, problem.moment(t), problem.moment(t + s.service_minutes)))
        t += s.service_minutes
        here = s.site
    back = t + travel.minutes(here, truck.depot)
    sites = [truck.depot, *(s.site for s in stops), truck.depot]
    km = sum(travel.km(a, b) for a, b in pairwise(sites))
    return Route(
        truck.id,
        truck.shift.start,
        problem.moment(back),
        tuple(visits),
        km,
        load_profile(problem, stops)[0],
    )


def one_trip_km(problem: RoundsProblem) -> float:
    """Depot -> site -> depot per routable stop, from the nearest depot."""
    travel = RoundsTravel(problem)
    eligible = screen(problem, travel).eligible
    depots = {t.depot for t in problem.trucks}
    return sum(
        min(travel.km(d, s.site) + travel.km(s.site, d) for d in depots)
        for s in problem.stops
        if s.id in eligible
    )


def run_ours(problem: RoundsProblem, seconds: float) -> Outcome:
    started = time.monotonic()
    plan = solve_rounds(problem, RoundsOptions(seconds, 0))
    return Outcome("OR-Tools routing (ours)", plan, time.monotonic() - started)


def run_ours_gls(problem: RoundsProblem, seconds: float) -> Outcome:
    """Our model searched as before groups were replanned: whole-day GLS to the limit."""
    started = time.monotonic()
    plan = solve_rounds(problem, RoundsOptions(seconds, 0, groups=False))
    return Outcome(GLS_ONLY, plan, time.monotonic() - started)


def run_nearest(problem: RoundsProblem, seconds: float) -> Outcome:
    """Each truck in turn: the nearest stop that still fits, until none does.

    "Fits" is first tested quickly (load, window, back before the end of the day
    less the break), then confirmed with our schedule, break included.
    """
    started = time.monotonic()
    travel = RoundsTravel(problem)
    left = [s for s in problem.stops if s.id in screen(problem, travel).eligible]
    orders: dict[str, list[str]] = {}
    for truck in problem.trucks:
        order: list[Stop] = []
        here, clock = truck.depot, problem.minute(truck.shift.start)
        pause = truck.driver_break.minutes if truck.driver_break else 0
        end = problem.minute(truck.shift.end) - pause
        while True:
            chosen = None
            for stop in sorted(left, key=lambda s: travel.km(here, s.site)):
                begin = max(
                    clock + travel.minutes(here, stop.site), problem.minute(stop.window.start)
                )
                if begin > problem.minute(stop.window.end):
                    continue
                if begin + stop.service_minutes + travel.minutes(stop.site, truck.depot) > end:
                    continue
                trial = [*order, stop]
                start, after = load_profile(problem, trial)
                if max([start, *after]) > truck.capacity:
                    continue
                if schedule(problem, travel, truck, trial) is None:
                    continue
                chosen, clock = stop, begin + stop.service_minutes
                break
            if chosen is None:
                break
            order.append(chosen)
            left.remove(chosen)
            here = chosen.site
        orders[truck.id] = [s.id for s in order]
    seconds_used = time.monotonic() - started
    plan = _plan_from_orders(problem, orders, "nearest neighbour", seconds_used, 0)
    return Outcome("nearest neighbour", plan, seconds_used)


def _matrices(problem: RoundsProblem, sites: list[str]) -> tuple[list[list[int]], list[list[int]]]:
    """(metres, minutes) between ``sites``, from our travel model."""
    travel = RoundsTravel(problem)
    metres = [[round(travel.km(a, b) * 1000) for b in sites] for a in sites]
    minutes = [[travel.minutes(a, b) for b in sites] for a in sites]
    return metres, minutes


def run_pyvrp(problem: RoundsProblem, seconds: float) -> Outcome:
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    started = time.monotonic()
    eligible = screen(problem, RoundsTravel(problem)).eligible
    stops = [s for s in problem.stops if s.id in eligible]
    depots = sorted({t.depot for t in problem.trucks})
    sites = [*depots, *(s.site for s in stops)]
    metres, minutes = _matrices(problem, sites)
    model = Model()
    locations = [model.add_location(i, 0) for i in range(len(sites))]
    depot_of = {d: model.add_depot(locations[i]) for i, d in enumerate(depots)}
    for truck in problem.trucks:
        brk = truck.driver_break.minutes if truck.driver_break else 0
        start, end = problem.minute(truck.shift.start), problem.minute(truck.shift.end)
        model.add_vehicle_type(
            1,
            capacity=[truck.capacity],
            start_depot=depot_of[truck.depot],
            end_depot=depot_of[truck.depot],
            tw_early=start,
            tw_late=end,
            shift_duration=end - start - brk,
            name=truck.id,
        )
    prize = 10 * max(max(row) for row in metres) + 1000
    for i, stop in enumerate(stops):
        amount = [stop.load]
        model.add_client(
            locations[len(depots) + i],
            delivery=amount if stop.kind is StopKind.DELIVERY else [0],
            pickup=amount if stop.kind is StopKind.COLLECTION else [0],
            service_duration=stop.service_minutes,
            tw_early=problem.minute(stop.window.start),
            tw_late=problem.minute(stop.window.end),
            prize=prize,
            required=False,
            name=stop.id,
        )
    for a, la in enumerate(locations):
        for b, lb in enumerate(locations):
            model.add_edge(la, lb, distance=metres[a][b], duration=minutes[a][b])
    result = model.solve(MaxRuntime(seconds), seed=0, display=False)
    orders: dict[str, list[str]] = {}
    for route in result.best.routes():
        truck = problem.trucks[route.vehicle_type()]
        orders[truck.id] = [stops[a.idx].id for a in route if a.is_client()]
    used = time.monotonic() - started
    note = "" if result.best.is_feasible() else "PyVRP's best solution is infeasible"
    plan = _plan_from_orders(problem, orders, "PyVRP", used, seconds)
    return Outcome("PyVRP", plan, used, note)


def run_vroom(problem: RoundsProblem, seconds: float) -> Outcome:
    import vroom

    started = time.monotonic()
    eligible = screen(problem, RoundsTravel(problem)).eligible
    stops = [s for s in problem.stops if s.id in eligible]
    depots = sorted({t.depot for t in problem.trucks})
    sites = [*depots, *(s.site for s in stops)]
    metres, minutes = _matrices(problem, sites)
    task = vroom.Input()
    task.set_durations_matrix(
        profile="car", matrix_input=[[m * 60 for m in row] for row in minutes]
    )
    task.set_costs_matrix(profile="car", matrix_input=metres)
    for v, truck in enumerate(problem.trucks):
        start, end = problem.minute(truck.shift.start), problem.minute(truck.shift.end)
        breaks = []
        if truck.driver_break is not None:
            b = truck.driver_break
            breaks.append(
                vroom.Break(
                    v + 1,
                    time_windows=[
                        vroom.TimeWindow(
                            problem.minute(b.earliest) * 60, problem.minute(b.latest) * 60
                        )
                    ],
                    service=b.minutes * 60,
                )
            )
        task.add_vehicle(
            vroom.Vehicle(
                v + 1,
                start=depots.index(truck.depot),
                end=depots.index(truck.depot),
                capacity=[truck.capacity],
                time_window=vroom.TimeWindow(start * 60, end * 60),
                breaks=breaks,
            )
        )
    jobs = []
    for i, stop in enumerate(stops):
        amount = [stop.load]
        jobs.append(
            vroom.Job(
                i + 1,
                location=len(depots) + i,
                delivery=amount if stop.kind is StopKind.DELIVERY else [0],
                pickup=amount if stop.kind is StopKind.COLLECTION else [0],
                default_service=stop.service_minutes * 60,
                time_windows=[
                    vroom.TimeWindow(
                        problem.minute(stop.window.start) * 60,
                        problem.minute(stop.window.end) * 60,
                    )
                ],
            )
        )
    task.add_job(jobs)
    solution = task.solve(
        exploration_level=5, nb_threads=1, timeout=timedelta(seconds=seconds)
    ).to_dict()
    orders: dict[str, list[str]] = {}
    for route in solution["routes"]:
        truck = problem.trucks[route["vehicle"] - 1]
        orders[truck.id] = [stops[s["id"] - 1].id for s in route["steps"] if s["type"] == "job"]
    used = time.monotonic() - started
    plan = _plan_from_orders(problem, orders, "VROOM", used, seconds)
    return Outcome("VROOM", plan, used)


ENGINES: tuple[tuple[str, str | None, Callable[[RoundsProblem, float], Outcome]], ...] = (
    ("OR-Tools routing (ours)", None, run_ours),
    (GLS_ONLY, None, run_ours_gls),
    ("nearest neighbour", None, run_nearest),
    ("PyVRP", "pyvrp", run_pyvrp),
    ("VROOM", "vroom", run_vroom),
)


# ---------------------------------------------------------------------------
# Report


def _row(outcome: Outcome, one_trip: float) -> str:
    if outcome.plan is None:
        return f"| {outcome.engine} | {outcome.note} |" + " |" * 8
    m = outcome.plan.metrics
    v = outcome.violations or Counter()
    timing = sum(v[r] for r in ("time_window", "travel", "driver_day", "break"))
    others = sum(v.values()) - timing - v["capacity"]
    note = f" ({outcome.note})" if outcome.note else ""
    return (
        f"| {outcome.engine}{note} | {m.served}/{m.stops} | {m.km:.1f} "
        f"| {m.km / one_trip:.3f} | {m.trucks_used} | {m.duty_minutes / 60:.1f} "
        f"| {timing} | {v['capacity']} | {others} | {outcome.seconds:.1f} |"
    )


def day_section(
    label: str, problem: RoundsProblem, outcomes: list[Outcome], one_trip: float
) -> list[str]:
    depots = len({t.depot for t in problem.trucks})
    lines = [
        f"### {label} ({len(problem.stops)} stops, {len(problem.trucks)} trucks at "
        f"{depots} depots)",
        "",
        f"One trip per stop (depot -> site -> depot from the nearest depot): {one_trip:.1f} km.",
        "",
        "| engine | served | km | km / one trip per stop | trucks | duty hours "
        "| time-window / day / break violations | capacity violations | other violations "
        "| seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
        "| one trip per stop | | " + f"{one_trip:.1f} | 1.000 | | | | | | |",
    ]
    lines += [_row(o, one_trip) for o in outcomes]
    ours = next((o for o in outcomes if o.engine.endswith("(ours)") and o.plan), None)
    others = [o for o in outcomes if o.engine in ("PyVRP", "VROOM") and o.plan and not o.violations]
    if ours is not None and ours.plan is not None:
        m = ours.plan.metrics
        verdicts = [
            f"routed km / one trip per stop = {m.km / one_trip:.3f} "
            + ("(target <= 0.5: met)" if m.km <= 0.5 * one_trip else "(target <= 0.5: **missed**)")
        ]
        comparable = [o for o in others if o.plan and o.plan.metrics.served == m.served]
        if comparable:
            best = min(comparable, key=lambda o: o.plan.metrics.km if o.plan else math.inf)
            assert best.plan is not None
            gap = m.km / best.plan.metrics.km - 1
            verdicts.append(
                f"vs the better of PyVRP and VROOM ({best.engine}, {best.plan.metrics.km:.1f} km): "
                f"{gap:+.1%} "
                + ("(target <= +3 %: met)" if gap <= 0.03 else "(target <= +3 %: **missed**)")
            )
        elif others:
            verdicts.append(
                "PyVRP and VROOM served a different number of stops: km not compared directly"
            )
        lines += ["", "Ours: " + "; ".join(verdicts) + "."]
    return [*lines, ""]


def _load() -> str:
    """The load averages, or a dash where the system does not tell them."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "-"


def write_section(path: Path, section: str) -> None:
    """Replaces this section of ``path`` (or appends it), keeping everything else."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rounds", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per engine per day")
    parser.add_argument("--days", type=int, default=DAYS_PER_SEASON, help="peak days per season")
    parser.add_argument("-o", "--output", default=str(REPO / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    command = "python -m bench.rounds " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    started = datetime.now(UTC)
    load_at_start = _load()
    lines = [
        SECTION,
        "",
        f"Run on {started:%Y-%m-%d %H:%M} UTC with `{command}`.",
        "",
        *machine(),
        f"- Load average (1, 5, 15 min) at the start: {load_at_start}",
    ]
    versions = []
    skipped = []
    for name, module, _ in ENGINES:
        if module is None:
            continue
        if importlib.util.find_spec(module) is None:
            skipped.append(name)
            print(
                f"{name} is not installed (pip install py{module.removeprefix('py')}): skipped",
                file=sys.stderr,
            )
        else:
            from importlib.metadata import version

            versions.append(f"{name} {version('pyvrp' if module == 'pyvrp' else 'pyvroom')}")
    lines += [
        f"- {', '.join(versions) or 'no competitor installed'}"
        + (f"; not installed, skipped: {', '.join(skipped)}" if skipped else ""),
        f"- Each engine had {args.seconds:g} s per day, one thread, seed 0; the machine (2 "
        "cores) was shared with other work, so seconds are indicative.",
        "- Days: for each generated season, the loan plan is FCFS (`baseline`); each served "
        "loan of truck-carried equipment gives a delivery the working day before it starts "
        "and a collection the working day after it ends, 08:00-16:00; loads in tenths of a "
        "pallet place (a barrier 0.5, a chair 0.2, a table 1, a tent 5, a 20 kVA generator "
        "10...), service 10 min + 0.3 min per tenth. Trucks: 16 pallet places, 07:30-16:30 "
        "with a 45 min break starting 11:30-13:30, cost 1 per km. The days with the most "
        "stops are shown.",
        "- Every engine's orders are timed by our schedule and checked by "
        "`solver.rounds.check`. PyVRP has no driver break: its shifts are shortened by "
        "45 min. Km are ours (haversine x 1.3), for every engine.",
        "",
    ]
    for size, seed, per_depot in SEASONS:
        print(f"{size}-{seed}: deriving the days ...", file=sys.stderr, flush=True)
        days = derive_days(size, seed, per_depot)
        peak = sorted(days, key=lambda d: (-len(days[d].stops), d))[: args.days]
        for day in sorted(peak):
            problem = days[day]
            one_trip = one_trip_km(problem)
            outcomes = []
            for name, module, run in ENGINES:
                if module is not None and importlib.util.find_spec(module) is None:
                    outcomes.append(Outcome(name, None, 0.0, "not installed: skipped"))
                    continue
                print(f"{size}-{seed} {day}: {name} ...", file=sys.stderr, flush=True)
                outcome = run(problem, args.seconds)
                if outcome.plan is not None:
                    outcome.violations = Counter(
                        v.rule for v in check_rounds(problem, outcome.plan)
                    )
                outcomes.append(outcome)
            label = f"{size}-{seed}, {day:%A %d %B %Y}"
            lines += day_section(label, problem, outcomes, one_trip)
            write_section(Path(args.output), "\n".join(lines) + "\n")
    ended = datetime.now(UTC)
    lines += [
        f"Finished at {ended:%H:%M} UTC; load average (1, 5, 15 min) at the end: {_load()}.",
        "",
    ]
    write_section(Path(args.output), "\n".join(lines) + "\n")
    print(f"wrote the delivery rounds section of {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
