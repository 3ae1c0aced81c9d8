"""list and get against a real server: sizes, byte-identical downloads, refusals, traversal."""

from __future__ import annotations

import re

import pytest

from .conftest import SPANISH_NAME
from .harness import RawConnection, message_containing, partial_downloads, run_client

EXIT_GET_FAILED = 4
"""The client's exit status when a `get` failed."""
LIST_ENTRY = re.compile(r"^profe> +(\d+)  \d{4}-\d\d-\d\d \d\d:\d\d  (.+)$")


def test_list_shows_every_file_with_its_size(shared_server, served_root, client_dir):
    result = run_client(shared_server.port, ["list"], name="lister", download_dir=client_dir("lister"))

    assert result.returncode == 0, result
    assert result.has(f"profe> Archivos en el servidor ({len(served_root.contents)}):"), result
    listed = {m.group(2): int(m.group(1)) for line in result.stdout if (m := LIST_ENTRY.match(line))}
    expected = {name: len(content) for name, content in served_root.contents.items()}
    assert listed == expected, "no directories, no symlinks leading out of the root"


@pytest.mark.parametrize("name", ["empty.bin", "one.bin", "random.bin", SPANISH_NAME, "alias.txt"])
def test_get_saves_a_byte_identical_copy(shared_server, served_root, client_dir, name):
    downloads = client_dir("getter")

    result = run_client(shared_server.port, [f"get {name}"], name="getter", download_dir=downloads)

    assert result.returncode == 0, result
    assert result.has(f"Guardado {downloads / name} ("), result
    assert (downloads / name).read_bytes() == served_root.contents[name]
    assert sorted(p.name for p in downloads.iterdir()) == [name], "nothing but the file, no .part left"


def test_several_gets_in_one_session_are_all_saved_before_quit(shared_server, served_root, client_dir):
    downloads = client_dir("batch")
    names = ["random.bin", "empty.bin", SPANISH_NAME, "notes.txt"]

    result = run_client(shared_server.port, [f"get {n}" for n in names], name="batch", download_dir=downloads)

    assert result.returncode == 0, result
    for name in names:
        assert (downloads / name).read_bytes() == served_root.contents[name]
    assert result.has("Adiós, batch"), "end of input quits once the downloads are done"
    assert partial_downloads(downloads) == []


def test_get_of_a_file_already_downloaded_keeps_both_copies(shared_server, served_root, client_dir):
    downloads = client_dir("twice")
    (downloads / "notes.txt").write_bytes(b"mine, not the server's")

    result = run_client(shared_server.port, ["get notes.txt"], name="twice", download_dir=downloads)

    assert result.returncode == 0, result
    assert (downloads / "notes.txt").read_bytes() == b"mine, not the server's"
    assert (downloads / "notes (1).txt").read_bytes() == served_root.contents["notes.txt"]


def test_get_of_a_missing_file_says_so_and_writes_nothing(shared_server, client_dir):
    downloads = client_dir("missing")

    result = run_client(shared_server.port, ["get nope.txt"], name="missing", download_dir=downloads)

    assert result.returncode == EXIT_GET_FAILED, result
    assert result.has("profe> El archivo no existe: nope.txt"), result
    assert list(downloads.iterdir()) == []


@pytest.mark.parametrize(
    "name",
    [
        "../secret.txt",
        "/etc/passwd",
        "..",
        ".",
        "../root2/secret.txt",
        "link-out",
        "link-sibling",
        "link-up",
        "carpeta/inside.txt",
        "link-up/secret.txt",
    ],
)
def test_names_leading_out_of_the_root_are_missing_files(shared_server, client_dir, name):
    downloads = client_dir("intruder")

    result = run_client(shared_server.port, [f"get {name}"], name="intruder", download_dir=downloads)

    assert result.returncode == EXIT_GET_FAILED, result
    answers = [line for line in result.stdout if line.startswith("profe> ") and "unido" not in line]
    assert any("El archivo no existe" in line for line in answers), result
    assert not result.has("Descargando"), result
    assert list(downloads.iterdir()) == []


@pytest.mark.parametrize("name", ["carpeta", "tuberia"])
def test_directories_and_fifos_are_not_downloadable(shared_server, client_dir, name):
    downloads = client_dir("dirs")

    result = run_client(shared_server.port, [f"get {name}", "who"], name="dirs", download_dir=downloads)

    assert result.returncode == EXIT_GET_FAILED, result
    assert result.has(f"profe> No es un archivo que se pueda descargar: {name}"), result
    assert result.has("profe> Conectados ("), "the server did not block on it"
    assert list(downloads.iterdir()) == []


def test_two_gets_of_one_file_keep_both_copies(shared_server, served_root, client_dir):
    downloads = client_dir("dos")

    result = run_client(shared_server.port, ["get notes.txt"] * 2, name="dos", download_dir=downloads)

    assert result.returncode == 0, result
    assert sorted(p.name for p in downloads.iterdir()) == ["notes (1).txt", "notes.txt"]
    assert (downloads / "notes (1).txt").read_bytes() == served_root.contents["notes.txt"]


def test_client_refuses_a_file_name_it_cannot_save_safely_and_goes_on(start_server, client_dir, tmp_path):
    root = tmp_path / "hidden-root"
    root.mkdir()
    (root / ".oculto").write_bytes(b"x" * 300_000)
    (root / "visible.txt").write_bytes(b"ok\n")
    server = start_server(root=root)
    downloads = client_dir("prudente")

    result = run_client(
        server.port, ["get .oculto", "get visible.txt"], name="prudente", download_dir=downloads
    )

    assert result.returncode == EXIT_GET_FAILED, result
    assert result.has("Descarga rechazada: nombre de archivo no válido .oculto"), result
    assert sorted(p.name for p in downloads.iterdir()) == ["visible.txt"], "its bytes were skipped"
    assert (downloads / "visible.txt").read_bytes() == b"ok\n"


def test_a_file_name_the_protocol_cannot_carry_does_not_crash_the_server(start_server, tmp_path):
    root = tmp_path / "cr-root"
    root.mkdir()
    (root / "a\rb.txt").write_bytes(b"carriage return in the name")
    server = start_server(root=root)

    with RawConnection(server.port, "ana") as raw:
        raw.join()
        raw.send_line("get a\rb.txt")  # the protocol drops only a CR before the LF
        raw.send_line("who")
        raw.expect(message_containing("Conectados (1): ana"))  # the stream still parses

    assert server.returncode is None


def test_get_without_a_name_shows_the_usage(shared_server, client_dir):
    result = run_client(shared_server.port, ["get"], name="usage", download_dir=client_dir("usage"))

    assert result.returncode == 0, result
    assert result.has("profe> Uso: get NOMBRE_DE_ARCHIVO"), result


def test_english_server_says_no_such_file(start_server, client_dir):
    server = start_server(lang="en")

    result = run_client(server.port, ["get nope.txt"], name="ann", download_dir=client_dir("ann"), lang="en")

    assert result.returncode == EXIT_GET_FAILED, result
    assert result.has("profe> No such file: nope.txt"), result
    assert result.has("profe> Hello, ann."), result
