"""Every session's downloads: queued by path, opened one at a time through
storage.Tree, hashed in bounded steps (with a digest cache), and cut into
`!DATA` frames only while the session's output is below the low-water mark, so
a download never costs more memory than a frame header, however slowly its
client reads. Frames are sized to what the connection drains (pacing.py), and
one is queued at a time, so a chat line waits for at most one small frame."""

from __future__ import annotations

import logging
from typing import Protocol

from . import protocol
from .logs import log_reason
from .messages import Messages, human_size
from .protocol import ErrorCode
from .room import Loop
from .session import Session
from .storage import FileChanged, FileProblem, Storage, Tree, split_path
from .text import visible
from .transfer import HashCache, Transfer

log = logging.getLogger("ftplab.server")

MAX_QUEUED_DOWNLOADS = 32
"""Downloads one client may have asked for and not yet received; more are refused."""


class QueueFull(FileProblem):
    """The client already has MAX_QUEUED_DOWNLOADS downloads waiting."""

    code = ErrorCode.QUEUE_FULL
    message_key = "download_queue_full"


class Room(Protocol):
    """What downloads need from the room."""

    name: str
    say: Messages

    def send_error(self, session: Session, code: ErrorCode, key: str, **values) -> None: ...

    def send_file_error(self, session: Session, code: ErrorCode, key: str, name: str, **values) -> None: ...

    def say_to(self, member) -> Messages: ...

    def show(self, text: str) -> None: ...


