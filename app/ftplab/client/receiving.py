"""Reading what the server sent into a receive buffer: everything ready, in one piece.

A plain socket's `recv_into` returns all the kernel holds, up to the buffer's
size (about 1 MiB at a time during a download on loopback). A TLS socket's
returns at most one record: 16 KiB of plaintext. Handed to the session one by
one, each record cost a turn of the loop, a parse and a hand-over to the
writer and hasher threads (whose wake-ups, futexes, then dominated): a
verified `get` over TLS used about five times the plain one's CPU per GiB.
So under TLS the buffer is filled with every record already decrypted or
waiting in the kernel, up to its size, and the session gets them at once.
Nothing here waits: the first read that would block ends the filling.
"""

from __future__ import annotations

import socket
import ssl

WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
"""What a non-blocking socket, TLS or not, raises when it cannot go on now."""


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
