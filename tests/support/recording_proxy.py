"""A loopback TCP proxy that records every byte it relays, both ways: a capture
without tshark's privileges. One connection, bounded in bytes and time."""

from __future__ import annotations

import selectors
import socket
import threading
import time

MAX_RECORDED_BYTES = 64 * 1024 * 1024
LIFETIME_SECONDS = 60.0


class RecordingProxy:
    """Listens on 127.0.0.1:`port`; relays one connection to `target` and keeps what crossed."""

    def __init__(self, target: tuple[str, int]):
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.recorded = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recording proxy", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _run(self) -> None:
        self._listener.settimeout(LIFETIME_SECONDS)
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        with client, socket.create_connection(self._target) as server:
            self._relay(client, server)

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        deadline = time.monotonic() + LIFETIME_SECONDS
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set() and time.monotonic() < deadline:
                for key, _ in selector.select(0.1):
                    try:
                        data = key.fileobj.recv(65536)
                    except ConnectionResetError:  # a side reset its connection: the relay ends too
                        return
                    if not data or len(self.recorded) > MAX_RECORDED_BYTES:
                        return
                    self.recorded += data
                    peers[key.fileobj].sendall(data)
