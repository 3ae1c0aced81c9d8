"""downloads.Downloads.request: one way to queue a download, a file of the root or of a folder
alike, through storage.Tree (other Unicode forms found), checked now and opened in its turn."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pytest

from ftplab import protocol
from ftplab.downloads import MAX_QUEUED_DOWNLOADS, Downloads
from ftplab.messages import Messages
from ftplab.protocol import ErrorCode
from ftplab.session import Session
from ftplab.storage import NoSuchFile, NotAFile, Storage, Tree

NFD_CAFE = unicodedata.normalize("NFD", "Café.txt")
NFC_CAFE = unicodedata.normalize("NFC", "Café.txt")


class FakeRoom:
    name = "profe"
    say = Messages("en")

    def __init__(self):
        self.errors: list[tuple[ErrorCode, str]] = []

    def send_error(self, session, code, key, **values):
        self.errors.append((code, key))

    def say_to(self, member):
        return self.say

    def show(self, text):
        """The teacher's console: a finished download is told there."""


class FakeLoop:
    now = 0.0

    def __init__(self):
        self.touched: list[Session] = []

    def touch(self, session):
        self.touched.append(session)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "fotos").mkdir()
    (tmp_path / "fotos" / "clase.jpg").write_bytes(b"jpeg")
    (tmp_path / "fotos" / NFD_CAFE).write_bytes(b"cafe")
    (tmp_path / "notas.txt").write_bytes(b"hola")
    return tmp_path


@pytest.fixture
def downloads(root) -> Downloads:
    return Downloads(Storage(str(root)), FakeRoom(), FakeLoop())


@pytest.fixture
def ana(sockets) -> Session:
    session = Session(sockets(), ("127.0.0.1", 40000), now=0.0)
    yield session
    session.close_transfers()


def header_of(transfer, root: Path) -> protocol.FileStart:
    transfer.open(Tree(Storage(str(root))))
    while transfer.hashing:
        transfer.hash_step()
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(transfer.header("profe"))
    return receiver.next_event()


@pytest.mark.parametrize(
    ("parts", "queued_as", "saved_as", "content"),
    [
        (("notas.txt",), "notas.txt", "notas.txt", b"hola"),
        (("fotos", "clase.jpg"), "fotos/clase.jpg", "clase.jpg", b"jpeg"),
        (("fotos", NFC_CAFE), f"fotos/{NFC_CAFE}", NFD_CAFE, b"cafe"),
    ],
)
def test_a_file_of_the_root_or_of_a_folder_is_queued_by_its_path(
    downloads, ana, root, parts, queued_as, saved_as, content
):
    assert downloads.request(ana, parts) is None
    (transfer,) = ana.transfers
    assert (transfer.name, transfer.opened) == (queued_as, False), "no descriptor until its turn"
    header = header_of(transfer, root)
    assert (header.name, header.size) == (saved_as, len(content)), "the header names only the file"
    assert header.sha256 == hashlib.sha256(content).hexdigest()


def test_a_resume_is_the_same_request_with_the_clients_part(downloads, ana, root):
    held = (2, hashlib.sha256(b"jp").hexdigest())
    assert downloads.request(ana, ("fotos", "clase.jpg"), held) is None
    transfer = ana.transfers[0]
    transfer.open(Tree(Storage(str(root))))
    while transfer.hashing:
        transfer.hash_step()
    assert transfer.resumes
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(transfer.header("profe"))
    assert receiver.next_event() == protocol.FileResume(
        "profe", 2, 4, hashlib.sha256(b"jpeg").hexdigest(), "clase.jpg"
    )


@pytest.mark.parametrize(("parts", "problem"), [(("nada.txt",), NoSuchFile), (("fotos",), NotAFile)])
def test_a_file_that_cannot_be_served_is_a_problem_and_nothing_is_queued(downloads, ana, parts, problem):
    assert isinstance(downloads.request(ana, parts), problem)
    assert not ana.transfers


def test_past_the_queue_cap_the_request_is_refused(downloads, ana):
    for _ in range(MAX_QUEUED_DOWNLOADS):
        assert downloads.request(ana, ("notas.txt",)) is None
    problem = downloads.request(ana, ("fotos", "clase.jpg"))
    assert problem.code is ErrorCode.QUEUE_FULL and problem.name == "fotos/clase.jpg"


class ScriptedPacer:
    """Asks for the frame sizes it is given, in turn (the real one follows the kernel's counts)."""

    def __init__(self, sizes: list[int]):
        self.sizes = list(sizes)

    def next_frame_bytes(self, now: float) -> int:
        return self.sizes.pop(0)

    def send_budget(self) -> None:
        return None  # no limit on the file bytes handed to the socket


def drain(session: Session) -> list:
    """Everything queued for `session` so far, taken out and parsed as the client would."""
    receiver = protocol.Receiver(from_server=True)
    while session.outbox:
        receiver.feed(session.outbox.take(1 << 20))
    return list(iter(receiver.next_event, None))


def hashed_download(downloads: Downloads, session: Session, parts: tuple[str, ...]) -> None:
    assert downloads.request(session, parts) is None
    downloads.pump(session)  # opens it and starts hashing
    while session.transfers[0].hashing:
        session.transfers[0].hash_step()


def test_each_frame_is_as_big_as_the_sessions_pacer_asks(downloads, ana, root):
    (root / "grande.bin").write_bytes(bytes(range(256)) * 100)  # 25600 bytes
    ana.pacer = ScriptedPacer([4096, 16384, 16384])
    hashed_download(downloads, ana, ("grande.bin",))

    sizes = []
    while ana.transfers:
        downloads.pump(ana)
        sizes += [len(event.data) for event in drain(ana) if isinstance(event, protocol.FileData)]

    assert sizes == [4096, 16384, 25600 - 4096 - 16384]


def test_a_chat_line_queued_while_a_frame_waits_arrives_before_it(downloads, ana, root):
    (root / "grande.bin").write_bytes(b"x" * 10_000)
    ana.pacer = ScriptedPacer([4096, 4096, 4096])
    hashed_download(downloads, ana, ("grande.bin",))
    downloads.pump(ana)  # the header and the first frame wait in the outbox

    ana.queue(b"bob> hola\n", now=0.0)
    events = drain(ana)

    kinds = [type(event).__name__ for event in events]
    assert kinds[:3] == ["FileStart", "Message", "FileData"]
    assert events[1].text == "hola"
