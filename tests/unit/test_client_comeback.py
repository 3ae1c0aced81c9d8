"""Issue 18: a student who comes back by itself, a kick that sticks, cancel, the name
prompt and the exit report, driven with no socket (client_helpers.Harness)."""

from __future__ import annotations

import hashlib
import os

import pytest
from client_helpers import SERVER, Show, Status, file_events

from ftplab import protocol
from ftplab.client.download_file import partial_path
from ftplab.client.session import EXIT_FAILURE, EXIT_OK, EXIT_TRANSFER_FAILED

CONTENT = os.urandom(3000)


@pytest.fixture
def student(harness):
    """At a terminal, coming back by itself (the default there)."""
    client = harness(interactive=True, reconnect=True)
    client.welcome()
    return client


def _statuses(client) -> list[str]:
    return [action.text for action in client.actions() if isinstance(action, Status) and action.text]


def _wait_and_reconnect(client) -> None:
    """Let the backoff pass, then a new connection is made."""
    wait = client.session.wait_seconds()
    assert wait is not None and not client.session.wants_connection()
    client.clock.now += wait
    assert client.session.wants_connection()
    client.session.connection_made()


def test_a_lost_connection_is_said_and_the_name_is_taken_back_even_while_still_held(student):
    session = student.session
    student.type("cd sub", "get big.bin", "get b.txt")
    assert student.sent() == ["cd sub", "get big.bin", "get b.txt"]
    student.server(*file_events("big.bin", CONTENT, frame=1000)[:2])  # a third arrived
    student.shown()

    session.connection_closed()

    assert not session.finished and not session.connected and session.away
    assert student.shown() == [
        "big.bin: descarga interrumpida al 33 %; continuará al volver la conexión",
        "Se ha perdido la conexión con el servidor: reconectando (quit para salir)",
    ]
    assert 0.25 <= session.wait_seconds() <= 0.5, "the first wait is short, jittered"
    partial = partial_path(str(student.download_dir), "big.bin")
    assert os.path.exists(partial), "kept to resume, even without --keep-partial"

    _wait_and_reconnect(student)
    assert student.sent() == [f"!JOIN lang=es proto={protocol.VERSION}"]
    # the dead connection still holds the name: refused, and tried again, quietly
    student.server(protocol.Error(SERVER, "name-taken", "El nombre ana ya está en uso"))
    session.connection_closed()
    actions = student.actions()
    assert [action for action in actions if isinstance(action, Show)] == []
    assert "intento 2" in [action.text for action in actions if isinstance(action, Status)][-1]
    assert 0.5 <= session.wait_seconds() <= 1.0, "the wait doubles"
    _wait_and_reconnect(student)
    assert student.sent() == [f"!JOIN lang=es proto={protocol.VERSION}"]


def test_coming_back_asks_again_and_the_resumed_file_is_verified_and_its_part_removed(student):
    session = student.session
    student.type("cd sub", "get big.bin", "get b.txt")
    student.sent()
    student.server(*file_events("big.bin", CONTENT, frame=1000)[:2])
    session.connection_closed()
    student.shown()
    _wait_and_reconnect(student)
    student.sent()
    student.server(protocol.Hello(SERVER, "Hola"), protocol.Version(SERVER, 2))
    assert "De nuevo conectado como ana" in student.shown()
    held = CONTENT[:1000]
    assert student.sent() == [
        "cd sub",
        protocol.resume_command(len(held), hashlib.sha256(held).hexdigest(), "big.bin"),
        "get b.txt",
    ]
    digest = hashlib.sha256(CONTENT).hexdigest()
    rest = CONTENT[1000:]
    student.server(protocol.FileResume(SERVER, 1000, len(CONTENT), digest, "big.bin"))
    student.server(protocol.FileData(SERVER, rest))
    student.server(*file_events("b.txt", b"b"))
    assert (student.download_dir / "big.bin").read_bytes() == CONTENT
    assert (student.download_dir / "b.txt").read_bytes() == b"b"
    assert not os.path.exists(partial_path(str(student.download_dir), "big.bin")), "the part is gone"
    student.type("quit")
    student.server(protocol.Bye(SERVER, "Adiós"))
    assert session.outcome() == (EXIT_OK, None)


def test_the_server_closing_is_said_and_the_client_comes_back(student):
    student.server(protocol.Error(SERVER, "closing", "El servidor se cierra"))
    student.session.connection_closed()
    assert student.shown() == [
        "El servidor ha cerrado la conexión (El servidor se cierra): reconectando (quit para salir)"
    ]
    assert not student.session.finished


def test_the_backoff_is_bounded_and_attempts_go_on(student):
    session = student.session
    session.connection_closed()
    for _ in range(30):
        assert session.wait_seconds() <= 10.0
        student.clock.now += session.wait_seconds()
        assert session.wants_connection()
        session.connect_failed()
    assert not session.finished
    assert "intento 31" in _statuses(student)[-1]


def test_lines_typed_while_away_are_not_sent_and_quit_leaves(student):
    student.session.connection_closed()
    student.shown()
    student.type("hola", "get a.txt")
    not_sent = "Sin conexión: no se ha enviado (reconnect para reintentar ya, quit para salir)"
    assert student.shown() == [not_sent, not_sent]
    student.type("quit")
    assert student.session.finished
    assert student.session.outcome() == (EXIT_OK, None)


