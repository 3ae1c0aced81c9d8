"""The FTP door's data connections under a class's use (issue 17): a small passive range
serves transfer after transfer, idle connections time out whatever the other one does,
and a transfer's end is a shutdown, never a reset."""

from __future__ import annotations

import ftplib
import os
import socket
from pathlib import Path

import pytest

from support.ports import two_free_ports

from . import test_ftp_door
from .test_ftp_door import BIG, connect, fetch

root = test_ftp_door.root
ftp_server = test_ftp_door.ftp_server

TIMEOUT_SECONDS = 1
WAIT_SECONDS = 15
"""Longest wait for a timeout of TIMEOUT_SECONDS to show (the loop looks at timers 4 times a second)."""
UNREAD_TAIL = 256 * 1024
"""What a reader leaves unread on its data connection while the server ends a RETR."""


def open_data(client: ftplib.FTP) -> socket.socket:
    host, port = ftplib.parse227(client.sendcmd("PASV"))
    return socket.create_connection((host, port), timeout=WAIT_SECONDS)


def test_two_passive_ports_serve_transfer_after_transfer(ftp_server, root: Path):
    low = two_free_ports()
    door = ftp_server("--passive-ports", f"{low}-{low + 1}")
    client = connect(door)
    for _ in range(16):
        assert fetch(client, "one.bin") == b"1"
        lines: list[str] = []
        client.retrlines("LIST", lines.append)
        assert len(lines) == len(os.listdir(root))
    client.quit()


def test_425_only_while_every_passive_port_is_taken(ftp_server):
    low = two_free_ports()
    door = ftp_server("--passive-ports", f"{low}-{low + 1}")
    first, second, third = connect(door), connect(door, "bob"), connect(door, "carol")
    first.sendcmd("PASV")
    second.sendcmd("PASV")
    with pytest.raises(ftplib.error_temp, match="^425"):
        third.sendcmd("PASV")
    first.sendcmd("ABOR")  # gives its listener back
    assert fetch(third, "one.bin") == b"1"
    for client in (first, second, third):
        client.quit()


def test_an_idle_control_connection_times_out_though_its_data_connection_is_open(ftp_server):
    door = ftp_server(idle_timeout=TIMEOUT_SECONDS, data_timeout=60)
    client = connect(door)
    data = open_data(client)
    client.sock.settimeout(WAIT_SECONDS)
    assert client.getline().startswith("421 ")
    assert data.recv(1) == b"", "its data connection goes with it"
    data.close()
    client.close()


def test_a_data_connection_with_no_transfer_times_out(ftp_server):
    door = ftp_server(data_timeout=TIMEOUT_SECONDS)
    client = connect(door)
    data = open_data(client)
    assert data.recv(1) == b"", "closed by the server"
    data.close()
    assert fetch(client, "one.bin") == b"1", "the control connection goes on"
    client.quit()


def test_a_retr_ends_with_a_shutdown_even_when_the_client_wrote_on_the_data_connection(ftp_server, root):
    door = ftp_server()
    client = connect(door)
    client.voidcmd("TYPE I")
    data = client.transfercmd("RETR big.bin")
    data.settimeout(WAIT_SECONDS)
    # Room for the tail we leave unread, whatever the kernel's autotuning made of the window so
    # far (a reader slowed by a busy machine had too little, and the server could never finish).
    data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * UNREAD_TAIL)
    data.sendall(b"x" * 10_000)  # unread by the server: a close would reset the connection
    received = bytearray()
    while len(received) < BIG - UNREAD_TAIL:
        received += data.recv(min(64 * 1024, BIG - UNREAD_TAIL - len(received)))
    assert client.voidresp().startswith("226"), "the server has sent the whole file"
    while chunk := data.recv(64 * 1024):
        received += chunk
    data.close()
    assert bytes(received) == (root / "big.bin").read_bytes()
    client.quit()
