"""Download frames sized to what the connection drains, so a line never waits long behind a file.

A line (chat, a reply) queued for a client that is downloading waits behind what
is left of the `!DATA` frame going out, then behind the bytes the kernel holds
unsent, then behind the bytes in flight. The first two are ours to bound. How
fast the peer takes bytes is measured from the kernel's count of acknowledged
bytes (TCP_INFO) over windows of RATE_WINDOW_SECONDS: the next frame carries
about FRAME_SECONDS of that rate, and the kernel holds about QUEUE_SECONDS of it
unsent (TCP_NOTSENT_LOWAT: the socket reports writable only below that; and the
outbox hands it no more file bytes than fit below it, `Pacer.send_budget`). On
loopback at full speed frames stay at MAX_FRAME_BYTES and the kernel's queue
as it always was (its 4 MiB are a few ms there); on an 8 Mbit/s link a frame is 16 KiB and the
kernel holds about as much, where a 1 MiB frame used to hold a line back for a
second.

The outbox sends lines queued before a frame that has not started to go out
(see outbox.py), so a line waits for at most one frame.
"""

from __future__ import annotations

import fcntl
import socket
import struct

FRAME_SECONDS = 0.01
"""A frame carries about this much time of the connection's delivery rate."""
QUEUE_SECONDS = 0.01
"""The kernel holds about this much time of it unsent."""
MIN_FRAME_BYTES = 16 * 1024
MAX_FRAME_BYTES = 1024 * 1024
"""Big frames cost less per byte on both sides; a fast connection drains this in a few ms."""
MIN_QUEUE_BYTES = 16 * 1024
MAX_QUEUE_BYTES = 4 * 1024 * 1024
"""A connection that drains this in QUEUE_SECONDS or less gets no limit: the kernel's own send
buffer (4 MiB at most, by default) holds no more than that, and a limit would only wake the
loop more often."""

RATE_WINDOW_SECONDS = 0.05
"""The delivery rate is measured over windows at least this long: shorter ones see bursts
(slow start, a shaper's bucket) as the link's speed..."""
RATE_WINDOW_BYTES = 1024 * 1024
"""...or over as many bytes, however quickly acknowledged: no burst is that big, and a fast
connection (loopback) gets its large frames after a few ms instead of 50 ms of small ones."""

SIOCOUTQNSD = 0x894B
"""Linux's ioctl for the bytes a TCP socket holds not yet sent (linux/sockios.h)."""
_INT = struct.Struct("=i")

_TCP_INFO_BYTES = 128
_BYTES_ACKED = struct.Struct("=Q")
_BYTES_ACKED_OFFSET = 120
"""`tcpi_bytes_acked` in Linux's struct tcp_info (an append-only ABI; Linux 4.1+)."""


def frame_bytes(rate: float | None) -> int:
    """File bytes for the next frame on a connection that drains `rate` bytes a second
    (None: not known, as on a socket that is not TCP: the largest)."""
    if rate is None:
        return MAX_FRAME_BYTES
    return _bounded(rate * FRAME_SECONDS, MIN_FRAME_BYTES, MAX_FRAME_BYTES)


def queue_bytes(rate: float) -> int | None:
    """Unsent bytes the kernel may hold for a connection that drains `rate` bytes a second
    (None: as many as its send buffer takes)."""
    limit = _bounded(rate * QUEUE_SECONDS, MIN_QUEUE_BYTES, MAX_QUEUE_BYTES)
    return None if limit >= MAX_QUEUE_BYTES else limit


def _bounded(value: float, low: int, high: int) -> int:
    """`value` between `low` and `high`, rounded down to whole 4 KiB pages."""
    return max(low, min(high, int(value) // 4096 * 4096))


def bytes_acked(sock: socket.socket) -> int | None:
    """How many bytes the peer has acknowledged on this connection; None where the kernel
    does not say (not TCP, not Linux)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_BYTES)
    except (OSError, AttributeError):
        return None
    if len(info) < _BYTES_ACKED_OFFSET + _BYTES_ACKED.size:
        return None
    return _BYTES_ACKED.unpack_from(info, _BYTES_ACKED_OFFSET)[0]


class Pacer:
    """One connection's delivery rate (acknowledged bytes over windows of RATE_WINDOW_SECONDS
    or RATE_WINDOW_BYTES),
    the frame size it calls for, and the kernel's unsent limit kept in step."""

    def __init__(self, sock: socket.socket, acked=bytes_acked):
        self._sock = sock
        self._acked = acked
        self._window: tuple[float, int] | None = None
        """(when, bytes acknowledged then): the start of the window being measured."""
        self.rate = 0.0
        """Bytes a second over the last whole window (0: none measured yet)."""
        self._queue_limit: int | None = None

    def next_frame_bytes(self, now: float) -> int:
        """How many file bytes the next frame should carry."""
        acked = self._acked(self._sock)
        if acked is None:
            return frame_bytes(None)
        self._measure(acked, now)
        self._limit_unsent(queue_bytes(self.rate))
        return frame_bytes(self.rate)

    def _measure(self, acked: int, now: float) -> None:
        if self._window is None:
            self._window = (now, acked)
            return
        began, acked_then = self._window
        seconds, count = now - began, acked - acked_then
        if seconds >= RATE_WINDOW_SECONDS or (count >= RATE_WINDOW_BYTES and seconds > 0):
            self.rate = count / seconds
            self._window = (now, acked)

    def send_budget(self) -> int | None:
        """File bytes the socket may be handed now: what keeps its unsent bytes within the limit
        (the kernel would take a whole packet buffer, tens of KiB, past it). None: no limit."""
        if self._queue_limit is None:
            return None
        try:
            unsent = _INT.unpack(fcntl.ioctl(self._sock.fileno(), SIOCOUTQNSD, bytes(_INT.size)))[0]
        except OSError:
            return None
        return self._queue_limit - unsent

    def _limit_unsent(self, limit: int | None) -> None:
        if limit == self._queue_limit:
            return
        try:  # 0: the system's default, no limit unless an administrator set one
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, limit or 0)
        except (OSError, AttributeError):
            return
        self._queue_limit = limit
