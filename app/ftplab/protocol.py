"""The ftplab wire protocol, with no networking code at all.

Bytes go in (`Receiver.feed`), events come out (`Receiver.next_event`), and
`encode` turns events back into bytes. The server and the client both use this
module; the sockets live in the server's loop and in `client/app.py`.

Every line on the wire is UTF-8, ends with LF (a CR before the LF is dropped)
and starts with the sender's name and "> ". A server line whose text starts
with "!" is a control line (`!FILE`, `!DATA`, ...); display text that really
starts with "!" travels as "!!". After a `!DATA N` line come N raw bytes of the
file being downloaded, so chat lines can travel between the chunks of a file.
docs/protocol.md is the reference.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from dataclasses import dataclass, field

from .usernames import MAX_NAME_CHARS, is_valid_name, name_key, name_problem  # noqa: F401 (the protocol's names)

MAX_LINE_BYTES = 4096
"""The longest line either side accepts, LF included."""

MAX_DATA_BYTES = 4 * 1024 * 1024
"""The largest payload one `!DATA` frame may carry (the server sends at most `pacing.MAX_FRAME_BYTES`)."""

PREFIX_SEPARATOR = "> "
CONTROL = "!"
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
JOIN = "JOIN"
"""A client's first line may be `name> !JOIN key=value ...`: options, not a command."""
PASSWORD = "PASSWORD"
"""`!PASSWORD`: the server asks for the account's password; `name> !PASSWORD secret` answers."""
MAX_KEEP_ALIVE_SECONDS = 1_000_000.0
VERSION = 4
"""The protocol this code speaks (docs/protocol.md, "Versions"). A client announces it with
`!JOIN proto=4`; a server that speaks it answers `!PROTO 4` after `!HELLO` and from then on
gives that client data in fields: `!ENTRY` for a listing, `!REFUSED` before a file's `!ERR`
(from version 2), `!EARLIER` for the conversation shown again on joining (from version 3).
A client of version 4 can also answer `!PASSWORD` before its `!HELLO` (a server with accounts).
A client that announces no version (1) gets the human text only, as before."""

EARLIER_VERSION = 3
"""The first version whose clients are sent `!EARLIER` (earlier ones get a line of text)."""
PASSWORD_VERSION = 4
"""The first version whose clients can be asked for a password (`!PASSWORD`); an earlier one
joining a server with accounts is refused with `!ERR password-required`."""
ENTRY_KINDS = ("f", "d")
"""`!ENTRY` kinds: a file, a directory."""


class ErrorCode(str, enum.Enum):
    """Every `!ERR` code the server sends. After a fatal one the server closes the connection."""

    def __new__(cls, code: str, fatal: bool = False):
        member = str.__new__(cls, code)
        member._value_ = code
        member.fatal = fatal
        return member

    def __str__(self) -> str:
        return self.value

    # refusals: the connection ends
    FULL = ("full", True)
    TOO_MANY = ("too-many", True)
    BUSY = ("busy", True)
    NAME_TAKEN = ("name-taken", True)
    BAD_NAME = ("bad-name", True)
    NO_NAME = ("no-name", True)
    IDLE = ("idle", True)
    CLOSING = ("closing", True)
    KICKED = ("kicked", True)
    TLS_REQUIRED = ("tls-required", True)
    PASSWORD_REQUIRED = ("password-required", True)
    BAD_PASSWORD = ("bad-password", True)
    LOGINS_BLOCKED = ("logins-blocked", True)
    # a line the server could not take: the connection goes on
    PROTOCOL = "protocol"
    TOO_LONG = "too-long"
    ENCODING = "encoding"
    NO_PREFIX = "no-prefix"
    BAD_FRAME = "bad-frame"
    IMPERSONATION = "impersonation"
    # a request refused
    USAGE = "usage"
    NO_USER = "no-user"
    FLOOD = "flood"
    NO_FILE = "nofile"
    NOT_FILE = "not-file"
    DENIED = "denied"
    AMBIGUOUS = "ambiguous"
    QUEUE_FULL = "queue-full"
    NO_MATCH = "no-match"
    RESOURCES = "resources"
    # an upload (`put`) refused or failed; see docs/protocol.md, "How a file goes up"
    NO_UPLOAD = "no-upload"
    BAD_PATH = "bad-path"
    EXISTS = "exists"
    TOO_BIG = "too-big"
    DISK_FULL = "disk-full"
    UPLOAD_BUSY = "upload-busy"
    UPLOAD_FAILED = "upload-failed"
    CORRUPT = "corrupt"
    # `cd`
    NOT_DIR = "not-dir"
    # `get`, `mget`, `resume` from an account without the download right (--users)
    NO_DOWNLOAD = "no-download"
    # `cancel`: a download the client asked for and then cancelled (protocol 2)
    CANCELLED = "cancelled"


