"""The loop's clock: monotonic time that skips the process's own pauses."""

from __future__ import annotations

import time
from collections.abc import Callable

HOUSEKEEPING_SECONDS = 0.25
"""The longest the loop sleeps in select, and how often it looks at its timers."""

LONGEST_EXPECTED_TURN = 2.0
"""A turn longer than this means the process was stopped (SIGSTOP, Ctrl-Z): see LoopClock."""


class LoopClock:
    """Monotonic time that stands still while the process was not running.

    A server stopped for a minute (Ctrl-Z then fg, SIGSTOP) must not find on
    waking that every client "made no progress for 60 s": the time between
    two turns beyond LONGEST_EXPECTED_TURN is not counted."""

    def __init__(self, source: Callable[[], float] = time.monotonic):
        self._source = source
        self._last = source()
        self._paused = 0.0

    def tick(self) -> float:
        now = self._source()
        gap = now - self._last
        if gap > LONGEST_EXPECTED_TURN:
            self._paused += gap - HOUSEKEEPING_SECONDS
        self._last = now
        return now - self._paused
