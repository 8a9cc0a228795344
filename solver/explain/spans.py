"""Sets of shifts as sorted closed spans of integer minutes, and step functions over them.

``Spans`` are disjoint, sorted ``(first, last)`` pairs, both included.
``Steps`` cover one range ``[lo, hi]`` without gaps as ``(first, last, value)``
pieces: how many units are free, or how much of a pool is left, at each shift.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from solver.explain.index import Spans

Steps = list[tuple[int, int, int]]


def coverage(span_lists: Sequence[Spans], lo: int, hi: int) -> Steps:
    """How many of ``span_lists`` contain each shift of ``[lo, hi]``."""
    delta: dict[int, int] = {lo: 0}
    for spans in span_lists:
        for first, last in spans:
            delta[first] = delta.get(first, 0) + 1
            delta[last + 1] = delta.get(last + 1, 0) - 1
    points = sorted(p for p in delta if p <= hi)
    steps: Steps = []
    level = 0
    for i, point in enumerate(points):
        level += delta[point]
        end = points[i + 1] - 1 if i + 1 < len(points) else hi
        steps.append((point, end, level))
    return steps


def at_least(steps: Steps, quantity: int) -> Spans:
    """The shifts where the step function reaches ``quantity``."""
    spans: Spans = []
    for first, last, value in steps:
        if value < quantity:
            continue
        if spans and spans[-1][1] + 1 == first:
            spans[-1] = (spans[-1][0], last)
        else:
            spans.append((first, last))
    return spans


def intersect(a: Spans, b: Spans) -> Spans:
    result: Spans = []
    i = j = 0
    while i < len(a) and j < len(b):
        first, last = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if first <= last:
            result.append((first, last))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def nearest_zero(first: int, last: int) -> int:
    """The shift of ``[first, last]`` closest to no shift at all."""
    return 0 if first <= 0 <= last else (last if last < 0 else first)


def closest(spans: Spans) -> int:
    """The smallest shift in ``spans``, earlier first on ties."""
    points = [nearest_zero(first, last) for first, last in spans]
    return min(points, key=lambda d: (abs(d), d))


def best_shift(steps: Sequence[Steps], key: Callable[[tuple[int, ...]], tuple[int, ...]]) -> int:
    """The shift maximising ``key`` of the step values, then closest to zero.

    All step functions must cover the same range.
    """
    best: tuple[int, ...] | None = None
    shift = 0
    for first, last, values in merge(steps):
        d = nearest_zero(first, last)
        rank = (*key(values), -abs(d), -d)
        if best is None or rank > best:
            best, shift = rank, d
    return shift


def merge(steps: Sequence[Steps]) -> list[tuple[int, int, tuple[int, ...]]]:
    """Pieces where every step function of ``steps`` is constant, with all values."""
    indices = [0] * len(steps)
    pieces = []
    first = steps[0][0][0]
    while True:
        last = min(s[i][1] for s, i in zip(steps, indices, strict=True))
        pieces.append((first, last, tuple(s[i][2] for s, i in zip(steps, indices, strict=True))))
        for k, s in enumerate(steps):
            if s[indices[k]][1] == last:
                indices[k] += 1
        if any(i >= len(s) for s, i in zip(steps, indices, strict=True)):
            return pieces
        first = last + 1


def value_at(steps: Steps, d: int) -> int:
    for first, last, value in steps:
        if first <= d <= last:
            return value
    raise ValueError(f"shift {d} outside the steps")
