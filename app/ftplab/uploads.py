"""Uploads through the lab door: `put SIZE SHA256 PATH`, then `!DATA` frames.

The server answers a `put` with `!GO path` or an `!ERR` before the client
sends a byte. Each frame is written at once to a `storage.Upload` (a file with
no name, or a hidden one, in its directory) and hashed as it goes, so nothing
but the frame in hand is held in memory: the loop reads the client's socket
again only when the frames parsed so far are written (Session.wants_to_read),
which is the back-pressure a fast uploader feels. When the announced size has
arrived and the SHA-256 matches, the file gets its name (never replacing one
without --allow-overwrite) and the others are told. A refusal mid-way (disk
full, a write error) drops the upload and reads the rest of its frames to
nothing until the announced size or the client's `!ABORT`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from . import protocol
from .logs import log_reason
from .messages import Messages, human_size
from .protocol import ErrorCode
from .session import Session
from .storage import (
    MIN_FREE_BYTES,
    AlreadyExists,
    DiskFull,
    FileProblem,
    Tree,
    Upload,
    UploadTooBig,
    split_path,
)
from .text import visible

log = logging.getLogger("ftplab.server")

UPLOAD_ERRORS = {
    AlreadyExists: (ErrorCode.EXISTS, "already_exists"),
    UploadTooBig: (ErrorCode.TOO_BIG, "upload_too_big"),
    DiskFull: (ErrorCode.DISK_FULL, "disk_full"),
}
"""How a storage problem answers a `put`; any other is a path that cannot take an upload."""


def _answer(problem: FileProblem) -> tuple[ErrorCode, str]:
    """The error code and message key that answer a `put` refused for `problem`."""
    code, key = UPLOAD_ERRORS.get(type(problem), (ErrorCode.BAD_PATH, "bad_upload_path"))
    if code is ErrorCode.BAD_PATH and problem.code is ErrorCode.RESOURCES:
        return ErrorCode.UPLOAD_FAILED, "upload_failed"
    return code, key


@dataclass(frozen=True)
class UploadSettings:
    """The server's upload options (--allow-upload, --allow-overwrite, --max-upload-bytes)."""

    allowed: bool = False
    overwrite: bool = False
    max_bytes: int = 1024**3
    min_free_bytes: int = MIN_FREE_BYTES


class Room(Protocol):
    """What uploads need from the room."""

    name: str
    say: Messages

    def send_event(self, session: Session, event) -> None: ...

    def send_error(self, session: Session, code: ErrorCode, key: str, **values) -> None: ...

    def announce(self, key: str, exclude: Session | None = None, **values) -> None: ...

    def show(self, text: str) -> None: ...


class Incoming:
    """One upload on its way from one client; `upload` is None once it was refused mid-way."""

    def __init__(self, upload: Upload, request: protocol.PutRequest, path: str):
        self.upload: Upload | None = upload
        self.request = request
        self.path = path
        self.left = request.size
        self.hasher = hashlib.sha256()
        self.started = time.monotonic()

    def drop(self) -> None:
        if self.upload is not None:
            self.upload.abort()
            self.upload = None


