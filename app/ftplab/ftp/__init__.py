"""The FTP door's control connection (RFC 959, 2428, 3659), with no networking code at all.

`FtpSession` is one control connection's state machine. The loop feeds it the
bytes it reads (`receive_data`) and what happened on the data side (`handle`
with an event below), and carries out, in order, the actions it takes from
`next_action()`: send reply bytes, open a passive listener, connect to an
active address, run a transfer over the data connection, close. Storage is
reached only through `storage.Tree`; every reply text comes from `messages`.

Actions (what the loop must do) and the events it feeds back:

    SendReply(data)        write the bytes to the control connection
    Join(name)             add the user to the Room  -> Joined() | JoinRefused(text)
    OpenPassive()          listen on a --passive-ports port, accept only the control
                           peer's address, time out  -> PassiveOpened(port) | PassiveFailed()
    ConnectActive(host, port)  connect the data connection (already checked: the peer's
                           own address, port >= 1024) before the transfer that follows
    SendFile(file, offset) send file.fd from offset to file.size (os.sendfile)
    SendListing(data)      send these bytes
    ReceiveUpload(upload)  read to EOF, passing each chunk to upload.write (which
                           raises a FileProblem: feed TransferFailed(problem))
                           -> then, for every transfer: TransferDone() on a clean end,
                           TransferBroken() when the peer reset, DataConnectFailed()
                           when no data connection came, TransferFailed(problem) on a
                           local error
    UploadFinished(path, size)  tell the room that a file arrived
    CloseData()            drop the data connection or listener, if any
    Close()                close the control connection (after sending what is queued)

The session owns every open file and upload: it closes or aborts them itself
when a transfer ends, so the loop only moves bytes. Events for a transfer that
has already ended (after ABOR) are ignored. While a join, a passive listener or
a transfer is pending, later commands wait in a short queue (ABOR and STAT are
answered at once); a client that queues more than MAX_QUEUED_COMMANDS is cut off
with 421. docs/protocol.md ("The FTP door") has the command table with replies.

Modules: `events` (actions and events), `lines` (command lines, PORT/EPRT
addresses), `commands` (the table), `replies` (reply and listing lines),
`session` (the state machine).
"""

from .commands import COMMANDS, FEATURES, Command
from .events import (
    Close,
    CloseData,
    ConnectActive,
    DataConnectFailed,
    Join,
    Joined,
    JoinRefused,
    OpenPassive,
    PassiveFailed,
    PassiveOpened,
    ReceiveUpload,
    SendFile,
    SendListing,
    SendReply,
    TransferBroken,
    TransferDone,
    TransferFailed,
    UploadFinished,
)
from .lines import MAX_COMMAND_BYTES, TOO_LONG, LineBuffer, parse_command, parse_eprt, parse_port
from .replies import ls_line, mlsx_facts, mlsx_time, quote_path, reply
from .session import MAX_QUEUED_COMMANDS, FtpSession, FtpSettings

__all__ = [
    "COMMANDS",
    "FEATURES",
    "MAX_COMMAND_BYTES",
    "MAX_QUEUED_COMMANDS",
    "TOO_LONG",
    "Close",
    "CloseData",
    "Command",
    "ConnectActive",
    "DataConnectFailed",
    "FtpSession",
    "FtpSettings",
    "Join",
    "JoinRefused",
    "Joined",
    "LineBuffer",
    "OpenPassive",
    "PassiveFailed",
    "PassiveOpened",
    "ReceiveUpload",
    "SendFile",
    "SendListing",
    "SendReply",
    "TransferBroken",
    "TransferDone",
    "TransferFailed",
    "UploadFinished",
    "ls_line",
    "mlsx_facts",
    "mlsx_time",
    "parse_command",
    "parse_eprt",
    "parse_port",
    "quote_path",
    "reply",
]
