"""Road km and driving minutes between the sites of a rounds problem.

The same formula as the loan optimiser (``solver.geo``): great-circle km times
the road factor, minutes at the average speed rounded up; listed ``distances``
override a pair (both directions unless the reverse is listed too).
"""

from __future__ import annotations

from solver.geo import haversine_km, travel_minutes_for
from solver.rounds.model import RoundsProblem


class RoundsTravel:
    """(km, minutes) legs between the sites of one problem, cached."""

    def __init__(self, problem: RoundsProblem) -> None:
        self._problem = problem
        self._legs: dict[tuple[str, str], tuple[float, int]] = {}
        listed = {(d.from_site, d.to_site) for d in problem.distances}
        for d in problem.distances:
            self._legs[(d.from_site, d.to_site)] = (d.km, d.minutes)
            if (d.to_site, d.from_site) not in listed:
                self._legs[(d.to_site, d.from_site)] = (d.km, d.minutes)

    def leg(self, from_site: str, to_site: str) -> tuple[float, int]:
        """(km, minutes) from one site to another; (0.0, 0) for the same site."""
        if from_site == to_site:
            return (0.0, 0)
        key = (from_site, to_site)
        known = self._legs.get(key)
        if known is None:
            a = self._problem.site_by_id[from_site]
            b = self._problem.site_by_id[to_site]
            km = haversine_km(a.lat, a.lon, b.lat, b.lon) * self._problem.road_factor
            known = (km, travel_minutes_for(km, self._problem.speed_kmh))
            self._legs[key] = known
        return known

    def km(self, from_site: str, to_site: str) -> float:
        return self.leg(from_site, to_site)[0]

    def minutes(self, from_site: str, to_site: str) -> int:
        return self.leg(from_site, to_site)[1]
