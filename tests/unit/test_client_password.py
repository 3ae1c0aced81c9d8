"""The client's side of the password step (protocol 4), with no socket and no terminal."""

from __future__ import annotations

from client_helpers import SERVER

from ftplab import protocol
from ftplab.client.actions import AskPassword
from ftplab.client.session import EXIT_FAILURE


def test_lines_typed_before_the_welcome_wait_and_the_password_goes_first(harness):
    client = harness(password="secreta")
    assert client.sent() == [f"!JOIN lang=es proto={protocol.VERSION}"]
    client.type("who", "hola")
    assert client.sent() == []  # held until `!HELLO`
    client.server(protocol.PasswordRequest(SERVER))
    assert client.sent() == [protocol.Password("ana", "secreta")]
    client.server(protocol.Hello(SERVER, "Hola"))
    assert client.sent() == ["who", "hola"]


def test_at_a_terminal_the_user_is_asked_and_the_answer_kept_for_coming_back(harness):
    client = harness(interactive=True)
    client.sent()
    client.server(protocol.PasswordRequest(SERVER))
    asked = [action for action in client.actions() if isinstance(action, AskPassword)]
    assert asked == [AskPassword("Contraseña de ana: ")]
    client.session.password.given("tecleada")
    assert client.sent() == [protocol.Password("ana", "tecleada")]
    client.session.connection_made()  # a new connection asks again: the same answer, not asked
    client.sent()
    client.server(protocol.PasswordRequest(SERVER))
    assert client.sent() == [protocol.Password("ana", "tecleada")]
    assert not [action for action in client.actions() if isinstance(action, AskPassword)]


def test_from_a_pipe_without_a_password_the_session_ends_saying_how_to_give_one(harness):
    client = harness()
    client.sent()
    client.server(protocol.PasswordRequest(SERVER))
    assert client.sent() == [] and client.session.finished
    status, reason = client.session.outcome()
    assert status == EXIT_FAILURE and "--password-file" in reason


def test_a_wrong_password_is_not_retried(harness):
    client = harness(password="mala", reconnect=True)
    client.sent()
    client.server(protocol.PasswordRequest(SERVER))
    client.server(protocol.Error(SERVER, protocol.ErrorCode.BAD_PASSWORD, "Nombre o contraseña incorrectos"))
    client.session.connection_closed()
    assert client.session.finished and not client.session.wants_connection()
    assert "incorrectos" in client.session.outcome()[1]


def test_the_time_taken_to_type_the_password_does_not_count_against_the_welcome(harness):
    client = harness(interactive=True, timeout=10.0)
    client.sent()
    client.server(protocol.PasswordRequest(SERVER))
    client.clock.now += 25.0  # the user types slowly (the app is blocked meanwhile)
    client.session.password.given("tecleada")
    client.session.tick()
    assert not client.session.finished and client.session.failure is None
    client.clock.now += 10.0
    client.session.tick()
    assert client.session.failure is not None  # but the server must still answer in time


def test_at_a_terminal_chat_typed_before_the_question_is_not_sent_it_may_be_the_password(harness):
    client = harness(interactive=True)
    client.sent()
    client.type("caballo", "list")  # the password typed too early, then one of the client's commands
    client.server(protocol.PasswordRequest(SERVER))
    shown = client.shown()
    assert any("no se ha enviado" in line for line in shown)
    client.session.password.given("caballo")
    assert client.sent() == [protocol.Password("ana", "caballo")]
    client.server(protocol.Hello(SERVER, "Hola"))
    assert client.sent() == ["list"]  # the command stays; the typed-ahead line never reaches the room