UPLOAD_ERROR_CODES = frozenset(
    code.value
    for code in (
        ErrorCode.NO_UPLOAD,
        ErrorCode.BAD_PATH,
        ErrorCode.EXISTS,
        ErrorCode.TOO_BIG,
        ErrorCode.DISK_FULL,
        ErrorCode.UPLOAD_BUSY,
        ErrorCode.UPLOAD_FAILED,
        ErrorCode.CORRUPT,
    )
)
"""The codes that answer a `put`: each ends that upload (and only an upload)."""


def is_fatal(code: str) -> bool:
    """True for a code after which the server closes the connection (unknown codes are not)."""
    known = ErrorCode._value2member_map_.get(code)
    return known is not None and known.fatal


class ProtocolError(Exception):
    """The peer sent something this protocol does not allow.

    `code` is the wire error code. A fatal error leaves the stream in a state
    that cannot be trusted any more.
    """

    code = ErrorCode.PROTOCOL
    fatal = False

    def __init__(self, detail: str = ""):
        super().__init__(detail or self.code.value)
        self.detail = detail


class LineTooLong(ProtocolError):
    """A line longer than MAX_LINE_BYTES; the rest of it up to LF is dropped."""

    code = ErrorCode.TOO_LONG


class BadEncoding(ProtocolError):
    """A line that is not UTF-8."""

    code = ErrorCode.ENCODING


class MissingPrefix(ProtocolError):
    """A line that does not start with "NAME> "."""

    code = ErrorCode.NO_PREFIX


class BadName(ProtocolError):
    """A line whose "NAME> " prefix carries a name that is not allowed."""

    code = ErrorCode.BAD_NAME


class BadFrame(ProtocolError):
    """A control line the client cannot make sense of: the stream is broken."""

    code = ErrorCode.BAD_FRAME
    fatal = True


class LocalProtocolError(Exception):
    """Our own code tried to send something the protocol cannot carry."""


# --- events ------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A line from a client: a command or chat, not yet interpreted."""

    sender: str
    text: str


@dataclass(frozen=True)
class Password:
    """`!PASSWORD text`: the client's answer to `!PASSWORD` (never shown, never logged)."""

    sender: str
    text: str = field(repr=False)


@dataclass(frozen=True)
class PasswordRequest:
    """`!PASSWORD`: the server asks the client for its account's password (protocol 4)."""

    sender: str


@dataclass(frozen=True)
class Message:
    """Text for the user to read: chat, or a server's human-readable reply."""

    sender: str
    text: str


@dataclass(frozen=True)
class Hello:
    """The server accepted the client's name."""

    sender: str
    text: str


@dataclass(frozen=True)
class Error:
    """A refused request. After a fatal code (`is_fatal`) the server closes the connection.

    The server sends an ErrorCode; a client reads whatever code arrives, as a str."""

    sender: str
    code: str
    text: str


@dataclass(frozen=True)
class FileStart:
    """A download begins: its size, SHA-256 and name."""

    sender: str
    size: int
    sha256: str
    name: str


@dataclass(frozen=True)
class FileResume:
    """A resumed download: the `!DATA` frames that follow carry bytes `offset` to `size`."""

    sender: str
    offset: int
    size: int
    sha256: str
    name: str


@dataclass(frozen=True)
class Queued:
    """A file an `mget` pattern matched was queued for this client: its `!FILE` will follow."""

    sender: str
    name: str


