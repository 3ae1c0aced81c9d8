"""The terminal line editor fed keys through a pipe (no terminal needed): editing, history,
completion, Ctrl-C and the window of a long line."""

from __future__ import annotations

import io
import os
import pty

import pytest

from ftplab.console import TerminalConsole, _cells


@pytest.fixture
def editor():
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb", buffering=0) as stdin:
        console = TerminalConsole(stdin, io.StringIO(), prompt=lambda: "ana> ", signal_keys_as_keys=True)

        def keys(text: str) -> list[str]:
            os.write(write_end, text.encode())
            return console.read_lines()

        yield console, keys
    os.close(write_end)


def test_keys_edit_anywhere_in_the_line(editor):
    _, keys = editor
    assert keys("hla\x1b[D\x1b[Do\x1b[F!\x01¡\x05\x08?\r") == ["¡hola?"]


def test_history_goes_back_and_forward_and_keeps_the_draft(editor):
    _, keys = editor
    keys("uno\rdos\r")
    assert keys("tres\x1b[A\x1b[A\x1b[B\x1b[B\r") == ["tres"]
    assert keys("\x1b[A\x1b[A\r") == ["dos"]


def test_ctrl_c_cancels_the_line_and_calls_the_owner_on_an_empty_one(editor):
    console, keys = editor
    interrupts = []
    console.on_interrupt = lambda: interrupts.append(True)
    assert keys("borrador\x03hola\r") == ["hola"]
    assert interrupts == []
    keys("\x03")
    assert interrupts == [True]


def test_tab_completes_the_common_prefix(editor):
    console, keys = editor
    console.completer = lambda before: [
        c for c in ("get 'con espacios.txt'", "get notas.txt") if c.startswith(before)
    ]
    assert keys("get n\t\r") == ["get notas.txt"]


def test_ctrl_d_ends_input_only_on_an_empty_line(editor):
    console, keys = editor
    assert keys("ab\x01\x04\r") == ["b"]
    assert not console.at_eof
    keys("\x04")
    assert console.at_eof and not console.input_gone


def test_the_window_of_a_long_line_fits_and_holds_the_cursor(editor):
    console, keys = editor
    keys("日本語" * 20 + "\x1b[D" * 7)
    start, end, back = console._window(room=21)
    line, cursor = console._editor.line, console._editor.cursor
    assert _cells(line[start:end]) <= 21
    assert start <= cursor <= end
    assert back == _cells(line[cursor:end])


@pytest.fixture
def terminal():
    """(console, keyboard, screen): a console on a pseudo-terminal; keys written to `keyboard`."""
    keyboard, slave = pty.openpty()
    screen = io.StringIO()
    with os.fdopen(slave, "rb", buffering=0) as stdin:
        console = TerminalConsole(stdin, screen, prompt=lambda: "ana> ")
        try:
            yield console, keyboard, screen
        finally:
            console.close()
            os.close(keyboard)


def test_a_secret_is_read_as_typed_and_never_drawn(terminal):
    console, keyboard, screen = terminal
    console.completer = lambda _before: ["  secreto y largo"]
    os.write(keyboard, b"  secreto\t yy\x08 largo \r")
    assert console.ask_secret("Contrase\u00f1a: ") == "  secreto y largo "
    assert "Contraseña: " in screen.getvalue()
    assert "secreto" not in screen.getvalue() and "largo" not in screen.getvalue()
    assert console.completer("") == ["  secreto y largo"]  # the owner's completion is back


def test_keys_typed_after_an_answer_are_the_owners_and_nothing_waits_for_more(terminal):
    """The password and the next line in one read: the question takes the first line only;
    the owner's prompt is back at once, and the next line is the owner's, echoed after its
    prompt. Then the keyboard has nothing: reading it returns at once (no read that waits
    for a key, though the owner's selector may still say it is readable)."""
    console, keyboard, screen = terminal
    console.start()
    os.write(keyboard, b"secreto\rhola\r")
    assert console.ask_secret("Contrase\u00f1a: ") == "secreto"
    assert screen.getvalue().endswith("Contraseña: \r\n\r\x1b[Kana> ")
    assert console.has_pending
    assert console.read_lines() == ["hola"]
    assert console.read_lines() == [] and not console.has_pending and not console.at_eof
    assert "ana> hola\r\n" in screen.getvalue() and "secreto" not in screen.getvalue()
