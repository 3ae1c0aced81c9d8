"""What the teacher's console lines mean: `/who`, `/kick`, `/help`, `/history`,
`/quit`, `@name text` to one member, and anything else to everyone.

These lines come from the one person who runs the room, not from a session:
they answer on the console (`room.show`) and need no allowance, no language
negotiation and no files. handlers.py keeps the clients' lines and hands the
console's to `TeacherCommands`, so neither class mixes the two jobs (and each
stays well under the 30 methods docs/architecture.md allows).

The room comes as a narrow `typing.Protocol` (`ConsoleRoom`), like the
handlers' own `Room`, so this module imports no handler and no socket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from .messages import CONSOLE_HELP_KEYS, Messages
from .protocol import ErrorCode
from .session import Session
from .text import visible

log = logging.getLogger("ftplab.server")


class ConsoleRoom(Protocol):
    """The room as the teacher's commands see it."""

    name: str
    say: Messages

    def member(self, name: str) -> Session | None: ...

    def member_names(self) -> list[str]: ...

    def say_to(self, member) -> Messages: ...

    def history_lines(self) -> list[str]: ...

    def show(self, text: str) -> None: ...

    def send_message(self, session: Session, sender: str, text: str) -> None: ...

    def broadcast(self, sender: str, text: str, exclude: Session | None = None) -> None: ...

    def expel(self, person: str, code: ErrorCode, key: str, /, **values) -> list: ...


def who_text(room: ConsoleRoom, say: Messages) -> str:
    """Everyone in the chat: the members (counted), then the server's name (a client's
    `who` and the console's `/who` alike)."""
    names = sorted(room.member_names())
    if not names:
        return say("who_nobody", server=room.name)
    return say("who", count=len(names), names=", ".join(names), server=room.name)


class TeacherCommands:
    """The console's lines: a table of `/commands`, private lines and lines to everyone."""

    def __init__(self, room: ConsoleRoom, stop: Callable[[], None]):
        self._room = room
        self._say = room.say
        self._stop = stop
        self._commands = {
            "/who": self._who,
            "/kick": self._kick,
            "/help": self._help,
            "/history": self._history,
            "/quit": self._quit,
        }

    def on_line(self, text: str) -> None:
        """The teacher's line: a `/command`, `@name text` to one, or to everyone. A `/word`
        that is no command is refused (a typo must not reach the class); `//text` says `/text`."""
        room = self._room
        if not text:
            return
        word, _, argument = text.partition(" ")
        if text.startswith("/") and not text.startswith("//"):
            command = self._commands.get(word.lower())
            if command is None:
                room.show(self._say("console_unknown_command", command=visible(word)))
            else:
                command(argument.strip())
            return
        if not text.startswith("@"):
            room.broadcast(room.name, visible(text.removeprefix("/")))
            return
        target, _, body = text[1:].partition(" ")
        recipient = room.member(target)
        if not body.strip():
            room.show(self._say("usage_private"))
        elif recipient is None:
            room.show(self._say("no_such_user", name=visible(target)))
        elif not recipient.hears_chat:
            room.show(self._say("not_in_chat", name=recipient.name))
        else:
            room.send_message(
                recipient, room.name, room.say_to(recipient)("private", text=visible(body.strip()))
            )

    def _who(self, _argument: str) -> None:
        self._room.show(who_text(self._room, self._say))

    def _help(self, _argument: str) -> None:
        for key in CONSOLE_HELP_KEYS:
            self._room.show(self._say(key))

    def _history(self, _argument: str) -> None:
        """The conversation so far again (tools/lab_console.py asks for it when the teacher attaches)."""
        lines = self._room.history_lines()
        for line in lines or [self._say("console_history_empty")]:
            self._room.show(line)

    def _quit(self, _argument: str) -> None:
        self._stop()  # the loop tells every client the server is closing

    def _kick(self, argument: str) -> None:
        """`/kick NAME [reason]`: every connection of NAME (a lab client, or all of an FTP
        user's logins) is told why, each in its own protocol, and closed."""
        room = self._room
        target, _, reason = argument.partition(" ")
        if not target:
            room.show(self._say("usage_kick"))
            return
        reason = visible(reason.strip())
        key = "kicked_because" if reason else "kicked"
        gone = room.expel(target, ErrorCode.KICKED, key, name=room.name, reason=reason)
        if not gone:
            room.show(self._say("no_such_user", name=visible(target)))
            return
        log.info("kicked %s (%d connections) from the console: %s", gone[0].label, len(gone), reason or "-")
        room.show(self._say("console_kicked", name=gone[0].name))
