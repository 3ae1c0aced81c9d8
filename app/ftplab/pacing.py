"""Download frames sized to what the connection drains, so a line never waits long behind a file.

A line (chat, a reply) queued for a client that is downloading waits behind what
is left of the `!DATA` frame going out, then behind the bytes the kernel holds
unsent, then behind the bytes in flight. The first two are ours to bound. How
fast the peer takes bytes is measured from the kernel's count of acknowledged
bytes (TCP_INFO) over windows of RATE_WINDOW_SECONDS: the next frame carries
about FRAME_SECONDS of that rate, and the kernel holds at most twice that unsent
(TCP_NOTSENT_LOWAT). The socket reports writable once its unsent bytes are below
half that limit, so there is room for a whole frame then: the outbox starts a
frame only when the kernel takes it whole (`Pacer.send_budget`), which wakes the
loop once a frame, and a line waits for no frame of ours, only for the kernel's
unsent bytes. On loopback at full speed frames stay at MAX_FRAME_BYTES and the
kernel's queue as it always was (its 4 MiB are a few ms there); on an 8 Mbit/s
link a frame is 16 KiB and the kernel holds at most 32 KiB, where a 1 MiB frame
used to hold a line back for a second.

The kernel may also send no faster than PACING_GAIN times the best rate measured
over the last RECENT_WINDOWS windows (SO_MAX_PACING_RATE). Without that cap, a
link slower than its first hop (a shaper, a slower segment further on) sees its
first packets go out at the first hop's speed: the congestion control (BBR
here) takes that for the link's rate, sends far too fast for a second or so and
overflows a shallow queue; a line then waits behind the retransmissions (about
600 ms at the 99th percentile behind an 8 Mbit/s tbf with a 50 ms queue;
tools/chatlatency.py). A cap also makes the kernel pace and cut small packets
for the slow link (TCP small queues hold about 1 ms of the pacing rate in the
queue below), and BBR's start-up grows its window only up to a target that
counts a few such packets: with small ones it stops growing, which is what
keeps the queue from overflowing. So the first window is short while the kernel
holds bytes unsent (FIRST_RATE_WINDOW_SECONDS): by the end of a 50 ms one,
start-up had grown the window to about 60 packets, more than the 66 KB the tbf
holds, and the first lines waited up to 290 ms (p99 170-220 ms in most runs);
with the cap after 10 ms the window stops at about 34 packets and the first
lines wait no longer than later ones (p99 66-86 ms; `ss -tin` and
tools/chatlatency.py). A fast connection (loopback) gets no cap.

Only a window in which the path set the pace gets a cap: the kernel was
sending most of the time and the peer's receive window did not hold it back
(tcpi_busy_time, tcpi_rwnd_limited). A connection the server itself is late
for, or whose client drains slowly (it bounds what it holds unread:
client/unread_limit.py), sends no burst a queue could overflow with, and a cap
there did harm: in a class of 30 on one computer, where every student's rate is
set by the CPU they share, caps of twice each one's recent best made winners and
losers (Jain's index 0.65-0.69 against 0.99 with these windows uncapped;
tools/bench/classload.py).

The outbox sends lines queued before a frame that has not started to go out
(see outbox.py); with no unsent limit (a fast connection) a line may wait for
the rest of one frame.
"""

from __future__ import annotations

import fcntl
import socket
import struct
from collections import deque
from typing import NamedTuple

