"""A small blocking FTP server around ftp.FtpSession, for checking the session
against real clients (ftplib, curl, wget) before the real loop serves it.

One thread, one client at a time, blocking sockets with timeouts, loopback
only. It carries out the session's actions the way docs/protocol.md asks the
loop to (passive listeners that accept only the control peer, active connects,
sendfile, uploads read to EOF); the server's own loop does the same without
blocking. `stop()` ends it and joins the thread.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ftplab import ftp
from ftplab.messages import Messages
from ftplab.storage import FileProblem, Storage, Tree

HOST = "127.0.0.1"
TIMEOUT = 10.0
CHUNK = 64 * 1024


class FtpAdapter:
    """Serves `root` on 127.0.0.1 through FtpSession; `port` is the control port."""

    def __init__(self, root: Path, **settings):
        self._tree = Tree(Storage(str(root)))
        self._settings = ftp.FtpSettings(min_free_bytes=0, **settings)
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._anonymous = iter(range(1, 10_000))
        self.errors: list[BaseException] = []
        self.uploads: list[ftp.UploadFinished] = []
        self._thread = threading.Thread(target=self._serve, name="ftp-adapter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(TIMEOUT)
        self._listener.close()
        assert not self._thread.is_alive(), "the adapter thread did not stop"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                control, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                with control:
                    _Connection(self, control, peer).run()
            except Exception as error:  # the test reports it
                self.errors.append(error)

    def new_session(self, control: socket.socket, peer) -> ftp.FtpSession:
        return ftp.FtpSession(
            tree=self._tree,
            settings=self._settings,
            messages=Messages("en"),
            peer=peer,
            local=control.getsockname(),
            anonymous_number=lambda: next(self._anonymous),
        )


class _Connection:
    """One control connection and its data connections."""

    def __init__(self, adapter: FtpAdapter, control: socket.socket, peer):
        self.adapter = adapter
        self.control = control
        self.control.settimeout(0.2)
        self.session = adapter.new_session(control, peer)
        self.peer_host = peer[0]
        self.listener: socket.socket | None = None
        self.active: tuple[str, int] | None = None
        self.open = True

    def run(self) -> None:
        self._act()
        while self.open and not self.adapter._stopping.is_set():
            try:
                data = self.control.recv(CHUNK)
            except TimeoutError:
                continue
            if not data:
                self.session.connection_lost()
                break
            self.session.receive_data(data)
            self._act()
        self._close_data()

    def _act(self) -> None:
        while self.open and (action := self.session.next_action()) is not None:
            getattr(self, f"_do_{type(action).__name__}")(action)

    def _do_SendReply(self, action):
        self.control.sendall(action.data)

    def _do_Join(self, _action):
        self.session.handle(ftp.Joined())

    def _do_OpenPassive(self, _action):
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(TIMEOUT)
        self.session.handle(ftp.PassiveOpened(self.listener.getsockname()[1]))

    def _do_ConnectActive(self, action):
        self.active = (action.host, action.port)

    def _do_CloseData(self, _action):
        self._close_data()

    def _do_Close(self, _action):
        self.open = False

    def _do_UploadFinished(self, action):
        self.adapter.uploads.append(action)

    def _do_SendFile(self, action):
        self._transfer(lambda data: _send_file(data, action.file, action.offset))

    def _do_SendListing(self, action):
        self._transfer(lambda data: data.sendall(action.data))

    def _do_ReceiveUpload(self, action):
        self._transfer(lambda data: _receive(data, action.upload))

    def _transfer(self, work) -> None:
        try:
            data = self._data_connection()
        except OSError:
            self.session.handle(ftp.DataConnectFailed())
            return
        with data:
            try:
                work(data)
            except FileProblem as problem:
                self.session.handle(ftp.TransferFailed(problem))
                return
            except OSError:
                self.session.handle(ftp.TransferBroken())
                return
        self.session.handle(ftp.TransferDone())

    def _data_connection(self) -> socket.socket:
        if self.active is not None:
            target, self.active = self.active, None
            return socket.create_connection(target, timeout=TIMEOUT)
        listener, self.listener = self.listener, None
        with listener:
            while True:
                data, address = listener.accept()
                if address[0] == self.peer_host:
                    data.settimeout(TIMEOUT)
                    return data
                data.close()  # another address: no port stealing

    def _close_data(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        self.active = None


def _send_file(data: socket.socket, file, offset: int) -> None:
    while offset < file.size:
        sent = os.sendfile(data.fileno(), file.fd, offset, min(CHUNK, file.size - offset))
        if sent == 0:
            raise FileProblem(file.name)
        offset += sent


def _receive(data: socket.socket, upload) -> None:
    while chunk := data.recv(CHUNK):
        upload.write(chunk)


@contextmanager
def ftp_adapter(root: Path, **settings) -> Iterator[FtpAdapter]:
    adapter = FtpAdapter(root, **settings)
    try:
        yield adapter
    finally:
        adapter.stop()
    assert not adapter.errors, adapter.errors
