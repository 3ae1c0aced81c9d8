"""download.Download: a download gets its final name only when complete and verified."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftplab.client import download_file as download_module
from ftplab.client.download_file import (
    INLINE_CHUNK_BYTES,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    BackgroundWriter,
    Corrupt,
    Download,
    DownloadError,
    ReceiveBuffers,
    SetAside,
    UnsafeName,
    held_prefix,
    numbered_name,
    safe_name,
)
from ftplab.filenames import MAX_NAME_BYTES
from ftplab.messages import Messages

CONTENT = b"linea uno\nlinea dos\n" * 1000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def temp_files(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(TEMP_PREFIX)]


def receive(directory: Path, name: str, content: bytes, *, chunk: int = 4096) -> Download:
    download = Download(str(directory), name, len(content), sha(content))
    for start in range(0, len(content), chunk):
        download.write(content[start : start + chunk])
    return download


# --- safe_name -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "..",
        ".",
        "a/b",
        "/etc/passwd",
        "a\\b",
        ".hidden",
        ".bashrc",
        "",
        "a\x00b",
        "a\x1b[31mb",
        "a\nb",
        "a\rb",
        "a\x07",
        "factura\u202efdp.exe",
        "x" * 256,
        "-rf",
        "--help",
    ],
)
def test_safe_name_refuses(name):
    with pytest.raises(UnsafeName) as raised:
        safe_name(name)
    assert raised.value.reason.text(Messages("es")) == "nombre de archivo no válido"  # in the user's language


@pytest.mark.parametrize(
    "name", ["notas.txt", "canción de prueba.txt", "README", "a..b", "foto 👩\u200d💻.png"]
)
def test_safe_name_accepts(name):
    assert safe_name(name) == name


def test_unsafe_name_creates_no_temporary_file(tmp_path):
    with pytest.raises(UnsafeName):
        Download(str(tmp_path), "../x", 3, sha(b"abc"))
    assert listing(tmp_path) == []


# --- saving --------------------------------------------------------------------------------


def test_good_download_is_saved(tmp_path):
    download = receive(tmp_path, "notas.txt", CONTENT)
    assert download.complete and download.percent == 100
    path = download.finish()
    assert path == str(tmp_path / "notas.txt")
    assert Path(path).read_bytes() == CONTENT
    assert listing(tmp_path) == ["notas.txt"]


@pytest.fixture
def named_temporaries(monkeypatch):
    """As on systems without O_TMPFILE: the download goes to a hidden named file."""
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)


@pytest.mark.skipif(not hasattr(os, "O_TMPFILE"), reason="no O_TMPFILE on this system")
def test_download_in_progress_has_no_name_at_all(tmp_path):
    download = Download(str(tmp_path), "notas.txt", len(CONTENT), sha(CONTENT))
    download.write(CONTENT[:100])
    assert not download.complete
    assert download.percent == 100 * 100 // len(CONTENT)
    assert listing(tmp_path) == []  # a killed client leaves nothing behind
    download.discard()


def test_download_in_progress_has_only_a_hidden_temporary_name(tmp_path, named_temporaries):
    download = Download(str(tmp_path), "notas.txt", len(CONTENT), sha(CONTENT))
    download.write(CONTENT[:100])
    [temp] = listing(tmp_path)
    assert temp.startswith(TEMP_PREFIX) and temp.endswith(TEMP_SUFFIX)
    download.discard()


def test_a_named_temporary_becomes_the_final_file_and_leaves_nothing(tmp_path, named_temporaries):
    path = receive(tmp_path, "notas.txt", CONTENT).finish()
    assert Path(path).read_bytes() == CONTENT
    assert listing(tmp_path) == ["notas.txt"]


def test_saved_file_gets_normal_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        path = receive(tmp_path, "notas.txt", CONTENT).finish()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_zero_byte_download(tmp_path):
    download = Download(str(tmp_path), "vacio.txt", 0, sha(b""))
    assert download.complete and download.percent == 100
    path = download.finish()
    assert Path(path).read_bytes() == b""
    assert listing(tmp_path) == ["vacio.txt"]


def test_taken_name_gets_a_number_and_original_is_untouched(tmp_path):
    (tmp_path / "notas.txt").write_bytes(b"mine")
    first = receive(tmp_path, "notas.txt", CONTENT).finish()
    second = receive(tmp_path, "notas.txt", b"otra").finish()
    assert first == str(tmp_path / "notas (1).txt")
    assert second == str(tmp_path / "notas (2).txt")
    assert (tmp_path / "notas.txt").read_bytes() == b"mine"
    assert Path(first).read_bytes() == CONTENT
    assert Path(second).read_bytes() == b"otra"
    assert listing(tmp_path) == ["notas (1).txt", "notas (2).txt", "notas.txt"]


def test_taken_name_without_extension(tmp_path):
    (tmp_path / "README").write_bytes(b"mine")
    assert receive(tmp_path, "README", CONTENT).finish() == str(tmp_path / "README (1)")


@pytest.mark.parametrize("name", ["a" * 251 + ".txt", "é" * 125 + "a.txt", "ñ" * 127 + "a", "a." + "b" * 253])
def test_a_second_copy_of_a_255_byte_name_gets_a_shortened_name(tmp_path, name):
    assert len(os.fsencode(name)) == MAX_NAME_BYTES
    assert receive(tmp_path, name, CONTENT).finish() == str(tmp_path / name)
    second = Path(receive(tmp_path, name, CONTENT).finish())
    assert second.read_bytes() == CONTENT
    assert second.name.endswith(" (1).txt" if name.endswith(".txt") else " (1)")
    assert len(os.fsencode(second.name)) <= MAX_NAME_BYTES
    assert name.startswith(second.name.rsplit(" (1)", 1)[0]), "a shortened stem, cut at a whole character"


def test_numbered_names_keep_short_names_whole():
    assert numbered_name("notas.txt", 0) == "notas.txt"
    assert numbered_name("notas.txt", 12) == "notas (12).txt"
    assert numbered_name("archive.tar.gz", 1) == "archive.tar (1).gz"


def test_symlink_at_the_final_name_is_not_followed(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    target = tmp_path / "victim.txt"
    (downloads / "notas.txt").symlink_to(target)
    path = receive(downloads, "notas.txt", CONTENT).finish()
    assert path == str(downloads / "notas (1).txt")
    assert not target.exists()
    assert (downloads / "notas.txt").is_symlink()


def test_directory_at_the_final_name(tmp_path):
    (tmp_path / "notas.txt").mkdir()
    assert receive(tmp_path, "notas.txt", CONTENT).finish() == str(tmp_path / "notas (1).txt")


# --- failures leave nothing behind ------------------------------------------------------------


def test_wrong_sha_leaves_no_file(tmp_path):
    download = Download(str(tmp_path), "notas.txt", len(CONTENT), sha(b"otra cosa"))
    download.write(CONTENT)
    with pytest.raises(Corrupt):
        download.finish()
    assert listing(tmp_path) == []


def test_one_flipped_byte_leaves_no_file(tmp_path):
    download = Download(str(tmp_path), "notas.txt", len(CONTENT), sha(CONTENT))
    download.write(b"X" + CONTENT[1:])
    with pytest.raises(Corrupt):
        download.finish()
    assert listing(tmp_path) == []


def test_short_download_leaves_no_file(tmp_path):
    download = Download(str(tmp_path), "notas.txt", len(CONTENT), sha(CONTENT))
    download.write(CONTENT[:-1])
    with pytest.raises(Corrupt):
        download.finish()
    assert listing(tmp_path) == []


def test_over_long_download_leaves_no_file(tmp_path):
    download = Download(str(tmp_path), "notas.txt", len(CONTENT), sha(CONTENT))
    download.write(CONTENT[:-10])
    with pytest.raises(Corrupt):
        download.write(CONTENT[-10:] + b"extra")
    assert listing(tmp_path) == []
    assert download.received == len(CONTENT) - 10  # the refused bytes were not counted


def test_failure_with_the_name_taken_leaves_only_the_original(tmp_path):
    (tmp_path / "notas.txt").write_bytes(b"mine")
    download = Download(str(tmp_path), "notas.txt", len(CONTENT), sha(b"otra cosa"))
    download.write(CONTENT)
    with pytest.raises(Corrupt):
        download.finish()
    assert listing(tmp_path) == ["notas.txt"]
    assert (tmp_path / "notas.txt").read_bytes() == b"mine"


def test_successful_finish_leaves_no_temporary_file(tmp_path):
    receive(tmp_path, "notas.txt", CONTENT).finish()
    assert temp_files(tmp_path) == []


def test_discard_removes_the_temporary_file_and_can_be_repeated(tmp_path, named_temporaries):
    download = Download(str(tmp_path), "notas.txt", len(CONTENT), sha(CONTENT))
    download.write(CONTENT[:10])
    assert len(temp_files(tmp_path)) == 1
    download.discard()
    download.discard()
    assert listing(tmp_path) == []


# --- the write and hash path: views of reused buffers, hashing in a thread -------------------


def writer_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name in ("ftplab-writer", "ftplab-sha256")]


def cuts(data: bytes, sizes: list[int]) -> list[bytes]:
    chunks, start = [], 0
    for size in sizes:
        chunks.append(data[start : start + size])
        start += size
    return [*chunks, data[start:]]


@settings(deadline=None, max_examples=60)
@given(data=st.binary(max_size=20000), sizes=st.lists(st.integers(0, 5000), max_size=12))
def test_background_hash_equals_hashlib_for_any_chunking(data, sizes):
    writer = BackgroundWriter()
    for chunk in cuts(data, sizes):
        writer.put(memoryview(chunk))
    assert writer.hexdigest() == sha(data)


def test_background_writer_on_large_random_chunks(tmp_path):
    rng = random.Random(9)
    data = rng.randbytes(8 * 1024 * 1024)
    with open(tmp_path / "out", "wb") as out:
        writer = BackgroundWriter(out.fileno())
        position = 0
        while position < len(data):
            size = rng.randint(1, 1024 * 1024)
            writer.put(memoryview(data)[position : position + size])
            position += size
        assert writer.hexdigest() == sha(data)
    assert (tmp_path / "out").read_bytes() == data


def test_a_buffer_may_be_reused_once_waited_for():
    buffer = bytearray(b"a" * 100_000)
    writer = BackgroundWriter()
    writer.put(memoryview(buffer))
    writer.wait(writer.mark)
    buffer[:] = b"b" * len(buffer)  # what the receive loop does next with this buffer
    assert writer.hexdigest() == sha(b"a" * 100_000)


def test_closing_the_writer_stops_its_thread():
    before = len(writer_threads())
    writer = BackgroundWriter()
    for _ in range(50):
        writer.put(b"x" * 100_000)
    writer.close()
    writer.wait(writer.mark)  # returns at once: nothing is left to do
    assert len(writer_threads()) == before


def test_small_chunks_are_written_and_hashed_at_once_without_a_helper_thread(tmp_path):
    """A slow download arrives a few tens of KiB at a time: handing each piece to two threads
    cost more than writing and hashing it (download_file's docstring)."""
    before = writer_threads()
    data = random.Random(4).randbytes(40 * 25_000)
    with open(tmp_path / "out", "wb") as out:
        writer = BackgroundWriter(out.fileno())
        for start in range(0, len(data), 25_000):
            writer.put(memoryview(data)[start : start + 25_000])
            assert writer_threads() == before
            assert os.path.getsize(tmp_path / "out") == start + 25_000, "written before put returned"
        assert writer.hexdigest() == sha(data)


def test_a_small_chunk_after_a_large_one_waits_its_turn(tmp_path):
    large, small = b"a" * (INLINE_CHUNK_BYTES + 1), b"b" * 1000
    with open(tmp_path / "out", "wb") as out:
        writer = BackgroundWriter(out.fileno())
        writer.put(large)  # to the helper threads
        writer.put(small)  # queued behind it unless they are already done with it
        assert writer.hexdigest() == sha(large + small)
    assert (tmp_path / "out").read_bytes() == large + small


def receive_through_buffers(
    directory: Path, content: bytes, expected_sha: str, rng: random.Random
) -> Download:
    """As the client does: each piece lands in the next of a few reused buffers and is written as a view."""
    buffers = ReceiveBuffers(count=2, size=3000)
    download = Download(str(directory), "notas.txt", len(content), expected_sha)
    position = 0
    while position < len(content):
        buffer = buffers.next()
        size = min(rng.randint(1, len(buffer)), len(content) - position)
        buffer[:size] = content[position : position + size]
        download.write(memoryview(buffer)[:size])
        buffers.hold(download)
        position += size
    return download


def test_download_through_reused_buffers_is_verified_and_saved(tmp_path):
    download = receive_through_buffers(tmp_path, CONTENT, sha(CONTENT), random.Random(1))
    assert "notas.txt" not in listing(tmp_path)  # no final name before it is verified
    path = download.finish()
    assert Path(path).read_bytes() == CONTENT
    assert listing(tmp_path) == ["notas.txt"]


def test_corrupt_download_through_reused_buffers_fails_and_leaves_no_file(tmp_path):
    corrupted = CONTENT[:5000] + b"X" + CONTENT[5001:]
    download = receive_through_buffers(tmp_path, corrupted, sha(CONTENT), random.Random(2))
    with pytest.raises(Corrupt):
        download.finish()
    assert listing(tmp_path) == []


def test_finish_and_discard_leave_no_hasher_thread(tmp_path):
    before = len(writer_threads())
    receive(tmp_path, "a.txt", CONTENT).finish()
    receive(tmp_path, "b.txt", CONTENT[:-1]).discard()
    assert len(writer_threads()) == before


def test_short_writes_are_completed(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(download_module.os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    path = receive(tmp_path, "notas.txt", CONTENT).finish()
    assert Path(path).read_bytes() == CONTENT


def test_a_write_error_fails_the_download_and_leaves_nothing(tmp_path, monkeypatch):
    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(download_module.os, "write", disk_full)
    before = len(writer_threads())
    download = Download(str(tmp_path), "notas.txt", len(CONTENT), sha(CONTENT))
    with pytest.raises(DownloadError) as raised:
        for start in range(0, len(CONTENT), 4096):  # the error shows at a later write, or at finish
            download.write(CONTENT[start : start + 4096])
        download.finish()
    assert raised.value.reason.text(Messages("es")) == "no queda espacio en el disco"  # not strerror
    assert listing(tmp_path) == []
    assert len(writer_threads()) == before


def test_a_kept_partial_is_hidden_and_resuming_it_verifies_the_whole_file(tmp_path):
    content = os.urandom(5000)
    first = Download(str(tmp_path), "f.bin", len(content), hashlib.sha256(content).hexdigest())
    first.write(content[:1200])
    assert first.keep_partial()
    assert [path.name for path in tmp_path.iterdir()] == [".f.bin.ftplab-partial"]
    assert held_prefix(str(tmp_path), "f.bin") == (1200, hashlib.sha256(content[:1200]).hexdigest())

    second = Download.resuming(
        str(tmp_path), "f.bin", 1200, len(content), hashlib.sha256(content).hexdigest()
    )
    second.write(content[1200:])
    path = second.finish()
    assert (tmp_path / "f.bin").read_bytes() == content and path == str(tmp_path / "f.bin")
    assert [path.name for path in tmp_path.iterdir()] == ["f.bin"]


def test_a_resumed_download_whose_kept_part_is_wrong_is_corrupt_and_removed(tmp_path):
    content = os.urandom(3000)
    (tmp_path / ".f.bin.ftplab-partial").write_bytes(b"x" * 1000)
    resumed = Download.resuming(
        str(tmp_path), "f.bin", 1000, len(content), hashlib.sha256(content).hexdigest()
    )
    resumed.write(content[1000:])
    with pytest.raises(Corrupt):
        resumed.finish()
    assert list(tmp_path.iterdir()) == []


def test_resuming_needs_the_kept_part_it_was_told_of(tmp_path):
    with pytest.raises(DownloadError):
        Download.resuming(str(tmp_path), "f.bin", 10, 100, "0" * 64)
    (tmp_path / ".f.bin.ftplab-partial").write_bytes(b"x" * 9)
    with pytest.raises(DownloadError):
        Download.resuming(str(tmp_path), "f.bin", 10, 100, "0" * 64)


def _plant_victim(tmp_path, content: bytes):
    victim = tmp_path / "victim"
    victim.write_bytes(content)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    return victim, downloads


def test_a_symlink_at_the_partial_name_is_set_aside_not_followed(tmp_path):
    victim, downloads = _plant_victim(tmp_path, b"secret")
    (downloads / ".f.bin.ftplab-partial").symlink_to(victim)

    held = held_prefix(str(downloads), "f.bin")

    assert isinstance(held, SetAside), "nothing about the link's target is described"
    assert os.path.islink(held.path) and not (downloads / ".f.bin.ftplab-partial").exists()
    with pytest.raises(DownloadError):
        Download.resuming(str(downloads), "f.bin", 6, 100, "0" * 64)
    assert victim.read_bytes() == b"secret"


def test_resuming_never_appends_through_a_link_planted_after_the_request(tmp_path):
    victim, downloads = _plant_victim(tmp_path, b"x" * 10)
    (downloads / ".f.bin.ftplab-partial").symlink_to(victim)
    with pytest.raises(DownloadError):
        Download.resuming(str(downloads), "f.bin", 10, 100, "0" * 64)
    assert victim.read_bytes() == b"x" * 10


def test_a_fifo_at_the_partial_name_is_set_aside_without_waiting(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    os.mkfifo(downloads / ".f.bin.ftplab-partial")
    held = held_prefix(str(downloads), "f.bin")  # opening a FIFO for reading would wait for a writer
    assert isinstance(held, SetAside)
    assert stat.S_ISFIFO(os.lstat(held.path).st_mode)


def test_a_hard_linked_partial_is_not_used(tmp_path):
    victim, downloads = _plant_victim(tmp_path, b"y" * 10)
    os.link(victim, downloads / ".f.bin.ftplab-partial")
    assert isinstance(held_prefix(str(downloads), "f.bin"), SetAside)
    assert victim.read_bytes() == b"y" * 10
