"""The server's log: where its lines go, and a limit on lines that repeat.

One client can make the same line happen thousands of times a second (a
command flood, a chat flood): each kind of line, for each connection, is
logged at most LINES_PER_WINDOW times every WINDOW_SECONDS; the rest are
counted and reported once in one line when the window ends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .console import PlainConsole

WINDOW_SECONDS = 10.0
LINES_PER_WINDOW = 50
MAX_TRACKED = 10_000


class RepeatLimiter(logging.Filter):
    """Lets through at most LINES_PER_WINDOW records per (format, first argument) per window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._clock = clock
        self._window_started = clock()
        self._counts: dict[tuple, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        if now - self._window_started >= WINDOW_SECONDS:
            self._start_window(now, record.name)
        key = (record.msg, str(record.args[0]) if record.args else "")
        count = self._counts.get(key, 0) + 1
        if count > LINES_PER_WINDOW or len(self._counts) < MAX_TRACKED:
            self._counts[key] = count
        return count <= LINES_PER_WINDOW

    def _start_window(self, now: float, logger_name: str) -> None:
        """Begin a new window, then report what the last one held back (the
        report passes through this very filter, in the new window)."""
        suppressed = sum(
            count - LINES_PER_WINDOW for count in self._counts.values() if count > LINES_PER_WINDOW
        )
        self._counts.clear()
        self._window_started = now
        if suppressed:
            logging.getLogger(logger_name).warning(
                "%d repeated log lines suppressed in the last %.0f s", suppressed, WINDOW_SECONDS
            )


class ConsoleLogHandler(logging.Handler):
    """Log lines on the console's terminal go through it, so they do not
    break the line the teacher is typing."""

    def __init__(self, console: PlainConsole):
        super().__init__()
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._console.show(self.format(record))
        except Exception:
            self.handleError(record)


CHATTER_LOGGER = "ftplab.server.commands"
"""The logger of each client's commands and chat (handlers.py)."""


def quiet_on_console(record: logging.LogRecord) -> bool:
    """Keep the commands and chat of every client off the teacher's console (the chat is
    shown there anyway); their warnings, and every other line, still pass."""
    return record.name != CHATTER_LOGGER or record.levelno >= logging.WARNING
