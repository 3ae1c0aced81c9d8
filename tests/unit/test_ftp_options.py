"""The FTP door's options checked at start (issue 17, item 7): --masquerade-address
resolved to IPv4 once or refused with a clear message, --passive-ports a sane range."""

from __future__ import annotations

import socket

import pytest

from ftplab.ftp.options import OptionError, masquerade_address, passive_ports
from ftplab.messages import Messages

SAY = Messages("en")


def resolver(answers: dict[str, str]):
    """A getaddrinfo for these names only (no DNS in unit tests)."""

    def resolve(name, _port, family, _kind):
        assert family == socket.AF_INET
        if name not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[name], 0))]

    return resolve


def test_an_ipv4_address_is_kept():
    assert masquerade_address("203.0.113.7", SAY, resolver({})) == "203.0.113.7"


def test_a_name_is_resolved_once_at_start():
    assert (
        masquerade_address("lab.example.org", SAY, resolver({"lab.example.org": "192.0.2.10"}))
        == "192.0.2.10"
    )


def test_a_name_that_does_not_resolve_is_refused_clearly():
    with pytest.raises(OptionError) as refused:
        masquerade_address("lab.example.org", SAY, resolver({}))
    assert str(refused.value) == (
        "--masquerade-address lab.example.org: no IPv4 address found ([Errno -2] Name or service not known); "
        "give an IPv4 address or a name this machine can resolve"
    )


@pytest.mark.parametrize("text", ["::1", "2001:db8::5"])
def test_ipv6_is_refused_pasv_gives_ipv4(text):
    with pytest.raises(OptionError, match="PASV can only give an IPv4 address"):
        masquerade_address(text, SAY, resolver({}))


@pytest.mark.parametrize("text", ["0.0.0.0", "224.0.0.1"])
def test_addresses_nobody_can_connect_to_are_refused(text):
    with pytest.raises(OptionError, match="not an address anyone can connect to"):
        masquerade_address(text, SAY, resolver({}))


def test_the_real_resolver_refuses_a_reserved_name():
    with pytest.raises(OptionError, match="no IPv4 address found"):
        masquerade_address("lab.invalid", SAY)


def test_spanish_messages():
    with pytest.raises(OptionError, match="no se encuentra su dirección IPv4"):
        masquerade_address("lab.example.org", Messages("es"), resolver({}))


@pytest.mark.parametrize(
    ("text", "expected"), [("30000-30009", range(30000, 30010)), ("2121", range(2121, 2122))]
)
def test_passive_ranges(text, expected):
    assert passive_ports(text, SAY) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "expected a range such as 30000-30009"),
        ("30000-", "expected a range such as 30000-30009"),
        ("-5", "expected a range such as 30000-30009"),
        ("30000-30009-30010", "expected a range such as 30000-30009"),
        ("80-90", "ports go from 1024 to 65535"),
        ("30009-30000", "the first no higher than the last"),
        ("60000-70000", "ports go from 1024 to 65535"),
    ],
)
def test_bad_passive_ranges_are_refused(text, message):
    with pytest.raises(OptionError, match=message):
        passive_ports(text, SAY)


def test_a_range_holding_the_servers_own_port_is_refused():
    with pytest.raises(OptionError, match="holds port 2100, which the server itself uses"):
        passive_ports("2100-2110", SAY, own_ports=(2121, 2100))
    assert passive_ports("30000-30009", SAY, own_ports=(2121, None)) == range(30000, 30010)
