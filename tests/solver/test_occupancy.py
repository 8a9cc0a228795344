"""Unit calendars and pool profiles apply the spec's rules 3 and 4 exactly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from solver.geo import TravelMatrix
from solver.itinerary import unit_itinerary_km
from solver.occupancy import Occupancy, PoolProfile, UnitCalendar, sorted_shifts
from solver.plan import RequestAssignment
from solver.problem import Interval, Pool, Unit
from tests.solver.conftest import at, pools_line, units_line

HOUR = 60


def calendar(problem, unit_id: str) -> UnitCalendar:
    return UnitCalendar(problem, TravelMatrix(problem), problem.unit_by_id[unit_id])


def minute(problem, moment) -> int:
    return problem.timebase.to_minutes(moment)


@pytest.fixture
def podium(make_problem) -> tuple[object, UnitCalendar, int]:
    """POD-1 (turnaround 240) with one loan at Melun ending 13 July 18:00."""
    problem = make_problem()
    cal = calendar(problem, "POD-1")
    end = minute(problem, at(13, 18))
    cal.add(minute(problem, at(12, 8)), end, "melun", "R-A")
    return problem, cal, end


def test_next_loan_at_same_site_fits_exactly_after_turnaround(podium) -> None:
    _problem, cal, end = podium
    assert cal.fits(end + 240, end + 300, "melun")
    assert not cal.fits(end + 239, end + 300, "melun")


def test_next_loan_elsewhere_also_waits_for_the_travel(podium) -> None:
    _problem, cal, end = podium
    # Melun to Dammarie takes 12 minutes in the test world.
    assert cal.fits(end + 240 + 12, end + 400, "dammarie")
    assert not cal.fits(end + 240 + 11, end + 400, "dammarie")


def test_earlier_loan_must_be_back_before_the_next_one(podium) -> None:
    problem, cal, _end = podium
    start = minute(problem, at(12, 8))
    # A loan at Dammarie ending at e needs e + 240 + 12 <= start of the Melun loan.
    assert cal.fits(start - 1000, start - 252, "dammarie")
    assert not cal.fits(start - 1000, start - 251, "dammarie")


def test_overlapping_loans_never_fit(podium) -> None:
    problem, cal, _end = podium
    assert not cal.fits(minute(problem, at(12, 10)), minute(problem, at(12, 12)), "melun")
    assert not cal.fits(minute(problem, at(11, 0)), minute(problem, at(20, 0)), "melun")


def test_blackout_counts_the_turnaround(make_problem) -> None:
    blackout = Interval(at(20, 8), at(21, 8))
    problem = make_problem(units=[Unit("POD-1", "podium", "depot", (blackout,))])
    cal = calendar(problem, "POD-1")
    b_start = minute(problem, at(20, 8))
    assert cal.fits(b_start - 600, b_start - 240, "melun")
    assert not cal.fits(b_start - 600, b_start - 239, "melun")
    assert cal.fits(minute(problem, at(21, 8)), minute(problem, at(21, 9)), "melun")
    assert not cal.fits(minute(problem, at(21, 7)), minute(problem, at(21, 9)), "melun")


def test_substitute_unit_keeps_its_own_turnaround(make_problem) -> None:
    problem = make_problem()
    cal = calendar(problem, "MB12-1")  # minibus-12: turnaround 120, also serves minibus-9
    cal.add(0, 600, "melun")
    assert not cal.fits(600 + 60, 900, "melun")
    assert cal.fits(600 + 120, 900, "melun")


def test_added_km_follows_direct_transfer_or_return_home(make_problem) -> None:
    problem = make_problem()
    cal = calendar(problem, "POD-1")  # podium: direct transfer within 24 h
    cal.add(0, 600, "melun")
    assert cal.added_km(0 + 600 + 240 + 12, 2000, "dammarie") == pytest.approx(
        8 + 20 - 10
    )  # melun->dammarie->depot instead of melun->depot
    late = 600 + 240 + 24 * HOUR + 1
    assert cal.added_km(late, late + 600, "dammarie") == pytest.approx(20 + 20)


def test_itinerary_km_matches_the_objective(make_problem) -> None:
    problem = make_problem()
    cal = calendar(problem, "POD-1")
    loans = [(0, 600, "melun"), (900, 1500, "dammarie"), (5000, 5600, "melun")]
    for start, end, site in loans:
        assert cal.fits(start, end, site)
        cal.add(start, end, site)
    expected = unit_itinerary_km(problem, TravelMatrix(problem), problem.unit_by_id["POD-1"], loans)
    assert cal.km() == pytest.approx(expected)
    cal.remove(900, 1500, "dammarie")
    assert cal.fits(900, 1500, "dammarie")


def test_pool_occupation_includes_the_turnaround() -> None:
    profile = PoolProfile(Pool("chair@depot", "chair", "depot", 300), turnaround=60)
    profile.add(0, 100, 250)
    assert profile.free(50, 80) == 50
    assert profile.free(159, 300) == 50
    assert profile.free(160, 300) == 300
    assert profile.free(-500, -60) == 300
    assert profile.free(-500, -59) == 50
    profile.add(0, 100, -250)
    assert profile.free(0, 100) == 300


def test_pool_peak_is_the_highest_overlapping_level() -> None:
    profile = PoolProfile(Pool("chair@depot", "chair", "depot", 300), turnaround=0)
    profile.add(0, 100, 100)
    profile.add(50, 150, 120)
    profile.add(200, 300, 10)
    assert profile.peak(0, 40) == 100
    assert profile.peak(40, 60) == 220
    assert profile.peak(100, 200) == 120
    assert profile.breakpoints(0, 150) == [0, 50, 100, 150]


def test_fits_assignment_rejects_what_breaks_a_rule(make_problem, make_request, serve) -> None:
    request = make_request(lines=[("podium", 1), ("chair", 350)])
    problem = make_problem(requests=[request])
    occ = Occupancy(problem)
    good = serve(request, "POD-1", [("chair@depot", 300), ("chair@melun", 50)])
    assert occ.fits_assignment(good)
    wrong_unit = serve(request, "MB9-1", [("chair@depot", 300), ("chair@melun", 50)])
    assert not occ.fits_assignment(wrong_unit)
    short = serve(request, "POD-1", [("chair@depot", 300)])
    assert not occ.fits_assignment(short)
    moved = serve(request, "POD-1", [("chair@depot", 300), ("chair@melun", 50)], shift=60)
    assert not occ.fits_assignment(moved)  # the window allows no shift
    occ.add_assignment(good)
    assert not occ.fits_assignment(good)  # the same units are now busy
    occ.remove_assignment(good)
    assert occ.fits_assignment(good)


def test_shifted_datetimes_count_real_minutes(make_problem, make_request) -> None:
    request = make_request(latest_end=at(16, 18))
    occ = Occupancy(make_problem(requests=[request]))
    assert occ.window(request)[2:] == (0, 24 * 60)
    start, end = occ.to_datetime(request, 90)
    assert start - request.start == timedelta(minutes=90)
    assert end - request.end == timedelta(minutes=90)
    assert occ.to_datetime(request, 0) == (request.start, request.end)


def test_sorted_shifts_smallest_first_inside_the_window() -> None:
    assert sorted_shifts([0, -30, 30, 500, -10, 30], -40, 100) == [0, -10, 30, -30]


def test_unit_candidates_put_own_type_first(make_problem) -> None:
    occ = Occupancy(make_problem())
    assert occ.unit_candidates("minibus-9") == [("MB9-1", False), ("MB12-1", True)]
    assert occ.pool_candidates("chair") == ["chair@depot", "chair@melun"]


def test_add_assignment_books_units_and_pools(make_problem, make_request) -> None:
    request = make_request(lines=[("podium", 1), ("chair", 120)])
    problem = make_problem(requests=[request])
    occ = Occupancy(problem)
    assignment = RequestAssignment(
        id=request.id,
        served=True,
        start=request.start,
        end=request.end,
        lines=(units_line("podium", "POD-2"), pools_line("chair", ("chair@melun", 100))),
    )
    occ.add_assignment(assignment)
    s, e = minute(problem, request.start), minute(problem, request.end)
    assert not occ.units["POD-2"].fits(s, e, "melun")
    assert occ.units["POD-1"].fits(s, e, "melun")
    assert occ.pools["chair@melun"].free(s, e) == 0
