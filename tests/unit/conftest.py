"""Fixtures shared by the unit tests."""

from __future__ import annotations

import signal
import socket

import pytest
from client_helpers import Harness

from support.clock import MovedClock


@pytest.fixture
def deadline():
    """Fail, instead of hanging, a test whose call would block: 5 s at most."""

    def expired(signum, frame):
        raise TimeoutError("the call blocked")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, 5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def socket_pair():
    """A connected pair of non-blocking stream sockets."""
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)
    try:
        yield left, right
    finally:
        left.close()
        right.close()


@pytest.fixture
def sockets():
    """`sockets()`: one end of a new socket pair (both ends closed after the test)."""
    pairs = []

    def make():
        pair = socket.socketpair()
        pairs.append(pair)
        return pair[0]

    yield make
    for pair in pairs:
        for sock in pair:
            sock.close()


@pytest.fixture
def harness(tmp_path):
    """`harness(**options)`: a client_helpers.Harness; each session made is closed at the
    test's end (as the app does), so nothing is left open."""
    made = []

    def make(**options) -> Harness:
        made.append(Harness(tmp_path, **options))
        return made[-1]

    yield make
    for each in made:
        each.session.close()


@pytest.fixture
def clock():
    """A clock the test moves (support/clock.py)."""
    return MovedClock()
