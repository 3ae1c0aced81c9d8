"""The teacher's console of the lab (tools/lab_console.py, what `scripts/lab attach server` runs),
on a real (pseudo) terminal, with a class of scripted students, on 127.0.0.1.

`docker attach` is replaced by a program of the same name that runs the server itself, its
stdout and stderr kept apart as Docker keeps a container's without a terminal: what the
tool shows of them is what the teacher would see in the lab (tests/e2e/test_lab.py runs the
same checks against the real container)."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest

from .harness import HOST, REPO_ROOT, ClientProcess, TerminalClient

LAB_CONSOLE = REPO_ROOT / "tools" / "lab_console.py"
CTRL_C = "\x03"
LOG_LINE = re.compile(r"\d\d:\d\d:\d\d|\b(INFO|WARNING|ERROR)\b|[0-9a-f]{64}|@127\.0\.0\.1:\d+")
"""What only the log has: timestamps, levels, SHA-256s, connections' labels."""
LISTENING = re.compile(r"escuchando en 127\.0\.0\.1:(\d+)")
WAIT_SECONDS = 3
"""How long the console waits for a stopped server here (30 s in the lab)."""


CONTAINER_NAME = "lab-server-1"
FIRST_ID = "c0ffee000001"


def fake_docker(folder: Path, root: Path, log_file: Path) -> Path:
    """`docker attach ... CONTAINER` that runs the server in its place (its pid in `pid`), and
    `docker inspect --format ... CONTAINER` that answers the container's name, or its state
    from `state` ("running" without it); returns its folder. The container is known by
    CONTAINER_NAME and by the id in `id` (FIRST_ID until a test makes it anew)."""
    folder.mkdir()
    (folder / "id").write_text(FIRST_ID)
    docker = folder / "docker"
    server = [sys.executable, "-m", "ftplab.server", "--host", HOST, "--port", "0", "--root", str(root)]
    server += ["--name", "profe", "--lang", "es", "--log-file", str(log_file)]
    docker.write_text(
        "#!/bin/sh\n"
        "for container; do :; done\n"  # the last argument
        f'if [ "$container" != {CONTAINER_NAME} ] && [ "$container" != "$(cat "{folder}/id")" ]; then\n'
        '    echo "Error: No such container: $container" >&2; exit 1\n'
        "fi\n"
        'case "$1 $3" in\n'
        f'attach*) echo $$ > "{folder}/pid"; exec {" ".join(server)} ;;\n'
        f"*.Name*) echo /{CONTAINER_NAME} ;;\n"
        f'inspect*) cat "{folder}/state" 2>/dev/null || echo running ;;\n'
        '*) echo "fake docker: attach or inspect only" >&2; exit 64 ;;\n'
        "esac\n"
    )
    docker.chmod(0o755)
    return folder


@pytest.fixture
def lab_console(tmp_path):
    """The teacher's console, attached to a server that serves notas.txt; its port."""
    root, log_file = tmp_path / "root", tmp_path / "server.log"
    root.mkdir()
    (root / "notas.txt").write_text("apuntes de clase\n")
    docker = fake_docker(tmp_path / "bin", root, log_file)
    path = f"{docker}{os.pathsep}{os.environ['PATH']}"
    # The container's id, as scripts/lab gives it.
    command = ["env", f"PATH={path}", sys.executable, str(LAB_CONSOLE), FIRST_ID, "--prompt", "profe> "]
    command += ["--wait-seconds", str(WAIT_SECONDS)]
    with TerminalClient(0, None, tmp_path, command=command) as console:
        console.wait_for("escuchando en")
        console.log_file = log_file
        console.docker = docker
        console.port = int(LISTENING.search(console.screen).group(1))
        yield console


def stop_the_server(console) -> None:
    """What a container's restart does to the process inside: it is gone, at once."""
    os.kill(int((console.docker / "pid").read_text()), signal.SIGKILL)


