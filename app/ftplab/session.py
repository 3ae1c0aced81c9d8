"""One client connection on the server: its socket, its parser, its queue, its downloads."""

from __future__ import annotations

import enum
import socket
from collections import deque

from . import protocol
from .outbox import Outbox
from .transfer import Transfer

MAX_QUEUED_BYTES = 1024 * 1024
"""Bytes (not file slices) a client may have waiting; past this it is too slow and dropped."""

LOW_WATER_BYTES = 64 * 1024
"""A download's next frame is queued only while less than this is waiting."""

HIGH_WATER_BYTES = 256 * 1024
"""Past this much waiting output the server stops reading the client's commands."""


CHAT_LINES_PER_SECOND = 5.0
CHAT_BURST_LINES = 20
"""A client may send 20 chat lines at once (a paste) and 5 a second after that."""


class Allowance:
    """A token bucket: `take` spends one token if there is one; they refill at `rate` a second."""

    def __init__(self, rate: float, burst: int, now: float):
        self._rate = rate
        self._burst = burst
        self._tokens = float(burst)
        self._updated = now
        self._warned = False

    def take(self, now: float) -> bool:
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            self._warned = False
            return True
        return False

    def should_warn(self) -> bool:
        """True once per run of refused takes, so the warning is not a flood itself."""
        warn, self._warned = not self._warned, True
        return warn


class State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # a last message is being flushed
    LINGERING = "lingering"  # our side is shut; waiting for the peer's EOF so it reads everything
    CLOSED = "closed"


class Session:
    def __init__(self, sock: socket.socket, address: tuple, now: float):
        self.sock = sock
        self.address = address
        self.receiver = protocol.Receiver(from_server=False)
        self.outbox = Outbox()
        self.name: str | None = None
        self.transfers: deque[Transfer] = deque()
        self.state = State.OPEN
        self.quitting = False
        self.last_activity = now
        self.last_progress = now
        self.deadline: float | None = None
        self.events = 0
        self.connected_at = now
        self.chat_allowance = Allowance(CHAT_LINES_PER_SECOND, CHAT_BURST_LINES, now)

    @property
    def ip(self) -> str:
        return self.address[0]

    @property
    def label(self) -> str:
        """How the logs name this connection: 'alice@172.28.0.3:51234'."""
        who = self.name or "?"
        return f"{who}@{self.address[0]}:{self.address[1]}"

    @property
    def is_open(self) -> bool:
        return self.state is State.OPEN

    @property
    def has_lines_to_handle(self) -> bool:
        """Lines are waiting and the client is taking its replies: a client that
        floods commands without reading the answers waits for its output to drain."""
        return (
            self.is_open
            and not self.quitting
            and self.receiver.has_events
            and self.outbox.buffered_bytes < HIGH_WATER_BYTES
        )

    @property
    def wants_to_read(self) -> bool:
        """Read more only while earlier lines are handled and output is draining."""
        if self.state is not State.OPEN:
            return True
        return not self.receiver.has_events and self.outbox.buffered_bytes < HIGH_WATER_BYTES

    def queue(self, data: bytes, now: float) -> bool:
        """Queue bytes for the client; False when it already has too much waiting."""
        if self.outbox.buffered_bytes + len(data) > MAX_QUEUED_BYTES:
            return False
        if not self.outbox:
            self.last_progress = now
        self.outbox.add(data)
        return True

    def close_transfers(self) -> None:
        while self.transfers:
            self.transfers.popleft().close()

    def idle_for(self, now: float) -> float:
        """Seconds since the client's last line or finished download."""
        return now - self.last_activity

    def stalled_for(self, now: float) -> float:
        """Seconds the client has had output waiting without taking any of it."""
        return now - self.last_progress if self.outbox else 0.0

    def close(self) -> None:
        self.close_transfers()
        self.sock.close()
        self.state = State.CLOSED
