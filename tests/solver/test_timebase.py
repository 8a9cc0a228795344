"""The solver's time base counts real minutes, across summer-time changes too."""

from datetime import datetime
from zoneinfo import ZoneInfo

from solver.problem import TimeBase

PARIS = ZoneInfo("Europe/Paris")


def test_minutes_across_the_spring_change_are_real_minutes() -> None:
    base = TimeBase(datetime(2027, 3, 27, 12, 0, tzinfo=PARIS))
    # 24 wall-clock hours later is only 23 real hours: clocks jump on 28 March.
    assert base.to_minutes(datetime(2027, 3, 28, 12, 0, tzinfo=PARIS)) == 23 * 60


def test_to_datetime_inverts_to_minutes_in_the_origin_zone() -> None:
    base = TimeBase(datetime(2027, 10, 30, 12, 0, tzinfo=PARIS))
    later = base.to_datetime(25 * 60)
    assert later == datetime(2027, 10, 31, 12, 0, tzinfo=PARIS)
    assert base.to_minutes(later) == 25 * 60
