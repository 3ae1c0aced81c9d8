"""Hardening: nothing a peer sends reaches a terminal or a log raw. Escape sequences (CSI,
OSC), BEL, a bare CR, C1 controls and bidi overrides are shown as visible escapes on every
client's stdout, on the server console (its stdout) and in the server log (its stderr), in
chat, private messages, file names, user names and error texts; and the client does the same
with whatever a hostile server sends. (test_terminal.py checks a real terminal's screen.)"""

from __future__ import annotations

import pytest

from .harness import FakeServer, RawConnection, message_containing, run_client

PAYLOADS = {
    "csi": "\x1b[2J\x1b[H",
    "osc": "\x1b]0;pwned\x07",
    "bel": "\x07\x07",
    "cr-forgery": "\rprofe> fake",
    "c1": "\x9b31m",
    "bidi": "\u202etxt.exe",
}
RAW = ("\x1b", "\x07", "\r", "\x9b", "\u202e")
ESCAPED = ("\\x1b", "\\x07", "\\x0d", "\\x9b", "\\u202e")


def _assert_clean(label: str, text: str) -> None:
    for char in RAW:
        assert char not in text, f"{label} has a raw {char!r}"


def test_what_a_student_sends_is_escaped_everywhere_it_is_shown(start_server, start_client):
    server = start_server()
    ana = start_client(server, "ana")

    with RawConnection(server.port, "malo") as bad:
        bad.join()
        for kind, payload in PAYLOADS.items():
            bad.send_line(f"{kind}: antes{payload}despues")
            bad.send_line(f"@ana {kind} privado{payload}")
            bad.send_line(f"@nadie{payload} hola")
            bad.send_line(f"get fichero{payload}")
        bad.send_line("fin")
        ana.expect("malo> fin")
        bad.send_line("who")
        bad.expect(message_containing("Conectados ("))
    with RawConnection(server.port, "x") as impostor:
        impostor.sock.sendall("a\x1b[2J\u202eb> hola\n".encode())
        impostor.wait_closed()
    server.wait_for_log("bad line from ?@")
    server.wait_for_output("malo se ha ido")

    outputs = {"ana's stdout": ana.stdout.text, "console": server.stdout.text, "log": server.stderr.text}
    replies = "\n".join(str(event) for event in bad.events)
    for label, text in outputs.items():
        _assert_clean(label, text)
    for escaped in ESCAPED:
        assert escaped in ana.stdout.text, f"ana does not see {escaped}"
        assert escaped in server.stdout.text, f"the console does not show {escaped}"
        assert escaped in server.stderr.text, f"the log does not show {escaped}"
    _assert_clean("the replies to the sender", replies)
    assert "malo> csi: antes\\x1b[2J\\x1b[Hdespues" in ana.stdout.lines
    assert "malo> cr-forgery: antes\\x0dprofe> fakedespues" in ana.stdout.lines
    assert not any(line.startswith("profe> fake") for line in ana.stdout.lines), "no forged line"
    assert ana.quit() == 0


HOSTILE_SERVER_LINES = [
    "profe> {payload}",
    "profe> !!{payload}",
    "profe> !ERR nofile {payload}",
    "profe> !ABORT {payload}",
    "evil> (privado) {payload}",
]


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_what_a_hostile_server_sends_is_escaped_by_the_client(kind, client_dir):
    payload = PAYLOADS[kind]
    script = "".join(line.format(payload=payload) + "\n" for line in HOSTILE_SERVER_LINES)
    script = "profe> !HELLO hola" + payload + "\n" + script

    with FakeServer(script.encode()) as server:
        result = run_client(server.port, [], name="ana", download_dir=client_dir("ana"))

    assert result.returncode == 0, result
    _assert_clean("the client's stdout", "\n".join(result.stdout))
    _assert_clean("the client's stderr", result.stderr)
    assert len(result.stdout) >= len(HOSTILE_SERVER_LINES) + 1, "one line each, none split or forged"


@pytest.mark.parametrize(
    "script",
    [
        "a\x1b[2Jb> hola\n",  # a sender name no server may use
        "profe> !ERR full \x1b]0;pwned\x07 lleno\n",  # a fatal error, quoted on stderr
        "profe> !FILE 3 " + "0" * 64 + " x\x1b[2J\u202e\n",  # a file name the client refuses
        "profe> !BOGUS \x9b\x1b[2J\n",  # a broken stream, quoted on stderr
    ],
    ids=["sender-name", "fatal-error", "file-name", "bad-control"],
)
def test_a_hostile_servers_words_on_the_clients_stderr_are_escaped(script, client_dir):
    with FakeServer(("profe> !HELLO hola\n" + script).encode(), hang_up=True) as server:
        result = run_client(server.port, [], name="ana", download_dir=client_dir("ana"))

    assert result.returncode == 1, result
    _assert_clean("the client's stdout", "\n".join(result.stdout))
    _assert_clean("the client's stderr", result.stderr)