@dataclass(frozen=True)
class FileData:
    """A piece of the current download: bytes, or (see `Receiver.feed`) a memoryview of the fed buffer."""

    sender: str
    data: bytes | memoryview


@dataclass(frozen=True)
class FileAbort:
    """The server could not finish the download in progress."""

    sender: str
    text: str


@dataclass(frozen=True)
class KeepAlive:
    """The server asks for a line (an empty one will do) at least every `seconds`,
    so that a client whose user only reads is not taken for a dead one."""

    sender: str
    seconds: float


@dataclass(frozen=True)
class UploadReady:
    """`!GO path`: the server took the client's `put`; the client may send its `!DATA` frames."""

    sender: str
    path: str


@dataclass(frozen=True)
class UploadSaved:
    """`!SAVED size path`: the upload was verified and has its name now."""

    sender: str
    size: int
    path: str


@dataclass(frozen=True)
class PutRequest:
    """The argument of a client's `put SIZE SHA256 PATH` line."""

    size: int
    sha256: str
    path: str


@dataclass(frozen=True)
class Version:
    """`!PROTO n`: the server speaks protocol version `n` to this client (sent after `!HELLO`)."""

    sender: str
    number: int


@dataclass(frozen=True)
class ListEntry:
    """`!ENTRY kind size mtime name`: one entry of a `list` answer, for programs (protocol 2).

    `kind` is "f" (a file) or "d" (a folder); `size` in bytes (0 for a folder); `mtime` in
    whole seconds since the epoch (UTC); `name` as listed (escaped if it is not served)."""

    sender: str
    kind: str
    size: int
    mtime: int
    name: str

    @property
    def is_dir(self) -> bool:
        return self.kind == "d"


@dataclass(frozen=True)
class Refused:
    """`!REFUSED code name`: the request for the file (or pattern) `name` was refused with `code`;
    the `!ERR code text` that follows says why to the user (protocol 2)."""

    sender: str
    code: str
    name: str


@dataclass(frozen=True)
class Earlier:
    """`!EARLIER name text`: a line `name` said to everyone before this client joined, shown
    again so it can follow the conversation (protocol 3). Never a private message."""

    sender: str
    name: str
    text: str


@dataclass(frozen=True)
class Bye:
    """The server ends this connection at the client's request."""

    sender: str
    text: str


# --- names -------------------------------------------------------------------
# The rules live in usernames.py; they are part of the protocol, so they are
# named here too: name_problem, is_valid_name, name_key, MAX_NAME_CHARS.


# --- encoding ----------------------------------------------------------------


def _line(sender: str, text: str) -> bytes:
    if not is_valid_name(sender):
        raise LocalProtocolError(f"invalid sender name {sender!r}")
    if "\n" in text or "\r" in text:
        raise LocalProtocolError("a line cannot contain CR or LF")
    data = f"{sender}{PREFIX_SEPARATOR}{text}\n".encode()
    if len(data) > MAX_LINE_BYTES:
        raise LocalProtocolError(f"line of {len(data)} bytes exceeds {MAX_LINE_BYTES}")
    return data


def _escape_display(text: str) -> str:
    return CONTROL + text if text.startswith(CONTROL) else text


def fit_text(sender: str, text: str, reserve: int = 0) -> str:
    """`text`, cut short with "…" if needed so that `sender`'s line fits in
    MAX_LINE_BYTES with `reserve` bytes to spare (for a control keyword)."""
    budget = MAX_LINE_BYTES - len(sender.encode()) - len(PREFIX_SEPARATOR) - 2 - reserve
    encoded = text.encode()
    if len(encoded) <= budget:
        return text
    return encoded[: budget - 3].decode("utf-8", "ignore") + "…"


def encode_command(sender: str, text: str) -> bytes:
    """A client's line to the server: a command or chat, sent as typed (text
    starting with "!" travels as "!!", since "!DATA" and "!ABORT" carry uploads)."""
    return _line(sender, _escape_display(text))


