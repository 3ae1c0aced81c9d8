"""The FTP door in the server's loop: control and data connections carried
out without blocking for `ftp.FtpSession`.

The session (app/ftplab/ftp/) decides everything and says so as actions;
`FtpDoor.act` carries them out and feeds back what happened as events. Each
connection does its own socket work (`FtpControl.readable`,
`FtpData.readable`, `FtpData.connect`), the passive ports are passive.py's:

    SendReply        queue the bytes on the control connection
    Join             the Room admits the name (both doors share one set of names)
    OpenPassive      a listener on a --passive-ports port that accepts only the
                     control connection's own address, until DATA_CONNECT_SECONDS
    ConnectActive    remember where to connect when the transfer starts
    SendFile         a file slice in the data connection's outbox (os.sendfile)
    SendListing      pieces in the data connection's outbox as it drains (the folder
                     read a step a turn, between the other clients' work)
    ReceiveUpload    what the data connection reads goes to the upload
    UploadFinished   the others are told a file arrived
    FileSent         the teacher's console is told a file went out
    Renamed          the others are told a file was renamed
    CloseData        the data connection and the listener go
    Close            the control connection closes after its last reply

Fairness: the session only keeps what is read (`receive_data`); the loop
gives it one bounded step (`advance`) per turn through `FtpControl.handle_input`,
only while the control connection's output is below its high-water mark, and
the control connection is read again only when no whole line waits.

A data connection counts against nothing (it is part of its control
connection, which counts against --max-clients and --max-per-ip like a lab
client), but its stall is timed like any output (--data-timeout), and one
with no transfer goes after --data-timeout too. A control connection is idle
when neither it nor a transfer of its data connection moved for
--idle-timeout. A transfer that ended well closes its data connection in
steps (shut down, then wait for the peer's EOF), never with a reset.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import selectors
import socket
import ssl
from collections.abc import Callable
from typing import Protocol

from . import ftp
from .admission import Place
from .anonymous import AnonymousNumbers, Visits
from .config import Timeouts
from .connection import HIGH_WATER_BYTES, Connection, State
from .endpoints import Door, Loop
from .ftp.replies import reply
from .messages import Messages, human_size
from .net import resend_losses_soon
from .passive import PassiveListener, PassivePorts, WaitingLine
from .protocol import ErrorCode
from .session import Allowance
from .storage import FileChanged, FileProblem, FolderReadFailed, Storage, Tree, Upload
from .text import visible
from .tls import TlsFailed
from .transfer import HashCache

log = logging.getLogger("ftplab.server")

DATA_CONNECT_SECONDS = 30.0
"""How long a passive listener waits for its data connection, or an active one tries."""

PORT_WAIT_SECONDS = 5.0
"""How long a PASV may wait for a passive port while every port of the range
listens for another client's data connection (each for a few milliseconds):
a burst of a class's transfers is served in turn, and 425 comes only when no
port came free in that time."""

UPLOAD_SETTLE_SECONDS = 0.2
"""In stream mode the end of an upload is the data connection's EOF, and a client that was
killed mid-upload closes it the same way. Before an upload gets its name, its control
connection must still be there this long after that EOF: a killed client's is gone too."""

UPLOAD_SETTLE_POLL_SECONDS = 0.05
"""How often the loop looks at uploads settling."""


RETR_UNSENT_BYTES = 64 * 1024
"""What a RETR in clear lets the kernel hold unsent on its data connection (TCP_NOTSENT_LOWAT).
Without a bound, one sendfile fills the whole send buffer (up to 4 MiB), and what the reader's
window cannot take yet is sent later in the *reader's* context, when its ACK opens the window:
on loopback ftplib's client spent about a third more CPU per GiB against the door than against
pyftpdlib (which sends 64 KiB a call), and it was the bottleneck. Bounded, the server sends
those bytes itself (its kernel time, a few more wake-ups), each sendfile call is short, and the
reader only reads. The tighter the better, down to pyftpdlib's 64 KiB: a 1 GiB RETR through
ftplib on loopback into tmpfs went from 1.56 to 1.99 GB/s (eight rounds, faster in each), the
client's core-seconds per GiB from 0.66 to 0.54 and the server's from 0.34 to 0.15; onto the
disk from 1.78 to 2.27 GB/s; 32 KiB gained nothing more, and 1 MiB was slower than 256 KiB.
In-flight bytes are not limited: a long fat link keeps its speed. Not under
TLS: its records are not sent by sendfile, and the server's work there dwarfs this. Nor for a
file no bigger than the bound: all of it may be unsent at once anyway, and the many small RETRs
of a busy door are spared a system call each."""

