"""The client's conversation, driven with no socket and no terminal (client_helpers.Harness)."""

from __future__ import annotations

import os
import signal

import pytest
from client_helpers import SERVER, ClearScreen, Status, file_events

from ftplab import protocol
from ftplab.client.actions import FileSaved, FileStarted
from ftplab.client.receiving import GATHER_BYTES
from ftplab.client.session import EXIT_FAILURE, EXIT_OK, EXIT_SERVER_CLOSED, EXIT_TRANSFER_FAILED

CONTENT = os.urandom(3000)


@pytest.fixture
def client(harness):
    return harness()


def _bye(client) -> None:
    client.server(protocol.Bye(SERVER, "Adiós"))


def test_the_first_line_joins_with_language_and_protocol_version(client):
    assert client.sent() == [f"!JOIN lang=es proto={protocol.VERSION}"]


def test_aliases_keep_their_folder(client):
    client.welcome()
    client.type("ls fotos", "dir", "DIR fotos de clase", "list sub")
    assert client.sent() == ["list fotos", "list", "list fotos de clase", "list sub"]


def test_a_listing_arrives_as_fields_and_is_shown_as_lines_and_completed(client):
    client.welcome()
    client.type("list")
    client.server(
        protocol.Message(SERVER, "Archivos en el servidor (2):"),
        protocol.ListEntry(SERVER, "d", 0, 0, "fotos de clase"),
        protocol.ListEntry(SERVER, "f", 1536, 0, "notas.txt"),
    )
    shown = client.shown()
    assert shown[0] == "profe> Archivos en el servidor (2):"
    assert shown[1].startswith("profe>      <dir>  ") and shown[1].endswith("  fotos de clase/")
    assert shown[2].startswith("profe>    1.5 KiB  ") and shown[2].endswith("  notas.txt")
    assert client.session.complete("get no") == ["get notas.txt"]
    assert client.session.complete("cd fo") == ["cd 'fotos de clase/'"]


def test_a_chat_line_that_looks_like_a_listing_feeds_no_completion(client):
    client.welcome()
    client.type("list")
    client.server(protocol.Message(SERVER, "       100  2026-11-24 10:00  trampa.txt"))
    assert client.session.complete("get t") == []


def test_a_get_is_saved_verified_and_the_session_ends_well(client):
    client.welcome()
    client.type("get notas.txt")
    assert client.sent() == ["get notas.txt"]
    client.server(*file_events("notas.txt", CONTENT))
    assert (client.download_dir / "notas.txt").read_bytes() == CONTENT
    shown = client.shown()
    assert shown[0] == "Descargando notas.txt (2.9 KiB)"
    assert shown[1].startswith(f"Guardado {client.download_dir / 'notas.txt'} (2.9 KiB en ")
    client.type("quit")
    assert client.sent() == ["quit"]
    _bye(client)
    assert client.session.outcome() == (EXIT_OK, None)


def test_a_file_not_asked_for_is_refused_and_its_bytes_skipped(client):
    client.welcome()
    client.server(*file_events("intruso.txt", CONTENT))
    assert client.shown() == ["Descarga rechazada: intruso.txt no se ha pedido"]
    assert list(client.download_dir.iterdir()) == []


def test_a_refusal_names_its_request_so_the_others_stay_asked_for(client):
    client.welcome()
    client.type("get a.txt", "get nada.txt", "get b.txt")
    client.server(
        protocol.Refused(SERVER, "nofile", "nada.txt"),
        protocol.Error(SERVER, "nofile", "El archivo no existe: nada.txt"),
        *file_events("a.txt", b"a"),
        *file_events("b.txt", b"b"),
    )
    assert (client.download_dir / "a.txt").read_bytes() == b"a"
    assert (client.download_dir / "b.txt").read_bytes() == b"b"
    assert client.session.downloads.requests == []
    _bye(client)
    assert client.session.outcome() == (EXIT_TRANSFER_FAILED, "Descargas fallidas: 1")


def test_a_refusals_text_is_never_read_for_a_name(client):
    """A sentence naming another request (as a translated text might) changes nothing."""
    client.welcome()
    client.type("get a.txt", "get b.txt")
    client.server(
        protocol.Refused(SERVER, "nofile", "b.txt"),
        protocol.Error(SERVER, "nofile", "El archivo no existe: a.txt"),
        *file_events("a.txt", b"a"),
    )
    assert (client.download_dir / "a.txt").read_bytes() == b"a"


def test_with_an_older_server_a_refusal_still_counts(client):
    client.welcome(version=None)
    client.type("get nada.txt")
    client.server(protocol.Error(SERVER, "nofile", "El archivo no existe: nada.txt"))
    _bye(client)
    assert client.session.outcome()[0] == EXIT_TRANSFER_FAILED


