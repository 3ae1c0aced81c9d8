"""Protocol 2: data in fields (`!PROTO`, `!ENTRY`, `!REFUSED`), so no program reads a sentence.
A client that announces no version gets exactly what it got before."""

from __future__ import annotations

import os

import pytest
from test_handlers import FakeDownloads, FakeRoom, line

from ftplab import protocol
from ftplab.handlers import Handlers
from ftplab.session import Session
from ftplab.storage import Storage


def _round_trip(event):
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(protocol.encode(event))
    return receiver.next_event()


@pytest.mark.parametrize(
    "event",
    [
        protocol.Version("profe", 2),
        protocol.ListEntry("profe", "f", 1536, 1764661234, "notas de clase.txt"),
        protocol.ListEntry("profe", "d", 0, 0, "fotos"),
        protocol.Refused("profe", "nofile", "a b.txt"),
    ],
)
def test_each_field_event_travels_whole(event):
    assert _round_trip(event) == event


@pytest.mark.parametrize(
    "text",
    ["!ENTRY x 1 1 a", "!ENTRY f 1 1", "!ENTRY f -1 1 a", "!REFUSED nofile", "!PROTO two", "!ENTRY f 1 1x a"],
)
def test_a_malformed_field_line_breaks_the_stream(text):
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(f"profe> {text}\n".encode())
    with pytest.raises(protocol.BadFrame):
        receiver.next_event()


def test_a_client_announcing_protocol_2_is_told_so_after_the_welcome(tmp_path, sockets):
    room = FakeRoom()
    handlers = Handlers(room, FakeDownloads(), Storage(str(tmp_path)))
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_line(session, protocol.Line("ana", "!JOIN lang=en proto=2"), 0.0)
    assert session.protocol_version == 2
    sent = [args[1] for args, _ in room.called("send_event")]
    assert sent[0] == protocol.Version(room.name, 2), "the version spoken to it, not a later one"


@pytest.mark.parametrize("join", ["", "!JOIN lang=en", "!JOIN proto=x", "!JOIN proto=1"])
def test_an_older_client_gets_no_version_line(tmp_path, sockets, join):
    room = FakeRoom()
    handlers = Handlers(room, FakeDownloads(), Storage(str(tmp_path)))
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_line(session, protocol.Line("ana", join), 0.0)
    assert session.protocol_version == 1
    assert not any(isinstance(args[1], protocol.Version) for args, _ in room.called("send_event"))


def test_a_later_client_is_spoken_to_in_this_servers_version(tmp_path, sockets):
    handlers = Handlers(FakeRoom(), FakeDownloads(), Storage(str(tmp_path)))
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    handlers.on_line(session, protocol.Line("ana", "!JOIN proto=7"), 0.0)
    assert session.protocol_version == protocol.VERSION


def _listing(tmp_path, sockets, version: int) -> list:
    (tmp_path / "notas.txt").write_bytes(b"x" * 1536)
    (tmp_path / "fotos").mkdir()
    os.utime(tmp_path / "notas.txt", (1764661234, 1764661234))
    room = FakeRoom()
    handlers = Handlers(room, FakeDownloads(), Storage(str(tmp_path)))
    session = Session(sockets(), ("127.0.0.1", 1), now=0.0)
    room.add_member(session, "ana")
    session.protocol_version = version
    handlers.on_line(session, line(session, "list"), 0.0)
    ((_, texts), _) = room.called("reply_in_pieces")[0]
    return list(texts)


def test_a_protocol_2_listing_is_a_header_then_one_entry_per_file_or_folder(tmp_path, sockets):
    header, *entries = _listing(tmp_path, sockets, 2)
    assert header == "Archivos en el servidor (2):"
    assert entries == [
        protocol.ListEntry("profe", "d", 0, int((tmp_path / "fotos").stat().st_mtime), "fotos"),
        protocol.ListEntry("profe", "f", 1536, 1764661234, "notas.txt"),
    ]


def test_an_older_clients_listing_is_text_as_before(tmp_path, sockets):
    header, folder, file = _listing(tmp_path, sockets, 1)
    assert folder.endswith("  fotos/") and "<dir>" in folder
    assert file.startswith("   1.5 KiB  ") and file.endswith("  notas.txt")
