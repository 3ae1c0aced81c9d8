"""Chat between real clients and the server's console: relay, broadcast, private, who, help, names."""

from __future__ import annotations

import re

import pytest

from ftplab import protocol

from .harness import RawConnection, open_fds, run_client, wait_until


@pytest.fixture
def trio(start_server, start_client):
    """A server with alice, bob and carol connected; all three quit cleanly at the end."""
    server = start_server()
    clients = [start_client(server, name) for name in ("alice", "bob", "carol")]
    yield server, clients
    for client in clients:
        if client.returncode is None:
            assert client.quit() == 0, client.stderr.text


def test_chat_reaches_every_other_client_and_the_server_console(trio):
    server, (alice, bob, carol) = trio

    alice.send("hola a todos")

    bob.expect(re.compile(r"^alice> hola a todos$"))
    carol.expect(re.compile(r"^alice> hola a todos$"))
    server.wait_for_output(re.compile(r"^alice> hola a todos$"))
    alice.sync()
    assert not alice.stdout.has("alice> hola a todos"), "the sender gets no echo of its own line"


def test_chat_lines_keep_their_order(trio):
    _, (alice, bob, _) = trio
    lines = [f"mensaje {i}" for i in range(20)]

    for line in lines:
        alice.send(line)

    for line in lines:
        bob.expect(re.compile(rf"^alice> {line}$"))


def test_console_lines_are_broadcast_to_every_client(trio):
    server, clients = trio

    server.console("atención: examen mañana")

    for client in clients:
        client.expect(re.compile(r"^profe> atención: examen mañana$"))


def test_console_private_reaches_only_its_addressee(trio):
    server, (alice, bob, carol) = trio

    server.console("@bob solo para ti")

    bob.expect(re.compile(r"^profe> \(privado\) solo para ti$"))
    for other in (alice, carol):
        other.sync()
        assert not other.stdout.has("solo para ti")


def test_private_message_reaches_only_its_addressee(trio):
    server, (alice, bob, carol) = trio

    alice.send("@bob nos vemos a las cinco")

    bob.expect(re.compile(r"^alice> \(privado\) nos vemos a las cinco$"))
    for other in (alice, carol):
        other.sync()
        assert not other.stdout.has("nos vemos"), f"{other.name} saw a private message"
    server.sync()  # after alice's fence: the server handled her line; this reads its console to here
    assert not server.stdout.has("nos vemos"), "the console is not a party to it either"


def test_console_private_to_nobody_is_an_error_on_the_console(trio):
    server, (alice, _, _) = trio

    server.console("@nadie hola")

    server.wait_for_output("No hay nadie conectado con el nombre nadie")
    alice.sync()
    assert not alice.stdout.has("hola"), alice.stdout.lines


def test_chat_that_looks_like_a_control_line_arrives_as_typed(trio):
    _, (alice, bob, _) = trio

    alice.send("!ERR closing no me creas")
    alice.send("!!doble")

    bob.expect(re.compile(r"^alice> !ERR closing no me creas$"))
    bob.expect(re.compile(r"^alice> !!doble$"))
    assert bob.returncode is None, "a fake control line did not disconnect anyone"


def test_private_name_is_case_insensitive(trio):
    _, (alice, bob, _) = trio

    alice.send("@BOB hola")

    bob.expect("alice> (privado) hola")


def test_private_message_to_the_server_shows_on_its_console_as_between_clients(trio):
    server, (alice, bob, _) = trio

    alice.send("@profe una duda")

    server.wait_for_output(re.compile(r"^alice> \(privado\) una duda$"))
    bob.sync()
    assert not bob.stdout.has("una duda")


def test_private_message_to_nobody_is_an_error(trio):
    _, (alice, _, _) = trio

    alice.send("@nobody hola")

    alice.expect("profe> No hay nadie conectado con el nombre nobody")


def test_who_lists_everyone_connected(trio):
    _, (alice, _, _) = trio

    alice.send("who")

    alice.expect("profe> Conectados (3): alice, bob, carol")