def test_a_kicked_student_is_told_why_and_does_not_come_back_by_itself(student):
    session = student.session
    student.server(protocol.Error(SERVER, "kicked", "profe te ha desconectado: basta"))
    session.connection_closed()
    assert student.shown() == [
        "El servidor ha cerrado la conexión: profe te ha desconectado: basta. No se vuelve a conectar "
        "solo: reconnect para volver, quit para salir"
    ]
    assert not session.finished and session.wait_seconds() is None
    student.clock.now += 3600
    assert not session.wants_connection()
    student.type("reconnect")
    assert session.wants_connection(), "a command brings it back"


def test_a_kicked_student_who_leaves_exits_1(student):
    student.server(protocol.Error(SERVER, "kicked", "profe te ha desconectado"))
    student.session.connection_closed()
    student.type("quit")
    assert student.session.finished
    assert student.session.outcome() == (EXIT_FAILURE, None)


def test_from_a_pipe_a_lost_connection_ends_as_before(harness):
    piped = harness()
    piped.welcome()
    piped.session.connection_closed()
    assert piped.session.finished
    assert piped.session.outcome() == (EXIT_FAILURE, "Se ha perdido la conexión con el servidor")


def test_from_a_pipe_with_reconnect_input_waits_and_end_of_input_comes_back_first(harness):
    piped = harness(reconnect=True)
    piped.welcome()
    piped.type("get a.txt")
    piped.sent()
    piped.session.input_ended()
    assert piped.sent() == ["quit"]
    piped.session.connection_closed()
    assert not piped.session.finished and not piped.session.reads_input()
    _wait_and_reconnect(piped)
    piped.sent()
    piped.server(protocol.Hello(SERVER, "Hola"), protocol.Version(SERVER, 2))
    assert piped.sent() == ["get a.txt", "quit"]


def test_cancel_stops_the_download_arriving_and_a_queued_one_without_failures(student):
    session = student.session
    student.type("get big.bin", "get b.txt")
    student.sent()
    student.server(*file_events("big.bin", CONTENT, frame=1000)[:2])
    student.type("cancel")
    assert student.sent() == ["cancel big.bin"]
    student.server(protocol.FileAbort(SERVER, "Descarga cancelada: big.bin"))
    student.type("cancel b.txt")
    assert student.sent() == ["cancel b.txt"]
    student.server(
        protocol.Refused(SERVER, "cancelled", "b.txt"),
        protocol.Error(SERVER, "cancelled", "Descarga cancelada: b.txt"),
    )
    assert session.downloads.requests == [] and session.downloads.current is None
    assert list(student.download_dir.iterdir()) == []
    student.type("cancel")
    assert student.shown()[-1] == "No hay ninguna descarga que cancelar"
    student.type("quit")
    student.server(protocol.Bye(SERVER, "Adiós"))
    assert session.outcome() == (EXIT_OK, None)


def test_ctrl_c_during_a_download_cancels_it_and_a_second_leaves(student):
    student.type("get big.bin")
    student.sent()
    student.server(*file_events("big.bin", CONTENT, frame=1000)[:2])
    student.shown()
    student.session.interrupt_key()
    assert student.sent() == ["cancel big.bin"]
    assert student.shown() == ["Cancelando la descarga de big.bin; Ctrl-C otra vez para salir ya"]
    assert not student.session.finished


def test_at_a_terminal_the_exit_report_leaves_out_requests_refused_at_once(student):
    """A typo answered an hour ago is not a failed transfer at the end."""
    student.type("get nota.txt")
    student.server(
        protocol.Refused(SERVER, "nofile", "nota.txt"),
        protocol.Error(SERVER, "nofile", "El archivo no existe: nota.txt"),
    )
    student.type("quit")
    student.server(protocol.Bye(SERVER, "Adiós"))
    assert student.session.outcome() == (EXIT_OK, None)


def test_from_a_pipe_the_exit_report_still_counts_them(harness):
    piped = harness()
    piped.welcome()
    piped.type("get nota.txt")
    piped.server(protocol.Refused(SERVER, "nofile", "nota.txt"))
    piped.type("quit")
    piped.server(protocol.Bye(SERVER, "Adiós"))
    assert piped.session.outcome() == (EXIT_TRANSFER_FAILED, "Descargas fallidas: 1")


def test_at_a_terminal_a_name_in_use_at_the_first_join_is_a_name_refusal(harness):
    client = harness(interactive=True, reconnect=True)
    client.server(protocol.Error(SERVER, "name-taken", "El nombre ana ya está en uso"))
    client.session.connection_closed()
    assert client.session.finished and client.session.name_refused


def test_leaving_while_away_removes_the_part_kept_only_to_resume(student):
    student.type("get big.bin")
    student.server(*file_events("big.bin", CONTENT, frame=1000)[:2])
    student.session.connection_closed()
    partial = partial_path(str(student.download_dir), "big.bin")
    assert os.path.exists(partial)
    student.type("quit")
    student.session.close()
    assert not os.path.exists(partial), "no --keep-partial: nothing is left behind"
    assert student.session.outcome() == (EXIT_TRANSFER_FAILED, "Descargas fallidas: 1")


def test_a_download_asked_in_another_folder_is_asked_again_from_there(student):
    student.type("cd sub", "get a.txt", "cd ..", "cd otra", "get b.txt")
    student.sent()
    student.session.connection_closed()
    _wait_and_reconnect(student)
    student.sent()
    student.server(protocol.Hello(SERVER, "Hola"), protocol.Version(SERVER, 2))
    assert student.sent() == ["cd sub", "get a.txt", "cd /", "cd sub", "cd ..", "cd otra", "get b.txt"]
