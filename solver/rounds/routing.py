"""The rounds optimiser: OR-Tools routing (``pywrapcp``) over the screened stops.

Time base: integer minutes since ``RoundsProblem.origin``. Costs: integer
thousandths of the problem's currency (``cost_per_km`` times metres).

Hard rules (``add_hard_rules``): truck capacity with deliveries loaded at the
depot and collections brought back to it, stop time windows, the driver's day
and break, transfers (collection before delivery, same truck). Soft rules
(``add_soft_rules``): km and hourly cost per truck, fixed cost of a used truck, and a drop
penalty per stop larger than any detour, so that serving more stops always
comes first and km second.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from ortools.constraint_solver import (  # type: ignore[import-untyped]
    pywrapcp,
    routing_enums_pb2,
)

from solver.rounds.lns import Orders, RoundCost, SolveGroup, improve
from solver.rounds.model import (
    Dropped,
    DropReason,
    RoundsMetrics,
    RoundsPlan,
    RoundsProblem,
    Route,
    SolverRun,
    Stop,
    StopKind,
    Truck,
    Visit,
    Window,
)
from solver.rounds.schedule import load_profile, schedule
from solver.rounds.screen import screen
from solver.rounds.travel import RoundsTravel

ENGINE = "ortools-routing"
COST_SCALE = 1000  # internal cost units per unit of currency


@dataclass(frozen=True)
class RoundsOptions:
    """How long to search, with which seed, and how (see ``solve_rounds``)."""

    time_limit_seconds: float = 10.0
    seed: int = 0
    # Replan groups of nearby rounds after a descent of the whole day (``lns.py``);
    # False: guided local search of the whole day until the time limit.
    groups: bool = True
    group_solutions: int = 60  # solutions of the search of a group before it stops
    group_seconds: float = 1.0  # and at most this long


@dataclass
class _Model:
    """The routing model and the tables its rules share."""

    problem: RoundsProblem
    travel: RoundsTravel
    stops: list[Stop]  # node n_depots + i is stops[i]
    node_sites: list[str]  # site of each node; depots first
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time_dim: pywrapcp.RoutingDimension | None = None

    def node_of(self, stop_index: int) -> int:
        return len(self.node_sites) - len(self.stops) + stop_index

    def index_of(self, stop_index: int) -> int:
        return int(self.manager.NodeToIndex(self.node_of(stop_index)))

    def stop_at(self, node: int) -> Stop | None:
        offset = node - (len(self.node_sites) - len(self.stops))
        return self.stops[offset] if offset >= 0 else None


def _build(problem: RoundsProblem, travel: RoundsTravel, stops: list[Stop]) -> _Model:
    depots = sorted({t.depot for t in problem.trucks})
    node_sites = [*depots, *(s.site for s in stops)]
    starts = [depots.index(t.depot) for t in problem.trucks]
    manager = pywrapcp.RoutingIndexManager(len(node_sites), len(problem.trucks), starts, starts)
    routing = pywrapcp.RoutingModel(manager)
    return _Model(problem, travel, stops, node_sites, manager, routing)


def _transit(model: _Model, value: Callable[[int, int], int]) -> int:
    """Registers a node-to-node matrix ``value(from_node, to_node)``; returns its index."""
    n = len(model.node_sites)
    matrix = [[value(a, b) for b in range(n)] for a in range(n)]
    return int(model.routing.RegisterTransitMatrix(matrix))


def _service(model: _Model, node: int) -> int:
    stop = model.stop_at(node)
    return 0 if stop is None else stop.service_minutes


# ---------------------------------------------------------------------------
# Hard rules


def add_capacity(model: _Model) -> None:
    """Forbids a truck from ever carrying more than its capacity.

    The ``load`` cumul is what is on board when arriving at a node: it starts at
    what the depot loads (a free start cumul, tied below to the deliveries not
    fed by a transfer), falls at each delivery, rises at each collection. The
    ``returned`` dimension counts what will be unloaded at the depot; forcing the
    final load to equal it fixes the start load to exactly the depot deliveries.
    """
    problem, routing = model.problem, model.routing
    passed_on = problem.transferred_load
    signed = [0] * len(model.node_sites)
    returned = [0] * len(model.node_sites)
    for i, stop in enumerate(model.stops):
        node = model.node_of(i)
        if stop.kind is StopKind.DELIVERY:
            signed[node] = -stop.load
        else:
            signed[node] = stop.load
            returned[node] = stop.load - passed_on.get(stop.id, 0)
    load_cb = routing.RegisterUnaryTransitVector(signed)
    capacities = [t.capacity for t in problem.trucks]
    routing.AddDimensionWithVehicleCapacity(load_cb, 0, capacities, False, "load")
    total = sum(returned) + 1
    returned_cb = routing.RegisterUnaryTransitVector(returned)
    routing.AddDimension(returned_cb, 0, total, True, "returned")
    load = routing.GetDimensionOrDie("load")
    back = routing.GetDimensionOrDie("returned")
    solver = routing.solver()
    for v in range(len(problem.trucks)):
        end = routing.End(v)
        solver.Add(load.CumulVar(end) == back.CumulVar(end))


def add_time_windows(model: _Model) -> None:
    """Forbids serving a stop outside its window or driving outside the driver's day.

    Transit from a node is its service time plus the drive to the next node;
    waiting is slack. Each stop may only go to the trucks the screening kept.
    """
    problem, routing, travel = model.problem, model.routing, model.travel
    sites = model.node_sites
    time_cb = _transit(model, lambda a, b: _service(model, a) + travel.minutes(sites[a], sites[b]))
    horizon = max(
        [problem.minute(t.shift.end) for t in problem.trucks]
        + [problem.minute(s.window.end) for s in model.stops]
    )
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    dim = routing.GetDimensionOrDie("time")
    for i, stop in enumerate(model.stops):
        low = max(0, problem.minute(stop.window.start))
        high = min(horizon, problem.minute(stop.window.end))
        dim.CumulVar(model.index_of(i)).SetRange(low, high)
    for v, truck in enumerate(problem.trucks):
        start, end = problem.minute(truck.shift.start), problem.minute(truck.shift.end)
        dim.CumulVar(routing.Start(v)).SetRange(start, end)
        dim.CumulVar(routing.End(v)).SetRange(start, end)
        routing.AddVariableMaximizedByFinalizer(dim.CumulVar(routing.Start(v)))
        routing.AddVariableMinimizedByFinalizer(dim.CumulVar(routing.End(v)))
    model.time_dim = dim


def add_allowed_trucks(model: _Model, eligible: dict[str, tuple[str, ...]]) -> None:
    """Forbids a stop on a truck that cannot serve it even alone (screening).

    A unary ``allowed`` dimension of capacity 0 where a stop weighs 1 on the
    trucks it may not go on, so routing's fast dimension filters reject such moves.
    """
    problem, routing = model.problem, model.routing
    order = {t.id: v for v, t in enumerate(problem.trucks)}
    banned = [[0] * len(model.node_sites) for _ in problem.trucks]
    restricted = False
    for i, stop in enumerate(model.stops):
        allowed = {order[t] for t in eligible[stop.id] if t in order}
        for v in range(len(problem.trucks)):
            if v not in allowed:
                banned[v][model.node_of(i)] = 1
                restricted = True
    if not restricted:
        return
    callbacks: dict[tuple[int, ...], int] = {}
    for row in banned:
        key = tuple(row)
        if key not in callbacks:
            callbacks[key] = int(routing.RegisterUnaryTransitVector(row))
    routing.AddDimensionWithVehicleTransits(
        [callbacks[tuple(row)] for row in banned], 0, 0, True, "allowed"
    )


def add_breaks(model: _Model) -> None:
    """Forbids a round without the driver's break, or a break during a service.

    The break may be taken at the depot or during a leg, which it lengthens.
    """
    assert model.time_dim is not None
    problem, routing = model.problem, model.routing
    visits = [
        _service(model, int(model.manager.IndexToNode(index))) for index in range(routing.Size())
    ]
    for v, truck in enumerate(problem.trucks):
        brk = truck.driver_break
        if brk is None:
            continue
        interval = routing.solver().FixedDurationIntervalVar(
            problem.minute(brk.earliest),
            problem.minute(brk.latest),
            brk.minutes,
            False,
            f"break {truck.id}",
        )
        model.time_dim.SetBreakIntervalsOfVehicle([interval], v, visits)


def add_transfers(model: _Model) -> None:
    """Forbids a transfer's delivery without its collection earlier on the same truck."""
    assert model.time_dim is not None
    routing, solver = model.routing, model.routing.solver()
    index = {s.id: i for i, s in enumerate(model.stops)}
    for transfer in model.problem.transfers:
        if transfer.collection not in index or transfer.delivery not in index:
            continue
        pickup = model.index_of(index[transfer.collection])
        delivery = model.index_of(index[transfer.delivery])
        routing.AddPickupAndDelivery(pickup, delivery)
        solver.Add(routing.ActiveVar(pickup) == routing.ActiveVar(delivery))
        solver.Add(routing.VehicleVar(pickup) == routing.VehicleVar(delivery))
        solver.Add(model.time_dim.CumulVar(pickup) <= model.time_dim.CumulVar(delivery))