def encode_put(sender: str, request: PutRequest) -> bytes:
    """A client's `put SIZE SHA256 PATH` line, announcing an upload."""
    if not SHA256_PATTERN.fullmatch(request.sha256) or request.size < 0 or not request.path:
        raise LocalProtocolError("bad put request")
    return _line(sender, f"put {request.size} {request.sha256} {request.path}")


def parse_put(argument: str) -> PutRequest | None:
    """The PutRequest in what follows `put`, or None when it is not `SIZE SHA256 PATH`."""
    size, _, rest = argument.partition(" ")
    sha256, _, path = rest.partition(" ")
    if not (size.isascii() and size.isdigit()) or len(size) > 20:
        return None
    if not SHA256_PATTERN.fullmatch(sha256) or not path.strip():
        return None
    return PutRequest(int(size), sha256, path.strip())


def encode_data_header(sender: str, size: int) -> bytes:
    if not 0 < size <= MAX_DATA_BYTES:
        raise LocalProtocolError(f"data frame of {size} bytes")
    return _line(sender, f"{CONTROL}DATA {size}")


def _encode_file_start(event: FileStart) -> bytes:
    if not SHA256_PATTERN.fullmatch(event.sha256) or event.size < 0 or not event.name:
        raise LocalProtocolError("bad file header")
    return _line(event.sender, f"{CONTROL}FILE {event.size} {event.sha256} {event.name}")


def _encode_error(event: Error) -> bytes:
    code = str(event.code)
    if not code or " " in code:
        raise LocalProtocolError(f"bad error code {code!r}")
    return _line(event.sender, f"{CONTROL}ERR {code} {event.text}")


_ENCODERS = {
    Line: lambda e: encode_command(e.sender, e.text),
    Message: lambda e: _line(e.sender, _escape_display(e.text)),
    Hello: lambda e: _line(e.sender, f"{CONTROL}HELLO {e.text}"),
    Error: _encode_error,
    FileStart: _encode_file_start,
    FileData: lambda e: encode_data_header(e.sender, len(e.data)) + e.data,
    FileAbort: lambda e: _line(e.sender, f"{CONTROL}ABORT {e.text}"),
    UploadReady: lambda e: _line(e.sender, f"{CONTROL}GO {e.path}"),
    UploadSaved: lambda e: _line(e.sender, f"{CONTROL}SAVED {e.size} {e.path}"),
    Bye: lambda e: _line(e.sender, f"{CONTROL}BYE {e.text}"),
    KeepAlive: lambda e: _encode_keep_alive(e),
    FileResume: lambda e: _encode_file_resume(e),
    Queued: lambda e: _line(e.sender, f"{CONTROL}QUEUED {e.name}"),
    Version: lambda e: _line(e.sender, f"{CONTROL}PROTO {e.number:d}"),
    Password: lambda e: _line(e.sender, f"{CONTROL}{PASSWORD} {e.text}"),
    PasswordRequest: lambda e: _line(e.sender, f"{CONTROL}{PASSWORD}"),
    ListEntry: lambda e: _encode_entry(e),
    Refused: lambda e: _encode_refused(e),
    Earlier: lambda e: _encode_earlier(e),
}


def _encode_entry(event: ListEntry) -> bytes:
    if event.kind not in ENTRY_KINDS or event.size < 0 or event.mtime < 0 or not event.name:
        raise LocalProtocolError("bad list entry")
    return _line(event.sender, f"{CONTROL}ENTRY {event.kind} {event.size:d} {event.mtime:d} {event.name}")


def _encode_refused(event: Refused) -> bytes:
    code = str(event.code)
    if not code or " " in code or not event.name:
        raise LocalProtocolError("bad refusal")
    return _line(event.sender, f"{CONTROL}REFUSED {code} {event.name}")


def _encode_earlier(event: Earlier) -> bytes:
    if not is_valid_name(event.name):
        raise LocalProtocolError("bad earlier line")
    return _line(event.sender, f"{CONTROL}EARLIER {event.name} {event.text}")


def encode(event) -> bytes:
    """The bytes that carry `event` on the wire."""
    encoder = _ENCODERS.get(type(event))
    if encoder is None:
        raise LocalProtocolError(f"not a protocol event: {type(event).__name__}")
    return encoder(event)


