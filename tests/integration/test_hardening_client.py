"""Hardening of the client against a hostile or broken server: nothing is written outside
the download directory, nothing is overwritten, no partial file ever has a final name, and
a stream that cannot be trusted ends the client with status 1 and one clear line on stderr.

The server here is a FakeServer speaking raw bytes; the client is the real program."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shlex
import socket
import struct
import subprocess
import termios
import uuid
from pathlib import Path

import pytest

from .harness import (
    ClientProcess,
    FakeServer,
    file_frames,
    make_file,
    partial_downloads,
    process_state,
    rss_kib,
    run_client,
    wait_until,
)

HELLO = b"profe> !HELLO hola\n"
GOOD = file_frames("ok.txt", b"good content\n")
EXIT_GET_FAILED = 4


@pytest.fixture
def nest(tmp_path) -> tuple[Path, Path]:
    """(parent, downloads): a download directory alone in a parent we can check."""
    parent = tmp_path / "parent"
    downloads = parent / "downloads"
    downloads.mkdir(parents=True)
    return parent, downloads


def _run(script: bytes, downloads: Path, *, hang_up: bool = False, asked=()):
    """The client asks for the files in `asked` (the script starts once it has), then the
    script plays."""
    commands = [f"get {shlex.quote(name)}" for name in asked]
    after = f"ana> {commands[-1]}\n".encode() if commands else b"\n"
    with FakeServer(HELLO + script, hang_up=hang_up, after=after) as server:
        return run_client(server.port, commands, name="ana", download_dir=downloads)


def _assert_broken(result, downloads: Path) -> None:
    assert result.returncode == 1, result
    complaint = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(complaint) == 1 and complaint[0].startswith("ftplab-client: "), result
    assert list(downloads.iterdir()) == [], "no file and no temporary file"


UNSAFE_NAMES = [
    "../evil",
    "../../evil",
    "/etc/ftplab-evil",
    ".bashrc",
    "..",
    ".",
    "a/b",
    "a\\b",
    "esc\x1b[2J.txt",
    "bidi\u202etxt.exe",
    "bell\x07",
    "x" * 256,
]


def test_unsafe_file_names_are_refused_and_nothing_is_written_anywhere(nest):
    parent, downloads = nest
    script = b"".join(file_frames(name, b"evil content\n") for name in UNSAFE_NAMES) + GOOD

    result = _run(script, downloads, asked=[*UNSAFE_NAMES, "ok.txt"])

    assert result.returncode == EXIT_GET_FAILED, result
    refusals = [line for line in result.stdout if line.startswith("Descarga rechazada")]
    assert len(refusals) == len(UNSAFE_NAMES), result
    assert sorted(p.name for p in downloads.iterdir()) == ["ok.txt"], "the stream went on past the refusals"
    assert sorted(p.name for p in parent.iterdir()) == ["downloads"]
    assert not os.path.exists("/etc/ftplab-evil")
    assert not any(ch in "\n".join(result.stdout) for ch in "\x1b\x07\u202e")


def test_a_file_already_there_or_a_link_at_the_name_is_never_written_through(nest):
    parent, downloads = nest
    (downloads / "ok.txt").write_bytes(b"mine\n")
    (parent / "outside.txt").write_bytes(b"outside\n")
    (downloads / "link.txt").symlink_to(parent / "outside.txt")

    result = _run(
        GOOD + file_frames("link.txt", b"through the link?\n"), downloads, asked=["ok.txt", "link.txt"]
    )

    assert result.returncode == 0, result
    assert (downloads / "ok.txt").read_bytes() == b"mine\n"
    assert (downloads / "ok (1).txt").read_bytes() == b"good content\n"
    assert (parent / "outside.txt").read_bytes() == b"outside\n"
    assert (downloads / "link (1).txt").read_bytes() == b"through the link?\n"
    assert partial_downloads(downloads) == []


def test_a_wrong_sha256_keeps_no_file_and_the_session_goes_on(nest):
    _, downloads = nest
    script = file_frames("bad.bin", os.urandom(300_000), sha256="0" * 64) + GOOD

    result = _run(script, downloads, asked=["bad.bin", "ok.txt"])

    assert result.returncode == EXIT_GET_FAILED, result
    assert result.has("Descarga de bad.bin descartada"), result
    assert sorted(p.name for p in downloads.iterdir()) == ["ok.txt"], "no bad.bin, no .ftplab-*.part"


PARTIAL = b"profe> !FILE 100 " + b"0" * 64 + b" partial.bin\nprofe> !DATA 10\n" + b"p" * 10


@pytest.mark.parametrize(
    "garbage",
    [
        b"profe> !DATA 200\n" + b"x" * 200,  # more than the 100 announced
        b"profe> !FILE 5 " + b"1" * 64 + b" other.bin\n",  # a file before the last one ended
        b"profe> !WHAT now\n",
        b"profe> !FILE abc\n",
        b"profe> !DATA 0\n",
        b"profe> !DATA -1\n",
        b"profe> !DATA 999999999\n",
        b"profe> !DATA \xd9\xa3\n",  # an Arabic-Indic digit
        b"profe> !ERR\n",
        b"a b> hola\n",
        b"sin prefijo\n",
        b"profe> \xff\xfe\n",
        b"profe> " + b"z" * 10_000 + b"\n",
        b"profe> " + b"z" * (8 * 1024 * 1024),  # a line with no end
    ],
    ids=[
        "more-than-announced",
        "file-in-file",
        "unknown-control",
        "bad-file-header",
        "data-0",
        "data-negative",
        "data-huge",
        "data-non-ascii-digit",
        "err-without-code",
        "bad-sender",
        "no-prefix",
        "bad-utf8",
        "too-long",
        "endless-line",
    ],
)
def test_a_broken_stream_mid_download_ends_the_client_with_status_1_and_no_file(nest, garbage):
    _, downloads = nest

    result = _run(PARTIAL + garbage, downloads, asked=["partial.bin"])

    _assert_broken(result, downloads)


@pytest.mark.parametrize(
    "script",
    [b"profe> !DATA 5\nhello", b"profe> !DATA 5\n"],
    ids=["data-without-file", "data-header-only"],
)
def test_data_without_a_file_is_a_broken_stream(nest, script):
    _, downloads = nest

    result = _run(script, downloads)

    _assert_broken(result, downloads)
    assert "El servidor envió datos no válidos" in result.stderr, result


def test_a_connection_dropped_mid_file_leaves_no_file(nest):
    _, downloads = nest

    result = _run(PARTIAL, downloads, hang_up=True, asked=["partial.bin"])

    _assert_broken(result, downloads)
    assert "Se ha perdido la conexión con el servidor" in result.stderr, result
    assert result.has("partial.bin: descarga interrumpida al 10 %, no se guardó nada"), result


@pytest.fixture
def tiny_disk(tmp_path) -> Path:
    """A 1 MiB tmpfs: a download directory that fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / f"tiny-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", str(mount_point)], check=True, capture_output=True)


