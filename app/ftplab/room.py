"""The people connected: their names, and every message the server sends them.

Handlers talk to the room, never to sockets: `reply`, `send_error`,
`broadcast`, `announce`... queue bytes on sessions and ask the loop to flush
them. Sending never closes a connection on the spot (a session that passed
its hard output cap is handed to the loop to drop after the current step), so
a broadcast cannot re-enter itself halfway through its list of members.

Back-pressure: a member that makes progress but has more than the high-water
mark waiting makes the room *congested*. While it is, the loop stops reading
the console and holds chat lines, until every such member is below the
low-water mark. A member that takes nothing for PROGRESS_WINDOW_SECONDS no
longer holds the room back: it is dropped by the data timeout, or by the hard
cap if output arrives faster.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from . import protocol
from .messages import Messages
from .protocol import ErrorCode
from .session import Session
from .text import visible

log = logging.getLogger("ftplab.server")

PROGRESS_WINDOW_SECONDS = 5.0
"""A member that took some output within this long is a reader that keeps up, however slowly."""

NEWS_NAMED_ONE_BY_ONE = 4
"""Up to this many joins (or departures) at once are announced one by one; more
become one line ("ana, bob, carla and 37 more joined"): a crowd joining at once
costs one broadcast, not one per newcomer to every member."""


class Loop(Protocol):
    """What the room needs from the loop that owns the sockets."""

    @property
    def now(self) -> float: ...

    @property
    def stopping(self) -> bool: ...

    def touch(self, session: Session) -> None:
        """`session` has new output (or input to handle): service it this turn."""

    def drop_soon(self, session: Session, reason: str) -> None:
        """Close `session` at once, after the current step."""

    def close_after_output(self, session: Session, reason: str) -> None:
        """Close `session` once its queued output (a last message) has been read."""


class Room:
    """Names, membership, broadcast, and the send API handlers answer through."""

    def __init__(
        self, name: str, say: Messages, loop: Loop, show: Callable[[str], None], progress_window: float
    ):
        self.name = name
        self.say = say
        self._loop = loop
        self._show = show
        self._progress_window = progress_window
        self._members: dict[str, Session] = {}
        self._full: set[Session] = set()
        """Sessions above the high-water mark, until they drain below the low-water mark."""
        self._news: dict[str, list[Session]] = {"left": [], "joined": []}
        """Departures and arrivals not announced yet: see `flush_news`."""
        self._catalogues: dict[str, Messages] = {say.language: say}

    # --- languages ------------------------------------------------------------------

    def say_to(self, member) -> Messages:
        """The catalogue of `member`'s language: the one it announced, else the server's."""
        language = getattr(member, "language", None) or self.say.language
        if language not in self._catalogues:
            self._catalogues[language] = Messages(language)
        return self._catalogues[language]

    # --- membership -----------------------------------------------------------------

    def member(self, name: str) -> Session | None:
        return self._members.get(protocol.name_key(name))

    def member_names(self) -> list[str]:
        """Every member as `who` shows it: FTP users as `name (ftp)`."""
        return [member.who_name for member in self._members.values()]

    def __len__(self) -> int:
        return len(self._members)

    def add_member(self, session: Session, name: str) -> bool:
        """Give `session` (of either door) its name; False if it is taken (or is the server's)."""
        key = protocol.name_key(name)
        if key in self._members or key == protocol.name_key(self.name):
            return False
        session.name = name
        self._members[key] = session
        return True

    def remove_member(self, session: Session, reason: str) -> None:
        """Forget `session`'s name and tell the others it left (not while the server stops)."""
        self._full.discard(session)
        if session.name is None or self._members.get(protocol.name_key(session.name)) is not session:
            return
        del self._members[protocol.name_key(session.name)]
        log.info(
            "disconnect %s (%s) after %.1f s",
            session.label,
            reason,
            self._loop.now - session.connected_at,
        )
        if not self._loop.stopping:
            self._news["left"].append(session)

    def welcome(self, session: Session) -> None:
        """`session` has joined: greet it now, tell the others with the next news."""
        welcome = self.say_to(session)("welcome", name=session.name, count=len(self._members))
        self.send_event(session, protocol.Hello(self.name, welcome))
        self._news["joined"].append(session)

    @property
    def has_news(self) -> bool:
        return bool(self._news["left"] or self._news["joined"])

    def note_arrival(self, member) -> None:
        """An FTP user joined: the others hear of it with the next news (it gets no Hello)."""
        self._news["joined"].append(member)

    def flush_news(self) -> None:
        """Announce the departures, then the arrivals, noted since the last time.
        Called before every broadcast (so news keeps its place among the chat)
        and at the end of every turn of the loop."""
        for kind in ("left", "joined"):
            sessions, self._news[kind] = self._news[kind], []
            if len(sessions) <= NEWS_NAMED_ONE_BY_ONE:
                for session in sessions:
                    self._announce_now(kind, {session}, name=session.name)
            else:
                names = ", ".join(session.name for session in sessions[:3])
                self._announce_now(f"{kind}_many", set(sessions), names=names, count=len(sessions) - 3)

    # --- back-pressure ----------------------------------------------------------------

    @property
    def congested(self) -> bool:
        """A member that keeps reading has too much waiting: producers must pause."""
        now = self._loop.now
        return any(session.is_progressing(now, self._progress_window) for session in self._full)

    def output_drained(self, session: Session) -> None:
        """Called by the loop after a flush: a member below the low-water mark is no longer full."""
        if session.below_low_water:
            self._full.discard(session)

    # --- sending ----------------------------------------------------------------------

    def show(self, text: str) -> None:
        """A line for the server's console."""
        self._show(text)

    def _send(self, session: Session, data: bytes) -> None:
        if not session.queue(data, self._loop.now):
            self._loop.drop_soon(session, "too slow: output queue full")
            return
        if session.above_high_water and session.name is not None:
            self._full.add(session)
        self._loop.touch(session)

    def send_event(self, session: Session, event) -> None:
        self._send(session, protocol.encode(event))

    def send_message(self, session: Session, sender: str, text: str) -> None:
        self._send(session, protocol.encode(protocol.Message(sender, protocol.fit_text(sender, text))))

    def reply(self, session: Session, text: str) -> None:
        self.send_message(session, self.name, text)

    def reply_in_pieces(self, session: Session, texts: Iterable[str]) -> None:
        """A long answer (a listing): queued a line at a time as the session's output drains."""
        session.replies = self._encoded_replies(texts)
        self._loop.touch(session)

    def _encoded_replies(self, texts: Iterable) -> Iterator[bytes]:
        """Each text as a line from the server; an event (a `!ENTRY`) as itself."""
        for text in texts:
            if not isinstance(text, str):
                yield protocol.encode(text)
                continue
            yield protocol.encode(protocol.Message(self.name, protocol.fit_text(self.name, text)))

    def error_event(self, code: ErrorCode, key: str, say: Messages | None = None, **values) -> protocol.Error:
        """The `!ERR` line for `key`, in `say`'s language (the server's if none)."""
        text = (say or self.say)(key, **values)
        return protocol.Error(
            self.name, code, protocol.fit_text(self.name, text, reserve=len(code.value) + 6)
        )

    def send_error(self, session: Session, code: ErrorCode, key: str, **values) -> None:
        self.send_event(session, self.error_event(code, key, self.say_to(session), **values))

    def send_file_error(self, session: Session, code: ErrorCode, key: str, name: str, **values) -> None:
        """A refused file request: `!REFUSED code name` first for a protocol-2 client (the name as
        asked, a field its program reads), then the `!ERR` whose text names it for the user."""
        if session.protocol_version >= 2:
            with contextlib.suppress(protocol.LocalProtocolError):  # a name no line can carry
                self.send_event(session, protocol.Refused(self.name, code.value, name))
        self.send_error(session, code, key, name=visible(name), **values)

    def broadcast(self, sender: str, text: str, exclude: Session | None = None) -> None:
        self.flush_news()
        self._broadcast_now(sender, text, {exclude})

    def _broadcast_now(self, sender: str, text: str, exclude: set) -> None:
        data = protocol.encode(protocol.Message(sender, protocol.fit_text(sender, text)))
        for session in list(self._members.values()):
            if session not in exclude and session.hears_chat:
                self._send(session, data)

    def announce(self, key: str, exclude: Session | None = None, **values) -> None:
        """The server's own news (message `key`), to the console and every member, each in its language."""
        self.flush_news()
        self._announce_now(key, {exclude}, **values)

    def _announce_now(self, key: str, exclude: set, **values) -> None:
        """Encoded once per language, not once per member: a class of 30 costs two encodings."""
        self.show(f"{self.name}> {self.say(key, **values)}")
        encoded: dict[str, bytes] = {}
        for session in list(self._members.values()):
            if session in exclude or not session.hears_chat:
                continue
            say = self.say_to(session)
            if say.language not in encoded:
                text = protocol.fit_text(self.name, say(key, **values))
                encoded[say.language] = protocol.encode(protocol.Message(self.name, text))
            self._send(session, encoded[say.language])

    # --- ending -------------------------------------------------------------------------

    def refuse(self, session: Session, code: ErrorCode, key: str, **values) -> None:
        """A last error, then the connection closes once the client has read it."""
        event = self.error_event(code, key, self.say_to(session), **values)
        session.queue(protocol.encode(event), self._loop.now)
        self._loop.close_after_output(session, code.value)

    def say_goodbye(self, session: Session) -> None:
        """Quit takes effect once the downloads and answers asked for before it are sent."""
        session.queue(
            protocol.encode(protocol.Bye(self.name, self.say_to(session)("bye", name=session.name))),
            self._loop.now,
        )
        self._loop.close_after_output(session, "quit")
