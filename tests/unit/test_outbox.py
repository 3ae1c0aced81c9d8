"""outbox.Outbox: bytes and file slices leave in order, never blocking the loop."""

from __future__ import annotations

import os

import pytest

from ftplab.outbox import READ_FALLBACK_BYTES, Outbox
from ftplab.storage import FileChanged

BIG = 8 * 1024 * 1024


@pytest.fixture(params=[True, False], ids=["sendfile", "read"])
def outbox(request) -> Outbox:
    box = Outbox()
    box.use_sendfile = request.param
    return box


@pytest.fixture
def data_file(tmp_path):
    """A factory: an open descriptor of a temporary file holding `content`."""
    opened = []

    def make(content: bytes) -> tuple[int, str]:
        path = tmp_path / f"file{len(opened)}.bin"
        path.write_bytes(content)
        fd = os.open(path, os.O_RDONLY)
        opened.append(fd)
        return fd, str(path)

    yield make
    for fd in opened:
        os.close(fd)


def receive_available(sock) -> bytes:
    received = bytearray()
    while True:
        try:
            chunk = sock.recv(1024 * 1024)
        except BlockingIOError:
            return bytes(received)
        if not chunk:
            return bytes(received)
        received += chunk


def pump(outbox: Outbox, sender, receiver) -> bytes:
    """Flush and read alternately until the outbox is empty; what arrived."""
    received = bytearray()
    for _ in range(100_000):
        if not outbox:
            break
        outbox.flush(sender)
        received += receive_available(receiver)
    assert not outbox, "the outbox never emptied"
    return bytes(received + receive_available(receiver))


def test_bytes_and_file_slices_arrive_in_order(outbox, socket_pair, data_file, deadline):
    content = os.urandom(5000)
    fd, _ = data_file(content)
    outbox.add(b"profe> !DATA 1000\n")
    outbox.add_file_slice(fd, 10, 1000)
    outbox.add(b"bob> hola\n")
    outbox.add(b"profe> !DATA 200\n")
    outbox.add_file_slice(fd, 4800, 200)
    assert outbox.buffered_bytes == 18 + 10 + 17  # file slices do not count
    assert outbox.has_file_slice
    received = pump(outbox, *socket_pair)
    assert received == (
        b"profe> !DATA 1000\n" + content[10:1010] + b"bob> hola\n" + b"profe> !DATA 200\n" + content[4800:]
    )
    assert outbox.buffered_bytes == 0
    assert not outbox.has_file_slice


def test_large_slice_arrives_whole(outbox, socket_pair, data_file, deadline):
    content = os.urandom(4 * READ_FALLBACK_BYTES + 123)
    fd, _ = data_file(content)
    outbox.add_file_slice(fd, 0, len(content))
    outbox.add(b"fin\n")
    assert pump(outbox, *socket_pair) == content + b"fin\n"


def test_empty_add_queues_nothing():
    box = Outbox()
    box.add(b"")
    assert not box and box.buffered_bytes == 0


def test_flush_on_full_socket_returns_and_keeps_the_rest(socket_pair, deadline):
    sender, receiver = socket_pair
    data = os.urandom(BIG)
    box = Outbox()
    box.add(data)
    sent = box.flush(sender)  # would block forever on a blocking send of 8 MiB
    assert 0 < sent < BIG
    assert box and box.buffered_bytes == BIG - sent
    assert box.flush(sender) == 0  # still full: nothing sent, nothing raised
    assert box.buffered_bytes == BIG - sent
    assert pump(box, sender, receiver) == data


def test_flush_of_a_slice_on_full_socket_returns(outbox, socket_pair, data_file, deadline):
    sender, receiver = socket_pair
    content = os.urandom(BIG)
    fd, _ = data_file(content)
    outbox.add_file_slice(fd, 0, BIG)
    sent = outbox.flush(sender)
    assert 0 < sent < BIG
    assert outbox.has_file_slice
    while outbox.flush(sender):  # each call sends what fits now, until nothing does
        pass
    assert outbox.has_file_slice
    assert pump(outbox, sender, receiver) == content