def test_a_full_disk_is_a_clean_error_and_the_client_goes_on(start_server, tmp_path, tiny_disk):
    root = tmp_path / "root"
    root.mkdir()
    make_file(root / "big.bin", 3 * 1024 * 1024)
    small = make_file(root / "small.txt", 2000, seed=5)
    server = start_server(root=root)

    result = run_client(
        server.port, ["get big.bin", "get small.txt", "who"], name="lleno", download_dir=tiny_disk
    )

    assert result.returncode == EXIT_GET_FAILED, result
    assert result.has("No se puede guardar big.bin: "), result
    assert result.has("profe> Conectados (1): lleno"), result
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["small.txt"], "no big.bin, no .part"
    assert (tiny_disk / "small.txt").read_bytes() == small


# --- the server sends only what was asked for, and says when it stops -------------------


@pytest.mark.parametrize(
    ("asked", "sent", "refused"),
    [
        ([], ["conftest.py"], "conftest.py"),  # right after !HELLO, with no get at all
        (["ok.txt"], ["conftest.py", "ok.txt"], "conftest.py"),  # another file before the one asked for
        (["ok.txt"], ["ok.txt", "ok.txt"], "ok.txt"),  # the same file twice for one get
        # out of order (an mget's files come before a get typed after it): a.txt, still asked
        # for, is taken after ok.txt; a second a.txt is not
        (["a.txt", "ok.txt"], ["ok.txt", "a.txt", "a.txt"], "a.txt"),
    ],
    ids=["no-get", "other-name", "twice", "out-of-order"],
)
def test_a_file_that_was_not_asked_for_is_refused(nest, asked, sent, refused):
    parent, downloads = nest
    script = b"".join(
        file_frames(name, b"good content\n" if name == "ok.txt" else b"planted\n") for name in sent
    )

    result = _run(script, downloads, asked=asked)

    refusals = [line for line in result.stdout if line.startswith("Descarga rechazada: ")]
    assert refusals == [f"Descarga rechazada: {refused} no se ha pedido"], result
    content = {"ok.txt": b"good content\n"}
    expected = {name: content.get(name, b"planted\n") for name in asked if name in sent}
    assert {p.name: p.read_bytes() for p in downloads.iterdir()} == expected, result
    assert sorted(p.name for p in parent.iterdir()) == ["downloads"]


