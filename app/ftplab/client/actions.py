"""What the client session asks of the world, as values: the app carries them out.

The session never touches the terminal or the socket. What its user should
read becomes a `Show` (a line) or a `Status` (the one progress line, "" to
clear it), `ClearScreen` for `clear`; milestones a program may watch come as
fields too (`FileStarted`, `FileSaved`); the bytes for the server wait in an
`Outbox` the app empties into the socket as it can. Tests read both."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .. import protocol


@dataclass(frozen=True)
class Show:
    """A line for the user (already made visible: nothing from a peer moves the cursor)."""

    text: str


@dataclass(frozen=True)
class Status:
    """The progress line under the prompt ("" clears it)."""

    text: str


@dataclass(frozen=True)
class ClearScreen:
    """The user typed `clear`."""


@dataclass(frozen=True)
class FileStarted:
    """A download began (its `Show` says so to the user): for programs, as fields."""

    name: str
    size: int


@dataclass(frozen=True)
class FileSaved:
    """A download was verified and given its name at `path`: for programs, as fields."""

    name: str
    path: str
    size: int


@dataclass(frozen=True)
class AskPassword:
    """The server asks for the account's password: the app asks the user, without echo."""

    prompt: str


class Screen:
    """The actions for the user, in order, until the app takes them."""

    def __init__(self):
        self._actions: list = []

    def show(self, text: str) -> None:
        self._actions.append(Show(text))

    def status(self, text: str) -> None:
        self._actions.append(Status(text))

    def clear(self) -> None:
        self._actions.append(ClearScreen())

    def note(self, action) -> None:
        """An action for programs (FileStarted, FileSaved); the terminal shows nothing for it."""
        self._actions.append(action)

    def take(self) -> list:
        actions, self._actions = self._actions, []
        return actions


class Outbox:
    """The bytes for the server, in order; `sent(n)` drops what the socket took.

    `sent_at` is when a line was last queued: keep-alives count from it. While
    `holding` (after the join line, until `!HELLO`), what the user types waits in
    `held`: a server with accounts asks for the password first, and its answer
    (`first`) must reach it before any command. A held line sent as typed (chat, or
    a command only the server reads, such as `who`) can be taken back
    (`drop_held_as_typed`): typed before the password question, it may be the
    password itself, which must never reach the room."""

    def __init__(self, name: str, clock=time.monotonic):
        self.name = name
        self.data = bytearray()
        self.held: list[tuple[bytes, bool]] = []  # (frames, whether they are a line sent as typed)
        self.holding = False
        self.sent_at = clock()
        self._clock = clock

    def __len__(self) -> int:
        return len(self.data) + sum(len(frames) for frames, _as_typed in self.held)

    def line(self, text: str, as_typed: bool = False) -> bool:
        """A command, or a line `as_typed` (chat, or a command only the server reads); False
        (nothing queued) when no line can carry it."""
        try:
            self.raw(protocol.encode_command(self.name, text), as_typed)
        except protocol.LocalProtocolError:
            return False
        self.sent_at = self._clock()
        return True

    def raw(self, data: bytes, as_typed: bool = False) -> None:
        """Encoded frames (a `put` line, an upload's `!DATA` and `!ABORT`)."""
        if self.holding:
            self.held.append((bytes(data), as_typed))
        else:
            self.data += data

    def first(self, data: bytes) -> None:
        """Bytes that go before anything held (the password)."""
        self.data += data

    def release(self) -> None:
        """Joined: what was held goes out, in order, and nothing more is held."""
        for frames, _as_typed in self.held:
            self.data += frames
        self.held.clear()
        self.holding = False

    def drop_held_as_typed(self) -> int:
        """Take back the lines held so far that were sent as typed (the client's own commands
        stay); how many there were."""
        kept = [(frames, as_typed) for frames, as_typed in self.held if not as_typed]
        dropped = len(self.held) - len(kept)
        self.held = kept
        return dropped

    def sent(self, count: int) -> None:
        del self.data[:count]

    def drop(self) -> None:
        """The connection broke: nothing more will be sent."""
        self.data.clear()
        self.held.clear()
        self.holding = False
