"""connection: output, progress, and the closing steps OPEN → CLOSING → LINGERING → CLOSED,
over a real socket pair."""

from __future__ import annotations

import selectors
import socket

import pytest

from ftplab.connection import (
    CLOSE_GRACE_SECONDS,
    HIGH_WATER_BYTES,
    MAX_QUEUED_BYTES,
    Connection,
    State,
)


@pytest.fixture
def pair():
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    yield ours, peer
    ours.close()
    peer.close()


def test_output_is_queued_until_flushed_and_counts_as_progress(pair):
    ours, peer = pair
    connection = Connection(ours, ("127.0.0.1", 1), now=0.0)
    assert connection.queue(b"hola\n", now=1.0)
    assert connection.wanted_interest() == selectors.EVENT_READ | selectors.EVENT_WRITE
    assert connection.stalled_for(5.0) == 4.0
    assert connection.flush(now=6.0) == 5
    assert peer.recv(100) == b"hola\n"
    assert connection.stalled_for(10.0) == 0.0, "nothing waiting: never stalled"
    assert connection.wanted_interest() == selectors.EVENT_READ


def test_the_hard_cap_refuses_without_queueing(pair):
    connection = Connection(pair[0], ("127.0.0.1", 1), now=0.0)
    assert connection.queue(b"x" * MAX_QUEUED_BYTES, 0.0)
    assert not connection.queue(b"y", 0.0)
    assert connection.outbox.buffered_bytes == MAX_QUEUED_BYTES


def test_high_and_low_water(pair):
    connection = Connection(pair[0], ("127.0.0.1", 1), now=0.0)
    connection.queue(b"x" * (HIGH_WATER_BYTES + 1), 0.0)
    assert connection.above_high_water and not connection.below_low_water


def test_progress_within_the_window_keeps_a_reader_progressing(pair):
    connection = Connection(pair[0], ("127.0.0.1", 1), now=0.0)
    connection.queue(b"x", 0.0)
    assert connection.is_progressing(4.0, window=5.0)
    assert not connection.is_progressing(6.0, window=5.0)


def test_closing_steps_deliver_the_last_message_then_wait_for_the_peers_eof(pair):
    ours, peer = pair
    connection = Connection(ours, ("127.0.0.1", 1), now=0.0)
    connection.queue(b"adios\n", 0.0)
    connection.begin_closing(now=10.0)
    assert connection.state is State.CLOSING and connection.deadline == 10.0 + CLOSE_GRACE_SECONDS
    assert connection.wanted_interest() & selectors.EVENT_READ, "a closing connection still sees EOF"
    connection.flush(10.0)
    assert connection.start_lingering(now=11.0)
    assert connection.state is State.LINGERING and connection.deadline == 11.0 + CLOSE_GRACE_SECONDS
    assert peer.recv(100) == b"adios\n"
    assert peer.recv(100) == b"", "our side is shut: the peer sees EOF after the last message"
    peer.sendall(b"late words\n")
    assert not connection.discard_input(), "input is thrown away while the peer is still there"
    peer.close()
    assert connection.discard_input(), "the peer's EOF ends the lingering"
    connection.close()
    assert connection.state is State.CLOSED


def test_reset_on_close_makes_the_peer_see_a_reset():
    tcp_listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(tcp_listener.getsockname())
    server_side, _ = tcp_listener.accept()
    try:
        connection = Connection(server_side, ("127.0.0.1", 1), now=0.0)
        connection.queue(b"x" * 1000, 0.0)
        connection.reset_on_close()
        connection.close()
        with pytest.raises(ConnectionResetError):
            client.recv(100)
    finally:
        client.close()
        tcp_listener.close()
