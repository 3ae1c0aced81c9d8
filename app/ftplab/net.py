"""Socket options for noticing a peer that vanished without closing and for
resending a lost packet soon, and which addresses count as one client machine.

A cable pulled, a laptop closed or a container cut off its network sends no
FIN: without these, an idle client would wait for the server forever, and a
server with no idle timeout would keep the client's slot forever. TCP
keepalive probes an idle connection; TCP_USER_TIMEOUT ends a connection whose
data stays unacknowledged (on the client after 12 s; on the server after
--data-timeout, which so covers data waiting in the kernel as well as in our
queue). Linux only; elsewhere the system's retransmission limits (minutes)
apply. With TCP_USER_TIMEOUT set, Linux also uses it, not the probe count, to
end a connection whose keepalive probes go unanswered (tcp(7)).

A packet lost with nothing sent after it (the tail of what the window allowed,
or everything a full receive buffer refused) is sent again only when the
retransmission timer fires: the round trip plus its variation, but never
sooner than Linux's floor of 200 ms, however short the round trip. Everything
queued behind it waits that long, a chat line too. In a class of 30 sharing
one computer each student's kernel refused a few packets a round (its receive
buffer full: /proc/net/netstat's TCPRcvQDrop), the server's timer fired about
a hundred times, and a line's wait behind the file at the 99th percentile was
172-190 ms (tools/bench/classload.py, four runs). With a floor of
RETRANSMIT_FLOOR_US it was 67-118 ms in five runs; the chat's p99 was 148-195
ms in four of them against 238-258 (and 289 ms in one where the chatters, who
download nothing, saw 283: the machine's load, not the file). The floor stays
above the receiver's shortest delayed ACK (40 ms), so a lone packet whose ACK
is merely late (a chat line) is not sent twice; on a long path the round trip,
not the floor, sets the timer. Linux 6.15+ (TCP_RTO_MIN_US); elsewhere the
system's floor stays.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
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

RETRANSMIT_FLOOR_US = 50_000
"""The least a lost packet waits for its retransmission (Linux's default: 200 ms)."""
TCP_RTO_MIN_US = getattr(socket, "TCP_RTO_MIN_US", 45)
"""Linux's TCP_RTO_MIN_US (linux/tcp.h; Python has no name for it yet)."""

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


def resend_losses_soon(sock: socket.socket) -> None:
    """A lost packet goes again after the round trip plus RETRANSMIT_FLOOR_US, not 200 ms (see
    the module's docstring). A listener's accepted sockets inherit it."""
    if sys.platform.startswith("linux"):
        _set(sock, TCP_RTO_MIN_US, RETRANSMIT_FLOOR_US)


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
