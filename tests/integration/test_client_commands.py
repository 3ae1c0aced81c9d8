"""What the client understands by itself, before anything reaches the server: habits from
ftp and shells (aliases and hints), shell-like quoting for `get`, queued downloads, option
errors and the exit status that scripts rely on."""

from __future__ import annotations

import pytest

from .harness import ClientProcess, FakeServer, make_file, run_client

EXIT_USAGE, EXIT_SERVER_CLOSED, EXIT_GET_FAILED = 2, 3, 4


@pytest.fixture
def files_server(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    make_file(root / "notas.txt", 100)
    make_file(root / "con espacios.txt", 200, seed=1)
    make_file(root / "grande.bin", 4 * 1024 * 1024, seed=2)
    return start_server(root=root)


def test_ftp_and_shell_habits_are_aliases_or_hints_never_chat(files_server, start_client, client_dir):
    watcher = start_client(files_server, "bob")
    habits = ["ls", "dir", "cd carpeta", "pwd", "clear"]

    result = run_client(
        files_server.port, [*habits, "fin", "bye"], name="ana", download_dir=client_dir("ana")
    )

    assert result.returncode == 0, result
    assert sum(line.startswith("profe> Archivos en el servidor (3):") for line in result.stdout) == 2, result
    assert result.has("profe> No existe la carpeta: carpeta"), result  # cd and pwd are commands now
    assert result.has("profe> Carpeta actual: /"), result
    watcher.expect("ana> fin")  # plain chat still goes to everyone...
    for habit in habits:
        assert not watcher.stdout.has(f"ana> {habit}"), f"{habit} was sent as chat"  # ...habits do not
    assert watcher.quit() == 0


@pytest.mark.parametrize(
    "typed",
    ['get "con espacios.txt"', "get 'con espacios.txt'", "get con\\ espacios.txt", "get con espacios.txt"],
)
def test_get_takes_a_name_quoted_or_escaped_as_in_a_shell(files_server, client_dir, typed):
    downloads = client_dir("ana")

    result = run_client(files_server.port, [typed], name="ana", download_dir=downloads)

    assert result.returncode == 0, result
    assert (downloads / "con espacios.txt").read_bytes() == (
        files_server.root / "con espacios.txt"
    ).read_bytes()


def test_a_download_asked_for_during_another_says_it_is_queued(client_dir):
    running = b"profe> !FILE 1000 " + b"0" * 64 + b" grande.bin\nprofe> !DATA 10\n" + b"x" * 10
    with FakeServer(b"profe> !HELLO Hola, ana.\n" + running, after=b"ana> get grande.bin\n") as server:
        ana = ClientProcess(server.port, "ana", client_dir("ana"), joined=False)
        ana.send("get grande.bin")
        ana.expect("Descargando grande.bin")
        ana.send("get notas.txt")
        ana.expect("notas.txt: en cola (1 por delante)")
        assert ana.quit() == EXIT_GET_FAILED, "the server said goodbye before the end of grande.bin"


def test_a_failed_get_makes_a_script_fail_with_status_4(files_server, client_dir):
    result = run_client(
        files_server.port, ["get notas.txt", "get no-existe.txt"], name="ana", download_dir=client_dir("ana")
    )

    assert result.returncode == EXIT_GET_FAILED, result
    assert result.stderr == "ftplab-client: Descargas fallidas: 1\n", result


def test_a_planned_shutdown_and_a_lost_connection_have_different_statuses(start_server, start_client):
    server = start_server()
    planned = start_client(server, "ana")
    server.stop()
    assert planned.wait() == EXIT_SERVER_CLOSED

    lost_server = start_server()
    lost = start_client(lost_server, "bob")
    lost_server.kill()
    assert lost.wait() == 1
    assert "Se ha perdido la conexión con el servidor" in lost.stderr.text


def test_a_download_dir_that_is_a_file_is_a_clear_usage_error(tmp_path):
    not_a_dir = tmp_path / "fichero"
    not_a_dir.write_text("x")

    result = run_client(1, [], name="ana", download_dir=not_a_dir)

    assert result.returncode == EXIT_USAGE, result
    assert result.stderr == f"ftplab-client: --download-dir {not_a_dir}: no es un directorio\n", result


def test_several_files_by_name_and_by_wildcard_are_queued_reported_and_saved(files_server, client_dir):
    downloads = client_dir("ana")
    typed = ["get notas.txt grande.bin", "get *.txt", "mget *.bin nada*"]

    result = run_client(files_server.port, typed, name="ana", download_dir=downloads)

    assert result.returncode == 4, "one pattern matched nothing: " + str(result)
    queued = [line for line in result.stdout if line.endswith(": en cola")]
    assert queued == [
        "notas.txt: en cola",
        "grande.bin: en cola",
        "con espacios.txt: en cola",
        "notas.txt: en cola",
        "grande.bin: en cola",
    ], result
    assert result.has("profe> Ningún archivo coincide con nada*"), result
    saved = sorted(path.name for path in downloads.iterdir())
    assert saved == ["con espacios.txt", "grande (1).bin", "grande.bin", "notas (1).txt", "notas.txt"], saved


def test_past_the_queue_cap_the_rest_are_not_added_and_the_client_says_so(start_server, client_dir, tmp_path):
    root = tmp_path / "muchos"
    root.mkdir()
    for number in range(40):
        make_file(root / f"f{number:02}.txt", 10, seed=number)
    server = start_server(root=root)
    downloads = client_dir("ana")

    result = run_client(server.port, ["mget *.txt"], name="ana", download_dir=downloads)

    assert result.returncode == 4, result
    assert result.has(
        "profe> Ya tienes demasiadas descargas en cola: 8 archivos no se han añadido, desde f32.txt "
        "(pídelos cuando terminen las otras)"
    ), result
    assert sorted(path.name for path in downloads.iterdir()) == [f"f{number:02}.txt" for number in range(32)]
