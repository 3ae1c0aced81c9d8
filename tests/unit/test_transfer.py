"""transfer: hashing in steps, the hash cache, and frames that cover the file."""

from __future__ import annotations

import hashlib
import os

import pytest

from ftplab import protocol, transfer
from ftplab.storage import FileChanged, Storage, Tree
from ftplab.transfer import HashCache, Transfer
from support.waiting import wait_until

SMALL_FRAME = 4096
"""File bytes per frame in these tests (the server's pacing asks for more)."""


@pytest.fixture
def small_steps(monkeypatch):
    monkeypatch.setattr(transfer, "HASH_STEP_BYTES", 1000)


def served(tmp_path, content: bytes, name: str = "f.bin", cache: HashCache | None = None) -> Transfer:
    """A transfer of a new file `name` holding `content`, opened as the scheduler opens it."""
    (tmp_path / name).write_bytes(content)
    return reopened(tmp_path, name, cache or HashCache())


def reopened(tmp_path, name: str, cache: HashCache) -> Transfer:
    current = Transfer((name,), cache)
    current.open(Tree(Storage(str(tmp_path))))
    return current


def hash_fully(current: Transfer) -> int:
    steps = 0
    while current.hashing:
        current.hash_step()
        steps += 1
    return steps


CONTENT = os.urandom(10_500)


def test_hashing_in_steps_gives_hashlibs_digest(tmp_path, small_steps):
    current = served(tmp_path, CONTENT)
    assert current.hashing and not current.done
    assert hash_fully(current) == 11
    assert current.sha256 == hashlib.sha256(CONTENT).hexdigest()
    current.close()


def test_hashing_with_real_step_size(tmp_path):
    content = os.urandom(transfer.HASH_STEP_BYTES * 2 + 17)
    current = served(tmp_path, content)
    assert hash_fully(current) == 3
    assert current.sha256 == hashlib.sha256(content).hexdigest()
    current.close()


def test_empty_file(tmp_path):
    current = served(tmp_path, b"")
    hash_fully(current)
    assert current.sha256 == hashlib.sha256(b"").hexdigest()
    assert current.done
    current.close()


def test_file_shrinking_while_hashed(tmp_path, small_steps):
    current = served(tmp_path, CONTENT)
    current.hash_step()
    os.truncate(tmp_path / "f.bin", 500)
    with pytest.raises(FileChanged):
        current.hash_step()
    current.close()


def test_unchanged_file_is_not_hashed_again(tmp_path, small_steps):
    cache = HashCache()
    first = served(tmp_path, CONTENT, cache=cache)
    hash_fully(first)
    first.close()
    again = reopened(tmp_path, "f.bin", cache)
    assert not again.hashing
    assert again.sha256 == hashlib.sha256(CONTENT).hexdigest()
    again.close()


def test_changed_file_is_hashed_again(tmp_path, small_steps):
    cache = HashCache()
    first = served(tmp_path, CONTENT, cache=cache)
    hash_fully(first)
    first.close()
    changed = CONTENT + b"more"
    (tmp_path / "f.bin").write_bytes(changed)
    again = reopened(tmp_path, "f.bin", cache)
    assert again.hashing
    hash_fully(again)
    assert again.sha256 == hashlib.sha256(changed).hexdigest()
    again.close()


def test_a_file_rewritten_in_place_with_the_same_size_and_mtime_is_hashed_again(tmp_path, small_steps):
    """`cp -p`, `rsync -t` or `touch -d` after an in-place rewrite keep size and mtime;
    the ctime (which no user call can set back) still tells the content changed."""
    cache = HashCache()
    first = served(tmp_path, CONTENT, cache=cache)
    hash_fully(first)
    first.close()
    path = tmp_path / "f.bin"
    before = os.stat(path)
    wait_until(
        lambda: _clock_moved_past(tmp_path, before.st_ctime_ns),
        timeout=2,
        message="the file system's clock to tick",
    )
    rewritten = bytes(reversed(CONTENT))
    with open(path, "r+b") as rewrite:
        rewrite.write(rewritten)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    again = reopened(tmp_path, "f.bin", cache)
    assert again.hashing, "the cached digest of the old content is not used"
    hash_fully(again)
    assert again.sha256 == hashlib.sha256(rewritten).hexdigest()
    again.close()


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """The sizes of the file reads hashing makes."""
    made: list[int] = []
    pread = os.pread

    def counted(fd, count, offset):
        data = pread(fd, count, offset)
        made.append(len(data))
        return data

    monkeypatch.setattr(transfer.os, "pread", counted)
    return made


