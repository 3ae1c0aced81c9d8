"""Socket options for noticing a peer that vanished without closing.

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
import socket

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


def address_key(ip: str) -> str:
    """The address as per-address limits count it: an IPv4-mapped IPv6 address is its IPv4."""
    return ip.removeprefix("::ffff:") if ip.startswith("::ffff:") and "." in ip else ip
