"""The passive ports: handed out in turn, refused only while every one is listening,
reusable at once after a data connection on them ended (TIME-WAIT), and what they accept
resends a lost packet soon."""

from __future__ import annotations

import socket

import pytest

from ftplab.passive import PassivePorts, parse_port_range
from support.ports import two_free_ports
from support.tcp import KERNEL_SETS_RETRANSMIT_FLOOR, has_lowered_retransmit_floor

HOST = "127.0.0.1"


def test_ports_are_handed_out_in_turn_and_refused_only_while_all_listen():
    low = two_free_ports()
    ports = PassivePorts(range(low, low + 2))
    first, first_port = ports.listen(HOST, socket.AF_INET, "test")
    second, second_port = ports.listen(HOST, socket.AF_INET, "test")
    assert {first_port, second_port} == {low, low + 1}
    assert ports.listen(HOST, socket.AF_INET, "test") is None, "both are listening"
    first.close()
    again = ports.listen(HOST, socket.AF_INET, "test")
    assert again is not None
    for sock in (second, again[0]):
        sock.close()


def test_a_port_whose_connection_the_server_closed_first_serves_again_at_once():
    low = two_free_ports()
    ports = PassivePorts(range(low, low + 1))
    for _ in range(3):
        listening = ports.listen(HOST, socket.AF_INET, "test")
        assert listening is not None, "the port in TIME-WAIT is taken again"
        listener = listening[0]
        listener.setblocking(True)
        client = socket.create_connection((HOST, low), timeout=5)
        served, _ = listener.accept()
        listener.close()
        served.close()  # the server closes first: its side goes to TIME-WAIT
        assert client.recv(1) == b""
        client.close()


def test_no_range_means_any_port():
    listener, port = PassivePorts(None).listen(HOST, socket.AF_INET, "test")
    assert port > 0 and port == listener.getsockname()[1]
    listener.close()


@pytest.mark.skipif(not KERNEL_SETS_RETRANSMIT_FLOOR, reason="Linux 6.15+: TCP_RTO_MIN_US")
def test_a_data_connection_resends_a_lost_packet_as_soon_as_the_control_connection():
    listener, port = PassivePorts(None).listen(HOST, socket.AF_INET, "test")
    with listener, socket.create_connection((HOST, port), timeout=5):
        listener.setblocking(True)
        data, _ = listener.accept()
        with data:
            assert has_lowered_retransmit_floor(data)


def test_a_listener_of_the_range_costs_no_call_to_learn_its_port_or_to_stop_blocking(monkeypatch):
    """A PASV at every session: the port it was bound to is its port (no getsockname), and the
    socket is created non-blocking (no second call to make it so)."""
    low = two_free_ports()
    asked = []
    monkeypatch.setattr(socket.socket, "getsockname", lambda sock: asked.append("getsockname"))
    monkeypatch.setattr(socket.socket, "setblocking", lambda sock, flag: asked.append("setblocking"))
    listener, port = PassivePorts(range(low, low + 1)).listen(HOST, socket.AF_INET, "test")
    monkeypatch.undo()
    try:
        assert port == low == listener.getsockname()[1]
        assert listener.gettimeout() == 0.0, "non-blocking"
        assert asked == []
    finally:
        listener.close()


def test_port_ranges():
    assert parse_port_range("30000-30009") == range(30000, 30010)
    assert parse_port_range("30000") == range(30000, 30001)


@pytest.mark.parametrize("bad", ["80-90", "30010-30000", "x"])
def test_bad_port_ranges_are_refused(bad):
    with pytest.raises(ValueError):
        parse_port_range(bad)
