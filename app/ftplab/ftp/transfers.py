"""Transfers over the data connection: REST, RETR, STOR, APPE, ABOR, how a
transfer starts (150, then the loop's action) and the events that end it.
The session owns the open file or upload and closes or aborts it here.

Functions of the session's state (`FtpSession`, passed as `session`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..storage import FileProblem
from .commands import COMMANDS
from .datachannel import drop_data_channel
from .events import (
    CloseData,
    ConnectActive,
    DataConnectFailed,
    FileSent,
    ReceiveUpload,
    SendFile,
    SendListing,
    TransferBroken,
    TransferDone,
    TransferFailed,
    UploadFinished,
)
from .files import remember_upload
from .problems import failure_code

if TYPE_CHECKING:
    from .session import FtpSession


@dataclass
class TransfersState:
    """This module's state, kept by the session as `session.transfers` (which is
    `busy` while one runs)."""

    running: SendFile | SendListing | ReceiveUpload | None = None
    """The running transfer's action."""
    rest: int = 0
    """REST's offset, for the next RETR."""
    receiving: tuple[str, ...] | None = None
    """Where the running upload goes."""


def start_transfer(session: FtpSession, action, key: str, **values) -> None:
    """150 now, then the data connection and the transfer (the loop's part)."""
    mode, *where = session.datachannel.address
    session.datachannel.address = None
    session.transfers.rest = 0
    session.say(150, key, **values)
    if mode == "active":
        session.emit(ConnectActive(*where))
    session.transfers.running = action
    session.emit(action)


def have_data_channel(session: FtpSession) -> bool:
    if session.datachannel.address is None:
        session.say(425, "ftp_use_pasv")
        return False
    return True


def cmd_rest(session: FtpSession, argument: str) -> None:
    if not (argument.isascii() and argument.isdigit() and len(argument) <= 19):
        session.say(501, "ftp_syntax", syntax=COMMANDS["REST"].syntax)
        return
    session.transfers.rest = int(argument)
    session.say(350, "ftp_restarting", offset=session.transfers.rest)


def cmd_retr(session: FtpSession, argument: str) -> None:
    if not have_data_channel(session):
        return
    try:
        opened = session.tree.open(session.path(argument))
    except FileProblem as problem:
        session.refuse(problem)
        return
    if session.transfers.rest > opened.size:
        opened.close()
        session.transfers.rest = 0
        session.say(554, "ftp_bad_restart", size=opened.size)
        return
    kind = "BINARY" if session.transfer_type == "I" else "ASCII"
    action = SendFile(opened, session.transfers.rest)
    start_transfer(session, action, "ftp_opening", kind=kind, name=opened.name, size=opened.size)


def cmd_stor(session: FtpSession, argument: str) -> None:
    _receive(session, argument, append=False)


def cmd_appe(session: FtpSession, argument: str) -> None:
    _receive(session, argument, append=True)


def _receive(session: FtpSession, argument: str, *, append: bool) -> None:
    if not have_data_channel(session):
        return
    if session.transfers.rest:
        session.transfers.rest = 0
        session.say(554, "ftp_no_upload_restart")
        return
    try:
        parts = session.new_path(argument)
        upload = session.tree.start_upload(
            parts,
            overwrite=session.rights.overwrite,
            max_bytes=session.settings.max_upload_bytes,
            append=append,
            min_free_bytes=session.settings.min_free_bytes,
        )
    except FileProblem as problem:
        session.refuse(problem, failure_code(problem))
        return
    session.transfers.receiving = parts
    start_transfer(session, ReceiveUpload(upload), "ftp_receiving", name=upload.name)


def cmd_abor(session: FtpSession, _argument: str) -> None:
    if session.transfers.running is not None:
        end_transfer(session)
        session.emit(CloseData())
        session.say(426, "ftp_transfer_aborted")
    else:
        drop_data_channel(session)
    session.say(226, "ftp_abort_ok")


def end_transfer(session: FtpSession):
    """Forget the running transfer, closing its file or dropping its upload."""
    action, session.transfers.running = session.transfers.running, None
    if isinstance(action, SendFile):
        action.file.close()
    elif isinstance(action, ReceiveUpload):
        action.upload.abort()
    return action


def on_transfer_done(session: FtpSession, _event: TransferDone) -> None:
    if not isinstance(session.transfers.running, ReceiveUpload):
        action = end_transfer(session)
        if isinstance(action, SendFile):
            session.emit(FileSent(action.file.name, action.file.size - action.offset))
        if action is not None:
            session.say(226, "ftp_transfer_complete")
        return
    upload = session.transfers.running.upload
    session.transfers.running = None
    try:
        size = upload.finish(overwrite=session.rights.overwrite)
    except FileProblem as problem:
        session.refuse(problem, failure_code(problem))
        return
    remember_upload(session, session.transfers.receiving)
    session.emit(UploadFinished(upload.name, size))
    session.say(226, "ftp_transfer_complete")


def on_transfer_broken(session: FtpSession, _event: TransferBroken) -> None:
    if end_transfer(session) is not None:
        session.say(426, "ftp_transfer_aborted")


def on_transfer_failed(session: FtpSession, event: TransferFailed) -> None:
    if end_transfer(session) is None:
        return
    if event.problem is None:
        session.say(451, "ftp_local_error")
    else:
        session.refuse(event.problem, failure_code(event.problem))


def on_data_connect_failed(session: FtpSession, _event: DataConnectFailed) -> None:
    if end_transfer(session) is not None:
        session.say(425, "ftp_no_data_connection")
