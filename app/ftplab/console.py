"""The keyboard and the screen, for the client and for the server console.

On a terminal, `TerminalConsole` edits the line itself (cbreak mode), so that a message arriving while the
user types is printed above the line being typed, which is then drawn again:
nothing mangles it. It offers what any shell's line editing does: Left/Right,
Home/End, Up/Down through this session's history, Tab completion, Ctrl-C to
cancel the line (when the owner takes the signal keys as keys), Ctrl-D on an
empty line to end input.
Anywhere else (a pipe, a file), `PlainConsole` reads whole lines and prints
what it is given. Reading never blocks: the owner's selectors loop calls
`read_lines` when the fd is readable.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import shutil
import signal
import unicodedata
from collections.abc import Callable

try:
    import termios
except ImportError:  # not a POSIX system: no line editing
    termios = None

READ_BYTES = 64 * 1024
MAX_HISTORY = 1000
_BACKSPACE = ("\x7f", "\x08")
_ERASE_LINE = "\x15"  # Ctrl-U
_ERASE_WORD = "\x17"  # Ctrl-W
_END_OF_INPUT = "\x04"  # Ctrl-D
_INTERRUPT = "\x03"  # Ctrl-C
_QUIT_NOW = "\x1c"  # Ctrl-\
_SUSPEND = "\x1a"  # Ctrl-Z
_REDRAW = "\x0c"  # Ctrl-L
_TAB = "\t"
_ESCAPE_KEYS = {
    "[D": "left",
    "OD": "left",
    "[C": "right",
    "OC": "right",
    "[A": "up",
    "OA": "up",
    "[B": "down",
    "OB": "down",
    "[H": "home",
    "OH": "home",
    "[1~": "home",
    "[7~": "home",
    "[F": "end",
    "OF": "end",
    "[4~": "end",
    "[8~": "end",
    "[3~": "delete",
}
_CONTROL_KEYS = {"\x01": "home", "\x05": "end", "\x02": "left", "\x06": "right", "\x10": "up", "\x0e": "down"}


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
        self.input_gone = self.at_eof
        """Nothing more can be read (end of file, a terminal that is gone); `at_eof` is also
        set by Ctrl-D on a terminal that can still be read."""
        self.on_interrupt: Callable[[], None] = _no_action
        self.on_quit_now: Callable[[], None] = _no_action
        self.completer: Callable[[str], list[str]] = _no_completions

    def fileno(self) -> int:
        return self._fd

    def read_lines(self) -> list[str]:
        """Lines read so far plus what one read brings; sets `at_eof` at the end."""
        lines, self._pending = self._pending, []
        if self.at_eof:
            return lines
        data = _read_or_nothing(self._fd)
        text = self._partial + self._decoder.decode(data, final=not data)
        *complete, self._partial = text.split("\n")
        lines.extend(line.removesuffix("\r") for line in complete)
        if not data:
            self.at_eof = self.input_gone = True
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

    def clear_screen(self) -> None:
        """Only a terminal has a screen to clear."""

    def close(self) -> None:
        pass


class TerminalConsole(PlainConsole):
    """A line editor that keeps the typed line intact under incoming text."""

    interactive = True

    def __init__(self, stdin, stdout, prompt: Callable[[], str], *, signal_keys_as_keys: bool = False):
        """`signal_keys_as_keys`: Ctrl-C, Ctrl-\\ and Ctrl-Z reach us as keys (the terminal
        sends no SIGINT, SIGQUIT or SIGTSTP): Ctrl-C calls `on_interrupt` on an empty line,
        Ctrl-\\ `on_quit_now`, and Ctrl-Z suspends with the terminal restored."""
        super().__init__(stdin, stdout)
        self._prompt = prompt
        self._signal_keys_as_keys = signal_keys_as_keys
        self._line = ""
        self._cursor = 0
        self._history: list[str] = []
        self._history_index = 0
        self._draft = ""
        self._status = ""
        self._in_escape = ""
        self._saved_mode = None
        self._asking = False

    # --- the terminal's mode --------------------------------------------------

    def start(self) -> None:
        """Enter cbreak mode: keys arrive one by one and are not echoed."""
        if self._saved_mode is not None:
            return
        self._saved_mode = termios.tcgetattr(self._fd)
        mode = termios.tcgetattr(self._fd)
        mode[3] &= ~(termios.ICANON | termios.ECHO | (termios.ISIG if self._signal_keys_as_keys else 0))
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        termios.tcsetattr(self._fd, termios.TCSANOW, mode)
        self._redraw()

    def close(self) -> None:
        """Clear our line and give the terminal back as it was; what was typed but not
        read is dropped (TCSAFLUSH), so no keystroke is left for the shell."""
        if self._saved_mode is None:
            return
        self._write("\r\x1b[K")
        with contextlib.suppress(OSError, termios.error):  # a terminal that is gone (EIO): no mode to restore
            termios.tcsetattr(self._fd, termios.TCSAFLUSH, self._saved_mode)
        self._saved_mode = None

    def _suspend(self) -> None:
        """Ctrl-Z: the terminal as it was while stopped, cbreak again after `fg`."""
        self.close()
        os.kill(os.getpid(), signal.SIGTSTP)
        self.start()

    def ask(self, prompt: str) -> str:
        """One line typed after `prompt`, edited like any other and kept out of the history;
        "" at Ctrl-D. Ctrl-C (as a key) raises KeyboardInterrupt, leaving a clean line."""
        owner_prompt, owner_interrupt = self._prompt, self.on_interrupt
        self._prompt, self.on_interrupt = (lambda: prompt), self._interrupt_question
        self._asking = True
        self.start()
        try:
            while not self._pending and not self.at_eof:
                self._pending = self.read_lines()
            return self._pending.pop(0).strip() if self._pending else ""
        finally:
            self._prompt, self.on_interrupt, self._asking = owner_prompt, owner_interrupt, False

    def _interrupt_question(self) -> None:
        self._write("^C\r\n")
        raise KeyboardInterrupt

    # --- keys -------------------------------------------------------------------

    def read_lines(self) -> list[str]:
        data = _read_or_nothing(self._fd)
        if not data:
            self.at_eof = self.input_gone = True
            return []
        lines: list[str] = []
        for key in self._decoder.decode(data):
            self._on_key(key, lines)
        self._redraw()
        return lines

    def _on_key(self, key: str, lines: list[str]) -> None:
        if self._in_escape:
            self._continue_escape(key)
        elif key == "\x1b":
            self._in_escape = key
        elif key in ("\r", "\n"):
            self._submit(lines)
        elif key in _CONTROL_KEYS:
            self._move(_CONTROL_KEYS[key])
        else:
            self._edit(key)

    def _edit(self, key: str) -> None:
        before, after = self._line[: self._cursor], self._line[self._cursor :]
        if key in _BACKSPACE:
            self._set_line(before[:-1] + after, len(before) - 1)
        elif key == _ERASE_LINE:
            self._set_line(after, 0)
        elif key == _ERASE_WORD:
            stripped = before.rstrip()
            kept = stripped[: stripped.rfind(" ") + 1]
            self._set_line(kept + after, len(kept))
        elif key == _END_OF_INPUT:
            self._end_of_input_key()
        elif key == _INTERRUPT:
            self._interrupt()
        elif key == _QUIT_NOW:
            self.on_quit_now()
        elif key == _SUSPEND:
            self._suspend()
        elif key == _REDRAW:
            self.clear_screen()
        elif key == _TAB:
            self._complete(before, after)
        elif key.isprintable():
            self._set_line(before + key + after, len(before) + 1)

    def _set_line(self, line: str, cursor: int) -> None:
        self._line = line
        self._cursor = max(0, min(cursor, len(line)))

    def _submit(self, lines: list[str]) -> None:
        self._write(f"\r\x1b[K{self._prompt()}{self._line}\r\n")
        lines.append(self._line)
        if self._asking:
            self._set_line("", 0)
            return
        if self._line.strip() and (not self._history or self._history[-1] != self._line):
            self._history = [*self._history, self._line][-MAX_HISTORY:]
        self._history_index = len(self._history)
        self._set_line("", 0)

    def _end_of_input_key(self) -> None:
        """Ctrl-D: end of input on an empty line, else delete the character under the cursor."""
        if not self._line:
            self.at_eof = True
        self._set_line(self._line[: self._cursor] + self._line[self._cursor + 1 :], self._cursor)

    def _interrupt(self) -> None:
        """Ctrl-C: cancel the line being typed; on an empty line the owner decides."""
        if not self._line:
            self.on_interrupt()
            return
        self._write(f"\r\x1b[K{self._prompt()}{self._line}^C\r\n")
        self._set_line("", 0)
        self._history_index = len(self._history)

    def _continue_escape(self, key: str) -> None:
        """Collect an escape sequence; act on the keys we know, swallow the rest."""
        self._in_escape += key
        sequence = self._in_escape[1:]
        introducer_done = len(sequence) == 1 and key not in "[O"
        sequence_done = len(sequence) > 1 and "@" <= key <= "~"
        if introducer_done or sequence_done:
            self._in_escape = ""
            if sequence in _ESCAPE_KEYS:
                self._move(_ESCAPE_KEYS[sequence])

    def _move(self, where: str) -> None:
        if where == "left":
            self._cursor = max(self._cursor - 1, 0)
        elif where == "right":
            self._cursor = min(self._cursor + 1, len(self._line))
        elif where == "home":
            self._cursor = 0
        elif where == "end":
            self._cursor = len(self._line)
        elif where == "delete":
            self._set_line(self._line[: self._cursor] + self._line[self._cursor + 1 :], self._cursor)
        else:
            self._browse_history(-1 if where == "up" else 1)

    def _browse_history(self, step: int) -> None:
        index = self._history_index + step
        if not 0 <= index <= len(self._history):
            return
        if self._history_index == len(self._history):
            self._draft = self._line
        self._history_index = index
        line = self._history[index] if index < len(self._history) else self._draft
        self._set_line(line, len(line))

    def _complete(self, before: str, after: str) -> None:
        """Tab: complete the text before the cursor, or list the choices."""
        choices = self.completer(before)
        if not choices:
            return
        common = os.path.commonprefix(choices)
        if len(common) > len(before):
            self._set_line(common + after, len(common))
        elif len(choices) > 1:
            self.show("  ".join(choice[_word_start(before) :] for choice in choices))

    # --- the screen -------------------------------------------------------------

    def show(self, text: str) -> None:
        self._write(f"\r\x1b[K{text}\r\n")
        self._redraw()

    def set_status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self._redraw()

    def clear_screen(self) -> None:
        self._write("\x1b[H\x1b[2J")
        self._redraw()

    def _redraw(self) -> None:
        """Draw status, prompt and the typed line on one row (the part around the cursor,
        if it is long), with the cursor where the user is editing."""
        if self._saved_mode is None:
            return
        head = f"{self._status} {self._prompt()}" if self._status else self._prompt()
        room = max(shutil.get_terminal_size().columns - _cells(head) - 1, 10)
        start, end, back = self._window(room)
        self._write(f"\r\x1b[K{head}{self._line[start:end]}" + (f"\x1b[{back}D" if back > 0 else ""))

    def _window(self, room: int) -> tuple[int, int, int]:
        """The part of the line that fits in `room` columns around the cursor (wide characters
        take two), and how many columns the cursor sits before its end."""
        widths = [_cells(ch) for ch in self._line]
        start = end = self._cursor
        used = 0
        while start > 0 and used + widths[start - 1] <= room:
            start -= 1
            used += widths[start]
        while end < len(widths) and used + widths[end] <= room:
            used += widths[end]
            end += 1
        return start, end, sum(widths[self._cursor : end])


def _cells(text: str) -> int:
    """Terminal columns `text` takes: East Asian wide characters two, combining marks none."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def _word_start(text: str) -> int:
    """Where the word being completed starts (after the last space not inside quotes)."""
    quote = ""
    start = 0
    for index, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == " ":
            start = index + 1
    return start


