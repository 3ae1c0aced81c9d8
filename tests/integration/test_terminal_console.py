"""The teacher's console on a real (pseudo) terminal: a class's commands do not flood it."""

from __future__ import annotations

import re

from support.waiting import wait_until

from .harness import HOST, ClientProcess, TerminalClient, server_args

EXIT_SERVER_CLOSED = 3


def test_the_console_shows_no_line_per_client_command_and_the_log_file_has_every_one(tmp_path):
    root, log_file = tmp_path / "root", tmp_path / "server.log"
    root.mkdir()
    command = server_args("--host", HOST, "--port", "0", "--root", str(root), "--name", "profe")
    command += ["--log-file", str(log_file)]
    with TerminalClient(0, None, tmp_path, command=command) as console:
        console.wait_for("listening on")
        port = int(re.search(rf"listening on {re.escape(HOST)}:(\d+)", console.screen).group(1))
        ana = ClientProcess(port, "ana", tmp_path)
        console.wait_for("joined ana@")
        ana.send("list")
        ana.send("hola")
        shown = console.wait_for("ana> hola")  # handled after the list, so its log line came first

        assert not re.search(r"ana@\S+: list", console.screen[:shown]), console.screen
        wait_until(
            lambda: re.search(r"INFO ana@\S+: list", log_file.read_text()),
            message="the list command in the log file",
        )
        console.type("/quit\r")
        assert console.wait() == 0
        assert ana.wait() == EXIT_SERVER_CLOSED


def test_ctrl_c_clears_the_teachers_half_typed_line_and_on_an_empty_one_stops_the_server(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    command = server_args("--host", HOST, "--port", "0", "--root", str(root), "--name", "profe")
    with TerminalClient(0, None, tmp_path, command=command) as console:
        console.wait_for("listening on")
        port = int(re.search(rf"listening on {re.escape(HOST)}:(\d+)", console.screen).group(1))
        ana = ClientProcess(port, "ana", tmp_path)
        console.wait_for("ana se ha unido")

        console.type("a medio escribir\x03")
        console.wait_for("a medio escribir^C")
        console.type("/who\r")
        console.wait_for("Conectados (1): ana; servidor: profe")
        ana.sync()
        assert not ana.stdout.has("a medio escribir"), "the cleared line was not sent"

        console.type("\x03")
        assert console.wait() == 0, "on an empty line Ctrl-C stops the server, as SIGINT does"
        assert ana.wait() == EXIT_SERVER_CLOSED