def test_help_lists_the_commands(shared_server, client_dir):
    result = run_client(shared_server.port, ["help"], name="curioso", download_dir=client_dir("curioso"))

    assert result.returncode == 0, result
    assert result.has("profe> Comandos:"), result
    for command in ("list", "get ARCHIVO", "who", "quit", "@NOMBRE texto"):
        assert result.has(re.compile(rf"^profe>   {re.escape(command)} ")), command


def test_commands_are_case_insensitive(shared_server, client_dir):
    result = run_client(shared_server.port, ["WHO"], name="mayus", download_dir=client_dir("mayus"))

    assert result.has(re.compile(r"profe> Conectados \(\d+\): .*mayus")), result


def test_joins_and_leaves_are_announced(start_server, start_client, client_dir):
    server = start_server()
    alice = start_client(server, "alice")

    result = run_client(server.port, ["hola"], name="bob", download_dir=client_dir("bob"))

    assert result.returncode == 0, result
    alice.expect("profe> bob se ha unido")
    alice.expect("bob> hola")
    alice.expect("profe> bob se ha ido")
    server.wait_for_output("profe> bob se ha unido")
    server.wait_for_output("profe> bob se ha ido")
    assert alice.quit() == 0


@pytest.mark.parametrize("taken", ["ana", "ANA", "Ana", "profe", "PROFE"])
def test_a_name_in_use_is_refused(start_server, start_client, client_dir, taken):
    server = start_server()
    ana = start_client(server, "ana")

    ana.sync()
    baseline = open_fds(server.pid)

    result = run_client(server.port, ["hola"], name=taken, download_dir=client_dir("dup"))

    assert result.returncode == 1, result
    assert f"El nombre {taken} ya está en uso" in result.stderr, result
    wait_until(lambda: open_fds(server.pid) == baseline, message="the server to close the refused connection")
    ana.send("who")
    ana.expect("profe> Conectados (1): ana")
    assert not ana.stdout.has("hola"), "nothing the refused client wrote got through"
    assert ana.quit() == 0


def test_a_name_is_free_again_once_its_owner_leaves(start_server, start_client, client_dir):
    server = start_server()
    first = start_client(server, "ana")
    assert first.quit() == 0

    result = run_client(server.port, ["who"], name="ana", download_dir=client_dir("ana2"))

    assert result.returncode == 0, result
    assert result.has("profe> Conectados (1): ana"), result


def test_a_newcomer_and_one_who_comes_back_see_the_conversation_marked_as_earlier(trio, start_client):
    server, (alice, bob, carol) = trio
    alice.send("¿empezamos?")
    alice.sync()
    server.console("sí: abrid el ejercicio 2")
    bob.send("@carol esto es privado")
    carol.expect("bob> (privado) esto es privado")
    for client in (alice, bob):
        client.sync()

    dani = start_client(server, "dani")
    dani.sync()
    seen = dani.stdout.text
    assert "(antes) alice> ¿empezamos?" in seen
    assert "(antes) profe> sí: abrid el ejercicio 2" in seen
    assert seen.index("¿empezamos?") < seen.index("ejercicio 2"), "oldest first"
    assert "privado" not in seen, "a private message is nobody else's history"
    assert "se ha unido" not in seen, "nor are joins"
    assert dani.quit() == 0

    carol.send("ya está")
    alice.expect("carol> ya está")
    dani = start_client(server, "dani")
    dani.expect("(antes) carol> ya está")
    assert dani.quit() == 0


def test_a_client_of_an_older_protocol_sees_the_history_as_labelled_lines(trio):
    server, (alice, _, _) = trio
    alice.send("hola desde el principio")
    alice.sync()
    with RawConnection(server.port, "viejo") as raw:
        raw.join()
        raw.fence()
    assert protocol.Message(server.name, "(antes) alice> hola desde el principio") in raw.events
