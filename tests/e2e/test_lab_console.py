"""The teacher's console of the lab (tools/lab_console.py, what `scripts/lab attach server`
runs) against a real server container: the console stream only, in the class's language,
each chat line once; the recent conversation again on attaching; a mistyped command never
reaches the class; Ctrl-C clears a half-typed line. tests/integration/test_lab_console.py
checks the same with processes on 127.0.0.1."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from integration.harness import TerminalClient

from .lab import SMALL_FILE

pytestmark = pytest.mark.e2e

LAB_CONSOLE = Path(__file__).resolve().parents[2] / "tools" / "lab_console.py"
CTRL_C = "\x03"
LOG_LINE = re.compile(r"\d\d:\d\d:\d\d|\b(INFO|WARNING|ERROR)\b|[0-9a-f]{64}|@\d+\.\d+\.\d+\.\d+:\d+")
"""What only the log has: timestamps, levels, SHA-256s, connections' labels."""


def test_the_teachers_console_shows_the_class_once_and_never_the_log(lab, tmp_path):
    server = lab.server(stdin_open=True)  # as compose.yaml: input, no terminal
    ana = lab.main_client("ana", server)
    bob = lab.main_client("bob", server)
    ana.send("hola a todos")
    bob.wait_for_output("ana> hola a todos")

    command = [sys.executable, str(LAB_CONSOLE), server.id, "--prompt", "profe> "]
    with TerminalClient(0, None, tmp_path, command=command) as console:
        console.wait_for("(antes) ana> hola a todos")  # the recent conversation, on attaching
        bob.send(f"get {SMALL_FILE}")
        console.wait_for(f"bob descargó {SMALL_FILE}")
        bob.send("me toca")
        console.wait_for("bob> me toca")
        console.type("/kik bob\r")
        console.wait_for("No existe el comando /kik")
        console.type("esto no lo envío" + CTRL_C)
        console.wait_for("esto no lo envío^C")
        console.type("/who\r")
        console.wait_for("Conectados (2): ana, bob; servidor: profe")
        screen = console.screen
        console.type(CTRL_C)
        assert console.wait() == 0, "Ctrl-C on an empty line leaves"

    assert screen.count("bob> me toca") == 1, "each chat line once"
    assert not LOG_LINE.search(screen), f"a log line on the console: {LOG_LINE.search(screen)}"
    assert re.search(r"INFO chat bob@\S+: me toca", server.stderr_log()), "the log stays in Docker's"
    ana.send("who")
    ana.wait_for_output("Conectados (2): ana, bob")
    assert "kik" not in server.stdout_log().replace("No existe el comando /kik", "")
    assert "no lo envío" not in ana.logs(), "neither the typo nor the cleared line reached the class"
    assert server.status == "running", "the server keeps running after the teacher leaves"
