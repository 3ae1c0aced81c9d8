"""The FTP door's security commands (RFC 4217, explicit FTPS): AUTH TLS, PBSZ,
PROT. Functions of the session's state (`FtpSession`, passed as `session`,
which keeps `tls_active` and `data_protected`), with no networking code: AUTH TLS answers 234
and asks the loop to start TLS on the control connection (`StartTls`); PROT P
makes the loop wrap each data connection in TLS resuming the control
connection's session. CCC (back to clear) is not offered, so it is 502 like any
command the door does not know.

Implicit FTPS (--ftps-port) has no RFC: the connection is TLS from its first
byte (the loop starts it before the greeting), and, as RFC 4217 section 15's notes
on it and every implicit client expect, data connections are protected unless the
client says PROT C; PBSZ is then optional."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import SendReply, StartTls
from .replies import reply

if TYPE_CHECKING:
    from .session import FtpSession

AUTH_MECHANISMS = frozenset({"TLS", "TLS-C", "SSL"})
PROTECTION_LEVELS = {"C": False, "P": True}
"""PROT levels offered: Clear and Private (S and E are refused with 536)."""


def cmd_auth(session: FtpSession, argument: str) -> None:
    if not session.settings.tls:
        session.say(502, "ftp_tls_off")
    elif session.tls_active:
        session.say(503, "ftp_tls_already")
    elif session.name is not None or session.login.user is not None:
        session.say(503, "ftp_tls_before_login")
    elif argument.upper() not in AUTH_MECHANISMS:
        session.say(504, "ftp_auth_unknown", mechanism=argument)
    else:
        session.say(234, "ftp_tls_starting")
        session.forget_unread_input()
        session.tls_active = True
        session.emit(StartTls())


def cmd_pbsz(session: FtpSession, _argument: str) -> None:
    if not session.tls_active:
        session.say(503, "ftp_tls_first")
    else:
        session.buffer_size_set = True
        session.emit(SendReply(reply(200, "PBSZ=0")))


def cmd_prot(session: FtpSession, argument: str) -> None:
    level = argument.upper()
    if not session.buffer_size_set:
        session.say(503, "ftp_pbsz_first")
    elif level not in PROTECTION_LEVELS:
        session.say(536 if level in ("S", "E") else 504, "ftp_prot_unsupported", level=argument)
    else:
        session.data_protected = PROTECTION_LEVELS[level]
        session.say(200, "ftp_prot_set", level=level)


def clear_login_refused(session: FtpSession) -> bool:
    """--require-tls: a login in clear is refused with 530 (530, not 534: clients show it)."""
    if session.settings.require_tls and not session.tls_active:
        session.say(530, "ftp_tls_required")
        return True
    return False
