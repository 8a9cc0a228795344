"""Realistic loan seasons for the reference agglomeration, as `loan-problem/1` files.

The generated seasons follow the fleet manager's calendar: weekend events
delivered on Friday and collected on Monday, the Fête de la musique (21 June)
and 14 July when most communes want a stage and barriers, election Sundays
when every commune borrows voting booths and ballot boxes, weekday vehicles
and tools with a few days of flexibility, Christmas lights hung with the one
aerial lift, and maintenance weeks.

Sizes: ``summer`` (June to August, ~400 requests), ``year`` (~2,000),
``department`` (~20,000 requests, ~200 synthetic communes around the real 20,
8 depots, inventory scaled) and ``department-peak``: an overloaded
département, ~200 communes within 30 km of its centre, 8 depots 15-20 km
apart, stock that the summer weekends, election days and 14 July ask for
1.3-1.8 times over, a third of the requests flexible by 1-3 days, and
vehicles that drive directly from one loan to the next. The output depends
only on ``--seed``.

The document is written with plain ``json`` from dicts so that the benchmark
does not depend on the solver's own reader.

Usage::

    python -m bench.generate --size year --seed 1 -o bench/instances/year-1.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Paris")
COMMUNES_CSV = Path(__file__).with_name("data") / "communes.csv"
SIZES = ("summer", "year", "department", "department-peak")

# Approximate populations (INSEE, thousands): they weigh each commune's demand.
POPULATION_K: dict[str, float] = {
    "boissettes": 0.4,
    "boissise-la-bertrand": 1.1,
    "boissise-le-roi": 3.8,
    "dammarie-les-lys": 21.0,
    "la-rochette": 3.2,
    "le-mee-sur-seine": 20.5,
    "limoges-fourches": 0.5,
    "lissy": 0.2,
    "livry-sur-seine": 2.0,
    "maincy": 1.7,
    "melun": 41.0,
    "montereau-sur-le-jard": 0.5,
    "pringy": 2.8,
    "rubelles": 2.1,
    "saint-fargeau-ponthierry": 14.0,
    "saint-germain-laxis": 0.8,
    "seine-port": 1.9,
    "vaux-le-penil": 11.0,
    "villiers-en-biere": 0.2,
    "voisenon": 1.1,
}

# Unit-tracked types: id -> (name, turnaround minutes, max direct transfer hours,
# substitutes, units in the agglomeration).
UNIT_TYPES: dict[str, tuple[str, int, float, tuple[str, ...], int]] = {
    "podium-8x6": ("Podium 8 x 6 m", 240, 24, ("scene-mobile",), 2),
    "scene-mobile": ("Scène mobile semi-remorque", 180, 24, (), 1),
    "sono-concert": ("Sonorisation de concert", 120, 24, (), 2),
    "sono-portable": ("Sonorisation portable", 30, 24, ("sono-concert",), 3),
    "groupe-20kva": ("Groupe électrogène 20 kVA", 60, 24, ("groupe-60kva",), 3),
    "groupe-60kva": ("Groupe électrogène 60 kVA", 120, 24, (), 1),
    "remorque-frigo": ("Remorque frigorifique", 180, 0, (), 2),
    "minibus-9": ("Minibus 9 places", 60, 0, ("minibus-12",), 3),
    "minibus-12": ("Minibus 12 places", 60, 0, (), 2),
    "camion-benne": ("Camion benne 3,5 t", 60, 0, (), 3),
    "nacelle": ("Nacelle élévatrice 14 m", 120, 12, (), 1),
    "balayeuse": ("Balayeuse de voirie", 120, 0, (), 1),
    "broyeur": ("Broyeur de végétaux", 60, 12, (), 2),
    "desherbeur": ("Désherbeur thermique", 60, 12, (), 2),
    "remorque-plateau": ("Remorque plateau", 30, 0, (), 2),
}

# Pooled types: id -> (name, turnaround minutes, quantity at each agglomeration depot).
POOLED_TYPES: dict[str, tuple[str, int, tuple[int, int]]] = {
    "barriere": ("Barrière de police 2 m", 60, (260, 140)),
    "chaise": ("Chaise pliante", 60, (700, 350)),
    "table": ("Table pliante 1,80 m", 60, (140, 70)),
    "tente-3x3": ("Tente pliante 3 x 3 m", 120, (24, 12)),
    "grille-expo": ("Grille d'exposition", 60, (50, 30)),
    "isoloir": ("Isoloir", 60, (60, 40)),
    "urne": ("Urne transparente", 60, (30, 20)),
}

DEPOTS = (
    ("depot-vaux", "Centre technique communautaire", 48.5286, 2.6831),
    ("depot-dammarie", "Centre technique de Dammarie-lès-Lys", 48.5140, 2.6300),
)

# Per-size settings: horizon (local dates), demand multiplier, synthetic communes.
_SIZE_SETTINGS: dict[str, tuple[date, date, float, int]] = {
    "summer": (date(2027, 6, 1), date(2027, 9, 1), 0.7, 0),
    "year": (date(2027, 1, 1), date(2028, 1, 1), 1.15, 0),
    "department": (date(2027, 1, 1), date(2028, 1, 1), 1.3, 200),
    "department-peak": (date(2027, 1, 1), date(2028, 1, 1), 1.1, 200),
}


@dataclass(frozen=True)
class Peak:
    """What makes ``department-peak`` overloaded, compared with ``department``.

    ``stock`` scales the inventory that ``department`` would have; ``peak``
    multiplies the demand of summer weekends, election days and 14 July;
    ``flexible`` is the share of requests given 1-3 days of flexibility on
    each side; vehicles get ``direct_hours`` of direct transfer.
    """

    radius_km: float = 30.0  # communes within this distance of the centre
    depot_ring_km: float = 17.0  # depots: one at the centre, the others on this ring
    depots: int = 8
    stock: float = 0.5
    peak: float = 1.7
    flexible: float = 1 / 3
    direct_hours: float = 12.0


PEAK = Peak()
VEHICLES = ("minibus-9", "minibus-12", "camion-benne", "balayeuse", "remorque-plateau")

ELECTION_SUNDAYS = (date(2027, 4, 11), date(2027, 4, 25), date(2027, 6, 13), date(2027, 6, 20))
FETE_MUSIQUE = date(2027, 6, 21)
FETE_NATIONALE = date(2027, 7, 14)
PRIORITY_EVENT = (0.15, 0.45, 0.30, 0.10)  # probability of priority 1..4
PRIORITY_WEEKDAY = (0.30, 0.45, 0.20, 0.05)


@dataclass(frozen=True)
class Commune:
    """A commune that borrows equipment: its delivery sites and demand weight."""

    slug: str
    name: str
    lat: float
    lon: float
    weight: float  # relative demand, grows with the square root of population
    sites: tuple[str, ...]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """An aware Paris datetime on ``day`` at ``hour:minute`` (never in a DST gap)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; means here stay small)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _pick_priority(rng: random.Random, mix: Sequence[float]) -> int:
    return rng.choices((1, 2, 3, 4), weights=mix)[0]