def test_a_name_starting_with_a_dash_is_refused(nest):
    _, downloads = nest

    result = _run(file_frames("-rf", b"option?\n") + GOOD, downloads, asked=["-rf", "ok.txt"])

    assert result.has("Descarga rechazada: nombre de archivo no válido -rf"), result
    assert sorted(p.name for p in downloads.iterdir()) == ["ok.txt"], result


def test_a_goodbye_in_the_middle_of_a_download_is_reported_and_exits_non_zero(nest):
    _, downloads = nest

    result = _run(PARTIAL + b"profe> !BYE adios\n", downloads, hang_up=True, asked=["partial.bin"])

    assert result.returncode == EXIT_GET_FAILED, result
    assert result.has("partial.bin: descarga interrumpida al 10 %, no se guardó nada"), result
    assert "Descargas fallidas: 1" in result.stderr, result
    assert list(downloads.iterdir()) == [], "no file and no temporary file"


def test_a_server_that_never_welcomes_the_client_times_out(client_dir):
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts (the kernel does), never answers
        port = listener.getsockname()[1]
        result = run_client(
            port, ["who"], name="ana", download_dir=client_dir("ana"), extra_args=["--timeout", "1"]
        )

    assert result.returncode == 1, result
    assert result.stderr == "ftplab-client: El servidor no ha respondido en 1 s\n", result


# --- back-pressure: piped input waits while the server does not read -------------------

STDIN_LIMIT = 32 * 1024 * 1024
"""Far more than the client may hold: its own queue (64 KiB) plus one read, plus the
socket buffers the kernel keeps, which a server that reads nothing fills in a few MiB."""


def _unread_bytes(pipe_fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD works on either end)."""
    return struct.unpack("i", fcntl.ioctl(pipe_fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_piped_input_is_not_read_while_the_server_reads_nothing(client_dir):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = ClientProcess(listener.getsockname()[1], "ana", client_dir("ana"), joined=False)
        conn, _ = listener.accept()
        with conn:
            conn.sendall(HELLO)  # and then it never reads
            client.expect("profe> hola")
            stdin = client.process.stdin.fileno()
            os.set_blocking(stdin, False)
            chunk = (b"x" * 1000 + b"\n") * 64
            written = 0

            def stdin_stalled() -> bool:
                """The pipe stays full and the client sleeps: it is not reading its input."""
                nonlocal written
                while written <= STDIN_LIMIT:
                    if not select.select([], [stdin], [], 0.1)[1]:
                        before = _unread_bytes(stdin)
                        asleep = process_state(client.pid) == "S"
                        return asleep and _unread_bytes(stdin) == before
                    with contextlib.suppress(BlockingIOError):
                        written += os.write(stdin, chunk)
                return True

            wait_until(stdin_stalled, timeout=60, message="the client to stop reading its input")
            peak = rss_kib(client.pid, peak=True)
            assert written <= STDIN_LIMIT, f"the client read {written >> 20} MiB the server never took"
            assert peak < 64 * 1024, f"peak RSS {peak} KiB"
        assert client.wait() == 1, "the server hung up: a lost connection"


def test_a_queued_name_that_no_mget_or_get_asked_for_is_refused(nest):
    parent, downloads = nest
    planted = b"profe> !QUEUED conftest.py\n" + file_frames("conftest.py", b"planted\n")
    matching = b"profe> !QUEUED ok.txt\n" + GOOD
    with FakeServer(HELLO + planted + matching, after=b"ana> mget *.txt\n") as server:
        result = run_client(server.port, ["mget *.txt"], name="ana", download_dir=downloads)

    refusals = [line for line in result.stdout if line.startswith("Descarga rechazada: ")]
    assert refusals == ["Descarga rechazada: conftest.py no se ha pedido"] * 2, result
    assert sorted(p.name for p in parent.iterdir()) == ["downloads"]
    assert {p.name: p.read_bytes() for p in downloads.iterdir()} == {"ok.txt": b"good content\n"}, result
