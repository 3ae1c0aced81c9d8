"""The real client's receive path: frames of every allowed size, chat between them, and bytes that
do not match their SHA-256. The server is a FakeServer speaking raw bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ftplab import protocol

from .harness import FakeServer, random_bytes, run_client

HELLO = b"profe> !HELLO hola\n"


def frames(name: str, content: bytes, frame_bytes: int, *, sha256: str | None = None) -> bytes:
    """`!FILE` and `!DATA` frames of `frame_bytes`, with a chat line after every frame."""
    digest = sha256 or hashlib.sha256(content).hexdigest()
    wire = [f"profe> !FILE {len(content)} {digest} {name}\n".encode()]
    for start in range(0, len(content), frame_bytes):
        chunk = content[start : start + frame_bytes]
        wire.append(f"profe> !DATA {len(chunk)}\n".encode() + chunk + b"bob> sigo aqui\n")
    return b"".join(wire)


def download(script: bytes, downloads: Path):
    """The client asks for datos.bin; then the server sends `script`."""
    with FakeServer(HELLO + script, after=b"ana> get datos.bin\n") as server:
        return run_client(server.port, ["get datos.bin"], name="ana", download_dir=downloads, lang="en")


@pytest.mark.parametrize(
    "frame_bytes",
    [1, 4096, 128 * 1024, 256 * 1024, 1024 * 1024 + 7, protocol.MAX_DATA_BYTES],
    ids=["1 B", "4 KiB", "128 KiB (older servers)", "256 KiB", "1 MiB + 7", "the limit"],
)
def test_frames_of_any_allowed_size_are_saved_verified(tmp_path, frame_bytes):
    content = random_bytes(min(6 * 1024 * 1024, 4096 * frame_bytes) + 12345, seed=frame_bytes)
    result = download(frames("datos.bin", content, frame_bytes), tmp_path)
    assert result.returncode == 0, result
    assert (tmp_path / "datos.bin").read_bytes() == content
    assert sum("bob> sigo aqui" in line for line in result.stdout) >= 1, result


def test_a_frame_over_the_limit_breaks_the_stream_and_keeps_nothing(tmp_path):
    content = random_bytes(protocol.MAX_DATA_BYTES + 1)
    result = download(frames("datos.bin", content, len(content)), tmp_path)
    assert result.returncode == 1, result
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flipped_at", [0, 1024 * 1024 - 1, 3 * 1024 * 1024 + 5])
def test_a_flipped_byte_in_a_large_download_keeps_no_file(tmp_path, flipped_at):
    content = random_bytes(5 * 1024 * 1024)
    corrupted = bytearray(content)
    corrupted[flipped_at] ^= 0x01
    script = frames("datos.bin", bytes(corrupted), 1024 * 1024, sha256=hashlib.sha256(content).hexdigest())
    result = download(script, tmp_path)
    assert result.returncode == 4, result  # the session goes on; the get failed (exit status 4)
    assert result.has("Download of datos.bin discarded") and not result.has("Saved"), result
    assert list(tmp_path.iterdir()) == []