def _encode_keep_alive(event: KeepAlive) -> bytes:
    if not 0 < event.seconds <= MAX_KEEP_ALIVE_SECONDS:
        raise LocalProtocolError(f"keep-alive of {event.seconds} s")
    return _line(event.sender, f"{CONTROL}KEEPALIVE {event.seconds:.3f}")


def _encode_file_resume(event: FileResume) -> bytes:
    if not SHA256_PATTERN.fullmatch(event.sha256) or not 0 < event.offset < event.size or not event.name:
        raise LocalProtocolError("bad resume header")
    return _line(event.sender, f"{CONTROL}RESUME {event.offset} {event.size} {event.sha256} {event.name}")


def resume_command(offset: int, prefix_sha256: str, name: str) -> str:
    """A client's `resume` line text: it holds the first `offset` bytes of `name`."""
    return f"resume {offset} {prefix_sha256} {name}"


def parse_resume_argument(argument: str) -> tuple[int, str, str] | None:
    """(offset, prefix SHA-256, name) from what follows `resume`; None if malformed."""
    offset, _, rest = argument.partition(" ")
    sha256, _, name = rest.partition(" ")
    if not (offset.isascii() and offset.isdigit()) or len(offset) > 20 or int(offset) < 1:
        return None
    if not SHA256_PATTERN.fullmatch(sha256) or not name.strip():
        return None
    return int(offset), sha256, name.strip()


# --- joining: the options a client announces ---------------------------------


def join_text(options: dict[str, str]) -> str:
    """The text of a client's first line announcing `options`: `!JOIN lang=en`."""
    words = [f"{key}={value}" for key, value in options.items()]
    return " ".join([f"{CONTROL}{JOIN}", *words])


def parse_join(text: str) -> dict[str, str] | None:
    """The options of a `!JOIN` first line, None if `text` is not one. Words that
    are not `key=value` are ignored, so later clients can announce more."""
    keyword, _, rest = text.partition(" ")
    if keyword != f"{CONTROL}{JOIN}":
        return None
    pairs = (word.partition("=") for word in rest.split())
    return {key: value for key, equals, value in pairs if key and equals}


# --- decoding ----------------------------------------------------------------


def split_prefix(line: str) -> tuple[str, str]:
    """("alice", "hola") from "alice> hola"; MissingPrefix when there is none."""
    sender, separator, text = line.partition(PREFIX_SEPARATOR)
    if not separator and line.endswith(">"):
        sender, separator, text = line[:-1], ">", ""
    if not separator:
        raise MissingPrefix(line[:40])
    if not is_valid_name(sender):
        raise BadName(sender[:40])
    return sender, text


def _int_field(value: str, limit: int) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 20 or int(value) > limit:
        raise BadFrame(f"bad number {value[:24]!r}")
    return int(value)


def _parse_file(sender: str, args: str) -> FileStart:
    size, _, rest = args.partition(" ")
    sha256, _, name = rest.partition(" ")
    if not SHA256_PATTERN.fullmatch(sha256) or not name:
        raise BadFrame("bad !FILE header")
    return FileStart(sender, _int_field(size, 2**63), sha256, name)


def _parse_keep_alive(sender: str, args: str) -> KeepAlive:
    if not re.fullmatch(r"\d{1,7}(\.\d{1,3})?", args) or not 0 < float(args) <= MAX_KEEP_ALIVE_SECONDS:
        raise BadFrame("bad !KEEPALIVE line")
    return KeepAlive(sender, float(args))


def _parse_file_resume(sender: str, args: str) -> FileResume:
    offset, _, rest = args.partition(" ")
    start = _parse_file(sender, rest)
    resumed = FileResume(sender, _int_field(offset, 2**63), start.size, start.sha256, start.name)
    if not 0 < resumed.offset < resumed.size:
        raise BadFrame("bad !RESUME offset")
    return resumed


def _parse_queued(sender: str, args: str) -> Queued:
    if not args:
        raise BadFrame("bad !QUEUED line")
    return Queued(sender, args)


