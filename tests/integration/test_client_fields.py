"""The real client with the real server, through the command table and protocol 2's fields:
aliases keep their folder, `mget` alone explains itself, `help` lists the client's commands."""

from __future__ import annotations

import re

from .harness import run_client


def _served(tmp_path, start_server):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "arriba.txt").write_text("a")
    (root / "sub" / "dentro.txt").write_text("d")
    return start_server(root=root)


def test_ls_and_dir_list_the_folder_they_are_given(tmp_path, start_server, client_dir):
    server = _served(tmp_path, start_server)
    result = run_client(server.port, ["ls sub", "dir sub"], name="ana", download_dir=client_dir("ana"))
    assert result.returncode == 0, result
    listed = [line for line in result.stdout if re.search(r"\d\d:\d\d  ", line)]
    assert len(listed) == 2 and all(line.endswith("  dentro.txt") for line in listed), result


def test_mget_alone_explains_its_usage_and_asks_the_server_nothing(tmp_path, start_server, client_dir):
    server = _served(tmp_path, start_server)
    result = run_client(server.port, ["mget"], name="ana", download_dir=client_dir("ana"))
    assert result.returncode == 0, result
    assert result.has("Uso: mget PATRÓN... (por ejemplo mget *.pdf)"), result
    assert not result.has("coincide"), result


def test_help_lists_the_clients_commands_aliases_and_keys(tmp_path, start_server, client_dir):
    server = _served(tmp_path, start_server)
    result = run_client(server.port, ["help"], name="ana", download_dir=client_dir("ana"))
    text = "\n".join(result.stdout)
    for needed in (
        "list [CARPETA]",
        "ls, dir",
        "mget PATRÓN",
        "get ARCHIVO ...",
        "clear",
        "exit, bye, Ctrl-D",
    ):
        assert needed in text, (needed, result)


def test_a_get_of_several_names_saves_what_exists_and_reports_what_does_not(
    tmp_path, start_server, client_dir
):
    server = _served(tmp_path, start_server)
    downloads = client_dir("ana")
    result = run_client(server.port, ["get arriba.txt nada.txt"], name="ana", download_dir=downloads)
    assert result.returncode == 4, result
    assert (downloads / "arriba.txt").read_text() == "a"
    assert result.has("profe> El archivo no existe: nada.txt"), result
    assert result.stderr == "ftplab-client: Descargas fallidas: 1\n", result


def test_mget_and_get_of_several_names_look_in_the_current_folder(tmp_path, start_server, client_dir):
    server = _served(tmp_path, start_server)
    (tmp_path / "root" / "sub" / "otro.txt").write_text("o")
    downloads = client_dir("ana")
    result = run_client(
        server.port, ["cd sub", "mget den*", "get otro.txt nada.txt"], name="ana", download_dir=downloads
    )
    assert sorted(path.name for path in downloads.iterdir()) == ["dentro.txt", "otro.txt"], result
    assert result.returncode == 4, result


def test_mget_of_a_pattern_in_another_folder_downloads_its_matches(tmp_path, start_server, client_dir):
    server = _served(tmp_path, start_server)
    (tmp_path / "root" / "sub" / "otro.txt").write_text("o")
    downloads = client_dir("ana")
    result = run_client(server.port, ["mget sub/*.txt"], name="ana", download_dir=downloads)
    assert sorted(path.name for path in downloads.iterdir()) == ["dentro.txt", "otro.txt"], result
    assert result.returncode == 0, result
