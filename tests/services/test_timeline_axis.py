"""The plan review's timeline axes: labels spaced so that they never overlap."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from booking.services.planning.review import (
    AXIS_LABEL_REM,
    AXIS_MIN_GAP,
    TRACK_MIN_REM,
    timeline_marks,
)
from booking.timeutil import LOCAL_TZ, to_local

LABEL_PERCENT = AXIS_LABEL_REM / TRACK_MIN_REM * 100
STARTS = [
    datetime(2030, 6, 3, 0, 0, tzinfo=LOCAL_TZ),  # a Monday at midnight
    datetime(2030, 6, 5, 8, 30, tzinfo=LOCAL_TZ),  # mid-week, mid-morning
    datetime(2030, 3, 29, 14, 0, tzinfo=LOCAL_TZ),  # across the spring clock change
    datetime(2030, 10, 26, 23, 0, tzinfo=LOCAL_TZ),  # across the autumn clock change
]


@pytest.mark.parametrize("days", [1, 7, 31, 90, 365])
@pytest.mark.parametrize("start", STARTS, ids=lambda s: s.strftime("%m-%d-%H%M"))
def test_marks_are_far_enough_apart_and_inside_the_track(start: datetime, days: int) -> None:
    w_start = start.astimezone(UTC)
    w_end = w_start + timedelta(days=days)
    marks = timeline_marks(w_start, w_end)
    # Something to read on every window of a day or more.
    assert len(marks) >= 2
    lefts = [m.left for m in marks]
    assert lefts == sorted(lefts)
    for a, b in itertools.pairwise(lefts):
        assert b - a >= AXIS_MIN_GAP
    # A label starts at its mark and is never cut at the end of the track.
    assert all(0 <= left <= 100 - LABEL_PERCENT for left in lefts)
    assert all(w_start <= m.moment <= w_end for m in marks)


@pytest.mark.parametrize(
    ("days", "unit"),
    [(1, "hour"), (7, "day"), (31, "week"), (90, "week"), (180, "month"), (365, "month")],
)
def test_longer_windows_are_labelled_by_coarser_units(days: int, unit: str) -> None:
    w_start = datetime(2030, 6, 3, tzinfo=LOCAL_TZ).astimezone(UTC)
    marks = timeline_marks(w_start, w_start + timedelta(days=days))
    assert {m.unit for m in marks} == {unit}


def test_marks_fall_on_local_boundaries() -> None:
    w_start = datetime(2030, 6, 5, 8, 30, tzinfo=LOCAL_TZ).astimezone(UTC)
    week = timeline_marks(w_start, w_start + timedelta(days=7))
    assert all(to_local(m.moment).time().hour == 0 for m in week)
    assert [m.format for m in week] == ["d MMM"] * len(week)
    quarter = timeline_marks(w_start, w_start + timedelta(days=90))
    assert all(to_local(m.moment).weekday() == 0 for m in quarter)
    year = timeline_marks(w_start, w_start + timedelta(days=365))
    assert all(to_local(m.moment).day == 1 for m in year)
    assert year[0].format == "MMM y"
    day = timeline_marks(w_start, w_start + timedelta(days=1))
    # Hours, and the date where a new day starts.
    assert {m.format for m in day} == {"HH:mm", "d MMM"}


def test_a_seven_day_window_labels_every_day() -> None:
    """The finest legible step is chosen: a week reads day by day."""
    w_start = datetime(2030, 6, 3, tzinfo=LOCAL_TZ).astimezone(UTC)
    marks = timeline_marks(w_start, w_start + timedelta(days=7))
    assert [to_local(m.moment).day for m in marks] == [3, 4, 5, 6, 7, 8, 9]


def test_a_tiny_window_has_no_overlapping_marks() -> None:
    w_start = datetime(2030, 6, 3, 10, tzinfo=UTC)
    marks = timeline_marks(w_start, w_start + timedelta(minutes=5))
    assert len(marks) <= 1
