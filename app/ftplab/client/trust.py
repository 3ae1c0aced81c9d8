"""Whom the client trusts when it speaks TLS: the system's CAs, a CA file
(`--ca`), or one certificate pinned by its SHA-256 (`--fingerprint`), like ssh's
known host keys. The handshake is done here, blocking within --timeout, before
the client's loop starts; a server that cannot be verified is refused with its
fingerprint shown, so the user can check it and pin it. (Trust on first use,
with fingerprints stored in the user's config, is a later step.)"""

from __future__ import annotations

import socket
import ssl

from ..messages import Messages
from ..tls import fingerprint, same_fingerprint


class Untrusted(OSError):
    """The server could not be trusted (or did not speak TLS): `text` is the line to show."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def client_context(ca_file: str, pinned: str) -> ssl.SSLContext:
    """Verification against `ca_file` (or the system's CAs); none when a fingerprint is pinned,
    which `secure` checks itself. Raises OSError when the CA file cannot be read."""
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if pinned:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def secure(sock: socket.socket, host: str, ca_file: str, pinned: str, say: Messages) -> ssl.SSLSocket:
    """`sock` (connected, blocking with a timeout) wrapped in TLS and verified. Raises
    Untrusted, saying why, when it cannot be (the socket is closed then)."""
    try:
        context = client_context(ca_file, pinned)
    except OSError as error:
        sock.close()
        raise Untrusted(say("tls_bad_ca", path=ca_file, reason=error.strerror or error)) from None
    peer = sock.getpeername()[:2]
    try:
        secured = context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as error:
        sock.close()
        raise Untrusted(_untrusted(host, peer, error, say)) from None
    except (ssl.SSLError, OSError) as error:
        sock.close()
        reason = getattr(error, "reason", None) or error
        raise Untrusted(say("tls_handshake_failed", reason=reason)) from None
    if pinned:
        certificate = secured.getpeercert(binary_form=True) or b""
        if not same_fingerprint(pinned, certificate):
            secured.close()
            raise Untrusted(say("tls_fingerprint_changed", expected=pinned, seen=fingerprint(certificate)))
    return secured


def _untrusted(host: str, peer: tuple, error: ssl.SSLCertVerificationError, say: Messages) -> str:
    """The refusal, with the certificate's fingerprint, fetched without verifying it (only to show it)."""
    try:
        pem = ssl.get_server_certificate(peer, timeout=5)
        shown = fingerprint(ssl.PEM_cert_to_DER_cert(pem))
    except (OSError, ValueError):
        shown = "?"
    return say("tls_untrusted", host=host, reason=error.verify_message or error.reason, fingerprint=shown)
