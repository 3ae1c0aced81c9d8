"""The FTP door in the server's loop: control and data connections, and the
passive listeners, carried out without blocking for `ftp.FtpSession`.

The session (app/ftplab/ftp/) decides everything and says so as actions; this
module does them with non-blocking sockets registered in the same selector as
the lab's connections, and feeds back what happened as events:

    SendReply        queue the bytes on the control connection
    Join             the Room admits the name (both doors share one set of names)
    OpenPassive      a listener on a --passive-ports port that accepts only the
                     control connection's own address, until DATA_CONNECT_SECONDS
    ConnectActive    remember where to connect when the transfer starts
    SendFile         a file slice in the data connection's outbox (os.sendfile)
    SendListing      pieces in the data connection's outbox, the next when the last is sent
    ReceiveUpload    what the data connection reads goes to the upload
    UploadFinished   the others are told a file arrived
    Renamed          the others are told a file was renamed
    CloseData        the data connection and the listener go
    Close            the control connection closes after its last reply

Fairness: the session only keeps what is read (`receive_data`); `produce`
lets it take one bounded step (`advance`) per turn while the control
connection's output is below its high-water mark, and the control connection
is read again only when no whole line waits.

A data connection counts against nothing (it is part of its control
connection, which counts against --max-clients and --max-per-ip like a lab
client), but its stall is timed like any output: --data-timeout.
"""

from __future__ import annotations

import errno
import itertools
import logging
import selectors
import socket
from typing import Protocol

from . import ftp
from .connection import HIGH_WATER_BYTES, Connection, State
from .messages import Messages, human_size
from .storage import FileChanged, FileProblem, Storage, Tree, Upload
from .text import visible
from .transfer import HashCache

log = logging.getLogger("ftplab.server")

RECV_BYTES = 64 * 1024
DATA_CONNECT_SECONDS = 30.0
"""How long a passive listener waits for its data connection, or an active one tries."""

UPLOAD_SETTLE_SECONDS = 0.2
"""In stream mode the end of an upload is the data connection's EOF, and a client that was
killed mid-upload closes it the same way. Before an upload gets its name, its control
connection must still be there this long after that EOF: a killed client's is gone too."""


class FtpControl(Connection):
    """An FTP control connection: its sans-IO session and the data side carried out for it."""

    hears_chat = False

    def __init__(self, sock: socket.socket, address: tuple, now: float, session: ftp.FtpSession, key: str):
        super().__init__(sock, address, now)
        self.ftp = session
        self.address_key = key
        self.name: str | None = None
        self.last_activity = now
        self.passive: PassiveListener | None = None
        self.active_target: tuple[str, int] | None = None
        self.data: FtpData | None = None
        self.pending = None
        """The transfer action waiting for its data connection."""
        self.greeted = False

    @property
    def label(self) -> str:
        return f"{self.name or '?'}@{self.address[0]}:{self.address[1]} (ftp)"

    @property
    def who_name(self) -> str:
        return f"{self.name} (ftp)"

    @property
    def wants_to_read(self) -> bool:
        return self.outbox.buffered_bytes < HIGH_WATER_BYTES and self.ftp.wants_data

    @property
    def busy_sending(self) -> bool:
        return self.data is not None

    def idle_for(self, now: float) -> float:
        return 0.0 if self.data is not None else now - self.last_activity


class FtpData(Connection):
    """An FTP data connection: a file or a listing out, or an upload in."""

    def __init__(self, sock: socket.socket, address: tuple, now: float, control: FtpControl):
        super().__init__(sock, address, now)
        self.control = control
        self.connecting = False
        self.sending = False
        self.upload: Upload | None = None
        self.pieces = None
        """The rest of a listing, taken a piece at a time as the last one is sent."""
        self.deadline_to_connect = now + DATA_CONNECT_SECONDS
        self.interest_paused = False
        """Its EOF was seen: nothing more to watch while the upload settles."""

    @property
    def label(self) -> str:
        return f"data of {self.control.label}"

    @property
    def wants_to_read(self) -> bool:
        return self.upload is not None and not self.interest_paused

    def wanted_interest(self) -> int:
        if self.connecting:
            return selectors.EVENT_WRITE
        if self.interest_paused:
            return 0
        return super().wanted_interest()


