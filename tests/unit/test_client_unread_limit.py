"""client.unread_limit: while a file arrives, the kernel holds what the client drains in a moment."""

from __future__ import annotations

import itertools
import socket

import pytest

from ftplab.client.receiving import GATHER_BYTES
from ftplab.client.unread_limit import (
    GAIN,
    LARGEST,
    MAX_LIMIT_BYTES,
    MEASURE_SECONDS,
    MIN_LIMIT_BYTES,
    QUEUE_SECONDS,
    UnreadLimit,
    kernel_buffer,
    limit_bytes,
)
from support.tcp import loopback_connection, send_until_full, unread_bytes
from support.waiting import wait_until

MB = 1_000_000
RMEM_MAX = 4 * 1024 * 1024
"""net.core.rmem_max: the most a size set by hand gets."""


class FakeSocket:
    """A receive buffer the kernel autotuned to `autotuned` bytes; records the sizes set on it."""

    def __init__(self, autotuned: int = 6 * MB):
        self.autotuned = autotuned
        self.sizes: list[int] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        assert (level, option) == (socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.sizes.append(value)

    def getsockopt(self, level: int, option: int) -> int:
        assert (level, option) == (socket.SOL_SOCKET, socket.SO_RCVBUF)
        return 2 * min(self.sizes[-1], RMEM_MAX) if self.sizes else self.autotuned


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def followed(round_trip: float = 0.0, autotuned: int = 6 * MB) -> tuple[UnreadLimit, FakeSocket, Clock]:
    fake, clock = FakeSocket(autotuned), Clock()
    return UnreadLimit(fake, clock=clock, round_trip=lambda _sock: round_trip), fake, clock


def drain(buffer: UnreadLimit, clock: Clock, rate: float, seconds: float, step: float = 0.01) -> list[bool]:
    """The client reads at `rate` bytes a second for `seconds`, a turn every `step`; what
    `follow` said at each turn."""
    said = []
    for _ in range(round(seconds / step)):
        clock.now += step
        buffer.read(int(rate * step))
        said.append(buffer.follow(arriving=True))
    return said


def test_the_buffer_is_the_drain_over_the_round_trip_and_a_moment_times_the_gain():
    assert limit_bytes(0, 0) == MIN_LIMIT_BYTES == GATHER_BYTES
    assert limit_bytes(10 * MB, 0) == MIN_LIMIT_BYTES, "a class's student on one computer: the floor"
    assert limit_bytes(100 * MB, 0.0005) == int(GAIN * 100 * MB * (0.0005 + QUEUE_SECONDS))
    assert limit_bytes(10 * MB, 0.1) == int(GAIN * 10 * MB * (0.1 + QUEUE_SECONDS)), "a long path"


def test_nothing_is_set_before_a_whole_measure_nor_when_no_file_ever_came():
    buffer, fake, clock = followed()
    for _ in range(10):
        clock.now += 0.01
        assert not buffer.follow(arriving=False)
    assert not any(drain(buffer, clock, 10 * MB, MEASURE_SECONDS - 0.01))
    assert fake.sizes == [], "the kernel's own buffer"


def test_a_slow_drain_bounds_the_buffer_and_it_follows_the_drain_measure_after_measure():
    buffer, fake, clock = followed(round_trip=0.02, autotuned=4 * MB)
    said = drain(buffer, clock, 20 * MB, 0.2)
    assert buffer.rate == pytest.approx(20 * MB)
    assert fake.sizes[0] == pytest.approx(limit_bytes(20 * MB, 0.02), rel=0.01)
    assert said.count(True) == len(fake.sizes), "every change said, so the wake-up mark is set again"
    drain(buffer, clock, 50 * MB, 0.2)
    assert fake.sizes[-1] == pytest.approx(limit_bytes(50 * MB, 0.02), rel=0.01), "a faster drain: more"
    drain(buffer, clock, 5 * MB, 0.4)
    assert fake.sizes[-1] == pytest.approx(limit_bytes(5 * MB, 0.02), rel=0.01), "and slower: less"


def test_the_buffer_shrinks_to_no_less_than_half_its_size_a_measure():
    """Bytes already on their way in the window a larger buffer offered still come: a buffer
    set far below them makes the kernel drop them."""
    buffer, fake, clock = followed(autotuned=6 * MB)
    drain(buffer, clock, 10 * MB, 0.5)
    assert fake.sizes[0] == 6 * MB // 4, "half the size autotuning had reached (it reports twice that)"
    assert fake.sizes[-1] == MIN_LIMIT_BYTES, "the drain's own size, measures later"
    steps = list(itertools.pairwise(fake.sizes))
    assert steps and all(after >= before // 2 for before, after in steps), fake.sizes


def test_a_client_that_drains_faster_than_autotuning_fills_is_left_alone():
    buffer, fake, clock = followed(autotuned=6 * MB)
    drain(buffer, clock, 300 * MB, 0.5)  # 6 MB in a moment
    assert fake.sizes == []
    assert not buffer.bounded


def test_a_client_as_fast_as_loopback_is_left_to_autotuning_however_large_its_buffer():
    buffer, fake, clock = followed(autotuned=32 * MB)
    drain(buffer, clock, 1000 * MB, 0.5)
    assert limit_bytes(1000 * MB, 0) > MAX_LIMIT_BYTES
    assert fake.sizes == []


def test_the_buffer_widens_once_to_the_largest_when_the_file_has_come():
    buffer, fake, clock = followed()
    drain(buffer, clock, 10 * MB, 0.2)
    set_while_arriving = len(fake.sizes)
    said = []
    for _ in range(3):
        clock.now += 0.01
        said.append(buffer.follow(arriving=False))
    assert fake.sizes[set_while_arriving:] == [LARGEST]
    assert said == [True, False, False]
    drain(buffer, clock, 10 * MB, 0.5)
    assert fake.sizes[-1] == MIN_LIMIT_BYTES, "the next file bounds it again, half by half"


# --- on a real connection -------------------------------------------------------------------


@pytest.fixture
def tcp_pair():
    """(client's end, server's end), both non-blocking."""
    with loopback_connection() as (server, client):
        yield client, server


def read_all(sock: socket.socket, buffer: bytearray) -> int:
    count = 0
    try:
        while True:
            count += sock.recv_into(buffer)
    except BlockingIOError:
        return count


def test_on_tcp_a_slow_client_holds_no_more_unread_than_its_buffer(tcp_pair):
    client, server = tcp_pair
    chunks = bytearray(4 << 20)

    def autotuned() -> bool:  # a fast start: Linux grows the receive buffer to megabytes
        send_until_full(server)
        read_all(client, chunks)
        return kernel_buffer(client) >= 8 * MIN_LIMIT_BYTES

    wait_until(autotuned, message="the client's receive buffer grown by autotuning")
    send_until_full(server)
    assert unread_bytes(client) > 4 * MIN_LIMIT_BYTES, "unbounded, a slow client holds megabytes"
    read_all(client, chunks)

    clock = Clock()
    buffer = UnreadLimit(client, clock=clock, round_trip=lambda _sock: 0.0)  # a LAN's: the drain decides
    buffer.follow(arriving=True)
    halvings = 0
    while kernel_buffer(client) > 2 * MIN_LIMIT_BYTES:  # half the size a measure at most
        assert halvings < 16, f"not down to the drain's size: {kernel_buffer(client)} bytes"
        clock.now += 2 * MEASURE_SECONDS
        buffer.read(MB)  # 10 MB/s: a student of a class on one computer
        assert buffer.follow(arriving=True)
        halvings += 1
        # what the window offered before still comes (TCP never takes a window back)
        wait_until(lambda: send_until_full(server), message="the window offered before used up")
        read_all(client, chunks)
    assert buffer.bounded and halvings >= 2, halvings
    wait_until(lambda: send_until_full(server), message="the server held back by the client's buffer")
    assert unread_bytes(client) <= 2 * MIN_LIMIT_BYTES

    assert buffer.follow(arriving=False)
    assert kernel_buffer(client) > 2 * MIN_LIMIT_BYTES, "wide again for what comes next"