FRAME_SECONDS = 0.01
"""A frame carries about this much time of the connection's delivery rate."""
QUEUE_SECONDS = 2 * FRAME_SECONDS
"""The kernel holds at most this much time of it unsent: room for a whole frame once half of it
has gone (the socket says it is writable then)."""
MIN_FRAME_BYTES = 16 * 1024
MAX_FRAME_BYTES = 1024 * 1024
"""Big frames cost less per byte on both sides; a fast connection drains this in a few ms."""
MIN_QUEUE_BYTES = 2 * MIN_FRAME_BYTES
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
FIRST_RATE_WINDOW_SECONDS = 0.01
"""The first window ends sooner, after this long, if the kernel then holds bytes unsent (the
connection set the pace, not the server): the pacing cap must come before the congestion
control's start-up has grown its window past a shallow queue (50 ms of a slow link's rate; it
had by the end of a 50 ms window). The first measure may include a burst and so be too high;
the cap it gives is still far below the first hop's speed. A first window with nothing unsent
(loopback, whose kernel sends at once, or a server that was busy elsewhere) runs as long as
the others: a rate measured while the server was not sending would make a low cap, which
doubles only window by window."""

PACING_GAIN = 2.0
"""The kernel may pace a connection at up to this many times its measured rate: room to find a
faster rate (the cap grows with what is measured, window after window), not to flood the link."""
RECENT_WINDOWS = 4
"""The cap follows the best of this many recent windows, so a window the client or the server
was slow in does not lower it."""

SO_MAX_PACING_RATE = getattr(socket, "SO_MAX_PACING_RATE", 47)
"""Linux's socket option for a pacing cap in bytes a second, a 64-bit value (asm-generic/socket.h;
Python has no name for it)."""
_NO_PACING_CAP = 2**64 - 1
"""~0: no cap (the kernel's default)."""
_PACING_RATE = struct.Struct("=Q")

SIOCOUTQNSD = 0x894B
"""Linux's ioctl for the bytes a TCP socket holds not yet sent (linux/sockios.h)."""
_INT = struct.Struct("=i")

_DELIVERY = struct.Struct("=Q40xQQ")
_DELIVERY_OFFSET = 120
"""In Linux's struct tcp_info (an append-only ABI): `tcpi_bytes_acked` (Linux 4.1+), then
`tcpi_busy_time` and `tcpi_rwnd_limited` (Linux 4.10+), in microseconds."""
_ACKED_ONLY = struct.Struct("=Q")

PATH_BOUND_SHARE = 0.5
"""Only a window in which the connection was sending, and not held back by the peer's receive
window, for at least this share of its time (the path set the pace) gets a cap: one held back
by the server itself (a class on one computer) or by the receiver has no burst to overflow a
queue with."""


class Delivery(NamedTuple):
    """What the kernel says of a connection's sending so far."""

    acked: int
    """Bytes the peer has acknowledged."""
    busy: int | None = None
    """Microseconds spent sending (None where the kernel does not say)..."""
    receiver_bound: int = 0
    """...and of those, held back by the peer's receive window (0 where the kernel does not say)."""


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


def pacing_cap(rate: float) -> int | None:
    """The most bytes a second the kernel may send at on a connection whose best recent rate
    is `rate` (None: no cap, for a fast connection or before any measure)."""
    if rate <= 0 or queue_bytes(rate) is None:
        return None
    return int(rate * PACING_GAIN)


