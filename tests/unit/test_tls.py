"""tls.py: the TLS layer driven with bytes (a client SSLObject over memory on the
other side), and its outbox through a socket pair: records in bounded chunks,
file slices read with pread, close_notify last. Certificates from openssl."""

from __future__ import annotations

import os
import selectors
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from ftplab.connection import Connection
from ftplab.tls import (
    ENCRYPT_BYTES,
    RECORD_BYTES,
    EncryptedKey,
    NotTls,
    ServerCredentials,
    TlsFailed,
    TlsLayer,
    TlsOutbox,
)
from support.certificates import Certificates


@pytest.fixture
def context(certificates) -> ssl.SSLContext:
    return ServerCredentials(str(certificates.cert), str(certificates.key)).context


class Client:
    """A TLS client over memory: what it writes is in `take()`, what it is given in `give()`."""

    def __init__(self, certificates: Certificates, session: ssl.SSLSession | None = None, context=None):
        context = context or ssl.create_default_context(cafile=str(certificates.ca))
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.ssl = context.wrap_bio(
            self.incoming, self.outgoing, server_hostname="localhost", session=session
        )
        self.plaintext = bytearray()

    def take(self) -> bytes:
        return self.outgoing.read()

    def give(self, data: bytes) -> None:
        self.incoming.write(data)
        try:
            self.ssl.do_handshake()
            while chunk := self.ssl.read(65536):
                self.plaintext += chunk
        except ssl.SSLWantReadError:
            pass


def handshake(client: Client, layer: TlsLayer, *, byte_by_byte: bool = False) -> None:
    with pytest.raises(ssl.SSLWantReadError):
        client.ssl.do_handshake()
    for _ in range(4):
        data = client.take()
        pieces = [data[i : i + 1] for i in range(len(data))] if byte_by_byte else [data]
        for piece in pieces:
            assert layer.feed(piece) == b""
        client.give(layer.outgoing.read())
        if layer.established and not client.take():
            return
    assert layer.established


@pytest.mark.parametrize("byte_by_byte", [False, True])
def test_handshake_then_plaintext_both_ways(certificates, context, byte_by_byte):
    client, layer = Client(certificates), TlsLayer(context)
    handshake(client, layer, byte_by_byte=byte_by_byte)
    client.ssl.write(b"ana> hola\n")
    assert layer.feed(client.take()) == b"ana> hola\n"
    layer.encrypt(b"profe> buenas\n")
    client.give(layer.outgoing.read())
    assert bytes(client.plaintext) == b"profe> buenas\n"


def test_a_clear_client_is_told_apart(context):
    with pytest.raises(NotTls):
        TlsLayer(context).feed(b"ana> hola\n")


def test_a_bad_handshake_fails_that_layer_only(context):
    with pytest.raises(TlsFailed):
        TlsLayer(context).feed(b"\x16\x03\x01\x00\x05hello")


def test_the_peers_close_notify_ends_input_with_its_last_plaintext(certificates, context):
    client, layer = Client(certificates), TlsLayer(context)
    handshake(client, layer)
    client.ssl.write(b"last words")
    with pytest.raises(ssl.SSLWantReadError):
        client.ssl.unwrap()
    assert layer.feed(client.take()) == b"last words"
    assert layer.peer_closed


def test_a_data_layer_needs_the_session_of_its_own_context(certificates, context):
    trusting = ssl.create_default_context(cafile=str(certificates.ca))
    control_client, control = Client(certificates, context=trusting), TlsLayer(context)
    handshake(control_client, control)
    control.encrypt(b"x")  # the client reads its session tickets with this
    control_client.give(control.outgoing.read())
    session = control_client.ssl.session

    resumed_client, resumed = Client(certificates, session, trusting), TlsLayer(context, require_reuse=True)
    handshake(resumed_client, resumed)
    assert resumed.established

    other = ServerCredentials(str(certificates.cert), str(certificates.key)).context
    stolen_client, stolen = Client(certificates, session, trusting), TlsLayer(other, require_reuse=True)
    with pytest.raises(TlsFailed, match="not resumed"):
        handshake(stolen_client, stolen)


def test_the_outbox_encrypts_file_slices_in_bounded_chunks(certificates, context, tmp_path: Path):
    content = os.urandom(1_000_000)
    (tmp_path / "f").write_bytes(content)
    client, layer = Client(certificates), TlsLayer(context)
    handshake(client, layer)
    ours, theirs = socket.socketpair()
    with ours, theirs, open(tmp_path / "f", "rb") as file:
        ours.setblocking(False)
        outbox = TlsOutbox(layer)
        outbox.add(b"!FILE header\n")
        outbox.add_file_slice(file.fileno(), 0, len(content))
        outbox.finish()
        while outbox:
            outbox.flush(ours)
            assert len(outbox.wire) <= ENCRYPT_BYTES + 4096, "memory stays bounded"
            client.give(theirs.recv(1 << 20))
        ours.shutdown(socket.SHUT_WR)
        while data := theirs.recv(1 << 20):
            client.give(data)
    assert bytes(client.plaintext) == b"!FILE header\n" + content
    assert client.ssl.read(1) == b"", "our close_notify came last"


