"""Ports for tests that need a given range (the FTP door's --passive-ports)."""

from __future__ import annotations

import random
import socket

HOST = "127.0.0.1"
LOWEST, HIGHEST = 20000, 29000
"""Below Linux's ephemeral ports (32768 and up), which outgoing connections take at any moment."""


def two_free_ports() -> int:
    """The first of two consecutive ports nothing uses now (tried at random)."""
    for _ in range(50):
        low = random.randrange(LOWEST, HIGHEST)
        socks = [socket.socket() for _ in range(2)]
        try:
            for offset, sock in enumerate(socks):
                sock.bind((HOST, low + offset))
            return low
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise AssertionError("no two consecutive free ports")
