"""tools/wireshark/ftplab.lua on captures made here, byte by byte: lines and payloads split
across TCP segments at awkward places, payload bytes that look like lines, and a `!DATA`
frame far bigger than today's limit (the dissector reads n from the line). The capture of a
real lab session is decoded in tests/e2e/test_classroom.py."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ftplab.protocol import (
    Earlier,
    Error,
    FileData,
    FileResume,
    Hello,
    ListEntry,
    Message,
    Queued,
    Refused,
    UploadReady,
    UploadSaved,
    Version,
    encode,
    encode_command,
    encode_data_header,
    join_text,
)
from support.tshark import decode, require_tshark

CLIENT, SERVER = (10, 0, 0, 2), (10, 0, 0, 1)
CLIENT_PORT, SERVER_PORT = 40000, 2121
BIG_FRAME = 600_000  # bigger than the 262144 bytes protocol.py sends today
SEGMENT = 1400


class Capture:
    """A pcap of one TCP connection, written segment by segment (Ethernet, IPv4, TCP)."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self.seq = {True: 1000, False: 5000}  # to_server -> next sequence number

    def send(self, to_server: bool, *segments: bytes) -> None:
        for payload in segments:
            self.packets.append(self._frame(to_server, payload))
            self.seq[to_server] += len(payload)

    def _frame(self, to_server: bool, payload: bytes) -> bytes:
        src, dst = (CLIENT, SERVER) if to_server else (SERVER, CLIENT)
        sport, dport = (CLIENT_PORT, SERVER_PORT) if to_server else (SERVER_PORT, CLIENT_PORT)
        tcp = struct.pack(
            "!HHIIBBHHH",
            sport,
            dport,
            self.seq[to_server],
            self.seq[not to_server],
            5 << 4,
            0x18,
            65535,
            0,
            0,
        )
        ip = struct.pack(
            "!BBHHHBBH4B4B", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0x4000, 64, 6, 0, *src, *dst
        )
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        ethernet = bytes.fromhex("0200000000010200000000020800")
        return ethernet + ip + tcp + payload

    def write(self, path: Path) -> Path:
        with path.open("wb") as out:
            out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
            for number, packet in enumerate(self.packets):
                out.write(struct.pack("<IIII", 1_700_000_000, number, len(packet), len(packet)) + packet)
        return path


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pieces(data: bytes, size: int = SEGMENT) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


@pytest.fixture
def session_capture(tmp_path: Path) -> Path:
    """ana joins, lists, gets two files (one in two frames, one in a single huge frame),
    asks for a missing one, and quits; bob chats in the middle of a download."""
    require_tshark()
    small = bytes(range(256)) + b"\nprofe> !ERR fake not a line\n"  # payload that looks like lines
    big = bytes(i % 251 for i in range(BIG_FRAME))
    capture = Capture()
    capture.send(True, b"ana> \n")
    capture.send(False, b"profe> !HELLO Hola, ana.\n")
    capture.send(True, b"ana> li", b"st\nana> get notas.bin\n")  # a line split in two segments
    capture.send(False, b"profe> Archivos en el servidor (2):\n")
    header = f"profe> !FILE {len(small)} {'ab' * 32} notas.bin\nprofe> !DA".encode()
    capture.send(False, header, b"TA 200\n" + small[:100], small[100:200] + b"bob> hola a todos\nprofe> !")
    capture.send(False, f"DATA {len(small) - 200}\n".encode() + small[200:])
    capture.send(True, b"ana> get grande.bin\n")
    capture.send(False, f"profe> !FILE {len(big)} {'cd' * 32} grande.bin\nprofe> !DATA {len(big)}\n".encode())
    capture.send(False, *_pieces(big))
    capture.send(True, b"ana> get nada.txt\n")
    capture.send(False, b"profe> !ERR nofile El archivo no existe: nada.txt\n")
    capture.send(True, b"ana> @bob hola\n", b"ana> quit\n")
    capture.send(False, "profe> !BYE Adiós, ana\n".encode())
    return capture.write(tmp_path / "session.pcap")


def test_decodes_names_commands_and_control_lines(session_capture: Path):
    fields = decode(session_capture)
    assert set(fields["sender"]) == {"ana", "profe", "bob"}
    assert fields["command"] == ["join", "list", "get", "get", "get", "private", "quit"]
    assert fields["control"] == ["HELLO", "FILE", "DATA", "DATA", "FILE", "DATA", "ERR", "BYE"]
    assert fields["err.code"] == ["nofile"], "bytes inside a payload are not a line"
    assert "hola a todos" in fields["text"], "chat between two frames of a download"
    assert fields["file.name"] == ["notas.bin", "grande.bin"]


