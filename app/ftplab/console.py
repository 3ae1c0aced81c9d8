"""The keyboard and the screen, for the client and for the server console.

On a terminal, `TerminalConsole` edits the line itself (cbreak mode), so that
a message arriving while the user types is printed above the line being typed,
which is then drawn again: nothing mangles it. Anywhere else (a pipe, a file),
`PlainConsole` reads whole lines and prints what it is given. Reading never
blocks: the owner's selectors loop calls `read_lines` when the fd is readable.
"""

from __future__ import annotations

import codecs
import os
import shutil
from collections.abc import Callable

try:
    import termios
except ImportError:  # not a POSIX system: no line editing
    termios = None

READ_BYTES = 64 * 1024
_BACKSPACE = ("\x7f", "\x08")
_ERASE_LINE = "\x15"  # Ctrl-U
_ERASE_WORD = "\x17"  # Ctrl-W
_END_OF_INPUT = "\x04"  # Ctrl-D


class PlainConsole:
    """Lines from a pipe or file; text printed as it comes."""

    interactive = False

    def __init__(self, stdin, stdout):
        self._fd = _fileno(stdin)
        self._out = stdout
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._pending: list[str] = []
        self._out_broken = False
        self.at_eof = self._fd is None

    def fileno(self) -> int:
        return self._fd

    def read_lines(self) -> list[str]:
        """Lines read so far plus what one read brings; sets `at_eof` at the end."""
        lines, self._pending = self._pending, []
        if self.at_eof:
            return lines
        data = os.read(self._fd, READ_BYTES)
        text = self._partial + self._decoder.decode(data, final=not data)
        *complete, self._partial = text.split("\n")
        lines.extend(line.removesuffix("\r") for line in complete)
        if not data:
            self.at_eof = True
            if self._partial:
                lines.append(self._partial.removesuffix("\r"))
                self._partial = ""
        return lines

    @property
    def has_pending(self) -> bool:
        """Lines already read (by `ask`) that the loop has not taken yet."""
        return bool(self._pending)

    def read_buffered(self) -> list[str]:
        lines, self._pending = self._pending, []
        return lines

    def ask(self, _prompt: str) -> str:
        """The next line, blocking: for a name before the loop starts."""
        while not self._pending and not self.at_eof:
            self._pending = self.read_lines()
        return self._pending.pop(0).strip() if self._pending else ""

    def show(self, text: str) -> None:
        self._write(text + "\n")

    def _write(self, text: str) -> None:
        """Write to the screen; if it is gone (a closed terminal: EIO, a closed
        pipe, a closed stream), stop writing to it, and never raise."""
        if self._out_broken:
            return
        try:
            self._out.write(text)
            self._out.flush()
        except (OSError, ValueError):
            self._out_broken = True

    def set_status(self, _text: str) -> None:
        """Progress is for terminals; a pipe gets whole lines only."""

    def close(self) -> None:
        pass


class TerminalConsole(PlainConsole):
    """A line editor that keeps the typed line intact under incoming text."""

    interactive = True

    def __init__(self, stdin, stdout, prompt: Callable[[], str]):
        super().__init__(stdin, stdout)
        self._prompt = prompt
        self._line = ""
        self._status = ""
        self._in_escape = ""
        self._saved_mode = None

    def start(self) -> None:
        """Enter cbreak mode: keys arrive one by one and are not echoed."""
        if self._saved_mode is not None:
            return
        self._saved_mode = termios.tcgetattr(self._fd)
        mode = termios.tcgetattr(self._fd)
        mode[3] &= ~(termios.ICANON | termios.ECHO)
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        termios.tcsetattr(self._fd, termios.TCSANOW, mode)
        self._redraw()

    def ask(self, prompt: str) -> str:
        self._write(prompt)  # input() would prompt on stderr
        try:
            return input().strip()
        except EOFError:
            return ""

    def read_lines(self) -> list[str]:
        data = os.read(self._fd, READ_BYTES)
        if not data:
            self.at_eof = True
            return []
        lines: list[str] = []
        for key in self._decoder.decode(data):
            self._edit(key, lines)
        self._redraw()
        return lines

    def _edit(self, key: str, lines: list[str]) -> None:
        if self._in_escape:
            self._skip_escape(key)
        elif key == "\x1b":
            self._in_escape = key
        elif key in ("\r", "\n"):
            self._write(f"\r\x1b[K{self._prompt()}{self._line}\r\n")
            lines.append(self._line)
            self._line = ""
        elif key in _BACKSPACE:
            self._line = self._line[:-1]
        elif key == _ERASE_LINE:
            self._line = ""
        elif key == _ERASE_WORD:
            stripped = self._line.rstrip()
            self._line = stripped[: stripped.rfind(" ") + 1]
        elif key == _END_OF_INPUT and not self._line:
            self.at_eof = True
        elif key.isprintable():
            self._line += key

    def _skip_escape(self, key: str) -> None:
        """Swallow an escape sequence (arrow keys and the like): no history here."""
        self._in_escape += key
        introducer_done = len(self._in_escape) == 2 and key not in "[O"
        sequence_done = len(self._in_escape) > 2 and "@" <= key <= "~"
        if introducer_done or sequence_done:
            self._in_escape = ""

    def show(self, text: str) -> None:
        self._write(f"\r\x1b[K{text}\r\n")
        self._redraw()

    def set_status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self._redraw()

    def _redraw(self) -> None:
        """Draw status, prompt and the typed line on one row (its tail, if it is long)."""
        head = f"{self._status} {self._prompt()}" if self._status else self._prompt()
        room = max(shutil.get_terminal_size().columns - len(head) - 1, 10)
        self._write(f"\r\x1b[K{head}{self._line[-room:]}")

    def close(self) -> None:
        if self._saved_mode is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved_mode)
            self._saved_mode = None
            self._write("\r\x1b[K")


def _fileno(stream) -> int | None:
    try:
        fd = stream.fileno()
        os.fstat(fd)
        return fd
    except (AttributeError, ValueError, OSError):
        return None


def open_console(stdin, stdout, prompt: Callable[[], str]) -> PlainConsole:
    """A TerminalConsole when both ends are a terminal, else a PlainConsole."""
    fd = _fileno(stdin)
    if termios is not None and fd is not None and os.isatty(fd) and stdout.isatty():
        return TerminalConsole(stdin, stdout, prompt)
    return PlainConsole(stdin if fd is not None else None, stdout)
