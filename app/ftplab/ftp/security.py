"""The FTP door's security commands (RFC 4217, explicit FTPS): AUTH TLS, PBSZ,
PROT. A mixin of `FtpSession`, with no networking code: AUTH TLS answers 234
and asks the loop to start TLS on the control connection (`StartTls`); PROT P
makes the loop wrap each data connection in TLS resuming the control
connection's session. CCC (back to clear) is not offered, so it is 502 like any
command the door does not know.

Implicit FTPS (--ftps-port) has no RFC: the connection is TLS from its first
byte (the loop starts it before the greeting), and, as RFC 4217 section 15's notes
on it and every implicit client expect, data connections are protected unless the
client says PROT C; PBSZ is then optional."""

from __future__ import annotations

from .events import SendReply, StartTls
from .lines import LineBuffer
from .replies import reply

AUTH_MECHANISMS = frozenset({"TLS", "TLS-C", "SSL"})
PROTECTION_LEVELS = {"C": False, "P": True}
"""PROT levels offered: Clear and Private (S and E are refused with 536)."""


class SecurityCommands:
    """`_cmd_auth`, `_cmd_pbsz`, `_cmd_prot` of FtpSession, and what they set."""

    tls_active = False
    """AUTH TLS was answered: the control connection speaks TLS from the 234 on."""

    data_protected = False
    """PROT P: data connections speak TLS too."""

    _buffer_size_set = False

    def begin_implicit_tls(self) -> None:
        """--ftps-port: the control connection is already TLS; data is protected by default."""
        self.tls_active = True
        self.data_protected = True
        self._buffer_size_set = True

    def _cmd_auth(self, argument: str) -> None:
        if not self.settings.tls:
            self._say(502, "ftp_tls_off")
        elif self.tls_active:
            self._say(503, "ftp_tls_already")
        elif self.name is not None or self._user is not None:
            self._say(503, "ftp_tls_before_login")
        elif argument.upper() not in AUTH_MECHANISMS:
            self._say(504, "ftp_auth_unknown", mechanism=argument)
        else:
            self._say(234, "ftp_tls_starting")
            self._buffer = LineBuffer()  # nothing said in clear after AUTH may run inside TLS
            self.tls_active = True
            self._emit(StartTls())

    def _cmd_pbsz(self, _argument: str) -> None:
        if not self.tls_active:
            self._say(503, "ftp_tls_first")
        else:
            self._buffer_size_set = True
            self._emit(SendReply(reply(200, "PBSZ=0")))

    def _cmd_prot(self, argument: str) -> None:
        level = argument.upper()
        if not self._buffer_size_set:
            self._say(503, "ftp_pbsz_first")
        elif level not in PROTECTION_LEVELS:
            self._say(536 if level in ("S", "E") else 504, "ftp_prot_unsupported", level=argument)
        else:
            self.data_protected = PROTECTION_LEVELS[level]
            self._say(200, "ftp_prot_set", level=level)

    def _clear_login_refused(self) -> bool:
        """--require-tls: a login in clear is refused with 530 (530, not 534: clients show it)."""
        if self.settings.require_tls and not self.tls_active:
            self._say(530, "ftp_tls_required")
            return True
        return False
