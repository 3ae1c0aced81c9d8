"""The lab door's password step, with accounts (--users).

Without accounts a lab client joins with its first line, as always. With them,
the first line (`ana> !JOIN lang=es proto=4`) is answered `!PASSWORD` instead
of `!HELLO`, and the client answers `ana> !PASSWORD secret`; the right password
lets the join go on (`!HELLO`, ...), with the account's rights on the session.
Every refusal is a closing `!ERR`, sent before any password travels when it
can be:

- `logins-blocked`: the address failed too often (logins.LoginGuard, shared with
  the FTP door);
- `password-required`: a client older than protocol 4 (or `nc` without `!JOIN
  proto=4`) cannot answer `!PASSWORD`;
- `tls-required`: the connection is in clear and the server has no
  --allow-clear-passwords;
- `bad-password`: a wrong password, or a name without an account (the same
  answer after the same work), sent only after the guard's delay; the lines that
  arrive meanwhile are not read.

No sockets here: the handlers call `ask` and `answer`, the door's timers call
`refusal_due`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from . import protocol
from .accounts import Accounts
from .logins import LoginGuard
from .protocol import ErrorCode
from .session import Session

log = logging.getLogger("ftplab.server")


class Room(Protocol):
    name: str

    def send_event(self, session: Session, event) -> None: ...

    def refuse(self, session: Session, code: ErrorCode, key: str, **values) -> None: ...


@dataclass
class PendingLogin:
    """A lab session asked for its password: the first line it sent, kept for the join."""

    first_line: protocol.Line
    options: dict[str, str] | None
    refuse_at: float | None = None
    refusal: tuple[ErrorCode, str, dict] = field(default=(ErrorCode.BAD_PASSWORD, "bad_password", {}))

    def refusal_due(self, now: float) -> bool:
        """A wrong password's delay is over: time to send its refusal."""
        return self.refuse_at is not None and now >= self.refuse_at


class LabLogins:
    """Asks lab clients for their account's password and checks it."""

    def __init__(self, accounts: Accounts, guard: LoginGuard, room: Room, *, allow_clear: bool = False):
        self._accounts = accounts
        self._guard = guard
        self._room = room
        self._allow_clear = allow_clear

    def ask(self, session: Session, first_line: protocol.Line, options: dict[str, str] | None) -> None:
        """The session's first line (its options already taken): `!PASSWORD`, or a refusal."""
        blocked = self._guard.blocked_for(session.address_key)
        if blocked:
            self._room.refuse(session, ErrorCode.LOGINS_BLOCKED, "logins_blocked", minutes=_minutes(blocked))
        elif session.protocol_version < protocol.PASSWORD_VERSION:
            log.info("refused %s: its client cannot give a password", session.label)
            version = protocol.PASSWORD_VERSION
            self._room.refuse(session, ErrorCode.PASSWORD_REQUIRED, "password_required", version=version)
        elif session.tls is None and not self._allow_clear:
            log.info("refused %s: a password would travel in clear", session.label)
            self._room.refuse(session, ErrorCode.TLS_REQUIRED, "clear_password_refused")
        else:
            session.login = PendingLogin(first_line, options)
            self._room.send_event(session, protocol.PasswordRequest(self._room.name))

    def must_wait(self, session: Session) -> bool:
        """A password the guard cannot have checked yet (checks are rationed: logins.py);
        the line waits its turn, like a command over its rate."""
        pending = session.login
        if pending is None or pending.refuse_at is not None:
            return False
        return bool(self._guard.check_wait(session.address_key))

    def answer(self, session: Session, event, now: float) -> PendingLogin | None:
        """A line from a session asked for its password: the pending login when it is the
        right password (its rights are now the session's), else None (refused, now or later)."""
        pending = session.login
        if pending is None or pending.refuse_at is not None:
            return None  # a refusal is on its way: nothing more is looked at
        if not isinstance(event, protocol.Password):
            self._room.refuse(session, ErrorCode.PASSWORD_REQUIRED, "password_expected")
            return None
        name = pending.first_line.sender
        account = self._accounts.check(name, event.text) if event.sender == name else None
        if account is None:
            self._failed(session, pending, name, now)
            return None
        session.login = None
        session.rights = account.rights
        return pending

    def _failed(self, session: Session, pending: PendingLogin, name: str, now: float) -> None:
        delay = self._guard.failed(session.address_key, name, "lab")
        blocked = self._guard.blocked_for(session.address_key)
        if blocked:
            pending.refusal = (ErrorCode.LOGINS_BLOCKED, "logins_blocked", {"minutes": _minutes(blocked)})
        pending.refuse_at = now + delay


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))
