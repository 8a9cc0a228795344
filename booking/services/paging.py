"""Pages of long lists (the review of a plan, the list of requests)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Pager:
    """One page of a long list: ``page`` counts from 1."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def first(self) -> int:
        """Rank of the first item shown (0 when there is none)."""
        return self.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.offset + self.per_page, self.total)

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def make_pager(page: int | None, per_page: int, total: int) -> Pager:
    """A pager on ``page``, brought within the pages there are."""
    pages = max(1, math.ceil(total / per_page))
    return Pager(min(max(page or 1, 1), pages), per_page, total)
