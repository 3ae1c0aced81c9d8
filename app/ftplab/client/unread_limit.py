"""While a file arrives, the kernel holds no more of it unread than the client drains in a moment.

A chat line, or the server's word that a file stopped, comes after every file
byte the server sent before it. When the client drains the file slower than the
link brings it (it writes and hashes every byte, and in a one-computer lab
thirty students share its cores), those bytes wait unread in the kernel's
receive buffer, and Linux grows that buffer to what arrives (autotuning:
megabytes). A line then waited behind the file: 100-170 ms at the 99th
percentile in a class of 30 without the server's pacing cap
(tools/bench/classload.py).

So once a measure shows that the client drains less in its round trip plus
QUEUE_SECONDS, times GAIN, than the kernel's buffer holds, it sets the buffer
to that (SO_RCVBUF) and keeps it in step with the drain, measure after measure:
a line waits about that long behind the file at most, the window is still
above what the path holds in flight, and a faster drain grows it by GAIN. The
receiver's twin of the server's unsent limit (pacing.py). The limit is never
below MIN_LIMIT_BYTES, so the kernel can always gather its GATHER_BYTES
(receiving.py) before it wakes the loop. A fast client (loopback, one user)
drains more in that time than autotuning gives it, or more than MAX_LIMIT_BYTES,
and nothing changes for it.

A measure never sets the buffer below half the size it has. TCP never takes
back a window it offered: the bytes already on their way in the window a larger
buffer offered arrive anyway, and into a buffer set far below them the kernel
drops them (the sender then retransmits, 200 ms later when the tail of a window
was lost). By a first measure autotuning had grown each student's buffer of a
class of 30 to megabytes; set straight to the drain's size, a student's kernel
dropped a median of 153 packets in one 100 MiB `get`, and 107 when the buffer
halves measure after measure (three rounds each, tools/bench/classload.py; `ss
-tmi`'s skmem d). That count mixes two kinds, though: packets refused for want
of room, and packets that came again because the server resent them when their
ACK was late (a student waiting for the CPU). Counted apart (/proc/net/netstat),
a student's kernel refused a median of 3-5 arrivals in a round and got 6-10 it
already had, and the server's retransmission floor (net.py) keeps the wait for
each refused one short.

Only the buffer's size bounds what waits unread: a window clamp (TCP_WINDOW_CLAMP)
bounds each window the receiver offers, and it offers the next as soon as the
bytes arrive, read or not. A size set by hand ends autotuning for the
connection's life, though, and the kernel keeps it below net.core.rmem_max (208
KiB on many systems, which is then the bound). When the file has come the
buffer goes back to the largest the system allows, for whatever comes next.
"""

from __future__ import annotations

import socket
import struct
import time

from .receiving import GATHER_BYTES

QUEUE_SECONDS = 0.01
"""The drain time the kernel may hold unread beyond the round trip..."""
GAIN = 2.0
"""...times this: room for a faster drain to show, and the kernel's bookkeeping (it counts each
packet's whole memory, not only its bytes)."""
MIN_LIMIT_BYTES = GATHER_BYTES
"""Never less (the kernel doubles it and wakes a reader at most half-way): the kernel can always
gather its wake-up mark (SO_RCVLOWAT)."""
MAX_LIMIT_BYTES = 4 * 1024 * 1024
"""A client that would get more than this (one that drains hundreds of MB a second) is left to
autotuning: what it holds unread it drains in a few ms anyway, and many systems would not let it
have more than a few hundred KiB set by hand (net.core.rmem_max)."""
LARGEST = 1 << 30
"""Asked for when the file has come: the kernel gives net.core.rmem_max."""
MEASURE_SECONDS = 0.05
"""The drain rate is measured over windows at least this long."""

_RCV_RTT = struct.Struct("=I")
_RCV_RTT_OFFSET = 92
"""`tcpi_rcv_rtt` in Linux's struct tcp_info: the receiver's own estimate of the round trip, in
microseconds (0: none yet)."""


def limit_bytes(rate: float, round_trip: float) -> int:
    """The receive buffer (SO_RCVBUF) for a client that drains `rate` bytes a second over a
    path of `round_trip` seconds."""
    return max(MIN_LIMIT_BYTES, int(GAIN * rate * (round_trip + QUEUE_SECONDS)))


def receiver_round_trip(sock: socket.socket) -> float:
    """The kernel's estimate of the round trip as this receiver sees it, in seconds (0: none,
    or not TCP)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _RCV_RTT_OFFSET + _RCV_RTT.size)
    except OSError:
        return 0.0
    if len(info) < _RCV_RTT_OFFSET + _RCV_RTT.size:
        return 0.0
    return _RCV_RTT.unpack_from(info, _RCV_RTT_OFFSET)[0] / 1e6


def kernel_buffer(sock: socket.socket) -> int:
    """The bytes the kernel may hold for `sock` now (autotuned, or twice what was set; 0: closed
    meanwhile)."""
    try:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    except OSError:
        return 0


class UnreadLimit:
    """One connection's drain rate while a file arrives, and its kernel receive buffer kept in
    step."""

    def __init__(self, sock: socket.socket, clock=time.monotonic, round_trip=receiver_round_trip):
        self._sock = sock
        self._clock = clock
        self._round_trip = round_trip
        self._began: float | None = None
        """When the measure under way began (None: no file arriving)."""
        self._drained = 0
        """Bytes read since then."""
        self._bound = 0
        """The size last set by hand (0: none yet, the kernel autotunes)."""
        self.rate = 0.0
        """Bytes a second read over the last whole measure."""

    @property
    def bounded(self) -> bool:
        """Whether the buffer is set by hand (autotuning is over for good then)."""
        return self._bound != 0

    def read(self, count: int) -> None:
        """The client read `count` bytes from the connection."""
        self._drained += count

    def follow(self, arriving: bool) -> bool:
        """Called every turn: whether a file is arriving now. Measures and bounds while one does,
        widens the buffer when it has come. Whether the buffer changed (the kernel's wake-up
        mark must then be set again: the kernel keeps it within half the buffer)."""
        if not arriving:
            self._began = None
            return self._set(LARGEST) if self.bounded and self._bound != LARGEST else False
        now = self._clock()
        if self._began is None:
            self._began, self._drained = now, 0
            return False
        seconds = now - self._began
        if seconds < MEASURE_SECONDS:
            return False
        self.rate = self._drained / seconds
        self._began, self._drained = now, 0
        return self._bound_to(limit_bytes(self.rate, self._round_trip(self._sock)))

    def _bound_to(self, wanted: int) -> bool:
        if wanted == self._bound:
            return False
        held = kernel_buffer(self._sock)
        if not self.bounded and (wanted > MAX_LIMIT_BYTES or 2 * wanted >= held):
            return False  # it drains faster than autotuning fills: leave the kernel be
        return self._set(max(wanted, held // 4))  # at most half the size it has (held is twice it)

    def _set(self, size: int) -> bool:
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        except OSError:  # closed meanwhile
            return False
        self._bound = size
        return True
