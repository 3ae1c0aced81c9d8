"""TLS as a layer between a connection's socket and its protocol, in the loop.

Like asyncio's sslproto.py, the layer is an `ssl.SSLObject` over two
`ssl.MemoryBIO`s: the transport reads the socket and feeds the ciphertext in
(`TlsLayer.feed`, which returns the plaintext), and `TlsOutbox` turns the
plaintext waiting in the outbox into records, a bounded chunk at a time, as the
socket takes them. Nothing above the transport knows whether its bytes were
encrypted: the limits, the water marks and the byte counts are the plaintext's.
Nothing blocks: a handshake goes on as its records arrive, and a stalled one is
timed out by the connection's own timers (the join timeout, --data-timeout).

A file slice cannot go through `os.sendfile` once encrypted: `TlsOutbox` reads
it with `pread`, at most ENCRYPT_BYTES at a time, and encrypts the next ones
only once the socket has taken every record made before, so memory stays
bounded whatever is queued. A quarter MiB in one call (sixteen records, one
`pread`, one read of the memory BIO, sent without another copy) instead of one
record at a time: a tenth of the system calls, and about a quarter less CPU
in the outbox itself (what remains is mostly copying and AES). On a
connection whose pacer limits what the kernel may hold
(pacing.py, `Outbox.file_budget`) no more is encrypted ahead than that limit
allows, so a chat line still waits behind little.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import ssl

from .outbox import Outbox

ENCRYPT_BYTES = 256 * 1024
"""Plaintext encrypted at once (sixteen records), once the records made before have gone."""

RECORD_BYTES = 16 * 1024
"""A TLS record's plaintext at most: what a paced connection still gets encrypted when its
budget is smaller but not spent."""

RECORD_READ_BYTES = 64 * 1024
HANDSHAKE_RECORD = 0x16
"""The first byte of a TLS ClientHello; a clear client starts with a letter."""


class TlsFailed(OSError):
    """The peer's TLS went wrong (a bad handshake, a session not resumed): that connection goes."""


class NotTls(TlsFailed):
    """The peer spoke in clear to a port that speaks TLS."""


class EncryptedKey(OSError):
    """The key asks for a passphrase: the loop cannot stop to ask one."""


def _no_passphrase() -> bytes:
    raise EncryptedKey("the private key is encrypted")


class ServerCredentials:
    """The certificate chain and key, read once at start and kept in memory.

    The lab door shares one context (`context`). The FTP door needs a context per
    control connection (`new_context`): a data connection is accepted only when it
    resumes its control connection's session, and TLS 1.3 session ids do not tie the
    two together, so the tie is the session cache, which is the context's own. Those
    contexts load the PEM kept in memory through an anonymous memory file (memfd), not
    the files: a certificate replaced, removed or unreadable after the start changes
    nothing, and an encrypted key is refused at the start instead of asking for its
    passphrase on the terminal while the loop waits."""

    def __init__(self, cert_file: str, key_file: str):
        """Raises OSError, ssl.SSLError or EncryptedKey when they cannot be loaded."""
        self._files = (cert_file, key_file)
        with open(cert_file, "rb") as cert, open(key_file, "rb") as key:
            chain = cert.read()
            self._pem = chain + b"\n" + key.read()
        self.context = self.new_context()
        self.fingerprint = _first_fingerprint(chain)
        """The server certificate's SHA-256, for the teacher to give the students."""

    def new_context(self) -> ssl.SSLContext:
        """A server context of its own (TLS 1.2 at least), with its own session cache."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if not MEMORY_FILES:  # not Linux: the files are read again
            context.load_cert_chain(*self._files, password=_no_passphrase)
            return context
        descriptor = os.memfd_create("ftplab-tls", os.MFD_CLOEXEC)
        try:
            with os.fdopen(descriptor, "wb", closefd=False) as memory:
                memory.write(self._pem)
            context.load_cert_chain(f"/proc/self/fd/{descriptor}", password=_no_passphrase)
        finally:
            os.close(descriptor)
        return context


def _first_fingerprint(chain: bytes) -> str:
    """The SHA-256 of the first certificate of a PEM chain (the server's own)."""
    end = b"-----END CERTIFICATE-----"
    first = chain[: chain.index(end) + len(end)].decode("ascii", errors="replace")
    return fingerprint(ssl.PEM_cert_to_DER_cert(first[first.index("-----BEGIN CERTIFICATE-----") :]))


MEMORY_FILES = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")


def fingerprint(der_certificate: bytes) -> str:
    """A certificate's SHA-256 fingerprint as 'AB:CD:...', the way openssl shows it."""
    digest = hashlib.sha256(der_certificate).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class TlsLayer:
    """One connection's TLS, server side, over memory: ciphertext in, plaintext out."""

    def __init__(self, context: ssl.SSLContext, *, require_reuse: bool = False):
        self._incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._incoming, self.outgoing, server_side=True)
        self._require_reuse = require_reuse
        """An FTP data connection: it must resume its control connection's session."""
        self.established = False
        self.peer_closed = False
        """The peer sent its close_notify: no more plaintext will come."""
        self._seen_bytes = False

    def feed(self, ciphertext: bytes) -> bytes:
        """Bytes read from the socket (b"": its EOF); the plaintext they complete.
        Raises TlsFailed (NotTls for a clear client) when the peer's TLS fails."""
        if not self._seen_bytes and ciphertext:
            self._seen_bytes = True
            if ciphertext[0] != HANDSHAKE_RECORD:
                raise NotTls("not TLS")
        if ciphertext:
            self._incoming.write(ciphertext)
        else:
            self._incoming.write_eof()
        if not self.established and not self._handshake():
            return b""
        return self._read_plaintext()

    def _handshake(self) -> bool:
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except (ssl.SSLError, ValueError) as error:
            raise TlsFailed(f"TLS handshake failed: {_reason(error)}") from None
        if self._require_reuse and not self._ssl.session_reused:
            raise TlsFailed("TLS session not resumed from the control connection")
        self.established = True
        return True

    def _read_plaintext(self) -> bytes:
        chunks = []
        while not self.peer_closed:
            try:
                chunk = self._ssl.read(RECORD_READ_BYTES)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                chunk = b""
            except ssl.SSLError as error:
                raise TlsFailed(f"TLS failed: {_reason(error)}") from None
            self.peer_closed = not chunk  # b"": the peer's close_notify
            chunks.append(chunk)
        return b"".join(chunks)

    def encrypt(self, plaintext: bytes) -> None:
        """Turn plaintext into records in `outgoing` (only once established)."""
        self._ssl.write(plaintext)

    def close_notify(self) -> None:
        """Our side's close_notify into `outgoing` (nothing if the handshake never ended)."""
        if not self.established:
            return
        with contextlib.suppress(ssl.SSLError):  # SSLWantReadError: the peer's is yet to come
            self._ssl.unwrap()


