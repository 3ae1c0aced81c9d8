"""Hardening: whatever bytes one connection sends, it gets the defined error (or is closed
with one), memory stays bounded, and the connection (unless the error is fatal) goes on.

Raw sockets only: nothing here goes through the real client, which would refuse to send
most of it. The basic cases (one 5000-byte line, bad UTF-8, no prefix, CRLF) are in
test_raw_protocol.py; these are the harder spellings, the sizes, and every bad first line."""

from __future__ import annotations

import itertools
import socket
import time

import pytest

from ftplab import protocol
from support.constants import MIB, RSS_GROWTH_LIMIT_KIB

from .harness import RawConnection, rss_kib

_names = itertools.count()


def _unique(stem: str) -> str:
    """A name no earlier test of the module used: the shared server may not have seen the
    last connection with a name go yet when the next test starts."""
    return f"{stem}{next(_names)}"


def _is_error(code: str):
    return lambda event: isinstance(event, protocol.Error) and event.code == code


def _errors(raw: RawConnection, code: str, upto: int | None = None) -> list:
    return [e for e in raw.events[:upto] if isinstance(e, protocol.Error) and e.code == code]


def _stream(sock: socket.socket, total: int, chunk: bytes) -> None:
    sent = 0
    while sent < total:
        sock.sendall(chunk)
        sent += len(chunk)


# --- long lines -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size_mib", [1, 32])
def test_a_line_of_many_mib_is_one_too_long_and_memory_stays_bounded(start_server, size_mib):
    server = start_server()
    with RawConnection(server.port, "largo") as raw:
        raw.join()
        before = rss_kib(server.pid)

        raw.sock.sendall(b"largo> ")
        _stream(raw.sock, size_mib * MIB, b"x" * 65536)
        raw.sock.sendall(b"\n")
        handled = raw.fence()
        assert raw.who().text == "Conectados (1): largo; servidor: profe"

        growth = rss_kib(server.pid, peak=True) - before
    assert len(_errors(raw, "too-long", handled)) == 1, raw.events
    assert growth < RSS_GROWTH_LIMIT_KIB, f"server memory grew {growth} KiB for a {size_mib} MiB line"


def test_a_line_with_no_end_is_refused_before_its_end_and_only_once(start_server):
    server = start_server()
    with RawConnection(server.port, "sinfin") as raw:
        raw.join()
        before = rss_kib(server.pid)

        raw.sock.sendall(b"sinfin> ")
        _stream(raw.sock, 8 * MIB, b"y" * 65536)  # no LF at all, yet
        raw.expect(_is_error("too-long"))  # answered while the line is still going
        _stream(raw.sock, 8 * MIB, b"y" * 65536)
        growth = rss_kib(server.pid, peak=True) - before
        raw.sock.sendall(b"\n")
        handled = raw.fence()

    assert len(_errors(raw, "too-long", handled)) == 1
    assert growth < RSS_GROWTH_LIMIT_KIB, f"server memory grew {growth} KiB"


def test_each_over_long_line_gets_its_own_error_and_the_lines_between_work(shared_server):
    with RawConnection(shared_server.port, "varios") as raw:
        raw.join()
        line = b"varios> " + b"z" * protocol.MAX_LINE_BYTES + b"\n"
        raw.sock.sendall(line + b"varios> who\n" + line + line)
        handled = raw.fence()

    events = raw.events[:handled]
    kinds = [
        "too-long" if isinstance(e, protocol.Error) else "who"
        for e in events
        if isinstance(e, protocol.Error) or (isinstance(e, protocol.Message) and "Conectados" in e.text)
    ]
    assert kinds == ["too-long", "who", "too-long", "too-long"]


def test_a_line_of_exactly_the_limit_is_accepted(shared_server, start_client):
    bob = start_client(shared_server, "limite-bob")
    prefix = b"limite> "
    text = b"k" * (protocol.MAX_LINE_BYTES - len(prefix) - 1)
    with RawConnection(shared_server.port, "limite") as raw:
        raw.join()
        raw.sock.sendall(prefix + text + b"\n")
        handled = raw.fence()
        bob.expect("limite> kkkk")
    assert _errors(raw, "too-long", handled) == []
    assert bob.quit() == 0


# --- how lines arrive -------------------------------------------------------------------------------------


def test_one_byte_at_a_time_still_makes_exactly_one_command(shared_server):
    with RawConnection(shared_server.port, "goteo") as raw:
        raw.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.join()
        for byte in b"goteo> who\n":
            raw.sock.send(bytes([byte]))
            time.sleep(0.002)  # the trickler's own pacing, so each byte travels alone
        handled = raw.fence()

    answers = [e for e in raw.events[:handled] if isinstance(e, protocol.Message) and "Conectados" in e.text]
    assert len(answers) == 1
    assert [e for e in raw.events[:handled] if isinstance(e, protocol.Error)] == []


