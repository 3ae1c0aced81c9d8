"""Listings: LIST, NLST and MLSD over a data connection, and STAT (the
session's status, or a path's listing as a long reply on the control
connection). A folder is read in steps (`storage.FolderReading`).

Functions of the session's state (`FtpSession`, passed as `session`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from ..storage import FileProblem, FolderReadFailed, FolderReading, TreeEntry, display_path
from .events import SendListing, SendReply
from .replies import fetchable, listing_pieces, ls_line, mlsd_line, reply, reply_pieces
from .transfers import have_data_channel, start_transfer

if TYPE_CHECKING:
    from .session import FtpSession


def cmd_stat(session: FtpSession, argument: str) -> None:
    if argument:
        _stat_path(session, argument)
        return
    transfer = session.messages("ftp_stat_transfer" if session.transfers.running else "ftp_stat_idle")
    lines = [
        session.messages("ftp_stat_title"),
        session.messages("ftp_stat_user", name=session.name, path=display_path(session.cwd)),
        session.messages("ftp_stat_type", type=session.transfer_type),
        transfer,
        session.messages("ftp_stat_end"),
    ]
    session.emit(SendReply(reply(211, *lines)))


def _stat_path(session: FtpSession, argument: str) -> None:
    """A listing over the control connection, built and sent in pieces."""
    try:
        entries = _listing_entries(session, argument)
    except FileProblem as problem:
        session.refuse(problem)
        return
    now = session.clock()
    first, last = session.messages("ftp_stat_of", path=argument), session.messages("ftp_stat_end")
    pieces = reply_pieces(213, first, entries, lambda taken: (ls_line(e, now) for e in taken), last)
    session.start_long_reply(_unless_unreadable(session, pieces))


def _unless_unreadable(session: FtpSession, pieces: Iterator[bytes | None]) -> Iterator[bytes | None]:
    """A long reply's `pieces`, or 451 when its folder fails partway through being read
    (before any piece was said: see `reply_pieces`)."""
    try:
        yield from pieces
    except FolderReadFailed as problem:
        yield reply(451, session.messages(problem.message_key, name=problem.name))


def _listing_entries(session: FtpSession, argument: str) -> FolderReading | list[TreeEntry]:
    """A directory's entries, read in steps (FolderReading), or the one entry of a file."""
    words = argument.split(" ")
    while words and words[0].startswith("-"):  # "LIST -la": options ls would take
        words.pop(0)
    parts = session.path(" ".join(words))
    entry = session.tree.entry(parts)
    return session.tree.read_folder(parts) if entry.is_dir else [entry]


def _send_listing(
    session: FtpSession, argument: str, render: Callable[[Iterable[TreeEntry]], Iterator[str]]
) -> None:
    if not have_data_channel(session):
        return
    try:
        entries = _listing_entries(session, argument)
    except FileProblem as problem:
        session.refuse(problem)
        return
    start_transfer(session, SendListing(listing_pieces(entries, render)), "ftp_listing_opening")


def cmd_list(session: FtpSession, argument: str) -> None:
    now = session.clock()
    _send_listing(session, argument, lambda entries: (ls_line(e, now) for e in entries))


def cmd_nlst(session: FtpSession, argument: str) -> None:
    _send_listing(session, argument, lambda entries: (e.name for e in entries if fetchable(e)))


def cmd_mlsd(session: FtpSession, argument: str) -> None:
    try:
        if argument and not session.tree.entry(session.path(argument)).is_dir:
            session.say(501, "not_a_directory", name=argument)
            return
    except FileProblem as problem:
        session.refuse(problem)
        return
    folder = session.path(argument)
    _send_listing(
        session,
        argument,
        lambda entries: (
            mlsd_line(e, session.rights_for((*folder, e.name))) for e in entries if fetchable(e)
        ),
    )