def _bounded(value: float, low: int, high: int) -> int:
    """`value` between `low` and `high`, rounded down to whole 4 KiB pages."""
    return max(low, min(high, int(value) // 4096 * 4096))


def unsent_bytes(sock: socket.socket) -> int | None:
    """How many bytes the kernel holds not yet sent on this connection; None where it does not
    say (not TCP, not Linux)."""
    try:
        return _INT.unpack(fcntl.ioctl(sock.fileno(), SIOCOUTQNSD, bytes(_INT.size)))[0]
    except OSError:
        return None


def delivery(sock: socket.socket) -> Delivery | None:
    """What the kernel says of this connection's sending; None where it says nothing (not TCP,
    not Linux)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _DELIVERY_OFFSET + _DELIVERY.size)
    except (OSError, AttributeError):
        return None
    if len(info) >= _DELIVERY_OFFSET + _DELIVERY.size:
        return Delivery(*_DELIVERY.unpack_from(info, _DELIVERY_OFFSET))
    if len(info) >= _DELIVERY_OFFSET + _ACKED_ONLY.size:
        return Delivery(_ACKED_ONLY.unpack_from(info, _DELIVERY_OFFSET)[0])
    return None


def _path_bound(then: Delivery, now: Delivery, seconds: float) -> bool:
    """Whether the path set the connection's pace between two of the kernel's sayings
    `seconds` apart (see PATH_BOUND_SHARE); where the kernel does not say, it may have."""
    if now.busy is None or then.busy is None:
        return True
    sending = (now.busy - then.busy) - (now.receiver_bound - then.receiver_bound)
    return sending >= PATH_BOUND_SHARE * seconds * 1e6


class Pacer:
    """One connection's delivery rate (acknowledged bytes over windows of RATE_WINDOW_SECONDS
    or RATE_WINDOW_BYTES), the frame size it calls for, and the kernel's unsent limit and
    pacing cap kept in step."""

    def __init__(self, sock: socket.socket, told=delivery, unsent=unsent_bytes):
        self._sock = sock
        self._told = told
        self._unsent = unsent
        self._window: tuple[float, Delivery] | None = None
        """(when, what the kernel said then): the start of the window being measured."""
        self.rate = 0.0
        """Bytes a second over the last whole window (0: none measured yet)."""
        self.path_bound = False
        """Whether the path set the connection's pace in that window (PATH_BOUND_SHARE)."""
        self._queue_limit: int | None = None
        self._recent: deque[float] = deque(maxlen=RECENT_WINDOWS)
        """The rates of the last windows."""
        self._pacing_cap: int | None = None

    def next_frame_bytes(self, now: float) -> int:
        """How many file bytes the next frame should carry."""
        told = self._told(self._sock)
        if told is None:
            return frame_bytes(None)
        if self._measure(told, now):
            self._recent.append(self.rate)
            self._cap_pacing(pacing_cap(max(self._recent)) if self.path_bound else None)
        self._limit_unsent(queue_bytes(self.rate))
        return frame_bytes(self.rate)

    def _measure(self, told: Delivery, now: float) -> bool:
        """Whether a window ended (and `rate` and `path_bound` are new)."""
        if self._window is None:
            self._window = (now, told)
            return False
        began, then = self._window
        seconds, count = now - began, told.acked - then.acked
        if (
            seconds >= RATE_WINDOW_SECONDS
            or (count >= RATE_WINDOW_BYTES and seconds > 0)
            or self._first_window_over(seconds)
        ):
            self.rate = count / seconds
            self.path_bound = _path_bound(then, told, seconds)
            self._window = (now, told)
            return True
        return False

    def _first_window_over(self, seconds: float) -> bool:
        """The first window ends early while the connection sets the pace (see
        FIRST_RATE_WINDOW_SECONDS)."""
        if self._recent or seconds < FIRST_RATE_WINDOW_SECONDS:
            return False
        return (self._unsent(self._sock) or 0) > 0

    def send_budget(self) -> int | None:
        """File bytes the socket may be handed now: what keeps its unsent bytes within the limit
        (the kernel would take a whole packet buffer, tens of KiB, past it). None: no limit.
        Once the socket says it is writable, this is more than a whole frame."""
        if self._queue_limit is None:
            return None
        unsent = self._unsent(self._sock)
        return None if unsent is None else self._queue_limit - unsent

    def _limit_unsent(self, limit: int | None) -> None:
        if limit == self._queue_limit:
            return
        try:  # 0: the system's default, no limit unless an administrator set one
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, limit or 0)
        except (OSError, AttributeError):
            return
        self._queue_limit = limit

    def _cap_pacing(self, cap: int | None) -> None:
        if cap == self._pacing_cap:
            return
        value = _NO_PACING_CAP if cap is None else cap
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, _PACING_RATE.pack(value))
        except (OSError, AttributeError):
            return
        self._pacing_cap = cap
