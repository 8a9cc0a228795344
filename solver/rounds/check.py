"""The independent checker of a `rounds-plan/1` against its `rounds-problem/1`.

It trusts nothing in the plan: loads, km, travel times and the break are
recomputed from the problem and the plan's stop order and times. Each
violation names its rule:

- ``plan``: the plan refers to unknown trucks or stops, or is for another problem;
- ``explained``: every stop is served exactly once or dropped with a true reason;
- ``capacity``: the load on board never exceeds the truck's capacity;
- ``time_window``: each service starts within its stop's window and lasts its service time;
- ``travel``: each arrival leaves room to drive from the previous place;
- ``driver_day``: the truck leaves and is back within the driver's day;
- ``break``: the driver's break has its length, starts in its window and fits
  in a gap between services that leaves room for the drive;
- ``pairing``: a transfer's collection comes before its delivery on the same truck;
- ``metrics``: km, cost, duty minutes and counts are what the routes add up to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from solver.rounds.model import (
    Dropped,
    DropReason,
    RoundsPlan,
    RoundsProblem,
    Route,
    Stop,
    StopKind,
    Truck,
)
from solver.rounds.travel import RoundsTravel

KM_TOLERANCE = 0.01  # km written with three decimals; legs summed in another order
RULES = (
    "plan",
    "explained",
    "capacity",
    "time_window",
    "travel",
    "driver_day",
    "break",
    "pairing",
    "metrics",
)


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def _hm(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


class _Checker:
    def __init__(self, problem: RoundsProblem, plan: RoundsPlan) -> None:
        self.problem = problem
        self.plan = plan
        self.travel = RoundsTravel(problem)
        self.out: list[Violation] = []

    def add(self, rule: str, message: str) -> None:
        self.out.append(Violation(rule, message))

    def minutes(self, a: datetime, b: datetime) -> int:
        """Whole minutes from ``a`` to ``b``."""
        return self.problem.minute(b) - self.problem.minute(a)

    # -- one route ----------------------------------------------------------

    def route(self, where: str, route: Route, truck: Truck, stops: list[Stop]) -> None:
        self.capacity(where, route, truck, stops)
        self.times(where, route, truck, stops)
        self.driver_break(where, route, truck, stops)
        sites = [truck.depot, *(s.site for s in stops), truck.depot]
        km = sum(self.travel.km(a, b) for a, b in pairwise(sites))
        if abs(km - route.km) > KM_TOLERANCE:
            self.add("metrics", f"{where}: km is {route.km:.3f}, the legs add up to {km:.3f}")

    def capacity(self, where: str, route: Route, truck: Truck, stops: list[Stop]) -> None:
        partner = self.problem.partner_of
        loaded = sum(s.load for s in stops if s.kind is StopKind.DELIVERY and s.id not in partner)
        if loaded != route.load_at_depot:
            self.add(
                "capacity",
                f"{where}: load_at_depot is {route.load_at_depot}, its deliveries from the "
                f"depot take {loaded}",
            )
        if loaded > truck.capacity:
            self.add(
                "capacity",
                f"{where}: leaves the depot with {loaded} {self.problem.load_unit}, "
                f"capacity {truck.capacity}",
            )
        on_board = loaded
        for s in stops:
            on_board += s.load if s.kind is StopKind.COLLECTION else -s.load
            if on_board > truck.capacity:
                self.add(
                    "capacity",
                    f"{where}: {on_board} {self.problem.load_unit} on board after stop "
                    f"{s.id!r}, capacity {truck.capacity}",
                )

    def times(self, where: str, route: Route, truck: Truck, stops: list[Stop]) -> None:
        if route.depart < truck.shift.start:
            self.add(
                "driver_day",
                f"{where}: leaves at {_hm(route.depart)}, before the driver's day starts "
                f"({_hm(truck.shift.start)})",
            )
        if route.back > truck.shift.end:
            self.add(
                "driver_day",
                f"{where}: back at {_hm(route.back)}, after the driver's day ends "
                f"({_hm(truck.shift.end)})",
            )
        brk = route.driver_break
        brk_minutes = truck.driver_break.minutes if truck.driver_break else 0
        here, free_from = truck.depot, route.depart
        for visit, stop in zip([*route.visits, None], [*stops, None], strict=True):
            there = truck.depot if stop is None else stop.site
            until = route.back if visit is None else visit.arrival
            need = self.travel.minutes(here, there)
            if brk is not None and free_from <= brk.start and brk.end <= until:
                need += brk_minutes
            label = "the depot" if stop is None else f"stop {stop.id!r}"
            if self.minutes(free_from, until) < need:
                self.add(
                    "travel" if visit is not None else "driver_day",
                    f"{where}: reaches {label} at {_hm(until)}, but needs {need} min from "
                    f"{_hm(free_from)}",
                )
            if visit is not None and stop is not None:
                if not stop.window.start <= visit.arrival <= stop.window.end:
                    self.add(
                        "time_window",
                        f"{where}: stop {stop.id!r} served from {_hm(visit.arrival)}, outside "
                        f"its window {_hm(stop.window.start)} - {_hm(stop.window.end)}",
                    )
                if self.minutes(visit.arrival, visit.departure) != stop.service_minutes:
                    self.add(
                        "time_window",
                        f"{where}: stop {stop.id!r} served {_hm(visit.arrival)} - "
                        f"{_hm(visit.departure)}, its service takes {stop.service_minutes} min",
                    )
                here, free_from = stop.site, visit.departure

    def driver_break(self, where: str, route: Route, truck: Truck, stops: list[Stop]) -> None:
        rule, brk = truck.driver_break, route.driver_break
        if rule is None:
            if brk is not None:
                self.add("break", f"{where}: a break for a truck that has none")
            return
        if brk is None:
            self.add("break", f"{where}: the driver's {rule.minutes} min break is missing")
            return
        if self.minutes(brk.start, brk.end) != rule.minutes:
            self.add(
                "break",
                f"{where}: the break lasts {self.minutes(brk.start, brk.end)} min, "
                f"not {rule.minutes}",
            )
        if not rule.earliest <= brk.start <= rule.latest:
            self.add(
                "break",
                f"{where}: the break starts at {_hm(brk.start)}, outside "
                f"{_hm(rule.earliest)} - {_hm(rule.latest)}",
            )
        # Gaps between services: at the depot before leaving, each leg, at the depot after.
        gaps = [(truck.shift.start, route.depart)]
        free_from = route.depart
        for visit in route.visits:
            gaps.append((free_from, visit.arrival))
            free_from = visit.departure
        gaps += [(free_from, route.back), (route.back, truck.shift.end)]
        if not any(a <= brk.start and brk.end <= b for a, b in gaps):
            self.add(
                "break",
                f"{where}: the break {_hm(brk.start)} - {_hm(brk.end)} overlaps a service "
                "or falls outside the driver's day",
            )

    # -- the whole plan -----------------------------------------------------

    def run(self, problem_sha256: str | None) -> list[Violation]:
        problem, plan = self.problem, self.plan
        if problem_sha256 and plan.problem and plan.problem != problem_sha256:
            self.add("plan", "the plan was made for another problem (its sha256 differs)")
        where_served: dict[str, tuple[int, int]] = {}
        used_trucks: set[str] = set()
        km = cost = 0.0
        duty = 0
        for r, route in enumerate(plan.routes):
            where = f"routes[{r}] ({route.truck})"
            truck = problem.truck_by_id.get(route.truck)
            if truck is None:
                self.add("plan", f"{where}: unknown truck {route.truck!r}")
                continue
            if route.truck in used_trucks:
                self.add("plan", f"{where}: truck {route.truck!r} has two routes")
            used_trucks.add(route.truck)
            stops = []
            for position, visit in enumerate(route.visits):
                stop = problem.stop_by_id.get(visit.stop)
                if stop is None:
                    self.add("plan", f"{where}: unknown stop {visit.stop!r}")
                    continue
                if visit.stop in where_served:
                    self.add("explained", f"{where}: stop {visit.stop!r} is served twice")
                where_served[visit.stop] = (r, position)
                stops.append(stop)
            if len(stops) != len(route.visits):
                continue
            km += route.km
            minutes = self.minutes(route.depart, route.back)
            duty += minutes
            cost += (
                route.km * truck.cost_per_km + minutes / 60 * truck.cost_per_hour + truck.fixed_cost
            )
            self.route(where, route, truck, stops)
        self.explained(where_served)
        self.pairing(where_served)
        self.metrics(where_served, km, cost, duty)
        return self.out

    def explained(self, where_served: dict[str, tuple[int, int]]) -> None:
        problem = self.problem
        dropped: dict[str, Dropped] = {}
        for d in self.plan.dropped:
            if d.stop not in problem.stop_by_id:
                self.add("plan", f"dropped stop {d.stop!r} is not in the problem")
                continue
            if d.stop in where_served:
                self.add("explained", f"stop {d.stop!r} is both served and dropped")
            if d.stop in dropped:
                self.add("explained", f"stop {d.stop!r} is dropped twice")
            dropped[d.stop] = d
        largest = max(t.capacity for t in problem.trucks)
        for stop in problem.stops:
            claim = dropped.get(stop.id)
            if stop.id not in where_served and claim is None:
                self.add("explained", f"stop {stop.id!r} is neither served nor explained")
            if claim is None:
                continue
            if claim.reason is DropReason.TOO_BIG and stop.load <= largest:
                self.add(
                    "explained",
                    f"stop {stop.id!r} is said too big, but its load {stop.load} fits a "
                    f"truck of capacity {largest}",
                )
            if claim.reason is DropReason.TRANSFER_PARTNER:
                partner = problem.partner_of.get(stop.id)
                if partner is None or partner not in dropped:
                    self.add(
                        "explained",
                        f"stop {stop.id!r} is dropped for its transfer partner, which is "
                        + ("missing" if partner is None else "served"),
                    )

    def pairing(self, where_served: dict[str, tuple[int, int]]) -> None:
        for t in self.problem.transfers:
            c, d = where_served.get(t.collection), where_served.get(t.delivery)
            if c is None and d is None:
                continue
            if c is None or d is None:
                missing = t.collection if c is None else t.delivery
                self.add(
                    "pairing",
                    f"transfer {t.collection!r} -> {t.delivery!r}: stop {missing!r} is not served",
                )
            elif c[0] != d[0]:
                self.add(
                    "pairing",
                    f"transfer {t.collection!r} -> {t.delivery!r}: served by two trucks",
                )
            elif c[1] > d[1]:
                self.add(
                    "pairing",
                    f"transfer {t.collection!r} -> {t.delivery!r}: delivered before collected",
                )

    def metrics(
        self, where_served: dict[str, tuple[int, int]], km: float, cost: float, duty: int
    ) -> None:
        m = self.plan.metrics
        expected = {
            "stops": len(self.problem.stops),
            "served": len(where_served),
            "dropped": len(self.plan.dropped),
            "trucks_used": len(self.plan.routes),
            "duty_minutes": duty,
        }
        actual = {
            "stops": m.stops,
            "served": m.served,
            "dropped": m.dropped,
            "trucks_used": m.trucks_used,
            "duty_minutes": m.duty_minutes,
        }
        for name, value in expected.items():
            if actual[name] != value:
                self.add("metrics", f"metrics.{name} is {actual[name]}, expected {value}")
        if abs(m.km - km) > KM_TOLERANCE:
            self.add("metrics", f"metrics.km is {m.km:.3f}, the routes add up to {km:.3f}")
        if abs(m.cost - cost) > KM_TOLERANCE * max(1.0, cost / 100):
            self.add("metrics", f"metrics.cost is {m.cost:.3f}, the routes add up to {cost:.3f}")


def check_rounds(
    problem: RoundsProblem, plan: RoundsPlan, problem_sha256: str | None = None
) -> list[Violation]:
    """Every rule the plan breaks; an empty list when the plan is valid.

    Args:
        problem: the problem the plan claims to solve.
        plan: the plan to check.
        problem_sha256: the SHA-256 of the problem file, compared with the plan's
            ``problem`` field when both are known.
    """
    return _Checker(problem, plan).run(problem_sha256)
