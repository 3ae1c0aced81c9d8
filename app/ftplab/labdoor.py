"""The lab door: the loop's side of the lab protocol and of the server's console.

What a line means is decided in handlers.py; who hears what in room.py. This
module pumps lines from each session's parser to the handlers (at most
LINES_PER_TURN a turn), holds a line that must wait (for the room to drain,
or for the client's rate), produces a session's output while it is low (the
rest of a long answer, download frames, the goodbye after quit), times a
session out, and feeds the console's lines to the handlers while the room can
take them.
"""

from __future__ import annotations

import logging
import math
import selectors
import socket
import ssl

from . import protocol
from .admission import Place
from .config import Timeouts
from .console import ConsoleWatch, PlainConsole
from .downloads import Downloads
from .endpoints import Door, Loop
from .handlers import Handlers
from .protocol import ErrorCode
from .room import Room
from .session import Session
from .storage import FileChanged
from .tls import NotTls
from .uploads import Uploads

log = logging.getLogger("ftplab.server")

LINES_PER_TURN = 32
"""Lines handled for one client before the loop turns to the others."""

KEEP_ALIVES_PER_IDLE_TIMEOUT = 3
"""A client that announces itself is asked for a line every third of --idle-timeout:
a student who only reads the chat sends those, and is never taken for idle."""


class LabConnection(Session):
    """A lab session as the loop holds it: its socket's events and hooks, carried out by its door."""

    def __init__(self, sock: socket.socket, address: tuple, door: LabDoor, place: Place):
        super().__init__(sock, address, door.loop.now, place.chat, place.key)
        self.loop = door.loop
        self.door = door

    def readable(self) -> None:
        try:
            data = self.receive()
        except NotTls:
            self.door.refuse_clear(self)
            return
        except OSError as error:
            self.loop.drop(self, f"receive failed: {error}")
            return
        if data is None:
            return
        if not data:
            self.loop.drop(self, "closed by peer" if self.is_open else "closed")
            return
        if self.is_open and not self.quitting:
            self.receiver.feed(data)
            self.loop.touch(self)

    def handle_input(self) -> None:
        self.door.handle_lines(self)

    def produce(self) -> None:
        self.door.produce(self)

    def flushed(self) -> None:
        self.door.room.output_drained(self)

    def flush_failed(self, error: OSError | FileChanged) -> None:
        if isinstance(error, FileChanged):
            self.door.downloads.file_changed(self)
        else:
            super().flush_failed(error)

    def refuse(self, code: ErrorCode, key: str, **values) -> None:
        self.door.room.refuse(self, code, key, **values)

    def goodbye(self) -> None:
        self.door.say_closing(self)

    def leave(self, reason: str) -> None:
        self.door.forget(self, reason)

    def release(self) -> None:
        self.close_transfers()

    def housekeeping(self, now: float) -> None:
        self.door.check_timers(self, now)

    def next_timer(self, now: float) -> float:
        return self.door.next_timer(self)

    def has_spoken(self) -> bool:
        return self.receiver.buffered or self.receiver.has_events or super().has_spoken()


class ConsoleReader:
    """The server's console input, as the loop holds it; its lines wait in a backlog."""

    label = "console"

    def __init__(self, loop: Loop, console: PlainConsole):
        self.console = console
        self.backlog: list[str] = []
        self._watch = ConsoleWatch(loop, console, self)

    @property
    def polled(self) -> bool:
        """A regular file or /dev/null: read on every turn instead of watched."""
        return self._watch.polled

    def watch(self, wanted: bool) -> None:
        self._watch.set(wanted)

    def on_ready(self, _mask: int) -> None:
        try:
            lines = self.console.read_lines()
        except OSError as error:
            log.warning("console input failed (%s); serving without it", error)
            self.console.at_eof = True
            lines = []
        self.backlog.extend(line.strip() for line in lines)
        if self.console.at_eof:
            log.info("console input closed; serving without it")
            self.watch(False)

    def failed(self) -> None:
        self.console.at_eof = True
        self.watch(False)


