"""A listing of 30,000 entries does not hold the loop: a whole server from `build_server`,
turned in this thread, answers another client while the folder is still being read, and the
lister's queued output stays bounded; then the lister gets every entry, in name order. The lab's
`get a b` and `mget PATTERN` read their folder in the same steps. A folder that fails partway
through its reading is refused on each door, and the client keeps its connection. A name the
folder does not have (a lab `get`, FTP RETR, SIZE, MDTM) is refused without reading the folder:
its Unicode twins are looked up by name."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket

import pytest

from ftplab.connection import HIGH_WATER_BYTES
from ftplab.storage import ENTRIES_PER_STEP, Storage
from ftplab.wiring import build_server
from support.server_config import server_config_for

COUNT = 30_000
MAX_TURNS = 2_000


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    root = tmp_path_factory.mktemp("crowded")
    for number in range(COUNT):
        (root / f"archivo-{number:05d}.txt").touch()
    return root


@pytest.fixture
def server(crowded):
    config = server_config_for(crowded, log_level="WARNING", ftp_port=0)
    server = build_server(config, Storage(str(crowded)))
    server.addresses = server.bind()
    yield server
    server._close_everything()


class Peer:
    """A client's socket, read without blocking after each turn of the loop."""

    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=5)
        self.received = bytearray()

    def read(self) -> None:
        while select.select([self.sock], [], [], 0)[0]:
            chunk = self.sock.recv(256 * 1024)
            if not chunk:
                return
            self.received += chunk

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode())


def turn_until(server, peers, done, watch=lambda: None) -> int:
    """Turn the loop (reading every peer after each turn) until `done()`; how many turns it took."""
    for turns in range(1, MAX_TURNS + 1):
        server.turn()
        watch()
        for peer in peers:
            peer.read()
        if done():
            return turns
    raise AssertionError(f"not done after {MAX_TURNS} turns")


def largest_queue(server, seen: list[int]):
    """Notes the most output any connection had queued at a turn's end."""
    return lambda: seen.append(max((c.outbox.buffered_bytes for c in server._connections), default=0))


@pytest.fixture
def connect():
    """Peers made by `connect(address)`, closed when the test ends."""
    made: list[Peer] = []
    yield lambda address: made.append(Peer(address)) or made[-1]
    for peer in made:
        peer.sock.close()


def joined_pair(server, connect) -> tuple[Peer, Peer]:
    """ana and bob, both in the lab's room."""
    lab = server.addresses["lab"]
    ana, bob = connect(lab), connect(lab)
    ana.send("ana> !JOIN lang=en\n")
    bob.send("bob> !JOIN lang=en\n")
    turn_until(server, [ana, bob], lambda: b"!HELLO" in ana.received and b"!HELLO" in bob.received)
    return ana, bob


def answered_meanwhile(server, ana: Peer, bob: Peer, command: str) -> None:
    """ana's `command` is handled (its folder being read), then bob's `who` is answered."""
    ana.send(f"ana> {command}\n")
    turn_until(server, [ana, bob], lambda: True)
    bob.send("bob> who\n")
    turn_until(server, [ana, bob], lambda: b"bob" in bob.received.split(b"!HELLO")[-1])


@pytest.mark.parametrize(
    ("command", "queued"),
    [
        ("get archivo-00007.txt archivo-29999.txt", [b"archivo-00007.txt", b"archivo-29999.txt"]),
        ("mget archivo-2999?.txt", [f"archivo-2999{digit}.txt".encode() for digit in range(10)]),
    ],
)
def test_a_lab_get_or_mget_reads_its_folder_in_steps_and_queues_in_order(server, connect, command, queued):
    ana, bob = joined_pair(server, connect)
    answered_meanwhile(server, ana, bob, command)
    assert b"!QUEUED" not in ana.received, "ana was answered first: her folder was read in one step"
    turn_until(server, [ana, bob], lambda: ana.received.count(b"!QUEUED") == len(queued))
    names = [line.split(b"!QUEUED ")[1] for line in ana.received.split(b"\n") if b"!QUEUED " in line]
    assert names == queued


