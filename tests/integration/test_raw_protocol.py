"""The server against hand-made bytes: whatever one connection sends, it gets an error and
the server (and that connection, unless the error is fatal) keeps going."""

from __future__ import annotations

import hashlib

import pytest

from ftplab import protocol

from .harness import RawConnection, message_containing, random_bytes


def test_a_first_line_can_carry_a_command(shared_server):
    with RawConnection(shared_server.port, "directa") as raw:
        raw.send_line("who")
        raw.expect(protocol.Hello)
        who = raw.expect(message_containing("Conectados ("))
    assert "directa" in who.text


def test_crlf_line_endings_are_accepted(shared_server):
    with RawConnection(shared_server.port, "windows") as raw:
        raw.sock.sendall(b"windows> \r\nwindows> who\r\n")
        raw.expect(protocol.Hello)
        who = raw.expect(message_containing("Conectados ("))
    assert "windows" in who.text


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"x" * 5000 + b"\n", "too-long"),
        (b"malo> hola \xff\xfe\n", "encoding"),
        (b"sin prefijo\n", "no-prefix"),
    ],
    ids=["too-long", "bad-utf8", "no-prefix"],
)
def test_a_bad_line_after_joining_is_an_error_and_the_connection_survives(shared_server, line, code):
    with RawConnection(shared_server.port, "malo") as raw:
        raw.join()
        raw.sock.sendall(line)
        error = raw.expect(protocol.Error)
        raw.fence()
    assert error.code == code


def test_an_abrupt_disconnect_is_announced_and_forgotten(start_server, start_client):
    server = start_server()
    ana = start_client(server, "ana")

    with RawConnection(server.port, "fugaz") as raw:
        raw.join()
        ana.expect("profe> fugaz se ha unido")

    ana.expect("profe> fugaz se ha ido")
    ana.send("who")
    ana.expect("profe> Conectados (1): ana")
    assert ana.quit() == 0


def test_many_connections_at_once_all_get_the_chat(start_server, start_client):
    server = start_server()
    speaker = start_client(server, "orador")
    listeners = [RawConnection(server.port, f"oyente{i}") for i in range(40)]
    try:
        for raw in listeners:
            raw.join()
        speaker.send("hola a los cuarenta")
        for raw in listeners:
            chat = raw.expect(message_containing("hola a los cuarenta"))
            assert chat.sender == "orador"
    finally:
        for raw in listeners:
            raw.close()
    assert speaker.quit() == 0


def test_resume_sends_only_the_rest_and_the_whole_files_digest_or_all_of_a_changed_file(start_server):
    server = start_server()
    content = random_bytes(700_000, seed=7)
    (server.root / "grande.bin").write_bytes(content)
    held = content[:300_000]
    with RawConnection(server.port, "ana") as raw:
        raw.join()
        raw.send_line(protocol.resume_command(len(held), hashlib.sha256(held).hexdigest(), "grande.bin"))
        header = raw.expect(protocol.FileResume)
        raw.read_file_bytes(len(content) - len(held), max_bytes=1 << 20)

        assert (header.offset, header.size, header.name) == (len(held), len(content), "grande.bin")
        assert header.sha256 == hashlib.sha256(content).hexdigest()
        assert raw.file_digest.hexdigest() == hashlib.sha256(content[len(held) :]).hexdigest()

        changed = b"X" + held[1:]
        raw.send_line(
            protocol.resume_command(len(changed), hashlib.sha256(changed).hexdigest(), "grande.bin")
        )
        whole = raw.expect(protocol.FileStart)
        raw.read_whole_file()
        assert (whole.size, raw.file_digest.hexdigest()) == (
            len(content),
            hashlib.sha256(content).hexdigest(),
        )
