"""put through the lab door against a real server: byte-identical uploads, the refusals
(uploads off, too big, an existing name, bad paths, a wrong digest), and the failures that
must leave nothing under the final name (a client gone mid-upload, a full disk), while the
server goes on serving everyone."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from ftplab import protocol
from support.constants import RSS_GROWTH_LIMIT_KIB
from support.waiting import wait_until

from .harness import (
    RawConnection,
    make_big_file,
    make_file,
    message_containing,
    random_bytes,
    rss_kib,
    run_client,
    socket_receive_queue,
)

EXIT_TRANSFER_FAILED = 4
"""The client's exit status when a `get` or a `put` failed."""
UPLOADS_ON = ("--allow-upload",)
FRAME = 128 * 1024


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def announce(conn: RawConnection, content: bytes, path: str, *, sha256: str | None = None) -> None:
    conn.send_line(f"put {len(content)} {sha256 or digest(content)} {path}")


def send_frames(conn: RawConnection, data: bytes) -> None:
    for start in range(0, len(data), FRAME):
        conn.sock.sendall(protocol.encode(protocol.FileData(conn.name, data[start : start + FRAME])))


def error_coded(code: str):
    def accepts(event: object) -> bool:
        return isinstance(event, protocol.Error) and event.code == code

    accepts.description = f"!ERR {code}"
    return accepts


def names_in(directory: Path) -> list[str]:
    """Every entry, hidden ones too (a named upload temporary would show here)."""
    return sorted(os.listdir(directory))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    served = tmp_path / "root"
    served.mkdir()
    make_file(served / "existente.txt", 300, seed=9)
    (served / "carpeta").mkdir()
    return served


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """The uploading user's own directory."""
    directory = tmp_path / "local"
    directory.mkdir()
    return directory


# --- the real client ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 3 * 1024 * 1024 + 7], ids=["0B", "1B", "3MiB"])
def test_put_saves_a_byte_identical_file_and_the_others_are_told(
    start_server, start_client, client_dir, root, local, size
):
    server = start_server(root=root, extra_args=UPLOADS_ON)
    watcher = start_client(server, "bob")
    content = make_file(local / "subida.bin", size, seed=size)

    result = run_client(
        server.port, [f"put {local / 'subida.bin'}"], name="ana", download_dir=client_dir("ana")
    )

    assert result.returncode == 0, result
    assert result.has("Subido subida.bin ("), result
    assert (root / "subida.bin").read_bytes() == content
    assert names_in(root) == ["carpeta", "existente.txt", "subida.bin"], "no temporary left behind"
    watcher.expect("profe> ana subió subida.bin (")
    assert watcher.quit() == 0


def test_put_is_refused_when_uploads_are_off(start_server, client_dir, root, local):
    server = start_server(root=root)
    make_file(local / "nuevo.txt", 10)

    result = run_client(
        server.port, [f"put {local / 'nuevo.txt'}"], name="ana", download_dir=client_dir("ana")
    )

    assert result.returncode == EXIT_TRANSFER_FAILED, result
    assert result.has("profe> Este servidor no acepta subidas"), result
    assert names_in(root) == ["carpeta", "existente.txt"]


def test_an_existing_name_is_kept_without_allow_overwrite(start_server, client_dir, root, local):
    server = start_server(root=root, extra_args=UPLOADS_ON)
    before = (root / "existente.txt").read_bytes()
    make_file(local / "existente.txt", 50, seed=1)

    result = run_client(
        server.port, [f"put {local / 'existente.txt'}"], name="ana", download_dir=client_dir("ana")
    )

    assert result.returncode == EXIT_TRANSFER_FAILED, result
    assert result.has("profe> Ya existe: existente.txt"), result
    assert (root / "existente.txt").read_bytes() == before


