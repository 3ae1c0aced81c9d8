"""One socket on the server, whatever protocol it speaks: its output queue,
what the loop should watch it for, and its closing steps.

Output waits in an `Outbox` and goes as the socket takes it. A connection is
closed in steps, so a last message (a refusal, a goodbye) is read before the
socket goes away:

    OPEN ──begin_closing──▶ CLOSING ──outbox empty──▶ LINGERING ──peer's EOF──▶ CLOSED
      (our last words queued)   (flushing them)   (our side shut; input thrown away)

Closing at once with unread input would make the kernel send a reset, which
can destroy the last message before the peer reads it: hence LINGERING, which
shuts only our side and waits (until a deadline) for the peer to close.

A connection is also what the loop holds (see endpoints.py): the loop calls
`on_ready` when its socket is ready and a handful of hooks (`handle_input`,
`produce`, `flushed`, `flush_failed`, `housekeeping`, `next_timer`, `refuse`, `goodbye`,
`leave`, `release`), and never asks which kind it is. The defaults here suit
a connection that only sends; each kind (lab session, FTP control, FTP data)
overrides what it means for it.
"""

from __future__ import annotations

import contextlib
import enum
import selectors
import socket
import ssl
import struct

from .endpoints import Loop
from .outbox import Outbox
from .protocol import ErrorCode
from .storage import FileChanged
from .tls import TlsLayer, TlsOutbox

MAX_QUEUED_BYTES = 1024 * 1024
"""Bytes (not file slices) one connection may have waiting: the last resort
against a reader that takes nothing, past which it is dropped. Readers that
make progress never get near it: producers pause first (see room.py)."""

LOW_WATER_BYTES = 64 * 1024
"""Below this much waiting output, producers (downloads, listings, a paused room) go on."""

HIGH_WATER_BYTES = 256 * 1024
"""Above this much waiting output, the producers that feed a connection pause."""

CLOSE_GRACE_SECONDS = 2.0
"""How long a closing connection may take to read its last message and close."""

DISCARD_BYTES = 64 * 1024
RECV_BYTES = 64 * 1024


class State(enum.Enum):
    """Where a connection is in its life; see the module's docstring."""

    OPEN = "open"
    CLOSING = "closing"
    LINGERING = "lingering"
    CLOSED = "closed"


_OPEN = State.OPEN
_DONTWAIT = socket.MSG_DONTWAIT
"""For `send_at_once`, which runs once per member for each chat line: no lookups in modules."""


