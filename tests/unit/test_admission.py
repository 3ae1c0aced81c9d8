"""Admission driven by hand: who gets in, who is evicted, who is turned away, with socket
pairs for the clients and a clock that moves only when the test says so."""

from __future__ import annotations

import errno
import selectors
import socket
import sys

import pytest
from loop_fakes import BUSY, FakeTime, make_loop, pair

from ftplab.admission import ACCEPT_PAUSE_SECONDS, Admission, Limits, Listener
from ftplab.connection import State
from ftplab.net import KEEPALIVE_IDLE_SECONDS
from ftplab.protocol import ErrorCode
from support.tcp import KERNEL_SETS_RETRANSMIT_FLOOR, has_lowered_retransmit_floor
from support.waiting import wait_until


@pytest.fixture
def time():
    return FakeTime()


@pytest.fixture
def started(time):
    made = []

    def start(**limits):
        server, door = make_loop(time, **limits)
        made.append(server)
        return server, door

    yield start
    for server in made:
        server._close_everything()


def arrive(server, door, address=("10.0.0.1", 1)):
    ours, theirs = pair()
    server.admission.admit(ours, address, door)
    return (door.made[-1] if door.made else None), theirs


def test_a_client_within_the_limits_is_admitted_and_counted(started):
    server, door = started()
    probe, _peer = arrive(server, door)
    assert probe.calls == ["admitted"] and probe in server.admission.open


def test_past_max_clients_the_oldest_silent_connection_makes_room(started):
    server, door = started(max_clients=2)
    silent, silent_peer = arrive(server, door, ("10.0.0.1", 1))
    talking, talking_peer = arrive(server, door, ("10.0.0.2", 1))
    talking_peer.sendall(b"!JOIN ana\n")  # on its way: not silent
    newcomer, _ = arrive(server, door, ("10.0.0.3", 1))
    assert silent.refusals == [(ErrorCode.BUSY, "evicted_no_name")]
    assert talking.refusals == [] and newcomer.refusals == [] and newcomer.calls == ["admitted"]
    server.turn()
    assert silent_peer.recv(100) == b"refused evicted_no_name\n"


def test_past_max_clients_with_no_one_to_evict_the_newcomer_is_refused(started):
    server, door = started(max_clients=1)
    first, first_peer = arrive(server, door)
    first.name = "ana"  # named: never evicted
    newcomer, newcomer_peer = arrive(server, door, ("10.0.0.9", 1))
    assert newcomer.refusals == [(ErrorCode.FULL, "server_full")] and first.is_open
    server.turn()
    assert newcomer_peer.recv(100) == b"refused server_full\n"
    assert newcomer not in server.admission.open, "a refused connection no longer counts"


def test_a_newcomer_past_its_address_limit_evicts_no_one_when_the_server_is_full(started):
    """lftp mirror --parallel=10 from one address retries every refused connection at once:
    each try used to evict another user's silent connection and then be refused anyway."""
    server, door = started(max_clients=2, max_per_ip=1)
    first, _ = arrive(server, door, ("10.0.0.1", 1))
    first.name = "ana"
    silent, _ = arrive(server, door, ("10.0.0.2", 1))  # bob, at the FTP door's Name: prompt
    retry, _ = arrive(server, door, ("10.0.0.1", 2))
    assert retry.refusals == [(ErrorCode.TOO_MANY, "too_many_from_address")]
    assert silent.refusals == [] and silent in server.admission.open


def test_max_per_ip_counts_one_address_and_forgets_it_when_its_clients_leave(started):
    server, door = started(max_per_ip=1)
    first, _ = arrive(server, door, ("10.0.0.1", 1))
    second, _ = arrive(server, door, ("10.0.0.1", 2))
    other, _ = arrive(server, door, ("10.0.0.2", 1))
    assert second.refusals == [(ErrorCode.TOO_MANY, "too_many_from_address")]
    assert other.refusals == []
    server.drop(first, "closed by peer")
    again, _ = arrive(server, door, ("10.0.0.1", 3))
    assert again.refusals == [], "the address's count went down when its client left"


def test_a_descriptor_select_cannot_watch_is_turned_away_as_busy(started):
    server, door = started(highest_fd=0)
    ours, theirs = pair()
    server.admission.admit(ours, ("10.0.0.1", 1), door)
    assert door.made == [] and ours.fileno() == -1
    assert theirs.recv(100) == BUSY and theirs.recv(100) == b""


class FailingSocket:
    """A listening socket whose accept fails as if the process had no descriptor left."""

    def __init__(self, real: socket.socket):
        self.real = real

    def accept(self):
        raise OSError(errno.EMFILE, "Too many open files")

    def fileno(self):
        return self.real.fileno()


def test_out_of_descriptors_the_listeners_pause_then_resume(started, time):
    server, door = started()
    listener = Listener("lab", "127.0.0.1", 0, door, server.admission)
    server.admission.add_listener(listener)
    server.bind()
    real = listener.sock
    listener.sock = FailingSocket(real)
    listener.on_ready(selectors.EVENT_READ)
    assert real not in [key.fileobj for key in server._selector.get_map().values()]
    listener.sock = real
    time.value += ACCEPT_PAUSE_SECONDS
    server.turn()
    assert real in [key.fileobj for key in server._selector.get_map().values()]


def test_leaving_counts_once_and_the_connection_may_still_close_in_steps(started):
    server, door = started()
    probe, peer = arrive(server, door)
    server.close_after_output(probe, "quit")
    assert probe not in server.admission.open and probe.state is State.CLOSING
    server.admission.leave(probe, "again")  # a second leave changes nothing
    assert not server.admission.open
    peer.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's accepted sockets inherit them")
def test_a_client_socket_has_the_listeners_options(started):
    """Set once on the listener (OPTIONS_INHERITED), they reach every accepted socket."""
    server, door = started()
    server.admission = Admission(server, Limits(10, 0, dead_peer_seconds=30), lambda: server.connection_count)
    listener = Listener("lab", "127.0.0.1", 0, door, server.admission)
    server.admission.add_listener(listener)
    server.bind()
    with socket.create_connection(listener.sock.getsockname()[:2], timeout=5):
        accept = listener.on_ready
        wait_until(lambda: accept(selectors.EVENT_READ) or door.made, message="the connection accepted")
        accepted = door.made[-1].sock
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE_SECONDS
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 30_000
        assert has_lowered_retransmit_floor(accepted) or not KERNEL_SETS_RETRANSMIT_FLOOR