class WrappedScan:
    """A folder's scandir, seen through `__next__` (the subclasses')."""

    def __init__(self, scan):
        self._scan = scan

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._scan)

    def close(self) -> None:
        self._scan.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class FailingScan(WrappedScan):
    """A folder's scandir that fails with EIO (a disk error) after `good` entries."""

    def __init__(self, scan, good: int, fd: int):
        super().__init__(scan)
        self._left = good
        self._fd = fd

    def __next__(self):
        if not self._left:
            raise OSError(errno.EIO, os.strerror(errno.EIO), self._fd)  # as the real one, naming the fd
        self._left -= 1
        return next(self._scan)


@pytest.fixture
def failing_reads(monkeypatch):
    """Every folder read by descriptor (a listing's) fails after two steps of entries."""
    real = os.scandir

    def scandir(target=None):
        scan = real(target)
        return FailingScan(scan, 2 * ENTRIES_PER_STEP, target) if isinstance(target, int) else scan

    monkeypatch.setattr(os, "scandir", scandir)


@pytest.mark.parametrize("command", ["list", "mget *.txt", "get archivo-00001.txt archivo-00002.txt"])
def test_a_lab_folder_that_fails_partway_is_refused_and_the_session_goes_on(
    server, connect, failing_reads, command, caplog
):
    ana, _bob = joined_pair(server, connect)
    ana.send(f"ana> {command}\n")
    turn_until(server, [ana], lambda: b"!ERR" in ana.received)
    assert b"could not be read to its end" in ana.received
    assert caplog.messages[-1] == "cannot read / to its end: Input/output error", "no descriptor number"
    assert b"archivo-" not in ana.received.split(b"!ERR")[0].split(b"!HELLO")[-1]
    ana.send("ana> pwd\n")
    turn_until(server, [ana], lambda: b"/" in ana.received.split(b"!ERR")[-1].split(b"\n", 1)[-1])


def test_a_lab_listing_of_30000_entries_lets_another_client_be_answered_meanwhile(server):
    lab = server.addresses["lab"]
    ana, bob = Peer(lab), Peer(lab)
    ana.send("ana> !JOIN lang=en\n")
    bob.send("bob> !JOIN lang=en\n")
    turn_until(server, [ana, bob], lambda: b"!HELLO" in ana.received and b"!HELLO" in bob.received)
    ana.send("ana> list\n")
    turn_until(server, [ana, bob], lambda: True)  # ana's `list` is handled: the folder is being read
    bob.send("bob> who\n")
    turn_until(server, [ana, bob], lambda: b"bob" in bob.received.split(b"!HELLO")[-1])
    assert b"30000" not in ana.received, "bob was answered before ana's listing had its header"
    queued: list[int] = []
    turn_until(
        server, [ana, bob], lambda: b"archivo-29999.txt" in ana.received, largest_queue(server, queued)
    )
    assert ana.received.count(b"archivo-") == COUNT
    assert max(queued) <= HIGH_WATER_BYTES, "the listing waits for the reader, it is not queued whole"


def test_an_ftp_listing_of_30000_entries_lets_another_client_be_answered_meanwhile(server):
    ftp = server.addresses["ftp"]
    alice, bob = Peer(ftp), Peer(ftp)
    for peer in (alice, bob):
        peer.send("USER anonymous\r\nPASS x\r\n")
    turn_until(server, [alice, bob], lambda: b"230 " in alice.received and b"230 " in bob.received)
    alice.send("PASV\r\n")
    turn_until(server, [alice], lambda: b"227 " in alice.received)
    numbers = alice.received.split(b"227 ")[1].split(b"(")[1].split(b")")[0].split(b",")
    data = Peer(("127.0.0.1", int(numbers[4]) * 256 + int(numbers[5])))
    alice.send("NLST\r\n")
    turn_until(server, [alice, data], lambda: b"150 " in alice.received)
    bob.send("NOOP\r\n")
    turn_until(server, [alice, bob, data], lambda: b"200 " in bob.received.split(b"230 ")[-1])
    assert not data.received, "bob was answered while alice's folder was still being read"
    queued: list[int] = []
    turn_until(server, [alice, bob, data], lambda: b"226 " in alice.received, largest_queue(server, queued))
    data.read()
    names = data.received.decode().split("\r\n")[:-1]
    assert len(names) == COUNT and names == sorted(names)
    assert max(queued) <= HIGH_WATER_BYTES
    assert COUNT > 10 * ENTRIES_PER_STEP, "the folder takes many steps"