class PassiveListener:
    """A listening socket for one control connection's next data connection."""

    def __init__(self, sock: socket.socket, control: FtpControl, deadline: float):
        self.sock = sock
        self.control = control
        self.deadline = deadline


class Loop(Protocol):
    """What the door needs from the server's loop."""

    now: float
    stopping: bool

    def register(self, sock: socket.socket, events: int, data) -> None: ...

    def unregister(self, sock: socket.socket) -> None: ...

    def add_data_connection(self, connection: Connection) -> None: ...

    def touch(self, connection: Connection) -> None: ...

    def drop_soon(self, connection: Connection, reason: str) -> None: ...

    def close_after_output(self, connection: Connection, reason: str) -> None: ...


class Room(Protocol):
    """What the door needs from the room."""

    def add_member(self, member, name: str) -> bool: ...

    def note_arrival(self, member) -> None: ...

    def announce(self, key: str, exclude=None, **values) -> None: ...


class FtpDoor:
    """Every FTP connection of the server, and the actions of their sessions carried out."""

    def __init__(
        self,
        loop: Loop,
        room: Room,
        storage: Storage,
        settings: ftp.FtpSettings,
        say: Messages,
        passive_ports: range | None,
        digests: HashCache | None = None,
    ):
        self._digests = digests if digests is not None else HashCache()
        self._loop = loop
        self._room = room
        self._tree = Tree(storage)
        self._settings = settings
        self._say = say
        self._passive_ports = passive_ports
        self._anonymous = itertools.count(1)
        self._listeners: set[PassiveListener] = set()
        self._settling: dict[FtpData, float] = {}
        """Uploads whose data connection ended, waiting to see that their client is still there."""
        self._logins = ftp.LoginGuard(clock=lambda: self._loop.now)
        """Failed logins per address, shared by every control connection."""
        self._delayed: dict[FtpControl, float] = {}
        """Sessions waiting for a Delay (a failed login's reply) to be over, and when it is."""
        self._actions = {
            ftp.SendReply: self._send_reply,
            ftp.Join: self._join,
            ftp.OpenPassive: self._open_passive,
            ftp.ConnectActive: self._remember_active,
            ftp.SendFile: self._start_transfer,
            ftp.SendListing: self._start_transfer,
            ftp.ReceiveUpload: self._start_transfer,
            ftp.UploadFinished: self._upload_finished,
            ftp.Renamed: self._renamed,
            ftp.Delay: self._delay,
            ftp.CloseData: lambda control, _action: self._close_data(control),
            ftp.Close: lambda control, _action: self._loop.close_after_output(control, "quit"),
        }

    # --- control connections -------------------------------------------------------

    def new_control(self, sock: socket.socket, address: tuple, now: float, key: str) -> FtpControl:
        session = ftp.FtpSession(
            tree=self._tree,
            settings=self._settings,
            messages=self._say,
            peer=address[:2],
            local=sock.getsockname()[:2],
            anonymous_number=lambda: next(self._anonymous),
            digests=self._digests,
            logins=self._logins,
        )
        control = FtpControl(sock, address, now, session, key)
        return control

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

    def read_control(self, control: FtpControl) -> None:
        try:
            data = control.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._loop.drop_soon(control, f"receive failed: {error}")
            return
        if not data:
            self._loop.drop_soon(control, "closed by peer")
            return
        if control.is_open:
            control.last_activity = self._loop.now
            control.ftp.receive_data(data)
            self._loop.touch(control)  # serviced this turn: `produce`

    def produce(self, control: FtpControl) -> None:
        """One bounded step of the session (FtpSession.advance) while the control
        connection's output is below the high-water mark; the loop calls it each
        time it services the connection, and it asks to be serviced again while
        the session has more to do (a congested connection is woken by its socket)."""
        if control.state is not State.OPEN or control.above_high_water or not control.ftp.has_work:
            return
        control.ftp.advance()
        self.act(control)
        if control.ftp.has_work and not control.above_high_water:
            self._loop.touch(control)

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
        control.ftp.connection_lost()
        self._close_data(control)

    def _finish_before_quit(self, control: FtpControl, data: FtpData) -> None:
        """RFC 959: QUIT during a transfer means finish it, then close. What the
        client sent is in the data socket's buffer: read it to its EOF, then
        keep the file (and announce it) if the end was clean."""
        while data not in self._settling and data.upload is not None and self._read_upload(data):
            pass
        if self._settling.pop(data, None) is None:
            return
        self._drop_data(data, "transfer ended")
        control.ftp.handle(ftp.TransferDone())
        while (action := control.ftp.next_action()) is not None:
            if isinstance(action, ftp.UploadFinished):
                self._upload_finished(control, action)

    def _send_reply(self, control: FtpControl, action: ftp.SendReply) -> None:
        if not control.queue(action.data, self._loop.now):
            self._loop.drop_soon(control, "too slow: output queue full")
            return
        self._loop.touch(control)

    def _join(self, control: FtpControl, action: ftp.Join) -> None:
        if not self._room.add_member(control, action.name):
            log.info("refused name %s for %s: in use", visible(action.name), control.label)
            control.ftp.handle(ftp.JoinRefused(self._say("name_taken", name=action.name)))
            return
        log.info("joined %s", control.label)
        self._loop.joined(control)
        self._room.note_arrival(control)
        control.ftp.handle(ftp.Joined())

    def _upload_finished(self, control: FtpControl, action: ftp.UploadFinished) -> None:
        log.info("upload %s from %s: %d bytes", visible(action.path), control.label, action.size)
        path = _room_path(action.path)
        self._room.announce("uploaded", name=control.name, path=path, size=human_size(action.size))

    def _renamed(self, control: FtpControl, action: ftp.Renamed) -> None:
        log.info("rename %s to %s by %s", visible(action.old), visible(action.new), control.label)
        old, new = _room_path(action.old), _room_path(action.new)
        self._room.announce("renamed", name=control.name, old=old, new=new)

    def _delay(self, control: FtpControl, action: ftp.Delay) -> None:
        self._delayed[control] = self._loop.now + action.seconds

    @property
    def delaying(self) -> bool:
        """Sessions wait for a Delay: the loop should come back soon."""
        return bool(self._delayed)

    def end_delays(self, now: float) -> None:
        """Tell each session whose Delay is over, and carry out what it says then."""
        for control, due in list(self._delayed.items()):
            if now >= due:
                del self._delayed[control]
                control.ftp.handle(ftp.DelayOver())
                self.act(control)
                self._loop.touch(control)

    # --- passive listeners ---------------------------------------------------------

    def _open_passive(self, control: FtpControl, _action: ftp.OpenPassive) -> None:
        self._close_listener(control)
        sock = self._passive_socket(control)
        if sock is None:
            control.ftp.handle(ftp.PassiveFailed())
            return
        listener = PassiveListener(sock, control, self._loop.now + DATA_CONNECT_SECONDS)
        control.passive = listener
        self._listeners.add(listener)
        self._loop.register(sock, selectors.EVENT_READ, lambda _mask: self._accept_data(listener))
        control.ftp.handle(ftp.PassiveOpened(sock.getsockname()[1]))

    def _passive_socket(self, control: FtpControl) -> socket.socket | None:
        """A listener on the control connection's local address, on a free port of the range."""
        local = control.sock.getsockname()
        family = control.sock.family
        for port in self._passive_ports or (0,):
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.bind((local[0], port))
                sock.listen(1)
                sock.setblocking(False)
                return sock
            except OSError as error:
                sock.close()
                if error.errno not in (errno.EADDRINUSE, errno.EACCES):
                    log.warning("cannot open a passive port for %s: %s", control.label, error)
                    return None
        log.warning("no free passive port for %s", control.label)
        return None

    def _accept_data(self, listener: PassiveListener) -> None:
        try:
            self._accept_from(listener)
        except Exception:
            log.exception("unexpected error accepting a data connection for %s", listener.control.label)
            self._data_failed(listener.control)

    def _accept_from(self, listener: PassiveListener) -> None:
        control = listener.control
        while True:
            try:
                sock, address = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                log.warning("passive accept failed for %s: %s", control.label, error)
                return
            if address[0] != control.ip:
                log.warning(
                    "refused a data connection from %s for %s: not its address", address[0], control.label
                )
                sock.close()  # no port stealing: only the control connection's own address
                continue
            self._close_listener(control)
            self._adopt_data(control, sock, address)
            return

    def _close_listener(self, control: FtpControl) -> None:
        listener, control.passive = control.passive, None
        if listener is not None:
            self._listeners.discard(listener)
            self._loop.unregister(listener.sock)
            listener.sock.close()

    # --- data connections ----------------------------------------------------------

    def _remember_active(self, control: FtpControl, action: ftp.ConnectActive) -> None:
        self._close_listener(control)
        control.active_target = (action.host, action.port)

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
        sock = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        result = sock.connect_ex(target)
        if result not in (0, errno.EINPROGRESS):
            sock.close()
            self._data_failed(control)
            return
        data = self._adopt_data(control, sock, target, connecting=True)
        if result == 0:
            self._connected(data)

    def _adopt_data(
        self, control: FtpControl, sock: socket.socket, address, connecting: bool = False
    ) -> FtpData:
        sock.setblocking(False)
        data = FtpData(sock, address, self._loop.now, control)
        data.connecting = connecting
        control.data = data
        self._loop.add_data_connection(data)
        if not connecting and control.pending is not None:
            self._begin(data)
        return data

    def on_data_ready(self, data: FtpData, mask: int) -> None:
        if data.connecting:
            error = data.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                self._data_failed(data.control)
            else:
                self._connected(data)
            return
        if mask & selectors.EVENT_READ:
            self._read_upload(data)
        if mask & selectors.EVENT_WRITE:
            self._loop.touch(data)

    def _connected(self, data: FtpData) -> None:
        data.connecting = False
        if data.control.pending is not None:
            self._begin(data)
        self._loop.touch(data)

    def _begin(self, data: FtpData) -> None:
        control = data.control
        action, control.pending = control.pending, None
        data.last_progress = self._loop.now
        if isinstance(action, ftp.SendFile):
            remaining = action.file.size - action.offset
            if remaining > 0:
                data.outbox.add_file_slice(action.file.fd, action.offset, remaining)
            data.sending = True
        elif isinstance(action, ftp.SendListing):
            data.pieces = action.pieces
            self._next_piece(data)
            data.sending = True
        else:
            data.upload = action.upload
        if data.sending and not data.outbox:
            self._transfer_ended(data, ftp.TransferDone())  # nothing to send: an empty file or listing
            return
        self._loop.touch(data)

    def _next_piece(self, data: FtpData) -> bool:
        """Queue the next piece of a listing; False when none is left."""
        piece = next(data.pieces, None) if data.pieces is not None else None
        if piece is None:
            data.pieces = None
            return False
        data.outbox.add(piece)
        self._loop.touch(data)
        return True

    def _read_upload(self, data: FtpData) -> bool:
        """One read of an upload; False when there was nothing to read or it ended in error."""
        if data.upload is None:
            return False
        try:
            chunk = data.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self._transfer_ended(data, ftp.TransferBroken())
            return False
        data.last_progress = self._loop.now
        if not chunk:
            self._upload_ended(data)
            return True
        try:
            data.upload.write(chunk)
        except FileProblem as problem:
            self._transfer_ended(data, ftp.TransferFailed(problem))
            return False
        return True

    def _upload_ended(self, data: FtpData) -> None:
        """EOF on an upload: a clean end, or a client that died. Decide after UPLOAD_SETTLE_SECONDS."""
        if data in self._settling:
            return
        data.interest_paused = True
        self._settling[data] = self._loop.now + UPLOAD_SETTLE_SECONDS
        self._loop.touch(data)

    def settle_uploads(self, now: float) -> None:
        """Give each ended upload its outcome once its time is up (or its client is gone)."""
        for data, due in list(self._settling.items()):
            if now < due and _peer_alive(data.control.sock):
                continue
            del self._settling[data]
            if data.control.data is not data:
                continue  # aborted meanwhile
            quit_after = data.control.ftp.quit_waiting  # the client meant to end here
            alive = quit_after or (data.control.is_open and _peer_alive(data.control.sock))
            self._transfer_ended(data, ftp.TransferDone() if alive else ftp.TransferBroken())

    @property
    def settling(self) -> bool:
        """Uploads wait to be settled: the loop should come back soon."""
        return bool(self._settling)

    def after_flush(self, data: FtpData) -> None:
        """A sending data connection whose outbox is empty has sent everything: the transfer is done."""
        if data.sending and not data.outbox and data.state is State.OPEN and not self._next_piece(data):
            self._transfer_ended(data, ftp.TransferDone())

    def send_failed(self, data: FtpData, error: Exception) -> None:
        event = ftp.TransferFailed(None) if isinstance(error, FileChanged) else ftp.TransferBroken()
        self._transfer_ended(data, event)

    def _transfer_ended(self, data: FtpData, event) -> None:
        control = data.control
        self._drop_data(data, "transfer ended")
        control.ftp.handle(event)
        self.act(control)

    def _data_failed(self, control: FtpControl) -> None:
        self._close_data(control)
        control.ftp.handle(ftp.DataConnectFailed())
        self.act(control)

    def _close_data(self, control: FtpControl) -> None:
        self._close_listener(control)
        control.active_target = None
        control.pending = None
        data, control.data = control.data, None
        if data is not None:
            self._drop_data(data, "data connection closed")

    def _drop_data(self, data: FtpData, reason: str) -> None:
        self._settling.pop(data, None)
        if data.control.data is data:
            data.control.data = None
        data.upload = None  # the session aborts or finishes it
        self._loop.drop_soon(data, reason)

    # --- time -----------------------------------------------------------------------

    def housekeeping(self, now: float) -> None:
        """Passive listeners that waited too long for their data connection."""
        for listener in list(self._listeners):
            if now >= listener.deadline:
                self._data_failed(listener.control)

    def data_stalled(self, data: FtpData, now: float, data_timeout: float) -> bool:
        if data.connecting:
            return now >= data.deadline_to_connect
        if data.upload is not None:
            return bool(data_timeout) and now - data.last_progress > data_timeout
        return bool(data_timeout) and data.stalled_for(now) > data_timeout

    def data_timed_out(self, data: FtpData) -> None:
        if data.connecting:
            self._data_failed(data.control)
        else:
            self._transfer_ended(data, ftp.TransferBroken())

    def close_listeners(self) -> None:
        for listener in list(self._listeners):
            self._close_listener(listener.control)


def _room_path(path: str) -> str:
    """A file as the room names it, like the lab door: from the root, without the leading slash."""
    return visible(path.lstrip("/"))


def _peer_alive(sock: socket.socket) -> bool:
    """The peer has not closed its side (nothing is read: only peeked)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return False


def parse_port_range(text: str) -> range:
    """`30000-30009` → range(30000, 30010); ValueError for anything else."""
    first, _, last = text.partition("-")
    low, high = int(first), int(last or first)
    if not 1024 <= low <= high <= 65535:
        raise ValueError(f"{text}: a range of ports from 1024 to 65535")
    return range(low, high + 1)
