"""Facts about one file over the control connection: SIZE, MDTM, MLST, HASH
(a long reply, read HASH_STEP_BYTES per step), and MFMT, which sets one.

Functions of the session's state (`FtpSession`, passed as `session`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..storage import FileProblem, TreeEntry, display_path
from ..transfer import HASH_STEP_BYTES
from .commands import COMMANDS, HASH_NAME
from .events import SendReply
from .replies import mlsx_facts, mlsx_time, parse_mlsx_time, reply

if TYPE_CHECKING:
    from .session import FtpSession


def locate(session: FtpSession, argument: str) -> tuple[tuple[str, ...], TreeEntry] | None:
    """The path ARGUMENT names and its entry in the tree, or None once the
    reason there is none (missing, outside the root, a link) has been answered."""
    try:
        parts = session.path(argument)
        return parts, session.tree.entry(parts)
    except FileProblem as problem:
        session.refuse(problem)
        return None


def cmd_size(session: FtpSession, argument: str) -> None:
    _answer_file_fact(session, argument, lambda entry: str(entry.size))


def cmd_mdtm(session: FtpSession, argument: str) -> None:
    _answer_file_fact(session, argument, lambda entry: mlsx_time(entry.mtime))


def _answer_file_fact(session: FtpSession, argument: str, fact: Callable[[TreeEntry], str]) -> None:
    located = locate(session, argument)
    if located is None:
        return
    _, entry = located
    if entry.is_dir:
        session.say(550, "not_a_file", name=argument)
    else:
        session.emit(SendReply(reply(213, fact(entry))))


def cmd_mfmt(session: FtpSession, argument: str) -> None:
    """MFMT YYYYMMDDHHMMSS path: set a file's modification time (keeps an
    upload's time, as rclone and lftp ask). A time is not content: --allow-upload."""
    stamp, _, name = argument.partition(" ")
    mtime = parse_mlsx_time(stamp)
    if mtime is None or not name:
        session.say(501, "ftp_syntax", syntax=COMMANDS["MFMT"].syntax)
        return
    try:
        parts = session.path(name)
        session.tree.set_mtime(parts, mtime)
    except FileProblem as problem:
        session.refuse(problem)
        return
    session.emit(SendReply(reply(213, f"Modify={mlsx_time(mtime)}; {display_path(parts)}")))


def cmd_hash(session: FtpSession, argument: str) -> None:
    """HASH path: the file's SHA-256 (draft-bryan-ftp-hash), from the digest
    cache the lab door's `get` fills, else read HASH_STEP_BYTES per step."""
    try:
        parts = session.path(argument)
        opened = session.tree.open(parts)
    except FileProblem as problem:
        session.refuse(problem)
        return
    session.start_long_reply(_hash_reply(session, opened, display_path(parts)))


def _hash_reply(session: FtpSession, opened, path: str) -> Iterator[bytes | None]:
    try:
        digest = session.digests.get(opened.identity)
        if digest is None:
            hasher = hashlib.sha256()
            for offset in range(0, opened.size, HASH_STEP_BYTES):
                hasher.update(os.pread(opened.fd, HASH_STEP_BYTES, offset))
                yield None
            digest = hasher.hexdigest()
            session.digests.put(opened.identity, digest)
    except OSError:
        yield reply(451, session.messages("ftp_local_error"))
        return
    finally:
        opened.close()
    yield reply(213, f"{HASH_NAME} 0-{opened.size} {digest} {path}")


def cmd_mlst(session: FtpSession, argument: str) -> None:
    located = locate(session, argument)
    if located is None:
        return
    parts, entry = located
    path = display_path(parts)
    facts = mlsx_facts(entry, session.rights_for(parts))
    lines = [session.messages("ftp_listing", path=path), f"{facts} {path}", session.messages("ftp_end")]
    session.emit(SendReply(reply(250, *lines)))