def add_hard_rules(model: _Model, eligible: dict[str, tuple[str, ...]]) -> None:
    """Every hard rule, in the order they are built."""
    add_capacity(model)
    add_time_windows(model)
    add_allowed_trucks(model, eligible)
    add_breaks(model)
    add_transfers(model)


# ---------------------------------------------------------------------------
# Soft rules


def _arc_cost(model: _Model, cost_per_km: float) -> int:
    sites, travel = model.node_sites, model.travel
    return _transit(
        model, lambda a, b: round(travel.km(sites[a], sites[b]) * cost_per_km * COST_SCALE)
    )


def add_travel_cost(model: _Model) -> int:
    """Rewards short rounds: each truck pays its cost per km; returns the longest leg cost."""
    callbacks: dict[float, int] = {}
    for v, truck in enumerate(model.problem.trucks):
        if truck.cost_per_km not in callbacks:
            callbacks[truck.cost_per_km] = _arc_cost(model, truck.cost_per_km)
        model.routing.SetArcCostEvaluatorOfVehicle(callbacks[truck.cost_per_km], v)
        model.routing.SetFixedCostOfVehicle(round(truck.fixed_cost * COST_SCALE), v)
    assert model.time_dim is not None
    for v, truck in enumerate(model.problem.trucks):
        per_minute = round(truck.cost_per_hour * COST_SCALE / 60)
        if per_minute:
            model.time_dim.SetSpanCostCoefficientForVehicle(per_minute, v)
    sites = model.node_sites
    longest = max(
        (model.travel.km(a, b) for a in sites for b in sites),
        default=0.0,
    )
    top_rate = max(t.cost_per_km for t in model.problem.trucks)
    return math.ceil(longest * top_rate * COST_SCALE)


