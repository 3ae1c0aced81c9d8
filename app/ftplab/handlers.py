"""What the clients' lines mean: joining, commands and chat.

The loop hands whole lines to these handlers; they answer through the room
(`reply`, `send_error`, `broadcast`, ...), given to them as a narrow
interface, and never touch a socket. Commands are found in a table, each a
short method named after it, as in pyftpdlib's `proto_cmds`; the file
commands (`list`, `get`, `mget`, `put`, `cd`, ...) are file_commands.py's.

`on_line` returns False for a line that cannot be handled yet (chat while
the room is congested, or a client over its command rate): the loop keeps
it and offers it again later, and reads nothing more from that client
meanwhile. That is how a sender feels back-pressure; nothing is dropped.

The teacher's console lines (`/who`, `/kick`, ...) mean something else and are
answered on the console: `on_console_line` hands them to teacher_commands.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from . import protocol
from .file_commands import Downloads, FileCommands
from .lab_logins import LabLogins
from .logs import CHATTER_LOGGER
from .messages import CATALOGUES, CLIENT_COMMANDS_HELP_KEYS, HELP_KEYS, Messages
from .protocol import ErrorCode
from .session import Session
from .storage import Storage, Tree
from .teacher_commands import TeacherCommands, who_text
from .text import visible
from .uploads import Uploads, UploadSettings

log = logging.getLogger("ftplab.server")
chatter = logging.getLogger(CHATTER_LOGGER)
"""Each client's commands and chat: kept off an interactive console (see logs.py), not out of the log."""


class Room(Protocol):
    """The room as handlers see it: membership and the send API."""

    name: str
    say: Messages

    @property
    def congested(self) -> bool: ...

    def member(self, name: str) -> Session | None: ...

    def member_names(self) -> list[str]: ...

    def say_to(self, member) -> Messages: ...

    def add_member(self, session: Session, name: str) -> bool: ...

    def welcome(self, session: Session) -> None: ...

    def send_history(self, session: Session) -> None: ...

    def history_lines(self) -> list[str]: ...

    def show(self, text: str) -> None: ...

    def reply(self, session: Session, text: str) -> None: ...

    def reply_in_pieces(self, session: Session, texts: Iterable) -> None: ...

    def send_event(self, session: Session, event) -> None: ...

    def send_message(self, session: Session, sender: str, text: str) -> None: ...

    def send_error(self, session: Session, code: ErrorCode, key: str, **values) -> None: ...

    def error_event(
        self, code: ErrorCode, key: str, say: Messages | None = None, **values
    ) -> protocol.Error: ...

    def send_file_error(self, session: Session, code: ErrorCode, key: str, name: str, **values) -> None: ...

    def broadcast(self, sender: str, text: str, exclude: Session | None = None) -> None: ...

    def announce(self, key: str, exclude: Session | None = None, **values) -> None: ...

    def refuse(self, session: Session, code: ErrorCode, key: str, **values) -> None: ...

    def expel(self, person: str, code: ErrorCode, key: str, /, **values) -> list: ...


@dataclass(frozen=True)
class Command:
    """One command of the table: its handler and whether it takes an argument."""

    handler: Callable[[Session, str, float], None]
    takes_argument: bool


