"""Line editing on a real (pseudo) terminal, as in any shell: cursor keys, history, Tab
completion, Ctrl-C and Ctrl-D, the name prompt, and the progress line."""

from __future__ import annotations

import hashlib
import re
import time

from .harness import SERVER_NAME, FakeServer, TerminalClient, make_file

LEFT, RIGHT, UP, DOWN, HOME, END = "\x1b[D", "\x1b[C", "\x1b[A", "\x1b[B", "\x1b[H", "\x1b[F"


def test_cursor_keys_edit_the_line_anywhere(start_server, start_client, client_dir):
    server = start_server()
    bob = start_client(server, "bob")
    with TerminalClient(server.port, "ana", client_dir("ana")) as ana:
        ana.wait_for("Hola, ana.")
        ana.type(f"hla{LEFT}{LEFT}o{END} mundo{HOME}¡{RIGHT}{RIGHT}{RIGHT}{RIGHT}\x7fa\r")
        bob.expect("ana> ¡hola mundo")
        ana.type("\x04")
        assert ana.wait() == 0
    assert bob.quit() == 0


def test_up_and_down_walk_the_sessions_history(start_server, start_client, client_dir):
    server = start_server()
    bob = start_client(server, "bob")
    with TerminalClient(server.port, "ana", client_dir("ana")) as ana:
        ana.wait_for("Hola, ana.")
        ana.type("primero\r")
        bob.expect("ana> primero")
        ana.type("segundo\r")
        bob.expect("ana> segundo")
        ana.type(f"{UP}{UP}\r")
        bob.expect("ana> primero")
        ana.type(f"{UP}{UP}{UP}{DOWN} otra vez\r")  # back to the newest: primero, then segundo
        bob.expect("ana> segundo otra vez")
        ana.type("\x04")
        assert ana.wait() == 0
    assert bob.quit() == 0


def test_tab_completes_commands_and_the_names_of_the_last_list(start_server, tmp_path, client_dir):
    root = tmp_path / "root"
    root.mkdir()
    content = make_file(root / "canción de prueba.txt", 5000)
    make_file(root / "notas.txt", 10, seed=1)
    server = start_server(root=root)
    downloads = client_dir("ana")
    with TerminalClient(server.port, "ana", downloads) as ana:
        ana.wait_for("Hola, ana.")
        ana.type("wh\t\r")
        ana.wait_for("Conectados (1): ana")
        ana.type("li\t\r")
        listed = ana.wait_for("notas.txt")
        ana.type("get can\t\r")
        ana.wait_for("ana> get 'canción de prueba.txt'", start=listed)
        ana.wait_for("Guardado ")
        ana.type("g\t\t")  # one command starts with g: completed, then no file name typed: both shown
        ana.wait_for("'canción de prueba.txt'  notas.txt")
        ana.type("\x15\x04")
        assert ana.wait() == 0
    assert (downloads / "canción de prueba.txt").read_bytes() == content


def test_ctrl_c_cancels_the_line_and_ctrl_d_on_an_empty_line_quits(start_server, start_client, client_dir):
    server = start_server()
    bob = start_client(server, "bob")
    with TerminalClient(server.port, "ana", client_dir("ana")) as ana:
        ana.wait_for("Hola, ana.")
        ana.type("borrador\x03")
        ana.wait_for("ana> borrador^C\r")
        ana.type("hola\r")
        bob.expect("ana> hola")
        ana.type("\x03")
        ana.wait_for("Para salir: Ctrl-C otra vez, Ctrl-D o quit")
        ana.type("\x04")
        assert ana.wait() == 0
        ana.wait_for("profe> Adiós, ana")
    assert not bob.stdout.has("borrador")
    assert bob.quit() == 0


def test_the_name_prompt_asks_again_and_explains_the_rule(shared_server, client_dir):
    with TerminalClient(shared_server.port, None, client_dir("x")) as client:
        first = client.wait_for("Tu nombre: ")
        client.type("\r")
        client.wait_for("Escribe un nombre: de 1 a 32 caracteres, sin espacios ni > @ !", start=first)
        second = client.wait_for("Tu nombre: ", start=first + 1)
        client.type("mal nombre\r")
        client.wait_for("Nombre no válido: mal nombre", start=second)
        client.wait_for("Tu nombre: ", start=second + 1)
        client.type("paciente\r")
        client.wait_for("Hola, paciente.")
        client.type("quit\r")
        assert client.wait() == 0


def test_ctrl_c_at_the_name_prompt_leaves_a_clean_line(shared_server, client_dir):
    with TerminalClient(shared_server.port, None, client_dir("x")) as client:
        asked = client.wait_for("Tu nombre: ")
        client.type("\x03")
        assert client.wait() == 130
        after = client.screen[asked:].replace("\x1b[K", "").replace("\r", "")  # what stays on screen
    assert after.endswith("^C\n"), f"the shell's prompt would follow on the same line: {after!r}"
    assert "Traceback" not in after


PROGRESS = re.compile(r"\[grande\.bin (\d+) %  [\d.]+ [KM]?i?B/1\.0 MiB  [\d.]+ [KMG]?i?B/s  (\d+ s|\?)\]")


def test_the_progress_line_shows_bytes_rate_and_eta_a_few_times_a_second(client_dir):
    content = bytes(range(256)) * 4096  # 1 MiB, sent as 1024 frames of 1 KiB
    digest = hashlib.sha256(content).hexdigest()
    frames = [f"{SERVER_NAME}> !FILE {len(content)} {digest} grande.bin\n".encode()]
    for start in range(0, len(content), 1024):
        frames.append(f"{SERVER_NAME}> !DATA 1024\n".encode() + content[start : start + 1024])
    script = f"{SERVER_NAME}> !HELLO Hola, ana.\n".encode() + b"".join(frames)
    downloads = client_dir("ana")
    with (
        FakeServer(script, after=b"ana> get grande.bin\n") as server,
        TerminalClient(server.port, "ana", downloads) as ana,
    ):
        started = time.monotonic()
        ana.type("get grande.bin\r")
        ana.wait_for("Guardado ")
        took = time.monotonic() - started
        screen = ana.screen
        ana.type("quit\r")
        assert ana.wait() == 0
    updates = PROGRESS.findall(screen)
    assert updates, f"no progress line: {screen[-500:]!r}"
    assert len(updates) <= 2 + took / 0.25, f"{len(updates)} updates in {took:.2f} s: not a few a second"
    assert re.search(r"Guardado \S+grande\.bin \(1\.0 MiB en [\d.]+ s, [\d.]+ [KMG]?i?B/s, SHA-256", screen)
    assert (downloads / "grande.bin").read_bytes() == content
