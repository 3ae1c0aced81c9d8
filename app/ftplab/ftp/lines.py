"""Command lines from bytes, and the addresses in PORT and EPRT: parsing only."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

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
    """Splits bytes into command lines; keeps at most MAX_COMMAND_BYTES.

    A line over the limit is dropped as it arrives and yields TOO_LONG once."""

    partial: bytearray = field(default_factory=bytearray)
    discarding: bool = False

    def feed(self, data: bytes) -> list:
        lines: list = []
        position = 0
        while position < len(data):
            newline = data.find(b"\n", position)
            end = len(data) if newline < 0 else newline
            if self.discarding:
                self.discarding = newline < 0
            elif len(self.partial) + end - position >= MAX_COMMAND_BYTES:
                self.partial.clear()
                self.discarding = newline < 0
                lines.append(TOO_LONG)
            else:
                self.partial += data[position:end]
                if newline >= 0:
                    lines.append(_strip_telnet(bytes(self.partial)).removesuffix(b"\r"))
                    self.partial.clear()
            position = len(data) if newline < 0 else newline + 1
        return lines


def parse_command(raw: bytes) -> tuple[str, str]:
    """("RETR", "a b.txt") from b"retr a b.txt"; UnicodeDecodeError for bad UTF-8."""
    verb, _, argument = raw.decode("utf-8").partition(" ")
    return verb.upper(), argument


# --- addresses ---------------------------------------------------------------------


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