class LabDoor(Door):
    """Every lab session's line pump, holds, output and timers, and the console."""

    def __init__(
        self,
        loop: Loop,
        room: Room,
        handlers: Handlers,
        downloads: Downloads,
        uploads: Uploads,
        timeouts: Timeouts,
        console: PlainConsole | None = None,
        tls_context: ssl.SSLContext | None = None,
    ):
        self.loop = loop
        self._tls_context = tls_context
        """--tls-cert: every lab connection speaks TLS."""
        self.room = room
        self.handlers = handlers
        self.downloads = downloads
        self.uploads = uploads
        self._timeouts = timeouts
        self._held_for_room: set[Session] = set()
        self._held_for_rate: set[Session] = set()
        self._goodbyes: dict[str, bytes] = {}
        """The `closing` goodbye, encoded once per language."""
        self._console = ConsoleReader(loop, console) if console is not None else None

    def new_connection(self, sock: socket.socket, address: tuple, place: Place) -> LabConnection:
        connection = LabConnection(sock, address, self, place)
        if self._tls_context is not None:
            connection.start_tls(self._tls_context)
        return connection

    def refuse_clear(self, session: LabConnection) -> None:
        """A client spoke in clear to the TLS port: one `!ERR tls-required` in clear, then close."""
        event = self.room.error_event(ErrorCode.TLS_REQUIRED, "tls_required")
        session.outbox.add_clear(protocol.encode(event))
        self.loop.close_after_output(session, "spoke in clear to the TLS port")

    def busy_message(self) -> bytes:
        return protocol.encode(self.room.error_event(ErrorCode.BUSY, "server_busy"))

    # --- every turn ------------------------------------------------------------------

    def before_input(self) -> None:
        if self._console is not None and self._console.polled:
            self._console.on_ready(selectors.EVENT_READ)
        if self._held_for_room and not self.room.congested:
            self._release_held(self._held_for_room)
        self._feed_console_backlog()
        self.downloads.hash_step(self.loop.guard)

    def after_input(self) -> None:
        self.room.flush_news()

    def after_output(self) -> None:
        """Back-pressure: the console is read only while the room can take more."""
        console = self._console
        if console is not None:
            wanted = not console.console.at_eof and not self.loop.stopping and not console.backlog
            console.watch(wanted and not self.room.congested)

    def wait_limit(self) -> float:
        busy = self.downloads.hashing or self.room.has_news or self._console_waits()
        return 0.0 if busy else super().wait_limit()

    def _console_waits(self) -> bool:
        return self._console is not None and bool(self._console.backlog) and not self.room.congested

    def housekeeping(self, now: float) -> None:
        self._release_held(self._held_for_rate)  # their allowances have refilled a little

    def stop(self) -> None:
        if self._console is not None:
            self._console.watch(False)

    # --- lines ---------------------------------------------------------------------------

    def handle_lines(self, session: Session) -> None:
        for _ in range(LINES_PER_TURN):
            if not session.has_lines_to_handle or not self._handle_next_line(session):
                break

    def _handle_next_line(self, session: Session) -> bool:
        """Handle one line; False when there is none, or it has to wait."""
        try:
            line = session.next_line()
        except protocol.ProtocolError as error:
            self.handlers.on_bad_line(session, error)
            return True
        if line is None:
            return False
        if not self.handlers.on_line(session, line, self.loop.now):
            self._hold(session, line)
            return False
        return True

    def _hold(self, session: Session, line: protocol.Line) -> None:
        """Keep a line that must wait: for the room to drain, or for the client's rate to allow it."""
        session.held = line
        session.waiting = True
        (self._held_for_room if self.room.congested else self._held_for_rate).add(session)

    def _release_held(self, held: set[Session]) -> None:
        for session in held:
            session.waiting = False
            self.loop.touch(session)
        held.clear()

    def _feed_console_backlog(self) -> None:
        """Console lines, one at a time, while the room is not congested."""
        backlog = self._console.backlog if self._console is not None else []
        while backlog and not self.room.congested:
            self.handlers.on_console_line(backlog.pop(0))

    # --- output and endings ----------------------------------------------------------------

    def produce(self, session: Session) -> None:
        """Queue what the session is owed while its output is low: the rest
        of a long answer, download frames, and the goodbye after quit."""
        while session.replies is not None and session.below_low_water:
            data = next(session.replies, b"")
            if data is None:  # a step of work (a folder read) with nothing to say yet
                self.loop.touch(session)  # the rest on the next turn, after the others' work
                break
            if not data:
                session.replies = None
            else:
                session.queue(data, self.loop.now)
        self.downloads.pump(session)
        if session.quitting and session.is_open and not session.busy_sending:
            self.room.say_goodbye(session)

    def say_closing(self, session: Session) -> None:
        """The server stops: the `closing` goodbye in place of what has not started to go out."""
        say = self.room.say_to(session)
        if say.language not in self._goodbyes:
            event = self.room.error_event(ErrorCode.CLOSING, "server_closing", say)
            self._goodbyes[say.language] = protocol.encode(event)
        session.outbox.discard_unstarted()
        session.outbox.add(self._goodbyes[say.language])
        self.loop.leave(session, "server shutdown")
        session.begin_closing(self.loop.now)  # its transfers stay open while a slice may still read them
        self.loop.touch(session)

    def forget(self, session: Session, reason: str) -> None:
        """`session` no longer counts as a client: no held line, download, upload or name."""
        self._held_for_room.discard(session)
        self._held_for_rate.discard(session)
        self.downloads.forget(session)
        self.uploads.forget(session)
        self.room.remove_member(session, reason)

    def check_timers(self, session: Session, now: float) -> None:
        """A reader that takes nothing, a wrong password whose delay is over, a connection
        that never gives a name (or its password), an idle client."""
        limits = self._timeouts
        if limits.data and session.stalled_for(now) > limits.data:
            self.loop.drop(session, f"no data taken for {limits.data:g} s")
        elif session.login is not None and session.login.refusal_due(now):
            code, key, values = session.login.refusal
            session.login = None
            session.refuse(code, key, **values)
        elif session.name is None and limits.join and session.idle_for(now) > limits.join:
            session.refuse(ErrorCode.IDLE, "idle", seconds=f"{limits.join:g}")
        elif limits.idle and not session.busy_sending and session.idle_for(now) > limits.idle:
            session.refuse(ErrorCode.IDLE, "idle", seconds=f"{limits.idle:g}")

    def next_timer(self, session: Session) -> float:
        """The earliest time `check_timers` may act on `session`. Each deadline only moves later
        (its activity, its output's progress) except as the session is served: its output
        starts waiting (queued, then touched), a wrong password is answered, a download ends.
        Only `busy_sending` can end unseen (a failed hash in `Downloads.hash_step`): the idle
        deadline is counted as if it did not hold, so such a session is looked at on every
        pass once it is past, as every session used to be."""
        limits, due = self._timeouts, math.inf
        if limits.data and session.outbox:
            due = session.last_progress + limits.data
        if session.login is not None and session.login.refuse_at is not None:
            due = min(due, session.login.refuse_at)
        if session.name is None and limits.join:
            due = min(due, session.last_activity + limits.join)
        if limits.idle:
            due = min(due, session.last_activity + limits.idle)
        return due


def keep_alive_seconds(idle_timeout: float) -> float:
    return idle_timeout / KEEP_ALIVES_PER_IDLE_TIMEOUT
