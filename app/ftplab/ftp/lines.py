"""Command lines from bytes, and the addresses in PORT and EPRT: parsing only."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache

ADDRESSES_KEPT = 1024
"""Parsed addresses remembered: each PASV gives the server's own, each PORT is checked against its peer."""
MAX_COMMAND_BYTES = 4096
"""The longest command line accepted, CRLF included; a longer one gets 500."""

_TELNET_IAC = 0xFF


class TooLong:
    """Marks a command line that went over MAX_COMMAND_BYTES (and was dropped)."""


TOO_LONG = TooLong()


def _strip_telnet(raw: bytes) -> bytes:
    """Drop Telnet commands (IAC x; IAC IAC is a literal 0xFF): clients send
    IAC IP, IAC DM before ABOR (RFC 959 4.1.3)."""
    if _TELNET_IAC not in raw:
        return raw
    out = bytearray()
    index = 0
    while index < len(raw):
        if raw[index] == _TELNET_IAC:
            if index + 1 < len(raw) and raw[index + 1] == _TELNET_IAC:
                out.append(_TELNET_IAC)
            index += 2
            continue
        out.append(raw[index])
        index += 1
    return bytes(out)


@dataclass
class LineBuffer:
    """Holds the bytes read and hands out one command line at a time, so the
    session runs a bounded number of lines per turn (the loop reads again only
    when no whole line is left: at most one read and a partial line are held).

    A line over MAX_COMMAND_BYTES is dropped as it arrives and yields TOO_LONG once."""

    unread: bytearray = field(default_factory=bytearray)
    discarding: bool = False

    def add(self, data: bytes) -> None:
        self.unread += data

    @property
    def has_line(self) -> bool:
        """A whole line (or an over-long one to report) is waiting."""
        return b"\n" in self.unread or (not self.discarding and len(self.unread) >= MAX_COMMAND_BYTES)

    def next_line(self):
        """The next line without its end (bytes), TOO_LONG, or None when no whole line is in."""
        while True:
            newline = self.unread.find(b"\n")
            if newline < 0:
                return self._partial_too_long()
            line = bytes(self.unread[:newline])
            del self.unread[: newline + 1]
            if self.discarding:
                self.discarding = False
                continue
            if newline + 1 > MAX_COMMAND_BYTES:
                return TOO_LONG
            return _strip_telnet(line).removesuffix(b"\r")

    def _partial_too_long(self):
        """With no newline in sight: an over-long start is dropped now, and reported once."""
        if len(self.unread) < MAX_COMMAND_BYTES:
            return None
        self.unread.clear()
        if self.discarding:
            return None
        self.discarding = True
        return TOO_LONG


def parse_command(raw: bytes) -> tuple[str, str]:
    """("RETR", "a b.txt") from b"retr a b.txt"; UnicodeDecodeError for bad UTF-8."""
    verb, _, argument = raw.decode("utf-8").partition(" ")
    return verb.upper(), argument


# --- addresses ---------------------------------------------------------------------


@lru_cache(maxsize=ADDRESSES_KEPT)
def ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def parse_port(argument: str) -> tuple[str, int] | None:
    """("10,0,0,1,4,1" -> ("10.0.0.1", 1025)); None when malformed."""
    fields = argument.split(",")
    if len(fields) != 6 or not all(f.isascii() and f.isdigit() and len(f) <= 3 for f in fields):
        return None
    numbers = [int(f) for f in fields]
    if any(n > 255 for n in numbers):
        return None
    return ".".join(fields[:4]), numbers[4] * 256 + numbers[5]


def parse_eprt(argument: str) -> tuple[str, str, int] | None:
    """("|2|::1|5282|" -> ("2", "::1", 5282)); None when malformed (RFC 2428)."""
    if len(argument) < 2 or not 33 <= ord(argument[0]) <= 126:
        return None
    fields = argument.split(argument[0])
    if len(fields) != 5 or fields[0] or fields[4]:
        return None
    protocol, host, port = fields[1:4]
    if not (port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535):
        return None
    return protocol, host, int(port)
