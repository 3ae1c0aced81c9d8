"""A loop to drive by hand: the real `Server` and `Admission` with a clock that moves only
when told, a door and a kind of connection that record what the loop asks of them."""

from __future__ import annotations

import selectors
import socket

from ftplab.admission import Admission, Limits, Place
from ftplab.clock import LoopClock
from ftplab.connection import Connection
from ftplab.endpoints import Door
from ftplab.protocol import ErrorCode
from ftplab.server import Server

BUSY = b"busy\n"


class FakeTime:
    """A time source that moves only when the test says so."""

    def __init__(self):
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


class Probe(Connection):
    """A connection kind that records the hooks the loop calls, and says `bye` as its last words."""

    def __init__(self, sock: socket.socket, address: tuple, loop: Server, place: Place | None = None):
        super().__init__(sock, address, loop.now, loop)
        if place is not None:
            self.address_key = place.key
        self.calls: list[str] = []
        self.refusals: list[tuple[ErrorCode, str]] = []
        self.wake_at: float | None = None

    def readable(self) -> None:
        self.calls.append("readable")
        super().readable()

    def admitted(self) -> None:
        self.calls.append("admitted")

    def refuse(self, code: ErrorCode, key: str, **values) -> None:
        self.refusals.append((code, key))
        self.queue(f"refused {key}\n".encode(), self.loop.now)
        super().refuse(code, key, **values)

    def goodbye(self) -> None:
        self.calls.append("goodbye")
        self.queue(b"bye\n", self.loop.now)
        self.loop.close_after_output(self, "server shutdown")

    def housekeeping(self, now: float) -> None:
        self.calls.append(f"housekeeping {now:g}")

    def next_timer(self, now: float) -> float:
        """`wake_at` when a test set one, else the default (every pass)."""
        return self.wake_at if self.wake_at is not None else super().next_timer(now)

    def release(self) -> None:
        self.calls.append("release")


class ProbeDoor(Door):
    """Makes Probes, and counts the turns it was given."""

    def __init__(self, loop: Server):
        self.loop = loop
        self.turns = 0
        self.made: list[Probe] = []
        self.wake_at: float | None = None
        """What each new Probe's timers say (None: look at it every pass)."""

    def new_connection(self, sock: socket.socket, address: tuple, place: Place) -> Probe:
        probe = Probe(sock, address, self.loop, place)
        probe.wake_at = self.wake_at
        self.made.append(probe)
        return probe

    def busy_message(self) -> bytes:
        return BUSY

    def before_input(self) -> None:
        self.turns += 1


def make_loop(
    time: FakeTime, *, max_clients: int = 100, max_per_ip: int = 0, highest_fd: int | None = None
) -> tuple[Server, ProbeDoor]:
    server = Server(selectors.DefaultSelector(), LoopClock(time))
    limits = Limits(max_clients, max_per_ip, dead_peer_seconds=0, highest_fd=highest_fd)
    server.admission = Admission(server, limits, lambda: server.connection_count)
    door = ProbeDoor(server)
    server.doors.append(door)
    return server, door


def pair() -> tuple[socket.socket, socket.socket]:
    """Our end (non-blocking, as the loop's are) and the peer's (blocking with a timeout)."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.settimeout(5)
    return ours, theirs
