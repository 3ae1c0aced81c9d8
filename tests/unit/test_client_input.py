"""What the client makes of typed text, without sockets: `get` arguments quoted as in a
shell, `list` lines recognised for Tab completion, completion itself."""

from __future__ import annotations

import pytest

from ftplab.client.commands import command_for, file_name_argument, local_names, partial_name, quoted
from ftplab.console import _cells
from ftplab.line_editor import word_start


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
    assert file_name_argument(typed) == name


@pytest.mark.parametrize(
    ("typed", "action", "argument"),
    [
        ("ls fotos", "list", "fotos"),
        ("DIR  fotos de clase ", "list", "fotos de clase"),
        ("list", "list", ""),
        ("exit", "quit", ""),
        ("bye", "quit", ""),
        ("mget *.pdf", "mget", "*.pdf"),
    ],
)
def test_aliases_keep_their_arguments(typed, action, argument):
    command, given = command_for(typed)
    assert (command.action, given) == (action, argument)


@pytest.mark.parametrize("typed", ["quit now", "clear all", "who", "hola"])
def test_anything_else_goes_to_the_server_as_typed(typed):
    assert command_for(typed)[0] is None


def test_names_with_spaces_or_quotes_are_completedquoted():
    assert quoted("notas.txt") == "notas.txt"
    assert quoted("con espacios.txt") == "'con espacios.txt'"
    assert file_name_argument(quoted("it's here.txt")) == "it's here.txt"


@pytest.mark.parametrize(
    ("text", "start"), [("get ", 4), ("get 'con esp", 4), ("wh", 0), ('get "a b" c', 10)]
)
def test_the_word_being_completed_starts_after_the_last_unquoted_space(text, start):
    assert word_start(text) == start


@pytest.mark.parametrize(
    ("typed", "start"), [("", ""), ("can", "can"), ("'con esp", "con esp"), ('"con es', "con es")]
)
def test_a_name_being_typed_may_be_inside_an_open_quote(typed, start):
    assert partial_name(typed) == start


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
    assert local_names("") == ["fotos/", "notas.txt"]
    assert local_names("fotos/") == ["fotos/a.jpg"]
    assert local_names("no-existe/") == []