def test_mget_queues_what_matches_its_pattern_only(client):
    client.welcome()
    client.type("mget *.txt")
    assert client.sent() == ["mget *.txt"]
    client.server(protocol.Queued(SERVER, "a.txt"), protocol.Queued(SERVER, "b.pdf"))
    assert client.shown() == ["a.txt: en cola", "Descarga rechazada: b.pdf no se ha pedido"]


def test_mget_without_a_pattern_says_how_to_use_it_and_sends_nothing(client):
    client.welcome()
    client.type("mget")
    assert client.shown() == ["Uso: mget PATRÓN... (por ejemplo mget *.pdf)"]
    assert client.sent() == []


def test_get_of_several_names_goes_whole_and_each_queued_name_is_taken(client):
    client.welcome()
    client.type("get a.txt b.txt")
    assert client.sent() == ["get a.txt b.txt"]
    client.server(protocol.Queued(SERVER, "a.txt"), protocol.Queued(SERVER, "b.txt"))
    client.server(*file_events("a.txt", b"a"), *file_events("b.txt", b"b"))
    assert sorted(path.name for path in client.download_dir.iterdir()) == ["a.txt", "b.txt"]


def test_a_get_typed_after_an_mget_waits_while_the_mgets_files_come_first(client):
    """The server queues an mget's files when it reads the mget, before a get typed after
    it; the client learnt of the get first. Found by the class rehearsal: the get's file
    was refused as not asked for."""
    client.welcome()
    client.type("mget *.bin", "get notas.txt")
    client.server(protocol.Queued(SERVER, "a.bin"), protocol.Queued(SERVER, "b.bin"))
    client.server(*file_events("a.bin", b"a"), *file_events("b.bin", b"b"))
    client.server(*file_events("notas.txt", CONTENT))
    assert sorted(path.name for path in client.download_dir.iterdir()) == ["a.bin", "b.bin", "notas.txt"]
    assert not [line for line in client.shown() if "no se ha pedido" in line]
    assert client.session.downloads.requests == []


def test_a_get_of_several_names_leaves_when_a_later_file_comes_first(client):
    client.welcome()
    client.type("get a.txt b.txt", "get c.txt")
    client.server(protocol.Queued(SERVER, "a.txt"), protocol.Queued(SERVER, "b.txt"))
    for name in ("a.txt", "b.txt", "c.txt"):
        client.server(*file_events(name, name.encode()))
    assert sorted(path.name for path in client.download_dir.iterdir()) == ["a.txt", "b.txt", "c.txt"]
    assert client.session.downloads.requests == []


def test_progress_is_drawn_at_most_a_few_times_a_second(client):
    client.welcome()
    client.type("get big.bin")
    content = os.urandom(64 * 1024)
    events = file_events("big.bin", content, frame=1024)
    client.server(*events[:10])
    client.clock.now += 1.0
    client.server(*events[10:20])
    statuses = [action.text for action in client.actions() if isinstance(action, Status) and action.text]
    assert len(statuses) == 2
    assert statuses[-1].startswith("[big.bin ")


def test_an_interrupted_download_is_reported_and_counted(client):
    client.welcome()
    client.type("get big.bin")
    client.server(*file_events("big.bin", CONTENT, frame=1000)[:2])
    client.session.connection_closed()
    client.session.close()
    assert "big.bin: descarga interrumpida al 33 %, no se guardó nada" in client.shown()
    assert list(client.download_dir.iterdir()) == []
    assert client.session.outcome() == (EXIT_FAILURE, "Se ha perdido la conexión con el servidor")


def test_a_second_file_before_the_first_ended_breaks_the_stream(client):
    client.welcome()
    client.type("get a.txt", "get b.txt")
    client.server(*file_events("a.txt", CONTENT)[:1], *file_events("b.txt", b"b"))
    assert client.session.finished
    assert client.session.outcome()[0] == EXIT_FAILURE


def test_keep_alives_are_sent_when_due_and_only_then(client):
    client.welcome()
    client.server(protocol.KeepAlive(SERVER, 30.0))
    client.clock.now += 29.0
    client.session.tick()
    assert client.sent() == []
    assert client.session.wait_seconds() == pytest.approx(1.0)
    client.clock.now += 1.0
    client.session.tick()
    assert client.sent() == [""]


def test_no_hello_in_time_ends_the_session(harness):
    client = harness(timeout=2.0)
    client.clock.now += 2.0
    client.session.tick()
    assert client.session.finished
    assert client.session.outcome() == (EXIT_FAILURE, "El servidor no ha respondido en 2 s")


def test_the_server_closing_is_exit_status_3_with_its_words(client):
    client.welcome()
    client.server(protocol.Error(SERVER, "closing", "El servidor se cierra"))
    client.session.connection_closed()
    assert client.session.outcome() == (
        EXIT_SERVER_CLOSED,
        "El servidor ha cerrado la conexión: El servidor se cierra",
    )


