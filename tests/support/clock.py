"""A clock the test moves, and a whole server (`build_server`) that runs on it."""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Iterator

from ftplab.clock import HOUSEKEEPING_SECONDS, LoopClock
from ftplab.server import Server
from ftplab.storage import Storage
from ftplab.wiring import build_server


class MovedClock:
    """What the code under test reads as the time: `now`, which only the test changes."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextlib.contextmanager
def server_on(clock: MovedClock, config, root) -> Iterator[Server]:
    """A whole server over `root` whose loop reads `clock`, closed at the end."""
    server = build_server(config, Storage(str(root)), clock=LoopClock(clock))
    server._select_timeout = lambda: 0.0  # the clock is the test's: select must not wait for it
    try:
        yield server
    finally:
        server._close_everything()


def advance(server: Server, clock: MovedClock, seconds: float) -> None:
    """Let `seconds` pass, a turn of the loop each housekeeping period."""
    for _ in range(round(seconds / HOUSEKEEPING_SECONDS)):
        clock.now += HOUSEKEEPING_SECONDS
        server.turn()


def received(server: Server, peer: socket.socket) -> bytes:
    """What the peer has been sent, once the loop has flushed what housekeeping queued."""
    server.turn()
    data = b""
    while select.select([peer], [], [], 0)[0]:
        chunk = peer.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