def logged_in_with_data(server, connect) -> tuple[Peer, Peer]:
    """An FTP client logged in, and its passive data connection."""
    alice = connect(server.addresses["ftp"])
    alice.send("USER anonymous\r\nPASS x\r\nPASV\r\n")
    turn_until(server, [alice], lambda: b"227 " in alice.received)
    numbers = alice.received.split(b"227 ")[1].split(b"(")[1].split(b")")[0].split(b",")
    return alice, connect(("127.0.0.1", int(numbers[4]) * 256 + int(numbers[5])))


def test_an_ftp_listing_whose_folder_fails_partway_is_451_and_the_control_goes_on(
    server, connect, failing_reads
):
    alice, data = logged_in_with_data(server, connect)
    alice.send("NLST\r\n")
    turn_until(server, [alice, data], lambda: b"451 " in alice.received)
    assert b"451 The folder / could not be read to its end" in alice.received
    assert not data.received, "nothing of the folder was sent"
    alice.send("STAT .\r\nNOOP\r\n")
    turn_until(server, [alice], lambda: b"200 " in alice.received)
    assert alice.received.split(b"226")[0].count(b"451 ") == 2, "STAT of the folder: 451 too"


class CountedScan(WrappedScan):
    """A folder's scandir whose entries are counted in `counts[-1]`."""

    def __init__(self, scan, counts: list[int]):
        super().__init__(scan)
        self._counts = counts

    def __next__(self):
        item = next(self._scan)
        self._counts[-1] += 1
        return item


@pytest.fixture
def entries_read(monkeypatch) -> list[int]:
    """How many folder entries (read by descriptor) each turn of the loop read: call
    `next_turn(counts)` after each turn."""
    counts = [0]
    real = os.scandir

    def scandir(target=None):
        scan = real(target)
        return CountedScan(scan, counts) if isinstance(target, int) else scan

    monkeypatch.setattr(os, "scandir", scandir)
    return counts


def next_turn(counts: list[int]):
    return lambda: counts.append(0)


def test_a_lab_get_of_a_missing_name_reads_no_folder_whole_and_bob_is_answered(server, connect, entries_read):
    ana, bob = joined_pair(server, connect)
    ana.send("ana> get nada-00007.txt\n")
    bob.send("bob> who\n")
    turn_until(
        server,
        [ana, bob],
        lambda: b"!ERR" in ana.received and b"bob" in bob.received.split(b"!HELLO")[-1],
        next_turn(entries_read),
    )
    assert b"nada-00007.txt" in ana.received.split(b"!ERR")[-1]
    assert max(entries_read) <= ENTRIES_PER_STEP, "a turn read the folder whole, looking for a twin"


@pytest.mark.parametrize("command", ["RETR", "SIZE", "MDTM"])
def test_an_ftp_command_on_a_missing_name_reads_no_folder_whole_and_bob_is_answered(
    server, connect, entries_read, command
):
    alice, _data = logged_in_with_data(server, connect)
    bob = connect(server.addresses["ftp"])
    bob.send("USER anonymous\r\nPASS x\r\n")
    turn_until(server, [alice, bob], lambda: b"230 " in bob.received)
    entries_read.append(0)
    alice.send(f"{command} nada-00007.txt\r\n")
    bob.send("NOOP\r\n")
    turn_until(
        server,
        [alice, bob],
        lambda: b"550 " in alice.received and b"200 " in bob.received.split(b"230 ")[-1],
        next_turn(entries_read),
    )
    assert max(entries_read) <= ENTRIES_PER_STEP, "a turn read the folder whole, looking for a twin"


def folders_open(folder) -> int:
    """This process's descriptors open on `folder`."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") == str(folder)
    return count


def test_ftp_listings_given_up_before_their_first_step_leave_no_folder_open(server, connect, crowded):
    """A LIST opens its folder at once (a missing one is 550 before any 150), then waits for its
    data connection: an ABOR before it comes drops the listing unstarted, folder and all."""
    alice = connect(server.addresses["ftp"])
    alice.send("USER anonymous\r\nPASS x\r\n")
    turn_until(server, [alice], lambda: b"230 " in alice.received)
    before = folders_open(crowded)
    for rounds in range(1, 6):
        alice.send("PASV\r\nLIST\r\nABOR\r\nNOOP\r\n")
        turn_until(server, [alice], lambda done=rounds: alice.received.count(b"200 ") == done)
    assert alice.received.count(b"227 ") == 5
    assert folders_open(crowded) == before