def hash_in_turns(*transfers: Transfer) -> None:
    """A step for each transfer still hashing, in turn, as the loop gives them."""
    while any(current.hashing for current in transfers):
        for current in transfers:
            if current.hashing:
                current.hash_step()


def test_downloads_of_one_file_that_wait_together_read_and_hash_it_once(tmp_path, small_steps, reads):
    cache = HashCache()
    class_of_three = [
        served(tmp_path, CONTENT, cache=cache),
        *(reopened(tmp_path, "f.bin", cache) for _ in "ab"),
    ]
    hash_in_turns(*class_of_three)
    assert sum(reads) == len(CONTENT) and len(reads) == 11
    assert {current.sha256 for current in class_of_three} == {hashlib.sha256(CONTENT).hexdigest()}
    for current in class_of_three:
        current.close()


def test_a_download_that_joins_late_shares_what_was_hashed_and_goes_on_when_the_first_leaves(
    tmp_path, small_steps, reads
):
    cache = HashCache()
    first = served(tmp_path, CONTENT, cache=cache)
    for _ in range(4):
        first.hash_step()
    late = reopened(tmp_path, "f.bin", cache)
    first.close()  # its client left: the digest made so far stays with who still waits for it
    hash_fully(late)
    assert late.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert sum(reads) == len(CONTENT), "no byte read twice"
    late.close()


def test_a_digest_everyone_gave_up_is_made_anew_by_the_next_download(tmp_path, small_steps, reads):
    cache = HashCache()
    first = served(tmp_path, CONTENT, cache=cache)
    first.hash_step()
    first.close()
    reads.clear()
    again = reopened(tmp_path, "f.bin", cache)
    hash_fully(again)
    assert sum(reads) == len(CONTENT) and again.sha256 == hashlib.sha256(CONTENT).hexdigest()
    again.close()


def test_a_file_that_shrinks_under_a_shared_digest_fails_every_download_waiting_for_it(tmp_path, small_steps):
    cache = HashCache()
    one, two = served(tmp_path, CONTENT, cache=cache), reopened(tmp_path, "f.bin", cache)
    one.hash_step()
    os.truncate(tmp_path / "f.bin", 500)
    for current in (one, two):
        with pytest.raises(FileChanged):
            current.hash_step()
        current.close()
    (tmp_path / "f.bin").write_bytes(CONTENT)  # put back: the next download hashes it whole
    again = reopened(tmp_path, "f.bin", cache)
    hash_fully(again)
    assert again.sha256 == hashlib.sha256(CONTENT).hexdigest()
    again.close()


def test_a_resume_makes_its_own_digest_for_its_prefix(tmp_path, small_steps, reads):
    cache = HashCache()
    whole = served(tmp_path, CONTENT, cache=cache)
    whole.hash_step()
    resume = Transfer(("f.bin",), cache, (2500, hashlib.sha256(CONTENT[:2500]).hexdigest()))
    resume.open(Tree(Storage(str(tmp_path))))
    hash_in_turns(whole, resume)
    assert resume.resumes and resume.sha256 == whole.sha256 == hashlib.sha256(CONTENT).hexdigest()
    for current in (whole, resume):
        current.close()


def _clock_moved_past(directory, ctime_ns: int) -> bool:
    """True once a file changed now gets a later ctime than `ctime_ns`: the file
    system's clock ticks coarser than a nanosecond."""
    probe = directory / "clock-probe"
    probe.touch()
    return os.stat(probe).st_ctime_ns > ctime_ns


def test_cache_is_bounded_and_keeps_recently_used():
    cache = HashCache(capacity=3)
    for number in range(3):
        cache.put(("id", number), f"digest{number}")
    assert cache.get(("id", 0)) == "digest0"  # now the most recently used
    for number in range(3, 10):
        cache.put(("id", number), f"digest{number}")
        assert sum(cache.get(("id", old)) is not None for old in range(number + 1)) <= 3
    assert [cache.get(("id", number)) for number in (7, 8, 9)] == ["digest7", "digest8", "digest9"]
    assert cache.get(("id", 1)) is None


