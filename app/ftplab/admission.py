"""Who gets in: the listeners, and the limits every new connection meets.

A listener accepts up to ACCEPTS_PER_TURN connections a turn and hands each
to `Admission.admit`, with the door that makes its connection. Admission
refuses (in the connection's own protocol, after it is made) past
--max-clients, unless a connection that has said nothing can be evicted, and
past --max-per-ip; it turns away at once what select() cannot watch
(FD_SETSIZE) and, out of descriptors, the waiting crowd, using a descriptor
kept spare for it. It counts open connections per address, and keeps one
chat allowance per address for the lab door.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .connection import Connection
from .endpoints import Loop
from .net import address_key, resend_losses_soon, watch_for_dead_peer
from .protocol import ErrorCode
from .session import ADDRESS_CHAT_BURST_LINES, ADDRESS_CHAT_LINES_PER_SECOND, Allowance

log = logging.getLogger("ftplab.server")

ACCEPTS_PER_TURN = 1024
"""Connections taken from the backlog per turn: a crowd connecting at once must not
overflow the kernel's accept queue (each overflow costs a client a SYN retransmit, 1 s or more)."""

MAX_CLOSING = 64
"""Connections kept open only to deliver a last message; past this they close at once."""

ACCEPT_PAUSE_SECONDS = 0.5

OPTIONS_INHERITED = sys.platform.startswith("linux")
"""A socket Linux accepts inherits its listener's TCP_NODELAY, keepalive, TCP_USER_TIMEOUT and
retransmission floor (tests/unit/test_admission.py checks it): set once on the listener, not
seven system calls per connection. Elsewhere each accepted socket gets them."""

FD_SETSIZE = 1024
"""The highest descriptor select() can watch, plus one (glibc's fixed size)."""


@dataclass(frozen=True)
class Limits:
    max_clients: int
    max_per_ip: int
    dead_peer_seconds: float
    """TCP_USER_TIMEOUT for every client socket (--data-timeout)."""
    highest_fd: int | None = None
    """select() cannot watch a descriptor past FD_SETSIZE; the other selectors have no such limit."""


class Place:
    """What the server keeps per client address: open connections and the shared chat allowance."""

    def __init__(self, key: str, now: float):
        self.key = key
        self.open = 0
        self.chat = Allowance(ADDRESS_CHAT_LINES_PER_SECOND, ADDRESS_CHAT_BURST_LINES, now)


class Entrance(Protocol):
    """A door as admission sees it: it makes its kind of connection, and words its busy refusal."""

    def new_connection(self, sock: socket.socket, address: tuple, place: Place) -> Connection: ...

    def busy_message(self) -> bytes: ...