class Handlers:
    """The lab protocol's meaning: one method per command, chat, joining; the console's lines
    go to `TeacherCommands`."""

    def __init__(
        self,
        room: Room,
        downloads: Downloads,
        storage: Storage,
        uploads: Uploads | None = None,
        *,
        keep_alive_seconds: float = 0.0,
        stop: Callable[[], None] = lambda: None,
        logins: LabLogins | None = None,
    ):
        self._room = room
        self.logins = logins
        """With accounts (--users): the password step before a join."""
        self._keep_alive_seconds = keep_alive_seconds
        """Asked of clients that announce themselves with `!JOIN` (0: no idle timeout, none asked)."""
        self._uploads = uploads or Uploads(Tree(storage), room, UploadSettings())
        self._say = room.say
        files = FileCommands(room, downloads, storage, self._uploads)
        self._commands = {
            "list": Command(files.list_folder, True),
            "get": Command(files.get, True),
            "resume": Command(files.resume, True),
            "mget": Command(files.mget, True),
            "cancel": Command(files.cancel, True),
            "put": Command(files.put, True),
            "cd": Command(files.cd, True),
            "pwd": Command(files.pwd, False),
            "who": Command(self._who, False),
            "help": Command(self._help, False),
            "quit": Command(self._quit, False),
        }
        self._teacher = TeacherCommands(room, stop)

    # --- lines from clients -----------------------------------------------------

    def on_line(self, session: Session, line: protocol.Line, now: float) -> bool:
        """Handle one line; False when it must wait (see the module's docstring)."""
        if session.login is not None:
            session.last_activity = now
            return self._on_password(session, line, now)
        if isinstance(line, protocol.Password) and self.logins is None:
            line = protocol.Line(line.sender, f"!{protocol.PASSWORD} {line.text}")  # the open lab: as ever
        elif isinstance(line, protocol.Password):
            self._room.send_error(session, ErrorCode.PROTOCOL, "password_not_now")
            return True
        if not isinstance(line, protocol.Line):
            return self._on_upload_frame(session, line, now)
        if session.name is None:
            session.last_activity = now
            self._join(session, line, now)
            return True
        if line.sender != session.name:
            session.last_activity = now
            log.warning("%s tried to write as %s", session.label, visible(line.sender))
            self._room.send_error(
                session, ErrorCode.IMPERSONATION, "impersonation", name=session.name, other=line.sender
            )
            return True
        return self._on_text(session, line.text.strip(), now)

    def on_bad_line(self, session: Session, error: protocol.ProtocolError) -> None:
        log.info("bad line from %s: %s (%s)", session.label, error.code, visible(error.detail))
        room = self._room
        if error.fatal:
            room.refuse(session, error.code, "bad_frame")
        elif session.name is None and isinstance(error, protocol.BadName):
            room.refuse(session, ErrorCode.BAD_NAME, "bad_name", name=visible(error.detail))
        elif session.name is None:
            room.refuse(session, ErrorCode.NO_NAME, "no_name")
        elif isinstance(error, protocol.LineTooLong):
            room.send_error(session, error.code, "line_too_long", limit=protocol.MAX_LINE_BYTES)
        elif isinstance(error, protocol.BadEncoding):
            room.send_error(session, error.code, "bad_encoding")
        else:
            room.send_error(session, error.code, "no_prefix", name=session.name)

    def _join(self, session: Session, line: protocol.Line, now: float) -> None:
        options = protocol.parse_join(line.text.strip())
        if options is not None:
            self._take_join_options(session, options)  # first: a refusal speaks its language too
        if self.logins is not None:
            self.logins.ask(session, line, options)  # the join goes on once its password is right
        else:
            self._enter(session, line, options)

    def _on_password(self, session: Session, line, now: float) -> bool:
        """The answer to `!PASSWORD`; False when it must wait for the checks' ration."""
        if isinstance(line, protocol.Password) and self.logins.must_wait(session):
            return False
        pending = self.logins.answer(session, line, now)
        if pending is not None:
            self._enter(session, pending.first_line, pending.options)
        return True

    def _enter(self, session: Session, line: protocol.Line, options: dict[str, str] | None) -> None:
        """The name is taken (unless in use), the welcome said; the first line's text, if not a
        `!JOIN`, is then handled like any later line."""
        room = self._room
        text = "" if options is not None else line.text.strip()
        if not room.add_member(session, line.sender):
            log.info("refused name %s for %s: in use", visible(line.sender), session.label)
            room.refuse(session, ErrorCode.NAME_TAKEN, "name_taken", name=line.sender)
            return
        log.info("joined %s", session.label)
        room.welcome(session)
        if session.protocol_version >= 2:
            room.send_event(session, protocol.Version(room.name, session.protocol_version))
        if options is not None and self._keep_alive_seconds:
            room.send_event(session, protocol.KeepAlive(room.name, self._keep_alive_seconds))
        room.send_history(session)
        if text:
            session.held = protocol.Line(line.sender, text)  # handled like any later line

    def _take_join_options(self, session: Session, options: dict[str, str]) -> None:
        """What a client announced in its `!JOIN` line: its language, if the server has it, and
        the protocol version it speaks (the server's, if it speaks a later one)."""
        if options.get("lang") in CATALOGUES:
            session.language = options["lang"]
        version = options.get("proto", "1")
        if version.isascii() and version.isdigit() and len(version) < 8:
            session.protocol_version = min(int(version), protocol.VERSION)

    def _on_text(self, session: Session, text: str, now: float) -> bool:
        if not text:
            session.last_activity = now
            return True
        word, _, argument = text.partition(" ")
        command = self._commands.get(word.lower())
        if command is None:
            return self._chat(session, text, now)
        if not session.command_allowance.take(now):
            return False
        session.last_activity = now  # only whole lines count: a byte-trickler stays idle
        argument = argument.strip()
        chatter.info("%s: %s", session.label, visible(text))
        if argument and not command.takes_argument:
            self._room.send_error(session, ErrorCode.USAGE, "usage_no_arguments", command=word.lower())
            return True
        command.handler(session, argument, now)
        return True

    # --- commands (the files' are FileCommands') ------------------------------------

    def _on_upload_frame(self, session: Session, frame, now: float) -> bool:
        """A piece of an upload (`!DATA`) or its cancelling (`!ABORT`) from the client."""
        if session.name is None:
            self._room.refuse(session, ErrorCode.NO_NAME, "no_name")
        elif frame.sender != session.name:
            self._room.send_error(
                session, ErrorCode.IMPERSONATION, "impersonation", name=session.name, other=frame.sender
            )
        elif isinstance(frame, protocol.FileData):
            session.last_activity = now
            self._uploads.on_data(session, frame.data)
        else:
            session.last_activity = now
            self._uploads.on_abort(session, frame.text)
        return True

    def _who(self, session: Session, _argument: str, _now: float) -> None:
        self._room.reply(session, who_text(self._room, self._room.say_to(session)))

    def _help(self, session: Session, _argument: str, _now: float) -> None:
        """The commands; a protocol-2 client (the ftplab client) gets its own, aliases and keys too."""
        say = self._room.say_to(session)
        for key in CLIENT_COMMANDS_HELP_KEYS if session.protocol_version >= 2 else HELP_KEYS:
            self._room.reply(session, say(key))

    def _quit(self, session: Session, _argument: str, _now: float) -> None:
        session.quitting = True  # the loop says goodbye once the downloads asked for are sent

    # --- chat -------------------------------------------------------------------

    def _chat(self, session: Session, text: str, now: float) -> bool:
        if self._room.congested:
            return False
        session.last_activity = now
        if self._over_chat_limit(session, now):
            return True
        if text.startswith("@"):
            self._private(session, text)
            return True
        text = visible(text)
        chatter.info("chat %s: %s", session.label, text)
        self._room.show(f"{session.name}> {text}")
        self._room.broadcast(session.name, text, exclude=session)
        return True

    def _over_chat_limit(self, session: Session, now: float) -> bool:
        """Past its own rate, or its address's: the line is dropped, with one warning per run."""
        for allowance in (session.chat_allowance, session.address_chat):
            if not allowance.take(now):
                if allowance.should_warn():
                    log.warning("chat flood from %s: lines dropped", session.label)
                    self._room.show(self._say("console_chat_flood", name=session.name))
                    self._room.send_error(session, ErrorCode.FLOOD, "chat_flood")
                return True
        return False

    def _private(self, session: Session, text: str) -> None:
        target, _, body = text[1:].partition(" ")
        body = visible(body.strip())
        room = self._room
        if not target or not body:
            room.send_error(session, ErrorCode.USAGE, "usage_private")
            return
        chatter.info("private %s -> %s", session.label, visible(target))
        if protocol.name_key(target) == protocol.name_key(room.name):
            room.show(f"{session.name}> {self._say('private', text=body)}")  # as a client shows it
            return
        recipient = room.member(target)
        if recipient is None:
            room.send_error(session, ErrorCode.NO_USER, "no_such_user", name=visible(target))
        elif not recipient.hears_chat:
            room.send_error(session, ErrorCode.NO_USER, "not_in_chat", name=recipient.name)
        else:
            room.send_message(recipient, session.name, room.say_to(recipient)("private", text=body))

    # --- the console ------------------------------------------------------------

    def on_console_line(self, text: str) -> None:
        """The teacher's line (see teacher_commands.py)."""
        self._teacher.on_line(text)