def _season(day: date) -> float:
    """Outdoor-event intensity by month: low in winter, peak in June and September."""
    return (0.25, 0.25, 0.4, 0.7, 1.0, 1.3, 1.1, 0.6, 1.1, 0.7, 0.4, 0.6)[day.month - 1]


class SeasonBuilder:
    """Accumulates the sites, inventory and requests of one generated season."""

    def __init__(self, size: str, seed: int) -> None:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
        self.size = size
        self.rng = random.Random(f"{size}-{seed}")
        first, last, self.rate, synthetic = _SIZE_SETTINGS[size]
        self.peak = PEAK if size == "department-peak" else None
        self.first_day, self.last_day = first, last
        self.horizon_start = local(first, 0)
        self.horizon_end = local(last, 0)
        self.sites: list[dict[str, Any]] = []
        self.communes = self._communes(synthetic)
        if self.peak is not None:
            self.depots = self._peak_depots(self.peak)
        else:
            self.depots = self._depots(8 if synthetic else 2)
        self.scale = sum(c.weight for c in self.communes) / sum(
            c.weight for c in self.communes if not c.slug.startswith("synth-")
        )
        self.requests: list[dict[str, Any]] = []

    # -- places -------------------------------------------------------------

    def _communes(self, synthetic: int) -> list[Commune]:
        with COMMUNES_CSV.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        communes = []
        for row in rows:
            lat, lon = float(row["lat"]), float(row["lon"])
            pop = POPULATION_K.get(row["slug"], 1.0)
            communes.append(self._commune(row["slug"], row["name"], lat, lon, pop))
        centre_lat = sum(c.lat for c in communes) / len(communes)
        centre_lon = sum(c.lon for c in communes) / len(communes)
        inner, outer = (6.0, self.peak.radius_km) if self.peak is not None else (8.0, 45.0)
        for index in range(1, synthetic + 1):
            # Uniform over a ring around the agglomeration (1 degree of
            # latitude is 111 km; longitude shrinks with cos(latitude)).
            radius = math.sqrt(self.rng.uniform(inner**2, outer**2))
            angle = self.rng.uniform(0, 2 * math.pi)
            lat = centre_lat + radius * math.sin(angle) / 111.0
            lon = centre_lon + radius * math.cos(angle) / (111.0 * math.cos(math.radians(lat)))
            pop = self.rng.lognormvariate(0.3, 1.0)
            slug = f"synth-{index:03d}"
            communes.append(self._commune(slug, f"Commune synthétique {index:03d}", lat, lon, pop))
        return communes

    def _commune(self, slug: str, name: str, lat: float, lon: float, pop: float) -> Commune:
        sites = [slug]
        self.sites.append(
            {
                "id": slug,
                "name": f"{name} - Mairie",
                "lat": round(lat, 5),
                "lon": round(lon, 5),
                "commune": slug,
            }
        )
        if pop >= 5:
            # Larger communes also receive at their sports ground, ~1 km away.
            self.sites.append(
                {
                    "id": f"{slug}-stade",
                    "name": f"{name} - Stade municipal",
                    "lat": round(lat + 0.006, 5),
                    "lon": round(lon - 0.009, 5),
                    "commune": slug,
                }
            )
            sites.append(f"{slug}-stade")
        weight = 0.35 + 0.5 * math.sqrt(pop)
        return Commune(slug, name, lat, lon, weight, tuple(sites))

    def _depots(self, count: int) -> list[str]:
        ids = []
        for depot_id, name, lat, lon in DEPOTS:
            self.sites.insert(len(ids), {"id": depot_id, "name": name, "lat": lat, "lon": lon})
            ids.append(depot_id)
        for index in range(1, count - len(DEPOTS) + 1):
            angle = 2 * math.pi * index / (count - len(DEPOTS))
            lat = 48.54 + 28 * math.sin(angle) / 111.0
            lon = 2.66 + 28 * math.cos(angle) / (111.0 * math.cos(math.radians(lat)))
            depot_id = f"depot-{index:02d}"
            self.sites.insert(
                len(ids),
                {
                    "id": depot_id,
                    "name": f"Centre technique secteur {index}",
                    "lat": round(lat, 5),
                    "lon": round(lon, 5),
                },
            )
            ids.append(depot_id)
        return ids

    def _peak_depots(self, peak: Peak) -> list[str]:
        """The central depot, the others evenly on a ring around it."""
        centre = DEPOTS[0]
        site = {"id": centre[0], "name": centre[1], "lat": centre[2], "lon": centre[3]}
        self.sites.insert(0, site)
        ids = [centre[0]]
        ring = peak.depots - 1
        for index in range(1, ring + 1):
            angle = 2 * math.pi * (index - 0.5) / ring
            lat = centre[2] + peak.depot_ring_km * math.sin(angle) / 111.0
            lon = centre[3] + peak.depot_ring_km * math.cos(angle) / (
                111.0 * math.cos(math.radians(lat))
            )
            depot_id = f"depot-{index:02d}"
            self.sites.insert(
                index,
                {
                    "id": depot_id,
                    "name": f"Centre technique secteur {index}",
                    "lat": round(lat, 5),
                    "lon": round(lon, 5),
                },
            )
            ids.append(depot_id)
        return ids

    def _stock(self) -> float:
        """The inventory's scale against the agglomeration's."""
        return self.scale * (self.peak.stock if self.peak is not None else 1.0)

    # -- inventory ----------------------------------------------------------

    def types(self) -> list[dict[str, Any]]:
        types = [
            {
                "id": tid,
                "name": name,
                "turnaround_minutes": ta,
                "max_direct_transfer_hours": (
                    max(mdt, self.peak.direct_hours)
                    if self.peak is not None and tid in VEHICLES
                    else mdt
                ),
                "substitutes": list(subs),
            }
            for tid, (name, ta, mdt, subs, _) in UNIT_TYPES.items()
        ]
        types += [
            {"id": tid, "name": name, "turnaround_minutes": ta}
            for tid, (name, ta, _) in POOLED_TYPES.items()
        ]
        return types

    def units(self) -> list[dict[str, Any]]:
        units = []
        for tid, (_, _, _, _, count) in UNIT_TYPES.items():
            total = max(count, round(count * self._stock()))
            prefix = tid.upper()
            for index in range(total):
                units.append(
                    {
                        "id": f"{prefix}-{index + 1}",
                        "type": tid,
                        "home": self.depots[index % len(self.depots)],
                        "unavailable": self._maintenance(),
                    }
                )
        return units

    def _maintenance(self) -> list[dict[str, str]]:
        """One maintenance week a year (two for one unit in four), Monday to Friday."""
        periods = []
        for _ in range(2 if self.rng.random() < 0.25 else 1):
            monday = date(2027, 1, 4) + timedelta(weeks=self.rng.randrange(0, 51))
            start, end = local(monday, 7), local(monday + timedelta(days=5), 7)
            if start < self.horizon_end and end > self.horizon_start:
                periods.append({"start": iso(start), "end": iso(end)})
        return periods

    def pools(self) -> list[dict[str, Any]]:
        pools = []
        for tid, (_, _, quantities) in POOLED_TYPES.items():
            for index, depot in enumerate(self.depots):
                if len(self.depots) == len(quantities):
                    quantity = quantities[index]
                else:  # the scaled stock, spread evenly over the depots
                    quantity = round(sum(quantities) * self._stock() / len(self.depots))
                pools.append(
                    {
                        "id": f"{tid}@{depot.removeprefix('depot-')}",
                        "type": tid,
                        "site": depot,
                        "quantity": max(1, quantity),
                    }
                )
        return pools

    # -- demand -------------------------------------------------------------

    def add(
        self,
        commune: Commune,
        start: datetime,
        end: datetime,
        lines: dict[str, int],
        priority: int,
        *,
        early_days: float = 0,
        late_days: float = 0,
        lead_days: tuple[int, int] = (7, 90),
        own_window: bool = False,
    ) -> None:
        """Adds one request if it fits the horizon; the window is clipped to it.

        ``own_window`` keeps ``early_days`` and ``late_days`` in
        ``department-peak``, which otherwise draws its own flexibility.
        """
        if start < self.horizon_start or end > self.horizon_end or not lines:
            return
        if self.peak is not None and not own_window:
            # A third of the requests may move 1-3 days either way, the others not.
            flexible = self.rng.random() < self.peak.flexible
            early_days = self.rng.randint(1, 3) if flexible else 0
            late_days = self.rng.randint(1, 3) if flexible else 0
        earliest = max(start - timedelta(days=early_days), self.horizon_start)
        latest = min(end + timedelta(days=late_days), self.horizon_end)
        lead = timedelta(days=self.rng.randint(*lead_days))
        submitted = local((start - lead).date(), self.rng.randint(8, 17), self.rng.randrange(60))
        self.requests.append(
            {
                "commune": commune.slug,
                "site": self.rng.choice(commune.sites),
                "priority": priority,
                "submitted_at": iso(submitted),
                "start": iso(start),
                "end": iso(end),
                "earliest_start": iso(earliest),
                "latest_end": iso(latest),
                "lines": [{"type": t, "quantity": q} for t, q in lines.items() if q > 0],
                "locked": None,
            }
        )

    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days
        return [self.first_day + timedelta(days=i) for i in range(count)]

    def _peak_of(self, day: date) -> float:
        """How much more ``department-peak`` asks on a summer weekend."""
        if self.peak is None or day.month not in (6, 7, 8, 9):
            return 1.0
        return self.peak.peak

    def event_lines(self, commune: Commune) -> dict[str, int]:
        """The equipment of one weekend event, by kind of event."""
        rng, big = self.rng, commune.weight
        kind = rng.choices(
            ("fete", "brocante", "expo", "sport", "banquet"), weights=(3, 3, 1.5, 2, 2)
        )[0]
        lines: dict[str, int] = {}
        if kind == "fete":
            lines["podium-8x6"] = 1
            lines["barriere"] = rng.randint(10, 30) * round(1 + big / 2)
            lines["chaise"] = rng.randint(50, 200)
            lines[rng.choice(("sono-portable", "sono-concert"))] = 1
            if rng.random() < 0.4:
                lines["groupe-20kva"] = 1
        elif kind == "brocante":
            lines["table"] = rng.randint(15, 50)
            lines["barriere"] = rng.randint(10, 30)
            if rng.random() < 0.5:
                lines["tente-3x3"] = rng.randint(2, 6)
        elif kind == "expo":
            lines["grille-expo"] = rng.randint(10, 30)
            lines["table"] = rng.randint(5, 15)
            lines["chaise"] = rng.randint(20, 60)
        elif kind == "sport":
            lines["barriere"] = rng.randint(20, 60)
            lines["tente-3x3"] = rng.randint(2, 5)
            lines["sono-portable"] = 1
            if rng.random() < 0.3:
                lines["remorque-frigo"] = 1
        else:
            lines["table"] = rng.randint(15, 40)
            lines["chaise"] = rng.randint(80, 250)
            if rng.random() < 0.5:
                lines["remorque-frigo"] = 1
            if rng.random() < 0.4:
                lines["tente-3x3"] = rng.randint(2, 6)
        return lines

    def weekend_events(self) -> None:
        for day in self.days():
            if day.weekday() != 4:  # Fridays
                continue
            for commune in self.communes:
                mean = 0.2 * self.rate * commune.weight * _season(day) * self._peak_of(day)
                for _ in range(_poisson(self.rng, mean)):
                    lines = self.event_lines(commune)
                    if self.rng.random() < 0.8:  # Friday delivery, Monday collection
                        start = local(day, self.rng.choice((8, 9, 10, 13, 14)))
                        end = local(day + timedelta(days=3), self.rng.choice((9, 10, 11)))
                    else:  # Saturday only
                        start = local(day + timedelta(days=1), 8)
                        end = local(day + timedelta(days=2), 20)
                    flexible = self.rng.random() < 0.25
                    self.add(
                        commune,
                        start,
                        end,
                        lines,
                        _pick_priority(self.rng, PRIORITY_EVENT),
                        early_days=1 if flexible else 0,
                        late_days=1 if flexible else 0,
                    )

    def festivals(self) -> None:
        """Fête de la musique, 14 July, forum des associations, Christmas markets."""
        rng = self.rng
        for commune in self.communes:
            if rng.random() < 0.65:
                lines = {
                    "podium-8x6": 1,
                    "barriere": rng.randint(10, 30),
                    rng.choice(("sono-concert", "sono-portable")): 1,
                }
                self.add(
                    commune,
                    local(FETE_MUSIQUE, 8),
                    local(FETE_MUSIQUE + timedelta(1), 12),
                    lines,
                    rng.choices((2, 3, 4), (3, 5, 2))[0],
                    lead_days=(30, 150),
                )
            if rng.random() < 0.85:
                lines = {
                    "podium-8x6": 1,
                    "barriere": rng.randint(20, 50) * round(1 + commune.weight),
                    "chaise": rng.randint(50, 200),
                    "sono-concert": 1,
                }
                if rng.random() < 0.5:
                    lines["groupe-20kva"] = 1
                start = local(FETE_NATIONALE - timedelta(1), rng.choice((8, 10, 14)))
                self.add(
                    commune,
                    start,
                    local(FETE_NATIONALE + timedelta(1), 12),
                    lines,
                    rng.choices((2, 3, 4), (2, 5, 3))[0],
                    early_days=1,
                    lead_days=(30, 180),
                )
            if rng.random() < 0.5:  # forum des associations, first Saturday of September
                saturday = date(2027, 9, 4)
                lines = {
                    "table": rng.randint(20, 50),
                    "chaise": rng.randint(40, 120),
                    "grille-expo": rng.randint(5, 20),
                }
                self.add(
                    commune,
                    local(saturday - timedelta(1), 14),
                    local(saturday + timedelta(2), 10),
                    lines,
                    2,
                    lead_days=(20, 120),
                )
            if rng.random() < 0.45:  # marché de Noël, second weekend of December
                friday = date(2027, 12, 10)
                lines = {
                    "tente-3x3": rng.randint(4, 10),
                    "table": rng.randint(10, 30),
                    "groupe-20kva": 1,
                }
                self.add(
                    commune,
                    local(friday, 8),
                    local(friday + timedelta(3), 12),
                    lines,
                    rng.choices((2, 3), (1, 1))[0],
                    lead_days=(30, 120),
                )

    def elections(self) -> None:
        """Every commune borrows booths and ballot boxes, Friday to Monday."""
        for sunday in ELECTION_SUNDAYS:
            for commune in self.communes:
                if self.rng.random() < 0.15:  # a few communes own enough
                    continue
                busy = self.peak.peak if self.peak is not None else 1.0
                offices = max(1, round(commune.weight * 1.3 * busy))
                lines = {"urne": offices, "isoloir": offices * 2}
                start = local(sunday - timedelta(2), self.rng.choice((9, 14)))
                self.add(
                    commune, start, local(sunday + timedelta(1), 12), lines, 4, lead_days=(20, 90)
                )

    def weekday_loans(self) -> None:
        """Vehicles and tools borrowed on working days, with some flexibility."""
        rng = self.rng
        kinds = (
            # type, relative frequency, months, days (min, max)
            ("minibus-9", 3.0, range(1, 13), (1, 1)),
            ("minibus-12", 1.0, range(1, 13), (1, 2)),
            ("camion-benne", 2.5, range(1, 13), (1, 3)),
            ("balayeuse", 1.0, range(3, 12), (1, 1)),
            ("broyeur", 1.5, (3, 4, 5, 10, 11), (1, 2)),
            ("desherbeur", 1.5, range(4, 10), (2, 3)),
            ("remorque-plateau", 1.5, range(1, 13), (1, 1)),
            ("groupe-20kva", 0.6, range(1, 13), (1, 2)),
            ("nacelle", 0.7, range(2, 11), (1, 2)),
        )
        for day in self.days():
            if day.weekday() >= 5 or (day.month, day.day) in (
                (5, 1),
                (7, 14),
                (8, 15),
                (11, 1),
                (11, 11),
                (12, 25),
            ):
                continue
            for commune in self.communes:
                for tid, freq, months, (dmin, dmax) in kinds:
                    if day.month not in months:
                        continue
                    mean = 0.019 * self.rate * freq * commune.weight
                    if rng.random() >= mean:
                        continue
                    length = rng.randint(dmin, dmax)
                    last = day + timedelta(days=length - 1)
                    if last.weekday() >= 5:
                        last += timedelta(days=7 - last.weekday())
                    start = local(day, rng.choice((7, 8, 8, 9)), rng.choice((0, 30)))
                    end = local(last, rng.choice((16, 17, 17, 18)), rng.choice((0, 30)))
                    self.add(
                        commune,
                        start,
                        end,
                        {tid: 1},
                        _pick_priority(rng, PRIORITY_WEEKDAY),
                        early_days=rng.choice((0, 0, 1, 2, 3)),
                        late_days=rng.choice((0, 1, 2, 3, 4)),
                        lead_days=(2, 45),
                    )

    def christmas_lights(self) -> None:
        """The aerial lift hangs lights in late November and takes them down in January."""
        for commune in self.communes:
            days = max(1, round(commune.weight))
            for first, last in (
                (date(2027, 11, 15), date(2027, 12, 3)),
                (date(2027, 1, 4), date(2027, 1, 22)),
            ):
                span = (last - first).days - days
                day = first + timedelta(days=self.rng.randint(0, max(0, span)))
                start = local(day, 7, 30)
                end = local(day + timedelta(days=days - 1), 17)
                lead = (40, 120) if first.month == 11 else (10, 60)
                early = (day - first).days
                late = (last - (day + timedelta(days=days - 1))).days
                self.add(
                    commune,
                    start,
                    end,
                    {"nacelle": 1},
                    self.rng.choice((2, 2, 3)),
                    early_days=early,
                    late_days=late,
                    lead_days=lead,
                    own_window=True,
                )

    def document(self) -> dict[str, Any]:
        self.weekend_events()
        self.festivals()
        self.elections()
        self.weekday_loans()
        self.christmas_lights()
        # Ids follow the order in which a booking tool would have received them.
        self.requests.sort(key=lambda r: (r["submitted_at"], r["start"], r["commune"]))
        width = max(4, len(str(len(self.requests))))
        requests = [{"id": f"R-{i + 1:0{width}d}", **r} for i, r in enumerate(self.requests)]
        return {
            "format": "loan-problem/1",
            "timezone": "Europe/Paris",
            "horizon": {"start": iso(self.horizon_start), "end": iso(self.horizon_end)},
            "travel": {"road_factor": 1.3, "speed_kmh": 40},
            "sites": self.sites,
            "types": self.types(),
            "units": self.units(),
            "pools": self.pools(),
            "requests": requests,
            "previous": None,
            "weights": {"priority_value": {"1": 1, "2": 2, "3": 4, "4": 8}},
        }


def generate(size: str, seed: int) -> dict[str, Any]:
    """A whole `loan-problem/1` document for ``size``, deterministic per ``seed``.

    Raises:
        ValueError: ``size`` is not one of ``SIZES``.
    """
    return SeasonBuilder(size, seed).document()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", choices=SIZES, default="year")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    text = json.dumps(generate(args.size, args.seed), ensure_ascii=False, indent=1)
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
