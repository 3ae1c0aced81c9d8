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
        "get ARCHIVO...",
        "clear",
        "exit, bye, Ctrl-D",
    ):
        assert needed in text, (needed, result)
