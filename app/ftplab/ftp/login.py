"""Logging in: USER and PASS, anonymous visits, accounts (--users), and the
guard's delays after a wrong password (`logins.LoginGuard`); the Join that
ends a login and the events that answer it.

Functions of the session's state (`FtpSession`, passed as `session`): the
session's command table dispatches here."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import partial

from ..accounts import Accounts
from ..protocol import name_problem
from .events import Delay, DelayOver, Join, Joined, JoinRefused, SendReply
from .replies import reply
from .security import clear_login_refused

MAX_LOGIN_FAILURES = 3
ANONYMOUS_NAMES = frozenset({"anonymous", "ftp"})


def cmd_user(session, argument: str) -> None:
    if clear_login_refused(session) or _clear_password_refused(session):
        return
    if session.name is not None:
        session._say(503, "ftp_already_logged_in")
        return
    if _refused_address(session):
        return
    name = argument
    if name.lower() in ANONYMOUS_NAMES and session.settings.accounts is not None:
        session._say(530, "ftp_no_anonymous")
        return
    if name.lower() in ANONYMOUS_NAMES:
        name = f"anon-{session._anonymous_number()}"
    if name_problem(name) is not None:
        session._user = None
        session._say(530, "bad_name", name=name)
        return
    session._user = name
    session._say(331, "ftp_need_password")


def cmd_pass(session, argument: str) -> None:
    if session.name is not None:
        session._say(503, "ftp_already_logged_in")
    elif session._user is None:
        session._say(503, "ftp_user_first")
    elif _refused_address(session):
        return
    elif session.settings.accounts is not None and (wait := session._logins.check_wait(session.address_key)):
        _wait_then(session, wait, partial(cmd_pass, session, argument))  # checks are rationed (logins.py)
    elif session.settings.accounts is not None:
        _log_in_to_account(session, session.settings.accounts, argument)
    elif session.settings.password is not None and not hmac.compare_digest(
        argument.encode(), session.settings.password.encode()
    ):
        _wrong_password(session)
    else:
        if session.settings.password is not None:
            session._logins.succeeded(session.address_key)
        session._waiting = Joined
        session._emit(Join(session._user))


def _clear_password_refused(session) -> bool:
    """--users: no account's password in clear (530 at USER, before the client sends
    it), unless --allow-clear-passwords."""
    settings = session.settings
    if settings.accounts is None or settings.allow_clear_passwords or session.tls_active:
        return False
    session._say(530, "ftp_clear_password_refused" if settings.tls else "ftp_clear_password_no_tls")
    return True


def _log_in_to_account(session, accounts: Accounts, password: str) -> None:
    """--users: the name's account and its password, or a wrong password (a name
    without an account too, after the same work: the reply tells no names apart)."""
    account = accounts.check(session._user, password)
    if account is None:
        _wrong_password(session)
        return
    session._account = account
    session._waiting = Joined
    session._emit(Join(session._user))


def _refused_address(session) -> bool:
    """421 and close when this address has failed too often (its password is not even looked at)."""
    seconds = session._logins.blocked_for(session.address_key)
    if seconds:
        session.shut_down("ftp_address_blocked", minutes=max(1, round(seconds / 60)))
    return bool(seconds)


def _wrong_password(session) -> None:
    """Counted for the address; the 530 (or the 421 past the budget) only after
    the guard's delay, and no line is read meanwhile (pipelined guesses wait too)."""
    delay = session._logins.failed(session.address_key, session._user, "FTP")
    session._user = None
    _wait_then(session, delay, partial(_after_wrong_password, session))


def _wait_then(session, seconds: float, then: Callable[[], None]) -> None:
    """No line is read for `seconds` (the loop's `Delay`); then `then` runs."""
    session._after_delay = then
    session._waiting = DelayOver
    session._emit(Delay(seconds))


def _after_wrong_password(session) -> None:
    if not _refused_address(session):
        _login_failed(session, session.messages("ftp_login_incorrect"))


def on_delay_over(session, _event: DelayOver) -> None:
    if session._waiting is DelayOver:
        session._waiting = None
        then, session._after_delay = session._after_delay, None
        then()


def _login_failed(session, text: str) -> None:
    session._user = session._account = None
    session._login_failures += 1
    if session._login_failures >= MAX_LOGIN_FAILURES:
        session.shut_down("ftp_too_many_failures")
    else:
        session._emit(SendReply(reply(530, text)))


def on_joined(session, _event: Joined) -> None:
    if session._waiting is Joined:
        session._waiting = None
        session.name = session._user
        session._say(230, "ftp_logged_in", name=session.name)


def on_join_refused(session, event: JoinRefused) -> None:
    if session._waiting is Joined:
        session._waiting = None
        _login_failed(session, event.text)
