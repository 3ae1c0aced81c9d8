"""The passive ports: handed out in turn, refused only while every one is listening,
and reusable at once after a data connection on them ended (TIME-WAIT)."""

from __future__ import annotations

import socket

import pytest

from ftplab.passive import PassivePorts, parse_port_range
from support.ports import two_free_ports

HOST = "127.0.0.1"


def test_ports_are_handed_out_in_turn_and_refused_only_while_all_listen():
    low = two_free_ports()
    ports = PassivePorts(range(low, low + 2))
    first = ports.listen(HOST, socket.AF_INET, "test")
    second = ports.listen(HOST, socket.AF_INET, "test")
    assert {first.getsockname()[1], second.getsockname()[1]} == {low, low + 1}
    assert ports.listen(HOST, socket.AF_INET, "test") is None, "both are listening"
    first.close()
    again = ports.listen(HOST, socket.AF_INET, "test")
    assert again is not None
    for sock in (second, again):
        sock.close()


def test_a_port_whose_connection_the_server_closed_first_serves_again_at_once():
    low = two_free_ports()
    ports = PassivePorts(range(low, low + 1))
    for _ in range(3):
        listener = ports.listen(HOST, socket.AF_INET, "test")
        assert listener is not None, "the port in TIME-WAIT is taken again"
        listener.setblocking(True)
        client = socket.create_connection((HOST, low), timeout=5)
        served, _ = listener.accept()
        listener.close()
        served.close()  # the server closes first: its side goes to TIME-WAIT
        assert client.recv(1) == b""
        client.close()


def test_no_range_means_any_port():
    listener = PassivePorts(None).listen(HOST, socket.AF_INET, "test")
    assert listener.getsockname()[1] > 0
    listener.close()


def test_port_ranges():
    assert parse_port_range("30000-30009") == range(30000, 30010)
    assert parse_port_range("30000") == range(30000, 30001)


@pytest.mark.parametrize("bad", ["80-90", "30010-30000", "x"])
def test_bad_port_ranges_are_refused(bad):
    with pytest.raises(ValueError):
        parse_port_range(bad)
