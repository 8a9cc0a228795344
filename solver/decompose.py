"""Independent sub-problems, so that solving cost grows with the busiest part.

Two requests interact only through equipment they may both use, at times
closer than a loan plus its turnaround and travel. So a problem splits first
into *type groups* (types linked by substitution or by appearing in one
request: connected components), then each group into *time clusters*
(requests whose possible occupations, windows widened by turnaround and
travel, overlap transitively). Clusters of one group are independent for
dates and quantities; transport km still link them through direct transfers,
which is why units are assigned per type group (``solver.units``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.instance import Instance


@dataclass(frozen=True)
class TypeGroup:
    """Types linked by substitution or shared requests, with their requests."""

    type_ids: tuple[str, ...]
    request_ids: tuple[str, ...]


@dataclass(frozen=True)
class Part:
    """Requests of one type group whose occupations may overlap in time."""

    group: int  # index of the TypeGroup
    request_ids: tuple[str, ...]
    span: tuple[int, int]  # minutes covered by the part's possible occupations

    @property
    def size(self) -> int:
        return len(self.request_ids)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller id wins, so components do not depend on input order.
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def type_groups(inst: Instance) -> list[TypeGroup]:
    """Connected components of types (substitution, shared requests), in input order.

    Returns:
        The groups that have at least one request, each with its requests in
        problem order.
    """
    uf = _UnionFind()
    for t in inst.problem.types:
        uf.find(t.id)
        for sub in inst.eligible_unit_types(t.id):
            uf.union(t.id, sub)
    for request in inst.problem.requests:
        types = [line.type for line in request.lines]
        for other in types[1:]:
            uf.union(types[0], other)
    members: dict[str, list[str]] = {}
    for t in inst.problem.types:
        members.setdefault(uf.find(t.id), []).append(t.id)
    reqs: dict[str, list[str]] = {}
    for request in inst.problem.requests:
        if request.lines:
            reqs.setdefault(uf.find(request.lines[0].type), []).append(request.id)
    groups = []
    for root, type_ids in members.items():
        if root in reqs:
            groups.append(TypeGroup(tuple(type_ids), tuple(reqs[root])))
    return groups


def unit_type_groups(inst: Instance) -> list[tuple[str, ...]]:
    """Types linked by substitution only: independent once times are fixed.

    Giving units to loans whose times are known couples two lines only when
    they may use units of the same type, so these groups are finer than
    ``type_groups`` (which also links the types of one request).
    """
    uf = _UnionFind()
    for t in inst.problem.types:
        uf.find(t.id)
        for sub in inst.eligible_unit_types(t.id):
            uf.union(t.id, sub)
    members: dict[str, list[str]] = {}
    for t in inst.problem.types:
        if not inst.problem.is_pooled(t.id):
            members.setdefault(uf.find(t.id), []).append(t.id)
    return [tuple(types) for types in members.values()]


def group_padding(inst: Instance, group: TypeGroup) -> int:
    """Longest turnaround plus travel between the group's sites, in minutes."""
    turnaround = max((inst.turnaround(t) for t in group.type_ids), default=0)
    sites = sorted({inst.reqs[r].request.site for r in group.request_ids})
    travel = max((inst.travel.minutes(a, b) for a in sites for b in sites), default=0)
    return turnaround + travel


def time_clusters(inst: Instance, group: TypeGroup, group_index: int = 0) -> list[Part]:
    """Splits a type group into requests whose possible occupations overlap.

    A request may occupy ``[lo, hi + duration + padding)``; clusters are the
    connected components of these intervals (a sweep over sorted starts).
    """
    pad = group_padding(inst, group)
    spans = []
    for rid in group.request_ids:
        rd = inst.reqs[rid]
        if rd.servable:
            spans.append((rd.lo, rd.hi + rd.duration + pad, rid))
        else:
            spans.append((rd.start, rd.start, rid))
    spans.sort()
    parts: list[Part] = []
    current: list[str] = []
    lo = hi = None
    for start, end, rid in spans:
        if current and start >= hi:  # type: ignore[operator]
            parts.append(Part(group_index, tuple(current), (lo, hi)))  # type: ignore[arg-type]
            current = []
        if not current:
            lo, hi = start, end
        current.append(rid)
        hi = max(hi, end)  # type: ignore[type-var]
    if current:
        parts.append(Part(group_index, tuple(current), (lo, hi)))  # type: ignore[arg-type]
    return parts


def decompose(inst: Instance) -> tuple[list[TypeGroup], list[Part]]:
    """Type groups and their time clusters, in a deterministic order."""
    groups = type_groups(inst)
    parts = [p for i, g in enumerate(groups) for p in time_clusters(inst, g, i)]
    return groups, parts


def batch_parts(parts: Sequence[Part], min_size: int = 40) -> list[list[Part]]:
    """Gathers small parts into batches of at least ``min_size`` requests.

    Independent parts can share one model; batching saves the fixed cost of
    building and solving many tiny models. Large parts stay alone.
    """
    batches: list[list[Part]] = []
    current: list[Part] = []
    size = 0
    for part in parts:
        if part.size >= min_size:
            batches.append([part])
            continue
        current.append(part)
        size += part.size
        if size >= min_size:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def share_time(sizes: Sequence[float], seconds_left: float, index: int) -> float:
    """Seconds for part ``index`` out of what remains, in proportion to sizes.

    Called just before solving each part with the seconds still available,
    so time left over by parts that finished early goes to the later ones.

    Args:
        sizes: the size (work estimate) of every part, in solving order.
        seconds_left: seconds available for parts ``index`` and after.
        index: the part about to be solved.
    """
    remaining = sum(sizes[index:])
    if remaining <= 0 or seconds_left <= 0:
        return max(seconds_left, 0.0)
    return seconds_left * sizes[index] / remaining
