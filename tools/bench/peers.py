"""The clients of the transfer rows, each run as a process of its own so that its CPU is its own
(the bench reads it with getrusage(RUSAGE_CHILDREN)). Each prints one JSON line: the seconds of
the transfer itself and the core-seconds the process used in them (getrusage(RUSAGE_SELF), every
thread: not the interpreter's start), both measured inside, and the bytes it got.

    python -m bench.peers limit HOST PORT SINK             # recv_into → os.write (SINK "-": discard)
    python -m bench.peers retr HOST PORT USER FILE SINK [CA]  # ftplib: login, TYPE I, RETR into SINK
    python -m bench.peers get HOST PORT NAME FILE DIR [CA]    # ftplab's real client: `get FILE` into DIR

With CA (a PEM file), over TLS verified against it: `retr` as explicit FTPS (AUTH TLS, PBSZ 0,
PROT P), `get` as the client's `--ca CA`.
"""

from __future__ import annotations

import ftplib
import json
import os
import resource
import socket
import ssl
import sys
import time

RECV_BYTES = 1024 * 1024


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def receive_all(sock: socket.socket, sink_fd: int | None) -> int:
    """Read a connection to its end into one preallocated buffer; write it to `sink_fd` if given."""
    buffer = bytearray(RECV_BYTES)
    view = memoryview(buffer)
    total = 0
    while count := sock.recv_into(buffer):
        total += count
        if sink_fd is not None:
            written = 0
            while written < count:
                written += os.write(sink_fd, view[written:count])
    return total


def open_sink(path: str) -> int | None:
    return None if path == "-" else os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def limit(host: str, port: str, sink: str) -> dict:
    sink_fd = open_sink(sink)
    began, used = time.perf_counter(), cpu()
    with socket.create_connection((host, int(port))) as sock:
        received = receive_all(sock, sink_fd)
    seconds, used = time.perf_counter() - began, cpu() - used
    if sink_fd is not None:
        os.close(sink_fd)
    return {"seconds": seconds, "cpu": used, "bytes": received}


class ReusingFtpTls(ftplib.FTP_TLS):
    """ftplib's FTP_TLS, resuming the control connection's TLS session on each data connection,
    as curl and lftp do: ftplab's FTP door and vsftpd (require_ssl_reuse=YES, its default) refuse
    a PROT P data connection that does not."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


def ftp_client(ca: str) -> ftplib.FTP:
    if not ca:
        return ftplib.FTP(timeout=120)
    return ReusingFtpTls(context=ssl.create_default_context(cafile=ca), timeout=120)


def retr(host: str, port: str, user: str, name: str, sink: str, ca: str = "") -> dict:
    """From RETR to the 226 reply: the fastest reading loop ftplib allows (transfercmd, recv_into).
    Over TLS the data connection is closed as ftplib's retrbinary does, with TLS's close_notify."""
    with ftp_client(ca) as ftp:
        ftp.connect(host, int(port))
        ftp.login(user, "bench@")
        if ca:
            ftp.prot_p()
        ftp.voidcmd("TYPE I")
        sink_fd = open_sink(sink)
        began, used = time.perf_counter(), cpu()
        with ftp.transfercmd(f"RETR {name}") as data:
            received = receive_all(data, sink_fd)
            protocol = negotiated(data)
            if isinstance(data, ssl.SSLSocket):
                data.unwrap()
        ftp.voidresp()
        seconds, used = time.perf_counter() - began, cpu() - used
        if sink_fd is not None:
            os.close(sink_fd)
    return {"seconds": seconds, "cpu": used, "bytes": received, "tls": protocol}


def negotiated(sock: socket.socket) -> str:
    """The TLS version and cipher of a connection ("" in clear)."""
    if not isinstance(sock, ssl.SSLSocket):
        return ""
    return f"{sock.version()} {sock.cipher()[0]}"


def get(host: str, port: str, name: str, file_name: str, directory: str, ca: str = "") -> dict:
    """ftplab's real client session and loop, fed `get FILE` then end of input; the time is from its
    FileStarted action to its FileSaved one (the file verified and under its final name), and so
    is `loop_cpu`: the core-seconds of the loop's own thread alone (actions are shown there), the
    rest of `cpu` being its helper threads' SHA-256 and writes. With `ca`, the connection is
    secured as `--ca CA` secures it (the client's own Trust)."""
    from ftplab.client.actions import FileSaved, FileStarted
    from ftplab.client.app import ClientApp
    from ftplab.client.session import ClientSession, ClientSettings
    from ftplab.client.trust import Trust
    from ftplab.console import PlainConsole
    from ftplab.messages import Messages

    marks = {}

    def observe(action) -> None:
        if isinstance(action, (FileStarted, FileSaved)):
            marks[type(action).__name__] = (time.perf_counter(), cpu(), action.size, time.thread_time())

    session = ClientSession(name, ClientSettings(download_dir=directory, lang="en"))
    sock = socket.create_connection((host, int(port)), timeout=30)
    if ca:
        trust = Trust(host, int(port), Messages("en"), ca_file=ca)
        sock = trust.secure(sock, lambda: socket.create_connection((host, int(port)), timeout=30))
    protocol = negotiated(sock)
    read_end, write_end = os.pipe()
    os.write(write_end, f"get {file_name}\n".encode())
    os.close(write_end)
    with open(read_end) as typed, open(os.devnull, "w") as shown:
        status = ClientApp(sock, session, PlainConsole(typed, shown), observe).run()
    started, saved = marks.get("FileStarted"), marks.get("FileSaved")
    if status != 0 or not started or not saved:
        return {"error": f"status {status}, actions {sorted(marks)}"}
    return {
        "seconds": saved[0] - started[0],
        "cpu": saved[1] - started[1],
        "loop_cpu": saved[3] - started[3],
        "bytes": saved[2],
        "tls": protocol,
    }


PEERS = {"limit": limit, "retr": retr, "get": get}

if __name__ == "__main__":
    kind, *arguments = sys.argv[1:]
    print(json.dumps(PEERS[kind](*arguments)), flush=True)
