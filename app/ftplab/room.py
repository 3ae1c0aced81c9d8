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

Members are people (`Visitor`): a lab client, or every FTP connection that
logged in with one name from one address (rclone, `lftp pget -n 4` and a
script of curl calls open several). Such a person is announced once when its
first connection arrives and once when its visit ends, FTP_VISIT_GRACE_SECONDS
after its last connection left. How much of that news is told by name, and
how much only counted, is news.py's decision.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from . import protocol
from .history import ChatHistory
from .messages import Messages
from .news import KINDS, NewsBudget
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

FTP_VISIT_GRACE_SECONDS = 3.0
"""An FTP user's visit ends this long after its last connection closed: a script
of curl calls, a connection each, is one visit, announced once."""


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


class Visitor:
    """One person in the room: a lab client's connection, or the FTP connections
    that logged in with one name from one address."""

    def __init__(self, name: str, address: str, by_ftp: bool):
        self.name = name
        self.address = address
        self.by_ftp = by_ftp
        self.connections: dict = {}
        """Its connections, oldest first (a dict for order and quick removal)."""
        self.named: bool | None = None
        """None until its arrival was news; then whether that news named it (else it was counted)."""
        self.gone_since: float | None = None
        """When its last connection closed, while its visit lasts the grace longer."""
        self.expelled = False
        """The teacher sent it away: its visit ends with its last connection, with no grace."""

    def admits(self, connection) -> bool:
        """Is `connection` this person too? Only an FTP login from the same address."""
        return self.by_ftp and not connection.hears_chat and connection.address_key == self.address

    @property
    def who_name(self) -> str:
        """How `who` shows it: `ana`, `ana (ftp)`, `ana (ftp ×4)`."""
        if len(self.connections) > 1:
            return f"{self.name} (ftp ×{len(self.connections)})"
        return self.first.who_name

    @property
    def first(self):
        """Its oldest connection."""
        return next(iter(self.connections))


