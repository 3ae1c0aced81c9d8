"""The FTP door's options refused at start with a clear message (issue 17, item 7):
before, `--masquerade-address lab.example.org` was accepted and every PASV failed."""

from __future__ import annotations

import pytest

from ftplab.cli import parse_server_args


def refusal(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as stopped:
        parse_server_args(["--lang", "en", *argv])
    assert stopped.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_an_unresolvable_masquerade_name_stops_the_server(capsys):
    error = refusal(capsys, "--ftp-port", "2100", "--masquerade-address", "lab.invalid")
    assert error.startswith("ftplab-server: error: --masquerade-address lab.invalid: no IPv4 address found")


def test_a_masquerade_name_is_resolved_at_start():
    config = parse_server_args(["--ftp-port", "2100", "--masquerade-address", "localhost"])
    assert config.masquerade_address == "127.0.0.1"


def test_without_the_ftp_door_the_masquerade_address_is_not_resolved():
    config = parse_server_args(["--masquerade-address", "lab.invalid"])
    assert config.masquerade_address == "lab.invalid"


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ("abc", "expected a range such as 30000-30009"),
        ("30009-30000", "the first no higher than the last"),
        ("2100-2109", "holds port 2100, which the server itself uses"),
    ],
)
def test_bad_passive_ports_stop_the_server(capsys, ports, message):
    error = refusal(capsys, "--ftp-port", "2100", "--passive-ports", ports)
    assert message in error


def test_the_implicit_ftps_port_needs_a_certificate(capsys):
    error = refusal(capsys, "--ftps-port", "9900")
    assert "--require-tls and --ftps-port need them" in error
    config = parse_server_args(["--ftps-port", "9900", "--tls-cert", "c.pem", "--tls-key", "k.pem"])
    assert config.ftps_port == 9900 and config.ftp_port is None
    assert parse_server_args([]).ftps_port is None, "off by default"


def test_passive_ports_may_not_hold_the_implicit_ftps_port(capsys):
    tls = ["--tls-cert", "c.pem", "--tls-key", "k.pem"]
    error = refusal(capsys, *tls, "--ftps-port", "30005", "--passive-ports", "30000-30009")
    assert "holds port 30005, which the server itself uses" in error
