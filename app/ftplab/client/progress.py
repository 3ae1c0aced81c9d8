"""One progress line for both directions: a download being received, an upload being sent."""

from __future__ import annotations

from ..messages import Messages, human_size
from ..text import visible

PROGRESS_INTERVAL_SECONDS = 0.25
"""The progress line is redrawn at most this often."""


class Progress:
    """How far one transfer of `size` bytes has got, and how fast since `started_at`."""

    def __init__(self, name: str, size: int, started_at: float, started_from: int = 0):
        self.name = name
        self.size = size
        self.done = started_from
        self.started_from = started_from
        """Bytes already held when this transfer started (a resumed download)."""
        self.started_at = started_at
        self._shown_at = float("-inf")

    @property
    def percent(self) -> int:
        return 100 if not self.size else self.done * 100 // self.size

    def rate(self, now: float) -> float:
        elapsed = now - self.started_at
        return (self.done - self.started_from) / elapsed if elapsed > 0 else 0.0

    def elapsed(self, now: float) -> float:
        return max(now - self.started_at, 1e-6)

    def due(self, now: float) -> bool:
        """Time to redraw? (at most every PROGRESS_INTERVAL_SECONDS)"""
        if now - self._shown_at < PROGRESS_INTERVAL_SECONDS:
            return False
        self._shown_at = now
        return True

    def line(self, now: float, say: Messages) -> str:
        rate = self.rate(now)
        eta = f"{(self.size - self.done) / rate:.0f} s" if rate else "?"
        return say(
            "download_progress",
            name=visible(self.name),
            percent=self.percent,
            received=human_size(self.done),
            size=human_size(self.size),
            rate=human_size(int(rate)),
            eta=eta,
        )

    def summary(self, now: float) -> dict[str, str]:
        """The figures of a finished transfer's line: seconds and rate."""
        elapsed = self.elapsed(now)
        return {
            "seconds": f"{elapsed:.1f}",
            "rate": human_size(int((self.done - self.started_from) / elapsed)),
        }
