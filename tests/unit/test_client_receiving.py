"""client/receiving.py: one call reads every TLS record that is ready (not one record per
turn of the loop), never waits, and says when the connection ended after what it read.
A real client SSLSocket on one end of a socket pair; the server's TLS (tls.TlsLayer, over
memory) writes its records into the other end. And a socket told to gather (a real TCP
connection on loopback): the loop is woken only past the mark, and a read takes what came."""

from __future__ import annotations

import selectors
import socket
import ssl

import pytest

from ftplab.client.receiving import CAN_GATHER, gather, receive_ready
from ftplab.tls import RECORD_BYTES, ServerCredentials, TlsLayer
from support.certificates import Certificates
from support.tcp import unread_bytes
from support.waiting import wait_until


class TlsPair:
    """A non-blocking client SSLSocket and the server's TlsLayer behind the other end."""

    def __init__(self, certificates: Certificates):
        self.raw, theirs = socket.socketpair()
        self.layer = TlsLayer(ServerCredentials(str(certificates.cert), str(certificates.key)).context)
        context = ssl.create_default_context(cafile=str(certificates.ca))
        self.client = context.wrap_socket(theirs, server_hostname="localhost", do_handshake_on_connect=False)
        self.client.setblocking(False)
        for _ in range(6):
            try:
                self.client.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.layer.feed(self.raw.recv(1 << 16))
                self.raw.sendall(self.layer.outgoing.read())
        self.layer.feed(self.raw.recv(1 << 16))  # the client's Finished
        assert self.layer.established

    def server_sends(self, plaintext: bytes) -> None:
        """Records of `plaintext` (one per 16 KiB), all in the client's socket at once."""
        self.layer.encrypt(plaintext)
        self.raw.sendall(self.layer.outgoing.read())

    def close(self) -> None:
        self.client.close()
        self.raw.close()


@pytest.fixture
def pair(certificates, deadline):
    tls_pair = TlsPair(certificates)
    yield tls_pair
    tls_pair.close()


def test_every_record_ready_comes_in_one_call(pair):
    sent = bytes(range(256)) * (5 * RECORD_BYTES // 256 + 7)  # five whole records and a bit
    pair.server_sends(sent)
    buffer = bytearray(1 << 20)
    assert receive_ready(pair.client, buffer) == (len(sent), False)
    assert buffer[: len(sent)] == sent
    with pytest.raises(ssl.SSLWantReadError):
        receive_ready(pair.client, buffer)


def test_a_small_buffer_is_filled_and_the_rest_waits_for_the_next_call(pair):
    sent = b"x" * (3 * RECORD_BYTES)
    pair.server_sends(sent)
    buffer = bytearray(RECORD_BYTES + 100)
    assert receive_ready(pair.client, buffer) == (len(buffer), False)
    assert pair.client.pending() > 0, "the rest of the record, decrypted: the app's loop reads it next"
    received = bytes(buffer)
    while len(received) < len(sent):
        count, ended = receive_ready(pair.client, buffer)
        assert not ended
        received += bytes(buffer[:count])
    assert received == sent


def test_records_then_the_servers_close_notify_give_the_bytes_and_the_end(pair):
    pair.server_sends(b"last words")
    pair.layer.close_notify()
    pair.raw.sendall(pair.layer.outgoing.read())
    buffer = bytearray(1024)
    assert receive_ready(pair.client, buffer) == (len(b"last words"), True)
    assert buffer.startswith(b"last words")


def test_records_then_the_connection_closed_give_the_bytes_and_the_end(pair):
    pair.server_sends(b"cut short")
    pair.raw.close()
    count, ended = receive_ready(pair.client, bytearray(1024))
    assert (count, ended) == (len(b"cut short"), True)


def test_a_plain_socket_is_read_once(socket_pair):
    ours, theirs = socket_pair
    theirs.sendall(b"a" * 1000)
    buffer = bytearray(4096)
    assert receive_ready(ours, buffer) == (1000, False)
    theirs.close()
    assert receive_ready(ours, buffer) == (0, True)


@pytest.fixture
def tcp_pair(deadline):
    """(ours, theirs): a TCP connection on loopback, our end non-blocking."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        theirs, _ = listener.accept()
    ours.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.mark.skipif(not CAN_GATHER, reason="gathering is Linux's SO_RCVLOWAT")
def test_a_gathering_socket_wakes_the_loop_past_its_mark_and_a_read_takes_what_came(tcp_pair):
    ours, theirs = tcp_pair
    assert gather(ours, 64 * 1024)
    theirs.sendall(b"a" * 10_000)
    wait_until(lambda: unread_bytes(ours) == 10_000, message="10,000 bytes waiting in our socket")
    with selectors.DefaultSelector() as selector:
        selector.register(ours, selectors.EVENT_READ)
        assert selector.select(0) == [], "below the mark the loop is not woken"
        buffer = bytearray(1 << 20)
        assert receive_ready(ours, buffer) == (10_000, False), "the loop's own read takes them"
        theirs.sendall(b"b" * 64 * 1024)
        assert selector.select(5), "past the mark it is"
        assert receive_ready(ours, buffer) == (64 * 1024, False)
        assert gather(ours, 1)
        theirs.sendall(b"c")
        assert selector.select(5), "gathering no more: one byte wakes it"


def window_clamp(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_WINDOW_CLAMP)


@pytest.mark.skipif(not CAN_GATHER, reason="gathering is Linux's SO_RCVLOWAT")
def test_a_mark_above_the_window_is_set_at_the_window_and_leaves_the_window_as_it_was(tcp_pair):
    """Asked for a mark above its window, Linux would grow the buffer to it and clamp the window
    there, and autotuning might never grow it again (receiving.py): the mark stops at the window."""
    ours, _theirs = tcp_pair
    window = window_clamp(ours)
    assert gather(ours, 4 * window) == window
    assert ours.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == window
    assert window_clamp(ours) == window, "the window is autotuning's still"
    assert gather(ours, 1) == 1
