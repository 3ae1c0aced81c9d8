"""The served tree's names: where the client is (PWD, CWD, CDUP), making and
removing (MKD, DELE, RMD), renaming (RNFR, then RNTO), and the files this
connection uploaded itself (which it may rename without --allow-overwrite).

Functions of the session's state (`FtpSession`, passed as `session`)."""

from __future__ import annotations

from collections.abc import Callable

from ..storage import AlreadyExists, FileProblem, TreeEntry, display_path
from .events import Renamed
from .facts import locate
from .problems import NameNotAllowed, failure_code
from .replies import quote_path

MAX_FOLDERS_PER_SESSION = 256
MAX_FOLDER_DEPTH = 16
"""MKD limits: folders one connection may make, and how deep below the root."""
OWN_UPLOADS_REMEMBERED = 256
"""Files this connection uploaded, which it may rename without --allow-overwrite
(ncftpput -S and friends upload to a temporary name, then rename it)."""


def cmd_pwd(session, _argument: str) -> None:
    session._say(257, "ftp_current_directory", path=quote_path(display_path(session.cwd)))


def cmd_cwd(session, argument: str) -> None:
    _change_directory(session, argument, 250, "ftp_directory_changed")


def cmd_cdup(session, _argument: str) -> None:
    _change_directory(session, "..", 200, "ftp_directory_up")


def _change_directory(session, argument: str, code: int, key: str) -> None:
    try:
        parts = session._path(argument)
    except FileProblem as problem:
        session._say(550, "not_a_directory", name=problem.name)
        return
    if not session.tree.is_dir(parts):
        session._say(550, "not_a_directory", name=display_path(parts))
        return
    session.cwd = parts
    session._say(code, key, path=display_path(parts))


def cmd_mkd(session, argument: str) -> None:
    try:
        parts = session._new_path(argument)
    except FileProblem as problem:
        session._refuse(problem, 553)
        return
    if session._folders_made >= MAX_FOLDERS_PER_SESSION:
        session._say(552, "ftp_folder_limit", limit=MAX_FOLDERS_PER_SESSION)
    elif len(parts) > MAX_FOLDER_DEPTH:
        session._say(553, "ftp_folder_too_deep", limit=MAX_FOLDER_DEPTH)
    else:
        _make_folder(session, parts)


def _make_folder(session, parts: tuple[str, ...]) -> None:
    try:
        session.tree.make_dir(
            parts,
            min_free_bytes=session.settings.min_free_bytes,
            min_free_inodes=session.settings.min_free_inodes,
        )
    except FileProblem as problem:
        session._refuse(problem, 550 if isinstance(problem, AlreadyExists) else failure_code(problem))
        return
    session._folders_made += 1
    session._say(257, "ftp_directory_created", path=quote_path(display_path(parts)))


def cmd_dele(session, argument: str) -> None:
    _remove_name(session, argument, session.tree.delete, "ftp_deleted")


def cmd_rmd(session, argument: str) -> None:
    _remove_name(session, argument, session.tree.remove_dir, "ftp_directory_removed")


def _remove_name(session, argument: str, remove: Callable[[tuple[str, ...]], None], key: str) -> None:
    """DELE and RMD: only with --allow-overwrite (a deletion loses someone's work)."""
    if not session._rights.overwrite:
        session._say(550, "ftp_overwrite_off")
        return
    try:
        parts = session._path(argument)
        remove(parts)
    except FileProblem as problem:
        session._refuse(problem)
        return
    session._own_uploads.pop(parts, None)
    session._say(250, key)


def cmd_rnfr(session, argument: str) -> None:
    located = locate(session, argument)
    if located is None:
        return
    parts, entry = located
    if not parts or not _may_rename(session, parts, entry):
        session._say(550, "ftp_overwrite_off")
        return
    session._rename_from = parts
    session._say(350, "ftp_rename_ready")


def _may_rename(session, parts: tuple[str, ...], entry: TreeEntry) -> bool:
    """Renaming takes a name away, like deleting: --allow-overwrite, except
    for a file this connection uploaded itself (a temporary name)."""
    return session._rights.overwrite or (not entry.is_dir and parts in session._own_uploads)


def cmd_rnto(session, argument: str) -> None:
    source, session._rename_from = session._rename_from, None
    if source is None:
        session._say(503, "ftp_rnfr_first")
        return
    try:
        target = session._new_path(argument)
        session.tree.rename(source, target, overwrite=session._rights.overwrite)
    except FileProblem as problem:
        session._refuse(problem, 553 if isinstance(problem, (NameNotAllowed, AlreadyExists)) else 550)
        return
    if source in session._own_uploads:  # still this connection's own file, under its new name
        del session._own_uploads[source]
        remember_upload(session, target)
    session._emit(Renamed(display_path(source), display_path(target)))
    session._say(250, "ftp_renamed", path=display_path(target))


def remember_upload(session, parts: tuple[str, ...]) -> None:
    session._own_uploads[parts] = None
    while len(session._own_uploads) > OWN_UPLOADS_REMEMBERED:
        session._own_uploads.popitem(last=False)