def _parse_version(sender: str, args: str) -> Version:
    return Version(sender, _int_field(args, 1_000_000))


def _parse_entry(sender: str, args: str) -> ListEntry:
    kind, size, mtime, name = (args.split(" ", 3) + ["", "", ""])[:4]
    if kind not in ENTRY_KINDS or not name:
        raise BadFrame("bad !ENTRY line")
    return ListEntry(sender, kind, _int_field(size, 2**63), _int_field(mtime, 2**63), name)


def _parse_refused(sender: str, args: str) -> Refused:
    code, _, name = args.partition(" ")
    if not code or not name:
        raise BadFrame("bad !REFUSED line")
    return Refused(sender, code, name)


def _parse_earlier(sender: str, args: str) -> Earlier:
    name, _, text = args.partition(" ")
    if not is_valid_name(name):
        raise BadFrame("bad !EARLIER line")
    return Earlier(sender, name, text)


def _parse_error(sender: str, args: str) -> Error:
    code, _, text = args.partition(" ")
    if not code:
        raise BadFrame("bad !ERR line")
    return Error(sender, code, text)


def _parse_saved(sender: str, args: str) -> UploadSaved:
    size, _, path = args.partition(" ")
    if not path:
        raise BadFrame("bad !SAVED line")
    return UploadSaved(sender, _int_field(size, 2**63), path)


def _parse_go(sender: str, args: str) -> UploadReady:
    if not args:
        raise BadFrame("bad !GO line")
    return UploadReady(sender, args)


_CONTROL_PARSERS = {
    "HELLO": lambda sender, args: Hello(sender, args),
    "ERR": _parse_error,
    "FILE": _parse_file,
    "ABORT": lambda sender, args: FileAbort(sender, args),
    "GO": _parse_go,
    "SAVED": _parse_saved,
    "BYE": lambda sender, args: Bye(sender, args),
    "KEEPALIVE": lambda sender, args: _parse_keep_alive(sender, args),
    "RESUME": lambda sender, args: _parse_file_resume(sender, args),
    "QUEUED": lambda sender, args: _parse_queued(sender, args),
    "PROTO": _parse_version,
    "ENTRY": _parse_entry,
    "REFUSED": _parse_refused,
    "EARLIER": _parse_earlier,
    PASSWORD: lambda sender, _args: PasswordRequest(sender),
}


def parse_client_line(sender: str, text: str):
    """The event for one complete client line other than `!DATA`: `!ABORT`
    ends the client's upload, `!!text` is text starting with "!", and anything
    else (an unknown `!word` too, as typed by hand) is a Line. `!PASSWORD text` answers
    the server's `!PASSWORD` (a typed `!PASSWORD` travels as `!!PASSWORD`, chat)."""
    if text.startswith(CONTROL * 2):
        return Line(sender, text[1:])
    if text.startswith(f"{CONTROL}ABORT"):
        return FileAbort(sender, text[len("!ABORT") :].strip())
    if text.startswith(f"{CONTROL}{PASSWORD} "):
        return Password(sender, text[len(PASSWORD) + 2 :])
    return Line(sender, text)


def parse_server_line(sender: str, text: str):
    """The event for one complete server line other than `!DATA`."""
    if not text.startswith(CONTROL):
        return Message(sender, text)
    if text.startswith(CONTROL * 2):
        return Message(sender, text[1:])
    keyword, _, args = text[1:].partition(" ")
    parser = _CONTROL_PARSERS.get(keyword)
    if parser is None:
        raise BadFrame(f"unknown control line {keyword[:16]!r}")
    return parser(sender, args)


_SEARCH_WINDOW = MAX_LINE_BYTES


def _find_lf(data, start: int, end: int) -> int:
    """Index of the first LF in data[start:end], or -1. A memoryview has no `find`, so it is searched
    through small copied windows: a line is short, and the payload after it is never copied."""
    if not isinstance(data, memoryview):
        return data.find(b"\n", start, end)
    for window in range(start, end, _SEARCH_WINDOW):
        found = bytes(data[window : min(end, window + _SEARCH_WINDOW)]).find(b"\n")
        if found >= 0:
            return window + found
    return -1


