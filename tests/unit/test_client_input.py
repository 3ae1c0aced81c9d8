"""What the client makes of typed text, without sockets: `get` arguments quoted as in a
shell, `list` lines recognised for Tab completion, completion itself."""

from __future__ import annotations

import pytest

from ftplab.client import _file_name_argument, _listed_name, _local_names, _partial_name, _quoted
from ftplab.console import _cells, _word_start


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("notas.txt", "notas.txt"),
        ('"con espacios.txt"', "con espacios.txt"),
        ("'con espacios.txt'", "con espacios.txt"),
        ("con\\ espacios.txt", "con espacios.txt"),
        ("con espacios.txt", "con espacios.txt"),  # unquoted: as typed
        ("l'été.txt", "l'été.txt"),  # a lone apostrophe: as typed
        ('"notas.txt"', "notas.txt"),
        ("  notas.txt  ", "notas.txt"),
    ],
)
def test_the_name_in_a_get(typed, name):
    assert _file_name_argument(typed) == name


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("         100  2026-11-24 10:00  notas.txt", "notas.txt"),
        ("     1.2 MiB  2026-11-24 10:00  con  dos espacios.txt", "con  dos espacios.txt"),
        ("     <dir>  2026-11-24 10:00  fotos de clase/", "fotos de clase/"),
        ("Archivos en el servidor (2):", None),
        ("hola  2026-11-24 10:00  no", None),
    ],
)
def test_list_lines_give_their_name(line, name):
    assert _listed_name(line) == name


def test_names_with_spaces_or_quotes_are_completed_quoted():
    assert _quoted("notas.txt") == "notas.txt"
    assert _quoted("con espacios.txt") == "'con espacios.txt'"
    assert _file_name_argument(_quoted("it's here.txt")) == "it's here.txt"


@pytest.mark.parametrize(
    ("text", "start"), [("get ", 4), ("get 'con esp", 4), ("wh", 0), ('get "a b" c', 10)]
)
def test_the_word_being_completed_starts_after_the_last_unquoted_space(text, start):
    assert _word_start(text) == start


@pytest.mark.parametrize(
    ("typed", "start"), [("", ""), ("can", "can"), ("'con esp", "con esp"), ('"con es', "con es")]
)
def test_a_name_being_typed_may_be_inside_an_open_quote(typed, start):
    assert _partial_name(typed) == start


def test_wide_characters_take_two_columns_and_combining_marks_none():
    assert _cells("abc") == 3
    assert _cells("日本") == 4
    assert _cells("e\u0301") == 1


def test_put_completes_local_files_and_folders_not_hidden_ones(tmp_path, monkeypatch):
    (tmp_path / "notas.txt").write_text("x")
    (tmp_path / ".oculto").write_text("x")
    (tmp_path / "fotos").mkdir()
    (tmp_path / "fotos" / "a.jpg").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert _local_names("") == ["fotos/", "notas.txt"]
    assert _local_names("fotos/") == ["fotos/a.jpg"]
    assert _local_names("no-existe/") == []
