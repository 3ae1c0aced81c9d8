"""The line editor, pure: keys in, the line, its cursor, history and what happened out.

No terminal here (console.py's TerminalConsole has termios and the redraw):
`LineEditor.key` takes one key (a character as decoded from the keyboard) and
returns the effects the terminal must act on, in order: a submitted line, a
cancelled one, the end of input, Ctrl-C on an empty line, Ctrl-\\, Ctrl-Z,
Ctrl-L, or the choices of a Tab that could not complete. It offers what a
shell's line editing does: Left/Right, Home/End (and their Ctrl keys), Up/Down
through this session's history, Ctrl-U, Ctrl-W, Tab completion. Tests feed it
strings (`feed`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Submitted:
    """Enter: this line is done (the terminal echoes it above the prompt)."""

    line: str


@dataclass(frozen=True)
class Cancelled:
    """Ctrl-C with text typed: the line is dropped (echoed with ^C)."""

    line: str


@dataclass(frozen=True)
class Signal:
    """A key the owner acts on: "end-of-input" (Ctrl-D on an empty line), "interrupt"
    (Ctrl-C on an empty line), "quit-now" (Ctrl-\\), "suspend" (Ctrl-Z), "redraw" (Ctrl-L)."""

    name: str


@dataclass(frozen=True)
class Choices:
    """Tab found several completions and no longer common start: show them."""

    texts: tuple[str, ...]


_SIGNAL_KEYS = {_QUIT_NOW: "quit-now", _SUSPEND: "suspend", _REDRAW: "redraw"}


class LineEditor:
    """One line being typed, with this session's history."""

    def __init__(self, complete: Callable[[str], list[str]] = lambda _before: []):
        self.line = ""
        self.cursor = 0
        self.history: list[str] = []
        self.remember = True
        """Submitted lines go into the history (not the answer to a question such as the name)."""
        self._complete = complete
        self._history_index = 0
        self._draft = ""
        self._in_escape = ""

    def feed(self, keys: str) -> list:
        """Each key in turn; all their effects."""
        return [effect for key in keys for effect in self.key(key)]

    def key(self, key: str) -> list:
        """One key; the effects the terminal must act on (most keys have none)."""
        if self._in_escape:
            self._continue_escape(key)
            return []
        if key == "\x1b":
            self._in_escape = key
            return []
        if key in ("\r", "\n"):
            return [self._submit()]
        if key in _CONTROL_KEYS:
            self._move(_CONTROL_KEYS[key])
            return []
        return self._edit(key)

    def _edit(self, key: str) -> list:
        before, after = self.line[: self.cursor], self.line[self.cursor :]
        if key in _BACKSPACE:
            self._set_line(before[:-1] + after, len(before) - 1)
        elif key == _ERASE_LINE:
            self._set_line(after, 0)
        elif key == _ERASE_WORD:
            stripped = before.rstrip()
            kept = stripped[: stripped.rfind(" ") + 1]
            self._set_line(kept + after, len(kept))
        elif key == _END_OF_INPUT:
            return self._end_of_input_key()
        elif key == _INTERRUPT:
            return [self._interrupt()]
        elif key in _SIGNAL_KEYS:
            return [Signal(_SIGNAL_KEYS[key])]
        elif key == _TAB:
            return self._tab(before, after)
        elif key.isprintable():
            self._set_line(before + key + after, len(before) + 1)
        return []

    def _set_line(self, line: str, cursor: int) -> None:
        self.line = line
        self.cursor = max(0, min(cursor, len(line)))

    def _submit(self) -> Submitted:
        line = self.line
        self._set_line("", 0)
        if not self.remember:
            return Submitted(line)
        if line.strip() and (not self.history or self.history[-1] != line):
            self.history = [*self.history, line][-MAX_HISTORY:]
        self._history_index = len(self.history)
        return Submitted(line)

    def _end_of_input_key(self) -> list:
        """Ctrl-D: end of input on an empty line, else delete the character under the cursor."""
        if not self.line:
            return [Signal("end-of-input")]
        self._set_line(self.line[: self.cursor] + self.line[self.cursor + 1 :], self.cursor)
        return []

    def _interrupt(self):
        """Ctrl-C: cancel the line being typed; on an empty line the owner decides."""
        if not self.line:
            return Signal("interrupt")
        line = self.line
        self._set_line("", 0)
        self._history_index = len(self.history)
        return Cancelled(line)

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
            self.cursor = max(self.cursor - 1, 0)
        elif where == "right":
            self.cursor = min(self.cursor + 1, len(self.line))
        elif where == "home":
            self.cursor = 0
        elif where == "end":
            self.cursor = len(self.line)
        elif where == "delete":
            self._set_line(self.line[: self.cursor] + self.line[self.cursor + 1 :], self.cursor)
        else:
            self._browse_history(-1 if where == "up" else 1)

    def _browse_history(self, step: int) -> None:
        index = self._history_index + step
        if not 0 <= index <= len(self.history):
            return
        if self._history_index == len(self.history):
            self._draft = self.line
        self._history_index = index
        line = self.history[index] if index < len(self.history) else self._draft
        self._set_line(line, len(line))

    def _tab(self, before: str, after: str) -> list:
        """Complete the text before the cursor, or list the choices."""
        choices = self._complete(before)
        if not choices:
            return []
        common = os.path.commonprefix(choices)
        if len(common) > len(before):
            self._set_line(common + after, len(common))
            return []
        if len(choices) > 1:
            return [Choices(tuple(choice[word_start(before) :] for choice in choices))]
        return []


def word_start(text: str) -> int:
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
