"""A lab session's timers in a whole server (`build_server`) on a clock the test moves: the join
and idle timeouts come at the first housekeeping pass after their deadline, a line moves the
idle deadline later, and a pass looks at no session whose deadline is still far."""

from __future__ import annotations

import socket

import pytest

from ftplab.clock import HOUSEKEEPING_SECONDS
from ftplab.connection import State
from support.clock import advance, received, server_on
from support.server_config import server_config_for

JOIN_TIMEOUT = 30.0
IDLE_TIMEOUT = 60.0
DATA_TIMEOUT = 45.0


@pytest.fixture
def server(tmp_path, clock):
    config = server_config_for(
        tmp_path, idle_timeout=IDLE_TIMEOUT, join_timeout=JOIN_TIMEOUT, data_timeout=DATA_TIMEOUT
    )
    with server_on(clock, config, tmp_path) as server:
        yield server


def connect(server, port: int = 5000, buffer: int | None = None):
    """A lab session on a socket pair: (the server's connection, the peer's socket); `buffer`:
    the bytes the pair holds unread, about."""
    ours, peer = socket.socketpair()
    if buffer is not None:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    ours.setblocking(False)
    peer.settimeout(5)
    lab_door = server.doors[0]
    server.admission.admit(ours, ("10.0.0.1", port), lab_door)
    server.turn()
    return next(c for c in server.admission.open if c.sock is ours), peer


def test_a_connection_that_never_names_itself_is_refused_at_the_first_pass_after_the_join_timeout(
    server, clock
):
    session, peer = connect(server)
    advance(server, clock, JOIN_TIMEOUT)
    assert session.is_open and b"!ERR" not in received(server, peer), "not before its deadline"
    advance(server, clock, HOUSEKEEPING_SECONDS)
    assert b"!ERR idle" in received(server, peer)
    assert session.state is not State.OPEN
    peer.close()


def test_a_line_moves_the_idle_deadline_later_and_the_member_is_refused_only_after_the_new_one(server, clock):
    session, peer = connect(server)
    peer.sendall(b"ana> !JOIN lang=en\n")
    server.turn()
    assert b"!HELLO" in received(server, peer)
    joined_at = server.now
    advance(server, clock, 40.0)
    peer.sendall(b"ana> still here\n")
    server.turn()
    spoke_at = server.now
    advance(server, clock, joined_at + IDLE_TIMEOUT + 1.0 - server.now)
    assert session.is_open and b"!ERR" not in received(server, peer), "its first deadline has no say any more"
    advance(server, clock, spoke_at + IDLE_TIMEOUT - server.now)
    assert session.is_open, "not before its new deadline"
    advance(server, clock, HOUSEKEEPING_SECONDS)
    assert b"!ERR idle" in received(server, peer)
    peer.close()


def test_a_pass_looks_at_no_session_whose_deadlines_are_far(server, clock, monkeypatch):
    lab_door = server.doors[0]
    looked_at = []
    check_timers = lab_door.check_timers
    monkeypatch.setattr(
        lab_door, "check_timers", lambda session, now: (looked_at.append(session), check_timers(session, now))
    )
    pairs = [connect(server, port) for port in range(5000, 5050)]
    for index, (_, peer) in enumerate(pairs):
        peer.sendall(f"u{index}> !JOIN lang=en\n".encode())
    server.turn()
    advance(server, clock, 10.0)
    assert looked_at == [], "40 passes, 50 idle members, none near a deadline"
    for _, peer in pairs:
        peer.close()


def test_a_member_that_takes_no_output_is_dropped_at_the_first_pass_after_the_data_timeout(server, clock):
    session, peer = connect(server, buffer=4096)
    peer.sendall(b"ana> !JOIN lang=en\n")
    server.turn()
    room = server.doors[0].room
    while not session.outbox:  # the peer reads nothing: the socket fills, then the outbox
        room.broadcast("profe", "x" * 400)
    server.turn()
    stalled_since = session.last_progress
    advance(server, clock, stalled_since + DATA_TIMEOUT - server.now)
    assert session.is_open, "not before its deadline"
    advance(server, clock, HOUSEKEEPING_SECONDS)
    assert session.state is State.CLOSED
    peer.close()
