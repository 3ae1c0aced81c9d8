"""The ftplab server: one process, one thread, one selectors loop.

The loop watches the listening socket, every client socket, the console and a
wake-up socket for signals. It never blocks on one client: sockets are
non-blocking, output waits in each session's outbox until the socket takes it,
files are hashed and sent in bounded steps, and each client gets a bounded
number of lines handled per turn. Errors of one connection close that
connection only. What a line means is decided in `handlers.py`; this module
moves bytes.

Run it as `ftplab-server` or `python -m ftplab.server`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable

from . import protocol
from .cli import ServerConfig, parse_server_args
from .console import PlainConsole, open_console
from .handlers import Handlers
from .messages import Messages, human_size
from .net import watch_for_dead_peer
from .outbox import FileShrank
from .session import LOW_WATER_BYTES, Session, State
from .storage import OpenFile, Storage
from .text import visible
from .transfer import FileChanged, HashCache, Transfer

log = logging.getLogger("ftplab.server")

RECV_BYTES = 64 * 1024
LINES_PER_TURN = 32
"""Lines handled for one client before the loop turns to the others."""

ACCEPTS_PER_TURN = 64
FLUSHES_PER_TURN = 8
"""Download frames one client may send per loop turn while its socket keeps up."""

CLOSE_GRACE_SECONDS = 2.0
"""How long a closing connection may take to read its last message."""

MAX_CLOSING = 64
"""Connections kept open only to deliver a last message; past this they close at once."""

HOUSEKEEPING_SECONDS = 0.25
SHUTDOWN_FLUSH_SECONDS = 1.0
ACCEPT_PAUSE_SECONDS = 0.5


class Server:
    def __init__(self, config: ServerConfig, storage: Storage, console: PlainConsole | None = None):
        self.config = config
        self.name = config.name
        self.storage = storage
        self.console = console
        self.say = Messages(config.lang)
        self._selector = selectors.DefaultSelector()
        self._sessions: set[Session] = set()
        self._by_name: dict[str, Session] = {}
        self._touched: set[Session] = set()
        self._hashing: set[Session] = set()
        self._hash_cache = HashCache()
        self._stop_requested = False
        self._accept_paused_until = 0.0
        self._console_polled = False
        self._next_housekeeping = 0.0
        self._listener: socket.socket | None = None
        self._wakeup_reader, self._wakeup_writer = socket.socketpair()
        self._handlers = Handlers(self)

    # --- the caller's interface ------------------------------------------------

    def bind(self) -> tuple:
        """Listen on the configured address; returns the bound (host, port)."""
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.config.host, self.config.port))
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, self._on_listener)
        for sock in (self._wakeup_reader, self._wakeup_writer):
            sock.setblocking(False)
        self._selector.register(self._wakeup_reader, selectors.EVENT_READ, self._on_wakeup)
        if self.console is not None and not self.console.at_eof:
            self._watch_console()
        return listener.getsockname()[:2]

    def _watch_console(self) -> None:
        """Watch console input; a regular file or /dev/null (which epoll refuses)
        never blocks, so it is read on every turn instead."""
        try:
            self._selector.register(self.console.fileno(), selectors.EVENT_READ, self._on_console)
        except PermissionError:
            self._console_polled = True

    @property
    def wakeup_fd(self) -> int:
        """Give this to signal.set_wakeup_fd so a signal wakes the loop."""
        return self._wakeup_writer.fileno()

    def request_stop(self) -> None:
        """Ask the loop to tell everyone goodbye and return; safe from a signal handler."""
        self._stop_requested = True

    def serve_forever(self) -> None:
        try:
            while not self._stop_requested:
                self._turn()
        finally:
            self._shutdown()

    # --- the loop ---------------------------------------------------------------

    def _turn(self) -> None:
        for key, mask in self._selector.select(self._select_timeout()):
            key.data(mask)
        if self._console_polled and not self.console.at_eof:
            self._on_console(selectors.EVENT_READ)
        now = time.monotonic()
        self._handle_pending_lines(now)
        self._hash_step(now)
        if now >= self._next_housekeeping:
            self._housekeeping(now)
        self._service_touched(now)

    def _select_timeout(self) -> float:
        if self._hashing or self._touched:
            return 0.0
        return HOUSEKEEPING_SECONDS

    def _on_wakeup(self, _mask: int) -> None:
        try:
            while self._wakeup_reader.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _on_listener(self, _mask: int) -> None:
        now = time.monotonic()
        if now < self._accept_paused_until:
            return
        for _ in range(ACCEPTS_PER_TURN):
            try:
                sock, address = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                log.error("accept failed: %s; pausing accepts for %.1f s", error, ACCEPT_PAUSE_SECONDS)
                self._accept_paused_until = now + ACCEPT_PAUSE_SECONDS
                return
            self._admit(sock, address, now)

    def _admit(self, sock: socket.socket, address: tuple, now: float) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        watch_for_dead_peer(sock, user_timeout_ms=int(self.config.data_timeout * 1000))
        session = Session(sock, address, now)
        refusal = self._admission_problem(session)
        if refusal is not None and self._closing_count() >= MAX_CLOSING:
            log.warning(
                "refused %s (%s); too many closing connections, closed at once", session.label, refusal
            )
            sock.close()
            return
        self._sessions.add(session)
        self._touched.add(session)
        if refusal is None:
            log.info("connect %s (%d open)", session.label, self._open_count())
            return
        code, key, limit = refusal
        log.warning("refused %s: %s", session.label, code)
        self.refuse(session, code, self.say(key, limit=limit), now)

    def _admission_problem(self, session: Session) -> tuple | None:
        if self._open_count() >= self.config.max_clients:
            return "full", "server_full", self.config.max_clients
        limit = self.config.max_per_ip
        if limit and sum(1 for other in self._sessions if other.is_open and other.ip == session.ip) >= limit:
            return "too-many", "too_many_from_address", limit
        return None

    def _open_count(self) -> int:
        return sum(1 for session in self._sessions if session.is_open)

    def _closing_count(self) -> int:
        return sum(1 for session in self._sessions if not session.is_open)

    def _guard(self, session: Session, work: Callable, *args) -> None:
        """Do one connection's work; an unexpected error closes that connection, never the server."""
        try:
            work(session, *args)
        except Exception:
            log.exception("unexpected error on %s; closing that connection", session.label)
            self._drop(session, "internal error")

    def _on_session(self, session: Session, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            self._read(session)
        if mask & selectors.EVENT_WRITE and session.state is not State.CLOSED:
            self._touched.add(session)

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

    def _handle_pending_lines(self, now: float) -> None:
        for session in [s for s in self._touched if s.has_lines_to_handle]:
            self._guard(session, self._handle_lines, now)

    def _handle_lines(self, session: Session, now: float) -> None:
        for _ in range(LINES_PER_TURN):
            if not session.has_lines_to_handle or not self._handle_next_line(session, now):
                break

    def _handle_next_line(self, session: Session, now: float) -> bool:
        try:
            event = session.receiver.next_event()
        except protocol.ProtocolError as error:
            self._handlers.on_bad_line(session, error, now)
            return True
        if event is None:
            return False
        self._handlers.on_line(session, event, now)
        return True

    def _service_touched(self, now: float) -> None:
        touched, self._touched = self._touched, set()
        for session in touched:
            if session.state is not State.CLOSED:
                self._guard(session, self._service, now)
        self._touched.update(s for s in touched if s.has_lines_to_handle)

    def _service(self, session: Session, now: float) -> None:
        """Move a session forward: queue download frames, send, and watch the right events."""
        for _ in range(FLUSHES_PER_TURN):
            if session.is_open:
                self._pump_transfers(session, now)
            if not session.outbox:
                break
            self._flush(session, now)
            if session.outbox:
                break
        if session.is_open:
            self._pump_transfers(session, now)  # the next frame, so the socket is watched for it
        if session.state is State.CLOSING and not session.outbox:
            self._start_lingering(session, now)
        if session.state is not State.CLOSED:
            self._watch(session)

    def _watch(self, session: Session) -> None:
        events = selectors.EVENT_READ if session.wants_to_read else 0
        if session.outbox:
            events |= selectors.EVENT_WRITE
        if events == session.events:
            return
        if session.events == 0:
            self._selector.register(
                session.sock, events, lambda mask: self._guard(session, self._on_session, mask)
            )
        elif events == 0:
            self._selector.unregister(session.sock)
        else:
            self._selector.modify(
                session.sock, events, lambda mask: self._guard(session, self._on_session, mask)
            )
        session.events = events

    def _flush(self, session: Session, now: float) -> None:
        try:
            sent = session.outbox.flush(session.sock)
        except FileShrank:
            self._file_shrank(session, now)
            return
        except OSError as error:
            self._drop(session, f"send failed: {error}")
            return
        if sent:
            session.last_progress = now

    # --- downloads --------------------------------------------------------------

    def _pump_transfers(self, session: Session, now: float) -> None:
        """Queue the next frames of the current download while the outbox is low."""
        while session.transfers:
            transfer = session.transfers[0]
            if transfer.hashing:
                self._hashing.add(session)
                return
            if not transfer.header_sent:
                session.queue(transfer.header(self.name), now)
            outbox = session.outbox
            while not transfer.done and outbox.buffered_bytes < LOW_WATER_BYTES and not outbox.has_file_slice:
                header, offset, count = transfer.next_frame(self.name)
                session.queue(header, now)
                outbox.add_file_slice(transfer.file.fd, offset, count)
            if not transfer.done or outbox.has_file_slice:
                return
            self._finish_transfer(session, transfer)
        self._finish_quit_if_due(session, now)

    def _finish_transfer(self, session: Session, transfer: Transfer) -> None:
        size, seconds, rate = transfer.summary()
        log.info(
            "sent %s to %s: %d bytes in %.3f s (%s/s)",
            visible(transfer.file.name),
            session.label,
            size,
            seconds,
            human_size(int(rate)),
        )
        session.transfers.popleft().close()
        session.last_activity = time.monotonic()

    def _hash_step(self, now: float) -> None:
        for session in list(self._hashing):
            self._hashing.discard(session)
            if session.is_open and session.transfers:
                self._guard(session, self._hash_some, now)

    def _hash_some(self, session: Session, now: float) -> None:
        transfer = session.transfers[0]
        try:
            transfer.hash_step()
        except (FileChanged, OSError) as error:
            log.warning("could not read %s for %s: %s", visible(transfer.file.name), session.label, error)
            session.transfers.popleft().close()
            self.send_error(session, "denied", "unreadable_file", now, name=visible(transfer.file.name))
            return
        if transfer.hashing:
            self._hashing.add(session)
        else:
            self._touched.add(session)

    def _file_shrank(self, session: Session, now: float) -> None:
        """A file got shorter while it was being sent: finish the frame with
        zeros so the stream stays readable, then tell the client it failed."""
        session.outbox.replace_head_with_zeros()
        transfer = session.transfers.popleft()
        log.warning("%s shrank while being sent to %s", visible(transfer.file.name), session.label)
        transfer.close()
        name = visible(transfer.file.name)
        session.queue(
            protocol.encode(protocol.FileAbort(self.name, self.say("transfer_aborted", name=name))), now
        )
        self._touched.add(session)

    # --- the interface the handlers answer through -------------------------------

    def member(self, name: str) -> Session | None:
        return self._by_name.get(protocol.name_key(name))

    def member_names(self) -> list[str]:
        return [session.name for session in self._by_name.values()]

    def add_member(self, session: Session, name: str) -> bool:
        """Give `session` its name; False if it is taken (or is the server's)."""
        key = protocol.name_key(name)
        if key in self._by_name or key == protocol.name_key(self.name):
            return False
        session.name = name
        self._by_name[key] = session
        return True

    def start_download(self, session: Session, opened: OpenFile) -> None:
        session.transfers.append(Transfer(opened, self._hash_cache))
        self._touched.add(session)

    def quit_when_done(self, session: Session, now: float) -> None:
        session.quitting = True
        self._touched.add(session)
        self._finish_quit_if_due(session, now)

    def _finish_quit_if_due(self, session: Session, now: float) -> None:
        """Quit takes effect once the downloads asked for before it are sent."""
        if session.quitting and session.is_open and not session.transfers:
            self.send_event(session, protocol.Bye(self.name, self.say("bye", name=session.name)), now)
            self._begin_closing(session, now, "quit")

    def _on_console(self, _mask: int) -> None:
        now = time.monotonic()
        for line in self.console.read_lines():
            self._handlers.on_console_line(line.strip(), now)
        if self.console.at_eof:
            log.info("console input closed; serving without it")
            if not self._console_polled:
                self._selector.unregister(self.console.fileno())

    # --- sending ------------------------------------------------------------------

    def show(self, text: str) -> None:
        if self.console is not None:
            self.console.show(text)

    def _send(self, session: Session, data: bytes, now: float) -> None:
        if not session.queue(data, now):
            self._drop(session, "too slow: output queue full")
            return
        self._touched.add(session)

    def send_event(self, session: Session, event, now: float) -> None:
        self._send(session, protocol.encode(event), now)

    def send_message(self, session: Session, sender: str, text: str, now: float) -> None:
        self._send(session, protocol.encode(protocol.Message(sender, protocol.fit_text(sender, text))), now)

    def reply(self, session: Session, text: str, now: float) -> None:
        self.send_message(session, self.name, text, now)

    def send_error(self, session: Session, code: str, key: str, now: float, **values) -> None:
        text = protocol.fit_text(self.name, self.say(key, **values), reserve=len(code) + 6)
        self._send(session, protocol.encode(protocol.Error(self.name, code, text)), now)

    def broadcast(self, sender: str, text: str, now: float, exclude: Session | None = None) -> None:
        data = protocol.encode(protocol.Message(sender, protocol.fit_text(sender, text)))
        for session in [s for s in self._by_name.values() if s is not exclude]:
            self._send(session, data, now)

    def announce(self, text: str, now: float, exclude: Session | None = None) -> None:
        self.show(f"{self.name}> {text}")
        self.broadcast(self.name, text, now, exclude)

    # --- closing ------------------------------------------------------------------

    def refuse(self, session: Session, code: str, text: str, now: float) -> None:
        """Send a last error and close once the client has read it."""
        session.queue(
            protocol.encode(protocol.Error(self.name, code, protocol.fit_text(self.name, text))), now
        )
        self._begin_closing(session, now, code)

    def _begin_closing(self, session: Session, now: float, reason: str) -> None:
        if session.outbox.has_file_slice:
            # A slice still points at a file we are about to close; its fd number
            # could be reused for another file. No clean goodbye is possible here.
            self._drop(session, reason)
            return
        self._forget_name(session, reason)
        session.close_transfers()
        self._hashing.discard(session)
        session.state = State.CLOSING
        session.deadline = now + CLOSE_GRACE_SECONDS
        self._touched.add(session)

    def _start_lingering(self, session: Session, now: float) -> None:
        """Shut our side only: closing with unread input would send a reset
        that can destroy the last message before the peer reads it."""
        try:
            session.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(session, "closed")
            return
        session.state = State.LINGERING
        session.deadline = now + CLOSE_GRACE_SECONDS

    def _forget_name(self, session: Session, reason: str) -> None:
        if session.name is None or self._by_name.get(protocol.name_key(session.name)) is not session:
            return
        del self._by_name[protocol.name_key(session.name)]
        log.info(
            "disconnect %s (%s) after %.1f s", session.label, reason, time.monotonic() - session.connected_at
        )
        if not self._stop_requested:
            self.announce(self.say("left", name=session.name), time.monotonic())

    def _drop(self, session: Session, reason: str) -> None:
        """Close a connection now, whatever it was doing."""
        if session.state is State.CLOSED:
            return
        if session.name is None and session.is_open:
            log.info("disconnect %s (%s)", session.label, reason)
        self._forget_name(session, reason)
        if session.events:
            self._selector.unregister(session.sock)
            session.events = 0
        self._sessions.discard(session)
        self._hashing.discard(session)
        self._touched.discard(session)
        session.close()

    def _housekeeping(self, now: float) -> None:
        """Idle clients, connections that never give a name, stalled readers, overdue closings."""
        self._next_housekeeping = now + HOUSEKEEPING_SECONDS
        idle_limit, data_limit = self.config.idle_timeout, self.config.data_timeout
        join_limit = self.config.join_timeout
        for session in list(self._sessions):
            if not session.is_open:
                if now >= session.deadline:
                    self._drop(session, "closed")
            elif data_limit and session.stalled_for(now) > data_limit:
                self._drop(session, f"no data taken for {data_limit:g} s")
            elif session.name is None and join_limit and session.idle_for(now) > join_limit:
                self.refuse(session, "idle", self.say("idle", seconds=f"{join_limit:g}"), now)
            elif idle_limit and not session.transfers and session.idle_for(now) > idle_limit:
                self.refuse(session, "idle", self.say("idle", seconds=f"{idle_limit:g}"), now)

    def _shutdown(self) -> None:
        """Tell every client the server is closing and wait (briefly) for each to
        read it and close; reset the connections of those that did not."""
        log.info("shutting down: telling %d client(s)", self._open_count())
        goodbye = protocol.encode(protocol.Error(self.name, "closing", self.say("server_closing")))
        for session in self._sessions:
            if session.is_open:
                session.outbox.discard_unstarted()
                session.outbox.add(goodbye)
                session.state = State.CLOSING
        waiting = [s for s in self._sessions if s.state in (State.CLOSING, State.LINGERING)]
        self._wait_for_goodbyes(waiting, time.monotonic() + SHUTDOWN_FLUSH_SECONDS)
        for session in waiting:
            if session.state is not State.CLOSED:
                _reset_on_close(session.sock)
        for session in list(self._sessions):
            self._drop(session, "server shutdown")
        self._selector.close()
        for sock in (self._listener, self._wakeup_reader, self._wakeup_writer):
            if sock is not None:
                sock.close()
        log.info("stopped")

    def _wait_for_goodbyes(self, sessions: list[Session], deadline: float) -> None:
        """Flush each last message, shut our side, and wait for the peers' EOF."""
        while True:
            for session in sessions:
                self._goodbye_step(session)
            sessions = [s for s in sessions if s.state is not State.CLOSED]
            remaining = deadline - time.monotonic()
            if not sessions or remaining <= 0:
                return
            with selectors.DefaultSelector() as waiter:
                for session in sessions:
                    waiter.register(
                        session.sock, selectors.EVENT_WRITE if session.outbox else selectors.EVENT_READ
                    )
                waiter.select(remaining)

    def _goodbye_step(self, session: Session) -> None:
        if session.state is State.CLOSING:
            self._flush(session, time.monotonic())
            if session.state is State.CLOSING and not session.outbox:
                self._start_lingering(session, time.monotonic())
        if session.state is State.LINGERING and _peer_closed(session):
            self._drop(session, "server shutdown")


def _peer_closed(session: Session) -> bool:
    """Read and forget what the peer still sends; True once it has closed."""
    try:
        while session.sock.recv(RECV_BYTES):
            pass
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    return True


def _reset_on_close(sock: socket.socket) -> None:
    """Close with a reset, not a FIN queued behind unsent data: a peer on a slow
    link learns at once that the server is gone."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# --- the command ------------------------------------------------------------------


class _ConsoleLogHandler(logging.Handler):
    """Log lines on the console's terminal go through it, so they do not
    break the line the teacher is typing."""

    def __init__(self, console: PlainConsole):
        super().__init__()
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._console.show(self.format(record))
        except Exception:
            self.handleError(record)


def _configure_logging(config: ServerConfig, console: PlainConsole) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if console.interactive and sys.stderr.isatty():
        handler = _ConsoleLogHandler(console)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=config.log_level, handlers=[handler])


def _install_signal_handlers(server: Server) -> None:
    def stop(signum, _frame):
        log.info("received %s", signal.Signals(signum).name)
        server.request_stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.set_wakeup_fd(server.wakeup_fd, warn_on_full_buffer=False)


def main(argv: list[str] | None = None) -> int:
    config = parse_server_args(argv)
    say = Messages(config.lang)
    console = open_console(sys.stdin, sys.stdout, prompt=lambda: f"{config.name or ''}> ")
    _configure_logging(config, console)
    try:
        if not config.name:
            config = config.with_name(console.ask(say("ask_name")) if console.interactive else "")
        problem = protocol.name_problem(config.name)
        if problem is not None:
            print(
                say("console_no_name") if not config.name else say("bad_name", name=config.name),
                file=sys.stderr,
            )
            return 2
        try:
            storage = Storage(config.root)
        except OSError as error:
            print(f"ftplab-server: --root {config.root}: {error.strerror or error}", file=sys.stderr)
            return 2
        server = Server(config, storage, console)
        try:
            host, port = server.bind()
        except OSError as error:
            print(
                f"ftplab-server: cannot listen on {config.host}:{config.port}: {error.strerror}",
                file=sys.stderr,
            )
            return 1
        _install_signal_handlers(server)
        if console.interactive:
            console.start()
        console.show(
            say(
                "console_listening",
                name=config.name,
                host=host,
                port=port,
                root=storage.root,
                limit=config.max_clients,
            )
        )
        log.info(
            "listening on %s:%d as %s, root %s, pid %d", host, port, config.name, storage.root, os.getpid()
        )
        server.serve_forever()
        return 0
    finally:
        console.close()


if __name__ == "__main__":
    sys.exit(main())