def test_cache_evicts_least_recently_used():
    cache = HashCache(capacity=2)
    cache.put("a", "1")
    cache.put("b", "2")
    cache.get("a")
    cache.put("c", "3")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("1", None, "3")


@pytest.mark.parametrize("size", [1, 4095, 4096, 4097, 10_500, 3 * 4096])
def test_frames_cover_the_file_exactly(tmp_path, small_steps, size):
    content = os.urandom(size)
    current = served(tmp_path, content)
    hash_fully(current)
    rebuilt = b""
    receiver = protocol.Receiver(from_server=True)
    while not current.done:
        header, offset, count = current.next_frame("profe", SMALL_FRAME)
        assert offset == len(rebuilt)
        assert 0 < count <= SMALL_FRAME
        piece = os.pread(current.file.fd, count, offset)
        receiver.feed(header + piece)
        frames = []
        while (event := receiver.next_event()) is not None:
            frames.append(event)
        assert b"".join(frame.data for frame in frames) == piece
        rebuilt += piece
    assert rebuilt == content
    current.close()


def test_header_announces_size_digest_and_name(tmp_path):
    current = served(tmp_path, CONTENT, "canción.bin")
    hash_fully(current)
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(current.header("profe"))
    assert receiver.next_event() == protocol.FileStart(
        "profe", len(CONTENT), hashlib.sha256(CONTENT).hexdigest(), "canción.bin"
    )
    current.close()


def test_a_queued_transfer_holds_no_descriptor_until_opened(tmp_path):
    (tmp_path / "f.bin").write_bytes(CONTENT)
    queued = Transfer(("f.bin",), HashCache())
    assert not queued.opened and queued.file is None
    queued.close()  # nothing to close: no error
    queued.open(Tree(Storage(str(tmp_path))))
    assert queued.opened and os.fstat(queued.file.fd).st_size == len(CONTENT)
    queued.close()
    assert not queued.opened


def test_a_file_rewritten_while_sent_is_noticed(tmp_path):
    current = served(tmp_path, CONTENT)
    hash_fully(current)
    assert not current.changed_since_opened()
    with open(tmp_path / "f.bin", "ab") as grown:
        grown.write(b"more")
    assert current.changed_since_opened()
    current.close()


def resumed(tmp_path, content: bytes, held: bytes) -> Transfer:
    (tmp_path / "f.bin").write_bytes(content)
    current = Transfer(("f.bin",), HashCache(), resume_from=(len(held), hashlib.sha256(held).hexdigest()))
    current.open(Tree(Storage(str(tmp_path))))
    hash_fully(current)
    return current


def frames_from(current: Transfer) -> list[tuple[int, int]]:
    slices = []
    while not current.done:
        _, offset, count = current.next_frame("profe", SMALL_FRAME)
        slices.append((offset, count))
    return slices


def test_a_resume_whose_prefix_matches_sends_only_the_rest_and_the_whole_files_digest(tmp_path, small_steps):
    current = resumed(tmp_path, CONTENT, CONTENT[:2500])  # not on a hashing step's boundary
    header = current.header("profe")
    whole = hashlib.sha256(CONTENT).hexdigest()
    assert header == protocol.encode(protocol.FileResume("profe", 2500, len(CONTENT), whole, "f.bin"))
    assert frames_from(current) == [(2500, 4096), (6596, 3904)]
    assert current.summary()[0] == len(CONTENT) - 2500
    current.close()


@pytest.mark.parametrize(
    "held",
    [
        bytes([CONTENT[0] ^ 0xFF]) + CONTENT[1:2500],
        CONTENT,
        CONTENT + b"more",
    ],  # a first byte that differs, always
    ids=["the file changed", "nothing left", "longer than the file"],
)
def test_a_resume_that_cannot_continue_sends_the_whole_file(tmp_path, small_steps, held):
    current = resumed(tmp_path, CONTENT, held)
    header = current.header("profe")
    assert header == protocol.encode(
        protocol.FileStart("profe", len(CONTENT), hashlib.sha256(CONTENT).hexdigest(), "f.bin")
    )
    assert frames_from(current)[0] == (0, 4096)
    current.close()
