"""list and get against a real server: sizes, byte-identical downloads, refusals, traversal."""

from __future__ import annotations

import re
import unicodedata

import pytest

from ftplab import protocol
from ftplab.messages import human_size
from support.constants import SPANISH_FILE_NAME

from .harness import RawConnection, message_containing, partial_downloads, run_client

EXIT_GET_FAILED = 4
"""The client's exit status when a `get` failed."""
LIST_ENTRY = re.compile(r"^profe> +(\d\S*(?: \S+)?|<dir>)  \d{4}-\d\d-\d\d \d\d:\d\d  (.+)$")


def test_list_shows_every_file_with_its_size(shared_server, served_root, client_dir):
    result = run_client(shared_server.port, ["list"], name="lister", download_dir=client_dir("lister"))

    assert result.returncode == 0, result
    assert result.has(f"profe> Archivos en el servidor ({len(served_root.contents) + 1}):"), result
    listed = {m.group(2): m.group(1) for line in result.stdout if (m := LIST_ENTRY.match(line))}
    expected = {name: human_size(len(content)) for name, content in served_root.contents.items()}
    expected["carpeta/"] = "<dir>"
    assert listed == expected, "readable sizes, the subdirectory marked, no symlinks leading out of the root"


@pytest.mark.parametrize("name", ["empty.bin", "one.bin", "random.bin", SPANISH_FILE_NAME, "alias.txt"])
def test_get_saves_a_byte_identical_copy(shared_server, served_root, client_dir, name):
    downloads = client_dir("getter")

    result = run_client(shared_server.port, [f"get {name}"], name="getter", download_dir=downloads)

    assert result.returncode == 0, result
    assert result.has(f"Guardado {downloads / name} ("), result
    assert (downloads / name).read_bytes() == served_root.contents[name]
    assert sorted(p.name for p in downloads.iterdir()) == [name], "nothing but the file, no .part left"


def test_several_gets_in_one_session_are_all_saved_before_quit(shared_server, served_root, client_dir):
    downloads = client_dir("batch")
    names = ["random.bin", "empty.bin", SPANISH_FILE_NAME, "notes.txt"]

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
        "link-up/secret.txt",
        "carpeta/../../secret.txt",
        "link-out/secret.txt",
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


def test_a_hidden_file_is_neither_listed_nor_served_and_the_client_goes_on(
    start_server, client_dir, tmp_path
):
    """Server and client follow one rule (filenames.py): the client never saves a
    hidden name, so the server neither lists nor sends one."""
    root = tmp_path / "hidden-root"
    root.mkdir()
    (root / ".oculto").write_bytes(b"x" * 300_000)
    (root / "visible.txt").write_bytes(b"ok\n")
    server = start_server(root=root)
    downloads = client_dir("prudente")

    result = run_client(
        server.port, ["list", "get .oculto", "get visible.txt"], name="prudente", download_dir=downloads
    )

    assert result.returncode == EXIT_GET_FAILED, result
    assert result.has("profe> Archivos en el servidor (1):"), result
    listed = [m.group(2) for line in result.stdout if (m := LIST_ENTRY.match(line))]
    assert listed == ["visible.txt"], result
    assert result.has("profe> El archivo no existe: .oculto"), result
    assert not result.has("Descarga rechazada"), "the server did not send what the client refuses"
    assert sorted(p.name for p in downloads.iterdir()) == ["visible.txt"]
    assert (downloads / "visible.txt").read_bytes() == b"ok\n"
    server.wait_for_log("get .oculto refused: No such file: .oculto")


NFC_CAFE = unicodedata.normalize("NFC", "Café.txt")
NFD_CAFE = unicodedata.normalize("NFD", "Café.txt")


@pytest.mark.parametrize(
    ("on_disk", "typed"), [(NFD_CAFE, NFC_CAFE), (NFC_CAFE, NFD_CAFE)], ids=["nfd", "nfc"]
)
def test_a_file_name_typed_in_another_unicode_form_is_downloaded(
    start_server, client_dir, tmp_path, on_disk, typed
):
    root = tmp_path / "unicode-root"
    root.mkdir()
    (root / on_disk).write_bytes(b"un cafe\n")
    server = start_server(root=root)
    downloads = client_dir("cafetera")

    result = run_client(server.port, [f"get {typed}"], name="cafetera", download_dir=downloads)

    assert result.returncode == 0, result
    assert [p.name for p in downloads.iterdir()] == [on_disk], "saved under the server's own spelling"
    assert (downloads / on_disk).read_bytes() == b"un cafe\n"


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


def test_nfc_and_nfd_twins_are_listed_apart(start_server, tmp_path):
    root = tmp_path / "twins-root"
    root.mkdir()
    (root / NFC_CAFE).write_bytes(b"composed")
    (root / NFD_CAFE).write_bytes(b"decomposed")
    server = start_server(root=root)

    with RawConnection(server.port, "gemelos") as raw:
        raw.join()
        raw.send_line("list")
        raw.send_line("who")
        raw.expect(message_containing("Conectados (1)"))
    shown = [e.text.split("  ")[-1] for e in raw.events if e.text.endswith(".txt")]

    assert sorted(shown) == ["Cafe\\u0301.txt", "Café.txt"]


def test_a_name_matching_several_files_only_in_another_form_is_refused_as_ambiguous(start_server, tmp_path):
    root = tmp_path / "ambiguous-root"
    root.mkdir()
    (root / "\u1e30.txt").write_bytes(b"composed")
    (root / "K\u0301.txt").write_bytes(b"decomposed")
    server = start_server(root=root)

    with RawConnection(server.port, "dudosa") as raw:
        raw.join()
        raw.send_line("get K\u0341.txt")  # neither form: U+0341 is U+0301 after normalization
        error = raw.expect(lambda event: isinstance(event, protocol.Error))

    assert error.code == "ambiguous"
    assert "varios archivos" in error.text
    assert raw.file is None
