"""The FTP door's timers in a whole server (`build_server`) on a clock the test moves: the join
and idle timeouts, a stalled upload and a passive connection never made come at the first
housekeeping pass after their deadline and not before; a command moves the idle deadline
later, a transfer keeps its control connection from being idle, and a pass looks at no
FTP connection whose deadline is still far. Real sockets on loopback, accepted by the door's own listener."""

from __future__ import annotations

import ftplib
import socket

import pytest

from ftplab.clock import HOUSEKEEPING_SECONDS
from ftplab.connection import State
from ftplab.ftpdoor import DATA_CONNECT_SECONDS, FtpControl, FtpData, FtpDoor
from support.clock import advance, received, server_on
from support.server_config import server_config_for

JOIN_TIMEOUT = 30.0
IDLE_TIMEOUT = 60.0
DATA_TIMEOUT = 45.0


@pytest.fixture
def server(tmp_path, clock):
    config = server_config_for(
        tmp_path,
        idle_timeout=IDLE_TIMEOUT,
        join_timeout=JOIN_TIMEOUT,
        data_timeout=DATA_TIMEOUT,
        ftp_port=0,
        allow_upload=True,
        max_clients=100,
    )
    with server_on(clock, config, tmp_path) as server:
        yield server


@pytest.fixture
def port(server) -> int:
    """The FTP door's own port: its listener's socket options are those of every control."""
    return server.bind()["ftp"][1]


def ftp_door(server) -> FtpDoor:
    return next(door for door in server.doors if isinstance(door, FtpDoor))


def connect(server, port: int) -> tuple[FtpControl, socket.socket]:
    """An FTP control connection, greeted: (the server's connection, the peer's socket)."""
    peer = socket.create_connection(("127.0.0.1", port), timeout=5)
    ours = peer.getsockname()
    for _ in range(1000):
        server.turn()
        control = next((c for c in server.admission.open if c.address[:2] == ours), None)
        if control is not None:
            break
    assert received(server, peer).startswith(b"220")
    return control, peer


def command(server, peer: socket.socket, line: str) -> bytes:
    """Send a command line and let the loop answer it: the replies the peer got."""
    peer.sendall(line.encode() + b"\r\n")
    server.turn()
    return received(server, peer)


def logged_in(server, port: int, name: str = "ana") -> tuple[FtpControl, socket.socket]:
    control, peer = connect(server, port)
    command(server, peer, f"USER {name}")
    assert b"230" in command(server, peer, "PASS x")
    return control, peer


def open_passive(server, peer: socket.socket) -> socket.socket:
    """PASV, and the peer's data connection to the port it names, accepted by the loop."""
    host, port = ftplib.parse227(command(server, peer, "PASV").decode().strip())
    data = socket.create_connection((host, port), timeout=5)
    server.turn()
    return data


def uploading(server, port: int, name: str) -> tuple[FtpControl, socket.socket, socket.socket]:
    """ana logged in, a passive data connection made and `STOR name` answered 150: the control
    connection, its peer's socket and the data connection's peer socket."""
    control, peer = logged_in(server, port)
    data_peer = open_passive(server, peer)
    assert b"150" in command(server, peer, f"STOR {name}")
    return control, peer, data_peer


def test_a_control_connection_that_never_logs_in_is_refused_at_the_first_pass_after_the_join_timeout(
    server, clock, port
):
    control, peer = connect(server, port)
    advance(server, clock, JOIN_TIMEOUT)
    assert control.is_open and received(server, peer) == b"", "not before its deadline"
    advance(server, clock, HOUSEKEEPING_SECONDS)
    assert received(server, peer).startswith(b"421")
    assert control.state is not State.OPEN
    peer.close()


def test_a_command_moves_the_idle_deadline_later_and_the_visitor_is_refused_only_after_the_new_one(
    server, clock, port
):
    control, peer = logged_in(server, port)
    logged_in_at = server.now
    advance(server, clock, 40.0)
    assert b"200" in command(server, peer, "NOOP")
    spoke_at = server.now
    advance(server, clock, logged_in_at + IDLE_TIMEOUT + 1.0 - server.now)
    assert control.is_open and received(server, peer) == b"", "its first deadline has no say any more"
    advance(server, clock, spoke_at + IDLE_TIMEOUT - server.now)
    assert control.is_open, "not before its new deadline"
    advance(server, clock, HOUSEKEEPING_SECONDS)
    assert received(server, peer).startswith(b"421")
    peer.close()


