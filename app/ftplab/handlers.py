"""What the clients' lines mean: joining, commands and chat.

The loop hands whole lines to these handlers; they answer through the room
(`reply`, `send_error`, `broadcast`, ...) and queue downloads, given to them
as two narrow interfaces, and never touch a socket. Commands are found in a
table, each a short method named after it, as in pyftpdlib's `proto_cmds`.

`on_line` returns False for a line that cannot be handled yet (chat while
the room is congested, or a client over its command rate): the loop keeps
it and offers it again later, and reads nothing more from that client
meanwhile. That is how a sender feels back-pressure; nothing is dropped.

The teacher's console lines (`/who`, `/kick`, ...) mean something else and are
answered on the console: `on_console_line` hands them to teacher_commands.py.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from . import protocol
from .lab_logins import LabLogins
from .logs import CHATTER_LOGGER, log_reason
from .messages import (
    CATALOGUES,
    CLIENT_COMMANDS_HELP_KEYS,
    HELP_KEYS,
    Messages,
    listing_line,
)
from .protocol import ErrorCode
from .session import Session
from .storage import (
    FileProblem,
    FolderReadFailed,
    FolderReading,
    NoSuchFile,
    Storage,
    Tree,
    display_path,
    read_in_steps,
    serves,
    split_path,
)
from .teacher_commands import TeacherCommands, who_text
from .text import visible
from .uploads import Uploads, UploadSettings
from .wildcards import MAX_PATTERN_CHARS, PatternProblem, Wildcard, matching_names

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

    def send_file_error(self, session: Session, code: ErrorCode, key: str, name: str, **values) -> None: ...

    def broadcast(self, sender: str, text: str, exclude: Session | None = None) -> None: ...

    def announce(self, key: str, exclude: Session | None = None, **values) -> None: ...

    def refuse(self, session: Session, code: ErrorCode, key: str, **values) -> None: ...

    def expel(self, person: str, code: ErrorCode, key: str, /, **values) -> list: ...


class Downloads(Protocol):
    """Queueing a download, as handlers see it."""

    def request(
        self, session: Session, parts: tuple[str, ...], resume_from: tuple[int, str] | None = None
    ) -> FileProblem | None: ...

    def cancel(self, session: Session, argument: str, now: float) -> None: ...


def _words(argument: str) -> list[str]:
    """The words of `argument`, quoted as in a shell; none when a quote is left open."""
    try:
        return shlex.split(argument)
    except ValueError:
        return []


def _refuse_get(room: Room, session: Session, argument: str, problem: FileProblem) -> None:
    reason = log_reason(problem.message_key, name=visible(argument))
    log.info("%s: get %s refused: %s", session.label, visible(argument), reason)
    room.send_file_error(session, problem.code, problem.message_key, argument)


def _refuse_pattern(room: Room, session: Session, pattern: str, problem: PatternProblem) -> None:
    shown = visible(pattern[:MAX_PATTERN_CHARS])
    room.send_error(session, ErrorCode.USAGE, problem.message_key, pattern=shown, limit=MAX_PATTERN_CHARS)


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
        self._downloads = downloads
        self._storage = storage
        self._tree = Tree(storage)
        self._uploads = uploads or Uploads(self._tree, room, UploadSettings())
        self._say = room.say
        self._commands = {
            "list": Command(self._list, True),
            "get": Command(self._get, True),
            "resume": Command(self._resume, True),
            "mget": Command(self._mget, True),
            "cancel": Command(lambda session, argument, now: downloads.cancel(session, argument, now), True),
            "put": Command(self._put, True),
            "cd": Command(self._cd, True),
            "pwd": Command(self._pwd, False),
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

    # --- commands -----------------------------------------------------------------

    def _list(self, session: Session, argument: str, _now: float) -> None:
        """The files and subdirectories of the current directory, or of the one named."""
        try:
            parts = split_path(session.cwd, argument) if argument else session.cwd
            reading = self._tree.read_folder(parts, twins=True)
        except (FileProblem, OSError) as error:
            self._folder_unlisted(session, error, argument)
            return
        fields = session.protocol_version >= 2
        self._room.reply_in_pieces(session, self._listing(parts, reading, self._room.say_to(session), fields))

    def _listing(
        self, parts: tuple[str, ...], reading: FolderReading, say: Messages, fields: bool
    ) -> Iterator:
        """The header, then a line per entry: text to read, or (protocol 2) `!ENTRY` fields.
        First a None for each step of reading the folder: the loop serves the others between.
        A folder that fails partway is refused with `!ERR` (the client keeps its session)."""
        try:
            yield from read_in_steps(reading)
        except FolderReadFailed as problem:
            log.error("cannot read %s to its end: %s", visible(problem.name), problem.__cause__)
            yield self._room.error_event(problem.code, problem.message_key, say, name=visible(problem.name))
            return
        if not reading.count:
            yield say("list_empty_in" if parts else "list_empty", path=display_path(parts))
            return
        if parts:
            yield say("list_header_in", path=display_path(parts), count=reading.count)
        else:
            yield say("list_header", count=reading.count)
        for entry in reading.shown_entries():
            if fields:
                kind, size = ("d", 0) if entry.is_dir else ("f", entry.size)
                yield protocol.ListEntry(self._room.name, kind, size, int(entry.mtime), entry.shown)
            else:
                yield listing_line(entry.is_dir, entry.size, entry.mtime, entry.shown)

    def _get(self, session: Session, argument: str, _now: float) -> None:
        if not argument:
            self._room.send_error(session, ErrorCode.USAGE, "usage_get")
            return
        if self._download_refused(session, argument):
            return
        problem = self._request_download(session, argument)
        words = _words(argument) if problem is not None and problem.code is ErrorCode.NO_FILE else []
        if len(words) > 1:
            self._room.reply_in_pieces(session, self._get_each_word(session, words, argument, problem))
        elif problem is not None:
            _refuse_get(self._room, session, argument, problem)

    def _resume(self, session: Session, argument: str, _now: float) -> None:
        """`resume OFFSET SHA256 NAME`: the rest of a download the client kept in part."""
        parsed = protocol.parse_resume_argument(argument)
        if parsed is None:
            self._room.send_error(session, ErrorCode.USAGE, "usage_resume")
            return
        offset, prefix_sha256, name = parsed
        if self._download_refused(session, name):
            return
        problem = self._request_download(session, name, resume_from=(offset, prefix_sha256))
        if problem is not None:
            reason = log_reason(problem.message_key, name=visible(name))
            log.info("%s: resume %s refused: %s", session.label, visible(name), reason)
            self._room.send_file_error(session, problem.code, problem.message_key, name)

    def _download_refused(self, session: Session, name: str) -> bool:
        """An account without the download right (--users) asked for a file: refused."""
        if session.may("download"):
            return False
        self._room.send_file_error(session, ErrorCode.NO_DOWNLOAD, "downloads_off", name)
        return True

    def _get_each_word(
        self, session: Session, words: list[str], argument: str, problem: FileProblem
    ) -> Iterator[None]:
        """`get a.txt b.txt` when no file has that whole name: each word (relative to the
        current folder, or a path) that names a file is queued, and each that does not is
        refused on its own. When no word names a served file, the line was one name, which
        does not exist: `problem` refuses it. Each folder is read in steps (a None each), once
        for all the words; the answer comes when the reading is done."""
        listings: dict[tuple[str, ...], set[str]] = {}
        try:
            for word in words:
                if (yield from serves(self._tree.read_folder, session.cwd, word, listings)):
                    self._queue_each(session, words)
                    return
        except FolderReadFailed as failure:
            self._folder_unlisted(session, failure, failure.name)
            return
        _refuse_get(self._room, session, argument, problem)

    def _queue_each(self, session: Session, names: list[str]) -> None:
        """Queue `names` (relative to the current folder) in order, each confirmed with
        `!QUEUED` or refused on its own; past the queue's cap, one `queue-full` says how many
        were left out, and the rest are not tried."""
        for index, name in enumerate(names):
            problem = self._request_download(session, name)
            if problem is not None and problem.code is ErrorCode.QUEUE_FULL:
                left = len(names) - index
                self._room.send_file_error(session, problem.code, "mget_queue_full", name, count=left)
                return
            if problem is None:
                self._room.send_event(session, protocol.Queued(self._room.name, name))
            else:
                self._room.send_file_error(session, problem.code, problem.message_key, name)

    def _folder_unlisted(self, session: Session, error: Exception, folder: str) -> None:
        """`list FOLDER` or `mget FOLDER/PATTERN` could not list `folder`: not a served folder,
        or the disk failed (logged): at its start, or partway (FolderReadFailed, which says so)."""
        if isinstance(error, FolderReadFailed):
            log.error("cannot read %s to its end: %s", visible(error.name), error.__cause__)
            self._room.send_error(session, error.code, error.message_key, name=visible(error.name))
            return
        if isinstance(error, FileProblem) and error.code is not ErrorCode.RESOURCES:
            self._room.send_error(session, ErrorCode.NOT_DIR, "no_such_dir", name=visible(folder))
            return
        log.error("cannot list %s: %s", self._storage.root, error)
        self._room.send_error(session, ErrorCode.RESOURCES, "list_failed")

    def _mget(self, session: Session, pattern: str, _now: float) -> None:
        """`mget PATTERN`: every served file of a folder whose name matches (shell wildcards in
        the last name only: `*.txt`, `tema1/*.bin`, `../*.pdf`, `/practicas/*`), queued in name
        order and each confirmed with `!QUEUED`; past the queue's cap, one `queue-full` says
        how many were left out."""
        if self._download_refused(session, pattern):
            return
        folder_text, slash, last = pattern.rpartition("/")
        try:
            wildcard = Wildcard.parse(last)  # first: a pattern refused costs no listing
            folder = split_path(session.cwd, folder_text or "/") if slash else session.cwd
            reading = self._tree.read_folder(folder, twins=True)
        except PatternProblem as problem:
            _refuse_pattern(self._room, session, pattern, problem)
            return
        except (FileProblem, OSError) as error:
            self._folder_unlisted(session, error, folder_text or "/" if slash else display_path(session.cwd))
            return
        prefix = f"{folder_text}{slash}"
        self._room.reply_in_pieces(session, self._mget_matches(session, pattern, wildcard, reading, prefix))

    def _mget_matches(
        self, session: Session, pattern: str, wildcard: Wildcard, reading: FolderReading, prefix: str
    ) -> Iterator[None]:
        """The folder read in steps (a None each), then its matching files queued in name order
        (each name with `prefix`, the folder as typed)."""
        try:
            yield from read_in_steps(reading)
            files = [entry for entry in reading.shown_entries() if not entry.is_dir]
            names = matching_names(files, wildcard)
        except PatternProblem as problem:
            _refuse_pattern(self._room, session, pattern, problem)
            return
        except FolderReadFailed as problem:
            self._folder_unlisted(session, problem, problem.name)
            return
        if not names:
            self._room.send_file_error(
                session, ErrorCode.NO_MATCH, "no_match", pattern, pattern=visible(pattern)
            )
            return
        self._queue_each(session, [f"{prefix}{name}" for name in names])

    def _request_download(
        self, session: Session, argument: str, resume_from: tuple[int, str] | None = None
    ) -> FileProblem | None:
        """The file at the path `argument` (relative to the session's folder; its
        name in another Unicode form found too), queued or the problem why not."""
        try:
            parts = split_path(session.cwd, argument)
        except FileProblem as problem:
            return problem
        if not parts or argument.endswith(("/", "/.", "/..")):
            return NoSuchFile(argument)  # a path ending as a folder's does not name a file
        return self._downloads.request(session, parts, resume_from)

    def _put(self, session: Session, argument: str, _now: float) -> None:
        self._uploads.start(session, argument)

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

    def _cd(self, session: Session, argument: str, _now: float) -> None:
        """`cd DIR` (relative, absolute, `..`); `cd` alone goes back to the root."""
        try:
            parts = split_path(session.cwd, argument) if argument else ()
        except FileProblem:
            parts = None
        if parts is None or not self._tree.is_dir(parts):
            self._room.send_error(session, ErrorCode.NOT_DIR, "no_such_dir", name=visible(argument))
            return
        session.cwd = parts
        self._room.reply(session, self._room.say_to(session)("current_dir", path=display_path(parts)))

    def _pwd(self, session: Session, _argument: str, _now: float) -> None:
        self._room.reply(session, self._room.say_to(session)("current_dir", path=display_path(session.cwd)))

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