class Receiver:
    """Turns the bytes of one direction of one connection into events.

    `from_server=False` (the server's side) yields Line events, and FileData
    and FileAbort for an upload; `from_server=True` (the client's side) yields
    Message, Hello, Error, FileStart, FileResume, FileData, FileAbort, Queued,
    UploadReady, UploadSaved, KeepAlive, Version, ListEntry, Refused, Earlier and Bye.

    `feed` parses at once, so the only bytes kept are one partial line, never
    more than MAX_LINE_BYTES: a longer line is dropped as it arrives, however
    long it grows, and reported once. Fed a memoryview, it hands file data out
    without copying: each FileData's `data` is a slice of that view, valid
    until the caller reuses the memory under it (the client receives into a
    few preallocated buffers this way). Fed bytes, FileData carries bytes.

    `next_event` returns the next event, None when it needs more data, or
    raises the ProtocolError of a bad line; after a non-fatal error the next
    call goes on with the following line. After a fatal one (BadFrame) the
    stream cannot be trusted and every call raises it.
    """

    def __init__(self, *, from_server: bool):
        self._from_server = from_server
        self._partial = bytearray()
        self._discarding = False
        self._payload_left = 0
        self._payload_sender = ""
        self._ready: deque = deque()
        self._broken: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes of a partial line held back, waiting for its LF."""
        return len(self._partial)

    @property
    def has_events(self) -> bool:
        """Events (or errors) parsed and not yet taken by `next_event`."""
        return bool(self._ready)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        position = 0
        while position < len(data) and self._broken is None:
            if self._payload_left:
                position = self._take_payload(data, position)
            else:
                position = self._take_line(data, position)

    def next_event(self):
        if self._ready:
            item = self._ready.popleft()
            if isinstance(item, ProtocolError):
                raise item
            return item
        if self._broken is not None:
            raise self._broken
        return None

    def _take_payload(self, data: bytes, position: int) -> int:
        end = min(len(data), position + self._payload_left)
        self._ready.append(FileData(self._payload_sender, data[position:end]))
        self._payload_left -= end - position
        return end

    def _take_line(self, data, position: int) -> int:
        if self._discarding:
            return self._skip_rest_of_line(data, position)
        room = MAX_LINE_BYTES - len(self._partial)
        room_end = min(len(data), position + room)
        newline = _find_lf(data, position, room_end)
        if newline < 0 and room_end == position + room:
            self._partial.clear()
            self._ready.append(LineTooLong(f"over {MAX_LINE_BYTES} bytes"))
            return self._skip_rest_of_line(data, room_end)
        self._partial += data[position : room_end if newline < 0 else newline]
        if newline < 0:
            return len(data)
        raw = bytes(self._partial)
        self._partial.clear()
        event = self._decode_or_error(raw)
        if event is not None:
            self._ready.append(event)
        return newline + 1

    def _skip_rest_of_line(self, data, position: int) -> int:
        """Drop the bytes of an over-long line up to and including its LF."""
        newline = _find_lf(data, position, len(data))
        self._discarding = newline < 0
        return len(data) if newline < 0 else newline + 1

    def _decode_or_error(self, raw: bytes):
        try:
            return self._decode(raw)
        except BadFrame as error:
            self._broken = error
            return error
        except ProtocolError as error:
            return error

    def _decode(self, raw: bytes):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadEncoding(str(error)) from None
        sender, text = split_prefix(line)
        if text.startswith(f"{CONTROL}DATA "):
            return self._start_payload(sender, text[len("!DATA ") :])
        if not self._from_server:
            return parse_client_line(sender, text)
        return parse_server_line(sender, text)

    def _start_payload(self, sender: str, size_text: str) -> None:
        """A `!DATA N` line: the next N bytes are file data, not lines."""
        size = _int_field(size_text, MAX_DATA_BYTES)
        if size == 0:
            raise BadFrame("empty data frame")
        self._payload_left = size
        self._payload_sender = sender
        return None
