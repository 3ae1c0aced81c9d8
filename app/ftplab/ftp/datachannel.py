"""The data connection's address: PASV and EPSV (a passive listener the loop
opens, answered by PassiveOpened or PassiveFailed), PORT and EPRT (an active
address, only the peer's own, above the privileged ports: RFC 2577).

Functions of the session's state (`FtpSession`, passed as `session`)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .commands import COMMANDS
from .events import CloseData, OpenPassive, PassiveFailed, PassiveOpened
from .lines import ip_address, parse_eprt, parse_port

if TYPE_CHECKING:
    from .session import FtpSession

LOWEST_ACTIVE_PORT = 1024


@dataclass
class DataChannelState:
    """This module's state, kept by the session as `session.datachannel`;
    a transfer takes the address (`transfers.start_transfer`)."""

    address: tuple | None = None
    """("passive", port) or ("active", host, port): where the next transfer goes."""
    extended: bool = False
    """The passive port awaited was asked for by EPSV (a 229 reply), not PASV (227)."""
    epsv_all: bool = False
    """EPSV ALL was said: PASV, PORT and EPRT are refused from then on."""


def cmd_pasv(session: FtpSession, _argument: str) -> None:
    if session.datachannel.epsv_all:
        session.say(503, "ftp_epsv_all")
    elif not isinstance(_advertised_address(session), ipaddress.IPv4Address):
        session.say(425, "ftp_use_epsv")
    else:
        _open_passive(session, extended=False)


def _advertised_address(session: FtpSession):
    """The address a 227 reply gives: --masquerade-address, else ours."""
    return ip_address(session.settings.masquerade_address or session.local_host)


def cmd_epsv(session: FtpSession, argument: str) -> None:
    if argument.upper() == "ALL":
        session.datachannel.epsv_all = True
        session.say(200, "ftp_epsv_all_ok")
    elif argument and argument != _family(session):
        session.say(522, "ftp_network_protocol", family=_family(session))
    else:
        _open_passive(session, extended=True)


def _family(session: FtpSession) -> str:
    return "1" if isinstance(ip_address(session.local_host), ipaddress.IPv4Address) else "2"


def _open_passive(session: FtpSession, *, extended: bool) -> None:
    drop_data_channel(session)
    session.datachannel.extended = extended
    session.waiting = PassiveOpened
    session.emit(OpenPassive())


def drop_data_channel(session: FtpSession) -> None:
    if session.datachannel.address is not None:
        session.emit(CloseData())
        session.datachannel.address = None


def on_passive_opened(session: FtpSession, event: PassiveOpened) -> None:
    if session.waiting is not PassiveOpened:
        return
    session.waiting = None
    session.datachannel.address = ("passive", event.port)
    if session.datachannel.extended:
        session.say(229, "ftp_extended_passive", port=f"(|||{event.port}|)")
        return
    host = str(_advertised_address(session)).replace(".", ",")
    session.say(227, "ftp_passive", address=f"({host},{event.port // 256},{event.port % 256})")


def on_passive_failed(session: FtpSession, _event: PassiveFailed) -> None:
    if session.waiting is PassiveOpened:
        session.waiting = None
        session.say(425, "ftp_no_data_connection")


def cmd_port(session: FtpSession, argument: str) -> None:
    target = parse_port(argument)
    if target is None:
        session.say(501, "ftp_syntax", syntax=COMMANDS["PORT"].syntax)
    else:
        _set_active(session, *target)


def cmd_eprt(session: FtpSession, argument: str) -> None:
    target = parse_eprt(argument)
    if target is None:
        session.say(501, "ftp_syntax", syntax=COMMANDS["EPRT"].syntax)
    elif target[0] != _family(session):
        session.say(522, "ftp_network_protocol", family=_family(session))
    else:
        _set_active(session, target[1], target[2])


def _set_active(session: FtpSession, host: str, port: int) -> None:
    """PORT and EPRT lead back only to the peer itself, above the
    privileged ports (RFC 2577: no bounce attacks)."""
    if session.datachannel.epsv_all:
        session.say(503, "ftp_epsv_all")
        return
    address = ip_address(host)
    if address is None or address != ip_address(session.peer_host) or port < LOWEST_ACTIVE_PORT:
        session.say(501, "ftp_bounce")
        return
    drop_data_channel(session)
    session.datachannel.address = ("active", str(address), port)
    session.say(200, "ftp_port_ok")
