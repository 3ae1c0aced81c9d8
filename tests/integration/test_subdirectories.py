"""cd, pwd, list and get inside the served directory's subdirectories, against a real
server, with the same storage rules as the root: no way out, no symlink out, hidden
names hidden; and Tab completion of folders on a real terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftplab import protocol

from .harness import RawConnection, TerminalClient, make_file, run_client

EXIT_GET_FAILED = 4


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, bytes]:
    """root/ with carpeta/ (a file, a hidden one, sub/ with a 1.5 MiB file), a link to
    carpeta (inside) and one to a directory outside the root."""
    root = tmp_path / "root"
    (root / "carpeta" / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    make_file(outside / "secreto.txt", 10)
    contents = {
        "carpeta/dentro.txt": make_file(root / "carpeta" / "dentro.txt", 300, seed=1),
        "carpeta/sub/hondo.bin": make_file(root / "carpeta" / "sub" / "hondo.bin", 1536 * 1024, seed=2),
    }
    make_file(root / "carpeta" / ".oculto", 5)
    make_file(root / "raiz.txt", 20, seed=3)
    (root / "atajo").symlink_to("carpeta")
    (root / "fuera").symlink_to(outside)
    return contents


@pytest.fixture
def server(start_server, tmp_path, tree):
    return start_server(root=tmp_path / "root")


def test_cd_pwd_list_and_get_inside_subdirectories(server, tree, client_dir):
    downloads = client_dir("ana")
    script = [
        "cd carpeta",
        "pwd",
        "list",
        "get dentro.txt",
        "get sub/hondo.bin",
        "cd sub",
        "list",
        "cd /",
        "pwd",
    ]

    result = run_client(server.port, script, name="ana", download_dir=downloads)

    assert result.returncode == 0, result
    assert result.has("profe> Carpeta actual: /carpeta"), result
    assert result.has("profe> Archivos en /carpeta (2):"), result
    assert result.has(r"profe>      300 B  "), result
    assert any(line.endswith("  dentro.txt") for line in result.stdout), result
    assert any(
        line.startswith("profe>      <dir>  ") and line.endswith("  sub/") for line in result.stdout
    ), result
    assert not result.has(".oculto"), "hidden names stay hidden in subdirectories"
    assert result.has("profe> Archivos en /carpeta/sub (1):"), result
    assert any("1.5 MiB" in line and line.endswith("  hondo.bin") for line in result.stdout), result
    assert result.has("profe> Carpeta actual: /"), result
    assert (downloads / "dentro.txt").read_bytes() == tree["carpeta/dentro.txt"]
    assert (downloads / "hondo.bin").read_bytes() == tree["carpeta/sub/hondo.bin"]


def test_the_root_lists_its_folders_and_links_that_stay_inside(server, client_dir):
    result = run_client(server.port, ["list"], name="ana", download_dir=client_dir("ana"))

    assert result.returncode == 0, result
    assert result.has("profe> Archivos en el servidor (3):"), result
    for name in ("atajo/", "carpeta/", "raiz.txt"):
        assert any(line.endswith(f"  {name}") for line in result.stdout), (name, result)
    assert not result.has("fuera"), "a link leading out of the root is not listed"


@pytest.mark.parametrize(
    ("typed", "where"),
    [
        ("cd ..", "/"),
        ("cd carpeta/../..", "/"),
        ("cd /carpeta/sub", "/carpeta/sub"),
        ("cd /atajo", "/atajo"),
        ("cd '/carpeta/sub'", "/carpeta/sub"),
        ("cd", "/"),
    ],
)
def test_cd_stays_inside_the_root(server, client_dir, typed, where):
    result = run_client(server.port, ["cd carpeta", typed, "pwd"], name="ana", download_dir=client_dir("ana"))

    assert result.returncode == 0, result
    assert result.stdout[-2] == f"profe> Carpeta actual: {where}", result


@pytest.mark.parametrize("folder", ["fuera", "raiz.txt", "no-existe", "carpeta/.oculto", "carpeta\\sub"])
def test_cd_to_what_is_not_a_folder_inside_is_refused(server, folder):
    with RawConnection(server.port, "ana") as ana:
        ana.join()
        ana.send_line(f"cd {folder}")
        refusal = ana.expect(protocol.Error)
        assert refusal.code == "not-dir", refusal
        ana.send_line("pwd")
        assert ana.expect(protocol.Message).text.endswith(": /"), "still at the root"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("fuera/secreto.txt", "nofile"),
        ("carpeta/.oculto", "nofile"),
        ("atajo/../../outside/secreto.txt", "nofile"),
        ("carpeta/sub", "not-file"),
        ("carpeta/no-existe.txt", "nofile"),
    ],
)
def test_get_with_a_path_follows_the_storage_rules(server, name, code):
    with RawConnection(server.port, "ana") as ana:
        ana.join()
        ana.send_line(f"get {name}")
        refusal = ana.expect(protocol.Error)
        assert refusal.code == code, refusal


def test_get_through_a_link_inside_the_root(server, tree):
    with RawConnection(server.port, "ana") as ana:
        ana.join()
        ana.send_line("get atajo/dentro.txt")
        start = ana.expect(protocol.FileStart)
        assert start.name == "dentro.txt", "the header names the file only, as the client saves it"
        ana.read_whole_file()
        assert ana.file_bytes == len(tree["carpeta/dentro.txt"])


def test_tab_completes_folders_after_cd(start_server, tmp_path, client_dir):
    root = tmp_path / "root"
    (root / "fotos de clase").mkdir(parents=True)
    make_file(root / "fotos.txt", 10)
    server = start_server(root=root)
    with TerminalClient(server.port, "ana", client_dir("ana")) as ana:
        ana.wait_for("Hola, ana.")
        ana.type("list\r")
        listed = ana.wait_for("fotos.txt")
        ana.type("cd fo\t\r")  # only the folder is a candidate after cd
        ana.wait_for("ana> cd 'fotos de clase/'", start=listed)
        ana.wait_for("Carpeta actual: /fotos de clase")
        ana.type("\x04")
        assert ana.wait() == 0
