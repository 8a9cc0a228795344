"""Travel padding for the dates stage's unit cumulatives.

A loan of a unit-tracked type is followed on its unit by a loan that starts
after ``end + turnaround + travel``. The dates stage cannot know which loan
comes next, so it pads each loan by the longest travel time from its site to
the site of any loan that might start soon enough after it to be its
successor: a request sharing one of its unit types whose window reaches the
span from its earliest end to its latest end plus turnaround and the longest
travel. Sites are looked up per day, as bit masks, to keep this linear.
"""

from __future__ import annotations

from collections.abc import Sequence

from solver.instance import Instance

DAY = 24 * 60


def travel_pads(inst: Instance, request_ids: Sequence[str]) -> dict[str, int]:
    """Per request, the minutes to add to each of its unit loans (0 if none)."""
    sites = sorted({inst.reqs[r].request.site for r in request_ids})
    index = {site: i for i, site in enumerate(sites)}
    travel = [[inst.travel.minutes(a, b) for b in sites] for a in sites]
    longest = max((max(row) for row in travel), default=0)
    types_of: dict[str, set[str]] = {}
    masks: dict[str, dict[int, int]] = {}
    for rid in request_ids:
        rd = inst.reqs[rid]
        if not rd.servable:
            continue
        types = {t for line in rd.request.lines for t in inst.eligible_unit_types(line.type)}
        types_of[rid] = types
        bit = 1 << index[rd.request.site]
        for t in types:
            by_day = masks.setdefault(t, {})
            for day in range(rd.lo // DAY, (rd.hi + rd.duration) // DAY + 1):
                by_day[day] = by_day.get(day, 0) | bit
    pads: dict[str, int] = {}
    for rid, types in types_of.items():
        rd = inst.reqs[rid]
        row = travel[index[rd.request.site]]
        pad = 0
        for t in types:
            first = (rd.lo + rd.duration) // DAY
            last = (rd.hi + rd.duration + inst.turnaround(t) + longest) // DAY
            mask = 0
            for day in range(first, last + 1):
                mask |= masks[t].get(day, 0)
            pad = max(
                pad,
                max((row[i] for i in range(len(sites)) if mask >> i & 1), default=0),
            )
        pads[rid] = pad
    return pads
