"""The served tree's names: where the client is (PWD, CWD, CDUP), making and
removing (MKD, DELE, RMD), renaming (RNFR, then RNTO), and the files this
connection uploaded itself (which it may rename without --allow-overwrite).

Functions of the session's state (`FtpSession`, passed as `session`)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..storage import AlreadyExists, FileProblem, TreeEntry, display_path
from .events import Renamed
from .facts import locate
from .problems import NameNotAllowed, failure_code
from .replies import quote_path

if TYPE_CHECKING:
    from .session import FtpSession

MAX_FOLDERS_PER_SESSION = 256
MAX_FOLDER_DEPTH = 16
"""MKD limits: folders one connection may make, and how deep below the root."""
OWN_UPLOADS_REMEMBERED = 256
"""Files this connection uploaded, which it may rename without --allow-overwrite
(ncftpput -S and friends upload to a temporary name, then rename it)."""


@dataclass
class FilesState:
    """This module's state, kept by the session as `session.files`."""

    rename_from: tuple[str, ...] | None = None
    """RNFR's path; the session forgets it at any command but RNTO."""
    own_uploads: OrderedDict[tuple[str, ...], None] = field(default_factory=OrderedDict)
    """The last OWN_UPLOADS_REMEMBERED files this connection uploaded (`FtpSession.rights_for`)."""
    folders_made: int = 0


def cmd_pwd(session: FtpSession, _argument: str) -> None:
    session.say(257, "ftp_current_directory", path=quote_path(display_path(session.cwd)))


def cmd_cwd(session: FtpSession, argument: str) -> None:
    _change_directory(session, argument, 250, "ftp_directory_changed")


def cmd_cdup(session: FtpSession, _argument: str) -> None:
    _change_directory(session, "..", 200, "ftp_directory_up")


def _change_directory(session: FtpSession, argument: str, code: int, key: str) -> None:
    try:
        parts = session.path(argument)
    except FileProblem as problem:
        session.say(550, "not_a_directory", name=problem.name)
        return
    if not session.tree.is_dir(parts):
        session.say(550, "not_a_directory", name=display_path(parts))
        return
    session.cwd = parts
    session.say(code, key, path=display_path(parts))


def cmd_mkd(session: FtpSession, argument: str) -> None:
    try:
        parts = session.new_path(argument)
    except FileProblem as problem:
        session.refuse(problem, 553)
        return
    if session.files.folders_made >= MAX_FOLDERS_PER_SESSION:
        session.say(552, "ftp_folder_limit", limit=MAX_FOLDERS_PER_SESSION)
    elif len(parts) > MAX_FOLDER_DEPTH:
        session.say(553, "ftp_folder_too_deep", limit=MAX_FOLDER_DEPTH)
    else:
        _make_folder(session, parts)


def _make_folder(session: FtpSession, parts: tuple[str, ...]) -> None:
    try:
        session.tree.make_dir(
            parts,
            min_free_bytes=session.settings.min_free_bytes,
            min_free_inodes=session.settings.min_free_inodes,
        )
    except FileProblem as problem:
        session.refuse(problem, 550 if isinstance(problem, AlreadyExists) else failure_code(problem))
        return
    session.files.folders_made += 1
    session.say(257, "ftp_directory_created", path=quote_path(display_path(parts)))


def cmd_dele(session: FtpSession, argument: str) -> None:
    _remove_name(session, argument, session.tree.delete, "ftp_deleted")


def cmd_rmd(session: FtpSession, argument: str) -> None:
    _remove_name(session, argument, session.tree.remove_dir, "ftp_directory_removed")


def _remove_name(
    session: FtpSession, argument: str, remove: Callable[[tuple[str, ...]], None], key: str
) -> None:
    """DELE and RMD: only with --allow-overwrite (a deletion loses someone's work)."""
    if not session.rights.overwrite:
        session.say(550, "ftp_overwrite_off")
        return
    try:
        parts = session.path(argument)
        remove(parts)
    except FileProblem as problem:
        session.refuse(problem)
        return
    session.files.own_uploads.pop(parts, None)
    session.say(250, key)


def cmd_rnfr(session: FtpSession, argument: str) -> None:
    located = locate(session, argument)
    if located is None:
        return
    parts, entry = located
    if not parts or not _may_rename(session, parts, entry):
        session.say(550, "ftp_overwrite_off")
        return
    session.files.rename_from = parts
    session.say(350, "ftp_rename_ready")


def _may_rename(session: FtpSession, parts: tuple[str, ...], entry: TreeEntry) -> bool:
    """Renaming takes a name away, like deleting: --allow-overwrite, except
    for a file this connection uploaded itself (a temporary name)."""
    return session.rights.overwrite or (not entry.is_dir and parts in session.files.own_uploads)


def cmd_rnto(session: FtpSession, argument: str) -> None:
    source, session.files.rename_from = session.files.rename_from, None
    if source is None:
        session.say(503, "ftp_rnfr_first")
        return
    try:
        target = session.new_path(argument)
        session.tree.rename(source, target, overwrite=session.rights.overwrite)
    except FileProblem as problem:
        session.refuse(problem, 553 if isinstance(problem, (NameNotAllowed, AlreadyExists)) else 550)
        return
    if source in session.files.own_uploads:  # still this connection's own file, under its new name
        del session.files.own_uploads[source]
        remember_upload(session, target)
    session.emit(Renamed(display_path(source), display_path(target)))
    session.say(250, "ftp_renamed", path=display_path(target))


def remember_upload(session: FtpSession, parts: tuple[str, ...]) -> None:
    session.files.own_uploads[parts] = None
    while len(session.files.own_uploads) > OWN_UPLOADS_REMEMBERED:
        session.files.own_uploads.popitem(last=False)