def test_file_truncated_before_its_slice(outbox, socket_pair, data_file, deadline):
    sender, receiver = socket_pair
    fd, path = data_file(os.urandom(100_000))
    outbox.add(b"profe> !DATA 100000\n")
    outbox.add_file_slice(fd, 0, 100_000)
    outbox.add(b"profe> !ABORT\n")
    os.truncate(path, 0)
    with pytest.raises(FileChanged):
        outbox.flush(sender)
    assert outbox.has_file_slice  # kept for replace_head_with_zeros
    assert outbox.replace_head_with_zeros() == 100_000
    assert not outbox.has_file_slice
    assert outbox.buffered_bytes == 100_000 + len(b"profe> !ABORT\n")  # the zeros are bytes now
    received = receive_available(receiver) + pump(outbox, sender, receiver)
    assert received == b"profe> !DATA 100000\n" + bytes(100_000) + b"profe> !ABORT\n"
    assert outbox.buffered_bytes == 0


def test_file_truncated_under_a_slice_being_sent(outbox, socket_pair, data_file, deadline):
    sender, receiver = socket_pair
    content = os.urandom(BIG)
    fd, path = data_file(content)
    outbox.add_file_slice(fd, 0, BIG)
    outbox.add(b"profe> !ABORT\n")
    sent = outbox.flush(sender)
    assert 0 < sent < BIG
    received = receive_available(receiver)
    os.truncate(path, sent)
    with pytest.raises(FileChanged):
        outbox.flush(sender)
    assert outbox.replace_head_with_zeros() == BIG - sent
    received += pump(outbox, sender, receiver)
    assert len(received) == BIG + len(b"profe> !ABORT\n")  # the frame keeps its announced length
    assert received == content[:sent] + bytes(BIG - sent) + b"profe> !ABORT\n"


def test_read_fallback_sends_the_same_bytes(socket_pair, data_file, deadline):
    content = os.urandom(3 * READ_FALLBACK_BYTES + 5)
    fd, _ = data_file(content)
    results = []
    for use_sendfile in (True, False):
        box = Outbox()
        box.use_sendfile = use_sendfile
        box.add(b"head\n")
        box.add_file_slice(fd, 7, len(content) - 7)
        box.add(b"tail\n")
        results.append(pump(box, *socket_pair))
    assert results[0] == results[1] == b"head\n" + content[7:] + b"tail\n"


class ScriptedSocket:
    """Takes whole sends until `refuse_after` calls, then says it is full."""

    def __init__(self, refuse_after: int):
        self.sent = bytearray()
        self.calls = 0
        self.refuse_after = refuse_after

    def send(self, data) -> int:
        self.calls += 1
        if self.calls > self.refuse_after:
            raise BlockingIOError
        self.sent += data
        return len(data)


def test_discard_unstarted_drops_queued_messages():
    box = Outbox()
    box.add(b"profe> uno\n")
    box.add(b"profe> dos\n")
    box.discard_unstarted()
    assert not box and box.buffered_bytes == 0


def test_discard_unstarted_keeps_a_partly_sent_slice(data_file):
    content = os.urandom(3 * READ_FALLBACK_BYTES)
    fd, _ = data_file(content)
    box = Outbox()
    box.use_sendfile = False
    box.add_file_slice(fd, 0, len(content))
    box.add(b"profe> chat\n")
    sock = ScriptedSocket(refuse_after=1)
    box.flush(sock)  # one read-sized piece of the slice goes
    box.discard_unstarted()
    box.add(b"profe> !ERR closing\n")
    sock.refuse_after = 10**6
    while box:
        box.flush(sock)
    assert bytes(sock.sent) == content + b"profe> !ERR closing\n"


def test_discard_unstarted_keeps_the_payload_of_a_sent_data_header(data_file):
    content = os.urandom(1000)
    fd, _ = data_file(content)
    box = Outbox()
    box.use_sendfile = False
    box.add(b"profe> !DATA 1000\n")
    box.add_file_slice(fd, 0, 1000)
    sock = ScriptedSocket(refuse_after=1)
    box.flush(sock)  # the header goes, then the socket is full
    assert bytes(sock.sent) == b"profe> !DATA 1000\n"
    box.discard_unstarted()
    box.add(b"profe> !ERR closing bye\n")
    sock.refuse_after = 10**6
    while box:
        box.flush(sock)
    assert bytes(sock.sent) == b"profe> !DATA 1000\n" + content + b"profe> !ERR closing bye\n"


