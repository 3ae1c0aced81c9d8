"""Large downloads next to everything else: chat keeps flowing, other clients keep
being served, and nobody is hurt when one side of a transfer dies."""

from __future__ import annotations

import hashlib
import os
import re
import signal
from pathlib import Path

import pytest

from ftplab import protocol
from ftplab.messages import human_size

from .harness import (
    RawConnection,
    ServerProcess,
    files_open_in,
    frozen_mid_download,
    make_big_file,
    make_file,
    message_containing,
    partial_downloads,
    reader_window_full,
    run_client,
    wait_until,
)

BIG_SIZE = 256 * 1024 * 1024
MEDIUM_SIZE = 32 * 1024 * 1024
HASH_TIMEOUT = 30.0
"""The first download of a big file waits for the server to hash it."""


@pytest.fixture(scope="module")
def big_root(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("big") / "root"
    root.mkdir()
    return {
        "root": root,
        "big.bin": make_big_file(root / "big.bin", BIG_SIZE),
        "medium.bin": make_big_file(root / "medium.bin", MEDIUM_SIZE),
        "small.txt": make_file(root / "small.txt", 5000, seed=3),
    }


@pytest.fixture(scope="module")
def big_server(big_root):
    server = ServerProcess(big_root["root"])
    yield server
    server.stop()


def _start_slow_download(raw: RawConnection, name: str) -> protocol.FileStart:
    """Join, ask for `name` and take its header and a first bite of data, then stop reading."""
    raw.join()
    raw.send_line(f"get {name}")
    header = raw.expect(protocol.FileStart, timeout=HASH_TIMEOUT)
    raw.read_file_bytes(1)
    return header


def test_chat_keeps_arriving_during_a_256_MiB_download(big_server, big_root, start_client):
    bob = start_client(big_server, "bob")

    with RawConnection(big_server.port, "lector") as reader:
        header = _start_slow_download(reader, "big.bin")
        assert (header.size, header.sha256, header.name) == (BIG_SIZE, big_root["big.bin"], "big.bin")

        mark = len(big_server.stderr)
        bob.send("@lector hola mientras descargas")
        big_server.wait_for_log(re.compile(r"private bob@\S+ -> lector"), start=mark)
        private = reader.expect(message_containing("hola mientras descargas"))
        private_at = reader.file_bytes

        big_server.console("aviso para todos")
        bob.expect("profe> aviso para todos")  # handled, so it is queued for lector too
        broadcast = reader.expect(message_containing("aviso para todos"))
        broadcast_at = reader.file_bytes

        reader.read_whole_file(timeout=60)

    assert private.sender == "bob" and private.text == "(privado) hola mientras descargas"
    assert broadcast.sender == "profe"
    assert 0 < private_at <= broadcast_at < BIG_SIZE, "both lines came between chunks of the file"
    assert reader.file_bytes == BIG_SIZE
    assert reader.file_digest.hexdigest() == big_root["big.bin"], "chat did not corrupt the file"
    assert bob.quit() == 0


SLOW_READER_BUFFER = 16 * 1024
ONE_SMALL_FRAME_AND_THE_KERNELS_SHARE = 256 * 1024
"""What may come before a line to a reader that takes nothing: the rest of the frame under way
and what the kernels hold (pacing.py: frames of 16 KiB and as much unsent on a connection that
drains nothing; the reader's small window). A 1 MiB frame waiting in the outbox would not fit."""


def test_a_line_to_a_reader_that_takes_nothing_waits_for_one_small_frame_not_a_whole_one(
    big_server, start_client
):
    bob = start_client(big_server, "bob")

    with RawConnection(big_server.port, "parada", receive_buffer=SLOW_READER_BUFFER) as reader:
        _start_slow_download(reader, "big.bin")
        reader_port = reader.sock.getsockname()[1]
        wait_until(lambda: reader_window_full(big_server.port, reader_port), message="the reader full")

        big_server.console("aviso a la que no lee")
        bob.expect("profe> aviso a la que no lee")  # handled, so it is queued for parada too
        reader.expect(message_containing("aviso a la que no lee"))
        line = next(a for a in reader.arrivals if "aviso a la que no lee" in getattr(a.event, "text", ""))
        reader.read_whole_file(timeout=60)

    assert 0 < line.file_offset < ONE_SMALL_FRAME_AND_THE_KERNELS_SHARE, (
        f"{line.file_offset} file bytes came before the line"
    )
    assert reader.file_bytes == BIG_SIZE
    assert bob.quit() == 0


def test_the_downloading_client_gets_answers_to_its_own_commands_mid_download(big_server):
    with RawConnection(big_server.port, "curiosa") as reader:
        _start_slow_download(reader, "big.bin")

        reader.send_line("who")
        reader.expect(message_containing("Conectados ("))

        assert reader.file_bytes < BIG_SIZE


def test_list_is_answered_while_another_client_downloads_slowly(big_server, client_dir):
    with RawConnection(big_server.port, "tortuga") as reader:
        _start_slow_download(reader, "big.bin")

        result = run_client(big_server.port, ["list"], name="liebre", download_dir=client_dir("liebre"))

        assert result.returncode == 0, result
        assert result.has(re.compile(rf"^profe> +{re.escape(human_size(BIG_SIZE))}  .*  big\.bin$")), result
        assert result.has(re.compile(r"^profe> +4\.9 KiB  .*  small\.txt$")), result
        assert reader.file_bytes < BIG_SIZE, "the slow download was still going on"


def test_server_survives_a_client_killed_mid_download(big_server, big_root, start_client, client_dir):
    victim = start_client(big_server, "victima")

    with frozen_mid_download(big_server, victim, "big.bin"):
        victim.signal(signal.SIGKILL)

    assert victim.wait() == -signal.SIGKILL
    big_server.wait_for_log(re.compile(r"disconnect victima@"))
    downloads = client_dir("superviviente")
    result = run_client(big_server.port, ["get small.txt"], name="superviviente", download_dir=downloads)
    assert result.returncode == 0, result
    assert (downloads / "small.txt").read_bytes() == big_root["small.txt"]
    assert not (victim.download_dir / "big.bin").exists()


def test_client_keeps_no_file_when_the_server_dies_mid_download(big_root, start_server, start_client):
    server = start_server(root=big_root["root"])
    client = start_client(server, "ana")

    with frozen_mid_download(server, client, "medium.bin"):
        server.kill()

    assert client.wait() == 1
    assert client.stdout.has("Descargando medium.bin"), "the download had started"
    assert "Se ha perdido la conexión con el servidor" in client.stderr.text
    assert not (client.download_dir / "medium.bin").exists(), "no partial file under the final name"
    assert list(client.download_dir.iterdir()) == [], "and no temporary file left behind"


def test_a_file_that_shrinks_mid_download_is_aborted_and_the_session_goes_on(
    tmp_path, start_server, start_client
):
    root = tmp_path / "shrinking"
    root.mkdir()
    make_big_file(root / "encoge.bin", MEDIUM_SIZE)
    server = start_server(root=root)
    client = start_client(server, "ana")

    with frozen_mid_download(server, client, "encoge.bin"):
        os.truncate(root / "encoge.bin", 1000)

    client.expect("profe> Transferencia interrumpida: encoge.bin")
    client.sync()
    assert client.quit() == 4, "a get that failed: exit status 4"
    assert list(client.download_dir.iterdir()) == [], "no partial file, no temporary file"
    server.wait_for_log("encoge.bin shrank while being sent to ana@")


def test_sigterm_with_a_stalled_download_stops_promptly_and_keeps_the_stream_framed(big_root, start_server):
    server = start_server(root=big_root["root"])

    with RawConnection(server.port, "atascado") as reader:
        _start_slow_download(reader, "medium.bin")
        local_port = reader.sock.getsockname()[1]
        wait_until(lambda: reader_window_full(server.port, local_port), message="our socket full")

        server.stop()
        reader.wait_closed(timeout=30)  # raises if any frame was cut short

    # The server did not wait for the reader: it gave up on it after its grace and reset it.
    assert server.stderr.has(
        re.compile(r"reset atascado@\S+: it had not read the goodbye and closed in time")
    )
    assert 0 < reader.file_bytes < MEDIUM_SIZE


def test_a_reader_that_stops_reading_is_dropped_after_the_data_timeout(
    big_root, start_server, start_client, client_dir
):
    server = start_server(root=big_root["root"], data_timeout=1)
    ana = start_client(server, "ana")

    with RawConnection(server.port, "parado") as reader:
        _start_slow_download(reader, "medium.bin")

        server.wait_for_log(re.compile(r"disconnect parado@\S+ \(no data taken for 1 s\)"))
        ana.expect("profe> parado se ha ido")
        reader.wait_closed(timeout=30)

    assert reader.file_bytes < MEDIUM_SIZE
    ana.sync()
    assert ana.quit() == 0


def test_a_client_downloads_a_big_file_completely(big_root, big_server, client_dir):
    downloads: Path = client_dir("completo")

    result = run_client(
        big_server.port, ["get medium.bin"], name="completo", download_dir=downloads, timeout=60
    )

    assert result.returncode == 0, result
    assert result.has(
        re.compile(
            rf"^Guardado {re.escape(str(downloads / 'medium.bin'))} "
            r"\(32\.0 MiB en [\d.]+ s, [\d.]+ [KMG]?i?B/s, SHA-256 verificado\)$"
        )
    ), result
    assert partial_downloads(downloads) == []
    assert (downloads / "medium.bin").stat().st_size == MEDIUM_SIZE


def test_two_clients_download_the_same_file_at_once(big_root, big_server, start_client):
    clients = [start_client(big_server, name) for name in ("gemelo1", "gemelo2")]

    for client in clients:
        client.send("get medium.bin")
    for client in clients:
        client.expect("Guardado ", timeout=60)
        assert client.quit() == 0

    for client in clients:
        saved = client.download_dir / "medium.bin"
        assert saved.stat().st_size == MEDIUM_SIZE
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == big_root["medium.bin"]


def test_a_client_terminated_mid_download_leaves_no_file(big_server, start_client):
    client = start_client(big_server, "impaciente")

    with frozen_mid_download(big_server, client, "big.bin"):
        big_server.signal(signal.SIGSTOP)  # the client wakes up to a download that cannot end
    try:
        client.expect("Descargando big.bin")
        wait_until(
            lambda: files_open_in(client.pid, client.download_dir), message="the download's temporary file"
        )
        client.signal(signal.SIGTERM)
        assert client.wait() == 128 + signal.SIGTERM
    finally:
        big_server.signal(signal.SIGCONT)

    assert list(client.download_dir.iterdir()) == [], "neither big.bin nor its temporary file"
    big_server.wait_for_log(re.compile(r"disconnect impaciente@"))
