"""The FTP door's control connection (RFC 959, 2428, 3659), with no networking code at all.

`FtpSession` is one control connection's state machine. The loop feeds it the
bytes it reads (`receive_data`) and what happened on the data side (`handle`
with an event below), and carries out, in order, the actions it takes from
`next_action()`: send reply bytes, open a passive listener, connect to an
active address, run a transfer over the data connection, close. Storage is
reached only through `storage.Tree`; every reply text comes from `messages`.

The loop's contract (fairness: one connection never holds the loop):

    receive_data(bytes)  only keeps the bytes; read the control connection
                         again only while `wants_data` (no whole line waits)
    advance()            runs at most LINES_PER_STEP lines and builds at most
                         about REPLY_BYTES_PER_STEP of replies (a long reply --
                         STAT of a folder, HASH of a big file -- goes on by one
                         piece or one read per step). Call it only while the
                         control connection's output is below its high-water
                         mark, then carry out the actions; call it again on a
                         later turn while `has_work`.

Actions (what the loop must do) and the events it feeds back:

    SendReply(data)        write the bytes to the control connection
    Join(name)             add the user to the Room  -> Joined() | JoinRefused(text)
    OpenPassive()          listen on a --passive-ports port, accept only the control
                           peer's address, time out  -> PassiveOpened(port) | PassiveFailed()
    ConnectActive(host, port)  connect the data connection (already checked: the peer's
                           own address, port >= 1024) before the transfer that follows
    SendFile(file, offset) send file.fd from offset to file.size (os.sendfile)
    SendListing(pieces)    send these byte pieces, taking the next one only
                           when the last is sent
    ReceiveUpload(upload)  read to EOF, passing each chunk to upload.write (which
                           raises a FileProblem: feed TransferFailed(problem))
                           -> then, for every transfer: TransferDone() on a clean end,
                           TransferBroken() when the peer reset, DataConnectFailed()
                           when no data connection came, TransferFailed(problem) on a
                           local error
    UploadFinished(path, size)  tell the room that a file arrived
    FileSent(path, size)   tell the teacher's console that a file (from REST on) went out
    StartTls()             speak TLS on the control connection after what is queued (AUTH TLS)
    Renamed(old, new)      tell the room that a file or folder was renamed
    Delay(seconds)         wait that long without holding the loop -> DelayOver()
                           (a failed login's reply: logins.LoginGuard says how long)
    CloseData()            drop the data connection or listener, if any
    Close()                close the control connection (after sending what is queued)

The session owns every open file and upload: it closes or aborts them itself
when a transfer ends, so the loop only moves bytes. Events for a transfer that
has already ended (after ABOR) are ignored. While a join, a passive listener or
a transfer is pending, later commands wait in a short queue (ABOR and a plain STAT
are answered at once); a client that queues more than MAX_QUEUED_COMMANDS is cut off
with 421. docs/protocol.md ("The FTP door") has the command table with replies.

Modules: `events` (actions and events), `lines` (command lines, PORT/EPRT
addresses), `commands` (the table), `replies` (reply and listing lines),
`session` (the state machine and its dispatch tables), and the commands it
dispatches to, each a module of functions taking the session: `login`,
`security`, `basics`, `files`, `facts`, `listings`, `datachannel`,
`transfers` (with `problems`: file problems as reply codes); `options` checks
the door's options at start.
"""

from ..logins import LoginGuard
from .commands import COMMANDS, Command, Rights, features
from .events import (
    Close,
    CloseData,
    ConnectActive,
    DataConnectFailed,
    Delay,
    DelayOver,
    FileSent,
    Join,
    Joined,
    JoinRefused,
    OpenPassive,
    PassiveFailed,
    PassiveOpened,
    ReceiveUpload,
    Renamed,
    SendFile,
    SendListing,
    SendReply,
    StartTls,
    TransferBroken,
    TransferDone,
    TransferFailed,
    UploadFinished,
)
from .files import MAX_FOLDER_DEPTH, MAX_FOLDERS_PER_SESSION
from .lines import MAX_COMMAND_BYTES, TOO_LONG, LineBuffer, parse_command, parse_eprt, parse_port
from .replies import ls_line, mlsx_facts, mlsx_time, quote_path, reply
from .session import LINES_PER_STEP, MAX_QUEUED_COMMANDS, REPLY_BYTES_PER_STEP, FtpSession, FtpSettings

__all__ = [
    "COMMANDS",
    "LINES_PER_STEP",
    "MAX_COMMAND_BYTES",
    "MAX_FOLDERS_PER_SESSION",
    "MAX_FOLDER_DEPTH",
    "MAX_QUEUED_COMMANDS",
    "REPLY_BYTES_PER_STEP",
    "TOO_LONG",
    "Close",
    "CloseData",
    "Command",
    "ConnectActive",
    "DataConnectFailed",
    "Delay",
    "DelayOver",
    "FileSent",
    "FtpSession",
    "FtpSettings",
    "Join",
    "JoinRefused",
    "Joined",
    "LineBuffer",
    "LoginGuard",
    "OpenPassive",
    "PassiveFailed",
    "PassiveOpened",
    "ReceiveUpload",
    "Renamed",
    "Rights",
    "SendFile",
    "SendListing",
    "SendReply",
    "StartTls",
    "TransferBroken",
    "TransferDone",
    "TransferFailed",
    "UploadFinished",
    "features",
    "ls_line",
    "mlsx_facts",
    "mlsx_time",
    "parse_command",
    "parse_eprt",
    "parse_port",
    "quote_path",
    "reply",
]