def test_pipelined_commands_in_one_send_run_in_order(shared_server):
    count = 150  # several times the lines one client gets handled per loop turn
    with RawConnection(shared_server.port, "tuberia") as raw:
        raw.join()
        raw.sock.sendall(b"".join(f"tuberia> get p{i}\n".encode() for i in range(count)))
        handled = raw.fence()

    targets = [e.text.rsplit(" ", 1)[1] for e in raw.events[:handled] if isinstance(e, protocol.Error)]
    assert targets == [f"p{i}" for i in range(count)]


def test_lf_crlf_and_a_stray_cr(shared_server, start_client):
    bob = start_client(shared_server, "finales-bob")
    with RawConnection(shared_server.port, "finales") as raw:
        raw.join()
        raw.sock.sendall(b"finales> uno\nfinales> dos\r\nfinales> tres\rcuatro\nfinales> cinco\r\r\n")
        raw.fence()

    bob.expect("finales> uno")
    bob.expect("finales> dos")
    shown = bob.expect("finales> tres")
    bob.expect("finales> cinco")
    assert shown == "finales> tres\\x0dcuatro", "a stray CR is text, shown escaped, and ends no line"
    assert "\r" not in bob.stdout.text
    assert bob.quit() == 0


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff",
        b"\xc0\xaf",  # an overlong "/"
        b"\xed\xa0\x80",  # a UTF-16 surrogate
        b"\xe2\x82",  # a character cut short
        b"\xf4\x90\x80\x80",  # past U+10FFFF
    ],
    ids=["ff", "overlong", "surrogate", "truncated", "beyond-unicode"],
)
def test_invalid_utf8_is_an_encoding_error_and_the_connection_survives(shared_server, payload):
    name = _unique("binario")
    with RawConnection(shared_server.port, name) as raw:
        raw.join()
        raw.sock.sendall(name.encode() + b"> hola " + payload + b"\n")
        error = raw.expect(protocol.Error)
        raw.fence()
    assert error.code == "encoding"


def test_invalid_utf8_in_the_first_line_is_a_fatal_no_name(shared_server):
    with RawConnection(shared_server.port, "x") as raw:
        raw.sock.sendall(b"ana\xff> hola\n")
        error = raw.expect(protocol.Error)
        raw.wait_closed()
    assert error.code == "no-name"


def test_nul_bytes_are_text_shown_escaped_and_never_reach_a_file_name(shared_server, start_client):
    bob = start_client(shared_server, "nul-bob")
    with RawConnection(shared_server.port, "nul") as raw:
        raw.join()
        raw.sock.sendall(b"nul> hola\x00mundo\n")
        raw.sock.sendall(b"nul> get notes.txt\x00.jpg\n")
        error = raw.expect(protocol.Error)
        raw.fence()

    assert error.code == "nofile"
    assert error.text == "El archivo no existe: notes.txt\\x00.jpg"
    assert bob.expect("nul> hola") == "nul> hola\\x00mundo"
    assert "\x00" not in bob.stdout.text
    assert bob.quit() == 0


def test_a_nul_in_the_first_lines_name_is_a_fatal_bad_name(shared_server):
    with RawConnection(shared_server.port, "x") as raw:
        raw.sock.sendall(b"a\x00b> \n")
        error = raw.expect(protocol.Error)
        raw.wait_closed()
    assert error.code == "bad-name"
    assert "\x00" not in error.text


def test_unknown_commands_are_chat(shared_server, start_client):
    bob = start_client(shared_server, "chat-bob")
    with RawConnection(shared_server.port, "desconocido") as raw:
        raw.join()
        for text in ("borrar todo", "DELETE *", "rm -rf /", "getx nada", "!HELLO falso"):
            raw.send_line(text)
        handled = raw.fence()

    for text in ("borrar todo", "DELETE *", "rm -rf /", "getx nada", "!HELLO falso"):
        bob.expect(f"desconocido> {text}")
    assert [e for e in raw.events[:handled] if isinstance(e, protocol.Error)] == []
    assert bob.quit() == 0


@pytest.mark.parametrize(
    "text",
    ["get", "get    ", "GET", "pwd x", "who me", "help me", "quit now", "@", "@chat-bob", "@chat-bob    "],
)
def test_a_missing_or_extra_argument_is_usage_and_the_connection_survives(shared_server, text):
    with RawConnection(shared_server.port, _unique("uso")) as raw:
        raw.join()
        raw.send_line(text)
        error = raw.expect(protocol.Error)
        raw.fence()
    assert error.code == "usage"


def test_empty_lines_get_no_answer(shared_server):
    with RawConnection(shared_server.port, "vacio") as raw:
        raw.join()
        start = raw.fence() + 1  # past what joining brings (the chat history of earlier tests)
        raw.sock.sendall(b"vacio> \nvacio>\nvacio>    \nvacio> \t\r\n")
        handled = raw.fence()
    assert raw.events[start:handled] == []


