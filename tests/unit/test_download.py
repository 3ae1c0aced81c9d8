"""download.Download: a download gets its final name only when complete and verified."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from ftplab.download import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    Corrupt,
    Download,
    DownloadError,
    UnsafeName,
    held_prefix,
    numbered_name,
    safe_name,
)
from ftplab.filenames import MAX_NAME_BYTES

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
    assert raised.value.reason.isprintable()  # the reason is shown to the user


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