def add_optional_stops(model: _Model, longest_leg_cost: int) -> None:
    """Lets a stop be left out, at a penalty above any detour and any truck's fixed cost.

    Inserting a stop costs at most two longest legs (four for a transfer's pair),
    a truck's fixed cost and a whole driver's day; the penalty is ten times that,
    so the search never trades a stop for km or hours.
    """
    problem = model.problem
    fixed = max(round(t.fixed_cost * COST_SCALE) for t in problem.trucks)
    day = max(
        round(t.cost_per_hour * COST_SCALE / 60)
        * (problem.minute(t.shift.end) - problem.minute(t.shift.start))
        for t in problem.trucks
    )
    penalty = 10 * (4 * longest_leg_cost + fixed + day) + COST_SCALE
    for i in range(len(model.stops)):
        model.routing.AddDisjunction([model.index_of(i)], penalty)


def add_soft_rules(model: _Model) -> None:
    """Every soft rule: km cost, fixed costs, drop penalties."""
    add_optional_stops(model, add_travel_cost(model))


# ---------------------------------------------------------------------------
# Solving


def _search_parameters(
    seconds: float,
    metaheuristic: int = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH,
) -> pywrapcp.DefaultRoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = metaheuristic
    params.time_limit.FromMilliseconds(max(1, round(seconds * 1000)))
    return params