def test_allow_overwrite_replaces_an_existing_file(start_server, client_dir, root, local):
    server = start_server(root=root, extra_args=(*UPLOADS_ON, "--allow-overwrite"))
    content = make_file(local / "existente.txt", 50, seed=1)

    result = run_client(
        server.port, [f"put {local / 'existente.txt'}"], name="ana", download_dir=client_dir("ana")
    )

    assert result.returncode == 0, result
    assert (root / "existente.txt").read_bytes() == content
    assert names_in(root) == ["carpeta", "existente.txt"]


def test_put_goes_to_the_current_directory(start_server, client_dir, root, local):
    server = start_server(root=root, extra_args=UPLOADS_ON)
    content = make_file(local / "dentro.txt", 1000, seed=3)

    result = run_client(
        server.port, ["cd carpeta", f"put {local / 'dentro.txt'}"], name="ana", download_dir=client_dir("ana")
    )

    assert result.returncode == 0, result
    assert result.has("Subido carpeta/dentro.txt ("), result
    assert (root / "carpeta" / "dentro.txt").read_bytes() == content


# --- refusals, by hand -------------------------------------------------------------------


def test_an_upload_over_the_limit_is_refused_before_any_byte(start_server, root):
    server = start_server(root=root, extra_args=(*UPLOADS_ON, "--max-upload-bytes", "1000"))
    with RawConnection(server.port, "ana") as ana:
        ana.join()
        announce(ana, b"x" * 1001, "grande.bin")
        refusal = ana.expect(
            lambda e: isinstance(e, (protocol.Error, protocol.UploadReady)), what="an answer"
        )
        assert isinstance(refusal, protocol.Error) and refusal.code == "too-big", refusal
        announce(ana, b"x" * 1000, "justo.bin")
        ana.expect(protocol.UploadReady)
        send_frames(ana, b"x" * 1000)
        ana.expect(protocol.UploadSaved)
    assert not (root / "grande.bin").exists()
    assert (root / "justo.bin").read_bytes() == b"x" * 1000