def test_data_frames_add_up_to_each_file_and_are_marked_with_its_name(session_capture: Path):
    fields = decode(session_capture)
    lengths = [int(length) for length in fields["data.length"]]
    sizes = [int(size) for size in fields["file.size"]]
    assert lengths == [200, sizes[0] - 200, BIG_FRAME]
    assert sum(lengths) == sum(sizes)
    assert fields["download"] == ["notas.bin", "notas.bin", "grande.bin"]


def encoded(*events) -> bytes:
    return b"".join(encode(event) for event in events)


@pytest.fixture
def fields_capture(tmp_path: Path) -> Path:
    """A protocol-3 session, its lines made by ftplab's own encoders: ana joins announcing
    proto=3, gets the chat said before, lists, is refused a file, resumes one, queues two,
    and uploads one whose bytes look like lines."""
    require_tshark()
    upload = b"profe> !ERR fake not a line\n" + bytes(range(256))
    capture = Capture()
    capture.send(True, encode_command("ana", join_text({"lang": "es", "proto": "3"})))
    capture.send(False, encode(Hello("profe", "Hola, ana.")) + encode(Version("profe", 3)))
    capture.send(False, encoded(Earlier("profe", "bob", "hola a todos"), Earlier("profe", "carol", "qué")))
    capture.send(True, encode_command("ana", "list"))
    capture.send(
        False,
        encode(Message("profe", "Archivos en el servidor (2):"))
        + encode(ListEntry("profe", "d", 0, 1_700_000_000, "fotos"))
        + encode(ListEntry("profe", "f", 300, 1_700_003_600, "canción de prueba.txt")),
    )
    capture.send(True, encode_command("ana", "get nada.txt"))
    capture.send(False, encoded(Refused("profe", "nofile", "nada.txt"), Error("profe", "nofile", "No hay")))
    capture.send(True, encode_command("ana", f"resume 100 {'ab' * 32} notas.bin"))
    capture.send(False, encode(FileResume("profe", 100, 300, "cd" * 32, "notas.bin")))
    capture.send(False, encode(FileData("profe", bytes(200))))
    capture.send(True, encode_command("ana", "mget *.txt"))
    capture.send(False, encode(Queued("profe", "a.txt")) + encode(Queued("profe", "b.txt")))
    capture.send(True, encode_command("ana", f"put {len(upload)} {'ef' * 32} subida.bin"))
    capture.send(False, encode(UploadReady("profe", "subida.bin")))
    capture.send(True, encode_data_header("ana", len(upload)) + upload[:20], upload[20:])
    capture.send(False, encode(UploadSaved("profe", len(upload), "subida.bin")))
    return capture.write(tmp_path / "fields.pcap")


def test_decodes_the_fields_of_protocol_versions_2_and_3(fields_capture: Path):
    fields = decode(fields_capture)
    assert fields["join.option"] == ["lang=es", "proto=3"]
    assert fields["proto.version"] == ["3"]
    assert fields["earlier.sender"] == ["bob", "carol"]
    assert fields["earlier.text"] == ["hola a todos", "qué"]
    assert fields["entry.kind"] == ["d", "f"]
    assert fields["entry.size"] == ["0", "300"]
    assert [mtime[:20] for mtime in fields["entry.mtime"]] == ["Nov 14, 2023 22:13:2", "Nov 14, 2023 23:13:2"]
    assert fields["entry.name"] == ["fotos", "canción de prueba.txt"]
    assert fields["refused.code"] == ["nofile"]
    assert fields["refused.name"] == ["nada.txt"]
    assert fields["err.code"] == ["nofile"], "bytes inside an upload are not a line"
    assert fields["resume.offset"] == ["100"]
    assert fields["queued.name"] == ["a.txt", "b.txt"]
    assert fields["upload.path"] == ["subida.bin", "subida.bin"]


def test_commands_and_arguments_of_a_protocol_3_client(fields_capture: Path):
    fields = decode(fields_capture)
    assert fields["command"] == ["join", "list", "get", "resume", "mget", "put", "control"]
    assert fields["argument"][:3] == ["nada.txt", f"100 {'ab' * 32} notas.bin", "*.txt"]
    assert fields["data.length"] == ["200", str(28 + 256)], "an upload's payload, sent by the client"
    assert fields["download"] == ["notas.bin"], "a resumed download is followed from its offset"
    assert fields["file.size"] == ["300", str(28 + 256)]