def _no_action() -> None:
    pass


def _no_completions(_text: str) -> list[str]:
    return []


def _read_or_nothing(fd: int) -> bytes:
    """One read; a terminal that is gone (EIO) reads as the end of input."""
    try:
        return os.read(fd, READ_BYTES)
    except OSError:
        return b""


class ConsoleWatch:
    """Whether a console's input is watched by the owner's selector, or read on every turn
    instead: a regular file or /dev/null never blocks, and epoll refuses to watch it."""

    def __init__(self, selector, console: PlainConsole, on_readable: object):
        """`on_readable` is what the selector key carries: the client's callback, the server's endpoint."""
        self._selector = selector
        self._console = console
        self._on_readable = on_readable
        self._watched = False
        self.polled = False
        """Read on every turn (a regular file or /dev/null)."""

    def set(self, wanted: bool) -> None:
        """Watch the console's input (or poll it), or stop."""
        if wanted == (self._watched or self.polled):
            return
        if not wanted:
            if self._watched:
                self._selector.unregister(self._console.fileno())
            self._watched = self.polled = False
            return
        try:
            self._selector.register(self._console.fileno(), selectors.EVENT_READ, self._on_readable)
            self._watched = True
        except PermissionError:
            self.polled = True


def _fileno(stream) -> int | None:
    try:
        fd = stream.fileno()
        os.fstat(fd)
        return fd
    except (AttributeError, ValueError, OSError):
        return None


def open_console(
    stdin, stdout, prompt: Callable[[], str], *, signal_keys_as_keys: bool = False
) -> PlainConsole:
    """A TerminalConsole when both ends are a terminal, else a PlainConsole."""
    fd = _fileno(stdin)
    if termios is not None and fd is not None and os.isatty(fd) and stdout is not None and stdout.isatty():
        return TerminalConsole(stdin, stdout, prompt, signal_keys_as_keys=signal_keys_as_keys)
    return PlainConsole(stdin if fd is not None else None, stdout)
