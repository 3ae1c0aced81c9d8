"""What the server's loop holds, and what they may ask of it.

Every selector key's data is an `Endpoint`: the loop calls `on_ready(mask)`
and never asks what it is. Connections (connection.py and its kinds), the
listeners (admission.py), the passive listeners (passive.py), the console
(labdoor.py) and the wake-up socket (server.py) all answer it, like asyncio's
protocols answer their transport. A `Door` (the lab's, the FTP one) is the
work of one kind of client that is not tied to a socket being ready: held
lines, news for the room, uploads settling.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from typing import Protocol


class Endpoint(Protocol):
    """What a selector key carries."""

    label: str

    def on_ready(self, mask: int) -> None:
        """Its descriptor is ready for `mask` (selectors.EVENT_READ / EVENT_WRITE)."""

    def failed(self) -> None:
        """`on_ready` raised: the loop has logged it; give up on whatever it was doing."""


class Loop(Protocol):
    """What connections, doors and admission ask of the server's loop."""

    @property
    def now(self) -> float: ...

    @property
    def stopping(self) -> bool: ...

    def register(self, sock: socket.socket | int, events: int, endpoint: Endpoint) -> None: ...

    def unregister(self, sock: socket.socket | int) -> None: ...

    def adopt(self, connection) -> None:
        """Hold a new connection (a client, or an FTP data connection)."""

    def touch(self, connection) -> None:
        """Serve it this turn: handle its input, produce, flush, watch."""

    def drop(self, connection, reason: str) -> None:
        """Close it now."""

    def drop_soon(self, connection, reason: str) -> None:
        """Close it at the end of this step (never in the middle of a broadcast)."""

    def close_after_output(self, connection, reason: str) -> None:
        """Send what is queued (a last message), then close."""

    def leave(self, connection, reason: str) -> None:
        """It stops counting as a client (its slot, its address, its name)."""

    def guard(self, target, work: Callable, *args) -> None:
        """`work(target, *args)`; an unexpected error is logged and `target.failed()`."""


class Door:
    """The per-turn work of one door, called by the loop in this order every turn;
    the defaults do nothing."""

    def before_input(self) -> None:
        """Work that waits on no socket: held lines, the console, hashing, settling."""

    def after_input(self) -> None:
        """After the lines of this turn and the drops they caused: news for the room."""

    def after_output(self) -> None:
        """After every connection was served: what to watch next turn."""

    def wait_limit(self) -> float:
        """How long the loop may sleep in select for this door's sake."""
        return math.inf

    def housekeeping(self, now: float) -> None:
        """A few times a second: timers that belong to the door, not to one connection."""

    def stop(self) -> None:
        """The server begins to stop (each connection gets its `goodbye` from the loop)."""

    def close(self) -> None:
        """The loop has ended: close what the door holds besides connections."""


class Wakeup:
    """A socket pair whose reading end wakes the loop: give `fd` to signal.set_wakeup_fd."""

    label = "wake-up socket"

    def __init__(self):
        self.reader, self.writer = socket.socketpair()
        for sock in (self.reader, self.writer):
            sock.setblocking(False)

    def on_ready(self, _mask: int) -> None:
        try:
            while self.reader.recv(4096):
                pass
        except BlockingIOError:
            pass

    def failed(self) -> None:
        """Nothing to give up: the next signal wakes it again."""

    def close(self) -> None:
        self.reader.close()
        self.writer.close()