def test_ctrl_c_twice_when_idle_quits_and_during_a_download_leaves_at_once(harness):
    idle = harness(interactive=True)
    idle.welcome()
    idle.session.interrupt_key()
    assert idle.shown() == ["Para salir: Ctrl-C otra vez, Ctrl-D o quit"]
    idle.session.interrupt_key()
    assert idle.sent() == ["quit"]

    busy = harness(name="bob", interactive=True)
    busy.welcome()
    busy.type("get big.bin")
    busy.session.interrupt_key()
    busy.session.interrupt_key()
    assert busy.session.finished
    assert busy.session.outcome()[0] == 128 + signal.SIGINT


def test_clear_is_an_action_and_quit_with_words_is_sent_as_typed(client):
    client.welcome()
    client.type("clear", "quit ya")
    assert any(isinstance(action, ClearScreen) for action in client.actions())
    assert client.sent() == ["quit ya"]


def test_a_put_is_announced_sent_after_go_and_a_quit_waits_for_it(client, tmp_path):
    local = tmp_path / "local.bin"
    local.write_bytes(CONTENT)
    client.welcome()
    client.type(f"put {local}", "quit")
    (announce,) = client.sent()
    assert announce.startswith(f"put {len(CONTENT)} ") and announce.endswith(" local.bin")
    client.server(protocol.UploadReady(SERVER, "local.bin"))
    frames = client.sent()
    assert [len(frame.data) for frame in frames] == [len(CONTENT)]
    client.server(protocol.UploadSaved(SERVER, len(CONTENT), "local.bin"))
    assert client.sent() == ["quit"], "the quit typed during the upload goes after it"


def test_an_upload_error_ends_that_upload_only(client, tmp_path):
    local = tmp_path / "local.bin"
    local.write_bytes(CONTENT)
    client.welcome()
    client.type(f"put {local}")
    client.sent()
    client.server(protocol.Error(SERVER, "exists", "Ya existe: local.bin"))
    assert client.session.uploads.current is None
    _bye(client)
    assert client.session.outcome() == (EXIT_TRANSFER_FAILED, "Subidas fallidas: 1")


def test_a_terminal_line_is_refused_while_the_server_reads_nothing(harness):
    client = harness(interactive=True)
    client.welcome()
    client.session.outbox.raw(b"x" * 64 * 1024)
    client.type("hola")
    assert client.shown() == ["El servidor no está leyendo lo que envías: línea no enviada"]
    assert client.session.reads_input(), "a terminal is always read"


def test_piped_input_is_not_read_while_the_server_reads_nothing(client):
    client.welcome()
    client.session.outbox.raw(b"x" * 64 * 1024)
    assert not client.session.reads_input()


def test_a_download_is_told_to_programs_as_fields(client):
    client.welcome()
    client.type("get notas.txt")
    client.server(*file_events("notas.txt", CONTENT))
    notes = [action for action in client.actions() if isinstance(action, (FileStarted, FileSaved))]
    path = str(client.download_dir / "notas.txt")
    assert notes == [FileStarted("notas.txt", len(CONTENT)), FileSaved("notas.txt", path, len(CONTENT))]


def test_a_download_refused_when_its_turn_comes_is_named_by_its_path(client):
    client.welcome()
    client.type("cd sub", "get a.txt", "get b.txt")
    client.server(protocol.Refused(SERVER, "nofile", "sub/a.txt"))
    assert [request.name for request in client.session.downloads.requests] == ["b.txt"]


def test_lines_said_before_joining_are_shown_labelled_as_earlier(client):
    client.welcome()
    client.server(protocol.Earlier(SERVER, "bob", "hola a todos"))
    assert client.shown()[-1] == "(antes) bob> hola a todos"


def test_a_system_error_is_said_in_the_users_language(client, tmp_path):
    """Issue 18, item 5: never English strerror inside a Spanish sentence."""
    client.welcome()
    missing = tmp_path / "no-hay.txt"
    client.type(f"put {missing}")
    assert client.shown() == [f"No se puede subir {missing}: no existe"]


def test_the_kernel_gathers_a_file_s_bytes_only_while_it_arrives_and_never_past_its_end(client):
    content = os.urandom(GATHER_BYTES + 5000)
    events = file_events("big.bin", content, frame=1000)
    client.welcome()
    assert client.session.downloads.bytes_to_gather() == 1, "no file: any byte wakes the client"
    client.type("get big.bin")
    client.server(*events[:2])
    assert client.session.downloads.bytes_to_gather() == GATHER_BYTES
    client.server(*events[2:-3])
    assert client.session.downloads.bytes_to_gather() == len(content) - (len(events) - 4) * 1000
    client.server(*events[-3:])
    assert FileSaved("big.bin", str(client.download_dir / "big.bin"), len(content)) in client.actions()
    assert client.session.downloads.bytes_to_gather() == 1
