"""Which joins and departures the room names, and how the rest are counted.

News of people coming and going carries a name its sender chose to everyone in
the room, so it is a broadcast like chat and is limited like chat: per address.
Each address may have NAMED_BURST joins and departures named at once and
NAMED_PER_SECOND after that: a class joining from thirty computers, or from one
NAT address over half a minute, is named person by person. Past that, news from
the address is only counted, and each count is told once, as one line ("37
more joined in the last 5 s"), when its SUMMARY_SECONDS window ends. Thousands
of joins from one address cost everyone a few lines, not thousands.

No I/O and no clock of its own: the room passes the loop's time in.
"""

from __future__ import annotations

from .session import Allowance

NAMED_BURST = 10
NAMED_PER_SECOND = 1.0
"""Joins and departures of one address named one by one: ten at once, then one a second."""

SUMMARY_SECONDS = 5.0
"""How long unnamed news is counted before the count is told."""

MAX_ADDRESSES = 4096
"""Addresses whose allowance is remembered; news from further ones is only counted.
An allowance left alone for long enough to be full again is forgotten."""

KINDS = ("left", "joined")


class NewsBudget:
    """Per-address allowances for named news, and the counts of what was not named."""

    def __init__(
        self,
        burst: int = NAMED_BURST,
        per_second: float = NAMED_PER_SECOND,
        summary_seconds: float = SUMMARY_SECONDS,
    ):
        self._burst = burst
        self._per_second = per_second
        self._summary_seconds = summary_seconds
        self._allowances: dict[str, tuple[Allowance, float]] = {}
        """Address → its allowance and when it was last used."""
        self._counts = dict.fromkeys(KINDS, 0)
        self._summary_due: float | None = None
        self._next_prune = 0.0

    def may_name(self, address: str, now: float) -> bool:
        """May one more join or departure from `address` be told by name? (Spends the allowance.)"""
        self._prune(now)
        entry = self._allowances.get(address)
        if entry is None:
            if len(self._allowances) >= MAX_ADDRESSES:
                return False
            entry = (Allowance(self._per_second, self._burst, now), now)
        allowance = entry[0]
        self._allowances[address] = (allowance, now)
        return allowance.take(now)

    def count(self, kind: str, now: float) -> None:
        """A join or departure ("joined", "left") that is not named: told with the next summary."""
        self._counts[kind] += 1
        if self._summary_due is None:
            self._summary_due = now + self._summary_seconds

    def due_summaries(self, now: float) -> list[tuple[str, int]]:
        """When the window has ended: each kind and how many were counted in it (then forgotten)."""
        if self._summary_due is None or now < self._summary_due:
            return []
        summaries = [(kind, count) for kind, count in self._counts.items() if count]
        self._counts = dict.fromkeys(KINDS, 0)
        self._summary_due = None
        return summaries

    @property
    def summary_seconds(self) -> float:
        return self._summary_seconds

    def _prune(self, now: float) -> None:
        """Forget allowances unused for long enough to have refilled: they would start full anyway."""
        if now < self._next_prune:
            return
        refill_seconds = self._burst / self._per_second
        self._next_prune = now + refill_seconds
        self._allowances = {
            address: entry for address, entry in self._allowances.items() if now - entry[1] < refill_seconds
        }