def test_a_stalled_upload_is_broken_at_the_first_pass_after_the_data_timeout(server, clock, port):
    control, peer, data_peer = uploading(server, port, "stalled.txt")
    data = control.data
    data_peer.sendall(b"the first bytes, then nothing")
    server.turn()
    stalled_since = data.last_progress
    advance(server, clock, stalled_since + DATA_TIMEOUT - server.now)
    assert data.is_open and received(server, peer) == b"", "not before its deadline"
    advance(server, clock, HOUSEKEEPING_SECONDS)
    assert received(server, peer).startswith(b"426")
    assert data.state is State.CLOSED
    assert control.is_open, "only the transfer ends"
    data_peer.close()
    peer.close()


def test_an_upload_is_kept_when_quit_and_hang_up_are_read_after_its_end(server, port, tmp_path):
    """The upload's EOF is read first; then a QUIT line and the control's EOF come in one read.
    The settle must not take that hang-up for a killed client's before the QUIT has run
    (RFC 959: the client meant to end here). The clock stands still: the client's words decide."""
    control, peer, data_peer = uploading(server, port, "quick.bin")
    data = control.data
    data_peer.sendall(b"all of it")
    data_peer.close()
    for _ in range(10):
        if data.interest_paused:
            break
        server.turn()
    assert data.interest_paused, "the loop read the upload to its end (and stopped reading there)"
    peer.sendall(b"QUIT\r\n")
    peer.close()
    for _ in range(10):
        server.turn()
    assert control.state is State.CLOSED
    assert (tmp_path / "quick.bin").read_bytes() == b"all of it"


def test_a_passive_connection_never_made_ends_the_transfer_at_the_first_pass_after_its_deadline(
    server, clock, port, tmp_path
):
    (tmp_path / "notes.txt").write_text("never sent")
    control, peer = logged_in(server, port)
    command(server, peer, "PASV")
    opened_at = server.now
    assert b"150" in command(server, peer, "RETR notes.txt")
    advance(server, clock, opened_at + DATA_CONNECT_SECONDS - HOUSEKEEPING_SECONDS - server.now)
    assert control.passive is not None and received(server, peer) == b"", "not before its deadline"
    advance(server, clock, HOUSEKEEPING_SECONDS)
    assert control.passive is None
    assert received(server, peer).startswith(b"425")
    peer.close()


def test_a_control_connection_is_not_idle_while_its_upload_moves(server, clock, port):
    control, peer, data_peer = uploading(server, port, "slow.txt")
    for _ in range(round(2 * IDLE_TIMEOUT / 10)):  # twice the idle timeout, a line every 10 s
        advance(server, clock, 10.0)
        data_peer.sendall(b"a line\n")
        server.turn()
    assert control.is_open and received(server, peer) == b"", "its upload moved all along"
    data_peer.close()
    peer.close()


def test_a_transfer_that_outlasts_the_idle_timeout_counts_as_activity_when_it_ends(server, clock, port):
    """An upload that kept the control busy for twice the idle timeout ends (here with no reply
    queued, the quietest way): the visitor is refused only an idle timeout after its last move."""
    control, peer, data_peer = uploading(server, port, "slow.txt")
    for _ in range(round(2 * IDLE_TIMEOUT / 10)):
        advance(server, clock, 10.0)
        data_peer.sendall(b"a line\n")
        server.turn()
    ftp_door(server)._close_data(control)
    advance(server, clock, IDLE_TIMEOUT - 10.0)
    assert control.is_open and received(server, peer) == b""
    advance(server, clock, 10.0 + HOUSEKEEPING_SECONDS)
    assert received(server, peer).startswith(b"421")
    data_peer.close()
    peer.close()


def test_a_pass_looks_at_no_ftp_connection_whose_deadlines_are_far(server, clock, port, monkeypatch):
    looked_at = []
    for kind in (FtpControl, FtpData):
        check_timers = kind.housekeeping
        monkeypatch.setattr(
            kind,
            "housekeeping",
            lambda self, now, check_timers=check_timers: (looked_at.append(self), check_timers(self, now)),
        )
    visitors = [logged_in(server, port, f"u{index}") for index in range(40)]
    data_peers = [open_passive(server, peer) for _, peer in visitors[:5]]  # open, no transfer yet
    advance(server, clock, 10.0)
    assert looked_at == [], "40 passes, 40 idle visitors and 5 data connections, none near a deadline"
    for peer in data_peers + [peer for _, peer in visitors]:
        peer.close()
