"""The keyboard and the screen, for the client and for the server console.

On a terminal, `TerminalConsole` edits the line itself (cbreak mode), so that a message arriving while the
user types is printed above the line being typed, which is then drawn again:
nothing mangles it. The editing (keys, cursor, history, completion) is
line_editor.LineEditor, with no terminal; this class keeps termios, the
echo of finished lines and the redraw, and acts on the editor's effects:
Ctrl-C cancels the line (when the owner takes the signal keys as keys), Ctrl-D
on an empty line ends input.
Anywhere else (a pipe, a file), `PlainConsole` reads whole lines and prints
what it is given. Reading never blocks: the owner's selectors loop calls
`read_lines` when the fd is readable, and a read finds out again whether there is
something to read (a question asked meanwhile, `ask`, may have taken it).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import selectors
import shutil
import signal
import unicodedata
from collections.abc import Callable

from .line_editor import Cancelled, Choices, LineEditor, Signal, Submitted

try:
    import termios
except ImportError:  # not a POSIX system: no line editing
    termios = None

READ_BYTES = 64 * 1024


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
        data = _read_if_ready(self._fd)
        if data is None:
            return lines
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

    def ask_secret(self, _prompt: str) -> str:
        """No terminal, no question without echo: the caller gives a password another way."""
        return ""

    def ask(self, _prompt: str) -> str:
        """The next line, blocking: for a name before the loop starts."""
        while not self._pending and not self.at_eof:
            _wait_until_readable(self._fd)
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
        self._editor = LineEditor(lambda before: self.completer(before))
        self._status = ""
        self._secret = False
        """A password is being typed: the line is not drawn, and not echoed when done."""
        self._saved_mode = None
        self._keys = ""
        """Keys read but not yet edited: those typed after the answer to a question
        (`ask`), kept for whoever reads next."""
        self._asking = False
        self._submitted: list[str] = []
        self._effects = {
            Submitted: self._echo_submitted,
            Cancelled: self._echo_cancelled,
            Choices: lambda effect: self.show("  ".join(effect.texts)),
            Signal: lambda effect: self._on_signal_key(effect.name),
        }
        self._signal_keys = {
            "end-of-input": self._end_of_input,
            "interrupt": lambda: self.on_interrupt(),
            "quit-now": lambda: self.on_quit_now(),
            "suspend": self._suspend,
            "redraw": self.clear_screen,
        }

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
        return self._answer(prompt).strip()

    def _answer(self, prompt: str, *, secret: bool = False) -> str:
        """The first line typed after `prompt`; the keys after it stay for the owner, and the
        owner's line, if it was on the screen, comes back at once."""
        owner_prompt, owner_interrupt = self._prompt, self.on_interrupt
        self._prompt, self.on_interrupt = (lambda: prompt), self._interrupt_question
        self._editor.remember, self._asking, self._secret = False, True, secret
        owner_line_shown = self._saved_mode is not None
        if owner_line_shown:
            self._redraw()  # asked while running (a password, a name in use): it replaces the prompt
        else:
            self.start()
        try:
            while not self.at_eof:
                if not self._keys:
                    _wait_until_readable(self._fd)
                if answer := self.read_lines():
                    return answer[0]
            return ""
        finally:
            self._prompt, self.on_interrupt = owner_prompt, owner_interrupt
            self._editor.remember, self._asking, self._secret = True, False, False
            if owner_line_shown:
                self._redraw()

    def ask_secret(self, prompt: str) -> str:
        """Like `ask`, but what is typed is never drawn nor echoed, and kept as typed,
        spaces included (a password)."""
        completer, self.completer = self.completer, _no_completions  # Tab shows nothing either
        try:
            return self._answer(prompt, secret=True)
        finally:
            self.completer = completer

    def _interrupt_question(self) -> None:
        self._write("^C\r\n")
        raise KeyboardInterrupt

    # --- keys -------------------------------------------------------------------

    def read_lines(self) -> list[str]:
        """The lines finished by the keys left from a question and by one read, if there is
        something to read; while a question is asked, its answer alone."""
        data = _read_if_ready(self._fd)
        if data == b"":
            self.at_eof = self.input_gone = True
        elif data:
            self._keys += self._decoder.decode(data)
        return self.read_buffered()

    @property
    def has_pending(self) -> bool:
        """Keys typed after the answer to a question, not edited yet."""
        return bool(self._keys)

    def read_buffered(self) -> list[str]:
        """The lines the keys already read finish (none read now)."""
        keys, self._keys = self._keys, ""
        if not keys:
            return []
        self._submitted = []
        for at, key in enumerate(keys):
            for effect in self._editor.key(key):
                self._effects[type(effect)](effect)
            if self._asking and self._submitted:  # answered: the rest is for the owner's prompt
                self._keys = keys[at + 1 :]
                return self._submitted
        self._redraw()
        return self._submitted

    def _echo_submitted(self, effect: Submitted) -> None:
        shown = "" if self._secret else effect.line
        self._write(f"\r\x1b[K{self._prompt()}{shown}\r\n")
        self._submitted.append(effect.line)

    def _echo_cancelled(self, effect: Cancelled) -> None:
        shown = "" if self._secret else effect.line
        self._write(f"\r\x1b[K{self._prompt()}{shown}^C\r\n")

    def _on_signal_key(self, name: str) -> None:
        self._signal_keys[name]()

    def _end_of_input(self) -> None:
        self.at_eof = True

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
        if self._secret:
            self._write(f"\r\x1b[K{head}")
            return
        start, end, back = self._window(room)
        line = self._editor.line
        self._write(f"\r\x1b[K{head}{line[start:end]}" + (f"\x1b[{back}D" if back > 0 else ""))

    def _window(self, room: int) -> tuple[int, int, int]:
        """The part of the line that fits in `room` columns around the cursor (wide characters
        take two), and how many columns the cursor sits before its end."""
        widths = [_cells(ch) for ch in self._editor.line]
        cursor = self._editor.cursor
        start = end = cursor
        used = 0
        while start > 0 and used + widths[start - 1] <= room:
            start -= 1
            used += widths[start]
        while end < len(widths) and used + widths[end] <= room:
            used += widths[end]
            end += 1
        return start, end, sum(widths[cursor:end])


def _cells(text: str) -> int:
    """Terminal columns `text` takes: East Asian wide characters two, combining marks none."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def _no_action() -> None:
    pass


def _no_completions(_text: str) -> list[str]:
    return []


def _read_if_ready(fd: int) -> bytes | None:
    """One read if there is something to read now, else None: never blocks, also when the
    selector's "readable" is stale (a question read the keys in the same turn). A terminal
    that is gone (EIO) reads as the end of input."""
    try:
        if not select.select([fd], [], [], 0)[0]:
            return None
        return os.read(fd, READ_BYTES)
    except OSError:
        return b""


def _wait_until_readable(fd: int) -> None:
    """Block until `fd` has something to read (or its end, or an error, which the read then meets)."""
    with contextlib.suppress(OSError):
        select.select([fd], [], [])


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
