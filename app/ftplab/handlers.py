"""What the lines mean: joining, commands, chat and the console.

The server's loop moves bytes and calls these handlers with whole lines; the
handlers answer through the server's small interface (`reply`, `send_error`,
`broadcast`, ...). Commands are found in a table, each a short method named
after it, as in pyftpdlib's `proto_cmds`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from . import protocol
from .messages import HELP_KEYS
from .session import Session
from .storage import FileProblem, NoSuchFile, NotAFile, Unreadable
from .text import visible

if TYPE_CHECKING:
    from .server import Server

log = logging.getLogger("ftplab.server")

_FILE_ERROR_CODES = {NoSuchFile: "nofile", NotAFile: "not-file", Unreadable: "denied"}


@dataclass(frozen=True)
class Command:
    handler: Callable[[Session, str, float], None]
    takes_argument: bool


class Handlers:
    def __init__(self, server: Server):
        self._server = server
        self._say = server.say
        self._commands = {
            "list": Command(self._list, False),
            "get": Command(self._get, True),
            "who": Command(self._who, False),
            "help": Command(self._help, False),
            "quit": Command(self._quit, False),
        }

    # --- lines from clients -----------------------------------------------------

    def on_line(self, session: Session, line: protocol.Line, now: float) -> None:
        session.last_activity = now  # only whole lines count: a byte-trickler stays idle
        if session.name is None:
            self._join(session, line, now)
        elif line.sender != session.name:
            log.warning("%s tried to write as %s", session.label, visible(line.sender))
            self._server.send_error(
                session, "impersonation", "impersonation", now, name=session.name, other=line.sender
            )
        else:
            self._on_text(session, line.text.strip(), now)

    def on_bad_line(self, session: Session, error: protocol.ProtocolError, now: float) -> None:
        log.info("bad line from %s: %s (%s)", session.label, error.code, visible(error.detail))
        server = self._server
        if session.name is None and isinstance(error, protocol.BadName):
            server.refuse(session, "bad-name", self._say("bad_name", name=visible(error.detail)), now)
        elif session.name is None:
            server.refuse(session, "no-name", self._say("no_name"), now)
        elif isinstance(error, protocol.LineTooLong):
            server.send_error(session, error.code, "line_too_long", now, limit=protocol.MAX_LINE_BYTES)
        elif isinstance(error, protocol.BadEncoding):
            server.send_error(session, error.code, "bad_encoding", now)
        else:
            server.send_error(session, error.code, "no_prefix", now, name=session.name)

    def _join(self, session: Session, line: protocol.Line, now: float) -> None:
        server = self._server
        if not server.add_member(session, line.sender):
            log.info("refused name %s for %s: in use", line.sender, session.label)
            server.refuse(session, "name-taken", self._say("name_taken", name=line.sender), now)
            return
        log.info("joined %s", session.label)
        welcome = self._say("welcome", name=session.name, count=len(server.member_names()))
        server.send_event(session, protocol.Hello(server.name, welcome), now)
        server.announce(self._say("joined", name=session.name), now, exclude=session)
        self._on_text(session, line.text.strip(), now)

    def _on_text(self, session: Session, text: str, now: float) -> None:
        if not text:
            return
        word, _, argument = text.partition(" ")
        command = self._commands.get(word.lower())
        if command is None:
            self._chat(session, text, now)
            return
        argument = argument.strip()
        log.info("%s: %s", session.label, visible(text))
        if argument and not command.takes_argument:
            self._server.send_error(session, "usage", "usage_no_arguments", now, command=word.lower())
            return
        command.handler(session, argument, now)

    # --- commands -----------------------------------------------------------------

    def _list(self, session: Session, _argument: str, now: float) -> None:
        storage = self._server.storage
        try:
            entries = storage.list()
        except OSError as error:
            log.error("cannot list %s: %s", storage.root, error)
            entries = []
        if not entries:
            self._server.reply(session, self._say("list_empty"), now)
            return
        self._server.reply(session, self._say("list_header", count=len(entries)), now)
        for entry in entries:
            stamp = datetime.fromtimestamp(entry.mtime).strftime("%Y-%m-%d %H:%M")
            self._server.reply(session, f"{entry.size:>12}  {stamp}  {visible(entry.name)}", now)

    def _get(self, session: Session, argument: str, now: float) -> None:
        if not argument:
            self._server.send_error(session, "usage", "usage_get", now)
            return
        try:
            opened = self._server.storage.open(argument)
        except FileProblem as problem:
            log.info("%s: get %s refused: %s", session.label, visible(argument), type(problem).__name__)
            code = _FILE_ERROR_CODES[type(problem)]
            self._server.send_error(session, code, problem.message_key, now, name=visible(argument))
            return
        self._server.start_download(session, opened)

    def _who(self, session: Session, _argument: str, now: float) -> None:
        names = sorted(self._server.member_names())
        self._server.reply(session, self._say("who", count=len(names), names=", ".join(names)), now)

    def _help(self, session: Session, _argument: str, now: float) -> None:
        for key in HELP_KEYS:
            self._server.reply(session, self._say(key), now)

    def _quit(self, session: Session, _argument: str, now: float) -> None:
        self._server.quit_when_done(session, now)

    # --- chat -------------------------------------------------------------------

    def _chat(self, session: Session, text: str, now: float) -> None:
        if not session.chat_allowance.take(now):
            if session.chat_allowance.should_warn():
                log.warning("chat flood from %s: lines dropped", session.label)
                self._server.send_error(session, "flood", "chat_flood", now)
            return
        if text.startswith("@"):
            self._private(session, text, now)
            return
        text = visible(text)
        log.info("chat %s: %s", session.label, text)
        self._server.show(f"{session.name}> {text}")
        self._server.broadcast(session.name, text, now, exclude=session)

    def _private(self, session: Session, text: str, now: float) -> None:
        target, _, body = text[1:].partition(" ")
        body = visible(body.strip())
        server = self._server
        if not target or not body:
            server.send_error(session, "usage", "usage_private", now)
            return
        log.info("private %s -> %s", session.label, visible(target))
        if protocol.name_key(target) == protocol.name_key(server.name):
            server.show(self._say("console_private_to_you", sender=session.name, text=body))
            return
        recipient = server.member(target)
        if recipient is None:
            server.send_error(session, "no-user", "no_such_user", now, name=visible(target))
            return
        server.send_message(recipient, session.name, self._say("private", text=body), now)

    # --- the console ------------------------------------------------------------

    def on_console_line(self, text: str, now: float) -> None:
        """The teacher's line: to everyone, or `@name text` to one."""
        server = self._server
        if not text:
            return
        if not text.startswith("@"):
            server.broadcast(server.name, visible(text), now)
            return
        target, _, body = text[1:].partition(" ")
        recipient = server.member(target)
        if not body.strip():
            server.show(self._say("usage_private"))
        elif recipient is None:
            server.show(self._say("no_such_user", name=visible(target)))
        else:
            server.send_message(recipient, server.name, self._say("private", text=visible(body.strip())), now)
