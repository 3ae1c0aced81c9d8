"""The loop driven by hand, one turn at a time: socket pairs for the network, a clock
that moves only when the test says so, and a connection kind that records what it is asked."""

from __future__ import annotations

import logging
import math
import selectors

import pytest
from loop_fakes import FakeTime, Probe, make_loop, pair

from ftplab.clock import HOUSEKEEPING_SECONDS
from ftplab.connection import CLOSE_GRACE_SECONDS, State
from ftplab.server import SHUTDOWN_FLUSH_SECONDS

ADDRESS = ("10.0.0.7", 40000)


@pytest.fixture
def time():
    return FakeTime()


@pytest.fixture
def loop(time):
    server, door = make_loop(time)
    yield server, door
    server._close_everything()


def admit(server, door, address=ADDRESS):
    ours, theirs = pair()
    server.admission.admit(ours, address, door)
    return door.made[-1], theirs


def advance(server, time, seconds: float) -> None:
    """Let `seconds` pass, a turn every second (a longer gap would count as a stopped process)."""
    while seconds > 0:
        step = min(seconds, 1.0)
        time.value += step
        seconds -= step
        server.turn()


class Exploding:
    """An endpoint whose on_ready fails."""

    label = "exploding endpoint"

    def __init__(self, sock):
        self.sock = sock
        self.failures = 0

    def on_ready(self, mask):
        raise RuntimeError("boom")

    def failed(self):
        self.failures += 1


def test_the_loop_calls_on_ready_with_the_mask_and_never_asks_what_it_holds(loop):
    server, door = loop
    probe, peer = admit(server, door)
    server.turn()  # watched for input from now on
    peer.sendall(b"hello")
    server.turn()
    assert "readable" in probe.calls
    assert door.turns == 2, "the door's work runs every turn"


def test_an_error_in_one_endpoint_is_logged_and_the_loop_goes_on(loop, caplog):
    server, _door = loop
    ours, theirs = pair()
    exploding = Exploding(ours)
    server.register(ours, selectors.EVENT_READ, exploding)
    theirs.sendall(b"x")
    with caplog.at_level(logging.ERROR, "ftplab.server"):
        server.turn()
    assert exploding.failures == 1
    assert "unexpected error on exploding endpoint" in caplog.text
    server.unregister(ours)
    ours.close()
    theirs.close()


def test_output_goes_at_once_and_write_interest_only_while_it_waits(loop):
    server, door = loop
    probe, peer = admit(server, door)
    probe.queue(b"one line\n", server.now)
    server.touch(probe)
    server.turn()
    assert peer.recv(100) == b"one line\n"
    assert probe.interest == selectors.EVENT_READ


def test_a_last_message_is_read_before_the_connection_closes(loop):
    server, door = loop
    probe, peer = admit(server, door)
    probe.queue(b"goodbye\n", server.now)
    server.close_after_output(probe, "quit")
    server.turn()
    assert probe.state is State.LINGERING, "our side is shut, the peer's EOF awaited"
    assert peer.recv(100) == b"goodbye\n" and peer.recv(100) == b""
    peer.close()
    server.turn()
    assert probe.state is State.CLOSED and "release" in probe.calls
    assert server.connection_count == 0 and not server.admission.open


def test_a_closing_connection_that_never_closes_goes_at_its_deadline(loop, time):
    server, door = loop
    probe, peer = admit(server, door)
    server.close_after_output(probe, "quit")
    server.turn()
    assert probe.state is State.LINGERING
    advance(server, time, CLOSE_GRACE_SECONDS - HOUSEKEEPING_SECONDS)
    assert probe.state is State.LINGERING, "not before its deadline"
    advance(server, time, 2 * HOUSEKEEPING_SECONDS)
    assert probe.state is State.CLOSED
    peer.close()


def test_housekeeping_asks_a_connection_that_is_due_with_the_loops_time(loop, time):
    server, door = loop
    probe, peer = admit(server, door)
    server.turn()
    time.value += HOUSEKEEPING_SECONDS
    server.turn()
    assert f"housekeeping {server.now:g}" in probe.calls
    peer.close()


def housekeeping_calls(probe: Probe) -> int:
    return sum(call.startswith("housekeeping") for call in probe.calls)


def test_a_pass_looks_only_at_the_connections_whose_timers_are_due(loop, time):
    server, door = loop
    door.wake_at = math.inf
    quiet = [admit(server, door, ("10.0.0.7", port)) for port in range(20)]
    door.wake_at = time.value + 1.6
    due, due_peer = admit(server, door)
    advance(server, time, 5.0)
    assert [housekeeping_calls(probe) for probe, _ in quiet] == [0] * 20
    first = next(call for call in due.calls if call.startswith("housekeeping"))
    assert first == "housekeeping 1002", "at the first pass after its time (a turn a second)"
    for _, peer in [*quiet, (due, due_peer)]:
        peer.close()


def test_a_connection_the_loop_served_is_looked_at_at_its_new_earlier_time(loop, time):
    server, door = loop
    door.wake_at = math.inf
    probe, peer = admit(server, door)
    advance(server, time, 2.0)
    probe.wake_at = server.now + 1.0
    server.touch(probe)
    advance(server, time, 0.5)
    assert housekeeping_calls(probe) == 0
    advance(server, time, 1.0)
    assert housekeeping_calls(probe) == 1
    peer.close()


def test_a_connection_whose_time_moved_later_is_looked_at_early_once_then_at_the_new_time(loop, time):
    server, door = loop
    door.wake_at = time.value + 1.0
    probe, peer = admit(server, door)
    probe.wake_at = time.value + 3.0  # it did something: its deadline moved later, unseen by the loop
    advance(server, time, 1.0)
    assert housekeeping_calls(probe) == 1
    advance(server, time, 1.5)
    assert housekeeping_calls(probe) == 1, "not again before its new time"
    advance(server, time, 1.0)
    assert housekeeping_calls(probe) == 2
    peer.close()


def test_drop_soon_waits_for_the_end_of_the_step(loop):
    server, door = loop
    probe, peer = admit(server, door)
    server.drop_soon(probe, "too slow")
    assert probe.state is State.OPEN
    server.turn()
    assert probe.state is State.CLOSED
    assert peer.recv(10) == b""


def test_stopping_says_goodbye_and_returns_once_everyone_has_closed(loop):
    server, door = loop
    probe, peer = admit(server, door)
    server.turn()
    server.request_stop()
    peer.shutdown(2)  # the peer has gone already: its EOF ends the lingering at once
    server.serve_forever()
    assert "goodbye" in probe.calls and probe.state is State.CLOSED


def test_stopping_resets_those_that_do_not_close_within_the_deadline(time):
    server, door = make_loop(time)
    probe, peer = admit(server, door)
    server.request_stop()

    def tick():
        time.value += HOUSEKEEPING_SECONDS  # the clock moves a little every turn
        return time.value

    server._clock._source = tick
    server.serve_forever()
    assert probe.state is State.CLOSED
    assert peer.recv(100) == b"bye\n", "the goodbye was sent before the reset"
    assert server.now >= SHUTDOWN_FLUSH_SECONDS + 1000.0 - HOUSEKEEPING_SECONDS
    peer.close()


def test_a_connection_that_fails_is_dropped_alone(loop):
    server, door = loop
    probe, peer = admit(server, door)
    other, other_peer = admit(server, door, ("10.0.0.8", 1))
    Probe.failed(probe)
    assert probe.state is State.CLOSED and other.state is State.OPEN
    peer.close()
    other_peer.close()
