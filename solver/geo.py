"""Distances (km) and travel times (whole minutes) between sites.

By default a road distance is the great-circle distance times
``travel.road_factor``, and a travel time is ``km / speed_kmh * 60`` rounded up
to the minute. ``Problem.distances`` overrides listed pairs; a listed pair is
symmetric unless both directions are listed.
"""

from __future__ import annotations

import math

from solver.problem import Problem

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
_EPSILON = 1e-9  # keeps 12.000000001 minutes from rounding up to 13


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two WGS 84 positions, in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def travel_minutes_for(km: float, speed_kmh: float) -> int:
    """Whole minutes to drive ``km`` at ``speed_kmh``, rounded up."""
    return math.ceil(km / speed_kmh * 60 - _EPSILON)


class TravelMatrix:
    """Road km and travel minutes between the sites of one problem, cached."""

    def __init__(self, problem: Problem) -> None:
        self._problem = problem
        self._overrides: dict[tuple[str, str], tuple[float, int]] = {}
        listed = {(d.from_site, d.to_site) for d in problem.distances}
        for d in problem.distances:
            self._overrides[(d.from_site, d.to_site)] = (d.km, d.minutes)
            if (d.to_site, d.from_site) not in listed:
                self._overrides[(d.to_site, d.from_site)] = (d.km, d.minutes)
        self._cache: dict[tuple[str, str], tuple[float, int]] = {}

    def leg(self, from_site: str, to_site: str) -> tuple[float, int]:
        """(km, minutes) from one site to another; (0, 0) for the same site."""
        key = (from_site, to_site)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if from_site == to_site:
            result: tuple[float, int] = (0.0, 0)
        elif key in self._overrides:
            result = self._overrides[key]
        else:
            a = self._problem.site_by_id[from_site]
            b = self._problem.site_by_id[to_site]
            km = haversine_km(a.lat, a.lon, b.lat, b.lon) * self._problem.travel.road_factor
            result = (km, travel_minutes_for(km, self._problem.travel.speed_kmh))
        self._cache[key] = result
        return result

    def km(self, from_site: str, to_site: str) -> float:
        return self.leg(from_site, to_site)[0]

    def minutes(self, from_site: str, to_site: str) -> int:
        return self.leg(from_site, to_site)[1]
