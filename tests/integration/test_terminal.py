"""The client on a real (pseudo) terminal: incoming lines never mangle the line being typed,
and nothing a peer sends can drive the terminal."""

from __future__ import annotations

from .harness import TerminalClient


def test_incoming_chat_is_printed_above_the_line_being_typed(start_server, start_client, client_dir):
    server = start_server()
    bob = start_client(server, "bob")

    with TerminalClient(server.port, "ana", client_dir("ana")) as ana:
        ana.wait_for("Hola, ana.")
        bob.expect("profe> ana se ha unido")
        ana.type("hol")
        typed = ana.wait_for("ana> hol")

        bob.send("mira esto: \x1b[31mrojo\x07")

        incoming = ana.wait_for("bob> mira esto: \\x1b[31mrojo\\x07", start=typed)
        redrawn = ana.wait_for("ana> hol", start=incoming)
        assert "\x1b[31m" not in ana.screen, "the peer's escape sequence reached the terminal raw"
        assert "\x07" not in ana.screen, "nor did its bell"
        line_end = ana.screen.index("\r\n", incoming)
        assert line_end < redrawn, "the typed line is drawn again under the incoming one"

        ana.type("a\r")
        bob.expect("ana> hola")
        ana.type("quit\r")
        assert ana.wait() == 0
        ana.wait_for("profe> Adiós, ana")

    assert bob.quit() == 0


def test_control_characters_typed_are_not_sent(start_server, start_client, client_dir):
    server = start_server()
    bob = start_client(server, "bob")

    with TerminalClient(server.port, "ana", client_dir("ana")) as ana:
        ana.wait_for("Hola, ana.")
        ana.type("hola\x1b[15~x\x7f mundo\r")  # a function key (F5) is swallowed, backspace erases

        bob.expect("ana> hola mundo")
        ana.type("\x04")  # Ctrl-D on an empty line: end of input
        assert ana.wait() == 0

    assert bob.quit() == 0


def test_the_client_asks_for_a_name_on_a_terminal(shared_server, client_dir):
    with TerminalClient(shared_server.port, None, client_dir("preguntado")) as client:
        client.wait_for("Tu nombre: ")
        client.type("preguntado\r")
        client.wait_for("Hola, preguntado.")
        prompt = client.wait_for("preguntado> ")
        client.type("quit\r")
        assert client.wait() == 0
        client.wait_for("profe> Adiós, preguntado", start=prompt)
