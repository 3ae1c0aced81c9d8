"""A TCP connection on loopback, and what its kernel holds and how it resends: for tests of
pacing, receiving and socket options."""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import termios

from ftplab.net import RETRANSMIT_FLOOR_US, TCP_RTO_MIN_US
from ftplab.pacing import unsent_bytes


@contextlib.contextmanager
def loopback_connection():
    """(server's end, client's end) of a TCP connection on 127.0.0.1, both non-blocking."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with server, client:
        for sock in (server, client):
            sock.setblocking(False)
        yield server, client


def unread_bytes(sock: socket.socket) -> int:
    """Bytes the kernel holds for `sock`, not yet read."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]


def send_until_full(sock: socket.socket, chunk: bytes = b"f" * (256 * 1024)) -> bool:
    """Send on a non-blocking socket until the kernel takes no more; whether it then holds bytes
    unsent (on loopback only the peer's window holds them back)."""
    with contextlib.suppress(BlockingIOError):
        while True:
            sock.send(chunk)
    return (unsent_bytes(sock) or 0) > 0


LINUX_RETRANSMIT_FLOOR_US = 200_000
"""Linux's own floor for the retransmission timer (TCP_RTO_MIN), where nothing lowers it."""


def retransmit_floor_us(sock: socket.socket) -> int | None:
    """The least the kernel waits before it resends a lost packet on `sock`, in microseconds
    (whole clock ticks: 50 ms reads 52,000 at 250 Hz); None where it cannot say (before Linux
    6.15)."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, TCP_RTO_MIN_US)
    except OSError:
        return None


def _kernel_sets_retransmit_floor() -> bool:
    with socket.socket() as probe:
        return retransmit_floor_us(probe) is not None


KERNEL_SETS_RETRANSMIT_FLOOR = _kernel_sets_retransmit_floor()
"""Linux 6.15+: a socket's own floor can be set and read (TCP_RTO_MIN_US)."""


def has_lowered_retransmit_floor(sock: socket.socket) -> bool:
    """Whether `sock`'s floor is RETRANSMIT_FLOOR_US (to a clock tick), not the kernel's own."""
    floor = retransmit_floor_us(sock)
    return floor is not None and RETRANSMIT_FLOOR_US <= floor < RETRANSMIT_FLOOR_US + 10_000