@pytest.mark.parametrize(
    "path",
    [".oculto", "a\\b", "no-existe/x.txt", "link-out/robado.txt", "carpeta", "/", "..", "carpeta/.."],
)
def test_a_path_that_cannot_take_an_upload_is_refused(start_server, tmp_path, root, path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link-out").symlink_to(outside)
    server = start_server(root=root, extra_args=UPLOADS_ON)
    with RawConnection(server.port, "ana") as ana:
        ana.join()
        announce(ana, b"secreto", path)
        ana.expect(error_coded("bad-path"))
        ana.who()  # still served
    assert names_in(outside) == []
    assert names_in(root) == ["carpeta", "existente.txt", "link-out"]
    assert names_in(root / "carpeta") == []


def test_dot_dot_never_climbs_above_the_root(start_server, tmp_path, root):
    server = start_server(root=root, extra_args=UPLOADS_ON)
    with RawConnection(server.port, "ana") as ana:
        ana.join()
        announce(ana, b"hola", "../../arriba.txt")
        assert ana.expect(protocol.UploadReady).path == "arriba.txt"
        send_frames(ana, b"hola")
        ana.expect(protocol.UploadSaved)
    assert (root / "arriba.txt").read_bytes() == b"hola"
    assert not (tmp_path / "arriba.txt").exists()


def test_a_wrong_digest_keeps_nothing(start_server, root):
    server = start_server(root=root, extra_args=UPLOADS_ON)
    content = random_bytes(300_000, seed=4)
    with RawConnection(server.port, "ana") as ana:
        ana.join()
        announce(ana, content, "dañado.bin", sha256=digest(b"otra cosa"))
        ana.expect(protocol.UploadReady)
        send_frames(ana, content)
        ana.expect(error_coded("corrupt"))
    assert names_in(root) == ["carpeta", "existente.txt"]


def test_data_without_an_accepted_put_is_refused_and_a_bad_frame_closes(start_server, root):
    server = start_server(root=root, extra_args=UPLOADS_ON)
    with RawConnection(server.port, "ana") as ana:
        ana.join()
        send_frames(ana, b"abc")
        ana.expect(error_coded("protocol"))
        ana.sock.sendall(b"ana> !DATA nada\n")
        ana.expect(error_coded("bad-frame"))
        ana.wait_closed()
    assert names_in(root) == ["carpeta", "existente.txt"]


def test_a_fast_upload_of_many_mib_is_never_held_in_memory(start_server, root):
    server = start_server(root=root, extra_args=UPLOADS_ON)
    block = random_bytes(1024 * 1024, seed=10)
    count = 128
    whole = hashlib.sha256()
    for _ in range(count):
        whole.update(block)
    frames = b"".join(
        protocol.encode(protocol.FileData("ana", block[start : start + FRAME]))
        for start in range(0, len(block), FRAME)
    )
    with RawConnection(server.port, "ana") as ana, RawConnection(server.port, "bob") as bob:
        ana.join()
        bob.join()
        before = rss_kib(server.pid)
        ana.send_line(f"put {len(block) * count} {whole.hexdigest()} grande.bin")
        ana.expect(protocol.UploadReady)
        for _ in range(count):
            ana.sock.sendall(frames)  # as fast as the server takes them
        ana.expect(protocol.UploadSaved, timeout=60)
        bob.who()
        growth = rss_kib(server.pid, peak=True) - before
    assert growth < RSS_GROWTH_LIMIT_KIB, f"server memory grew {growth} KiB for a {count} MiB upload"
    assert (root / "grande.bin").stat().st_size == len(block) * count


# --- failures mid-way: nothing under the final name, everyone else served ------------------


@pytest.mark.parametrize("ending", ["reset", "close"])
def test_a_client_gone_mid_upload_leaves_nothing_and_the_server_goes_on(start_server, root, ending):
    server = start_server(root=root, extra_args=UPLOADS_ON)
    content = random_bytes(2 * 1024 * 1024, seed=5)
    with RawConnection(server.port, "ana") as ana, RawConnection(server.port, "bob") as bob:
        ana.join()
        bob.join()
        announce(ana, content, "a medias.bin")
        ana.expect(protocol.UploadReady)
        send_frames(ana, content[: len(content) // 2])
        bob.send_line("get a medias.bin")
        bob.expect(error_coded("nofile"))  # nothing under the final name while it travels
        bob.send_line("hola, ana")
        ana.expect(message_containing("hola, ana"))  # chat goes on during the upload
        if ending == "reset":
            ana.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ana.close()  # a reset, or the plain close of a killed process: the size was not reached
        server.wait_for_log("put a medias.bin interrupted: nothing kept")
        bob.expect(message_containing("ana se ha ido"))
        bob.who()
    assert names_in(root) == ["carpeta", "existente.txt"]


def test_a_client_process_killed_mid_upload_leaves_nothing(start_server, start_client, root, local):
    """No race: the server is stopped while the upload's first frames pile up in the sockets,
    so the client is surely mid-way when it is killed."""
    server = start_server(root=root, extra_args=UPLOADS_ON)
    make_big_file(local / "grande.bin", 64 * 1024 * 1024)
    ana = start_client(server, "ana")
    joined = server.wait_for_log(re.compile(r"joined ana@127\.0\.0\.1:\d+"))
    ana_port = int(joined.rsplit(":", 1)[1])
    server.signal(signal.SIGSTOP)
    try:
        ana.send(f"put {local / 'grande.bin'}")
        wait_until(lambda: socket_receive_queue(server.port, ana_port) > 0, message="the put at the server")
        ana.signal(signal.SIGSTOP)  # it will find !GO when let go
    finally:
        server.signal(signal.SIGCONT)
    server.wait_for_log("receiving grande.bin")
    wait_until(lambda: socket_receive_queue(ana_port, server.port) > 0, message="!GO at the stopped client")
    server.signal(signal.SIGSTOP)
    try:
        ana.signal(signal.SIGCONT)
        wait_until(
            lambda: socket_receive_queue(server.port, ana_port) > 4096,
            message="upload frames waiting at the stopped server",
        )
        ana.kill()
    finally:
        server.signal(signal.SIGCONT)
    server.wait_for_log("put grande.bin interrupted: nothing kept")
    assert names_in(root) == ["carpeta", "existente.txt"]
    with RawConnection(server.port, "bob") as bob:
        bob.join()
        bob.who()


def test_put_of_something_not_a_regular_file_is_refused_by_the_client(start_server, client_dir, root, local):
    server = start_server(root=root, extra_args=UPLOADS_ON)
    fifo = local / "tuberia"
    os.mkfifo(fifo)
    result = run_client(
        server.port, [f"put {fifo}", f"put {local}"], name="ana", download_dir=client_dir("ana")
    )
    assert result.returncode == EXIT_TRANSFER_FAILED, result
    assert result.has(f"No se puede subir {fifo}: no es un archivo normal"), result
    assert result.has(f"No se puede subir {local}: no es un archivo normal"), result
    assert result.has("Subidas fallidas: 2") or "Subidas fallidas: 2" in result.stderr, result
    assert names_in(root) == ["carpeta", "existente.txt"]


@contextlib.contextmanager
def small_tmpfs(path: Path, megabytes: int):
    """A tmpfs of `megabytes` at `path` (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)], check=False
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_a_full_disk_refuses_up_front_or_mid_way_and_keeps_nothing(start_server, tmp_path):
    with small_tmpfs(tmp_path / "small", 40) as small:
        server = start_server(root=small, extra_args=UPLOADS_ON)
        with RawConnection(server.port, "ana") as ana:
            ana.join()
            announce(ana, b"\0" * (30 * 1024 * 1024), "no cabe.bin")  # 16 MiB must stay free
            ana.expect(error_coded("disk-full"))

            content = random_bytes(10 * 1024 * 1024, seed=6)
            announce(ana, content, "a medias.bin")
            ana.expect(protocol.UploadReady)
            make_file(small / "relleno.bin", 20 * 1024 * 1024, seed=7)  # the disk fills meanwhile
            send_frames(ana, content)
            ana.expect(error_coded("disk-full"))
            ana.sock.sendall(protocol.encode(protocol.FileAbort("ana", "refused")))

            (small / "relleno.bin").unlink()
            announce(ana, b"cabe", "cabe.txt")
            ana.expect(protocol.UploadReady)
            send_frames(ana, b"cabe")
            ana.expect(protocol.UploadSaved)
        assert names_in(small) == ["cabe.txt"]
        server.stop()


def test_an_upload_racing_a_download_of_the_same_name(start_server, root):
    server = start_server(root=root, extra_args=(*UPLOADS_ON, "--allow-overwrite"))
    old = make_file(root / "carrera.bin", 4 * 1024 * 1024, seed=8)
    new = random_bytes(1024 * 1024, seed=9)
    with RawConnection(server.port, "bob", receive_buffer=64 * 1024) as bob:
        bob.join()
        bob.send_line("get carrera.bin")
        bob.read_file_bytes(64 * 1024)  # the download runs, slowly read
        with RawConnection(server.port, "ana") as ana:
            ana.join()
            announce(ana, new, "carrera.bin")
            ana.expect(protocol.UploadReady)
            send_frames(ana, new)
            ana.expect(protocol.UploadSaved)
        bob.read_whole_file()
        assert bob.file.sha256 == digest(old), "the download announced the file it had opened"
        assert bob.file_digest.hexdigest() == digest(old), "and sent exactly that file"
    assert (root / "carrera.bin").read_bytes() == new
    assert names_in(root) == ["carpeta", "carrera.bin", "existente.txt"]
