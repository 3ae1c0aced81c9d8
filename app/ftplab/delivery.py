"""Queuing a member's output, and back-pressure: which members hold the room back.

Split out of room.py: the room decides what to say, this puts the bytes on a
session's queue, asks the loop to flush it, and keeps the set of members above
the high-water mark. A member that makes progress but has more than the
high-water mark waiting makes the room *congested* until it drains below the
low-water mark; one that takes nothing for the progress window no longer holds
the room back (the data timeout or the hard cap drops it).
"""

from __future__ import annotations


class Delivery:
    """Every byte the room sends goes through `send`; `congested` tells producers to pause."""

    def __init__(self, loop, progress_window: float):
        self._loop = loop
        self._progress_window = progress_window
        self._full: set = set()
        """Sessions above the high-water mark, until they drain below the low-water mark."""

    def send(self, session, data: bytes) -> None:
        """Send `data` at once if the socket takes it (`Transport.send_at_once`), else queue what
        is left; a session past its hard cap is dropped after the current step, not now."""
        rest = session.send_at_once(data, self._loop.now)
        if rest:
            self._queue(session, rest)

    def send_to_all(self, sessions, data: bytes, exclude=None) -> None:
        """`data` to each of `sessions` (but `exclude`): a chat line to the whole room. A socket
        that takes it at once costs one `send` and nothing else: no queue, no selector change."""
        now = self._loop.now
        for session in sessions:
            if session is not exclude:
                rest = session.send_at_once(data, now)
                if rest:
                    self._queue(session, rest)

    def _queue(self, session, data: bytes) -> None:
        """Queue what the socket did not take and ask the loop to flush it."""
        if not session.queue(data, self._loop.now):
            self._loop.drop_soon(session, "too slow: output queue full")
            return
        if session.above_high_water and session.name is not None:
            self._full.add(session)
        self._loop.touch(session)

    @property
    def congested(self) -> bool:
        """A member that keeps reading has too much waiting: producers must pause."""
        now = self._loop.now
        return any(session.is_progressing(now, self._progress_window) for session in self._full)

    def drained(self, session) -> None:
        """A member below the low-water mark is no longer full."""
        if session.below_low_water:
            self._full.discard(session)

    def forget(self, session) -> None:
        """`session` is leaving: it holds nobody back any more."""
        self._full.discard(session)
