"""How the client ends on a real (pseudo) terminal: the terminal is always given back in its
normal mode, nothing typed is left for the shell, and the reason is said once, on its own
line. The server here is a FakeServer, so a download can be held at a known point."""

from __future__ import annotations

import hashlib
import signal
import threading

import pytest

from .harness import SERVER_NAME, FakeServer, TerminalClient, client_args, free_port, run_program, wait_until

HELLO = f"{SERVER_NAME}> !HELLO Hola, ana.\n".encode()
CONTENT = bytes(range(256)) * 4  # 1024 bytes
GET_LINE = b"ana> get grande.bin\n"


def _file_header(size: int = len(CONTENT)) -> bytes:
    digest = hashlib.sha256(CONTENT).hexdigest()
    return f"{SERVER_NAME}> !FILE {size} {digest} grande.bin\n".encode()


def _data(chunk: bytes) -> bytes:
    return f"{SERVER_NAME}> !DATA {len(chunk)}\n".encode() + chunk


FIRST_PART = _file_header() + _data(CONTENT[:318])  # 31 %
REST = _data(CONTENT[318:])
SHELL_AFTER = '"$@"; echo "status=$?"; IFS= read -r line; echo "shell read: [$line]"'
"""The user's shell: runs the client, then reads the next line typed at the terminal."""


def test_typing_after_quit_during_a_download_never_reaches_the_shell(client_dir):
    downloads = client_dir("ana")
    release = threading.Event()
    with (
        FakeServer(HELLO + FIRST_PART, after=GET_LINE, before_bye=REST, bye_gate=release) as server,
        TerminalClient(server.port, "ana", downloads, shell=SHELL_AFTER) as ana,
    ):
        ana.type("get grande.bin\r")
        ana.wait_for("[grande.bin 31 %")
        ana.type("quit\r")
        said = ana.wait_for("Saldré cuando terminen las descargas pedidas")
        ana.type("echo LEAKED\r")
        ana.wait_for("Saldré cuando terminen las descargas pedidas", start=said + 1)  # read, and answered
        release.set()
        ana.wait_for("Guardado ")
        ana.wait_for("status=0")
        ana.type("fin\r")
        ana.wait_for("shell read: [fin]")
        assert "LEAKED]" not in ana.screen
        assert ana.wait() == 0
    assert (downloads / "grande.bin").read_bytes() == CONTENT


def test_a_fatal_error_is_said_once_on_its_own_line(client_dir):
    go = threading.Event()
    script = f"{SERVER_NAME}> !ERR idle Desconectado tras 1 s sin actividad\n".encode()
    with (
        FakeServer(HELLO + script, after=b"\n", script_gate=go, hang_up=True) as server,
        TerminalClient(server.port, "ana", client_dir("ana")) as ana,
    ):
        ana.wait_for("ana> ")
        ana.type("a medias")
        ana.wait_for("ana> a medias")
        go.set()
        assert ana.wait() == 1
        screen = ana.screen
    assert screen.count("Desconectado tras 1 s sin actividad") == 1, screen
    said = screen.index("ftplab-client: El servidor ha cerrado la conexión: Desconectado tras 1 s")
    assert screen[:said].endswith("\r\x1b[K"), f"not on a line of its own: {screen[-300:]!r}"


def test_ctrl_c_twice_during_a_download_leaves_and_reports_it(client_dir):
    downloads = client_dir("ana")
    with (
        FakeServer(HELLO + FIRST_PART, after=GET_LINE) as server,
        TerminalClient(server.port, "ana", downloads) as ana,
    ):
        ana.type("get grande.bin\r")
        ana.wait_for("[grande.bin 31 %")
        ana.type("\x03")
        ana.wait_for("Descarga en curso: Ctrl-C otra vez para salir ya")
        ana.type("\x03")
        assert ana.wait() == 128 + signal.SIGINT
        ana.wait_for("grande.bin: descarga interrumpida al 31 %, no se guardó nada")
        assert ana.is_cooked()
    assert list(downloads.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM, signal.SIGINT])
def test_a_signal_gives_the_terminal_back_and_says_why_in_one_line(client_dir, signum):
    with (
        FakeServer(HELLO + FIRST_PART, after=GET_LINE) as server,
        TerminalClient(server.port, "ana", client_dir("ana"), stderr_to_pipe=True) as ana,
    ):
        ana.type("get grande.bin\r")
        ana.wait_for("Descargando grande.bin")
        assert not ana.is_cooked(), "the client edits the line itself"

        ana.signal(signum)

        assert ana.wait() == 128 + signum
        assert ana.is_cooked(), "echo and line editing restored"
        ana.wait_for("grande.bin: descarga interrumpida al ")
        assert ana.stderr.lines == [f"ftplab-client: Terminado por {signal.Signals(signum).name}"]


ENDLESS_FILE = f"{SERVER_NAME}> !FILE {1 << 40} {'0' * 64} enorme.bin\n".encode()
"""A 1 TiB file: the client is still receiving it at full speed when the signal comes."""
FRAME = _data(bytes(256 * 1024))
FULL_SPEED_BYTES = 64 * 1024 * 1024
"""Sent before the signal: the client's writer and hasher threads are busy by then."""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_download_at_full_speed_ends_the_client_and_keeps_nothing(client_dir, signum):
    downloads = client_dir("ana")
    with (
        FakeServer(HELLO + ENDLESS_FILE, after=b"ana> get enorme.bin\n", stream=FRAME) as server,
        TerminalClient(server.port, "ana", downloads, stderr_to_pipe=True) as ana,
    ):
        ana.type("get enorme.bin\r")
        wait_until(lambda: server.streamed >= FULL_SPEED_BYTES, message="the download at full speed")

        ana.signal(signum)

        assert ana.wait() == 128 + signum
        assert ana.is_cooked()
        ana.wait_for("enorme.bin: descarga interrumpida al ")
        assert ana.stderr.lines == [f"ftplab-client: Terminado por {signal.Signals(signum).name}"]
    assert list(downloads.iterdir()) == []


def test_a_signal_while_the_password_is_asked_ends_the_question_and_the_client(client_dir):
    with (
        FakeServer(f"{SERVER_NAME}> !PASSWORD\n".encode()) as server,
        TerminalClient(server.port, "ana", client_dir("ana"), stderr_to_pipe=True) as ana,
    ):
        ana.wait_for("Contraseña de ana: ")

        ana.signal(signal.SIGTERM)

        assert ana.wait() == 128 + signal.SIGTERM
        assert ana.is_cooked()
        assert ana.stderr.lines == ["ftplab-client: Terminado por SIGTERM"]


def test_a_closed_terminal_with_sighup_ignored_ends_the_client_cleanly(start_server, client_dir):
    server = start_server()
    with TerminalClient(
        server.port, "ana", client_dir("ana"), shell='trap "" HUP; exec "$@"', stderr_to_pipe=True
    ) as ana:
        ana.wait_for("ana> ")
        ana.hang_up()
        assert ana.wait() == 0, "\n".join(ana.stderr.lines)
        assert ana.stderr.lines == [], "no traceback, nothing to complain about: input ended"
    server.wait_for_log("disconnect ana@")


def test_a_closed_stdout_is_a_one_line_usage_error(client_dir):
    args = client_args(free_port(), "ana", client_dir("ana"))
    result = run_program(["sh", "-c", 'exec "$@" >&-', "sh", *args])

    assert result.returncode == 2, result
    assert result.stderr.splitlines() == [
        "ftplab-client: la salida estándar está cerrada (para descartarla, usa >/dev/null)"
    ], result
