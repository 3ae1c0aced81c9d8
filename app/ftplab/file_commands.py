"""The lab's file commands: `list`, `get`, `resume`, `mget`, `cancel`, `put`, `cd` and `pwd`.

handlers.py finds a command in its table and calls the method named after it
here; these answer through the room and queue downloads, given as two narrow
interfaces (`FileRoom`, `Downloads`), and reach the served directory only
through `storage.Tree`. A folder is read in steps (`storage.read_in_steps`):
a `list`, an `mget` or a `get a b` of a folder of 30,000 is a long reply
whose pieces are those steps, so the loop serves the others between them.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterable, Iterator
from typing import Protocol

from . import protocol
from .logs import log_reason
from .messages import Messages, listing_line
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
from .text import visible
from .uploads import Uploads
from .wildcards import MAX_PATTERN_CHARS, PatternProblem, Wildcard, matching_names

log = logging.getLogger("ftplab.server")


class FileRoom(Protocol):
    """The room as the file commands see it: the answers to one member."""

    name: str

    def say_to(self, member) -> Messages: ...

    def reply(self, session: Session, text: str) -> None: ...

    def reply_in_pieces(self, session: Session, texts: Iterable) -> None: ...

    def send_event(self, session: Session, event) -> None: ...

    def send_error(self, session: Session, code: ErrorCode, key: str, **values) -> None: ...

    def send_file_error(self, session: Session, code: ErrorCode, key: str, name: str, **values) -> None: ...

    def error_event(
        self, code: ErrorCode, key: str, say: Messages | None = None, **values
    ) -> protocol.Error: ...


class Downloads(Protocol):
    """Queueing a download, as the file commands see it."""

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


def _refuse_get(room: FileRoom, session: Session, argument: str, problem: FileProblem) -> None:
    reason = log_reason(problem.message_key, name=visible(argument))
    log.info("%s: get %s refused: %s", session.label, visible(argument), reason)
    room.send_file_error(session, problem.code, problem.message_key, argument)


def _refuse_pattern(room: FileRoom, session: Session, pattern: str, problem: PatternProblem) -> None:
    shown = visible(pattern[:MAX_PATTERN_CHARS])
    room.send_error(session, ErrorCode.USAGE, problem.message_key, pattern=shown, limit=MAX_PATTERN_CHARS)


class FileCommands:
    """One method per file command, called with (session, argument, now) from the handlers' table."""

    def __init__(self, room: FileRoom, downloads: Downloads, storage: Storage, uploads: Uploads):
        self._room = room
        self._downloads = downloads
        self._storage = storage
        self._tree = Tree(storage)
        self._uploads = uploads

    def cancel(self, session: Session, argument: str, now: float) -> None:
        self._downloads.cancel(session, argument, now)

    def list_folder(self, session: Session, argument: str, _now: float) -> None:
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
            log.error("cannot read %s to its end: %s", visible(problem.name), problem.why)
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

    def get(self, session: Session, argument: str, _now: float) -> None:
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

    def resume(self, session: Session, argument: str, _now: float) -> None:
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
            log.error("cannot read %s to its end: %s", visible(error.name), error.why)
            self._room.send_error(session, error.code, error.message_key, name=visible(error.name))
            return
        if isinstance(error, FileProblem) and error.code is not ErrorCode.RESOURCES:
            self._room.send_error(session, ErrorCode.NOT_DIR, "no_such_dir", name=visible(folder))
            return
        log.error("cannot list %s: %s", self._storage.root, error)
        self._room.send_error(session, ErrorCode.RESOURCES, "list_failed")

    def mget(self, session: Session, pattern: str, _now: float) -> None:
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

    def put(self, session: Session, argument: str, _now: float) -> None:
        self._uploads.start(session, argument)

    def cd(self, session: Session, argument: str, _now: float) -> None:
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

    def pwd(self, session: Session, _argument: str, _now: float) -> None:
        self._room.reply(session, self._room.say_to(session)("current_dir", path=display_path(session.cwd)))
