"""pacing: frames sized to what a connection drains, and the kernel's unsent bytes kept small."""

from __future__ import annotations

import socket
import sys

import pytest

from ftplab.pacing import (
    FIRST_RATE_WINDOW_SECONDS,
    MAX_FRAME_BYTES,
    MAX_QUEUE_BYTES,
    MIN_FRAME_BYTES,
    MIN_QUEUE_BYTES,
    PACING_GAIN,
    PATH_BOUND_SHARE,
    QUEUE_SECONDS,
    RATE_WINDOW_BYTES,
    RATE_WINDOW_SECONDS,
    RECENT_WINDOWS,
    SO_MAX_PACING_RATE,
    Delivery,
    Pacer,
    delivery,
    frame_bytes,
    pacing_cap,
    queue_bytes,
)
from support.tcp import loopback_connection, send_until_full
from support.waiting import wait_until

MBIT = 1_000_000 / 8


class FakeSocket:
    """Records the unsent limit set on it; its peer acknowledges `acked` bytes so far, and its
    kernel holds `unsent` bytes not yet sent."""

    def __init__(self):
        self.acked = 0
        self.unsent = 0
        self.busy: int | None = None
        """Microseconds spent sending, as the kernel counts (None: it does not say)..."""
        self.receiver_bound = 0
        """...and held back by the peer's window."""
        self.options: dict[tuple[int, int], int] = {}

    def setsockopt(self, level: int, option: int, value: int | bytes) -> None:
        self.options[level, option] = value

    @property
    def unsent_limit(self) -> int | None:
        return self.options.get((socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT))

    @property
    def pacing_cap(self) -> int | None:
        """The cap set (2**64 - 1: none); None: never set."""
        value = self.options.get((socket.SOL_SOCKET, SO_MAX_PACING_RATE))
        return None if value is None else int.from_bytes(value, sys.byteorder)


def paced(fake: FakeSocket) -> Pacer:
    return Pacer(
        fake,
        told=lambda sock: Delivery(sock.acked, sock.busy, sock.receiver_bound),
        unsent=lambda sock: sock.unsent,
    )


@pytest.mark.parametrize(
    ("rate", "frame"),
    [
        (None, MAX_FRAME_BYTES),  # not TCP: as before pacing
        (0, MIN_FRAME_BYTES),  # nothing measured yet
        (8 * MBIT, MIN_FRAME_BYTES),  # 10 ms is 10 KB: the floor
        (100 * MBIT, 122_880),  # 125 KB, in whole pages
        (10_000 * MBIT, MAX_FRAME_BYTES),
    ],
)
def test_a_frame_carries_about_ten_ms_of_the_rate_within_bounds(rate, frame):
    assert frame_bytes(rate) == frame
    assert frame % 4096 == 0


def test_the_unsent_limit_follows_the_rate_and_a_fast_connection_has_none():
    assert queue_bytes(0) == MIN_QUEUE_BYTES
    assert queue_bytes(8 * MBIT) == MIN_QUEUE_BYTES
    assert queue_bytes(100 * MBIT) == 249_856
    assert queue_bytes(MAX_QUEUE_BYTES / QUEUE_SECONDS - 4096 / QUEUE_SECONDS) < MAX_QUEUE_BYTES
    assert queue_bytes(MAX_QUEUE_BYTES / QUEUE_SECONDS) is None


@pytest.mark.parametrize("mbit", [0, 1, 8, 13, 100, 333, 1000, 3000, 10_000])
def test_the_kernel_may_hold_two_frames_so_a_whole_frame_fits_once_half_has_gone(mbit):
    """The socket says it is writable below half its unsent limit: a frame must fit then."""
    limit = queue_bytes(mbit * MBIT)
    assert limit is None or limit >= 2 * frame_bytes(mbit * MBIT)


