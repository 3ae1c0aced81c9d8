"""The line editor with no terminal at all: strings of keys in, line, cursor, history and effects out."""

from __future__ import annotations

from ftplab.line_editor import Cancelled, Choices, LineEditor, Signal, Submitted

LEFT, RIGHT, UP, DOWN, HOME, END, DELETE = (
    "\x1b[D",
    "\x1b[C",
    "\x1b[A",
    "\x1b[B",
    "\x1b[H",
    "\x1b[F",
    "\x1b[3~",
)


def test_keys_edit_anywhere_in_the_line():
    editor = LineEditor()
    assert editor.feed(f"hla{LEFT}{LEFT}o{END}!\x01¡\x05\x08?\r") == [Submitted("¡hola?")]
    assert (editor.line, editor.cursor) == ("", 0)


def test_the_cursor_moves_and_deletes_where_it_is():
    editor = LineEditor()
    editor.feed(f"abcd{HOME}{RIGHT}{DELETE}")
    assert (editor.line, editor.cursor) == ("acd", 1)
    editor.feed("\x02\x06\x06")
    assert editor.cursor == 2


def test_ctrl_u_and_ctrl_w_erase_before_the_cursor():
    editor = LineEditor()
    editor.feed("get uno dos\x17")
    assert editor.line == "get uno "
    editor.feed(f"{LEFT}\x15")
    assert (editor.line, editor.cursor) == (" ", 0)


def test_history_goes_back_and_forward_keeps_the_draft_and_skips_repeats():
    editor = LineEditor()
    editor.feed("uno\rdos\rdos\r  \r")
    assert editor.history == ["uno", "dos"]
    editor.feed(f"tres{UP}{UP}")
    assert editor.line == "uno"
    editor.feed(f"{DOWN}{DOWN}")
    assert editor.line == "tres"
    editor.feed(f"{UP}{UP}{UP}{UP}")
    assert editor.line == "uno", "no further back than the first"


def test_answers_to_a_question_stay_out_of_the_history():
    editor = LineEditor()
    editor.remember = False
    assert editor.feed("ana\r") == [Submitted("ana")]
    assert editor.history == []


def test_ctrl_c_cancels_a_typed_line_and_is_the_owners_on_an_empty_one():
    editor = LineEditor()
    assert editor.feed("borrador\x03") == [Cancelled("borrador")]
    assert editor.feed("\x03") == [Signal("interrupt")]


def test_ctrl_d_deletes_under_the_cursor_and_ends_input_on_an_empty_line():
    editor = LineEditor()
    assert editor.feed("ab\x01\x04") == []
    assert editor.line == "b"
    editor.feed("\x05\x15")
    assert editor.feed("\x04") == [Signal("end-of-input")]


def test_the_other_signal_keys_are_the_owners():
    assert LineEditor().feed("\x1c\x1a\x0c") == [Signal("quit-now"), Signal("suspend"), Signal("redraw")]


def test_tab_completes_the_common_start_or_offers_the_choices():
    names = ("get notas.txt", "get notas2.txt", "get 'con espacios.txt'")
    editor = LineEditor(lambda before: [name for name in names if name.startswith(before)])
    assert editor.feed("get n\t") == []
    assert editor.line == "get notas"
    assert editor.feed("\t") == [Choices(("notas.txt", "notas2.txt"))]
    assert editor.feed("\x15get 'c\t") == []
    assert editor.line == "get 'con espacios.txt'"


def test_unknown_escape_sequences_and_control_characters_are_swallowed():
    editor = LineEditor()
    assert editor.feed("a\x1b[15~\x1bxb\x07c") == []
    assert editor.line == "abc"
