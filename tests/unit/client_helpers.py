"""Drive a ClientSession with no socket, as h11's tests/helpers.py drives a connection:
feed it the server's events (encoded, as they travel), type lines at it, and read what it
asked for: the lines it sent (decoded), what it showed, its progress line."""

from __future__ import annotations

import hashlib

from ftplab import protocol
from ftplab.client.actions import ClearScreen, Show, Status
from ftplab.client.session import ClientSession, ClientSettings
from support.clock import MovedClock

SERVER = "profe"


class Harness:
    """A session, the clock it reads, and what it did since last asked."""

    def __init__(self, tmp_path, *, name: str = "ana", interactive: bool = False, **settings):
        self.clock = MovedClock()
        self.download_dir = tmp_path
        config = ClientSettings(download_dir=str(tmp_path), lang="es", interactive=interactive, **settings)
        self.session = ClientSession(name, config, clock=self.clock)
        self._receiver = protocol.Receiver(from_server=False)

    def server(self, *events) -> None:
        """The server sends these events (each encoded as it travels)."""
        self.session.received(b"".join(protocol.encode(event) for event in events))

    def welcome(self, version: int | None = protocol.VERSION) -> None:
        events = [protocol.Hello(SERVER, "Hola")]
        if version is not None:
            events.append(protocol.Version(SERVER, version))
        self.server(*events)
        self.sent()
        self.shown()

    def type(self, *lines: str) -> None:
        for line in lines:
            self.session.typed(line)

    def sent(self) -> list[str]:
        """The lines the session queued for the server since last asked (the socket took them all)."""
        data = bytes(self.session.outbox.data)
        self.session.output_sent(len(data))
        self._receiver.feed(data)
        lines = []
        while (event := self._receiver.next_event()) is not None:
            lines.append(event.text if isinstance(event, protocol.Line) else event)
        return lines

    def actions(self) -> list:
        return self.session.screen.take()

    def shown(self) -> list[str]:
        """The lines shown since last asked (progress lines dropped)."""
        return [action.text for action in self.actions() if isinstance(action, Show)]


def file_events(name: str, content: bytes, frame: int = 1 << 20) -> list:
    """A whole download as the server sends it: `!FILE`, then `!DATA` frames."""
    events = [protocol.FileStart(SERVER, len(content), hashlib.sha256(content).hexdigest(), name)]
    events += [protocol.FileData(SERVER, content[i : i + frame]) for i in range(0, len(content), frame)]
    return events


__all__ = ["SERVER", "ClearScreen", "Harness", "Show", "Status", "file_events"]