def test_the_pacing_cap_is_twice_the_rate_and_none_unmeasured_or_fast():
    assert pacing_cap(0) is None
    assert pacing_cap(8 * MBIT) == int(8 * MBIT * PACING_GAIN)
    assert pacing_cap(MAX_QUEUE_BYTES / QUEUE_SECONDS) is None, "a fast connection: no cap"


def test_the_kernel_paces_at_twice_the_best_recent_rate():
    fake = FakeSocket()
    pacer = paced(fake)
    pacer.next_frame_bytes(now=0.0)
    assert fake.pacing_cap is None, "nothing measured: the kernel's own pacing"

    fake.acked = int(8 * MBIT * 0.1)
    pacer.next_frame_bytes(now=0.1)
    assert fake.pacing_cap == int(8 * MBIT * PACING_GAIN)

    fake.acked += int(16 * MBIT * 0.1)  # the link got faster: the cap follows
    pacer.next_frame_bytes(now=0.2)
    assert fake.pacing_cap == int(16 * MBIT * PACING_GAIN)


def test_slow_windows_do_not_lower_the_cap_until_the_fast_one_is_old():
    fake = FakeSocket()
    pacer = paced(fake)
    pacer.next_frame_bytes(now=0.0)
    fake.acked = int(16 * MBIT * 0.1)
    now = 0.1
    pacer.next_frame_bytes(now)

    for _ in range(RECENT_WINDOWS - 1):  # the client or the server was slow for a while
        fake.acked += int(MBIT * 0.1)
        now += 0.1
        pacer.next_frame_bytes(now)
        assert fake.pacing_cap == int(16 * MBIT * PACING_GAIN)

    fake.acked += int(MBIT * 0.1)
    pacer.next_frame_bytes(now + 0.1)
    assert fake.pacing_cap == int(MBIT * PACING_GAIN)


def test_a_connection_that_turns_fast_loses_its_cap():
    fake = FakeSocket()
    pacer = paced(fake)
    pacer.next_frame_bytes(now=0.0)
    fake.acked = int(8 * MBIT * 0.1)
    pacer.next_frame_bytes(now=0.1)

    fake.acked += 100_000_000  # 1 GB/s
    pacer.next_frame_bytes(now=0.2)
    assert fake.pacing_cap == 2**64 - 1, "~0: no cap"


def slow_link_window(fake: FakeSocket, seconds: float, sending: float, receiver_held: float = 0.0) -> None:
    """A window of `seconds` at 8 Mbit/s in which the connection was sending `sending` of the time,
    `receiver_held` of it held back by the peer's window."""
    fake.acked += int(8 * MBIT * seconds)
    fake.busy = (fake.busy or 0) + int(sending * seconds * 1e6)
    fake.receiver_bound += int(receiver_held * seconds * 1e6)


def test_a_window_the_path_set_the_pace_in_gets_the_cap():
    fake = FakeSocket()
    pacer = paced(fake)
    fake.busy = 0
    pacer.next_frame_bytes(now=0.0)
    slow_link_window(fake, 0.1, sending=1.0)  # a shaped link: always bytes to send
    pacer.next_frame_bytes(now=0.1)
    assert pacer.path_bound
    assert fake.pacing_cap == int(8 * MBIT * PACING_GAIN)


@pytest.mark.parametrize(
    ("sending", "receiver_held", "why"),
    [
        (0.3, 0.0, "the server was late: a class on one computer"),
        (1.0, 0.8, "the receiver's window held it back: a slow client"),
        (PATH_BOUND_SHARE + 0.2, 0.3, "both"),
    ],
)
def test_a_window_the_path_did_not_set_the_pace_in_loses_the_cap(sending, receiver_held, why):
    fake = FakeSocket()
    pacer = paced(fake)
    fake.busy = 0
    pacer.next_frame_bytes(now=0.0)
    slow_link_window(fake, 0.1, sending=1.0)
    pacer.next_frame_bytes(now=0.1)
    assert fake.pacing_cap == int(8 * MBIT * PACING_GAIN)

    slow_link_window(fake, 0.1, sending=sending, receiver_held=receiver_held)
    pacer.next_frame_bytes(now=0.2)
    assert not pacer.path_bound, why
    assert fake.pacing_cap == 2**64 - 1, "~0: no cap"

    slow_link_window(fake, 0.1, sending=1.0)  # the path sets the pace again: so does the cap
    pacer.next_frame_bytes(now=0.3)
    assert fake.pacing_cap == int(8 * MBIT * PACING_GAIN)