def _route_orders(
    problem: RoundsProblem,
    travel: RoundsTravel,
    stops: list[Stop],
    eligible: dict[str, tuple[str, ...]],
    params: pywrapcp.DefaultRoutingSearchParameters,
    seed: int,
) -> dict[int, list[Stop]] | None:
    """Truck index -> stops in round order, by the routing model; None if it found nothing."""
    model = _build(problem, travel, stops)
    add_hard_rules(model, eligible)
    add_soft_rules(model)
    model.routing.solver().ReSeed(seed)
    solution = model.routing.SolveWithParameters(params)
    return None if solution is None else _orders(model, solution)


def _orders(model: _Model, solution: pywrapcp.Assignment) -> dict[int, list[Stop]]:
    """Truck index -> its stops in round order, for the trucks used."""
    out: dict[int, list[Stop]] = {}
    routing, manager = model.routing, model.manager
    for v in range(len(model.problem.trucks)):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        stops = []
        while not routing.IsEnd(index):
            stop = model.stop_at(int(manager.IndexToNode(index)))
            assert stop is not None
            stops.append(stop)
            index = solution.Value(routing.NextVar(index))
        if stops:
            out[v] = stops
    return out


def make_route(
    problem: RoundsProblem, travel: RoundsTravel, truck: Truck, stops: Sequence[Stop]
) -> Route | None:
    """The round of ``truck`` serving ``stops`` in this order, timed; None if infeasible."""
    timing = schedule(problem, travel, truck, stops)
    if timing is None:
        return None
    sites = [truck.depot, *(s.site for s in stops), truck.depot]
    km = sum(travel.km(a, b) for a, b in pairwise(sites))
    from_depot, _ = load_profile(problem, stops)
    visits = tuple(
        Visit(s.id, problem.moment(a), problem.moment(d))
        for s, (a, d) in zip(stops, timing.visits, strict=True)
    )
    brk = None
    if timing.driver_break is not None:
        brk = Window(problem.moment(timing.driver_break[0]), problem.moment(timing.driver_break[1]))
    return Route(
        truck.id,
        problem.moment(timing.depart),
        problem.moment(timing.back),
        visits,
        km,
        from_depot,
        brk,
    )


def route_cost(truck: Truck, route: Route) -> float:
    """What a round costs: km, driver's hours from departure to return, fixed cost."""
    hours = (route.back - route.depart).total_seconds() / 3600
    return route.km * truck.cost_per_km + hours * truck.cost_per_hour + truck.fixed_cost


