"""Ports for tests that need a given range (the FTP door's --passive-ports)."""

from __future__ import annotations

import random
import socket

HOST = "127.0.0.1"
LOWEST, HIGHEST = 20000, 29000
"""Below Linux's ephemeral ports (32768 and up), which outgoing connections take at any moment."""


def two_free_ports() -> int:
    """The first of two consecutive ports nothing uses now (tried at random)."""
    return free_ports(2).start


def free_ports(count: int) -> range:
    """`count` consecutive ports nothing uses now (tried at random)."""
    for _ in range(50):
        low = random.randrange(LOWEST, HIGHEST - count)
        if all_free(range(low, low + count)):
            return range(low, low + count)
    raise AssertionError(f"no {count} consecutive free ports")


def all_free(ports: range) -> bool:
    """Each port can be listened on now: bound with SO_REUSEADDR, as the server's passive
    listeners and Docker's published ports bind. A port whose only use is connections in
    TIME-WAIT (left by such listeners) is free to them; without SO_REUSEADDR it would count
    as taken, and on a machine busy with connections (a benchmark next door: thousands in
    TIME-WAIT between 20000 and 29000) no block was found."""
    socks = [socket.socket() for _ in ports]
    try:
        for port, sock in zip(ports, socks, strict=True):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        for sock in socks:
            sock.close()
