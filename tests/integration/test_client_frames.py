"""The real client's receive path: frames of every allowed size, chat between them, and bytes that
do not match their SHA-256. The server is a FakeServer speaking raw bytes."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from pathlib import Path

import pytest

from ftplab import protocol
from ftplab.client.actions import FileStarted, Show
from ftplab.client.app import ClientApp
from ftplab.client.receiving import CAN_GATHER, GATHER_BYTES
from ftplab.client.session import ClientSession, ClientSettings
from ftplab.console import PlainConsole

from .harness import HOST, TIMEOUT, FakeServer, random_bytes, run_client

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


def run_client_here(port: int, typed: bytes, downloads: Path, observe) -> int:
    """The real client's loop (ClientApp) in this process, `typed` on its keyboard (then the end
    of input: it quits once its downloads are done); `observe(app, action)` sees every action."""
    session = ClientSession("ana", ClientSettings(download_dir=str(downloads), lang="en"))
    keys_in, keys_out = os.pipe()
    os.write(keys_out, typed)
    os.close(keys_out)
    with open(keys_in, "rb", buffering=0) as keyboard, open(os.devnull, "w") as screen:
        sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
        app = ClientApp(sock, session, PlainConsole(keyboard, screen), lambda action: observe(app, action))
        return app.run()


@pytest.mark.skipif(not CAN_GATHER, reason="gathering is Linux's SO_RCVLOWAT")
def test_a_file_is_gathered_in_the_kernel_and_a_line_below_the_mark_still_shows(tmp_path):
    """While a file arrives the kernel gathers GATHER_BYTES before waking the client
    (receiving.py), but a chat line behind a few bytes is read anyway: the server here sends
    no more until the client has shown it."""
    content = random_bytes(2 * GATHER_BYTES, seed=7)
    digest = hashlib.sha256(content).hexdigest()
    started, shown_line = threading.Event(), threading.Event()
    few_bytes_and_a_line = b"profe> !DATA 4096\n" + content[:4096] + b"bob> hola\n"
    rest = f"profe> !DATA {len(content) - 4096}\n".encode() + content[4096:]
    gathering_then: list[int] = []

    def observe(app, action) -> None:
        if isinstance(action, FileStarted):
            started.set()
        if isinstance(action, Show) and "bob> hola" in action.text:
            gathering_then.append(app.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT))
            shown_line.set()

    script = HELLO + f"profe> !FILE {len(content)} {digest} datos.bin\n".encode()
    later = [(started, few_bytes_and_a_line), (shown_line, rest)]
    with FakeServer(script, after=b"ana> get datos.bin\n", later=later) as server:
        status = run_client_here(server.port, b"get datos.bin\n", tmp_path, observe)
    assert status == 0
    [mark] = gathering_then
    assert len(few_bytes_and_a_line) < mark <= GATHER_BYTES, "the line came in below the mark"
    assert (tmp_path / "datos.bin").read_bytes() == content


@pytest.mark.skipif(not CAN_GATHER, reason="gathering is Linux's SO_RCVLOWAT")
def test_the_mark_rises_to_gather_bytes_as_the_window_grows(tmp_path):
    """A download starts with the system's first receive window, below GATHER_BYTES on Linux's
    defaults: the mark starts at most there (receiving.py says why), and rises to GATHER_BYTES
    once autotuning has grown the window, here within a few MiB of a fast file."""
    content = random_bytes(32 * 1024 * 1024, seed=11)
    marks: list[int] = []

    def observe(app, action) -> None:
        if app.sock is not None and app.session.downloads.current is not None:
            marks.append(app.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT))

    script = HELLO + frames("datos.bin", content, 1024 * 1024)
    with FakeServer(script, after=b"ana> get datos.bin\n") as server:
        status = run_client_here(server.port, b"get datos.bin\n", tmp_path, observe)
    assert status == 0
    assert marks and max(marks) == GATHER_BYTES, marks
    assert (tmp_path / "datos.bin").read_bytes() == content
