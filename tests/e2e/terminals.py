"""The keyboards and screens of a class in containers, for the rehearsal (test_rehearsal.py).

- `StudentTerminal`: a student's own terminal, the one `scripts/lab attach NAME`
  gives: a socket to the Docker engine's attach endpoint of the student's
  container (its client runs on a terminal, `tty: true` in compose.yaml). One
  socket per student and no process: thirty of them cost nothing.
- `TeacherConsole`: `scripts/lab attach server` on a pty, as the teacher runs
  it (tools/lab_console.py under it).

Each screen is read by a thread of its own that keeps every byte with the time
it arrived (`time.monotonic`), so a test waits for a text with a deadline
(`Screen.wait_for`) and can tell when it reached that screen: what a person at
that terminal would have seen, and when.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import pty
import re
import signal
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path

TIMEOUT = 60.0
"""Default deadline for a text on a screen: reached only on failure."""
READ_BYTES = 64 * 1024
ENTER = "\r"
"""The Enter key on a terminal in raw mode (the line editor's)."""
CTRL_D = "\x04"

Pattern = str | re.Pattern[bytes]


class Screen:
    """What arrived on one terminal, with when each piece arrived."""

    def __init__(self, label: str):
        self.label = label
        self._data = bytearray()
        self._ends: list[int] = []
        self._times: list[float] = []
        self._changed = threading.Condition()
        self.closed = False

    def feed(self, chunk: bytes) -> None:
        with self._changed:
            self._data += chunk
            self._ends.append(len(self._data))
            self._times.append(time.monotonic())
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    @property
    def mark(self) -> int:
        """Where the screen is now: wait for what comes after it with `start=mark`."""
        with self._changed:
            return len(self._data)

    @property
    def text(self) -> str:
        with self._changed:
            return self._data.decode("utf-8", "replace")

    def find(self, pattern: Pattern, start: int = 0) -> tuple[int, float] | None:
        """Where the first match at or after byte `start` ends, and when its last byte arrived."""
        with self._changed:
            end = self._end_of(pattern, start)
            return None if end is None else (end, self._times[bisect.bisect_left(self._ends, end)])

    def count(self, pattern: Pattern) -> int:
        with self._changed:
            if isinstance(pattern, str):
                return self._data.count(pattern.encode())
            return len(pattern.findall(self._data))

    def wait_for(self, pattern: Pattern, timeout: float = TIMEOUT, start: int = 0) -> tuple[int, float]:
        """`find`, once the text has arrived; fails at the deadline, or when the terminal closed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (end := self._end_of(pattern, start)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    why = "it closed" if self.closed else f"{timeout:g} s passed"
                    tail = bytes(self._data[-1500:]).decode("utf-8", "replace")
                    raise AssertionError(
                        f"{self.label}: no {pattern!r} on the screen ({why}); it ends:\n{tail}"
                    )
                self._changed.wait(remaining)
            return end, self._times[bisect.bisect_left(self._ends, end)]

    def wait_closed(self, timeout: float = TIMEOUT) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.closed, timeout):
                raise AssertionError(f"{self.label}: the terminal is still open after {timeout:g} s")

    def _end_of(self, pattern: Pattern, start: int) -> int | None:
        if isinstance(pattern, str):
            wanted = pattern.encode()
            at = self._data.find(wanted, start)
            return None if at < 0 else at + len(wanted)
        match = pattern.search(self._data, start)
        return None if match is None else match.end()


class StudentTerminal:
    """A student container's terminal through the Docker engine's attach endpoint (stdin and
    the terminal's output), as `docker attach` has it; closing it leaves the client running."""

    def __init__(self, docker_client, container_id: str, name: str, *, run: list[str] | None = None):
        """`run`: a command of its own on a new terminal in the container (`scripts/lab exec`
        at a terminal) instead of the container's own."""
        self.name = name
        self.screen = Screen(name)
        if run is None:
            params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            attached = docker_client.api.attach_socket(container_id, params=params)
        else:
            execution = docker_client.api.exec_create(container_id, run, stdin=True, tty=True)
            attached = docker_client.api.exec_start(execution["Id"], tty=True, socket=True)
        self._socket: socket.socket = getattr(attached, "_sock", attached)  # docker-py wraps it
        self._attached = attached
        self._reader = threading.Thread(target=self._pump, name=f"screen-{name}", daemon=True)
        self._reader.start()

    def type(self, line: str) -> float:
        """Type a line and press Enter; when it was sent."""
        return self.press(line + ENTER)

    def press(self, keys: str) -> float:
        """Press keys (no Enter after them); when they were sent."""
        sent_at = time.monotonic()
        self._socket.sendall(keys.encode())
        return sent_at

    def _pump(self) -> None:
        try:
            while chunk := self._socket.recv(READ_BYTES):
                self.screen.feed(chunk)
        except OSError:
            pass
        finally:
            self.screen.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._reader.join(10)
        with contextlib.suppress(OSError):
            self._attached.close()
        self._socket.close()


class TeacherConsole:
    """`scripts/lab attach server` on a pty: the teacher's console, read as the teacher sees it."""

    def __init__(self, lab_script: Path, env: Mapping[str, str], label: str = "teacher"):
        self.screen = Screen(label)
        pid, self._fd = pty.fork()
        if pid == 0:  # the child: the teacher's command, on the pty
            try:
                os.execve(str(lab_script), [str(lab_script), "attach", "server"], dict(env))
            finally:
                os._exit(127)
        self.pid = pid
        self.status: int | None = None
        self._reader = threading.Thread(target=self._pump, name=f"screen-{label}", daemon=True)
        self._reader.start()

    def type(self, text: str) -> None:
        os.write(self._fd, text.encode())

    def say(self, line: str) -> None:
        self.type(line + ENTER)

    def _pump(self) -> None:
        try:
            while chunk := os.read(self._fd, READ_BYTES):
                self.screen.feed(chunk)
        except OSError:  # EIO: the console ended and the pty closed
            pass
        finally:
            self.screen.close()

    def wait(self, timeout: float = TIMEOUT) -> int:
        """The console's exit status, once it has ended (it is reaped here)."""
        self.screen.wait_closed(timeout)
        if self.status is None:
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def close(self) -> None:
        """Leave (Ctrl-D), or end it if it does not; the pty is closed."""
        if self.status is None:
            with contextlib.suppress(OSError):
                self.type(CTRL_D)
            try:
                self.wait(10)
            except AssertionError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                _, status = os.waitpid(self.pid, 0)
                self.status = os.waitstatus_to_exitcode(status)
        self._reader.join(10)
        os.close(self._fd)
