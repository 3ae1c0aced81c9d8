"""Each client in its own language, the teacher's console commands, `who` with the server,
and keep-alives that keep a reading student connected: real server and client processes."""

from __future__ import annotations

import re

from ftplab import protocol

from .harness import RawConnection, run_client, run_program, server_args
from .harness import client_args as make_client_args

EXIT_FAILURE, EXIT_SERVER_CLOSED = 1, 3


def words(lines: list[str]) -> str:
    """The text of `lines` with every run of spaces and line breaks as one space (help wraps)."""
    return " ".join(" ".join(lines).split())


def test_an_english_client_of_a_spanish_server_is_answered_in_english(start_server, start_client, client_dir):
    server = start_server()
    ana = start_client(server, "ana")  # Spanish, as the server

    result = run_client(
        server.port,
        ["help", "get nada.txt", "who", "quit"],
        name="bob",
        download_dir=client_dir("bob"),
        lang="en",
    )

    assert result.has("profe> Hello, bob. Connected: 2. Type help for the commands."), result
    assert result.has("profe>   get FILE ...     download one or more files (get a.txt b.txt)"), result
    assert result.has("profe> No such file: nada.txt"), result
    assert result.has("profe> Connected (2): ana, bob; server: profe"), result
    assert result.has("profe> Goodbye, bob"), result
    assert not result.has(re.compile("archivo|Adiós|Conectados")), result
    ana.expect("profe> bob se ha unido")
    ana.send("get nada.txt")
    ana.expect("profe> El archivo no existe: nada.txt")
    assert ana.quit() == 4, "its failed get"


def test_announcements_reach_each_client_in_its_language_and_chat_is_untouched(start_server, start_client):
    server = start_server()
    ana = start_client(server, "ana", lang="en")
    bob = start_client(server, "bob")
    ana.expect("profe> bob joined")
    bob.send("hola a todos")
    ana.expect("bob> hola a todos")
    server.console("/kick bob")
    ana.expect("profe> bob left")
    assert bob.wait() == EXIT_FAILURE
    assert bob.stderr.lines == [
        "ftplab-client: El servidor ha cerrado la conexión: profe te ha desconectado"
    ], "said once, on stderr"
    assert not bob.stdout.has("te ha desconectado"), bob.stdout.lines
    assert ana.quit() == 0


def test_an_old_client_that_announces_nothing_gets_the_servers_language(start_server):
    server = start_server(lang="en")
    with RawConnection(server.port, "viejo") as raw:
        assert raw.join().text.startswith("Hello, viejo.")
        raw.send_line("get nada.txt")
        raw.expect(protocol.Error)
        assert raw.events[-1] == protocol.Error("profe", "nofile", "No such file: nada.txt")
        assert not any(isinstance(event, protocol.KeepAlive) for event in raw.events)


def test_the_server_goodbye_is_in_each_clients_language(start_server, start_client):
    server = start_server()
    ana = start_client(server, "ana", lang="en")
    bob = start_client(server, "bob")
    server.stop()
    assert ana.wait() == EXIT_SERVER_CLOSED
    assert bob.wait() == EXIT_SERVER_CLOSED
    assert "The server is closing" in ana.stderr.text
    assert "El servidor se cierra" in bob.stderr.text


def test_help_of_both_programs_speaks_the_chosen_language_and_shows_commands_and_defaults():
    english = run_program(server_args("--lang", "en", "--help"))
    spanish = run_program([*make_client_args(2121, None, ".")[:3], "--help"])  # the locale is C: Spanish

    assert english.returncode == 0, english
    assert english.has(re.compile(r"^\s+/kick NAME \[reason\]\s+disconnect NAME")), english
    assert "[FTPLAB_IDLE_TIMEOUT; now: 600]" in words(english.stdout), english
    assert spanish.returncode == 0, spanish
    assert spanish.has("Comandos dentro de la sesión:"), spanish
    assert spanish.has(re.compile(r"^\s+get ARCHIVO \.\.\.\s+descarga uno o varios archivos")), spanish
    assert "[FTPLAB_TIMEOUT; ahora: 10]" in words(spanish.stdout), spanish


def test_console_commands_who_kick_help_and_quit(start_server, start_client):
    server = start_server()
    ana = start_client(server, "ana")
    mark = len(server.stdout)

    server.console("/who")
    server.wait_for_output("Conectados (1): ana; servidor: profe", start=mark)
    server.console("/help")
    server.wait_for_output("/kick NOMBRE [motivo]", start=mark)
    server.console("/kick ana  basta de spam")
    server.wait_for_output("ana desconectado", start=mark)
    assert ana.wait() == EXIT_FAILURE
    assert "profe te ha desconectado: basta de spam" in ana.stderr.text
    server.sync()
    assert not server.stdout.has(re.compile(r"profe> /(who|help|kick)")), "commands are not broadcast"

    server.console("/quit")
    assert server.wait() == 0


def test_a_connected_client_that_only_reads_is_never_idle_but_a_silent_connection_is(
    start_server, start_client
):
    server = start_server(idle_timeout=1.5)
    reader = start_client(server, "lectora")  # types nothing at all
    with RawConnection(server.port, "mudo") as silent:  # an old client: announces nothing, sends nothing
        silent.join()
        silent.expect(lambda event: isinstance(event, protocol.Error) and event.code == "idle", what="idle")
    reader.send("who")
    reader.expect("profe> Conectados (1): lectora; servidor: profe")
    assert reader.returncode is None
    assert reader.quit() == 0
