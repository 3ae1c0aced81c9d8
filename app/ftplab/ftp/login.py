"""Logging in: USER and PASS, anonymous visits, accounts (--users), and the
guard's delays after a wrong password (`logins.LoginGuard`); the Join that
ends a login and the events that answer it.

Functions of the session's state (`FtpSession`, passed as `session`): the
session's command table dispatches here."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from ..accounts import Account, Accounts
from ..anonymous import anonymous_name
from ..protocol import name_problem
from .events import Delay, DelayOver, Join, Joined, JoinRefused, SendReply
from .replies import reply
from .security import clear_login_refused

if TYPE_CHECKING:
    from .session import FtpSession

MAX_LOGIN_FAILURES = 3
ANONYMOUS_NAMES = frozenset({"anonymous", "ftp"})


@dataclass
class LoginState:
    """This module's state, kept by the session as `session.login` (the name
    logged in with is the session's own `name`)."""

    user: str | None = None
    """The name USER gave, waiting for its PASS."""
    account: Account | None = None
    """The account logged in with (--users), whose rights are in force."""
    failures: int = 0
    after_delay: Callable[[], None] | None = None
    """What runs when a Delay is over (a 530, a PASS)."""


def cmd_user(session: FtpSession, argument: str) -> None:
    if clear_login_refused(session) or _clear_password_refused(session):
        return
    if session.name is not None:
        session.say(503, "ftp_already_logged_in")
        return
    if _refused_address(session):
        return
    name = argument
    if name.lower() in ANONYMOUS_NAMES and session.settings.accounts is not None:
        session.say(530, "ftp_no_anonymous")
        return
    if name.lower() in ANONYMOUS_NAMES:
        name = anonymous_name(session.anonymous_number())
    if name_problem(name) is not None:
        session.login.user = None
        session.say(530, "bad_name", name=name)
        return
    session.login.user = name
    session.say(331, "ftp_need_password")


def cmd_pass(session: FtpSession, argument: str) -> None:
    if session.name is not None:
        session.say(503, "ftp_already_logged_in")
    elif session.login.user is None:
        session.say(503, "ftp_user_first")
    elif _refused_address(session):
        return
    elif session.settings.accounts is not None and (wait := session.logins.check_wait(session.address_key)):
        _wait_then(session, wait, partial(cmd_pass, session, argument))  # checks are rationed (logins.py)
    elif session.settings.accounts is not None:
        _log_in_to_account(session, session.settings.accounts, argument)
    elif session.settings.password is not None and not hmac.compare_digest(
        argument.encode(), session.settings.password.encode()
    ):
        _wrong_password(session)
    else:
        if session.settings.password is not None:
            session.logins.succeeded(session.address_key)
        session.waiting = Joined
        session.emit(Join(session.login.user))


def _clear_password_refused(session: FtpSession) -> bool:
    """--users: no account's password in clear (530 at USER, before the client sends
    it), unless --allow-clear-passwords."""
    settings = session.settings
    if settings.accounts is None or settings.allow_clear_passwords or session.tls_active:
        return False
    session.say(530, "ftp_clear_password_refused" if settings.tls else "ftp_clear_password_no_tls")
    return True


def _log_in_to_account(session: FtpSession, accounts: Accounts, password: str) -> None:
    """--users: the name's account and its password, or a wrong password (a name
    without an account too, after the same work: the reply tells no names apart)."""
    account = accounts.check(session.login.user, password)
    if account is None:
        _wrong_password(session)
        return
    session.login.account = account
    session.waiting = Joined
    session.emit(Join(session.login.user))


def _refused_address(session: FtpSession) -> bool:
    """421 and close when this address has failed too often (its password is not even looked at)."""
    seconds = session.logins.blocked_for(session.address_key)
    if seconds:
        session.shut_down("ftp_address_blocked", minutes=max(1, round(seconds / 60)))
    return bool(seconds)


def _wrong_password(session: FtpSession) -> None:
    """Counted for the address; the 530 (or the 421 past the budget) only after
    the guard's delay, and no line is read meanwhile (pipelined guesses wait too)."""
    delay = session.logins.failed(session.address_key, session.login.user, "FTP")
    session.login.user = None
    _wait_then(session, delay, partial(_after_wrong_password, session))


def _wait_then(session: FtpSession, seconds: float, then: Callable[[], None]) -> None:
    """No line is read for `seconds` (the loop's `Delay`); then `then` runs."""
    session.login.after_delay = then
    session.waiting = DelayOver
    session.emit(Delay(seconds))


def _after_wrong_password(session: FtpSession) -> None:
    if not _refused_address(session):
        _login_failed(session, session.messages("ftp_login_incorrect"))


def on_delay_over(session: FtpSession, _event: DelayOver) -> None:
    if session.waiting is DelayOver:
        session.waiting = None
        then, session.login.after_delay = session.login.after_delay, None
        then()


def _login_failed(session: FtpSession, text: str) -> None:
    session.login.user = session.login.account = None
    session.login.failures += 1
    if session.login.failures >= MAX_LOGIN_FAILURES:
        session.shut_down("ftp_too_many_failures")
    else:
        session.emit(SendReply(reply(530, text)))


def on_joined(session: FtpSession, _event: Joined) -> None:
    if session.waiting is Joined:
        session.waiting = None
        session.name = session.login.user
        session.say(230, "ftp_logged_in", name=session.name)


def on_join_refused(session: FtpSession, event: JoinRefused) -> None:
    if session.waiting is Joined:
        session.waiting = None
        _login_failed(session, event.text)