def test_a_paced_outbox_encrypts_no_more_ahead_than_its_budget(certificates, context, tmp_path: Path):
    content = os.urandom(ENCRYPT_BYTES * 2)
    (tmp_path / "f").write_bytes(content)
    client, layer = Client(certificates), TlsLayer(context)
    handshake(client, layer)
    budgets = iter([40_000, 0, 0])
    ours, theirs = socket.socketpair()
    with ours, theirs, open(tmp_path / "f", "rb") as file:
        ours.setblocking(False)
        outbox = TlsOutbox(layer)
        outbox.file_budget = lambda: next(budgets, None)
        outbox.add_file_slice(file.fileno(), 0, len(content))
        outbox.flush(ours)
        client.give(theirs.recv(1 << 20))
        assert len(client.plaintext) == 40_000, "what the budget allows, not ENCRYPT_BYTES"
        assert outbox.flush(ours) == 0, "a spent budget: nothing more until the socket drains"
        assert outbox, "the rest still waits"
        outbox.flush(ours)  # no budget again: a quarter MiB at a time
        client.give(theirs.recv(1 << 20))
        assert len(client.plaintext) > 40_000 + RECORD_BYTES


def test_bytes_queued_before_tls_go_in_clear_first(certificates, context):
    client, layer = Client(certificates), TlsLayer(context)
    outbox = TlsOutbox(layer, b"234 go\r\n")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        outbox.flush(ours)
        assert theirs.recv(100) == b"234 go\r\n"
    handshake(client, layer)


class Touches:
    """A loop that only records which connections asked to be serviced."""

    def __init__(self):
        self.touched = []

    def touch(self, connection) -> None:
        self.touched.append(connection)


@pytest.mark.parametrize("resumed", [False, True], ids=["full", "resumed TLS 1.2"])
def test_plaintext_queued_before_the_handshake_ends_is_not_watched_for_until_it_ends(
    certificates, context, resumed
):
    """The FTPS door's 220, a PROT P data connection's file: until the handshake ends the loop
    watches for input only, or a writable socket would wake it for nothing, again and again,
    while a client stalls its handshake (it spun a core). The record that ends the handshake
    touches the connection, even when it leaves nothing of ours to send (a resumed TLS 1.2
    handshake ends with the client's Finished)."""
    client_context = ssl.create_default_context(cafile=str(certificates.ca))
    client_context.maximum_version = ssl.TLSVersion.TLSv1_2
    session = None
    if resumed:
        earlier_client, earlier = Client(certificates, context=client_context), TlsLayer(context)
        handshake(earlier_client, earlier)
        session = earlier_client.ssl.session
    client = Client(certificates, session, client_context)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        loop = Touches()
        connection = Connection(ours, ("127.0.0.1", 1), now=0.0, loop=loop)
        connection.start_tls(context)
        connection.queue(b"220 ready\r\n", now=0.0)
        assert connection.wanted_interest() == selectors.EVENT_READ
        with pytest.raises(ssl.SSLWantReadError):
            client.ssl.do_handshake()
        while not connection.tls.established:
            loop.touched.clear()
            theirs.sendall(client.take())
            assert connection.receive() is None
            assert loop.touched == [connection]
            assert connection.wanted_interest() == selectors.EVENT_READ | selectors.EVENT_WRITE
            connection.flush(now=0.0)
            client.give(theirs.recv(1 << 16))
        assert client.ssl.session_reused is resumed
        assert bytes(client.plaintext) == b"220 ready\r\n"


def test_credentials_are_read_once_new_contexts_come_from_memory(certificates, tmp_path: Path):
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    cert.write_bytes(certificates.cert.read_bytes())
    key.write_bytes(certificates.key.read_bytes())
    credentials = ServerCredentials(str(cert), str(key))
    cert.unlink()
    key.write_bytes(b"replaced after the start")
    trusting = ssl.create_default_context(cafile=str(certificates.ca))
    for context in (credentials.context, credentials.new_context(), credentials.new_context()):
        client, layer = Client(certificates, context=trusting), TlsLayer(context)
        handshake(client, layer)
        assert layer.established


def test_each_new_context_has_its_own_sessions(certificates):
    credentials = ServerCredentials(str(certificates.cert), str(certificates.key))
    first, second = credentials.new_context(), credentials.new_context()
    assert first is not second and credentials.context not in (first, second)


def test_an_encrypted_key_is_refused_instead_of_asking_for_its_passphrase(certificates, tmp_path: Path):
    key = tmp_path / "encrypted.key"
    subprocess.run(
        ["openssl", "pkey", "-in", str(certificates.key), "-aes256", "-passout", "pass:x", "-out", str(key)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    with pytest.raises(EncryptedKey):
        ServerCredentials(str(certificates.cert), str(key))


def test_a_key_that_is_not_the_certificates_is_refused(certificates):
    with pytest.raises(ssl.SSLError, match="KEY_VALUES_MISMATCH"):
        ServerCredentials(str(certificates.cert), str(certificates.self_signed_key))
