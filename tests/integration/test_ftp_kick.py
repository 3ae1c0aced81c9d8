"""The teacher's `/kick` on an FTP user (issue 17, item 5): a person is every connection it
opened, so all its logins get a 421 saying why and close, its data connections with them,
and the room hears of it once. A real server, real ftplib connections, the real console."""

from __future__ import annotations

import ftplib
import socket
from pathlib import Path

import pytest

from .harness import HOST

CLIENT_TIMEOUT = 20


@pytest.fixture
def door(start_server, tmp_path: Path):
    root = tmp_path / "files"
    root.mkdir()
    (root / "notas.txt").write_bytes(b"apuntes\n")
    server = start_server(root=root, extra_args=["--ftp-port", "0"])
    server.ftp = server.ftp_port()
    return server


def login(server, name: str) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(HOST, server.ftp, timeout=CLIENT_TIMEOUT)
    client.login(name, "x")
    return client


def open_passive_data(client: ftplib.FTP) -> socket.socket:
    """A passive data connection made and left waiting for a transfer."""
    host, port = ftplib.parse227(client.sendcmd("PASV"))
    return socket.create_connection((HOST, port), timeout=CLIENT_TIMEOUT)


def test_kick_closes_every_ftp_connection_of_the_person_with_a_421_and_its_data_too(door, start_client):
    lab = start_client(door, "lab")
    first, second = login(door, "ana"), login(door, "ana")
    data = open_passive_data(second)
    lab.expect("profe> ana se ha unido")
    lab.send("who")
    lab.expect("profe> Conectados (2): ana (ftp ×2), lab")
    mark = len(door.stdout)

    door.console("/kick ana deja de descargar")

    for client in (first, second):
        with pytest.raises(ftplib.error_temp, match=r"^421 .*profe te ha desconectado: deja de descargar"):
            client.getresp()  # said unasked, as the connection closes
        assert client.file.readline() == "", "the control connection is closed after the 421"
        client.close()
    assert data.recv(1) == b"", "the data connection went with its control connection"
    data.close()
    door.wait_for_output("ana desconectado", start=mark)
    lab.expect("profe> ana se ha ido")
    lab.send("who")
    lab.expect("profe> Conectados (1): lab; servidor: profe")
    door.sync()
    said = door.stdout.lines[mark:]
    assert sum("ana se ha ido" in line for line in said) == 1, said
    assert not any("conectado por FTP" in line for line in said), said
    again = login(door, "ana")  # a kick is not a ban
    again.quit()
    assert lab.quit() == 0
