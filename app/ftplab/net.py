"""Socket options for noticing a peer that vanished without closing, and which
addresses count as one client machine.

A cable pulled, a laptop closed or a container cut off its network sends no
FIN: without these, an idle client would wait for the server forever, and a
server with no idle timeout would keep the client's slot forever. TCP
keepalive probes an idle connection; TCP_USER_TIMEOUT ends a connection whose
data stays unacknowledged (on the client after 12 s; on the server after
--data-timeout, which so covers data waiting in the kernel as well as in our
queue). Linux only; elsewhere the system's retransmission limits (minutes)
apply. With TCP_USER_TIMEOUT set, Linux also uses it, not the probe count, to
end a connection whose keepalive probes go unanswered (tcp(7)).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from functools import lru_cache

IPV6_HOST_PREFIX = 64
"""An IPv6 host usually picks any address in its /64 (privacy addresses change
often), so a per-address limit counts the whole /64 as one machine."""

ADDRESS_KEYS_KEPT = 4096
"""Client addresses whose key is remembered (every connection asks for its address's)."""

KEEPALIVE_IDLE_SECONDS = 5
KEEPALIVE_INTERVAL_SECONDS = 2
KEEPALIVE_PROBES = 3
CLIENT_USER_TIMEOUT_MS = 12_000
"""Also the limit for keepalive failures: with TCP_USER_TIMEOUT set, Linux closes a
keepalive-probed connection by this time, not by the probe count (tcp(7))."""

_IDLE_OPTION = getattr(
    socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None)
)  # macOS calls it KEEPALIVE


def _set(sock: socket.socket, option: int | None, value: int) -> None:
    if option is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def watch_for_dead_peer(sock: socket.socket, *, user_timeout_ms: int = 0) -> None:
    """A dead peer is noticed after about 11 s of silence (5 s idle, then 3 probes 2 s apart)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    _set(sock, _IDLE_OPTION, KEEPALIVE_IDLE_SECONDS)
    _set(sock, getattr(socket, "TCP_KEEPINTVL", None), KEEPALIVE_INTERVAL_SECONDS)
    _set(sock, getattr(socket, "TCP_KEEPCNT", None), KEEPALIVE_PROBES)
    if user_timeout_ms:
        _set(sock, getattr(socket, "TCP_USER_TIMEOUT", None), user_timeout_ms)


@lru_cache(maxsize=ADDRESS_KEYS_KEPT)
def address_key(ip: str) -> str:
    """What a per-address limit counts as one machine: an IPv4 address as it
    is, also when it arrives IPv4-mapped on a dual-stack socket
    (`::ffff:127.0.0.1` is 127.0.0.1), and an IPv6 address by its /64
    (`2001:db8::5` is `2001:db8::/64`). Anything else (no address at all,
    a Unix socket's name) is its own key."""
    try:
        address = ipaddress.ip_address(ip.partition("%")[0])  # without a scope (`fe80::1%eth0`)
    except ValueError:
        return ip
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/{IPV6_HOST_PREFIX}", strict=False))
