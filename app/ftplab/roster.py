"""Who is in the room: people (`Visitor`), their connections, and how long a visit lasts.

Split out of room.py because keeping the list of people is one job and sending
them messages is another: the room asks the roster who is there (and who hears
chat) and the roster never sends anything but an expelled person's last words,
through each connection's own `refuse`. A visit that ends is handed to the
room's `VisitNews`, which decides when and how the others hear of it.

An FTP user is every connection that logged in with one name from one address
(rclone, `lftp pget -n 4` and a script of curl calls open several); its visit
ends FTP_VISIT_GRACE_SECONDS after its last connection left.
"""

from __future__ import annotations

import logging

from . import protocol
from .protocol import ErrorCode
from .visit_news import VisitNews

log = logging.getLogger("ftplab.server")

FTP_VISIT_GRACE_SECONDS = 3.0
"""An FTP user's visit ends this long after its last connection closed: a script
of curl calls, a connection each, is one visit, announced once."""


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


class Roster:
    """The people in the room by name, their connections, and their visits' grace."""

    def __init__(self, server_name: str, loop, ftp_grace: float, news: VisitNews):
        self._server_key = protocol.name_key(server_name)
        self._loop = loop
        self._ftp_grace = ftp_grace
        self._news = news
        self._members: dict[str, Visitor] = {}
        self._in_grace: dict[Visitor, None] = {}
        """FTP visitors with no connection left, until their grace ends (insertion order: oldest first)."""
        self._listeners: dict = {}
        """The connections that hear chat, in the order they came: kept as they come and go,
        not gathered from every visitor for each line (10,000 members, 10,000 lines to send)."""

    def visitor_named(self, name: str) -> Visitor | None:
        """The person called `name`, even one whose visit is in its grace."""
        return self._members.get(protocol.name_key(name))

    def visitor_of(self, session) -> Visitor | None:
        """The person `session` is a connection of, None if it has no name yet."""
        if session.name is None:
            return None
        visitor = self._members.get(protocol.name_key(session.name))
        return visitor if visitor is not None and session in visitor.connections else None

    def who_names(self) -> list[str]:
        """Every person with a connection, as `who` shows it."""
        return [visitor.who_name for visitor in self._members.values() if visitor.connections]

    def __len__(self) -> int:
        """People with a connection: every member but those whose visit is in its grace."""
        return len(self._members) - len(self._in_grace)

    def add(self, session, name: str) -> bool:
        """Give `session` (of either door) its name; False if it is taken (or is the server's).
        An FTP login with the name of an FTP user from the same address joins that person."""
        key = protocol.name_key(name)
        if key == self._server_key:
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
        if session.hears_chat:
            self._listeners[session] = None
        visitor.gone_since = None
        self._in_grace.pop(visitor, None)
        session.name = visitor.name
        return True

    def remove(self, session, reason: str) -> None:
        """Forget `session`; when it was its person's last connection the visit ends
        (for FTP, after the grace) and the others are told (not while the server stops)."""
        visitor = self.visitor_of(session)
        if visitor is None:
            return
        del visitor.connections[session]
        self._listeners.pop(session, None)
        log.info(
            "disconnect %s (%s) after %.1f s",
            session,
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

    def end_visits_past_grace(self) -> None:
        """The FTP visits whose grace is over end now (the oldest first)."""
        now = self._loop.now
        while self._in_grace:
            visitor = next(iter(self._in_grace))
            if now - visitor.gone_since < self._ftp_grace:
                break  # the oldest is still in its grace: so are the others (no copy of them each turn)
            self._end_visit(visitor)

    def _end_visit(self, visitor: Visitor) -> None:
        """The name is free again; the news hears of the departure."""
        del self._members[protocol.name_key(visitor.name)]
        self._in_grace.pop(visitor, None)
        self._news.departed(visitor, told=not self._loop.stopping)

    def listeners(self) -> list:
        """The connections that hear chat and news (lab clients'), oldest first: a copy, so
        sending to them may change the roster."""
        return list(self._listeners)

    def expel(self, person: str, code: ErrorCode, key: str, /, **values) -> list:
        """Send the person called `person` away: each of its connections gets message
        `key` in its own protocol (a lab `!ERR`, an FTP 421) and closes, data
        connections with it; its visit ends with the last one, with no grace, and
        the others hear of it once. The connections it had (none: nobody is called so)."""
        visitor = self.visitor_named(person)
        if visitor is None or not visitor.connections:
            return []
        visitor.expelled = True
        connections = list(visitor.connections)
        for connection in connections:
            connection.refuse(code, key, **values)
        return connections
