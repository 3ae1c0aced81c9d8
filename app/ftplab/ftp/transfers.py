"""Transfers over the data connection: REST, RETR, STOR, APPE, ABOR, how a
transfer starts (150, then the loop's action) and the events that end it.
The session owns the open file or upload and closes or aborts it here.

Functions of the session's state (`FtpSession`, passed as `session`)."""

from __future__ import annotations

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
    TransferBroken,
    TransferDone,
    TransferFailed,
    UploadFinished,
)
from .files import remember_upload
from .problems import failure_code


def start_transfer(session, action, key: str, **values) -> None:
    """150 now, then the data connection and the transfer (the loop's part)."""
    mode, *where = session._data
    session._data = None
    session._rest = 0
    session._say(150, key, **values)
    if mode == "active":
        session._emit(ConnectActive(*where))
    session._transfer = action
    session._emit(action)


def have_data_channel(session) -> bool:
    if session._data is None:
        session._say(425, "ftp_use_pasv")
        return False
    return True


def cmd_rest(session, argument: str) -> None:
    if not (argument.isascii() and argument.isdigit() and len(argument) <= 19):
        session._say(501, "ftp_syntax", syntax=COMMANDS["REST"].syntax)
        return
    session._rest = int(argument)
    session._say(350, "ftp_restarting", offset=session._rest)


def cmd_retr(session, argument: str) -> None:
    if not have_data_channel(session):
        return
    try:
        opened = session.tree.open(session._path(argument))
    except FileProblem as problem:
        session._refuse(problem)
        return
    if session._rest > opened.size:
        opened.close()
        session._rest = 0
        session._say(554, "ftp_bad_restart", size=opened.size)
        return
    kind = "BINARY" if session._type == "I" else "ASCII"
    action = SendFile(opened, session._rest)
    start_transfer(session, action, "ftp_opening", kind=kind, name=opened.name, size=opened.size)


def cmd_stor(session, argument: str) -> None:
    _receive(session, argument, append=False)


def cmd_appe(session, argument: str) -> None:
    _receive(session, argument, append=True)


def _receive(session, argument: str, *, append: bool) -> None:
    if not have_data_channel(session):
        return
    if session._rest:
        session._rest = 0
        session._say(554, "ftp_no_upload_restart")
        return
    try:
        parts = session._new_path(argument)
        upload = session.tree.start_upload(
            parts,
            overwrite=session._rights.overwrite,
            max_bytes=session.settings.max_upload_bytes,
            append=append,
            min_free_bytes=session.settings.min_free_bytes,
        )
    except FileProblem as problem:
        session._refuse(problem, failure_code(problem))
        return
    session._receiving = parts
    start_transfer(session, ReceiveUpload(upload), "ftp_receiving", name=upload.name)


def cmd_abor(session, _argument: str) -> None:
    if session._transfer is not None:
        end_transfer(session)
        session._emit(CloseData())
        session._say(426, "ftp_transfer_aborted")
    else:
        drop_data_channel(session)
    session._say(226, "ftp_abort_ok")


def end_transfer(session):
    """Forget the running transfer, closing its file or dropping its upload."""
    action, session._transfer = session._transfer, None
    if isinstance(action, SendFile):
        action.file.close()
    elif isinstance(action, ReceiveUpload):
        action.upload.abort()
    return action


def on_transfer_done(session, _event: TransferDone) -> None:
    if not isinstance(session._transfer, ReceiveUpload):
        action = end_transfer(session)
        if isinstance(action, SendFile):
            session._emit(FileSent(action.file.name, action.file.size - action.offset))
        if action is not None:
            session._say(226, "ftp_transfer_complete")
        return
    upload = session._transfer.upload
    session._transfer = None
    try:
        size = upload.finish(overwrite=session._rights.overwrite)
    except FileProblem as problem:
        session._refuse(problem, failure_code(problem))
        return
    remember_upload(session, session._receiving)
    session._emit(UploadFinished(upload.name, size))
    session._say(226, "ftp_transfer_complete")


def on_transfer_broken(session, _event: TransferBroken) -> None:
    if end_transfer(session) is not None:
        session._say(426, "ftp_transfer_aborted")


def on_transfer_failed(session, event: TransferFailed) -> None:
    if end_transfer(session) is None:
        return
    if event.problem is None:
        session._say(451, "ftp_local_error")
    else:
        session._refuse(event.problem, failure_code(event.problem))


def on_data_connect_failed(session, _event: DataConnectFailed) -> None:
    if end_transfer(session) is not None:
        session._say(425, "ftp_no_data_connection")
