"""The news of people arriving and leaving, held until the room tells it.

Split out of room.py: the room sends, the roster keeps the people, and this
decides what the others hear of their comings and goings: arrivals and
departures are gathered, then told together (departures first), one by one
when they are few and as one line when a crowd moves at once. How much is told
by name, and how much only counted, is news.py's `NewsBudget` decision.
"""

from __future__ import annotations

from collections.abc import Callable

from .news import KINDS, NewsBudget

NEWS_NAMED_ONE_BY_ONE = 4
"""Up to this many joins (or departures) at once are announced one by one; more
become one line ("ana, bob, carla and 37 more joined"): a crowd joining at once
costs one broadcast, not one per newcomer to every member."""

Announce = Callable[..., None]
"""How the news is told: `announce(key, exclude, **values)` (the room's `_announce_now`)."""


class VisitNews:
    """Arrivals and departures not told yet, and the budget that decides who is named."""

    def __init__(self, budget: NewsBudget | None = None):
        self._budget = budget or NewsBudget()
        self._pending: dict[str, dict] = {kind: {} for kind in KINDS}

    @property
    def pending(self) -> bool:
        return any(self._pending.values())

    def arrived(self, visitor) -> None:
        """A person joined: news, unless it is another connection of someone already told of."""
        if visitor.named is None:
            self._pending["joined"][visitor] = None

    def departed(self, visitor, told: bool) -> None:
        """A visit ended: the others hear of it (if `told`) unless they never heard of the arrival."""
        if self._pending["joined"].pop(visitor, False) is None:
            return  # a visit nobody was told of ends untold
        if told:
            self._pending["left"][visitor] = None

    def tell(self, now: float, announce: Announce) -> None:
        """Announce the departures, then the arrivals, noted since the last time,
        and the count of those not named once its window ends."""
        for kind in KINDS:
            if not self._pending[kind]:
                continue  # the loop asks every turn: nothing to copy when nobody came or went
            visitors, self._pending[kind] = self._pending[kind], {}
            named = [visitor for visitor in visitors if self._may_name(kind, visitor, now)]
            if len(named) <= NEWS_NAMED_ONE_BY_ONE:
                for visitor in named:
                    announce(kind, set(visitor.connections), name=visitor.name)
            else:
                names = ", ".join(visitor.name for visitor in named[:3])
                exclude = {connection for visitor in named for connection in visitor.connections}
                announce(f"{kind}_many", exclude, names=names, count=len(named) - 3)
        for kind, count in self._budget.due_summaries(now):
            seconds = f"{self._budget.summary_seconds:g}"
            announce(f"{kind}_more", set(), count=count, seconds=seconds)

    def _may_name(self, kind: str, visitor, now: float) -> bool:
        """Within its address's allowance: named; otherwise counted. Someone whose
        arrival was only counted leaves counted too, spending nothing."""
        if kind == "joined":
            visitor.named = self._budget.may_name(visitor.address, now)
            named = visitor.named
        else:
            named = visitor.named is not False and self._budget.may_name(visitor.address, now)
        if not named:
            self._budget.count(kind, now)
        return named
