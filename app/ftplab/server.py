"""The ftplab server's loop: one process, one thread, one selectors loop.

The loop watches the listening socket, every connection, the console and a
wake-up socket for signals, and only moves bytes and keeps time: what a line
means is decided in handlers.py, who is in the room and what they are sent
in room.py, how downloads are cut into frames in downloads.py, and how a
connection flushes and closes in connection.py. It never blocks on one
client: sockets are non-blocking, each client gets a bounded number of lines
per turn, and an error on one connection closes that connection only.

Stopping is a mode of the same loop: every client is sent a goodbye, and the
loop goes on until each has read it and closed (or a deadline passes).

Run it as `ftplab-server` or `python -m ftplab.server` (see cli.py).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import socket
import time
from collections.abc import Callable

from . import protocol
from .cli import ServerConfig
from .connection import Connection, State
from .console import ConsoleWatch, PlainConsole
from .downloads import Downloads
from .ftp import FtpSettings
from .ftpdoor import FtpControl, FtpData, FtpDoor, parse_port_range
from .handlers import Handlers
from .messages import Messages
from .net import address_key, watch_for_dead_peer
from .protocol import ErrorCode
from .room import PROGRESS_WINDOW_SECONDS, Room
from .session import ADDRESS_CHAT_BURST_LINES, ADDRESS_CHAT_LINES_PER_SECOND, Allowance, Session
from .storage import FileChanged, Storage, Tree
from .uploads import Uploads, UploadSettings

log = logging.getLogger("ftplab.server")

RECV_BYTES = 64 * 1024
LINES_PER_TURN = 32
"""Lines handled for one client before the loop turns to the others."""

ACCEPTS_PER_TURN = 1024
"""Connections taken from the backlog per turn: a crowd connecting at once must not
overflow the kernel's accept queue (each overflow costs a client a SYN retransmit, 1 s or more)."""
FLUSHES_PER_TURN = 8
"""Download frames one client may send per loop turn while its socket keeps up."""

MAX_CLOSING = 64
"""Connections kept open only to deliver a last message; past this they close at once."""

HOUSEKEEPING_SECONDS = 0.25
SHUTDOWN_FLUSH_SECONDS = 1.0
ACCEPT_PAUSE_SECONDS = 0.5
UPLOAD_SETTLE_POLL_SECONDS = 0.05
"""How often the loop looks at uploads settling (see ftpdoor.UPLOAD_SETTLE_SECONDS)."""

FD_SETSIZE = 1024
"""The highest descriptor select() can watch, plus one (glibc's fixed size)."""

SELECTORS = {
    "select": selectors.SelectSelector,
    "poll": getattr(selectors, "PollSelector", selectors.SelectSelector),
    "epoll": getattr(
        selectors, "EpollSelector", getattr(selectors, "KqueueSelector", selectors.DefaultSelector)
    ),
    "best": selectors.DefaultSelector,
}
"""`--selector`: select() is the lab's lesson (and its FD_SETSIZE limit); epoll scales."""

KEEP_ALIVES_PER_IDLE_TIMEOUT = 3
"""A client that announces itself is asked for a line every third of --idle-timeout:
a student who only reads the chat sends those, and is never taken for idle."""

LONGEST_EXPECTED_TURN = 2.0
"""A turn longer than this means the process was stopped (SIGSTOP, Ctrl-Z): see LoopClock."""


class LoopClock:
    """Monotonic time that stands still while the process was not running.

    A server stopped for a minute (Ctrl-Z then fg, SIGSTOP) must not find on
    waking that every client "made no progress for 60 s": the time between
    two turns beyond LONGEST_EXPECTED_TURN is not counted."""

    def __init__(self, source: Callable[[], float] = time.monotonic):
        self._source = source
        self._last = source()
        self._paused = 0.0

    def tick(self) -> float:
        now = self._source()
        gap = now - self._last
        if gap > LONGEST_EXPECTED_TURN:
            self._paused += gap - HOUSEKEEPING_SECONDS
        self._last = now
        return now - self._paused


class _AddressState:
    """What the server keeps per client address: open connections and the shared chat allowance."""

    def __init__(self, now: float):
        self.open = 0
        self.chat = Allowance(ADDRESS_CHAT_LINES_PER_SECOND, ADDRESS_CHAT_BURST_LINES, now)


