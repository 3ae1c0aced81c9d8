"""The FTP door's reply codes next to pyftpdlib's, a mature server, for the same
command lines on the control connection (a read-only user on the same files).

Where the two differ on purpose, DELIBERATE says why."""

from __future__ import annotations

import logging
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .harness import HOST

with warnings.catch_warnings():  # pyftpdlib still imports asyncore and asynchat
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

TIMEOUT = 10

SCRIPT = [
    "PWD",
    "USER alice",
    "PASS x",
    "SYST",
    "NOOP",
    "PWD",
    "CWD sub",
    "PWD",
    "CDUP",
    "CWD nothing",
    "CWD ../..",
    "TYPE I",
    "TYPE X",
    "MODE S",
    "MODE B",
    "STRU F",
    "STRU R",
    "SIZE a.txt",
    "SIZE nothing",
    "MDTM a.txt",
    "MDTM nothing",
    "MLST a.txt",
    "MLST nothing",
    "REST 2",
    "REST x",
    "OPTS UTF8 ON",
    "FEAT",
    "HELP",
    "HELP RETR",
    "STAT",
    "PORT 127,0,0,2,200,10",
    "PORT 127,0,0,1,0,21",
    "PORT 1,2,3",
    "EPRT |1|127.0.0.2|5000|",
    "EPRT |1|127.0.0.1|80|",
    "RETR nothing",
    "MKD newdir",
    "DELE a.txt",
    "STOR x.txt",
    "XYZZY",
    "QUIT",
]

DELIBERATE = {
    "CDUP": (200, 250, "RFC 959 5.4 gives 200 for CDUP"),
    "XYZZY": (502, 500, "the issue asks 502 for commands not implemented"),
    "RETR nothing": (425, 550, "without a data connection ftplab says 425 first"),
}


def read_reply(stream) -> str:
    """One whole reply, multi-line included."""
    first = stream.readline().decode()
    assert first, "the server closed the connection"
    if first[3:4] == "-":
        while True:
            line = stream.readline().decode()
            assert line, "the server closed the connection"
            if line[:4] == first[:3] + " ":
                break
    return first[:3]


def codes_for(port: int) -> dict[str, int]:
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as control:
        stream = control.makefile("rb")
        read_reply(stream)
        codes = {}
        for line in SCRIPT:
            control.sendall(line.encode() + b"\r\n")
            codes[line] = int(read_reply(stream))
        return codes


@contextmanager
def reference_server(root: Path) -> Iterator[int]:
    logging.getLogger("pyftpdlib").setLevel(logging.CRITICAL)
    authorizer = DummyAuthorizer()
    authorizer.add_user("alice", "x", str(root), perm="elr")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
    server = FTPServer((HOST, 0), handler)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        server.close_all()

    thread = threading.Thread(target=serve, name="pyftpdlib", daemon=True)
    thread.start()
    try:
        yield server.address[1]
    finally:
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "pyftpdlib did not stop"


def test_reply_codes_match_pyftpdlib(tmp_path, start_server):
    root = tmp_path / "files"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"hello")
    with reference_server(root) as port:
        reference = codes_for(port)
    server = start_server(root=root, extra_args=["--ftp-port", "0"])
    ours = codes_for(server.ftp_port())
    differences = {line: (ours[line], reference[line]) for line in SCRIPT if ours[line] != reference[line]}
    assert differences == {line: (mine, theirs) for line, (mine, theirs, _why) in DELIBERATE.items()}
