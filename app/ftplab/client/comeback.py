"""Coming back after a lost connection: `Comeback` (see session.py's docstring for what the user sees).

Split from session.py (ClientSession) because coming back is one job with its
own state: whether and when to try again (a bounded, jittered backoff), a kick
that waits for `reconnect`, the `cd` lines that lead back to the folder, and
the downloads to ask for again once joined. The session says when a connection
ends or a `!HELLO` comes; this decides what follows."""

from __future__ import annotations

from .. import protocol
from ..text import visible

CODES_NOT_RETRIED = frozenset(
    code.value
    for code in (
        protocol.ErrorCode.BAD_NAME,
        protocol.ErrorCode.NO_NAME,
        protocol.ErrorCode.IDLE,
        protocol.ErrorCode.BAD_PASSWORD,
        protocol.ErrorCode.PASSWORD_REQUIRED,
        protocol.ErrorCode.LOGINS_BLOCKED,
        protocol.ErrorCode.TLS_REQUIRED,
    )
)
"""Refusals a new connection would get again, or that coming back would defeat (the server's idle
timeout): the session ends."""
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 10.0
"""Each attempt's wait doubles from the first up to this, drawn in its upper half (jitter)."""
MAX_FOLDER_STEPS = 16
"""The `cd` lines remembered to go back to the folder after coming back (from the last absolute one)."""


class Comeback:
    """When to try again, and what to ask for again once joined, for the ClientSession given."""

    def __init__(self, session, clock, jitter):
        self._session = session
        self._clock = clock
        self._jitter = jitter
        self.kicked = False
        self.ever_joined = False
        self._attempt = 0
        self.retry_at: float | None = None
        self._folder_lines: list[str] = []
        self.ask_again: list = []
        """The downloads.Request's not done when the connection was lost, to ask again."""

    def went_to_folder(self, line: str) -> tuple[str, ...]:
        """A `cd` line sent: the lines that lead back to the folder now (an absolute one, or
        `cd` alone, starts afresh)."""
        argument = line.partition(" ")[2]
        if not argument or argument.startswith(("/", "'/", '"/')):  # `cd` alone is the top
            self._folder_lines = []
        self._folder_lines = [*self._folder_lines[-MAX_FOLDER_STEPS + 1 :], line]
        return tuple(self._folder_lines)

    def retry_now(self) -> None:
        """`reconnect`: after a kick, or without waiting for the next attempt."""
        self.kicked = False
        self.retry_at = self._clock()

    def due(self) -> bool:
        return self.retry_at is not None and self._clock() >= self.retry_at

    def seconds_left(self) -> float | None:
        return None if self.retry_at is None else max(self.retry_at - self._clock(), 0.0)

    def joined(self) -> None:
        """`!HELLO`: after a lost connection, say so and ask again for what was not done."""
        session = self._session
        rejoined, self.ever_joined = self.ever_joined, True
        session.away, self._attempt = False, 0
        if rejoined:
            session.screen.status("")
            session.screen.show(session.say("reconnected", name=visible(session.name)))
            self._come_back()

    def connection_ended(self) -> None:
        """The connection closed or broke: come back if the session may, else end."""
        session = self._session
        session.outbox.drop()
        session.connected = False
        fatal = session.from_server.fatal
        code = fatal.code if fatal is not None else None
        kicked = code == protocol.ErrorCode.KICKED.value and session.settings.interactive
        if not self._may_come_back(code) and not kicked:
            session.finished = True
            return
        rejoining = session.away  # a failed attempt: only the progress line says so
        session.away, session.from_server.joined = True, False
        if not rejoining:
            self.ask_again = session.downloads.connection_lost() + self.ask_again
            session.uploads.interrupted()
            session.screen.show(self._away_text(code))
        session.from_server.fatal = session.failure = None
        if kicked:
            self.kicked, self.retry_at = True, None
            session.screen.status("")
        else:
            self.schedule_retry()

    def schedule_retry(self) -> None:
        """The next attempt after a wait that doubles each time up to MAX_RETRY_SECONDS, drawn
        in its upper half so that a class does not come back all in the same instant."""
        self._attempt += 1
        ceiling = min(FIRST_RETRY_SECONDS * 2 ** min(self._attempt - 1, 16), MAX_RETRY_SECONDS)
        wait = ceiling * (0.5 + 0.5 * self._jitter())
        self.retry_at = self._clock() + wait
        say = self._session.say
        self._session.screen.status(say("reconnect_waiting", attempt=self._attempt, seconds=f"{wait:.1f}"))

    def leave_while_away(self) -> None:
        """Quit with no connection: what was still to come is counted as failed."""
        self._session.downloads.failed += len(self.ask_again)
        self.ask_again = []
        self._session.screen.status("")
        self._session.finished = True

    def _may_come_back(self, code: str | None) -> bool:
        session = self._session
        if not (session.settings.reconnect and self.ever_joined) or code in CODES_NOT_RETRIED:
            return False
        ended_on_purpose = session.from_server.said_bye or session.left_on is not None
        if code == protocol.ErrorCode.KICKED.value or ended_on_purpose:
            return False
        return not session.quitting or session.downloads.busy or bool(self.ask_again)

    def _away_text(self, code: str | None) -> str:
        say, fatal = self._session.say, self._session.from_server.fatal
        if code == protocol.ErrorCode.KICKED.value:
            return say("kicked_staying", text=visible(fatal.text))
        if fatal is not None:
            return say("reconnecting_closed", text=visible(fatal.text))
        return say("reconnecting_lost")

    def _come_back(self) -> None:
        """Joined again: its folder, the downloads not done (resumed where a part was kept),
        and a quit still to say."""
        session, downloads = self._session, self._session.downloads
        again, self.ask_again = self.ask_again, []
        here: tuple[str, ...] = ()
        for request in again:
            here = downloads.folder = self._back_to(request.folder, here)
            if session.send(downloads.request_line(request.typed)):
                downloads.asked(request.typed)
        downloads.folder = self._back_to(tuple(self._folder_lines), here)
        if session.quitting:
            session.send("quit")

    def _back_to(self, folder: tuple[str, ...], here: tuple[str, ...]) -> tuple[str, ...]:
        """The `cd` lines to the folder a request was asked in (from the top, if we were elsewhere)."""
        if folder != here:
            if here:
                self._session.send("cd /")
            for line in folder:
                self._session.send(line)
        return folder