class Transport:
    """A non-blocking socket with an outbox, reads, and the closing steps (asyncio's transport)."""

    def __init__(self, sock: socket.socket, address: tuple, now: float, loop: Loop | None = None):
        self.sock = sock
        self.address = address
        self.address_key = address[0]
        """The address as limits count it (an IPv4-mapped address as IPv4)."""
        self.loop = loop
        """The loop that holds it (None in tests that only use its outbox and closing steps)."""
        self.outbox = Outbox()
        self.tls: TlsLayer | None = None
        """Its TLS layer, once it speaks TLS (see tls.py); its outbox is then a TlsOutbox."""
        self.state = State.OPEN
        self.deadline: float | None = None
        self.interest = 0
        """The selector events this socket is registered for (0: not registered)."""
        self.connected_at = now
        self.last_progress = now

    @property
    def ip(self) -> str:
        return self.address[0]

    @property
    def label(self) -> str:
        """How the logs name this connection: '?@172.28.0.3:51234'."""
        return f"?@{self.address[0]}:{self.address[1]}"

    def __str__(self) -> str:
        """Its label: logs pass the connection itself, so a label is made only for a line
        that is written (the server's are INFO lines, usually not)."""
        return self.label

    @property
    def is_open(self) -> bool:
        return self.state is State.OPEN

    @property
    def wants_to_read(self) -> bool:
        """Subclasses pause reading while their input waits to be handled;
        a closing connection always reads, to see the peer's EOF."""
        return True

    def wanted_interest(self) -> int:
        """The selector events this connection needs watched now."""
        events = selectors.EVENT_READ if self.wants_to_read or not self.is_open else 0
        if self.outbox.sendable:
            events |= selectors.EVENT_WRITE
        return events

    def start_tls(self, context: ssl.SSLContext, *, require_reuse: bool = False) -> None:
        """Speak TLS from now on, as the server's side: bytes already queued
        (FTP's 234 to AUTH TLS) still go in clear, before the handshake."""
        clear = bytearray()
        while self.outbox:  # bytes only: replies, never a file slice
            clear += self.outbox.take(self.outbox.buffered_bytes)
        self.tls = TlsLayer(context, require_reuse=require_reuse)
        self.outbox = TlsOutbox(self.tls, bytes(clear))

    @property
    def handshaking(self) -> bool:
        """It speaks TLS and its handshake has not ended."""
        return self.tls is not None and not self.tls.established

    @property
    def input_ended(self) -> bool:
        """The peer ended its input inside TLS (close_notify) with the plaintext
        `receive` just returned: there may be no socket event left to say so."""
        return self.tls is not None and self.tls.peer_closed

    # --- output -------------------------------------------------------------------

    def queue(self, data: bytes, now: float) -> bool:
        """Queue bytes; False when that would pass MAX_QUEUED_BYTES (nothing is queued then)."""
        if self.outbox.buffered_bytes + len(data) > MAX_QUEUED_BYTES:
            return False
        if not self.outbox:
            self.last_progress = now
        self.outbox.add(data)
        return True

    def send_at_once(self, data: bytes, now: float) -> bytes:
        """Send `data` now when nothing waits before it, as asyncio's transport does (a line to
        10,000 members is then one `send` each, with nothing left for the loop to do); returns
        what the socket did not take, to be queued. A TLS connection, a closing one or one with
        output waiting sends nothing here; an error is left for the loop's flush to find."""
        if self.state is not _OPEN or self.tls is not None or self.outbox:
            return data
        try:
            sent = self.sock.send(data, _DONTWAIT)
        except OSError:
            return data
        self.last_progress = now
        return data[sent:] if sent < len(data) else b""

    def queue_frame(self, header: bytes, fd: int, offset: int, count: int, now: float) -> None:
        """Queue a `!DATA` frame: its header line and a slice of the file `fd` (see Outbox.add_frame)."""
        if not self.outbox:
            self.last_progress = now
        self.outbox.add_frame(header, fd, offset, count)

    @property
    def above_high_water(self) -> bool:
        return self.outbox.buffered_bytes > HIGH_WATER_BYTES

    @property
    def below_low_water(self) -> bool:
        return self.outbox.buffered_bytes < LOW_WATER_BYTES

    def flush(self, now: float) -> int:
        """Send what the socket takes now. Raises OSError (connection broken)
        or storage.FileChanged (a file being sent shrank)."""
        sent = self.outbox.flush(self.sock)
        if sent:
            self.last_progress = now
        return sent

    def stalled_for(self, now: float) -> float:
        """Seconds this connection has had output waiting without taking any of it."""
        return now - self.last_progress if self.outbox else 0.0

    def is_progressing(self, now: float, window: float) -> bool:
        """Took some of its output within the last `window` seconds (or has none waiting)."""
        return self.stalled_for(now) <= window

    def receive(self) -> bytes | None:
        """One read: bytes, b"" at the peer's EOF, None when nothing is waiting.
        Raises OSError (tls.TlsFailed when the peer's TLS fails)."""
        if self.input_ended:
            return b""
        try:
            data = self.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return None
        if self.tls is None or not data:
            return data
        return self._decrypt(data)

    def _decrypt(self, ciphertext: bytes) -> bytes | None:
        was_handshaking = self.handshaking
        plaintext = self.tls.feed(ciphertext)
        if self.loop is not None and (self.tls.outgoing.pending or was_handshaking and not self.handshaking):
            self.loop.touch(self)  # handshake records to send, or plaintext that waited for its end
        if plaintext:
            return plaintext
        return b"" if self.tls.peer_closed else None

    def peek(self) -> bytes | None:
        """The next byte without taking it: b"" once the peer has closed, None when nothing waits."""
        try:
            return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""

    def has_spoken(self) -> bool:
        """Bytes from the peer are waiting (peeked, not read): its first line is on its way.
        Not under TLS: waiting bytes are records (a handshake, an alert), not a line;
        there only plaintext received counts, which its kind of connection knows."""
        return self.tls is None and bool(self.peek())

    def peer_alive(self) -> bool:
        """The peer has not closed its side."""
        return self.peek() != b""

    # --- closing ------------------------------------------------------------------

    def begin_closing(self, now: float) -> None:
        """Stop taking input; what is queued still goes, then `start_lingering`."""
        self.state = State.CLOSING
        self.deadline = now + CLOSE_GRACE_SECONDS
        self.outbox.finish()

    def start_lingering(self, now: float) -> bool:
        """Shut our side only, then wait for the peer's EOF; False if the socket is already gone."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return False
        self.state = State.LINGERING
        self.deadline = now + CLOSE_GRACE_SECONDS
        return True

    def discard_input(self) -> bool:
        """Read and forget what the peer sends while we linger; True once it has closed."""
        try:
            while self.sock.recv(DISCARD_BYTES):
                pass
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        return True

    def reset_on_close(self) -> None:
        """Make `close` send a reset, not a FIN queued behind unsent data: a
        peer on a slow link learns at once that the server is gone."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self) -> None:
        self.sock.close()
        self.state = State.CLOSED