def _reason(error: Exception) -> str:
    return getattr(error, "reason", None) or str(error)


class TlsOutbox(Outbox):
    """An outbox whose plaintext goes out as TLS records; `wire` holds records (and any
    clear bytes queued before TLS began) not yet taken by the socket."""

    def __init__(self, layer: TlsLayer, clear: bytes = b""):
        super().__init__()
        self.layer = layer
        self.wire = memoryview(clear)
        self._closing = False
        self._notified = False

    def __bool__(self) -> bool:
        return bool(self.wire) or bool(self.layer.outgoing.pending) or self._owes_plaintext()

    @property
    def sendable(self) -> bool:
        """Records or clear bytes to send; plaintext only once the handshake has ended. Before,
        only the peer's records move it on: a writable socket would wake the loop for
        nothing, again and again, while a client stalls its handshake."""
        wire = bool(self.wire) or bool(self.layer.outgoing.pending)
        return wire or (self.layer.established and self._owes_plaintext())

    def _owes_plaintext(self) -> bool:
        """Plaintext to encrypt, or the close_notify (which waits for the handshake:
        the closing deadline bounds that wait)."""
        return super().__bool__() or (self._closing and not self._notified)

    def add_clear(self, data: bytes) -> None:
        """Bytes that go in clear instead of TLS (a refusal to a clear client): no close_notify."""
        self.wire = memoryview(bytes(self.wire) + data)
        self._notified = True

    def finish(self) -> None:
        """The connection is closing: after the last plaintext, a close_notify."""
        self._closing = True

    def flush(self, sock: socket.socket) -> int:
        """Send the records waiting as the socket takes them, encrypting more (bounded) once
        they have all gone; return how many bytes went on the wire. Raises like `Outbox.flush`."""
        sent = 0
        while True:
            if not self.wire:
                self._encrypt_some()
                self.wire = memoryview(self.layer.outgoing.read())
                if not self.wire:
                    return sent
            try:
                count = sock.send(self.wire)
            except (BlockingIOError, InterruptedError):
                return sent
            self.wire = self.wire[count:]
            sent += count
            if self.wire:
                return sent

    def _encrypt_some(self) -> None:
        if not self.layer.established:
            return
        limit = self._encrypt_limit()
        while (room := limit - self.layer.outgoing.pending) > 0 and super().__bool__():
            self.layer.encrypt(self.take(room))
        if self._closing and not self._notified and not super().__bool__():
            # after the last plaintext: the peer reads everything, then our close_notify
            self._notified = True
            self.layer.close_notify()

    def _encrypt_limit(self) -> int:
        """Plaintext to encrypt now: ENCRYPT_BYTES, or on a paced connection what its budget
        (`Outbox.file_budget`, pacing.py) allows, at least one record while it is not spent."""
        budget = self.file_budget()
        if budget is None:
            return ENCRYPT_BYTES
        return min(ENCRYPT_BYTES, max(budget, RECORD_BYTES)) if budget > 0 else 0