class Uploads:
    """Every session's upload in progress (at most one each)."""

    def __init__(self, tree: Tree, room: Room, settings: UploadSettings):
        self._tree = tree
        self._room = room
        self._settings = settings
        self._incoming: dict[Session, Incoming] = {}

    # --- `put` ----------------------------------------------------------------------

    def start(self, session: Session, argument: str) -> None:
        """Answer a `put`: `!GO` (then frames are expected) or an `!ERR`."""
        room, settings = self._room, self._settings
        request = protocol.parse_put(argument)
        if not session.may("upload", settings.allowed):
            key = "uploads_off" if session.rights is None else "account_no_upload"
            room.send_error(session, ErrorCode.NO_UPLOAD, key)
        elif session in self._incoming:
            room.send_error(session, ErrorCode.UPLOAD_BUSY, "upload_busy")
        elif request is None:
            room.send_error(session, ErrorCode.USAGE, "usage_put")
        elif request.size > settings.max_bytes:
            room.send_error(session, ErrorCode.TOO_BIG, "upload_too_big", name=visible(request.path))
        else:
            self._open(session, request)

    def _open(self, session: Session, request: protocol.PutRequest) -> None:
        try:
            parts = split_path(session.cwd, request.path)
            if not parts:
                raise FileProblem(request.path)
            upload = self._tree.start_upload(
                parts,
                overwrite=session.may("overwrite", self._settings.overwrite),
                max_bytes=self._settings.max_bytes,
                min_free_bytes=self._settings.min_free_bytes,
            )
            upload.expect(request.size)
        except FileProblem as problem:
            shown = visible(request.path)
            reason = log_reason(_answer(problem)[1], name=shown)
            log.info("%s: put %s refused: %s", session.label, shown, reason)
            self._refuse(session, problem, shown)
            return
        path = "/".join(parts)
        self._incoming[session] = incoming = Incoming(upload, request, path)
        log.info("%s: receiving %s (%d bytes)", session.label, visible(path), request.size)
        self._room.send_event(session, protocol.UploadReady(self._room.name, path))
        if request.size == 0:
            self._complete(session, incoming)

    def _refuse(self, session: Session, problem: FileProblem, shown: str) -> None:
        code, key = _answer(problem)
        self._room.send_error(session, code, key, name=shown)

    # --- frames -------------------------------------------------------------------

    def on_data(self, session: Session, data: bytes) -> None:
        """One piece of a `!DATA` frame from the client."""
        incoming = self._incoming.get(session)
        if incoming is None:
            self._room.send_error(session, ErrorCode.PROTOCOL, "upload_unexpected_data")
            return
        if len(data) > incoming.left:
            self._fail(session, incoming, ErrorCode.CORRUPT, "upload_corrupt")
            return
        incoming.left -= len(data)
        if incoming.upload is not None:
            self._write(session, incoming, data)
        if incoming.left == 0 and self._incoming.get(session) is incoming:
            self._complete(session, incoming)

    def _write(self, session: Session, incoming: Incoming, data: bytes) -> None:
        try:
            incoming.upload.write(data)  # on a problem the upload is already aborted
        except FileProblem as problem:
            incoming.upload = None
            self._log_failure(session, incoming, _answer(problem)[1])
            self._refuse(session, problem, visible(incoming.path))
            if incoming.left == 0:
                del self._incoming[session]
            return
        incoming.hasher.update(data)

    def on_abort(self, session: Session, text: str) -> None:
        """The client gave up its upload (`!ABORT`): nothing is kept."""
        incoming = self._incoming.pop(session, None)
        if incoming is None:
            return  # its frames were all read already (after a refusal mid-way)
        if incoming.upload is not None:
            log.info("%s: put %s cancelled: %s", session.label, visible(incoming.path), visible(text))
        incoming.drop()

    def _complete(self, session: Session, incoming: Incoming) -> None:
        del self._incoming[session]
        if incoming.upload is None:
            return  # refused mid-way, and already said so
        if incoming.hasher.hexdigest() != incoming.request.sha256:
            self._fail(session, incoming, ErrorCode.CORRUPT, "upload_corrupt")
            return
        try:
            size = incoming.upload.finish(overwrite=session.may("overwrite", self._settings.overwrite))
        except FileProblem as problem:
            self._log_failure(session, incoming, _answer(problem)[1])
            self._refuse(session, problem, visible(incoming.path))
            return
        self._announce(session, incoming, size)

    def _log_failure(self, session: Session, incoming: Incoming, key: str) -> None:
        """An upload that was under way failed: why, in the log and (the class's language) on the console."""
        path = visible(incoming.path)
        log.warning("%s: put %s failed: %s", session.label, path, log_reason(key, name=path))
        reason = self._room.say(key, name=path)
        self._room.show(self._room.say("console_upload_failed", name=session.name, reason=reason))

    def _fail(self, session: Session, incoming: Incoming, code: ErrorCode, key: str) -> None:
        self._log_failure(session, incoming, key)
        self._incoming.pop(session, None)
        incoming.drop()
        self._room.send_error(session, code, key, name=visible(incoming.path))

    def _announce(self, session: Session, incoming: Incoming, size: int) -> None:
        seconds = max(time.monotonic() - incoming.started, 1e-6)
        path = visible(incoming.path)
        log.info(
            "received %s from %s: %d bytes in %.3f s (%s/s)",
            path,
            session.label,
            size,
            seconds,
            human_size(int(size / seconds)),
        )
        self._room.send_event(session, protocol.UploadSaved(self._room.name, size, incoming.path))
        self._room.announce("uploaded", exclude=session, name=session.name, path=path, size=human_size(size))

    def forget(self, session: Session) -> None:
        """The session is gone: its upload leaves nothing behind."""
        incoming = self._incoming.pop(session, None)
        if incoming is not None:
            if incoming.upload is not None:
                log.info("%s: put %s interrupted: nothing kept", session.label, visible(incoming.path))
            incoming.drop()