def test_before_a_whole_window_frames_are_small_and_the_kernel_holds_little():
    fake = FakeSocket()
    pacer = paced(fake)

    assert pacer.next_frame_bytes(now=10.0) == MIN_FRAME_BYTES
    fake.acked = RATE_WINDOW_BYTES - 1  # a burst, but within the first window
    assert pacer.next_frame_bytes(now=10.0 + FIRST_RATE_WINDOW_SECONDS / 2) == MIN_FRAME_BYTES
    assert fake.unsent_limit == MIN_QUEUE_BYTES


def test_the_first_window_is_short_so_the_cap_comes_before_start_up_overflows_a_queue():
    fake = FakeSocket()
    pacer = paced(fake)
    pacer.next_frame_bytes(now=0.0)

    fake.unsent = 20_000  # the link sets the pace: the kernel holds bytes it cannot send yet
    fake.acked = int(8 * MBIT * 0.01)  # BBR's start-up had overflowed a 50 ms queue by 50 ms
    pacer.next_frame_bytes(now=0.01)
    assert pacer.rate == pytest.approx(8 * MBIT, rel=0.01)
    assert fake.pacing_cap == int(pacer.rate * PACING_GAIN)


def test_a_first_window_with_nothing_unsent_is_a_whole_one():
    """The server, not the connection, set the pace (busy elsewhere, or a fast connection
    whose kernel sends at once): a rate measured then would make a cap that is too low."""
    fake = FakeSocket()
    pacer = paced(fake)
    pacer.next_frame_bytes(now=0.0)

    fake.acked = int(8 * MBIT * 0.01)
    pacer.next_frame_bytes(now=0.01)
    assert fake.pacing_cap is None, "not measured yet"

    fake.acked += int(100 * MBIT * 0.04)
    pacer.next_frame_bytes(now=RATE_WINDOW_SECONDS)
    assert pacer.rate == pytest.approx(81.6 * MBIT, rel=0.01)


def test_the_windows_after_the_first_are_long_ones():
    """Short windows would see bursts as the link's speed (see RATE_WINDOW_SECONDS)."""
    fake = FakeSocket()
    fake.unsent = 20_000
    pacer = paced(fake)
    pacer.next_frame_bytes(now=0.0)
    fake.acked = int(8 * MBIT * FIRST_RATE_WINDOW_SECONDS)
    now = FIRST_RATE_WINDOW_SECONDS
    pacer.next_frame_bytes(now)
    first_cap = fake.pacing_cap

    fake.acked += int(32 * MBIT * FIRST_RATE_WINDOW_SECONDS)  # a burst
    pacer.next_frame_bytes(now + FIRST_RATE_WINDOW_SECONDS)
    assert fake.pacing_cap == first_cap, "not a whole window yet"

    fake.acked += int(8 * MBIT * (RATE_WINDOW_SECONDS - FIRST_RATE_WINDOW_SECONDS))
    pacer.next_frame_bytes(now + RATE_WINDOW_SECONDS)
    assert pacer.rate == pytest.approx(12.8 * MBIT, rel=0.01), "the burst averaged over 50 ms"
    assert fake.pacing_cap == int(pacer.rate * PACING_GAIN)


def test_a_megabyte_acknowledged_within_a_window_is_a_measure_too():
    fake = FakeSocket()
    pacer = paced(fake)
    pacer.next_frame_bytes(now=0.0)

    fake.acked = RATE_WINDOW_BYTES  # in 2 ms: 500 MiB/s
    assert pacer.next_frame_bytes(now=0.002) == MAX_FRAME_BYTES
    assert pacer.rate == pytest.approx(RATE_WINDOW_BYTES / 0.002)


