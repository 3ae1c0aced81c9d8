"""A TCP connection on loopback, and what its kernel holds: for tests of pacing and receiving."""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import termios

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
