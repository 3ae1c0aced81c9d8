"""Waiting for conditions, never for a fixed time: shared by the integration and e2e suites.

Patterns: a `str` matches as a substring, an `re.Pattern` with `search`."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

Pattern = str | re.Pattern
DEFAULT_TIMEOUT = 10.0
"""Default deadline for anything a test on this machine waits for; generous, as it is only
reached on failure."""


def wait_until(predicate: Callable[[], object], *, message: str, timeout: float = DEFAULT_TIMEOUT) -> object:
    """Poll `predicate` until it returns something truthy and return that; fail at the deadline,
    saying what was awaited (`message`)."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def join_thread(thread: threading.Thread, timeout: float, what: str) -> None:
    """Wait for `thread` to end; fail, saying what it was doing, if it is still running at the deadline."""
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"{what} still running after {timeout:g} s")


def matcher(pattern: Pattern) -> Callable[[str], re.Match | bool | None]:
    if isinstance(pattern, re.Pattern):
        return pattern.search
    return lambda line: pattern in line


def describe(pattern: Pattern) -> str:
    return f"/{pattern.pattern}/" if isinstance(pattern, re.Pattern) else repr(pattern)


class LineStream:
    """The lines of one pipe, collected by a thread as they arrive.

    `wait_for` looks for a matching line from any index; `expect` reads like a
    transcript: it searches from where the last `expect` matched and moves past
    the match, so successive `expect`s also check the order of lines.
    """

    def __init__(self, pipe, label: str, timeout: float):
        self.label = label
        self.timeout = timeout
        self._lines: list[str] = []
        self._closed = False
        self._cursor = 0
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(pipe,), name=label, daemon=True)
        self._thread.start()

    def _pump(self, pipe) -> None:
        with pipe:
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
                with self._condition:
                    self._lines.append(line)
                    self._condition.notify_all()
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def lines(self) -> list[str]:
        with self._condition:
            return list(self._lines)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def __len__(self) -> int:
        with self._condition:
            return len(self._lines)

    def wait_for(self, pattern: Pattern, timeout: float | None = None, start: int = 0) -> tuple[int, str]:
        """(index, line) of the first line from `start` on that matches; fails at the deadline
        or when the pipe closes without one."""
        timeout = self.timeout if timeout is None else timeout
        matches = matcher(pattern)
        deadline = time.monotonic() + timeout
        with self._condition:
            index = start
            while True:
                while index < len(self._lines):
                    if matches(self._lines[index]):
                        return index, self._lines[index]
                    index += 1
                if self._closed:
                    problem = "ended"
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    problem = f"timed out after {timeout:g} s"
                    break
                self._condition.wait(remaining)
            seen = "\n    ".join(self._lines[start:][-40:])
        raise AssertionError(f"{self.label} {problem} with no line matching {describe(pattern)}:\n    {seen}")

    def expect(self, pattern: Pattern, timeout: float | None = None) -> str:
        """The next matching line after the previous `expect`'s match."""
        index, line = self.wait_for(pattern, timeout, start=self._cursor)
        self._cursor = index + 1
        return line

    @property
    def cursor(self) -> int:
        """Where the next `expect` starts searching."""
        return self._cursor

    def skip_to(self, index: int) -> None:
        """Make the next `expect` search after line `index`."""
        self._cursor = max(self._cursor, index + 1)

    def has(self, pattern: Pattern) -> bool:
        matches = matcher(pattern)
        return any(matches(line) for line in self.lines)

    def join(self, timeout: float | None = None) -> None:
        """Wait until the pipe has been read to its end."""
        join_thread(self._thread, self.timeout if timeout is None else timeout, f"reading {self.label}")