class Server:
    """The loop: accepts, reads, writes and keeps time for every connection, in one thread."""

    def __init__(self, config: ServerConfig, storage: Storage, console: PlainConsole | None = None):
        self.config = config
        self.name = config.name
        self.storage = storage
        self.console = console
        self.say = Messages(config.lang)
        self._selector = SELECTORS[config.selector]()
        self._highest_fd = FD_SETSIZE - 1 if isinstance(self._selector, selectors.SelectSelector) else None
        """select() cannot watch a descriptor past FD_SETSIZE; the others have no such limit."""
        self._clock = LoopClock()
        self.now = self._clock.tick()
        self._connections: set[Connection] = set()
        """Every connection, closing ones and FTP data connections included."""
        self._open: set[Connection] = set()
        """Clients of either door that count against the limits."""
        self._unnamed: dict[Connection, None] = {}
        """Open connections that have not given a name yet, oldest first."""
        self._addresses: dict[str, _AddressState] = {}
        self._touched: set[Session] = set()
        self._doomed: dict[Session, str] = {}
        self._held_for_room: set[Session] = set()
        self._held_for_rate: set[Session] = set()
        self.stopping = False
        self._stop_requested = False
        self._stop_deadline = 0.0
        self._accept_resume_at: float | None = None
        self._console_backlog: list[str] = []
        self._console_watch: ConsoleWatch | None = None
        self._next_housekeeping = 0.0
        self._listener: socket.socket | None = None
        self._ftp_listener: socket.socket | None = None
        self._spare_fd: int | None = None
        self._wakeup_reader, self._wakeup_writer = socket.socketpair()
        window = min(PROGRESS_WINDOW_SECONDS, config.data_timeout or PROGRESS_WINDOW_SECONDS)
        self.room = Room(self.name, self.say, self, self.show, window)
        self.downloads = Downloads(storage, self.room, self)
        self.uploads = Uploads(Tree(storage), self.room, _upload_settings(config))
        self._handlers = Handlers(
            self.room,
            self.downloads,
            storage,
            self.uploads,
            keep_alive_seconds=config.idle_timeout / KEEP_ALIVES_PER_IDLE_TIMEOUT,
            stop=self.request_stop,
        )
        self.ftp_door = self._make_ftp_door(config, storage) if config.ftp_port is not None else None

    def _make_ftp_door(self, config: ServerConfig, storage: Storage) -> FtpDoor:
        settings = FtpSettings(
            password=config.ftp_password or None,
            allow_upload=config.allow_upload,
            allow_overwrite=config.allow_overwrite,
            max_upload_bytes=config.max_upload_bytes,
            masquerade_address=config.masquerade_address or None,
        )
        ports = parse_port_range(config.passive_ports) if config.passive_ports else None
        return FtpDoor(self, self.room, storage, settings, self.say, ports, self.downloads.digests)

    # --- the caller's interface ------------------------------------------------

    def bind(self) -> tuple:
        """Listen on the configured address (and the FTP port); returns the lab's bound (host, port)."""
        self._listener = _listen(self.config.host, self.config.port)
        self._selector.register(self._listener, selectors.EVENT_READ, self._on_listener)
        if self.ftp_door is not None:
            self._ftp_listener = _listen(self.config.host, self.config.ftp_port)
            self._selector.register(self._ftp_listener, selectors.EVENT_READ, self._on_ftp_listener)
        for sock in (self._wakeup_reader, self._wakeup_writer):
            sock.setblocking(False)
        self._selector.register(self._wakeup_reader, selectors.EVENT_READ, self._on_wakeup)
        self._spare_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        if self.console is not None and not self.console.at_eof:
            self._watch_console(True)
        return self._listener.getsockname()[:2]

    @property
    def ftp_address(self) -> tuple | None:
        """The FTP door's bound (host, port), if it is open."""
        return None if self._ftp_listener is None else self._ftp_listener.getsockname()[:2]

    @property
    def wakeup_fd(self) -> int:
        """Give this to signal.set_wakeup_fd so a signal wakes the loop."""
        return self._wakeup_writer.fileno()

    def request_stop(self) -> None:
        """Ask the loop to tell everyone goodbye and return; safe from a signal handler."""
        self._stop_requested = True

    def serve_forever(self) -> None:
        try:
            while not self._finished():
                self._turn()
        finally:
            self._close_everything()

    def _finished(self) -> bool:
        if self._stop_requested and not self.stopping:
            self._begin_stopping()
        if not self.stopping:
            return False
        return not self._connections or self.now >= self._stop_deadline

    # --- what the room and the downloads ask of the loop --------------------------

    def show(self, text: str) -> None:
        """A line for the server's console, if it has one."""
        if self.console is not None:
            self.console.show(text)

    def touch(self, session: Connection) -> None:
        self._touched.add(session)

    def register(self, sock: socket.socket, events: int, data) -> None:
        self._selector.register(sock, events, data)

    def unregister(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)

    def add_data_connection(self, connection: Connection) -> None:
        self._connections.add(connection)
        self._touched.add(connection)

    def joined(self, connection: Connection) -> None:
        """`connection` has a name now: it no longer counts as a silent one."""
        self._unnamed.pop(connection, None)

    def drop_soon(self, session: Session, reason: str) -> None:
        self._doomed.setdefault(session, reason)

    def close_after_output(self, session: Session, reason: str) -> None:
        """Send what is queued (a last message), then close; see connection.py."""
        if session.state is not State.OPEN:
            return
        if session.outbox.has_file_slice:
            # A slice still points at a file we are about to close; its fd number
            # could be reused for another file. No clean goodbye is possible here.
            self.drop_soon(session, reason)
            return
        self._leave_open(session, reason)
        self._release(session)
        session.begin_closing(self.now)
        self._touched.add(session)

    def _release(self, connection: Connection) -> None:
        """What a closing connection holds besides its socket: open files, a data connection."""
        if isinstance(connection, Session):
            connection.close_transfers()
        elif isinstance(connection, FtpControl):
            self.ftp_door.release(connection)

    # --- the loop ---------------------------------------------------------------

    def _turn(self) -> None:
        for key, mask in self._selector.select(self._select_timeout()):
            self.now = self._clock.tick()
            if isinstance(key.data, Connection):
                self._guard(key.data, self._on_ready, mask)
            else:
                key.data(mask)
        self.now = self._clock.tick()
        if self._console_watch is not None and self._console_watch.polled:
            self._on_console(selectors.EVENT_READ)
        if self._held_for_room and not self.room.congested:
            self._release_held(self._held_for_room)
        self._handle_pending_lines()
        self._feed_console_backlog()
        self.downloads.hash_step(self._guard)
        if self.ftp_door is not None and self.ftp_door.settling:
            self.ftp_door.settle_uploads(self.now)
        if self.ftp_door is not None and self.ftp_door.delaying:
            self.ftp_door.end_delays(self.now)
        self._drop_doomed()
        self.room.flush_news()
        self._service_touched()
        self._drop_doomed()
        if self.now >= self._next_housekeeping:
            self._housekeeping()
        self._update_console_interest()

    def _select_timeout(self) -> float:
        if self.downloads.hashing or self._touched or self._doomed or self.room.has_news:
            return 0.0
        if self.ftp_door is not None and (self.ftp_door.settling or self.ftp_door.delaying):
            return UPLOAD_SETTLE_POLL_SECONDS
        return HOUSEKEEPING_SECONDS

    def _guard(self, session: Session, work: Callable, *args) -> None:
        """Do one connection's work; an unexpected error closes that connection, never the server."""
        try:
            work(session, *args)
        except Exception:
            log.exception("unexpected error on %s; closing that connection", session.label)
            self._drop(session, "internal error")

    def _on_wakeup(self, _mask: int) -> None:
        try:
            while self._wakeup_reader.recv(4096):
                pass
        except BlockingIOError:
            pass

    # --- accepting ----------------------------------------------------------------

    def _on_listener(self, _mask: int) -> None:
        self._accept_from(self._listener, self._new_session)

    def _on_ftp_listener(self, _mask: int) -> None:
        self._accept_from(self._ftp_listener, self._new_ftp_control)

    def _accept_from(self, listener: socket.socket, make: Callable) -> None:
        for _ in range(ACCEPTS_PER_TURN):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self._accept_failed(listener, error)
                return
            self._admit(sock, address, make)

    def _new_session(self, sock: socket.socket, address: tuple, place: _AddressState, key: str) -> Session:
        return Session(sock, address, self.now, place.chat, key)

    def _new_ftp_control(self, sock: socket.socket, address: tuple, _place, key: str) -> FtpControl:
        return self.ftp_door.new_control(sock, address, self.now, key)

    def _listeners(self) -> list[socket.socket]:
        return [sock for sock in (self._listener, self._ftp_listener) if sock is not None]

    def _accept_failed(self, listener: socket.socket, error: OSError) -> None:
        """Out of descriptors (or kernel memory): tell the waiting clients the
        server is busy, using the descriptor kept spare for this, and stop
        watching the listener for a moment (it would stay readable and spin)."""
        log.error("accept failed: %s; pausing accepts for %.1f s", error, ACCEPT_PAUSE_SECONDS)
        if error.errno in (errno.EMFILE, errno.ENFILE):
            self._refuse_waiting_as_busy(listener)
        if self._accept_resume_at is None:
            for sock in self._listeners():
                self._selector.unregister(sock)
        self._accept_resume_at = self.now + ACCEPT_PAUSE_SECONDS

    def _refuse_waiting_as_busy(self, listener: socket.socket) -> None:
        if self._spare_fd is None:
            return
        os.close(self._spare_fd)
        self._spare_fd = None
        try:
            for _ in range(ACCEPTS_PER_TURN):
                sock, _address = listener.accept()
                self._turn_away(sock, ftp=listener is self._ftp_listener)
        except OSError:
            pass
        finally:
            try:
                self._spare_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._spare_fd = None

    def _turn_away(self, sock: socket.socket, ftp: bool = False) -> None:
        """Tell a connection we cannot take that the server is busy (one send, no waiting), and close it."""
        if ftp:
            message = f"421 {self.say('server_busy')}\r\n".encode()
        else:
            message = protocol.encode(self.room.error_event(ErrorCode.BUSY, "server_busy"))
        with sock:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.send(message)

    def _resume_accepting(self) -> None:
        self._accept_resume_at = None
        self._selector.register(self._listener, selectors.EVENT_READ, self._on_listener)
        if self._ftp_listener is not None:
            self._selector.register(self._ftp_listener, selectors.EVENT_READ, self._on_ftp_listener)

    def _admit(self, sock: socket.socket, address: tuple, make: Callable) -> None:
        if self._highest_fd is not None and sock.fileno() > self._highest_fd:
            log.warning(
                "refused %s:%s: select() cannot watch descriptor %d (FD_SETSIZE %d); use --selector epoll",
                address[0],
                address[1],
                sock.fileno(),
                FD_SETSIZE,
            )
            self._turn_away(sock, ftp=make == self._new_ftp_control)
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        watch_for_dead_peer(sock, user_timeout_ms=int(self.config.data_timeout * 1000))
        key = address_key(address[0])
        place = self._addresses.get(key) or self._addresses.setdefault(key, _AddressState(self.now))
        session = make(sock, address, place, key)
        refusal = self._admission_problem(place)
        if refusal is not None and self._closing_count() >= MAX_CLOSING:
            log.warning(
                "refused %s (%s); too many closing connections, closed at once", session.label, refusal[0]
            )
            sock.close()
            self._forget_address_if_unused(key)
            return
        self._connections.add(session)
        self._open.add(session)
        self._unnamed[session] = None
        place.open += 1
        self._touched.add(session)
        if isinstance(session, FtpControl) and refusal is None:
            self.ftp_door.greet(session)
        if refusal is None:
            log.info("connect %s (%d open)", session.label, len(self._open))
            return
        code, message_key, limit = refusal
        log.warning("refused %s: %s", session.label, code)
        self._refuse(session, code, message_key, limit=limit)

    def _refuse(self, connection: Connection, code: ErrorCode, key: str, **values) -> None:
        """A last message in the connection's own protocol (`!ERR` or FTP's 421), then close."""
        if isinstance(connection, FtpControl):
            self.ftp_door.refuse(connection, key, **values)
        else:
            self.room.refuse(connection, code, key, **values)

    def _admission_problem(self, place: _AddressState) -> tuple | None:
        if len(self._open) >= self.config.max_clients and not self._evict_oldest_unnamed():
            return ErrorCode.FULL, "server_full", self.config.max_clients
        limit = self.config.max_per_ip
        if limit and place.open >= limit:
            return ErrorCode.TOO_MANY, "too_many_from_address", limit
        return None

    def _evict_oldest_unnamed(self) -> bool:
        """The server is full: make room by closing the connection that has
        gone longest without saying anything, so silent connections cannot
        keep a real user out. One whose first line is on its way (bytes
        waiting) is passed over: it is a user about to be named. False if no
        connection can be evicted."""
        silent = next((c for c in self._unnamed if not _has_spoken(c)), None)
        if silent is None:
            return False
        log.warning(
            "full: evicting %s, which has sent nothing for %.1f s",
            silent.label,
            self.now - silent.connected_at,
        )
        if self._closing_count() >= MAX_CLOSING:
            self._drop(silent, "evicted")
        else:
            self._refuse(silent, ErrorCode.BUSY, "evicted_no_name")
        return True

    def _closing_count(self) -> int:
        return len(self._connections) - len(self._open)

    def _leave_open(self, session: Session, reason: str) -> None:
        """`session` stops counting as a client: its name, its slot, its address."""
        if session not in self._open:
            return
        self._open.discard(session)
        self._unnamed.pop(session, None)
        self._held_for_room.discard(session)
        self._held_for_rate.discard(session)
        self.downloads.forget(session)
        self.uploads.forget(session)
        if session.name is None:
            log.info("disconnect %s (%s)", session.label, reason)
        self.room.remove_member(session, reason)
        place = self._addresses.get(session.address_key)
        if place is not None:
            place.open -= 1
            self._forget_address_if_unused(session.address_key)

    def _forget_address_if_unused(self, key: str) -> None:
        place = self._addresses.get(key)
        if place is not None and place.open <= 0:
            del self._addresses[key]

    # --- reading and handling lines ----------------------------------------------

    def _on_ready(self, connection: Connection, mask: int) -> None:
        if mask & selectors.EVENT_READ and connection.state is State.LINGERING:
            if connection.discard_input():
                self._drop(connection, "closed")
            return
        if isinstance(connection, FtpData):
            self.ftp_door.on_data_ready(connection, mask)
            return
        if mask & selectors.EVENT_READ:
            if isinstance(connection, FtpControl):
                self.ftp_door.read_control(connection)
            else:
                self._read(connection)
        if mask & selectors.EVENT_WRITE and connection.state is not State.CLOSED:
            self._touched.add(connection)

    def _read(self, session: Session) -> None:
        try:
            data = session.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._drop(session, f"receive failed: {error}")
            return
        if not data:
            self._drop(session, "closed by peer" if session.is_open else "closed")
            return
        if session.is_open and not session.quitting:
            session.receiver.feed(data)
            self._touched.add(session)

    def _handle_pending_lines(self) -> None:
        for session in [s for s in self._touched if s.has_lines_to_handle]:
            self._guard(session, self._handle_lines)

    def _handle_lines(self, session: Session) -> None:
        for _ in range(LINES_PER_TURN):
            if not session.has_lines_to_handle or not self._handle_next_line(session):
                break

    def _handle_next_line(self, session: Session) -> bool:
        """Handle one line; False when there is none, or it has to wait."""
        try:
            line = session.next_line()
        except protocol.ProtocolError as error:
            self._handlers.on_bad_line(session, error)
            return True
        if line is None:
            return False
        was_unnamed = session.name is None
        if not self._handlers.on_line(session, line, self.now):
            self._hold(session, line)
            return False
        if was_unnamed and session.name is not None:
            self._unnamed.pop(session, None)
        return True

    def _hold(self, session: Session, line: protocol.Line) -> None:
        """Keep a line that must wait: for the room to drain, or for the client's rate to allow it."""
        session.held = line
        session.waiting = True
        (self._held_for_room if self.room.congested else self._held_for_rate).add(session)

    def _release_held(self, held: set[Session]) -> None:
        for session in held:
            session.waiting = False
            self._touched.add(session)
        held.clear()

    # --- the console -----------------------------------------------------------------

    def _watch_console(self, watched: bool) -> None:
        if self.console is not None:
            if self._console_watch is None:
                self._console_watch = ConsoleWatch(self._selector, self.console, self._on_console)
            self._console_watch.set(watched)

    def _update_console_interest(self) -> None:
        """Back-pressure: the console is read only while the room can take more."""
        if self.console is None:
            return
        wanted = not self.console.at_eof and not self.stopping and not self._console_backlog
        self._watch_console(wanted and not self.room.congested)

    def _on_console(self, _mask: int) -> None:
        try:
            lines = self.console.read_lines()
        except OSError as error:
            log.warning("console input failed (%s); serving without it", error)
            self.console.at_eof = True
            lines = []
        self._console_backlog.extend(line.strip() for line in lines)
        self._feed_console_backlog()
        if self.console.at_eof:
            log.info("console input closed; serving without it")
            self._watch_console(False)

    def _feed_console_backlog(self) -> None:
        """Console lines, one at a time, while the room is not congested."""
        while self._console_backlog and not self.room.congested:
            self._handlers.on_console_line(self._console_backlog.pop(0))

    # --- sending ----------------------------------------------------------------------

    def _service_touched(self) -> None:
        touched, self._touched = self._touched, set()
        for session in touched:
            if session.state is not State.CLOSED:
                self._guard(session, self._service)
        self._touched.update(s for s in touched if s.has_lines_to_handle)

    def _service(self, session: Connection) -> None:
        """Move a connection forward: produce output, send, and watch the right events."""
        producing = isinstance(session, Session)
        for _ in range(FLUSHES_PER_TURN):
            if session.is_open and producing:
                self._produce(session)
            if not session.outbox:
                break
            self._flush(session)
            if session.outbox or session.state is State.CLOSED:
                break
        if session.is_open and producing:
            self._produce(session)  # the next frame, so the socket is watched for it
        if isinstance(session, FtpControl):
            self.ftp_door.produce(session)  # one bounded step of its session per turn
        lingering_failed = (
            session.state is State.CLOSING and not session.outbox and not session.start_lingering(self.now)
        )
        if lingering_failed:
            self._drop(session, "closed")
        if session.state is not State.CLOSED:
            self._watch(session)

    def _produce(self, session: Session) -> None:
        """Queue what the session is owed while its output is low: the rest
        of a long answer, download frames, and the goodbye after quit."""
        while session.replies is not None and session.below_low_water:
            data = next(session.replies, None)
            if data is None:
                session.replies = None
            else:
                session.queue(data, self.now)
        self.downloads.pump(session)
        if session.quitting and session.is_open and not session.busy_sending:
            self.room.say_goodbye(session)

    def _flush(self, session: Connection) -> None:
        if isinstance(session, FtpData):
            self._flush_data(session)
            return
        try:
            session.flush(self.now)
        except FileChanged:
            self.downloads.file_changed(session)
            return
        except OSError as error:
            self._drop(session, f"send failed: {error}")
            return
        if isinstance(session, Session):
            self.room.output_drained(session)

    def _flush_data(self, data: FtpData) -> None:
        try:
            data.flush(self.now)
        except (FileChanged, OSError) as error:
            self.ftp_door.send_failed(data, error)
            return
        self.ftp_door.after_flush(data)

    def _watch(self, session: Session) -> None:
        events = session.wanted_interest()
        if events == session.interest:
            return
        if session.interest == 0:
            self._selector.register(session.sock, events, session)
        elif events == 0:
            self._selector.unregister(session.sock)
        else:
            self._selector.modify(session.sock, events, session)
        session.interest = events

    # --- closing ------------------------------------------------------------------

    def _drop_doomed(self) -> None:
        while self._doomed:
            session, reason = self._doomed.popitem()
            self._drop(session, reason)

    def _drop(self, session: Session, reason: str) -> None:
        """Close a connection now, whatever it was doing."""
        if session.state is State.CLOSED:
            return
        self._leave_open(session, reason)
        if isinstance(session, FtpControl):
            self.ftp_door.release(session)
        if session.interest:
            self._selector.unregister(session.sock)
            session.interest = 0
        self._connections.discard(session)
        self._touched.discard(session)
        self._doomed.pop(session, None)
        session.close()

    def _housekeeping(self) -> None:
        """Idle clients, connections that never give a name, stalled readers, overdue closings."""
        now = self.now
        self._next_housekeeping = now + HOUSEKEEPING_SECONDS
        if self._accept_resume_at is not None and now >= self._accept_resume_at and not self.stopping:
            self._resume_accepting()
        self._release_held(self._held_for_rate)  # their allowances have refilled a little
        idle_limit, data_limit = self.config.idle_timeout, self.config.data_timeout
        join_limit = self.config.join_timeout
        if self.ftp_door is not None:
            self.ftp_door.housekeeping(now)
        for session in list(self._connections):
            if not session.is_open:
                if now >= session.deadline:
                    if self.stopping:
                        self._give_up_on(session)
                    else:
                        self._drop(session, "closed")
            elif isinstance(session, FtpData):
                if self.ftp_door.data_stalled(session, now, data_limit):
                    self.ftp_door.data_timed_out(session)
            elif data_limit and session.stalled_for(now) > data_limit:
                self._drop(session, f"no data taken for {data_limit:g} s")
            elif session.name is None and join_limit and session.idle_for(now) > join_limit:
                self._refuse(session, ErrorCode.IDLE, "idle", seconds=f"{join_limit:g}")
            elif idle_limit and not session.busy_sending and session.idle_for(now) > idle_limit:
                self._refuse(session, ErrorCode.IDLE, "idle", seconds=f"{idle_limit:g}")

    # --- stopping -------------------------------------------------------------------

    def _begin_stopping(self) -> None:
        """Tell every client the server is closing; the loop then runs until each
        has read it and closed, or SHUTDOWN_FLUSH_SECONDS pass."""
        self.stopping = True
        log.info("shutting down: telling %d client(s)", len(self._open))
        if self._accept_resume_at is None:
            for sock in self._listeners():
                self._selector.unregister(sock)
        self._accept_resume_at = None
        self._watch_console(False)
        goodbyes = self._closing_goodbyes()
        self._stop_deadline = self.now + SHUTDOWN_FLUSH_SECONDS
        for session in list(self._open):
            if isinstance(session, FtpControl):
                self.ftp_door.refuse(session, "server_closing")
                continue
            session.outbox.discard_unstarted()
            session.outbox.add(goodbyes(session))
            self._leave_open(session, "server shutdown")
            session.begin_closing(self.now)  # its transfers stay open while a slice may still read them
            self._touched.add(session)
        for session in self._connections:
            if session.deadline is not None:
                session.deadline = min(session.deadline, self._stop_deadline)

    def _closing_goodbyes(self) -> Callable[[Session], bytes]:
        """The `closing` goodbye in each client's language, encoded once per language."""
        encoded: dict[str, bytes] = {}

        def goodbye(session: Session) -> bytes:
            say = self.room.say_to(session)
            if say.language not in encoded:
                event = self.room.error_event(ErrorCode.CLOSING, "server_closing", say)
                encoded[say.language] = protocol.encode(event)
            return encoded[say.language]

        return goodbye

    def _give_up_on(self, session: Connection) -> None:
        """Stopping: a connection that did not read its goodbye and close in time is reset, so a
        peer on a slow link learns at once that the server is gone."""
        log.info("reset %s: it had not read the goodbye and closed in time", session.label)
        session.reset_on_close()
        self._drop(session, "server shutdown")

    def _close_everything(self) -> None:
        for session in list(self._connections):
            if session.state in (State.CLOSING, State.LINGERING):
                self._give_up_on(session)
            else:
                self._drop(session, "server shutdown")
        if self.ftp_door is not None:
            self.ftp_door.close_listeners()
        self._selector.close()
        for sock in (self._listener, self._ftp_listener, self._wakeup_reader, self._wakeup_writer):
            if sock is not None:
                sock.close()
        if self._spare_fd is not None:
            os.close(self._spare_fd)
            self._spare_fd = None
        log.info("stopped")


def _has_spoken(connection: Connection) -> bool:
    """Bytes from the peer are waiting: in our parser, or still in the kernel (peeked, not read)."""
    receiver = getattr(connection, "receiver", None)
    if receiver is not None and (receiver.buffered or receiver.has_events):
        return True
    try:
        return bool(connection.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return False


def _upload_settings(config: ServerConfig) -> UploadSettings:
    return UploadSettings(config.allow_upload, config.allow_overwrite, config.max_upload_bytes)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(_backlog())
    listener.setblocking(False)
    return listener


def _backlog() -> int:
    """The kernel's own limit (somaxconn), so a crowd connecting at once waits in the queue."""
    try:
        with open("/proc/sys/net/core/somaxconn") as limit:
            return max(int(limit.read()), 128)
    except (OSError, ValueError):
        return socket.SOMAXCONN


def main(argv: list[str] | None = None) -> int:
    """`python -m ftplab.server`: the same as `ftplab-server`."""
    from .cli import server_main

    return server_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
