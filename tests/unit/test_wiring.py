"""A whole server from `build_server`, driven in this thread: a lab client on a socket
pair joins, hears its welcome, and is told goodbye when the server stops."""

from __future__ import annotations

import io
import select
import socket
from dataclasses import replace

from ftplab.cli import _show_doors
from ftplab.clock import LoopClock
from ftplab.console import PlainConsole
from ftplab.messages import Messages
from ftplab.storage import Storage
from ftplab.wiring import build_server
from support.certificates import fingerprint_of
from support.server_config import server_config_for

TURNS = 40


def read_line(server, peer: socket.socket) -> bytes:
    """Turn the loop until the peer has a whole line, and return it."""
    received = b""
    for _ in range(TURNS):
        server.turn()
        while select.select([peer], [], [], 0)[0]:
            chunk = peer.recv(4096)
            if not chunk:
                return received
            received += chunk
        if b"\n" in received:
            return received
    raise AssertionError(f"no line after {TURNS} turns: {received!r}")


def test_a_lab_client_joins_and_is_told_goodbye_when_the_server_stops(tmp_path):
    time = [1000.0]

    def tick() -> float:
        time[0] += 0.25  # a quarter second a turn: the stop deadline comes without waiting for it
        return time[0]

    server = build_server(server_config_for(tmp_path), Storage(str(tmp_path)), clock=LoopClock(tick))
    lab_door = server.doors[0]
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.settimeout(5)
    server.admission.admit(ours, ("10.0.0.1", 5000), lab_door)
    peer.sendall(b"ana> !JOIN lang=en\n")
    assert read_line(server, peer).startswith(b"profe> !HELLO ")
    server.request_stop()
    server.serve_forever()  # the peer never closes: reset at the deadline, after the goodbye
    assert b"!ERR closing" in peer.recv(4096)
    peer.close()


def test_the_ftp_door_is_wired_only_with_an_ftp_port(tmp_path):
    without = build_server(server_config_for(tmp_path), Storage(str(tmp_path)))
    assert len(without.doors) == 1
    without._close_everything()
    with_ftp = build_server(replace(server_config_for(tmp_path), ftp_port=0), Storage(str(tmp_path)))
    addresses = with_ftp.bind()
    assert set(addresses) == {"lab", "ftp"} and addresses["ftp"][1] > 0
    with_ftp._close_everything()


def test_the_certificate_is_read_once_its_fingerprint_kept_for_the_teachers_console(tmp_path, certificates):
    """The console shows the fingerprint of the certificate read at the start, not of a file
    read again (here removed after the start)."""
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    cert.write_bytes(certificates.cert.read_bytes())
    key.write_bytes(certificates.key.read_bytes())
    tls_config = replace(server_config_for(tmp_path), tls_cert=str(cert), tls_key=str(key))
    server = build_server(tls_config, Storage(str(tmp_path)))
    cert.unlink()
    screen = io.StringIO()
    _show_doors(PlainConsole(None, screen), Messages("en"), tls_config, {}, server.certificate_fingerprint)
    server._close_everything()
    assert f"fingerprint is {fingerprint_of(certificates.cert)}" in screen.getvalue()
    clear = build_server(server_config_for(tmp_path), Storage(str(tmp_path)))
    assert clear.certificate_fingerprint is None
    clear._close_everything()
