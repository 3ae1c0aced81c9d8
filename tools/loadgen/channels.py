"""The loop and its channels: thousands of non-blocking sockets in one selectors loop.

`Loop` owns the selector; a `Channel` is one socket in it (non-blocking
connect, output queued and flushed as the socket takes it, input handed to a
callback, reading paused on request). Every wait has a deadline, so a stalled
server ends a run instead of hanging it.
"""

from __future__ import annotations

import errno
import selectors
import socket
import struct
import sys
import time
from collections.abc import Callable

RECV_BYTES = 256 * 1024
_RECV_BUFFER = bytearray(RECV_BYTES)
"""One buffer for every channel: the loop reads one socket at a time."""
_IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
"""Linux: bind() a source address but pick the port at connect(), by the whole 4-tuple."""
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""Linux: each read says when its data reached the socket (SCM_TIMESTAMPNS, CLOCK_REALTIME)."""
ARRIVAL_STAMPS = sys.platform.startswith("linux")
"""Whether a stamped channel learns when its data arrived (else `arrived_at` stays None)."""
_ANCILLARY_BYTES = socket.CMSG_SPACE(16)


class Loop:
    """One selector for every channel of a run."""

    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.channels: set[Channel] = set()
        """Every open channel, watched or paused (a paused channel may be in no selector key)."""

    def run(self, until: Callable[[], bool], deadline: float) -> bool:
        """Serve channels until `until()` is true (True) or the monotonic `deadline` passes (False)."""
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.turn(min(left, 0.5))
        return True

    def turn(self, timeout: float = 0) -> None:
        """Serve the channels that are ready, waiting at most `timeout` seconds for one."""
        for key, mask in self.selector.select(timeout):
            key.data.on_ready(mask)

    def close(self) -> None:
        for channel in list(self.channels):
            channel.close()
        self.selector.close()


class Channel:
    """One non-blocking TCP connection in a Loop: write interest only while output is queued (or
    the connect is under way), read interest unless reading is paused.

    A paused channel reads only when asked (`read_once`): a slow reader paced by its owner.
    `source`, if given, is the local address to connect from (say 127.0.0.5): spreading runs over
    several source addresses keeps TIME-WAIT sockets from using up one address's ports."""

    def __init__(
        self,
        loop: Loop,
        address: tuple[str, int],
        on_data: Callable[[memoryview], None],
        on_closed: Callable[[str | None], None],
        source: str | None = None,
        stamped: bool = False,
    ):
        self.loop = loop
        self.on_data = on_data
        self.on_closed = on_closed
        self.out = bytearray()
        self.connected = False
        self.closed = False
        self.reading = True
        self._events = 0
        self.arrived_at: float | None = None
        """With `stamped` (Linux): when the last bytes read reached the socket, by the kernel's
        clock (time.time()); None elsewhere."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self._stamped = stamped and ARRIVAL_STAMPS
        if self._stamped:
            self.sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        if source is not None:
            self._bind(source)
        code = self.sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS):
            self.sock.close()
            raise OSError(code, errno.errorcode.get(code, str(code)))
        loop.channels.add(self)
        self._watch()

    def _bind(self, source: str) -> None:
        try:
            self.sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
            self.sock.bind((source, 0))
        except OSError:
            self.sock.close()
            raise

    def send(self, data: bytes) -> None:
        self.out += data
        if self.connected:
            self._flush()
        else:
            self._watch()

    def pause_reading(self) -> None:
        """Read only through `read_once` from now on."""
        self.reading = False
        self._watch()

    def read_once(self, limit: int = RECV_BYTES) -> None:
        """One read of at most `limit` bytes, delivered as any other (nothing if none are waiting)."""
        if not self.closed:
            self._receive(limit)

    def on_ready(self, mask: int) -> None:
        if not self.connected and mask & selectors.EVENT_WRITE:
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._end(f"connect: {errno.errorcode.get(code, code)}")
                return
            self.connected = True
        if mask & selectors.EVENT_WRITE and not self.closed:
            self._flush()
        if mask & selectors.EVENT_READ and not self.closed:
            self._receive(RECV_BYTES)

    def _flush(self) -> None:
        try:
            del self.out[: self.sock.send(self.out)]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as error:
            self._end(f"send: {error.strerror}")
            return
        self._watch()

    def _watch(self) -> None:
        """Select on what the channel needs now; not at all while it needs nothing."""
        events = (selectors.EVENT_READ if self.reading else 0) | (
            selectors.EVENT_WRITE if self.out or not self.connected else 0
        )
        if events == self._events:
            return
        if not self._events:
            self.loop.selector.register(self.sock, events, self)
        elif not events:
            self.loop.selector.unregister(self.sock)
        else:
            self.loop.selector.modify(self.sock, events, self)
        self._events = events

    def _receive(self, limit: int) -> None:
        view = memoryview(_RECV_BUFFER)[: min(limit, RECV_BYTES)]
        try:
            if self._stamped:
                count, ancillary, _flags, _address = self.sock.recvmsg_into([view], _ANCILLARY_BYTES)
                self.arrived_at = _arrival(ancillary)
            else:
                count = self.sock.recv_into(view)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._end(f"recv: {error.strerror}")
            return
        if count == 0:
            self._end(None)
            return
        self.on_data(view[:count])

    def _end(self, problem: str | None) -> None:
        self.close()
        self.on_closed(problem)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.channels.discard(self)
            if self._events:
                self.loop.selector.unregister(self.sock)
                self._events = 0
            self.sock.close()


def _arrival(ancillary: list) -> float | None:
    """The kernel's receive time in a read's ancillary data (SCM_TIMESTAMPNS), in seconds."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack_from("qq", data)
            return seconds + nanoseconds / 1e9
    return None