def assemble_plan(
    problem: RoundsProblem,
    routes: Sequence[Route],
    dropped: Sequence[Dropped],
    run: SolverRun,
    problem_sha: str = "",
) -> RoundsPlan:
    """A plan from routes and dropped stops, with its metrics."""
    by_truck = problem.truck_by_id
    km = sum(r.km for r in routes)
    duty = sum(int((r.back - r.depart).total_seconds() // 60) for r in routes)
    cost = sum(route_cost(by_truck[r.truck], r) for r in routes)
    served = sum(len(r.visits) for r in routes)
    metrics = RoundsMetrics(
        stops=len(problem.stops),
        served=served,
        dropped=len(dropped),
        trucks_used=len(routes),
        km=km,
        cost=cost,
        duty_minutes=duty,
    )
    return RoundsPlan(problem_sha, run, tuple(routes), tuple(dropped), metrics)


def _round_cost(problem: RoundsProblem, travel: RoundsTravel) -> RoundCost:
    """The cost of a round as the plan reports it; None if it breaks a rule."""

    def cost(truck: Truck, stops: Sequence[Stop]) -> float | None:
        start, after = load_profile(problem, stops)
        if max([start, *after]) > truck.capacity:
            return None
        route = make_route(problem, travel, truck, stops)
        return None if route is None else route_cost(truck, route)

    return cost


def _group_solver(
    travel: RoundsTravel,
    eligible: dict[str, tuple[str, ...]],
    options: RoundsOptions,
    deadline: float,
) -> SolveGroup:
    """Plans a small day from scratch with the routing model, within ``deadline``."""

    def solve_group(group: RoundsProblem, rng: random.Random) -> Orders | None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        group_stops = list(group.stops)
        rng.shuffle(group_stops)  # another insertion order, another first solution
        params = _search_parameters(min(left, options.group_seconds))
        params.solution_limit = options.group_solutions
        got = _route_orders(group, travel, group_stops, eligible, params, rng.randrange(1 << 30))
        return None if got is None else {group.trucks[v].id: o for v, o in got.items()}

    return solve_group


def _improve(
    problem: RoundsProblem,
    travel: RoundsTravel,
    stops: list[Stop],
    eligible: dict[str, tuple[str, ...]],
    orders: dict[int, list[Stop]],
    options: RoundsOptions,
    started: float,
) -> dict[int, list[Stop]]:
    """``orders`` improved by replanning groups of nearby rounds until the time limit."""
    deadline = started + options.time_limit_seconds
    cost = _round_cost(problem, travel)
    by_truck = {
        problem.trucks[v].id: order
        for v, order in orders.items()
        if cost(problem.trucks[v], order) is not None
    }
    routed = {s.id for order in by_truck.values() for s in order}
    unrouted = [s for s in stops if s.id not in routed]
    solve_group = _group_solver(travel, eligible, options, deadline)
    best, _ = improve(problem, by_truck, unrouted, solve_group, cost, deadline, options.seed)
    index = {t.id: v for v, t in enumerate(problem.trucks)}
    return {index[t]: order for t, order in best.items() if order}


def solve_rounds(
    problem: RoundsProblem, options: RoundsOptions | None = None, problem_sha: str = ""
) -> RoundsPlan:
    """Plans the rounds of ``problem``: every stop is in a round or dropped with a reason.

    The routing model's first plan (parallel cheapest insertion) goes down to its
    local optimum; then groups of nearby rounds are replanned from scratch, one
    small day at a time (``lns.py``), until the time limit, or earlier when no
    group improves any more (a tiny day is done in a few tries).

    Args:
        problem: the day (or days) to plan.
        options: time limit, seed and search (see ``RoundsOptions``).
        problem_sha: the SHA-256 of the problem file, copied into the plan.

    Returns:
        A plan whose routes the checker accepts; stops left out are listed in
        ``dropped`` with ``too_big``, ``window_unreachable``, ``transfer_partner``
        or ``not_routed``.
    """
    options = options or RoundsOptions()
    started = time.monotonic()
    travel = RoundsTravel(problem)
    screening = screen(problem, travel)
    stops = [s for s in problem.stops if s.id in screening.eligible]
    orders: dict[int, list[Stop]] = {}
    if stops:
        # A first plan, then a descent to its local optimum (which ends on its own),
        # or guided local search until the time limit.
        search = routing_enums_pb2.LocalSearchMetaheuristic
        metaheuristic = search.GREEDY_DESCENT if options.groups else search.GUIDED_LOCAL_SEARCH
        params = _search_parameters(options.time_limit_seconds, metaheuristic)
        found = _route_orders(problem, travel, stops, screening.eligible, params, options.seed)
        orders = found or {}
        if options.groups:
            orders = _improve(problem, travel, stops, screening.eligible, orders, options, started)
    routes: list[Route] = []
    routed: set[str] = set()
    for v, order in sorted(orders.items()):
        route = make_route(problem, travel, problem.trucks[v], order)
        if route is None:
            # The routing model and the schedule disagree (never seen): drop the round
            # rather than hand out a plan the checker refuses.
            continue
        routes.append(route)
        routed.update(s.id for s in order)
    screened = {d.stop: d for d in screening.dropped}
    dropped = []
    for stop in problem.stops:
        if stop.id in screened:
            dropped.append(screened[stop.id])
        elif stop.id not in routed:
            dropped.append(
                Dropped(
                    stop.id,
                    DropReason.NOT_ROUTED,
                    "it can be served alone, but not together with the other stops: "
                    "no round found within the time limit had room for it "
                    "(time windows, capacity or drivers' days)",
                )
            )
    run = SolverRun(ENGINE, time.monotonic() - started, options.time_limit_seconds, options.seed)
    return assemble_plan(problem, routes, dropped, run, problem_sha)
