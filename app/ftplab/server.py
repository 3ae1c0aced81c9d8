"""The ftplab server's loop: one process, one thread, one selectors loop.

The loop selects, keeps time, dispatches, flushes, drops and stops; it asks
nothing about what it holds. Every selector key's data answers `on_ready`
(endpoints.py): the listeners (admission.py decides who gets in), each
connection (connection.py; the lab's in labdoor.py, the FTP door's in
ftpdoor.py), the passive listeners, the console and the wake-up socket. A
connection says itself what it means to be readable, to produce output, to
have flushed, to time out, to say goodbye and to be released; each door does
the work of a turn that waits on no socket. It never blocks on one client:
sockets are non-blocking, each client gets a bounded share of every turn,
and an error on one connection closes that connection only.

Stopping is a mode of the same loop (`_begin_stopping`). wiring.py builds a
server (`build_server`); run it as `ftplab-server` or `python -m ftplab.server`.
"""

from __future__ import annotations

import logging
import selectors
import socket
from collections.abc import Callable
from operator import methodcaller

from .admission import Admission
from .clock import HOUSEKEEPING_SECONDS, LoopClock
from .connection import Connection, State
from .endpoints import Door, Endpoint, Wakeup
from .storage import FileChanged
from .timers import Timers

log = logging.getLogger("ftplab.server")

FLUSHES_PER_TURN = 8
"""Output rounds (produce, then send) one connection gets per loop turn while its socket keeps up."""

SHUTDOWN_FLUSH_SECONDS = 1.0