class Connection(Transport):
    """What the loop holds for one socket: the hooks it calls, with defaults for a
    connection that only sends; each kind of connection overrides what it means for it."""

    has_lines_to_handle = False
    """Input is waiting for `handle_input` (lab sessions: lines for the handlers)."""

    name: str | None = None
    """The name it joined the room with (None: none yet, or a kind that never joins)."""

    def on_ready(self, mask: int) -> None:
        """The socket is ready: a lingering one throws input away until the peer's EOF."""
        if mask & selectors.EVENT_READ and self.state is State.LINGERING:
            if self.discard_input():
                self.loop.drop(self, "closed")
            return
        if mask & selectors.EVENT_READ:
            self.readable()
        if mask & selectors.EVENT_WRITE and self.state is not State.CLOSED:
            self.loop.touch(self)

    def readable(self) -> None:
        """Input waits (the default: thrown away, the peer's EOF closes)."""
        if not self.discard_input():
            return
        self.loop.drop(self, "closed by peer")

    def handle_input(self) -> None:
        """Work through input read before (see `has_lines_to_handle`)."""

    def produce(self) -> None:
        """Queue what is owed while output is low (long answers, download frames)."""

    def flushed(self) -> None:
        """Some output went."""

    def flush_failed(self, error: OSError | FileChanged) -> None:
        self.loop.drop(self, f"send failed: {error}")

    def failed(self) -> None:
        """An unexpected error while working for it: it goes, the server stays."""
        self.loop.drop(self, "internal error")

    def admitted(self) -> None:
        """Admission took it as a client (the FTP door greets it now)."""

    def refuse(self, code: ErrorCode, key: str, **values) -> None:
        """A last message in its own protocol, then close (the default: close)."""
        self.loop.close_after_output(self, code.value)

    def goodbye(self) -> None:
        """The server is stopping: a last message, then close."""
        self.refuse(ErrorCode.CLOSING, "server_closing")

    def leave(self, reason: str) -> None:
        """It stops counting as a client: forget it wherever it is a member."""

    def release(self) -> None:
        """It is closing: let go of what it holds besides its socket (files, a data connection)."""

    def housekeeping(self, now: float) -> None:
        """An open connection's timers (idle, join, stalled output)."""

    def timers_due(self, now: float) -> float:
        """When the loop should look at its timers again: a closing connection's at its deadline,
        an open one's when `next_timer` says. The loop asks after serving it (see `next_timer`)."""
        return self.next_timer(now) if self.state is _OPEN else self.deadline

    def next_timer(self, now: float) -> float:
        """When `housekeeping` may next have something to do (math.inf: never). The loop asks
        after it has served the connection and after each `housekeeping`; a time too early
        only costs a look. The default, `now`, has it looked at on every pass: a kind that
        says a later time must be sure no deadline of its can move earlier without the loop
        serving it (`Loop.touch`)."""
        return now