def test_the_teacher_sees_the_class_once_in_its_language_and_no_log_line(lab_console, tmp_path):
    console = lab_console
    console.wait_for("Todavía no hay conversación")  # attaching asked for the recent conversation
    students = {name: ClientProcess(console.port, name, tmp_path / name) for name in ("ana", "bob", "carla")}
    for name in students:
        console.wait_for(f"profe> {name} se ha unido")
    ana, bob, carla = students.values()

    ana.send("hola a todos")
    bob.send("@carla esto es entre nosotros")
    carla.expect("bob> (privado) esto es entre nosotros")
    carla.send("get notas.txt")
    carla.expect(re.compile(r"^Guardado "))
    console.wait_for("ana> hola a todos")
    console.wait_for("carla descargó notas.txt (17 B)")
    bob.send("quit")
    bob.wait()
    console.wait_for("profe> bob se ha ido")
    for student in (ana, carla):
        assert student.quit() == 0

    screen = console.screen
    assert screen.count("ana> hola a todos") == 1, "each chat line once"
    assert "entre nosotros" not in screen, "a private message between students is theirs"
    assert not LOG_LINE.search(screen), f"a log line on the console: {LOG_LINE.search(screen)}"
    log = console.log_file.read_text()
    assert re.search(r"INFO chat ana@127\.0\.0\.1:\d+: hola a todos", log), "the full log stays in --log-file"
    assert re.search(r"INFO sent notas.txt to carla@", log)
    console.type(CTRL_C)
    assert console.wait() == 0


def test_a_mistyped_command_is_an_error_and_never_reaches_the_students(lab_console, tmp_path):
    console = lab_console
    bob = ClientProcess(console.port, "bob", tmp_path / "bob")
    console.wait_for("profe> bob se ha unido")

    console.type("/kik bob\r")
    console.wait_for("No existe el comando /kik (no se ha enviado nada)")
    bob.sync()
    assert not bob.stdout.has("kik"), "a typo of the teacher's is not broadcast"
    assert bob.returncode is None, "nor is bob kicked"
    console.type("hola, bob\r")
    bob.expect("profe> hola, bob")
    assert bob.quit() == 0
    console.type(CTRL_C)
    assert console.wait() == 0


def test_ctrl_c_clears_a_half_typed_line_and_leaves_only_on_an_empty_one(lab_console, tmp_path):
    console = lab_console
    bob = ClientProcess(console.port, "bob", tmp_path / "bob")
    console.wait_for("profe> bob se ha unido")

    console.type("esto no lo envío" + CTRL_C)
    console.wait_for("esto no lo envío^C")
    console.type("/who\r")
    console.wait_for("Conectados (1): bob; servidor: profe")
    assert console.process.poll() is None, "Ctrl-C with a half-typed line does not leave"
    bob.sync()
    assert not bob.stdout.has("no lo envío"), "the cleared line was not sent"
    assert bob.quit() == 0
    console.type(CTRL_C)
    assert console.wait() == 0, "Ctrl-C on an empty line leaves"


@pytest.mark.parametrize("new_id", [None, "c0ffee000002"], ids=["restarted", "made-anew"])
def test_when_the_server_restarts_the_console_waits_and_attaches_again(lab_console, tmp_path, new_id):
    """The same container restarted, or a new one with the same name (`docker compose up -d
    --force-recreate server`, scripts/lab up with other options): the console follows the name."""
    console = lab_console
    console.wait_for("Todavía no hay conversación")
    if new_id is not None:
        (console.docker / "id").write_text(new_id)
    stop_the_server(console)
    console.wait_for("El servidor se ha detenido: esperando a que vuelva")
    mark = console.wait_for("El servidor ha vuelto")
    console.wait_for("escuchando en", start=mark)
    console.wait_for("Todavía no hay conversación", start=mark)  # the new server's history, asked again
    port = int(LISTENING.findall(console.screen)[-1])
    bob = ClientProcess(port, "bob", tmp_path / "bob")
    console.wait_for("profe> bob se ha unido", start=mark)
    console.type("seguimos, bob\r")
    bob.expect("profe> seguimos, bob")
    assert bob.quit() == 0
    console.type(CTRL_C)
    assert console.wait() == 0


def test_a_server_that_does_not_come_back_ends_the_console_saying_so(lab_console):
    console = lab_console
    (console.docker / "state").write_text("exited\n")
    stop_the_server(console)
    console.wait_for("El servidor se ha detenido: esperando a que vuelva")
    console.wait_for(f"El servidor no ha vuelto en {WAIT_SECONDS} s: scripts/lab status dice por qué")
    assert console.wait() == 1


def test_ctrl_c_while_waiting_for_the_server_leaves(lab_console):
    console = lab_console
    (console.docker / "state").write_text("restarting\n")
    stop_the_server(console)
    console.wait_for("El servidor se ha detenido: esperando a que vuelva")
    console.type(CTRL_C)
    assert console.wait() == 0
