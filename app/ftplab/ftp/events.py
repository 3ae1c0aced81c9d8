"""What the session asks of the loop (actions) and what the loop tells it (events):
frozen dataclasses, one per kind, matched by type."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..storage import FileProblem, OpenFile, Upload

# --- actions: the loop carries them out in order --------------------------------------


@dataclass(frozen=True)
class SendReply:
    """Bytes for the control connection."""

    data: bytes


@dataclass(frozen=True)
class Join:
    """Ask the Room to admit `name`."""

    name: str


@dataclass(frozen=True)
class StartTls:
    """AUTH TLS: the control connection speaks TLS after the reply queued before this."""


@dataclass(frozen=True)
class OpenPassive:
    """Open a passive listener for the control connection's peer only."""


@dataclass(frozen=True)
class ConnectActive:
    """Connect the data connection to the peer's own (host, port)."""

    host: str
    port: int


@dataclass(frozen=True)
class SendFile:
    """Send `file` from `offset` to its end over the data connection."""

    file: OpenFile
    offset: int


@dataclass(frozen=True)
class SendListing:
    """Send these pieces over the data connection, one after the other, each
    taken only when the one before has been sent (a listing is never whole in memory)."""

    pieces: Iterator[bytes]


@dataclass(frozen=True)
class ReceiveUpload:
    """Read the data connection to its end into `upload`."""

    upload: Upload


@dataclass(frozen=True)
class UploadFinished:
    """A file arrived: tell the others."""

    path: str
    size: int


@dataclass(frozen=True)
class FileSent:
    """A file (or its part from a REST offset) went out whole: the teacher's console says so."""

    path: str
    size: int


@dataclass(frozen=True)
class Renamed:
    """A file or folder was renamed (RNFR/RNTO): tell the others, like an upload."""

    old: str
    new: str


@dataclass(frozen=True)
class Delay:
    """Wait `seconds` (without holding the loop), then feed DelayOver: a failed
    login's reply is due only then, and the session reads no line meanwhile."""

    seconds: float


@dataclass(frozen=True)
class CloseData:
    """Drop the data connection or passive listener, if any."""


@dataclass(frozen=True)
class Close:
    """Close the control connection once the queued replies are sent."""


# --- events: the loop feeds them back with FtpSession.handle ----------------------------


@dataclass(frozen=True)
class Joined:
    """The Room admitted the user."""


@dataclass(frozen=True)
class JoinRefused:
    """The Room refused the user; `text` says why."""

    text: str


@dataclass(frozen=True)
class DelayOver:
    """The time a Delay asked for has passed."""


@dataclass(frozen=True)
class PassiveOpened:
    """The passive listener is open on `port`."""

    port: int


@dataclass(frozen=True)
class PassiveFailed:
    """No passive port could be opened."""


@dataclass(frozen=True)
class DataConnectFailed:
    """The data connection never came (timeout, refused, foreign address)."""


@dataclass(frozen=True)
class TransferDone:
    """The data connection ended cleanly (all sent, or EOF on an upload)."""


@dataclass(frozen=True)
class TransferBroken:
    """The peer broke the data connection mid-transfer."""


@dataclass(frozen=True)
class TransferFailed:
    """A local error ended the transfer (a FileProblem from an upload, or None)."""

    problem: FileProblem | None = None
