"""The FTP door's options, checked once at start (issue 17, item 7): a bad one
is refused with a clear message before anything listens, instead of being
accepted and failing every PASV later.

--masquerade-address is what a 227 reply tells clients to connect to. A name
is resolved here, once, to its IPv4 address (PASV can only give IPv4; IPv6
clients use EPSV, which gives no address). --passive-ports must be a range
from 1024 to 65535 that holds neither of the server's own ports.

Each check returns the value to use, or raises OptionError with the message
(from `messages`) that cli.py shows as the option's error.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

from ..messages import Messages

LOWEST_PASSIVE_PORT, HIGHEST_PORT = 1024, 65535


class OptionError(ValueError):
    """An option that cannot be used; its text says why, in the server's language."""


Resolver = Callable[..., list]


def masquerade_address(text: str, say: Messages, resolve: Resolver = socket.getaddrinfo) -> str:
    """The IPv4 address a 227 reply gives for --masquerade-address `text` (a name is resolved now)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = _resolved(text, say, resolve)
    if address.version != 4:
        raise OptionError(say("opt_masquerade_not_ipv4", address=text))
    if address.is_unspecified or address.is_multicast:
        raise OptionError(say("opt_masquerade_unusable", address=text))
    return str(address)


def _resolved(name: str, say: Messages, resolve: Resolver) -> ipaddress.IPv4Address:
    try:
        found = resolve(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OptionError(say("opt_masquerade_unresolved", address=name, error=error)) from None
    if not found:
        raise OptionError(say("opt_masquerade_unresolved", address=name, error="-"))
    return ipaddress.IPv4Address(found[0][4][0])


def passive_ports(text: str, say: Messages, own_ports: Iterable[int | None] = ()) -> range:
    """--passive-ports `text` (`30000-30009`, or one port) as a range, checked."""
    first, dash, last = text.strip().partition("-")
    if not (first.isdigit() and (last.isdigit() or not dash)):
        raise OptionError(say("opt_passive_ports_syntax", ports=text))
    low, high = int(first), int(last or first)
    if not LOWEST_PASSIVE_PORT <= low <= high <= HIGHEST_PORT:
        bounds = {"low": LOWEST_PASSIVE_PORT, "high": HIGHEST_PORT}
        raise OptionError(say("opt_passive_ports_bounds", ports=text, **bounds))
    ports = range(low, high + 1)
    taken = sorted({port for port in own_ports if port and port in ports})
    if taken:
        raise OptionError(say("opt_passive_ports_own", ports=text, port=taken[0]))
    return ports