class Listener:
    """A listening socket of one door, as the loop holds it."""

    def __init__(self, name: str, host: str, port: int, door: Entrance, admission: Admission):
        self.name = name
        self.label = f"{name} listener"
        self.door = door
        self._admission = admission
        self._host, self._port = host, port
        self.sock: socket.socket | None = None

    def bind(self) -> tuple:
        """Listen; returns the bound (host, port). The options every client socket gets are set
        on the listener too: Linux's accepted sockets inherit them (see `Admission.admit`)."""
        self.sock = listen(self._host, self._port)
        self._admission.tune(self.sock)
        return self.sock.getsockname()[:2]

    def on_ready(self, _mask: int) -> None:
        for _ in range(ACCEPTS_PER_TURN):
            try:
                sock, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self._admission.accept_failed(self, error)
                return
            self._admission.admit(sock, address, self.door)

    def failed(self) -> None:
        self._admission.pause(self)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class Admission:
    """The limits on who is served, and the count of who is."""

    def __init__(self, loop: Loop, limits: Limits, connections: Callable[[], int]):
        self._loop = loop
        self._limits = limits
        self._connections = connections
        """How many connections the loop holds, closing ones and FTP data connections included."""
        self.open: set[Connection] = set()
        """Clients of either door that count against the limits."""
        self._unnamed: dict[Connection, None] = {}
        """Open connections that may not have given a name yet, oldest first."""
        self._places: dict[str, Place] = {}
        self._listeners: list[Listener] = []
        self._resume_at: float | None = None
        self._spare_fd: int | None = None

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def open_doors(self) -> dict[str, tuple]:
        """Bind and watch every listener; their bound (host, port) by name."""
        bound = {listener.name: listener.bind() for listener in self._listeners}
        self._watch_listeners(True)
        self._spare_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        return bound

    def _watch_listeners(self, watched: bool) -> None:
        for listener in (listener for listener in self._listeners if listener.sock is not None):
            if watched:
                self._loop.register(listener.sock, selectors.EVENT_READ, listener)
            else:
                self._loop.unregister(listener.sock)

    # --- admitting -------------------------------------------------------------------

    def admit(self, sock: socket.socket, address: tuple, door: Entrance) -> None:
        highest = self._limits.highest_fd
        if highest is not None and sock.fileno() > highest:
            log.warning(
                "refused %s:%s: select() cannot watch descriptor %d (FD_SETSIZE %d); use --selector epoll",
                address[0],
                address[1],
                sock.fileno(),
                FD_SETSIZE,
            )
            turn_away(sock, door.busy_message())
            return
        sock.setblocking(False)
        if not OPTIONS_INHERITED:
            self.tune(sock)
        key = address_key(address[0])
        place = self._places.get(key) or self._places.setdefault(key, Place(key, self._loop.now))
        connection = door.new_connection(sock, address, place)
        refusal = self._problem(place)
        if refusal is not None and self._closing_count() >= MAX_CLOSING:
            log.warning(
                "refused %s (%s); too many closing connections, closed at once", connection.label, refusal[0]
            )
            sock.close()
            self._forget_if_unused(key)
            return
        self._loop.adopt(connection)
        self.open.add(connection)
        self._unnamed[connection] = None
        place.open += 1
        if refusal is None:
            connection.admitted()
            log.info("connect %s (%d open)", connection, len(self.open))
            return
        code, message_key, limit = refusal
        log.warning("refused %s: %s", connection.label, code)
        connection.refuse(code, message_key, limit=limit)

    def tune(self, sock: socket.socket) -> None:
        """No Nagle delay on replies, a lost packet resent soon, and a dead peer noticed
        (--data-timeout)."""
        with contextlib.suppress(OSError):  # not TCP: a socket pair in the unit tests
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        resend_losses_soon(sock)
        watch_for_dead_peer(sock, user_timeout_ms=int(self._limits.dead_peer_seconds * 1000))

    def _problem(self, place: Place) -> tuple | None:
        """Why a newcomer from `place` is refused, or None. The limit per address comes first:
        a newcomer it refuses must not evict someone else's silent connection on its way out
        (a client retrying past its address's limit would evict one at every try)."""
        limit = self._limits.max_per_ip
        if limit and place.open >= limit:
            return ErrorCode.TOO_MANY, "too_many_from_address", limit
        if len(self.open) >= self._limits.max_clients and not self._evict_oldest_unnamed():
            return ErrorCode.FULL, "server_full", self._limits.max_clients
        return None

    def _evict_oldest_unnamed(self) -> bool:
        """The server is full: make room by closing the connection that has
        gone longest without saying anything, so silent connections cannot
        keep a real user out. One whose first line is on its way (bytes
        waiting) is passed over: it is a user about to be named. False if no
        connection can be evicted."""
        for named in [c for c in self._unnamed if c.name is not None]:
            del self._unnamed[named]
        silent = next((c for c in self._unnamed if not c.has_spoken()), None)
        if silent is None:
            return False
        log.warning(
            "full: evicting %s, which has sent nothing for %.1f s",
            silent.label,
            self._loop.now - silent.connected_at,
        )
        if self._closing_count() >= MAX_CLOSING:
            self._loop.drop(silent, "evicted")
        else:
            silent.refuse(ErrorCode.BUSY, "evicted_no_name")
        return True

    def _closing_count(self) -> int:
        return self._connections() - len(self.open)

    def leave(self, connection: Connection, reason: str) -> None:
        """`connection` stops counting as a client: its name, its slot, its address."""
        if connection not in self.open:
            return
        self.open.discard(connection)
        self._unnamed.pop(connection, None)
        if connection.name is None:
            log.info("disconnect %s (%s)", connection, reason)
        connection.leave(reason)
        place = self._places.get(connection.address_key)
        if place is not None:
            place.open -= 1
            self._forget_if_unused(connection.address_key)

    def _forget_if_unused(self, key: str) -> None:
        place = self._places.get(key)
        if place is not None and place.open <= 0:
            del self._places[key]

    # --- out of descriptors -------------------------------------------------------------

    def accept_failed(self, listener: Listener, error: OSError) -> None:
        """Out of descriptors (or kernel memory): tell the waiting clients the
        server is busy, using the descriptor kept spare for this, and stop
        watching the listeners for a moment (they would stay readable and spin)."""
        log.error("accept failed: %s; pausing accepts for %.1f s", error, ACCEPT_PAUSE_SECONDS)
        if error.errno in (errno.EMFILE, errno.ENFILE):
            self._refuse_waiting_as_busy(listener)
        self.pause(listener)

    def pause(self, _listener: Listener) -> None:
        """Stop accepting on every listener for ACCEPT_PAUSE_SECONDS."""
        if self._resume_at is None:
            self._watch_listeners(False)
        self._resume_at = self._loop.now + ACCEPT_PAUSE_SECONDS

    def _refuse_waiting_as_busy(self, listener: Listener) -> None:
        if self._spare_fd is None:
            return
        os.close(self._spare_fd)
        self._spare_fd = None
        try:
            for _ in range(ACCEPTS_PER_TURN):
                sock, _address = listener.sock.accept()
                turn_away(sock, listener.door.busy_message())
        except OSError:
            pass
        finally:
            try:
                self._spare_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._spare_fd = None

    def housekeeping(self, now: float) -> None:
        if self._resume_at is not None and now >= self._resume_at and not self._loop.stopping:
            self._resume_at = None
            self._watch_listeners(True)

    # --- stopping -------------------------------------------------------------------------

    def stop(self) -> None:
        """Accept no more."""
        if self._resume_at is None:
            self._watch_listeners(False)
        self._resume_at = None

    def close(self) -> None:
        for listener in self._listeners:
            listener.close()
        if self._spare_fd is not None:
            os.close(self._spare_fd)
            self._spare_fd = None


def turn_away(sock: socket.socket, message: bytes) -> None:
    """Tell a connection we cannot take that the server is busy (one send, no waiting), and close it."""
    with sock:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.send(message)


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(_backlog())
    listener.setblocking(False)
    return listener


def _backlog() -> int:
    """The kernel's own limit (somaxconn), so a crowd connecting at once waits in the queue."""
    try:
        with open("/proc/sys/net/core/somaxconn") as limit:
            return max(int(limit.read()), 128)
    except (OSError, ValueError):
        return socket.SOMAXCONN