def test_a_fast_connection_gets_the_largest_frames_after_one_window():
    fake = FakeSocket()
    pacer = paced(fake)
    pacer.next_frame_bytes(now=0.0)

    fake.acked = 100_000_000  # 1 GB/s over the window
    assert pacer.next_frame_bytes(now=0.1) == MAX_FRAME_BYTES
    assert pacer.rate == pytest.approx(1e9)
    assert fake.unsent_limit == 0, "the system's default: no limit"
    assert pacer.send_budget() is None


def test_a_connection_that_slows_down_gets_smaller_frames_one_window_later():
    fake = FakeSocket()
    pacer = paced(fake)
    pacer.next_frame_bytes(now=0.0)
    fake.acked = 100_000_000
    pacer.next_frame_bytes(now=0.1)

    fake.acked += int(8 * MBIT * 0.1)  # then 8 Mbit/s
    assert pacer.next_frame_bytes(now=0.2) == MIN_FRAME_BYTES
    assert fake.unsent_limit == MIN_QUEUE_BYTES


def test_a_socket_the_kernel_says_nothing_about_gets_todays_frames_and_no_limit():
    fake = FakeSocket()
    pacer = Pacer(fake, told=lambda sock: None)

    assert pacer.next_frame_bytes(now=0.0) == MAX_FRAME_BYTES
    assert fake.unsent_limit is None
    assert pacer.send_budget() is None


def test_a_unix_socket_has_no_acknowledged_count(socket_pair):
    left, _ = socket_pair
    assert delivery(left) is None


@pytest.fixture
def tcp_pair():
    """(server's end, client's end), both non-blocking."""
    with loopback_connection() as pair:
        yield pair


def test_on_tcp_the_budget_is_the_unsent_limit_less_what_the_kernel_holds_unsent(tcp_pair):
    server, client = tcp_pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the peer takes little
    pacer = Pacer(server)
    assert pacer.send_budget() is None, "no limit before the first frame"

    pacer.next_frame_bytes(now=0.0)
    assert pacer.send_budget() == MIN_QUEUE_BYTES, "nothing unsent yet"

    with pytest.raises(BlockingIOError):
        while True:
            server.send(bytes(64 * 1024))
    assert pacer.send_budget() < MIN_QUEUE_BYTES
    assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT) == MIN_QUEUE_BYTES


def test_on_tcp_the_kernel_keeps_the_pacing_cap(tcp_pair):
    server, _ = tcp_pair
    pacer = Pacer(server)
    pacer.next_frame_bytes(now=0.0)
    server.sendall(bytes(100_000))
    wait_until(lambda: delivery(server).acked >= 100_000, message="the peer's acknowledgement")

    pacer.next_frame_bytes(now=RATE_WINDOW_SECONDS)  # about 2 MB/s over the window

    cap = int.from_bytes(server.getsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, 8), sys.byteorder)
    assert cap == pacing_cap(pacer.rate)


def test_on_tcp_the_acknowledged_count_grows_as_the_peer_takes_bytes(tcp_pair):
    server, client = tcp_pair
    before = delivery(server).acked
    server.sendall(b"x" * 1000)
    client.settimeout(5)
    received = b""
    while len(received) < 1000:
        received += client.recv(4096)

    wait_until(lambda: delivery(server).acked >= before + 1000, message="the peer's acknowledgement")


def test_on_tcp_the_kernel_says_how_long_the_peers_window_held_the_sender_back(tcp_pair):
    server, client = tcp_pair
    before = delivery(server)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the peer takes little, reads nothing
    wait_until(
        lambda: send_until_full(server) and delivery(server).receiver_bound > before.receiver_bound,
        message="time held back by the peer's window",
    )
    told = delivery(server)
    assert told.busy > before.busy
    assert told.receiver_bound - before.receiver_bound <= told.busy - before.busy
