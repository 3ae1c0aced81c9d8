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

Members are people (`roster.Visitor`): a lab client, or every FTP connection that
logged in with one name from one address (rclone, `lftp pget -n 4` and a
script of curl calls open several). Such a person is announced once when its
first connection arrives and once when its visit ends, FTP_VISIT_GRACE_SECONDS
after its last connection left. How much of that news is told by name, and
how much only counted, is news.py's decision.

The room is the front the handlers talk to; three jobs it delegates each live
in their own module: who is in the room and how long a visit lasts
(roster.py), the news of arrivals and departures (visit_news.py), and queuing
bytes with the back-pressure it causes (delivery.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from . import protocol
from .delivery import Delivery
from .history import ChatHistory
from .messages import Messages
from .news import NewsBudget
from .protocol import ErrorCode
from .roster import FTP_VISIT_GRACE_SECONDS, Roster, Visitor
from .session import Session
from .text import visible
from .visit_news import VisitNews

PROGRESS_WINDOW_SECONDS = 5.0
"""A member that took some output within this long is a reader that keeps up, however slowly."""


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
        self._delivery = Delivery(loop, progress_window)
        self._news = VisitNews(news_budget)
        """Departures and arrivals not announced yet: see `flush_news`."""
        self._roster = Roster(name, loop, ftp_grace, self._news)
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
        visitor = self._roster.visitor_named(name)
        return visitor.first if visitor is not None and visitor.connections else None

    def visitor_named(self, name: str) -> Visitor | None:
        """The person called `name`, an FTP user in its visit's grace included; None if nobody is."""
        return self._roster.visitor_named(name)

    def member_names(self) -> list[str]:
        """Every member as `who` shows it: FTP users as `name (ftp)`, or `name (ftp ×3)`."""
        return self._roster.who_names()

    def __len__(self) -> int:
        """People with a connection: every member but those whose visit is in its grace."""
        return len(self._roster)

    def add_member(self, session: Session, name: str) -> bool:
        """Give `session` (of either door) its name; False if it is taken (or is the server's).
        An FTP login with the name of an FTP user from the same address joins that person."""
        return self._roster.add(session, name)

    def remove_member(self, session: Session, reason: str) -> None:
        """Forget `session`; when it was its person's last connection the visit ends
        (for FTP, after the grace) and the others are told (not while the server stops)."""
        self._delivery.forget(session)
        self._roster.remove(session, reason)

    def welcome(self, session: Session) -> None:
        """`session` has joined: greet it now, tell the others with the next news."""
        welcome = self.say_to(session)("welcome", name=session.name, count=len(self))
        self.send_event(session, protocol.Hello(self.name, welcome))
        self.note_arrival(session)

    @property
    def has_news(self) -> bool:
        return self._news.pending

    def note_arrival(self, member) -> None:
        """A member joined: the others hear of it with the next news (an FTP user gets no Hello).
        Another connection of a person already in the room is no news."""
        visitor = self._roster.visitor_of(member)
        if visitor is not None:
            self._news.arrived(visitor)

    def flush_news(self) -> None:
        """Announce the departures, then the arrivals, noted since the last time,
        and the count of those not named once its window ends. Called before every
        broadcast (so news keeps its place among the chat) and at the end of every
        turn of the loop, which turns at least every HOUSEKEEPING_SECONDS: that is
        also when visits past their grace end and counts are told."""
        self._roster.end_visits_past_grace()
        self._news.tell(self._loop.now, self._announce_now)

    # --- back-pressure ----------------------------------------------------------------

    @property
    def congested(self) -> bool:
        """A member that keeps reading has too much waiting: producers must pause."""
        return self._delivery.congested

    def output_drained(self, session: Session) -> None:
        """Called by the loop after a flush: a member below the low-water mark is no longer full."""
        self._delivery.drained(session)

    # --- sending ----------------------------------------------------------------------

    def show(self, text: str) -> None:
        """A line for the server's console."""
        self._show(text)

    def send_event(self, session: Session, event) -> None:
        self._delivery.send(session, protocol.encode(event))

    def send_message(self, session: Session, sender: str, text: str) -> None:
        event = protocol.Message(sender, protocol.fit_text(sender, text))
        self._delivery.send(session, protocol.encode(event))

    def reply(self, session: Session, text: str) -> None:
        self.send_message(session, self.name, text)

    def reply_in_pieces(self, session: Session, texts: Iterable[str]) -> None:
        """A long answer (a listing): queued a line at a time as the session's output drains."""
        session.replies = encoded_replies(self.name, texts)
        self._loop.touch(session)

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
        data = protocol.encode(protocol.Message(sender, text))
        self._delivery.send_to_all(self._roster.listeners(), data, exclude)

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

    def announce(self, key: str, exclude: Session | None = None, **values) -> None:
        """The server's own news (message `key`), to the console and every member, each in its language."""
        self.flush_news()
        self._announce_now(key, {exclude}, **values)

    def _announce_now(self, key: str, exclude: set, **values) -> None:
        """Encoded once per language, not once per member: a class of 30 costs two encodings."""
        self.show(f"{self.name}> {self.say(key, **values)}")
        encoded: dict[str, bytes] = {}
        for session in self._roster.listeners():
            if session in exclude:
                continue
            say = self.say_to(session)
            if say.language not in encoded:
                text = protocol.fit_text(self.name, say(key, **values))
                encoded[say.language] = protocol.encode(protocol.Message(self.name, text))
            self._delivery.send(session, encoded[say.language])

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
        return self._roster.expel(person, code, key, **values)

    def say_goodbye(self, session: Session) -> None:
        """Quit takes effect once the downloads and answers asked for before it are sent."""
        session.queue(
            protocol.encode(protocol.Bye(self.name, self.say_to(session)("bye", name=session.name))),
            self._loop.now,
        )
        self._loop.close_after_output(session, "quit")


def encoded_replies(server_name: str, texts: Iterable) -> Iterator[bytes | None]:
    """Each text as a line from the server; an event (a `!ENTRY`) as itself; None (a step of
    work with nothing to say yet) as it is."""
    for text in texts:
        if text is None:
            yield None
        elif not isinstance(text, str):
            yield protocol.encode(text)
        else:
            yield protocol.encode(protocol.Message(server_name, protocol.fit_text(server_name, text)))