FTP_COMMANDS_PER_SECOND = 100.0
FTP_COMMAND_BURST = 200
"""Command lines one FTP control connection may have run: a burst of 200, then 100 a second.
Far above what clients pipeline (lftp's mirror runs a few commands a file); past it, lines
wait their turn (never dropped), so a flood of cheap commands cannot take the loop."""


class FtpControl(Connection):
    """An FTP control connection: its sans-IO session and the data side carried out for it."""

    hears_chat = False

    def __init__(
        self,
        sock: socket.socket,
        address: tuple,
        now: float,
        session: ftp.FtpSession,
        key: str,
        door: FtpDoor | None = None,
    ):
        """`door` is None only in tests that use it as a member of the room."""
        super().__init__(sock, address, now, door.loop if door is not None else None)
        self.door = door
        self.ftp = session
        self.address_key = key
        self.last_activity = self.connected_at
        self.passive: PassiveListener | None = None
        self.active_target: tuple[str, int] | None = None
        self.data: FtpData | None = None
        self.pending = None
        """The transfer action waiting for its data connection."""
        self.greeted = False
        self.tls_context: ssl.SSLContext | None = None
        """Its own TLS context after AUTH TLS: only its data connections can resume its session."""
        self.commands = Allowance(FTP_COMMANDS_PER_SECOND, FTP_COMMAND_BURST, now)
        self.over_rate = False
        self.hung_up = False
        """The client closed its side after QUIT while its upload was still arriving: the
        upload is finished first (RFC 959), then the connection closes."""
        """Its commands wait for the allowance to refill; housekeeping offers them again."""

    @property
    def label(self) -> str:
        return f"{self.name or '?'}@{self.address[0]}:{self.address[1]} (ftp)"

    @property
    def who_name(self) -> str:
        return f"{self.name} (ftp)"

    @property
    def wants_to_read(self) -> bool:
        return not self.hung_up and self.outbox.buffered_bytes < HIGH_WATER_BYTES and self.ftp.wants_data

    @property
    def has_lines_to_handle(self) -> bool:
        """The session has a step to take, and the output is below its high-water mark."""
        return self.is_open and not self.above_high_water and not self.over_rate and self.ftp.has_work

    def handle_input(self) -> None:
        """One bounded step of the session (FtpSession.advance) per turn, its actions carried
        out, with at most as many command lines as its allowance grants."""
        budget = self.commands.grant(ftp.LINES_PER_STEP, self.loop.now)
        if budget == 0:
            self.over_rate = True
            return
        self.commands.give_back(budget - self.ftp.advance(max_lines=budget))
        self.door.act(self)

    def idle_for(self, now: float) -> float:
        """Seconds since its last command, or since its data connection last moved a transfer."""
        return now - self.active_at

    @property
    def active_at(self) -> float:
        """When it last did something: its last command, or its data connection's last move
        of a transfer."""
        if self.data is not None and self.data.transferring:
            return max(self.last_activity, self.data.last_progress)
        return self.last_activity

    def readable(self) -> None:
        try:
            data = self.receive()
        except OSError as error:
            self.loop.drop_soon(self, f"receive failed: {error}")
            return
        if data is None:
            return
        if not data:
            if self._upload_outlives_quit():
                log.info("%s hung up after QUIT: its upload is finished first", self.label)
                self.hung_up = True
            else:
                self.loop.drop_soon(self, "closed by peer")
            return
        if self.is_open:
            self.last_activity = self.loop.now
            self.ftp.receive_data(data)
            self.loop.touch(self)  # its step comes this turn: `handle_input`

    def said_everything(self) -> bool:
        """Its client closed its side and every line it sent has run. Until then a hang-up is
        not the last word: a QUIT read with it but not yet run says the client meant to end."""
        return not self.ftp.has_work and not self.peer_alive()

    def _upload_outlives_quit(self) -> bool:
        """QUIT came during an upload whose data connection is still open."""
        data = self.data
        return self.ftp.quit_waiting and data is not None and data.upload is not None and data.is_open

    def admitted(self) -> None:
        self.door.greet(self)

    def refuse(self, code: ErrorCode, key: str, **values) -> None:
        self.door.refuse(self, key, **values)

    def leave(self, reason: str) -> None:
        self.door.room.remove_member(self, reason)

    def release(self) -> None:
        self.door.release(self)

    def housekeeping(self, now: float) -> None:
        if self.over_rate:
            self.over_rate = False
            self.loop.touch(self)
        limits = self.door.timeouts
        if limits.data and self.stalled_for(now) > limits.data:
            self.loop.drop(self, f"no data taken for {limits.data:g} s")
        elif self.name is None and limits.join and self.idle_for(now) > limits.join:
            self.refuse(ErrorCode.IDLE, "idle", seconds=f"{limits.join:g}")
        elif limits.idle and self.idle_for(now) > limits.idle:
            self.refuse(ErrorCode.IDLE, "idle", seconds=f"{limits.idle:g}")

    def next_timer(self, now: float) -> float:
        """The earliest time `housekeeping` may act. Each deadline only moves later (a command,
        its output's or its transfer's progress) except as the loop serves it: commands held
        for its rate are set aside in `handle_input`, its output starts waiting in `send_reply`
        (which touches it), and a transfer that ends (which makes `active_at` fall back to the
        last command) goes through `FtpDoor._detach`, which touches it whatever the session
        replies."""
        if self.over_rate:
            return now
        limits, due = self.door.timeouts, math.inf
        if limits.data and self.outbox:
            due = self.last_progress + limits.data
        if self.name is None and limits.join:
            due = min(due, self.active_at + limits.join)
        if limits.idle:
            due = min(due, self.active_at + limits.idle)
        return due

    # --- the session's actions that concern only this connection ---------------------

    def send_reply(self, action: ftp.SendReply) -> None:
        if not self.queue(action.data, self.loop.now):
            self.loop.drop_soon(self, "too slow: output queue full")
            return
        self.loop.touch(self)

    def join(self, action: ftp.Join) -> None:
        """The room admits the name (both doors share one set of names), or the session hears why not."""
        room = self.door.room
        if not room.add_member(self, action.name):
            log.info("refused name %s for %s: in use", visible(action.name), self.label)
            self.ftp.handle(ftp.JoinRefused(self.door.say("name_taken", name=action.name)))
            return
        log.info("joined %s", self)
        room.note_arrival(self)
        self.ftp.handle(ftp.Joined())

    def announce_upload(self, action: ftp.UploadFinished) -> None:
        log.info("upload %s from %s: %d bytes", visible(action.path), self.label, action.size)
        path, size = _room_path(action.path), human_size(action.size)
        self.door.room.announce("uploaded", name=self.name, path=path, size=size)

    def note_download(self, action: ftp.FileSent) -> None:
        log.info("sent %s to %s: %d bytes", visible(action.path), self, action.size)
        path, size = _room_path(action.path), human_size(action.size)
        self.door.room.show(self.door.say("console_sent", name=self.name, path=path, size=size))

    def announce_rename(self, action: ftp.Renamed) -> None:
        log.info("rename %s to %s by %s", visible(action.old), visible(action.new), self.label)
        old, new = _room_path(action.old), _room_path(action.new)
        self.door.room.announce("renamed", name=self.name, old=old, new=new)

    def start_tls_now(self, context: ssl.SSLContext) -> None:
        """AUTH TLS: the 234 goes in clear, then TLS with a context of its own
        (its own session tickets and cache: no other connection resumes its session)."""
        self.tls_context = context
        self.start_tls(context)
        context.num_tickets = 0
        """Only the control connection gets TLS 1.3 session tickets (its layer took the
        count when it was made): a data connection resumes that session and needs none.
        An uploading client never reads them, and closing with them unread makes its
        kernel reset the connection, which drops the upload's last bytes on our side."""

    def remember_active(self, action: ftp.ConnectActive) -> None:
        """PORT/EPRT: connect there when the transfer starts (no listener meanwhile)."""
        self.door.close_listener(self)
        self.active_target = (action.host, action.port)


