"""Reading what the server sent into a receive buffer: everything ready, in one piece.

A plain socket's `recv_into` returns all the kernel holds, up to the buffer's
size (a MiB or more at a time during a download on loopback). A TLS socket's
returns at most one record: 16 KiB of plaintext. Handed to the session one by
one, each record cost a turn of the loop, a parse and a hand-over to the
writer and hasher threads (whose wake-ups, futexes, then dominated): a
verified `get` over TLS used about five times the plain one's CPU per GiB.
So under TLS the buffer is filled with every record already decrypted or
waiting in the kernel, up to its size, and the session gets them at once.
Nothing here waits: the first read that would block ends the filling.

While a file arrives, the kernel gathers what comes before the loop is woken:
GATHER_BYTES at least (SO_RCVLOWAT, never more than the file has still to
send, so its end always wakes the loop), and the loop reads at least every
GATHER_SECONDS whatever has come (a non-blocking read returns what is there,
below the mark too), so a chat line, or the server's word that the file
stopped, waits no longer than that. Without it, a client whose file comes
slowly, as each of a class of 30 sharing one server, is woken for every few
packets: it read about 25 KiB at a time, and each turn of its loop (select,
read, parse, write, hash) cost more than the bytes, about 5-6 core-seconds
per GiB against 1.3 for the same client reading 1 MiB at a time; gathering,
it reads about 200 KiB at a time at 10 MiB/s and spends about 2. A fast
connection reaches the mark in well under a millisecond and is read as
before. Linux only, where SO_RCVLOWAT wakes epoll and select as said and
tells the sender's window about it; elsewhere every byte wakes the loop.

The mark is never more than the window the kernel offers now (TCP_WINDOW_CLAMP).
Asked for a mark above it, Linux grows the buffer to hold the mark and clamps
the window to the mark itself, and autotuning, which grows a buffer only when a
round trip brings more than the last one did, may then never grow it again: the
client reads 256 KiB at a time for the whole file. On loopback, a verified `get`
of 1 GiB fell into that in about half the runs: 0.64 GB/s and 1.66 client
core-seconds against 1.1-1.3 GB/s and 1.2 otherwise (4,109 reads instead of
about 300). So a download that starts with the system's first buffer (128 KiB)
gathers less at first, and its mark rises to GATHER_BYTES as autotuning grows
the window.
"""

from __future__ import annotations

import socket
import ssl
import sys

WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
"""What a non-blocking socket, TLS or not, raises when it cannot go on now."""
GATHER_BYTES = 256 * 1024
"""While a file arrives, the loop is woken once the kernel holds this much (see the docstring)."""
GATHER_SECONDS = 0.02
"""...or after this long, whatever it holds: the most a line waits for it."""
CAN_GATHER = (
    sys.platform.startswith("linux")
    and hasattr(socket, "SO_RCVLOWAT")
    and hasattr(socket, "TCP_WINDOW_CLAMP")
)


def gather(sock: socket.socket, count: int) -> int | None:
    """Have the kernel wake the loop for `sock` only once `count` bytes are waiting (1: any
    byte), or fewer while its window is smaller (see the module's docstring); the mark set.
    1 where it cannot gather (any byte wakes the loop); None if the kernel refused the mark."""
    if not CAN_GATHER:
        return 1
    try:
        if count > 1:
            count = max(1, min(count, sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_WINDOW_CLAMP)))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, count)
    except OSError:
        return None
    return count


def receive_ready(sock: socket.socket, buffer: bytearray) -> tuple[int, bool]:
    """Read into `buffer` what the server sent and is ready now: (bytes read, whether the
    connection ended after them: its end or an error). Raises one of WOULD_BLOCK when
    nothing at all was ready."""
    view = memoryview(buffer)
    try:
        count = sock.recv_into(view)
    except WOULD_BLOCK:
        raise
    except OSError:
        return 0, True
    if not count:
        return 0, True
    if isinstance(sock, ssl.SSLSocket):
        return _more_records(sock, view, count)
    return count, False


def _more_records(sock: ssl.SSLSocket, view: memoryview, count: int) -> tuple[int, bool]:
    """Go on filling `view` from `count` with the records that are ready (see the module's docstring)."""
    while count < len(view):
        try:
            more = sock.recv_into(view[count:])
        except WOULD_BLOCK:
            return count, False
        except OSError:
            return count, True
        if not more:
            return count, True
        count += more
    return count, False