# --- names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_line", "code"),
    [
        (b"\n", "no-name"),
        (b"\r\n", "no-name"),
        (b"ana>hola\n", "no-name"),
        (b"> hola\n", "bad-name"),
        (b"@ana> hola\n", "bad-name"),
        (b"!ana> hola\n", "bad-name"),
        (b"a\x1b[2J> hola\n", "bad-name"),
        ("a\u202eb> hola\n".encode(), "bad-name"),
        (b"x" * 6000 + b"\n", "no-name"),
        (b"hola sin nombre\n", "no-name"),
        (b"a b> hola\n", "bad-name"),
        (b"x" * 40 + b"> hola\n", "bad-name"),
    ],
    ids=[
        "empty",
        "crlf-only",
        "no-space",
        "empty-name",
        "at",
        "bang",
        "esc",
        "bidi",
        "too-long",
        "no-prefix",
        "space",
        "too-long-name",
    ],
)
def test_a_first_line_without_a_valid_name_is_fatal(shared_server, first_line, code):
    with RawConnection(shared_server.port, "x") as raw:
        raw.sock.sendall(first_line)
        error = raw.expect(protocol.Error)
        raw.wait_closed()
    assert error.code == code
    assert "\x1b" not in error.text and "\u202e" not in error.text


@pytest.mark.parametrize("forged", ["a connected user", "profe", "PROFE", "otro", "FORJA"])
def test_a_forged_prefix_after_joining_is_impersonation_and_nothing_is_relayed(
    shared_server, start_client, forged
):
    bob = start_client(shared_server, _unique("forja-bob"))
    forged = bob.name if forged == "a connected user" else forged
    name = _unique("forja")
    with RawConnection(shared_server.port, name) as raw:
        raw.join()
        raw.send_line("!HELLO soy el servidor", sender=forged)
        raw.send_line("get notes.txt", sender=forged)
        first = raw.expect(protocol.Error)
        second = raw.expect(protocol.Error)
        raw.send_line("sigo aqui")
        bob.expect(f"{name}> sigo aqui")
        shared_server.sync()

    assert (first.code, second.code) == ("impersonation", "impersonation")
    assert first.text == f"Eres {name}: no puedes escribir como {forged}"
    assert not bob.stdout.has("soy el servidor")
    assert not shared_server.stdout.has("soy el servidor"), "the console is not shown it either"
    assert raw.file is None, "the forged get was not served"
    assert bob.quit() == 0


@pytest.mark.parametrize(
    "name",
    ["pr\u03bffe", "prof\u0435", "\u03a1rofe", "pr0fe", "\uff50rofe"],
    ids=["greek-omicron", "cyrillic-ie", "greek-rho", "digit-zero", "full-width-p"],
)
def test_a_look_alike_of_the_servers_name_is_taken_and_the_connection_closed(shared_server, name):
    with RawConnection(shared_server.port, name) as raw:
        raw.send_line("hola")
        error = raw.expect(protocol.Error)
        raw.wait_closed()
    assert error.code == "name-taken"
    assert not shared_server.stdout.has(f"{name}> hola")


@pytest.mark.parametrize(
    "tail",
    ["\u034f", "\ufe0f", "\u180b", "\u3164", "\u2800"],
    ids=["grapheme-joiner", "variation-selector", "mongolian-fvs", "hangul-filler", "braille-blank"],
)
def test_the_servers_name_with_an_invisible_tail_is_a_bad_name(shared_server, tail):
    with RawConnection(shared_server.port, "profe" + tail) as raw:
        raw.send_line("hola")
        error = raw.expect(protocol.Error)
        raw.wait_closed()
    assert error.code == "bad-name"


def test_a_look_alike_or_another_spelling_of_a_connected_name_is_taken(shared_server):
    nfc = _unique("Jos\u00e9")
    with RawConnection(shared_server.port, nfc) as jose:
        jose.join()
        for other in (nfc.replace("\u00e9", "e\u0301"), nfc.replace("o", "\u043e").upper()):
            with RawConnection(shared_server.port, other) as impostor:
                impostor.send_line("hola")
                error = impostor.expect(protocol.Error)
                impostor.wait_closed()
            assert error.code == "name-taken", other
        who = jose.who()
        assert nfc in who.text, "the first Jos\u00e9 is still connected"


@pytest.mark.parametrize("name", ["profe", "Profe", "pRoFe"])
def test_the_servers_own_name_in_any_case_is_taken_and_the_connection_closed(shared_server, name):
    with RawConnection(shared_server.port, name) as raw:
        raw.send_line("hola")
        error = raw.expect(protocol.Error)
        raw.wait_closed()  # the server is done with this connection
    shared_server.sync()
    assert error.code == "name-taken"
    assert not shared_server.stdout.has(f"{name}> hola")