class ImplicitTlsEntrance:
    """--ftps-port: the FTP door's connections that speak TLS from their first byte
    (implicit FTPS): the handshake comes before the 220, which then goes encrypted."""

    def __init__(self, door: FtpDoor):
        self._door = door

    def new_connection(self, sock: socket.socket, address: tuple, place: Place) -> FtpControl:
        control = self._door.new_connection(sock, address, place)
        control.ftp.begin_implicit_tls()
        control.start_tls_now(self._door.new_tls_context())
        return control

    def busy_message(self) -> bytes:
        """Nothing in clear: the client expects a TLS handshake, and would show bytes as garbage."""
        return b""


class FtpData(Connection):
    """An FTP data connection: a file or a listing out, or an upload in."""

    def __init__(self, sock: socket.socket, address: tuple, control: FtpControl):
        super().__init__(sock, address, control.loop.now, control.loop)
        self.control = control
        self.connecting = False
        self.sending = False
        self.upload: Upload | None = None
        self.pieces = None
        """The rest of a listing, taken a piece at a time as the last one is sent."""
        self.deadline_to_connect = self.connected_at + DATA_CONNECT_SECONDS
        self.interest_paused = False
        """Its EOF was seen: nothing more to watch while the upload settles."""
        self.early = bytearray()
        """An upload's first bytes, decrypted with the end of its TLS handshake before the
        STOR began: at most one read's worth (reading stops with the handshake)."""

    @classmethod
    def connect(cls, control: FtpControl, target: tuple[str, int]) -> FtpData | None:
        """An active data connection to `target`, connecting (None if that failed at once)."""
        sock = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        resend_losses_soon(sock)
        result = sock.connect_ex(target)
        if result not in (0, errno.EINPROGRESS):
            sock.close()
            return None
        data = cls(sock, target, control)
        data.connecting = result != 0
        return data

    @property
    def label(self) -> str:
        return f"data of {self.control.label}"

    @property
    def transferring(self) -> bool:
        return self.sending or self.upload is not None

    @property
    def wants_to_read(self) -> bool:
        return (self.upload is not None or self.handshaking) and not self.interest_paused

    def wanted_interest(self) -> int:
        if self.connecting:
            return selectors.EVENT_WRITE
        if self.interest_paused and self.is_open:
            return 0
        return super().wanted_interest()

    def begin(self, action) -> bool:
        """Start the transfer `action` asks for; False when there is nothing to send."""
        self.last_progress = self.loop.now
        if isinstance(action, ftp.SendFile):
            remaining = action.file.size - action.offset
            if remaining > 0:
                self.outbox.add_file_slice(action.file.fd, action.offset, remaining)
            if self.tls is None and remaining > RETR_UNSENT_BYTES:
                self._limit_unsent(RETR_UNSENT_BYTES)  # a smaller file never has more unsent
            self.sending = True
        elif isinstance(action, ftp.SendListing):
            self.pieces = action.pieces
            self.sending = True
            return True  # its pieces come as `produce` asks for them (an empty one ends there)
        else:
            self.upload = action.upload
        return not self.sending or bool(self.outbox)

    def _limit_unsent(self, limit: int) -> None:
        """The socket takes file bytes (and says it is writable) only while it holds fewer than
        `limit` unsent; where the platform lacks TCP_NOTSENT_LOWAT, it takes what fits."""
        with contextlib.suppress(OSError, AttributeError):
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, limit)

    def produce(self) -> None:
        """The next pieces of a listing while output is low. A None piece was a step of reading
        the folder with nothing to send yet: the next comes on the next turn, after the others'
        work. The listing is done when no piece is left and all went out (see `flushed`); a
        folder that fails partway ends it with 451 (`listing_failed`)."""
        while self.pieces is not None and self.below_low_water and self.state is State.OPEN:
            try:
                piece = next(self.pieces, b"")
            except FolderReadFailed as problem:
                self.listing_failed(problem)
                return
            if piece is None:
                self.loop.touch(self)
                return
            if not piece:
                self.pieces = None
                self.flushed()
                return
            self.outbox.add(piece)

    def listing_failed(self, problem: FolderReadFailed) -> None:
        """The folder failed partway through being read (nothing of it was sent): the control
        connection answers the transfer with 451 and goes on."""
        log.error("%s: cannot read %s to its end: %s", self.control.label, visible(problem.name), problem.why)
        self.pieces = None
        self.control.door.transfer_ended(self, ftp.TransferFailed(problem))

    def on_ready(self, mask: int) -> None:
        if not self.connecting:
            super().on_ready(mask)
        elif self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self.control.door.data_failed(self.control)
        else:
            self.control.door.data_connected(self)

    def readable(self) -> None:
        if self.upload is not None:
            self.read_upload()
        elif self.handshaking:
            self.read_handshake()

    def read_handshake(self) -> None:
        """PROT P: the data connection's TLS handshake, which must resume the control's session.
        A client may send its upload with the handshake's last records: those bytes wait in `early`."""
        try:
            self.early += self.receive() or b""
        except TlsFailed as error:
            self.refuse_tls(error)
        except OSError:
            self.control.door.data_failed(self.control)

    def refuse_tls(self, error: TlsFailed) -> None:
        log.warning("refused the data connection of %s: %s", self.control.label, error)
        self.control.door.data_failed(self.control)

    def read_upload(self) -> bool:
        """One read of an upload; False when there was nothing to read or it ended in error."""
        if self.upload is None:
            return False
        try:
            chunk = self._take_early() or self.receive()
        except TlsFailed as error:
            self.refuse_tls(error)
            return False
        except OSError:
            self.control.door.transfer_ended(self, ftp.TransferBroken())
            return False
        if chunk is None:
            return False
        self.last_progress = self.loop.now
        if not chunk:
            self.control.door.upload_ended(self)
            return True
        try:
            self.upload.write(chunk)
        except FileProblem as problem:
            self.control.door.transfer_ended(self, ftp.TransferFailed(problem))
            return False
        if self.input_ended:
            self.control.door.upload_ended(self)
        return True

    def _take_early(self) -> bytes:
        early, self.early = bytes(self.early), bytearray()
        return early

    @property
    def has_early_input(self) -> bool:
        """Input already decrypted (or its end) that no socket event will announce again."""
        return bool(self.early) or self.input_ended

    def flushed(self) -> None:
        """An empty outbox with no piece of a listing left: the transfer is done."""
        if self.sending and not self.outbox and self.state is State.OPEN and self.pieces is None:
            self.control.door.transfer_ended(self, ftp.TransferDone())

    def flush_failed(self, error: OSError | FileChanged) -> None:
        event = ftp.TransferFailed(None) if isinstance(error, FileChanged) else ftp.TransferBroken()
        self.control.door.transfer_ended(self, event)

    def housekeeping(self, now: float) -> None:
        """Connecting too long, a transfer that stalled, or no transfer at all."""
        door, limit = self.control.door, self.control.door.timeouts.data
        if self.connecting:
            if now >= self.deadline_to_connect:
                door.data_failed(self.control)
        elif self.transferring:
            stalled = now - self.last_progress if self.upload is not None else self.stalled_for(now)
            if limit and stalled > limit:
                door.transfer_ended(self, ftp.TransferBroken())
        elif limit and now - self.last_progress > limit:
            door.data_unused(self)

    def next_timer(self, now: float) -> float:
        """Its connect deadline while connecting (`FtpDoor.data_connected` touches it when that
        ends), else --data-timeout after its last progress: a stall or a wait for a transfer
        can end no sooner, and progress only moves it later."""
        if self.connecting:
            return self.deadline_to_connect
        limit = self.control.door.timeouts.data
        return self.last_progress + limit if limit else math.inf