class Server:
    """The loop: dispatches, flushes, drops and keeps time for every endpoint, in one thread."""

    def __init__(self, selector: selectors.BaseSelector, clock: LoopClock | None = None):
        self._selector = selector
        self._clock = clock or LoopClock()
        self.now = self._clock.tick()
        self.doors: list[Door] = []
        """Each door's per-turn work, in the order added."""
        self.admission: Admission | None = None
        self.certificate_fingerprint: str | None = None
        """The TLS certificate's SHA-256 when the doors speak TLS (wiring sets it, from the one
        reading of the certificate), for the teacher to give the class."""
        self._connections: set[Connection] = set()
        """Every connection, closing ones and FTP data connections included."""
        self._touched: set[Connection] = set()
        self._doomed: dict[Connection, str] = {}
        self._timers: Timers[Connection] = Timers()
        """When each connection's timers may next act: housekeeping looks only at those due."""
        self.stopping = False
        self._stop_requested = False
        self._stop_deadline = 0.0
        self._next_housekeeping = 0.0
        self._wakeup = Wakeup()
        self._selector.register(self._wakeup.reader, selectors.EVENT_READ, self._wakeup)

    # --- the caller's interface ------------------------------------------------

    def bind(self) -> dict[str, tuple]:
        """Listen on every door's address; their bound (host, port) by door name."""
        return self.admission.open_doors()

    @property
    def wakeup_fd(self) -> int:
        """Give this to signal.set_wakeup_fd so a signal wakes the loop."""
        return self._wakeup.writer.fileno()

    def request_stop(self) -> None:
        """Ask the loop to tell everyone goodbye and return; safe from a signal handler."""
        self._stop_requested = True

    def serve_forever(self) -> None:
        try:
            while not self._finished():
                self.turn()
        finally:
            self._close_everything()

    def _finished(self) -> bool:
        if self._stop_requested and not self.stopping:
            self._begin_stopping()
        if not self.stopping:
            return False
        return not self._connections or self.now >= self._stop_deadline

    # --- what connections, doors and admission ask (endpoints.Loop) ---------------

    @property
    def connection_count(self) -> int:
        """Connections held, closing ones and FTP data connections included."""
        return len(self._connections)

    def register(self, sock: socket.socket | int, events: int, endpoint: Endpoint) -> None:
        self._selector.register(sock, events, endpoint)

    def unregister(self, sock: socket.socket | int) -> None:
        self._selector.unregister(sock)

    def adopt(self, connection: Connection) -> None:
        self._connections.add(connection)
        self._touched.add(connection)
        self._timers.schedule(connection, connection.timers_due(self.now))

    def touch(self, connection: Connection) -> None:
        self._touched.add(connection)

    def drop_soon(self, connection: Connection, reason: str) -> None:
        self._doomed.setdefault(connection, reason)

    def leave(self, connection: Connection, reason: str) -> None:
        self.admission.leave(connection, reason)

    def close_after_output(self, connection: Connection, reason: str) -> None:
        """Send what is queued (a last message), then close; see connection.py."""
        if connection.state is not State.OPEN:
            return
        if connection.outbox.has_file_slice:
            # A slice still points at a file we are about to close; its fd number
            # could be reused for another file. No clean goodbye is possible here.
            self.drop_soon(connection, reason)
            return
        self.leave(connection, reason)
        connection.release()
        connection.begin_closing(self.now)
        self._touched.add(connection)

    def guard(self, target, work: Callable, *args) -> None:
        """`work(target, *args)`; an unexpected error closes that one target, never the server."""
        try:
            work(target, *args)
        except Exception:
            log.exception("unexpected error on %s; closing that connection", target.label)
            target.failed()

    def drop(self, connection: Connection, reason: str) -> None:
        """Close a connection now, whatever it was doing."""
        if connection.state is State.CLOSED:
            return
        self.leave(connection, reason)
        connection.release()
        if connection.interest:
            self._selector.unregister(connection.sock)
            connection.interest = 0
        self._connections.discard(connection)
        self._touched.discard(connection)
        self._doomed.pop(connection, None)
        self._timers.cancel(connection)
        connection.close()

    # --- the loop ---------------------------------------------------------------

    def turn(self) -> None:
        for key, mask in self._selector.select(self._select_timeout()):
            self.now = self._clock.tick()
            self.guard(key.data, methodcaller("on_ready", mask))
        self.now = self._clock.tick()
        for door in self.doors:
            door.before_input()
        for connection in [c for c in self._touched if c.has_lines_to_handle]:
            self.guard(connection, methodcaller("handle_input"))
        self._drop_doomed()
        for door in self.doors:
            door.after_input()
        self._service_touched()
        self._drop_doomed()
        if self.now >= self._next_housekeeping:
            self._housekeeping()
        for door in self.doors:
            door.after_output()

    def _select_timeout(self) -> float:
        if self._touched or self._doomed:
            return 0.0
        return min([HOUSEKEEPING_SECONDS, *(door.wait_limit() for door in self.doors)])

    def _service_touched(self) -> None:
        touched, self._touched = self._touched, set()
        for connection in touched:
            if connection.state is not State.CLOSED:
                self.guard(connection, self._service)
        self._touched.update(c for c in touched if c.has_lines_to_handle)

    def _service(self, connection: Connection) -> None:
        """Move a connection forward: produce output, send, and watch the right events."""
        for _ in range(FLUSHES_PER_TURN):
            if connection.is_open:
                connection.produce()
            if not connection.outbox:
                break
            self._flush(connection)
            if connection.outbox or connection.state is State.CLOSED:
                break
        if connection.is_open:
            connection.produce()  # the next frame, so the socket is watched for it
        closing = connection.state is State.CLOSING and not connection.outbox
        if closing and not connection.start_lingering(self.now):
            self.drop(connection, "closed")
        if connection.state is not State.CLOSED:
            self._watch(connection)
            self._timers.schedule(connection, connection.timers_due(self.now))

    def _flush(self, connection: Connection) -> None:
        try:
            connection.flush(self.now)
        except (OSError, FileChanged) as error:
            connection.flush_failed(error)
            return
        connection.flushed()

    def _watch(self, connection: Connection) -> None:
        events = connection.wanted_interest()
        if events == connection.interest:
            return
        if connection.interest == 0:
            self._selector.register(connection.sock, events, connection)
        elif events == 0:
            self._selector.unregister(connection.sock)
        else:
            self._selector.modify(connection.sock, events, connection)
        connection.interest = events

    def _drop_doomed(self) -> None:
        while self._doomed:
            connection, reason = self._doomed.popitem()
            self.drop(connection, reason)

    def _housekeeping(self) -> None:
        """The doors' and admission's timers, then the due connections': an open one's (idle,
        join, stalled output), a closing one's end. 10,000 idle clients cost nothing here."""
        now = self.now
        self._next_housekeeping = now + HOUSEKEEPING_SECONDS
        self.admission.housekeeping(now)
        for door in self.doors:
            door.housekeeping(now)
        due = self._timers.due(now)
        check_timers = methodcaller("housekeeping", now)  # made once a pass, not once per connection
        for connection in due:
            if connection.state is State.OPEN:
                self.guard(connection, check_timers)
            elif connection.state is not State.CLOSED and now >= connection.deadline:
                self._give_up_on(connection) if self.stopping else self.drop(connection, "closed")
        for connection in due:  # after the pass: one due again at `now` waits for the next one
            if connection.state is not State.CLOSED:
                self._timers.schedule(connection, connection.timers_due(self.now))

    # --- stopping -------------------------------------------------------------------

    def _begin_stopping(self) -> None:
        """Tell every client the server is closing; the loop then runs until each
        has read it and closed, or SHUTDOWN_FLUSH_SECONDS pass."""
        self.stopping = True
        log.info("shutting down: telling %d client(s)", len(self.admission.open))
        self.admission.stop()
        for door in self.doors:
            door.stop()
        self._stop_deadline = self.now + SHUTDOWN_FLUSH_SECONDS
        for connection in list(self.admission.open):
            self.guard(connection, methodcaller("goodbye"))
        for connection in self._connections:
            if connection.deadline is not None:
                connection.deadline = min(connection.deadline, self._stop_deadline)
                self._timers.schedule(connection, connection.timers_due(self.now))

    def _give_up_on(self, connection: Connection) -> None:
        """Stopping: a connection that did not read its goodbye and close in time is reset, so a
        peer on a slow link learns at once that the server is gone."""
        log.info("reset %s: it had not read the goodbye and closed in time", connection.label)
        connection.reset_on_close()
        self.drop(connection, "server shutdown")

    def _close_everything(self) -> None:
        for connection in list(self._connections):
            if connection.state in (State.CLOSING, State.LINGERING):
                self._give_up_on(connection)
            else:
                self.drop(connection, "server shutdown")
        for door in self.doors:
            door.close()
        self.admission.close()
        self._selector.close()
        self._wakeup.close()
        log.info("stopped")


if __name__ == "__main__":  # `python -m ftplab.server`: this file runs as __main__, not as ftplab.server
    from ftplab.cli import server_main

    raise SystemExit(server_main())
