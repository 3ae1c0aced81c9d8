"""`cancel`: a download asked for stops without leaving (issue 18, item 5), by hand on the
protocol (RawConnection) and through the real client at a terminal."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

from ftplab import protocol

from .harness import SERVER_NAME, FakeServer, RawConnection, TerminalClient

BIG = 64 * 1024 * 1024
"""Far more than the kernel's buffers hold, so the download is under way when `cancel` arrives."""


def _big_file(path) -> None:
    with open(path, "wb") as file:
        file.truncate(BIG)  # sparse: no memory, no disk


def _join_v2(raw: RawConnection) -> None:
    raw.send_line(protocol.join_text({"lang": "es", "proto": "2"}))
    raw.expect(protocol.Hello)
    raw.expect(protocol.Version)


@contextlib.contextmanager
def _asking_for_the_big_file(start_server) -> Iterator[RawConnection]:
    """A server with grande.bin (BIG) and nota.txt, and ana (protocol 2, a small receive
    buffer) who has just asked for grande.bin."""
    server = start_server()
    _big_file(server.root / "grande.bin")
    (server.root / "nota.txt").write_bytes(b"nota\n")
    with RawConnection(server.port, "ana", receive_buffer=64 * 1024) as raw:
        _join_v2(raw)
        raw.send_line("get grande.bin")
        yield raw


def test_cancel_ends_the_download_under_way_with_an_abort_and_the_session_goes_on(start_server):
    with _asking_for_the_big_file(start_server) as raw:
        raw.expect(protocol.FileStart)
        raw.read_file_bytes(1, max_bytes=16 * 1024)  # under way, far from its end
        raw.send_line("cancel grande.bin")
        abort = raw.expect(protocol.FileAbort, max_bytes=1 << 20)
        assert abort.text == "Descarga cancelada: grande.bin"
        assert raw.file_bytes < BIG, "stopped before its end"
        raw.send_line("get nota.txt")
        raw.expect(protocol.FileStart)
        raw.read_whole_file()
        assert raw.file_digest.hexdigest() == hashlib.sha256(b"nota\n").hexdigest()


def test_cancel_of_a_queued_download_takes_it_out_of_the_queue(start_server):
    with _asking_for_the_big_file(start_server) as raw:
        raw.send_line("get nota.txt")
        raw.expect(protocol.FileStart)
        raw.send_line("cancel nota.txt")
        refused = raw.expect(protocol.Refused, max_bytes=16 * 1024)
        assert (refused.code, refused.name) == ("cancelled", "nota.txt")
        raw.read_whole_file()
        raw.fence()
        names = [event.name for event in raw.events if isinstance(event, protocol.FileStart)]
        assert names == ["grande.bin"], "nota.txt never sent"


def test_cancel_of_nothing_asked_is_an_error_that_names_it(start_server):
    server = start_server()
    with RawConnection(server.port, "ana") as raw:
        _join_v2(raw)
        raw.send_line("cancel nada.txt")
        error = raw.expect(protocol.Error)
        assert (error.code, error.text) == ("nofile", "No hay ninguna descarga tuya de nada.txt que cancelar")


def test_ctrl_c_at_a_terminal_cancels_the_download_and_the_client_stays(client_dir):
    """A FakeServer holds the download at 31 %: the first Ctrl-C asks the server to cancel it."""
    content = bytes(range(256)) * 4
    digest = hashlib.sha256(content).hexdigest()
    hello = f"{SERVER_NAME}> !HELLO Hola, ana.\n{SERVER_NAME}> !PROTO 2\n".encode()
    first_part = f"{SERVER_NAME}> !FILE {len(content)} {digest} grande.bin\n".encode()
    first_part += f"{SERVER_NAME}> !DATA 318\n".encode() + content[:318]
    cancelled = f"{SERVER_NAME}> !ABORT Descarga cancelada: grande.bin\n".encode()
    downloads = client_dir("ana")
    with (
        FakeServer(hello + first_part, after=b"ana> get grande.bin\n", before_bye=cancelled) as server,
        TerminalClient(server.port, "ana", downloads) as ana,
    ):
        ana.type("get grande.bin\r")
        ana.wait_for("[grande.bin 31 %")
        ana.type("\x03")
        ana.wait_for("Cancelando la descarga de grande.bin; Ctrl-C otra vez para salir ya")
        ana.type("quit\r")
        ana.wait_for("Descarga cancelada: grande.bin")
        assert ana.wait() == 0, "a cancelled download is no failure"
    assert b"ana> cancel grande.bin\n" in server.received
    assert list(downloads.iterdir()) == []
