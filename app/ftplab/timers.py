"""The loop's timers: which connections have a deadline due, without looking at the others.

Each connection has at most one live entry: the earliest time its timers may
have something to do (its idle or join timeout, a stalled output, the end of
its closing). A heap keeps them in order, so a housekeeping pass pops what is
due and touches nothing else: 10,000 idle clients cost nothing until one of
them reaches a deadline.

Entries are never searched for or removed from the middle of the heap. A
connection that moves its deadline *later* (it spoke, its output moved) keeps
its entry: when it comes due the connection is looked at, finds nothing to
do, and is scheduled again at its new deadline. Only a deadline moved
*earlier* pushes a new entry; the old one is then stale and skipped when it
surfaces (its due time no longer matches the live one). A connection that
closes leaves a stale entry too: when stale entries outnumber the live ones
(plus STALE_SLACK), the heap is rebuilt from the live ones, as asyncio does
with its cancelled timers, so a crowd that came and went is not kept in
memory until its deadlines.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Generic, TypeVar

Item = TypeVar("Item")

STALE_SLACK = 64
"""Stale entries tolerated beyond the live ones before the heap is rebuilt."""


class Timers(Generic[Item]):
    """A due time per item, in a heap; `due(now)` takes the items whose time has come."""

    def __init__(self):
        self._heap: list[tuple[float, int, Item]] = []
        self._live: dict[Item, float] = {}
        """Each scheduled item's due time: a heap entry with any other time is stale."""
        self._order = itertools.count()
        """Breaks ties between equal times without comparing items."""

    def __len__(self) -> int:
        """Items scheduled (stale heap entries not counted)."""
        return len(self._live)

    def schedule(self, item: Item, due: float) -> None:
        """Look at `item` at `due` at the latest (math.inf: never). An earlier time already
        scheduled stands: the item is looked at then, and says its new time."""
        if due == math.inf or self._live.get(item, math.inf) <= due:
            return
        self._live[item] = due
        heapq.heappush(self._heap, (due, next(self._order), item))
        self._compact_if_stale()

    def cancel(self, item: Item) -> None:
        """Forget `item` (its entries become stale)."""
        if self._live.pop(item, None) is not None:
            self._compact_if_stale()

    def _compact_if_stale(self) -> None:
        """Rebuild the heap from the live entries once the stale ones outnumber them: each
        rebuild follows as many stale entries as it costs, and keeps no closed connection."""
        if len(self._heap) > 2 * len(self._live) + STALE_SLACK:
            self._heap = [(due, next(self._order), item) for item, due in self._live.items()]
            heapq.heapify(self._heap)

    def due(self, now: float) -> list[Item]:
        """The items due at `now`, unscheduled: whoever looks at them schedules them again."""
        heap, live, taken = self._heap, self._live, []
        while heap and heap[0][0] <= now:
            due, _, item = heapq.heappop(heap)
            if live.get(item) == due:
                del live[item]
                taken.append(item)
        return taken
