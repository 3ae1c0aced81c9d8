"""Connections coming and going: quit, limits, timeouts, shutdown, the console, exit codes."""

from __future__ import annotations

import os
import re
import signal
import socket
import time

from ftplab import protocol

from .harness import RawConnection, client_args, free_port, run_client, run_program, server_args

EXIT_SERVER_CLOSED = 3


def test_quit_leaves_the_server_serving_the_others_and_accepting_new_ones(
    start_server, start_client, client_dir
):
    server = start_server()
    ana = start_client(server, "ana")

    leaving = run_client(server.port, ["quit"], name="bob", download_dir=client_dir("bob"))

    assert leaving.returncode == 0, leaving
    assert leaving.has("profe> Adiós, bob"), leaving
    ana.expect("profe> bob se ha ido")
    ana.send("who")
    ana.expect("profe> Conectados (1): ana; servidor: profe")
    newcomer = run_client(server.port, ["who"], name="carol", download_dir=client_dir("carol"))
    assert newcomer.returncode == 0, newcomer
    assert newcomer.has("profe> Conectados (2): ana, carol; servidor: profe"), newcomer
    assert ana.quit() == 0


def test_typed_quit_ends_the_client_with_status_0(start_server, start_client):
    server = start_server()
    ana = start_client(server, "ana")

    ana.send("quit")

    assert ana.wait() == 0
    ana.stdout.expect("profe> Adiós, ana")


def test_a_full_server_refuses_the_next_client_then_takes_it_when_someone_leaves(
    start_server, start_client, client_dir
):
    server = start_server(max_clients=2)
    ana = start_client(server, "ana")
    bob = start_client(server, "bob")

    refused = run_client(server.port, ["who"], name="carol", download_dir=client_dir("carol"))

    assert refused.returncode == 1, refused
    assert "Servidor lleno (2 clientes)" in refused.stderr, refused
    assert bob.quit() == 0
    ana.expect("profe> bob se ha ido")
    admitted = run_client(server.port, ["who"], name="carol", download_dir=client_dir("carol"))
    assert admitted.returncode == 0, admitted
    assert admitted.has("profe> Conectados (2): ana, carol; servidor: profe"), admitted
    assert ana.quit() == 0


def test_an_idle_connection_is_disconnected_while_an_active_client_stays(start_server, start_client):
    """The silent one is a connection that announced nothing (an old client, nc): the ftplab
    client sends keep-alives, so only its own activity counts here (test_languages_and_console
    shows a client that only reads staying)."""
    server = start_server(idle_timeout=1)
    ana = start_client(server, "ana")
    started = time.monotonic()
    with RawConnection(server.port, "dormilon") as idle:
        idle.join()
        refusal = idle.expect(
            lambda event: isinstance(event, protocol.Error) and event.code == "idle", what="the idle refusal"
        )
        idle.wait_closed()

    assert time.monotonic() - started >= 1.0
    assert refusal.text == "Desconectado tras 1 s sin actividad"
    server.wait_for_log(re.compile(r"disconnect dormilon@\S+ \(idle\)"))
    ana.expect("profe> dormilon se ha ido")
    ana.sync()
    assert ana.returncode is None, "the client was not disconnected"
    assert ana.quit() == 0


def test_sigterm_tells_every_client_and_the_server_exits_0_at_once(start_server, start_client):
    server = start_server()
    clients = [start_client(server, name) for name in ("ana", "bob")]

    started = time.monotonic()
    server.stop(timeout=5)

    assert time.monotonic() - started < 3.0, "an idle server stops well within its flush grace"
    for client in clients:
        assert client.wait() == EXIT_SERVER_CLOSED, "a planned shutdown, told apart from a lost connection"
        assert client.stderr.lines == [
            "ftplab-client: El servidor ha cerrado la conexión: El servidor se cierra. ¡Hasta pronto!"
        ]
    server.wait_for_log("INFO stopped")


def test_sigint_stops_the_server_like_sigterm(start_server, start_client):
    server = start_server()
    ana = start_client(server, "ana")

    server.signal(signal.SIGINT)

    assert server.wait() == 0
    assert ana.wait() == EXIT_SERVER_CLOSED
    assert "El servidor se cierra" in ana.stderr.text


def test_server_keeps_serving_after_its_console_input_ends(start_server, start_client, client_dir):
    server = start_server()
    ana = start_client(server, "ana")

    server.close_stdin()
    server.wait_for_log("console input closed; serving without it")

    ana.send("hola")
    server.wait_for_output("ana> hola")
    result = run_client(server.port, ["who"], name="bob", download_dir=client_dir("bob"))
    assert result.returncode == 0, result
    assert result.has("profe> Conectados (2): ana, bob; servidor: profe"), result
    assert ana.quit() == 0
    assert server.returncode is None