class Room:
    """Names, membership, broadcast, and the send API handlers answer through."""

    def __init__(
        self,
        name: str,
        say: Messages,
        loop: Loop,
        show: Callable[[str], None],
        progress_window: float,
        ftp_grace: float = FTP_VISIT_GRACE_SECONDS,
        news_budget: NewsBudget | None = None,
    ):
        self.name = name
        self.say = say
        self._loop = loop
        self._show = show
        self._progress_window = progress_window
        self._ftp_grace = ftp_grace
        self._members: dict[str, Visitor] = {}
        self._in_grace: dict[Visitor, None] = {}
        """FTP visitors with no connection left, until their grace ends (insertion order: oldest first)."""
        self._full: set[Session] = set()
        """Sessions above the high-water mark, until they drain below the low-water mark."""
        self._news: dict[str, dict[Visitor, None]] = {kind: {} for kind in KINDS}
        """Departures and arrivals not announced yet: see `flush_news`."""
        self._news_budget = news_budget or NewsBudget()
        self._history = ChatHistory()
        """What was said to everyone lately, shown again to whoever joins."""
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
        """A connection of the person called `name` (its first), None if nobody is."""
        visitor = self._members.get(protocol.name_key(name))
        return visitor.first if visitor is not None and visitor.connections else None

    def connections_of(self, name: str) -> list:
        """Every connection of the person called `name`, oldest first (none if nobody is)."""
        visitor = self._members.get(protocol.name_key(name))
        return list(visitor.connections) if visitor is not None else []

    def member_names(self) -> list[str]:
        """Every member as `who` shows it: FTP users as `name (ftp)`, or `name (ftp ×3)`."""
        return [visitor.who_name for visitor in self._members.values() if visitor.connections]

    def __len__(self) -> int:
        """People with a connection: every member but those whose visit is in its grace."""
        return len(self._members) - len(self._in_grace)

    def add_member(self, session: Session, name: str) -> bool:
        """Give `session` (of either door) its name; False if it is taken (or is the server's).
        An FTP login with the name of an FTP user from the same address joins that person."""
        key = protocol.name_key(name)
        if key == protocol.name_key(self.name):
            return False
        visitor = self._members.get(key)
        if visitor is not None and not visitor.admits(session):
            if visitor.connections or visitor.address != session.address_key:
                return False
            self._end_visit(visitor)  # its own address again, by the other door: a new visit
            visitor = None
        if visitor is None:
            visitor = Visitor(name, session.address_key, by_ftp=not session.hears_chat)
            self._members[key] = visitor
        visitor.connections[session] = None
        visitor.gone_since = None
        self._in_grace.pop(visitor, None)
        session.name = visitor.name
        return True

    def remove_member(self, session: Session, reason: str) -> None:
        """Forget `session`; when it was its person's last connection the visit ends
        (for FTP, after the grace) and the others are told (not while the server stops)."""
        self._full.discard(session)
        visitor = self._visitor_of(session)
        if visitor is None:
            return
        del visitor.connections[session]
        log.info(
            "disconnect %s (%s) after %.1f s",
            session.label,
            reason,
            self._loop.now - session.connected_at,
        )
        if visitor.connections:
            return
        if visitor.by_ftp and self._ftp_grace > 0 and not visitor.expelled and not self._loop.stopping:
            visitor.gone_since = self._loop.now
            self._in_grace[visitor] = None
        else:
            self._end_visit(visitor)

    def _visitor_of(self, session) -> Visitor | None:
        if session.name is None:
            return None
        visitor = self._members.get(protocol.name_key(session.name))
        return visitor if visitor is not None and session in visitor.connections else None

    def _end_visit(self, visitor: Visitor) -> None:
        """The name is free again; the others hear of the departure unless they never heard of the arrival."""
        del self._members[protocol.name_key(visitor.name)]
        self._in_grace.pop(visitor, None)
        if self._news["joined"].pop(visitor, False) is None:
            return  # a visit nobody was told of ends untold
        if not self._loop.stopping:
            self._news["left"][visitor] = None

    def _end_visits_past_grace(self) -> None:
        now = self._loop.now
        for visitor in list(self._in_grace):
            if now - visitor.gone_since < self._ftp_grace:
                break
            self._end_visit(visitor)

    def welcome(self, session: Session) -> None:
        """`session` has joined: greet it now, tell the others with the next news."""
        welcome = self.say_to(session)("welcome", name=session.name, count=len(self))
        self.send_event(session, protocol.Hello(self.name, welcome))
        self.note_arrival(session)

    @property
    def has_news(self) -> bool:
        return any(self._news.values())

    def note_arrival(self, member) -> None:
        """A member joined: the others hear of it with the next news (an FTP user gets no Hello).
        Another connection of a person already in the room is no news."""
        visitor = self._visitor_of(member)
        if visitor is not None and visitor.named is None:
            self._news["joined"][visitor] = None

    def flush_news(self) -> None:
        """Announce the departures, then the arrivals, noted since the last time,
        and the count of those not named once its window ends. Called before every
        broadcast (so news keeps its place among the chat) and at the end of every
        turn of the loop, which turns at least every HOUSEKEEPING_SECONDS: that is
        also when visits past their grace end and counts are told."""
        self._end_visits_past_grace()
        now = self._loop.now
        for kind in KINDS:
            visitors, self._news[kind] = self._news[kind], {}
            named = [visitor for visitor in visitors if self._may_name(kind, visitor, now)]
            if len(named) <= NEWS_NAMED_ONE_BY_ONE:
                for visitor in named:
                    self._announce_now(kind, set(visitor.connections), name=visitor.name)
            else:
                names = ", ".join(visitor.name for visitor in named[:3])
                exclude = {connection for visitor in named for connection in visitor.connections}
                self._announce_now(f"{kind}_many", exclude, names=names, count=len(named) - 3)
        for kind, count in self._news_budget.due_summaries(now):
            seconds = f"{self._news_budget.summary_seconds:g}"
            self._announce_now(f"{kind}_more", set(), count=count, seconds=seconds)

    def _may_name(self, kind: str, visitor: Visitor, now: float) -> bool:
        """Within its address's allowance: named; otherwise counted. Someone whose
        arrival was only counted leaves counted too, spending nothing."""
        if kind == "joined":
            visitor.named = self._news_budget.may_name(visitor.address, now)
            named = visitor.named
        else:
            named = visitor.named is not False and self._news_budget.may_name(visitor.address, now)
        if not named:
            self._news_budget.count(kind, now)
        return named

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
        """Chat to everyone (from a member, or the server's console): it joins the history."""
        self.flush_news()
        text = protocol.fit_text(sender, text)
        self._history.add(sender, text)
        self._broadcast_now(sender, text, {exclude})

    def send_history(self, session: Session) -> None:
        """The conversation so far, marked as earlier: `!EARLIER` fields to a client that
        speaks protocol 3, a line of text in its language to any other."""
        say = self.say_to(session)
        for said in self._history.lines():
            if session.protocol_version >= protocol.EARLIER_VERSION:
                reserve = len("!EARLIER  ") + len(said.sender.encode())
                text = protocol.fit_text(self.name, said.text, reserve=reserve)
                self.send_event(session, protocol.Earlier(self.name, said.sender, text))
            else:
                self.reply(session, say("earlier_line", name=said.sender, text=said.text))

    def history_lines(self) -> list[str]:
        """The conversation so far as the console shows it again (a teacher who attaches)."""
        return [self.say("earlier_line", name=said.sender, text=said.text) for said in self._history.lines()]

    def _broadcast_now(self, sender: str, text: str, exclude: set) -> None:
        data = protocol.encode(protocol.Message(sender, protocol.fit_text(sender, text)))
        for session in self._listeners():
            if session not in exclude:
                self._send(session, data)

    def _listeners(self) -> list[Session]:
        """The connections that hear chat and news (lab clients')."""
        return [
            connection
            for visitor in self._members.values()
            for connection in visitor.connections
            if connection.hears_chat
        ]

    def announce(self, key: str, exclude: Session | None = None, **values) -> None:
        """The server's own news (message `key`), to the console and every member, each in its language."""
        self.flush_news()
        self._announce_now(key, {exclude}, **values)

    def _announce_now(self, key: str, exclude: set, **values) -> None:
        """Encoded once per language, not once per member: a class of 30 costs two encodings."""
        self.show(f"{self.name}> {self.say(key, **values)}")
        encoded: dict[str, bytes] = {}
        for session in self._listeners():
            if session in exclude:
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

    def expel(self, person: str, code: ErrorCode, key: str, /, **values) -> list:
        """Send the person called `person` away: each of its connections gets message
        `key` in its own protocol (a lab `!ERR`, an FTP 421) and closes, data
        connections with it; its visit ends with the last one, with no grace, and
        the others hear of it once. The connections it had (none: nobody is called so)."""
        visitor = self._members.get(protocol.name_key(person))
        if visitor is None or not visitor.connections:
            return []
        visitor.expelled = True
        connections = list(visitor.connections)
        for connection in connections:
            connection.refuse(code, key, **values)
        return connections

    def say_goodbye(self, session: Session) -> None:
        """Quit takes effect once the downloads and answers asked for before it are sent."""
        session.queue(
            protocol.encode(protocol.Bye(self.name, self.say_to(session)("bye", name=session.name))),
            self._loop.now,
        )
        self._loop.close_after_output(session, "quit")
