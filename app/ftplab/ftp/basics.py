"""Commands that touch no file: QUIT, NOOP, SYST, FEAT, OPTS, HELP, and the
transfer parameters TYPE, MODE, STRU.

Functions of the session's state (`FtpSession`, passed as `session`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .commands import COMMANDS, HASH_NAME, features
from .events import SendReply
from .replies import reply

if TYPE_CHECKING:
    from .session import FtpSession


def cmd_quit(session: FtpSession, _argument: str) -> None:
    session.say(221, "ftp_goodbye")
    session.close()


def cmd_noop(session: FtpSession, _argument: str) -> None:
    session.say(200, "ftp_noop")


def cmd_syst(session: FtpSession, _argument: str) -> None:
    session.emit(SendReply(reply(215, "UNIX Type: L8")))


def cmd_feat(session: FtpSession, _argument: str) -> None:
    offered = features(session.rights, session.settings.tls)
    lines = [session.messages("ftp_features"), *offered, session.messages("ftp_end")]
    session.emit(SendReply(reply(211, *lines)))


def cmd_opts(session: FtpSession, argument: str) -> None:
    words = argument.upper().split()
    if words == ["UTF8", "ON"]:
        session.say(200, "ftp_utf8")
    elif words[:1] == ["HASH"] and words[1:] in ([], [HASH_NAME]):
        session.emit(SendReply(reply(200, HASH_NAME)))  # the one algorithm, always selected
    elif words[:1] == ["HASH"]:
        session.say(501, "ftp_hash_unknown", algorithm=HASH_NAME)
    else:
        session.say(501, "ftp_syntax", syntax=COMMANDS["OPTS"].syntax)


def cmd_help(session: FtpSession, argument: str) -> None:
    if not argument:
        names = " ".join(sorted(COMMANDS))
        lines = [session.messages("ftp_help_title"), names, session.messages("ftp_help_end")]
        session.emit(SendReply(reply(214, *lines)))
    elif argument.upper() in COMMANDS:
        session.say(214, "ftp_syntax_help", syntax=COMMANDS[argument.upper()].syntax)
    else:
        session.say(502, "ftp_not_implemented")


def cmd_type(session: FtpSession, argument: str) -> None:
    kind = {"A": "A", "A N": "A", "I": "I", "L 8": "I"}.get(argument.upper())
    if kind is None:
        session.say(504, "ftp_parameter_not_implemented")
        return
    session.transfer_type = kind
    session.say(200, "ftp_type_set", type=kind)


def cmd_mode(session: FtpSession, argument: str) -> None:
    _only_parameter(session, argument, "S", "ftp_mode_set")


def cmd_stru(session: FtpSession, argument: str) -> None:
    _only_parameter(session, argument, "F", "ftp_structure_set")


def _only_parameter(session: FtpSession, argument: str, accepted: str, key: str) -> None:
    if argument.upper() == accepted:
        session.say(200, key, value=accepted)
    else:
        session.say(504, "ftp_parameter_not_implemented")