# --- lines before a frame that has not begun; file bytes within a budget ----------------------


def frame_header(count: int) -> bytes:
    return f"profe> !DATA {count}\n".encode()


def test_a_line_goes_before_a_frame_that_has_not_begun(outbox, data_file, socket_pair):
    sender, receiver = socket_pair
    content = os.urandom(5000)
    fd, _ = data_file(content)
    outbox.add(b"profe> !FILE ...\n")
    outbox.add_frame(frame_header(5000), fd, 0, 5000)
    outbox.add(b"bob> hola\n")
    outbox.add(b"bob> otra\n")

    received = pump(outbox, sender, receiver)

    assert received == b"profe> !FILE ...\nbob> hola\nbob> otra\n" + frame_header(5000) + content


def test_a_line_waits_for_the_frame_under_way_and_goes_before_the_next(outbox, data_file, socket_pair):
    sender, receiver = socket_pair
    content = os.urandom(3000)
    fd, _ = data_file(content)
    outbox.add_frame(frame_header(1000), fd, 0, 1000)
    started = outbox.take(5)  # the first frame's header has begun to go
    outbox.add(b"bob> tarde\n")
    outbox.add_frame(frame_header(2000), fd, 1000, 2000)
    outbox.add(b"bob> pronto\n")

    received = started + pump(outbox, sender, receiver)

    first, second = frame_header(1000) + content[:1000], frame_header(2000) + content[1000:]
    assert received == first + b"bob> tarde\nbob> pronto\n" + second


def test_a_started_frame_stays_whole_when_the_unstarted_rest_is_discarded(outbox, data_file, socket_pair):
    sender, receiver = socket_pair
    content = os.urandom(4000)
    fd, _ = data_file(content)
    outbox.add_frame(frame_header(2000), fd, 0, 2000)
    started = outbox.take(3)
    outbox.add(b"bob> hola\n")
    outbox.add_frame(frame_header(2000), fd, 2000, 2000)

    outbox.discard_unstarted()
    received = started + pump(outbox, sender, receiver)

    assert received == frame_header(2000) + content[:2000]


def test_a_frame_starts_only_when_the_budget_takes_it_whole(outbox, data_file, socket_pair):
    sender, receiver = socket_pair
    content = os.urandom(10_000)
    fd, _ = data_file(content)
    budget = [0]
    outbox.file_budget = lambda: budget[0]
    outbox.add_frame(frame_header(10_000), fd, 0, 10_000)

    outbox.flush(sender)
    budget[0] = 9_999
    outbox.flush(sender)
    assert receive_available(receiver) == b"", "not even the header: the frame has not begun"

    outbox.add(b"bob> hola\n")
    outbox.flush(sender)
    assert receive_available(receiver) == b"bob> hola\n", "a line still goes, before the frame"

    budget[0] = 10_000
    outbox.flush(sender)
    assert receive_available(receiver) == frame_header(10_000) + content
    assert not outbox


def test_the_rest_of_a_frame_under_way_goes_within_the_budget(outbox, data_file, socket_pair):
    sender, receiver = socket_pair
    content = os.urandom(10_000)
    fd, _ = data_file(content)
    budget = [0]
    outbox.file_budget = lambda: budget[0]
    outbox.add_frame(frame_header(10_000), fd, 0, 10_000)
    started = outbox.take(3)  # the frame has begun (as a TLS layer takes it)

    outbox.flush(sender)
    assert started + receive_available(receiver) == frame_header(10_000), "the header goes, no file byte"

    budget[0] = 4096
    outbox.flush(sender)
    assert receive_available(receiver) == content[:4096]

    budget[0] = None  # no limit any more
    assert pump(outbox, sender, receiver) == content[4096:]