class Downloads:
    """The downloads scheduler: hashing in steps, the digest cache, frames under back-pressure."""

    def __init__(self, storage: Storage, room: Room, loop: Loop):
        self._tree = Tree(storage)
        self._room = room
        self._name = room.name
        self._loop = loop
        self._cache = HashCache()
        self._hashing: set[Session] = set()

    @property
    def digests(self) -> HashCache:
        """The digest cache, shared with the FTP door's HASH."""
        return self._cache

    @property
    def hashing(self) -> bool:
        """Some download is being hashed: the loop should not sleep."""
        return bool(self._hashing)

    def request(
        self, session: Session, parts: tuple[str, ...], resume_from: tuple[int, str] | None = None
    ) -> FileProblem | None:
        """Queue the file at `parts` (from the root) for `session`, or say why not.
        The file is checked now, and opened when its turn comes. `resume_from`:
        (offset, SHA-256 of the client's first `offset` bytes), to send only the
        rest (see docs/protocol.md, Resuming); checked and counted as a `get`."""
        if len(session.transfers) >= MAX_QUEUED_DOWNLOADS:
            return QueueFull("/".join(parts))
        try:
            self._tree.open(parts).close()
        except FileProblem as problem:
            return problem
        session.transfers.append(Transfer(parts, self._cache, resume_from))
        self._loop.touch(session)
        return None

    def cancel(self, session: Session, argument: str, _now: float = 0.0) -> None:
        """`cancel [NAME]`: the first download of NAME (its path as asked, from the session's
        folder, or its file name), else the one under way, stops. One not begun leaves the
        queue (`!REFUSED cancelled NAME` and the `!ERR` for protocol 2, as any refusal); one
        under way ends after the frame already queued, with `!ABORT` (the stream stays whole)."""
        transfer = self._cancellable(session, argument)
        if transfer is None:
            self._room.send_error(session, ErrorCode.NO_FILE, "cancel_nothing", name=visible(argument or "-"))
            return
        log.info("%s cancelled %s", session.label, visible(transfer.name))
        if transfer.header_sent:
            transfer.cancelled = True
        else:
            if transfer is session.transfers[0]:
                self._hashing.discard(session)
            session.transfers.remove(transfer)
            transfer.close()
            name = argument or transfer.parts[-1]
            self._room.send_file_error(session, ErrorCode.CANCELLED, "download_cancelled", name)
        self._loop.touch(session)

    @staticmethod
    def _cancellable(session: Session, argument: str):
        try:
            parts = split_path(session.cwd, argument) if argument else None
        except FileProblem:
            parts = None
        for transfer in session.transfers:
            if not transfer.cancelled and (
                not argument or argument == transfer.parts[-1] or parts == transfer.parts
            ):
                return transfer
        return None

    def forget(self, session: Session) -> None:
        self._hashing.discard(session)

    # --- frames -------------------------------------------------------------------

    def pump(self, session: Session) -> None:
        """Queue the next frames of the current download while the session's output is low."""
        outbox = session.outbox
        while session.transfers:
            transfer = session.transfers[0]
            if transfer.cancelled and not transfer.done:
                if outbox.has_file_slice:
                    return  # the frame under way goes out whole first
                self._end_cancelled(session, transfer)
                continue
            if not transfer.opened and not self._open(session, transfer):
                continue
            if transfer.hashing:
                self._hashing.add(session)
                return
            if not transfer.header_sent:
                session.queue(transfer.header(self._name), self._loop.now)
            if not transfer.done and session.below_low_water and not outbox.has_file_slice:
                header, offset, count = transfer.next_frame(
                    self._name, session.pacer.next_frame_bytes(self._loop.now)
                )
                session.queue_frame(header, transfer.file.fd, offset, count, self._loop.now)
            if not transfer.done or outbox.has_file_slice:
                return
            self._finish(session, transfer)

    def _open(self, session: Session, transfer: Transfer) -> bool:
        try:
            transfer.open(self._tree)
        except FileProblem as problem:
            session.transfers.popleft()
            shown = visible(transfer.name)
            reason = log_reason(problem.message_key, name=shown)
            log.info("%s: get %s failed when its turn came: %s", session.label, shown, reason)
            self._room.send_file_error(session, problem.code, problem.message_key, transfer.name)
            return False
        return True

    def _finish(self, session: Session, transfer: Transfer) -> None:
        size, seconds, rate = transfer.summary()
        name = visible(transfer.name)
        say = self._room.say
        if transfer.changed_since_opened():
            log.warning(
                "%s changed while being sent to %s: the client will find it corrupt", name, session.label
            )
            self._console_failed(session, name, say("console_file_changed"))
        else:
            log.info(
                "sent %s to %s: %d bytes in %.3f s (%s/s)",
                name,
                session.label,
                size,
                seconds,
                human_size(int(rate)),
            )
            self._room.show(say("console_sent", name=session.name, path=name, size=human_size(size)))
        session.transfers.popleft().close()
        session.last_activity = self._loop.now

    def _console_failed(self, session: Session, name: str, reason: str) -> None:
        """A warning for the teacher, in the class's language: a download that failed."""
        self._room.show(self._room.say("console_send_failed", name=session.name, path=name, reason=reason))

    def _end_cancelled(self, session: Session, transfer) -> None:
        session.transfers.popleft().close()
        text = self._room.say_to(session)("download_cancelled", name=visible(transfer.parts[-1]))
        session.queue(protocol.encode(protocol.FileAbort(self._name, text)), self._loop.now)

    def file_changed(self, session: Session) -> None:
        """The file being sent shrank: finish the frame with zeros so the stream
        stays readable, then tell the client the download failed."""
        session.outbox.replace_head_with_zeros()
        transfer = session.transfers.popleft()
        name = visible(transfer.name)
        log.warning("%s shrank while being sent to %s", name, session.label)
        self._console_failed(session, name, self._room.say("console_file_changed"))
        transfer.close()
        abort = protocol.FileAbort(self._name, self._room.say_to(session)("transfer_aborted", name=name))
        session.queue(protocol.encode(abort), self._loop.now)
        self._loop.touch(session)

    # --- hashing ------------------------------------------------------------------

    def hash_step(self, guard) -> None:
        """One bounded step of hashing for each session waiting on a digest; `guard` runs it safely."""
        if not self._hashing:
            return  # every turn asks: no copy of an empty set
        for session in list(self._hashing):
            self._hashing.discard(session)
            if session.is_open and session.transfers:
                guard(session, self._hash_some)

    def _hash_some(self, session: Session) -> None:
        transfer = session.transfers[0]
        try:
            transfer.hash_step()
        except (FileChanged, OSError) as error:
            name = visible(transfer.name)
            log.warning("could not read %s for %s: %s", name, session.label, _why(error))
            self._console_failed(session, name, self._room.say("unreadable_file", name=name))
            session.transfers.popleft().close()
            self._room.send_file_error(session, ErrorCode.DENIED, "unreadable_file", transfer.name)
            return
        if transfer.hashing:
            self._hashing.add(session)
        else:
            self._loop.touch(session)


def _why(error: Exception) -> str:
    """An error as the log says it: the system's words (`Permission denied`), else a sentence."""
    if isinstance(error, FileChanged):
        return "it changed while being read"
    return getattr(error, "strerror", None) or str(error) or "it could not be read"
