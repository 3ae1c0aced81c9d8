"""The server's log: where its lines go, and a limit on lines that repeat.

One client can make the same line happen thousands of times a second (a
command flood, a chat flood), and one address can do it through thousands of
connections (a join and quit flood: each connection has its own port, so its
own label). Each kind of line (its format) is therefore counted per address
when its first argument is a connection's label (`ana@10.0.0.3:51234`), else
per first argument: at most LINES_PER_WINDOW of each are logged every
WINDOW_SECONDS, and when the window ends what was held back is reported, one
line per kind and address for the largest (REPORTED_KINDS), one for the rest."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .console import PlainConsole
from .messages import Messages

WINDOW_SECONDS = 10.0
LINES_PER_WINDOW = 50
MAX_TRACKED = 10_000
REPORTED_KINDS = 5
"""Held-back kinds reported one by one when a window ends; the others in one total."""


class RepeatLimiter(logging.Filter):
    """Lets through at most LINES_PER_WINDOW records per (format, address or first argument) per window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._clock = clock
        self._window_started = clock()
        self._counts: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        if now - self._window_started >= WINDOW_SECONDS:
            self._start_window(now, record.name)
        key = (str(record.msg), limit_key(record.args[0]) if record.args else "")
        count = self._counts.get(key, 0) + 1
        if count > LINES_PER_WINDOW or len(self._counts) < MAX_TRACKED:
            self._counts[key] = count
        return count <= LINES_PER_WINDOW

    def _start_window(self, now: float, logger_name: str) -> None:
        """Begin a new window, then report what the last one held back (the
        report passes through this very filter, in the new window)."""
        held_back = sorted(
            (
                (count - LINES_PER_WINDOW, key)
                for key, count in self._counts.items()
                if count > LINES_PER_WINDOW
            ),
            reverse=True,
        )
        self._counts.clear()
        self._window_started = now
        logger = logging.getLogger(logger_name)
        for count, (line, source) in held_back[:REPORTED_KINDS]:
            logger.warning(
                "%d more log lines like %r (%s) held back in the last %.0f s",
                count,
                line,
                source,
                WINDOW_SECONDS,
            )
        rest = sum(count for count, _key in held_back[REPORTED_KINDS:])
        if rest:
            logger.warning("%d more repeated log lines held back in the last %.0f s", rest, WINDOW_SECONDS)


def limit_key(argument: object) -> str:
    """What a line's first argument counts by: a connection's label by its address
    (names cannot contain `@`: `ana@10.0.0.3:51234`, `?@::1:2121 (ftp)`, `data of
    ana@...`), anything else by itself."""
    text = str(argument)
    _, at, place = text.partition("@")
    host, colon, port = place.partition(" ")[0].rpartition(":")
    return host if at and colon and port.isdigit() else text


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


_LOG_LANGUAGE = Messages("en")


def log_reason(key: str, **values) -> str:
    """Why something was refused, for the log: the users' own sentence (message `key`) in
    the log's language, English; never a Python class name."""
    return _LOG_LANGUAGE(key, **values)
