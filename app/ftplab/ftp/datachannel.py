"""The data connection's address: PASV and EPSV (a passive listener the loop
opens, answered by PassiveOpened or PassiveFailed), PORT and EPRT (an active
address, only the peer's own, above the privileged ports: RFC 2577).

Functions of the session's state (`FtpSession`, passed as `session`)."""

from __future__ import annotations

import ipaddress

from .commands import COMMANDS
from .events import CloseData, OpenPassive, PassiveFailed, PassiveOpened
from .lines import ip_address, parse_eprt, parse_port

LOWEST_ACTIVE_PORT = 1024


def cmd_pasv(session, _argument: str) -> None:
    if session._epsv_all:
        session._say(503, "ftp_epsv_all")
    elif not isinstance(_advertised_address(session), ipaddress.IPv4Address):
        session._say(425, "ftp_use_epsv")
    else:
        _open_passive(session, extended=False)


def _advertised_address(session):
    """The address a 227 reply gives: --masquerade-address, else ours."""
    return ip_address(session.settings.masquerade_address or session.local_host)


def cmd_epsv(session, argument: str) -> None:
    if argument.upper() == "ALL":
        session._epsv_all = True
        session._say(200, "ftp_epsv_all_ok")
    elif argument and argument != _family(session):
        session._say(522, "ftp_network_protocol", family=_family(session))
    else:
        _open_passive(session, extended=True)


def _family(session) -> str:
    return "1" if isinstance(ip_address(session.local_host), ipaddress.IPv4Address) else "2"


def _open_passive(session, *, extended: bool) -> None:
    drop_data_channel(session)
    session._passive_extended = extended
    session._waiting = PassiveOpened
    session._emit(OpenPassive())


def drop_data_channel(session) -> None:
    if session._data is not None:
        session._emit(CloseData())
        session._data = None


def on_passive_opened(session, event: PassiveOpened) -> None:
    if session._waiting is not PassiveOpened:
        return
    session._waiting = None
    session._data = ("passive", event.port)
    if session._passive_extended:
        session._say(229, "ftp_extended_passive", port=f"(|||{event.port}|)")
        return
    host = str(_advertised_address(session)).replace(".", ",")
    session._say(227, "ftp_passive", address=f"({host},{event.port // 256},{event.port % 256})")


def on_passive_failed(session, _event: PassiveFailed) -> None:
    if session._waiting is PassiveOpened:
        session._waiting = None
        session._say(425, "ftp_no_data_connection")


def cmd_port(session, argument: str) -> None:
    target = parse_port(argument)
    if target is None:
        session._say(501, "ftp_syntax", syntax=COMMANDS["PORT"].syntax)
    else:
        _set_active(session, *target)


def cmd_eprt(session, argument: str) -> None:
    target = parse_eprt(argument)
    if target is None:
        session._say(501, "ftp_syntax", syntax=COMMANDS["EPRT"].syntax)
    elif target[0] != _family(session):
        session._say(522, "ftp_network_protocol", family=_family(session))
    else:
        _set_active(session, target[1], target[2])


def _set_active(session, host: str, port: int) -> None:
    """PORT and EPRT lead back only to the peer itself, above the
    privileged ports (RFC 2577: no bounce attacks)."""
    if session._epsv_all:
        session._say(503, "ftp_epsv_all")
        return
    address = ip_address(host)
    if address is None or address != ip_address(session.peer_host) or port < LOWEST_ACTIVE_PORT:
        session._say(501, "ftp_bounce")
        return
    drop_data_channel(session)
    session._data = ("active", str(address), port)
    session._say(200, "ftp_port_ok")
