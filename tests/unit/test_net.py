"""net.address_key: which addresses a per-address limit counts as one machine; net.resend_losses_soon:
the retransmission floor, on a socket and on what a listener accepts."""

from __future__ import annotations

import socket

import pytest

from ftplab.net import address_key, resend_losses_soon
from support.tcp import (
    KERNEL_SETS_RETRANSMIT_FLOOR,
    LINUX_RETRANSMIT_FLOOR_US,
    has_lowered_retransmit_floor,
    retransmit_floor_us,
)


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::FFFF:7f00:1", "127.0.0.1"),
        ("::ffff:192.168.1.20", "192.168.1.20"),
        ("192.168.1.20", "192.168.1.20"),
        ("2001:db8::5", "2001:db8::/64"),
        ("2001:db8:0:0:1234:5678:9abc:def0", "2001:db8::/64"),
        ("2001:db8:0:1::5", "2001:db8:0:1::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::1", "::/64"),
        ("", ""),
        ("not an address", "not an address"),
    ],
)
def test_address_key(ip, key):
    assert address_key(ip) == key


def test_a_mapped_ipv4_address_and_the_plain_one_are_one_machine():
    assert address_key("::ffff:10.0.0.7") == address_key("10.0.0.7")
    assert address_key("::ffff:10.0.0.7") != address_key("10.0.0.8")


def test_two_addresses_of_one_ipv6_64_are_one_machine_and_another_64_is_not():
    assert address_key("2001:db8:1:2::a") == address_key("2001:db8:1:2:ffff::b")
    assert address_key("2001:db8:1:2::a") != address_key("2001:db8:1:3::a")


@pytest.mark.skipif(not KERNEL_SETS_RETRANSMIT_FLOOR, reason="Linux 6.15+: TCP_RTO_MIN_US")
def test_a_listeners_lowered_retransmission_floor_reaches_what_it_accepts_and_no_other_socket():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        resend_losses_soon(listener)
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            with accepted:
                assert has_lowered_retransmit_floor(listener)
                assert has_lowered_retransmit_floor(accepted)
                assert retransmit_floor_us(client) == LINUX_RETRANSMIT_FLOOR_US


def test_a_socket_that_is_not_tcp_is_left_as_it_is():
    one, other = socket.socketpair()
    with one, other:
        resend_losses_soon(one)  # no error: a Unix socket has no retransmissions
