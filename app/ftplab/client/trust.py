"""Whom the client trusts when it speaks TLS, like ssh or a browser.

- `--fingerprint`: that certificate (its SHA-256) and no other.
- `--ca FILE`: certificates that CA signed, for this host name; nothing else.
- `--tls` alone: the system's CAs; a server they cannot vouch for shows its
  fingerprint, and at a terminal the user may trust it (trust on first use). The
  answer is remembered in the user's known_hosts (known_hosts.py) and for the rest
  of this run (a reconnect does not ask again, even where the file could not be
  written); next time the same certificate connects silently, and another one is
  refused loudly, saying how to forget the old one. Without a terminal nobody
  can be asked: `--ca` or `--fingerprint` is then needed.

Handshakes are done here, blocking within --timeout, before the client's loop
starts or when it comes back; the loop then owns the TLS socket."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

from ..messages import Messages
from ..tls import fingerprint
from .known_hosts import KnownHosts, server_key

YES = frozenset({"s", "si", "sí", "y", "yes"})
NO = frozenset({"n", "no", ""})
"""Answers to the trust question ("" is Ctrl-D or the end of input: no)."""


class Untrusted(OSError):
    """The server could not be trusted (or did not speak TLS): `text` is the line to show."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class Trust:
    """The client's trust decisions, for its first connection and every reconnect.

    `ask(prompt)` reads the user's answer at a terminal (None: no terminal, never ask);
    `show(text)` puts a line on the screen."""

    def __init__(
        self,
        host: str,
        port: int,
        say: Messages,
        *,
        ca_file: str = "",
        pinned: str = "",
        known: KnownHosts | None = None,
        ask: Callable[[str], str] | None = None,
        show: Callable[[str], None] = print,
    ):
        self._host, self._port, self._say = host, port, say
        self._ca_file, self._pinned = ca_file, pinned
        self._known = known or KnownHosts()
        self._ask, self._show = ask, show
        self._accepted: str | None = None
        """The fingerprint the user trusted during this run."""

    def secure(self, sock: socket.socket, connect_again: Callable[[], socket.socket]) -> ssl.SSLSocket:
        """`sock` (connected, blocking with a timeout) in TLS, trusted; `connect_again()` makes
        a new connection when the first handshake could not verify the server. Raises
        Untrusted, saying why, when the server is not trusted (its sockets are closed then)."""
        if self._pinned:
            return self._pinned_handshake(sock, self._pinned, self._say_changed_pin)
        if self._ca_file:
            return self._verified_handshake(sock)
        remembered = self._remembered()
        if remembered is not None:
            return self._pinned_handshake(sock, remembered, self._say_changed_known)
        try:
            return self._verified_handshake(sock, first_use=True)
        except _NotVerified as failure:
            return self._first_use(connect_again(), failure.reason)

    # --- handshakes ------------------------------------------------------------------

    def _verified_handshake(self, sock: socket.socket, *, first_use: bool = False) -> ssl.SSLSocket:
        """Verified against --ca or the system's CAs and the host name. A server that cannot be
        verified is refused with its fingerprint, or raises _NotVerified when `first_use` may trust it."""
        try:
            context = ssl.create_default_context(cafile=self._ca_file or None)
        except OSError as error:
            sock.close()
            raise Untrusted(
                self._say("tls_bad_ca", path=self._ca_file, reason=error.strerror or error)
            ) from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        peer = sock.getpeername()[:2]
        try:
            return context.wrap_socket(sock, server_hostname=self._host)
        except ssl.SSLCertVerificationError as error:
            sock.close()
            reason = error.verify_message or error.reason
            if first_use:
                raise _NotVerified(reason) from None
            shown = _fingerprint_of(peer)
            raise Untrusted(
                self._say("tls_untrusted", host=self._host, reason=reason, fingerprint=shown)
            ) from None
        except (ssl.SSLError, OSError) as error:
            sock.close()
            raise self._handshake_failed(error) from None

    def _unverified_handshake(self, sock: socket.socket) -> tuple[ssl.SSLSocket, str]:
        """TLS with no verification (the caller checks the fingerprint), and that fingerprint."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            secured = context.wrap_socket(sock, server_hostname=self._host)
        except (ssl.SSLError, OSError) as error:
            sock.close()
            raise self._handshake_failed(error) from None
        return secured, fingerprint(secured.getpeercert(binary_form=True) or b"")

    def _pinned_handshake(self, sock: socket.socket, expected: str, changed) -> ssl.SSLSocket:
        secured, seen = self._unverified_handshake(sock)
        if not _same(expected, seen):
            secured.close()
            raise Untrusted(changed(expected, seen))
        return secured

    def _handshake_failed(self, error: Exception) -> Untrusted:
        return Untrusted(self._say("tls_handshake_failed", reason=getattr(error, "reason", None) or error))

    # --- trust on first use ------------------------------------------------------------

    def _remembered(self) -> str | None:
        if self._accepted is not None:
            return self._accepted
        try:
            known = self._known.lookup(self._host, self._port)
        except OSError as error:
            self._show(self._say("tls_known_hosts_unreadable", path=self._known.path, reason=error))
            return None
        return known.fingerprint if known is not None else None

    def _first_use(self, sock: socket.socket, reason: str) -> ssl.SSLSocket:
        """A server the CAs cannot vouch for: its fingerprint shown, and trusted only if the user says so."""
        secured, seen = self._unverified_handshake(sock)
        where = server_key(self._host, self._port)
        if self._ask is None:
            secured.close()
            raise Untrusted(self._say("tls_untrusted_piped", server=where, reason=reason, fingerprint=seen))
        self._show(self._say("tls_first_use", server=where, reason=reason, fingerprint=seen))
        if not self._user_says_yes():
            secured.close()
            raise Untrusted(self._say("tls_not_trusted", server=where))
        self._accepted = seen
        try:
            self._known.remember(self._host, self._port, seen)
        except OSError as error:
            self._show(self._say("tls_trust_not_stored", path=self._known.path, reason=error))
        else:
            self._show(self._say("tls_trust_stored", path=self._known.path))
        return secured

    def _user_says_yes(self) -> bool:
        while True:
            try:
                answer = self._ask(self._say("tls_trust_question")).strip().lower()
            except KeyboardInterrupt:
                return False
            if answer in YES or answer in NO:
                return answer in YES
            self._show(self._say("tls_yes_or_no"))

    # --- refusals --------------------------------------------------------------------

    def _say_changed_pin(self, expected: str, seen: str) -> str:
        return self._say("tls_fingerprint_changed", expected=expected, seen=seen)

    def _say_changed_known(self, expected: str, seen: str) -> str:
        """Trusted on first use, now another certificate: which line to delete to trust again."""
        try:
            known = self._known.lookup(self._host, self._port)
        except OSError:
            known = None
        if known is None or not _same(known.fingerprint, expected):  # trusted in memory only
            return self._say_changed_pin(expected, seen)
        where, path = server_key(self._host, self._port), self._known.path
        return self._say(
            "tls_known_host_changed", server=where, expected=expected, seen=seen, path=path, line=known.line
        )


class _NotVerified(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _same(expected: str, seen: str) -> bool:
    return expected.replace(":", "").lower() == seen.replace(":", "").lower()


def _fingerprint_of(peer: tuple) -> str:
    """The fingerprint of the certificate at `peer`, fetched without verifying it (only to show it)."""
    try:
        pem = ssl.get_server_certificate(peer, timeout=5)
        return fingerprint(ssl.PEM_cert_to_DER_cert(pem))
    except (OSError, ValueError):
        return "?"