def test_client_takes_its_name_from_the_first_input_line(shared_server, client_dir):
    result = run_client(shared_server.port, ["anonimo", "who"], name=None, download_dir=client_dir("x"))

    assert result.returncode == 0, result
    assert result.has(re.compile(r"^profe> Conectados \(\d+\): .*\banonimo\b")), result


def test_client_exit_status_2_for_a_bad_name(shared_server, client_dir):
    for bad in ("a b", "a>b", "@ana", "!x", "x" * 33):
        result = run_client(shared_server.port, ["who"], name=bad, download_dir=client_dir("bad"))
        assert result.returncode == 2, (bad, result)
        assert "Nombre no válido" in result.stderr, (bad, result)


def test_client_exit_status_2_without_a_name(shared_server, client_dir):
    result = run_client(shared_server.port, [], name=None, download_dir=client_dir("none"))

    assert result.returncode == 2, result
    assert "Hace falta un nombre" in result.stderr, result


def test_client_exit_status_2_for_a_bad_option(client_dir):
    result = run_client(free_port(), [], name="ana", download_dir=client_dir("x"), extra_args=["--port", "x"])

    assert result.returncode == 2, result


def test_client_exit_status_1_when_the_connection_is_refused(client_dir):
    port = free_port()

    result = run_client(port, ["who"], name="ana", download_dir=client_dir("x"))

    assert result.returncode == 1, result
    assert f"No se puede conectar con 127.0.0.1:{port}" in result.stderr, result
    assert len(result.stderr.strip().splitlines()) == 1, "one line saying why"


def test_client_exit_status_1_when_the_server_goes_away(start_server, start_client):
    server = start_server()
    ana = start_client(server, "ana")

    server.kill()

    assert ana.wait() == 1
    assert "Se ha perdido la conexión con el servidor" in ana.stderr.text


def test_client_reads_its_commands_from_a_regular_file(shared_server, served_root, client_dir, tmp_path):
    script = tmp_path / "script.txt"
    script.write_text("get notes.txt\nwho\n")
    downloads = client_dir("archivo")

    with open(script, "rb") as stdin:
        args = client_args(shared_server.port, "archivo", downloads)
        result = run_program(args, stdin=stdin.fileno())

    assert result.returncode == 0, result
    assert result.has("profe> Conectados ("), result
    assert (downloads / "notes.txt").read_bytes() == served_root.contents["notes.txt"]


def test_client_with_no_input_at_all_joins_and_quits(shared_server, client_dir):
    with open(os.devnull, "rb") as stdin:
        args = client_args(shared_server.port, "mudo", client_dir("mudo"))
        result = run_program(args, stdin=stdin.fileno())

    assert result.returncode == 0, result
    assert result.has("profe> Hola, mudo."), result
    assert result.has("profe> Adiós, mudo"), result


def test_server_with_no_console_input_serves(start_server, client_dir):
    with open(os.devnull, "rb") as devnull:
        server = start_server(stdin=devnull.fileno())

    server.wait_for_log("console input closed; serving without it")
    result = run_client(server.port, ["who"], name="ana", download_dir=client_dir("ana"))
    assert result.returncode == 0, result
    assert result.has("profe> Conectados (1): ana"), result


def test_server_needs_a_name(tmp_path):
    result = run_program(server_args("--host", "127.0.0.1", "--port", "0", "--root", str(tmp_path)))

    assert result.returncode == 2, result
    assert "Hace falta un nombre para el servidor" in result.stderr, result


def test_server_refuses_a_root_that_is_not_a_directory(tmp_path):
    missing = tmp_path / "no-such-dir"

    result = run_program(server_args("--port", "0", "--root", str(missing), "--name", "profe"))

    assert result.returncode == 2, result
    assert f"--root {missing}: esa carpeta no existe" in result.stderr, "it says why, not only the path"


def test_server_refuses_a_root_that_is_a_file_and_says_so(tmp_path):
    file = tmp_path / "notas.txt"
    file.write_text("hola")

    result = run_program(server_args("--port", "0", "--root", str(file), "--name", "profe", "--lang", "en"))

    assert result.returncode == 2, result
    assert f"--root {file}: not a folder" in result.stderr, result


def test_server_exits_1_when_its_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run_program(
            server_args("--host", "127.0.0.1", "--port", str(port), "--root", str(tmp_path), "--name", "p")
        )

    assert result.returncode == 1, result
    assert f"No se puede escuchar en 127.0.0.1:{port}" in result.stderr, result
