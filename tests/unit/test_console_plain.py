"""console: lines from a pipe, and a screen that may go away at any moment."""

from __future__ import annotations

import contextlib
import errno
import io
import os

import pytest

from ftplab.console import PlainConsole, open_console


class VanishedTerminal(io.StringIO):
    """A stdout whose terminal was closed: every write fails with EIO."""

    writes = 0

    def write(self, text):
        type(self).writes += 1
        raise OSError(errno.EIO, "Input/output error")


class Stream:
    """What the console needs of stdin: a descriptor."""

    def __init__(self, fd: int):
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


@pytest.fixture
def pipe():
    reader, writer = os.pipe()
    yield reader, writer
    for fd in (reader, writer):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_lines_from_a_pipe_come_whole_and_the_end_is_noticed(pipe):
    reader, writer = pipe
    console = PlainConsole(Stream(reader), io.StringIO())
    os.write(writer, b"hola\r\nmedia")
    assert console.read_lines() == ["hola"]
    os.write(writer, " línea\nfin".encode())
    os.close(writer)
    lines = console.read_lines()
    while not console.at_eof:
        lines += console.read_lines()
    assert lines == ["media línea", "fin"]


def test_a_screen_that_went_away_is_not_written_again_and_never_raises():
    VanishedTerminal.writes = 0
    console = PlainConsole(None, VanishedTerminal())
    console.show("primera")
    console.show("segunda")
    assert VanishedTerminal.writes == 1, "after the first failure the console stops writing"


def test_a_closed_stdout_is_not_an_error():
    out = io.StringIO()
    out.close()
    PlainConsole(None, out).show("nadie lo verá")


def test_no_stdin_is_at_end_of_input_from_the_start():
    console = open_console(None, io.StringIO(), prompt=lambda: "> ")
    assert console.at_eof and not console.interactive
    assert console.ask("¿nombre? ") == ""


def test_ask_reads_a_line_and_keeps_the_rest_for_the_loop(pipe):
    reader, writer = pipe
    os.write(writer, b"ana\nlist\nwho\n")
    os.close(writer)
    console = PlainConsole(Stream(reader), io.StringIO())
    assert console.ask("") == "ana"
    assert console.has_pending
    assert console.read_buffered() == ["list", "who"]