class Membership(Visits, Protocol):
    """What the FTP door needs from the room: names, arrivals and departures, announcements,
    and (for anonymous names) whose visit lasts and how many people there are."""

    def add_member(self, member, name: str) -> bool: ...

    def remove_member(self, member, reason: str) -> None: ...

    def note_arrival(self, member) -> None: ...

    def announce(self, key: str, exclude=None, **values) -> None: ...


class FtpDoor(Door):
    """Every FTP connection of the server, and the actions of their sessions carried out."""

    def __init__(
        self,
        loop: Loop,
        room: Membership,
        storage: Storage,
        settings: ftp.FtpSettings,
        say: Messages,
        passive_ports: PassivePorts,
        timeouts: Timeouts,
        digests: HashCache | None = None,
        tls_context: Callable[[], ssl.SSLContext] | None = None,
        logins: ftp.LoginGuard | None = None,
    ):
        self.new_tls_context = tls_context
        """--tls-cert: makes a TLS context (one per control connection, at its AUTH TLS or
        as it arrives on --ftps-port: its own session cache)."""
        self._digests = digests if digests is not None else HashCache()
        self.loop = loop
        self.room = room
        self.timeouts = timeouts
        self._tree = Tree(storage)
        self._settings = settings
        self.say = say
        self._passive_ports = passive_ports
        self._anonymous = AnonymousNumbers(room)
        self._listeners: dict[PassiveListener, FtpControl] = {}
        self._settling: dict[FtpData, float] = {}
        """Uploads whose data connection ended, waiting to see that their client is still there."""
        self._waiting_for_port = WaitingLine()
        """PASVs waiting for a free passive port, in arrival order."""
        self._logins = logins or ftp.LoginGuard(clock=lambda: self.loop.now)
        """Failed logins per address, shared by every control connection (and the lab door's)."""
        self._delayed: dict[FtpControl, float] = {}
        """Sessions waiting for a Delay (a failed login's reply) to be over, and when it is."""
        self._actions = {
            ftp.SendReply: FtpControl.send_reply,
            ftp.Join: FtpControl.join,
            ftp.OpenPassive: self._open_passive,
            ftp.ConnectActive: FtpControl.remember_active,
            ftp.SendFile: self._start_transfer,
            ftp.SendListing: self._start_transfer,
            ftp.ReceiveUpload: self._start_transfer,
            ftp.UploadFinished: FtpControl.announce_upload,
            ftp.Renamed: FtpControl.announce_rename,
            ftp.FileSent: FtpControl.note_download,
            ftp.Delay: self._delay,
            ftp.StartTls: lambda control, _action: control.start_tls_now(self.new_tls_context()),
            ftp.CloseData: lambda control, _action: self._close_data(control),
            ftp.Close: lambda control, _action: self.loop.close_after_output(control, "quit"),
        }

    # --- control connections -------------------------------------------------------

    def new_connection(self, sock: socket.socket, address: tuple, place: Place) -> FtpControl:
        session = ftp.FtpSession(
            tree=self._tree,
            settings=self._settings,
            messages=self.say,
            peer=address[:2],
            local=sock.getsockname()[:2],
            anonymous_number=lambda: self._anonymous.number_for(place.key),
            digests=self._digests,
            logins=self._logins,
            address_key=place.key,
        )
        return FtpControl(sock, address, self.loop.now, session, place.key, self)

    def busy_message(self) -> bytes:
        return reply(421, self.say("server_busy"))

    def greet(self, control: FtpControl) -> None:
        """Carry out the session's first actions (its 220 greeting)."""
        control.greeted = True
        self.act(control)

    def refuse(self, control: FtpControl, key: str, **values) -> None:
        """421 with the lab's reason (full, busy, idle, closing), then close; a
        connection refused as it arrives gets the 421 instead of the greeting."""
        if not control.greeted:
            while control.ftp.next_action() is not None:
                pass
            control.greeted = True
        control.ftp.shut_down(key, **values)
        self.act(control)

    def act(self, control: FtpControl) -> None:
        """Carry out what the session asks, in order, until it asks nothing more."""
        while control.state is State.OPEN and (action := control.ftp.next_action()) is not None:
            self._actions[type(action)](control, action)

    def release(self, control: FtpControl) -> None:
        """The control connection is going: its session ends any transfer, its data side goes.
        An upload the client said QUIT after is finished first if its data connection ended cleanly."""
        data = control.data
        if control.ftp.quit_waiting and data is not None and data.upload is not None:
            self._finish_before_quit(control, data)
        self._delayed.pop(control, None)
        self._waiting_for_port.leave(control)
        control.ftp.connection_lost()
        self._close_data(control)

    def _finish_before_quit(self, control: FtpControl, data: FtpData) -> None:
        """RFC 959: QUIT during a transfer means finish it, then close. What the
        client sent is in the data socket's buffer: read it to its EOF, then
        keep the file (and announce it) if the end was clean."""
        while data not in self._settling and data.upload is not None and data.read_upload():
            pass
        if self._settling.pop(data, None) is None:
            return
        self._detach(data)
        self.loop.drop_soon(data, "transfer ended")
        control.ftp.handle(ftp.TransferDone())
        while (action := control.ftp.next_action()) is not None:
            if isinstance(action, ftp.UploadFinished):
                control.announce_upload(action)

    # --- passive listeners ---------------------------------------------------------

    def _open_passive(self, control: FtpControl, _action: ftp.OpenPassive) -> None:
        self.close_listener(control)
        if self._waiting_for_port or not self._listen(control):
            self._waiting_for_port.join(control, self.loop.now + PORT_WAIT_SECONDS)

    def _no_port(self, control: FtpControl) -> None:
        log.warning("no free passive port for %s within %g s", control.label, PORT_WAIT_SECONDS)
        control.ftp.handle(ftp.PassiveFailed())
        self.act(control)

    def _listen(self, control: FtpControl) -> bool:
        """A listener for `control` on a free port of the range; False when every port listens."""
        listening = self._passive_ports.listen(control.ftp.local_host, control.sock.family, control.label)
        if listening is None:
            return False
        sock, port = listening
        listener = PassiveListener(
            sock,
            port,
            control.ip,
            control.label,
            self.loop.now + DATA_CONNECT_SECONDS,
            adopt=lambda data_sock, address: self._accepted(control, data_sock, address),
            failed=lambda: self.data_failed(control),
        )
        control.passive = listener
        self._listeners[listener] = control
        self.loop.register(sock, selectors.EVENT_READ, listener)
        control.ftp.handle(ftp.PassiveOpened(listener.port))
        self.act(control)
        return True

    def _accepted(self, control: FtpControl, sock: socket.socket, address: tuple) -> None:
        self.close_listener(control)
        sock.setblocking(False)
        self._adopt_data(control, FtpData(sock, address, control))

    def close_listener(self, control: FtpControl) -> None:
        listener, control.passive = control.passive, None
        if listener is not None:
            self._waiting_for_port.freed = True
            del self._listeners[listener]
            self.loop.unregister(listener.sock)
            listener.sock.close()

    # --- data connections ----------------------------------------------------------

    def _start_transfer(self, control: FtpControl, action) -> None:
        control.pending = action
        if control.data is not None:
            self._begin(control.data)
        elif control.active_target is not None:
            self._connect_active(control)
        elif control.passive is None:
            control.pending = None
            control.ftp.handle(ftp.DataConnectFailed())

    def _connect_active(self, control: FtpControl) -> None:
        target, control.active_target = control.active_target, None
        data = FtpData.connect(control, target)
        if data is None:
            self.data_failed(control)
            return
        self._adopt_data(control, data)

    def _adopt_data(self, control: FtpControl, data: FtpData) -> None:
        control.data = data
        if control.ftp.data_protected:
            data.start_tls(control.tls_context, require_reuse=True)
        self.loop.adopt(data)
        if not data.connecting and control.pending is not None:
            self._begin(data)

    def data_connected(self, data: FtpData) -> None:
        data.connecting = False
        if data.control.pending is not None:
            self._begin(data)
        self.loop.touch(data)

    def _begin(self, data: FtpData) -> None:
        action, data.control.pending = data.control.pending, None
        if not data.begin(action):
            self.transfer_ended(data, ftp.TransferDone())  # nothing to send: an empty file or listing
            return
        if data.upload is not None and data.has_early_input:
            data.read_upload()
        self.loop.touch(data)

    def upload_ended(self, data: FtpData) -> None:
        """EOF on an upload: a clean end, or a client that died. Decide after UPLOAD_SETTLE_SECONDS."""
        if data in self._settling:
            return
        data.interest_paused = True
        self._settling[data] = self.loop.now + UPLOAD_SETTLE_SECONDS
        self.loop.touch(data)

    def _delay(self, control: FtpControl, action: ftp.Delay) -> None:
        self._delayed[control] = self.loop.now + action.seconds

    def _end_delays(self) -> None:
        """Tell each session whose Delay is over; its waiting lines are handled this turn."""
        for control, due in list(self._delayed.items()):
            if self.loop.now >= due:
                del self._delayed[control]
                control.ftp.handle(ftp.DelayOver())
                self.act(control)
                self.loop.touch(control)

    def before_input(self) -> None:
        """Ports for the PASVs waiting, Delays that are over, and each ended upload's
        outcome once its time is up (or its client is gone, every line it sent run)."""
        if self._waiting_for_port:
            self._waiting_for_port.serve(self.loop.now, self._listen, self._no_port)
        if self._delayed:  # asked every turn: no copy of an empty table
            self._end_delays()
        for data, due in list(self._settling.items()):
            if self.loop.now < due and not data.control.said_everything():
                continue
            del self._settling[data]
            if data.control.data is not data:
                continue  # aborted meanwhile
            quit_after = data.control.ftp.quit_waiting  # the client meant to end here
            alive = quit_after or (data.control.is_open and data.control.peer_alive())
            self.transfer_ended(data, ftp.TransferDone() if alive else ftp.TransferBroken())

    def wait_limit(self) -> float:
        """Sleep no longer than until a Delay ends, a port may be given, or a settling upload's poll."""
        now = self.loop.now
        limits = [super().wait_limit()]
        if self._settling:
            limits.append(UPLOAD_SETTLE_POLL_SECONDS)
        if self._delayed:
            limits.append(max(0.0, min(self._delayed.values()) - now))
        if self._waiting_for_port:
            limits.append(self._waiting_for_port.wait_limit(now))
        return min(limits)

    def transfer_ended(self, data: FtpData, event) -> None:
        """Tell the session; a clean end closes the data connection in steps, anything else at once."""
        control = data.control
        self._detach(data)
        if isinstance(event, ftp.TransferDone):
            self.loop.close_after_output(data, "transfer done")
        else:
            self.loop.drop_soon(data, "transfer ended")
        control.ftp.handle(event)
        self.act(control)

    def data_failed(self, control: FtpControl) -> None:
        self._close_data(control)
        control.ftp.handle(ftp.DataConnectFailed())
        self.act(control)

    def data_unused(self, data: FtpData) -> None:
        log.info("closing %s: no transfer for %g s", data.label, self.timeouts.data)
        self._detach(data)
        self.loop.drop_soon(data, "no transfer")

    def _close_data(self, control: FtpControl) -> None:
        self.close_listener(control)
        control.active_target = None
        control.pending = None
        data = control.data
        if data is not None:
            self._detach(data)
            self.loop.drop_soon(data, "data connection closed")

    def _detach(self, data: FtpData) -> None:
        """`data` is no longer its control connection's. Its last move counts as the control's
        activity: a visitor whose upload outlasted --idle-timeout is not refused as idle the
        moment it ends. The control's idle deadline so stays where the transfer had put it."""
        self._settling.pop(data, None)
        control = data.control
        if control.data is data:
            control.last_activity = max(control.last_activity, data.last_progress)
            control.data = None
        data.upload = None  # the session aborts or finishes it

    # --- time -----------------------------------------------------------------------

    def housekeeping(self, now: float) -> None:
        """Passive listeners that waited too long for their data connection."""
        for listener, control in list(self._listeners.items()):
            if now >= listener.deadline:
                self.data_failed(control)

    def close(self) -> None:
        for control in list(self._listeners.values()):
            self.close_listener(control)


def _room_path(path: str) -> str:
    """A file as the room names it, like the lab door: from the root, without the leading slash."""
    return visible(path.lstrip("/"))
