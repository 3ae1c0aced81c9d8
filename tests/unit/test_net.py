"""net.address_key: which addresses a per-address limit counts as one machine."""

from __future__ import annotations

import pytest

from ftplab.net import address_key


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
