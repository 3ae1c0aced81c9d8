"""Real ftplab processes for the integration tests: servers, clients and raw sockets.

Everything here runs the programs the way a user does (`python -m ftplab.server`,
`python -m ftplab.client`) on 127.0.0.1, with this checkout's `app/` on
PYTHONPATH, so nothing has to be installed. Output is read by background
threads into line lists, so a test never blocks on a pipe: it waits for a
*condition* (a line matching a pattern, a process exit, a file appearing) with
a deadline, and never sleeps for a fixed time.

Patterns: a `str` matches as a substring, an `re.Pattern` with `search`.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import hashlib
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = Path(os.environ.get("FTPLAB_TEST_APP_DIR") or REPO_ROOT / "app").resolve()
"""The package under test: this checkout's `app/`, or FTPLAB_TEST_APP_DIR (a scratch copy,
for checking that a test fails when a protection is removed from the code)."""
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from ftplab import protocol  # noqa: E402  (this checkout's package, found through APP_DIR)
from support.constants import SERVER_NAME, WHO_REPLY  # noqa: E402
from support.fence import Fence  # noqa: E402
from support.waiting import DEFAULT_TIMEOUT as TIMEOUT  # noqa: E402
from support.waiting import LineStream, Pattern, join_thread, matcher, wait_until  # noqa: E402

HOST = "127.0.0.1"


_started: list[subprocess.Popen] = []
_started_lock = threading.Lock()


def started_processes() -> list[subprocess.Popen]:
    """Every process the harness has started in this test session."""
    with _started_lock:
        return list(_started)


def _popen(args: list[str], **kwargs) -> subprocess.Popen:
    process = subprocess.Popen(args, env=child_env(), **kwargs)
    with _started_lock:
        _started.append(process)
    return process


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every child: this checkout's package, UTF-8, no FTPLAB_* settings
    leaking in from the developer's shell."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FTPLAB_")}
    for variable in ("LC_ALL", "LC_MESSAGES"):  # the locale chooses the default language
        env.pop(variable, None)
    env["LANG"] = "C.UTF-8"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(APP_DIR), os.environ.get("PYTHONPATH")]))
    env["PYTHONUTF8"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class _Process:
    """A child whose stdin we write (unless it is given another) and whose stdout and
    stderr we collect."""

    def __init__(self, args: list[str], label: str, stdin: int = subprocess.PIPE):
        self.label = label
        self.process = _popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout = LineStream(self.process.stdout, f"{label} stdout", TIMEOUT)
        self.stderr = LineStream(self.process.stderr, f"{label} stderr", TIMEOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def write_line(self, text: str) -> None:
        self.write_lines([text])

    def write_lines(self, lines: list[str]) -> None:
        self.process.stdin.write(b"".join(line.encode() + b"\n" for line in lines))
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def poll_exit(self, timeout: float) -> int | None:
        """The exit status if the process ends within `timeout`, else None (it keeps running)."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.wait()

    def wait(self, timeout: float = TIMEOUT) -> int:
        """Reap the process and collect the rest of its output; its exit status."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.label} still running after {timeout:g} s\n"
                f"  stdout: {self.stdout.lines[-20:]}\n  stderr: {self.stderr.lines[-20:]}"
            ) from None
        self.close_stdin()
        self.stdout.join()
        self.stderr.join()
        return code

    def kill(self) -> int:
        """SIGKILL and reap, if it is still running."""
        if self.process.poll() is None:
            self.process.kill()
        return self.wait()


class ServerProcess(_Process):
    """`python -m ftplab.server` on 127.0.0.1 with a free port; its console is our pipe."""

    LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+) as ")

    def __init__(
        self,
        root: Path,
        *,
        name: str = SERVER_NAME,
        max_clients: int = 100,
        idle_timeout: float = 0,
        data_timeout: float = 60,
        lang: str | None = None,
        extra_args: Iterable[str] = (),
        stdin: int = subprocess.PIPE,
        command_prefix: Iterable[str] = (),
    ):
        """`command_prefix` runs the server through another program that execs it
        (e.g. setpriv, to take privileges away); the pid stays the server's."""
        args = [*command_prefix, *server_args("--host", HOST, "--port", "0", "--root", str(root))]
        args += ["--name", name, "--max-clients", str(max_clients)]
        args += ["--idle-timeout", f"{idle_timeout:g}", "--data-timeout", f"{data_timeout:g}"]
        if lang:
            args += ["--lang", lang]
        args += list(extra_args)
        super().__init__(args, f"server {name}", stdin)
        self.name = name
        self.root = Path(root)
        try:
            _, line = self.stderr.wait_for(self.LISTENING)
        except AssertionError:
            self.kill()
            raise
        self.port = int(self.LISTENING.search(line).group(1))

    def console(self, text: str) -> None:
        """Type a line at the server's console."""
        self.write_line(text)

    def wait_for_output(self, pattern: Pattern, timeout: float = TIMEOUT, start: int = 0) -> str:
        """A line of the server's stdout (console: chat, joins, leaves)."""
        return self.stdout.wait_for(pattern, timeout, start)[1]

    def wait_for_log(self, pattern: Pattern, timeout: float = TIMEOUT, start: int = 0) -> str:
        """A line of the server's stderr (the log)."""
        return self.stderr.wait_for(pattern, timeout, start)[1]

    def sync(self, timeout: float = TIMEOUT) -> None:
        """A fence on the console (support/fence.py): a private line to nobody typed at it,
        whose error the server prints after everything it printed before. Fence a client's
        line first (its own `sync`) to know the server handled it; this then proves the
        console output is all read."""
        fence = Fence()
        mark = len(self.stdout)
        self.console(fence.console_line)
        self.stdout.wait_for(fence.answer, timeout, mark)

    FTP_LISTENING = re.compile(r"FTP door listening on 127\.0\.0\.1:(\d+)")

    def ftp_port(self) -> int:
        """The FTP door's port, from the log (start the server with `--ftp-port 0`)."""
        return int(self.FTP_LISTENING.search(self.wait_for_log(self.FTP_LISTENING)).group(1))

    FTPS_LISTENING = re.compile(r"FTPS door \(implicit TLS\) listening on 127\.0\.0\.1:(\d+)")

    def ftps_port(self) -> int:
        """The implicit FTPS port, from the log (start the server with `--ftps-port 0`)."""
        return int(self.FTPS_LISTENING.search(self.wait_for_log(self.FTPS_LISTENING)).group(1))

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM, then the exit status, which must be 0."""
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        assert code == 0, f"{self.label} exited {code}; log:\n" + self.stderr.text[-3000:]
        return code


class ClientProcess(_Process):
    """A long-lived `python -m ftplab.client` whose stdin stays open: a user at a pipe."""

    def __init__(
        self,
        port: int,
        name: str | None,
        download_dir: Path,
        *,
        lang: str | None = None,
        extra_args: Iterable[str] = (),
        joined: bool = True,
    ):
        args = client_args(port, name, download_dir, lang, extra_args)
        super().__init__(args, f"client {name}")
        self.name = name
        self.download_dir = Path(download_dir)
        if joined:
            self.expect(f"Hola, {name}." if lang != "en" else f"Hello, {name}.")

    def send(self, text: str) -> None:
        """Type a line (a command or chat)."""
        self.write_line(text)

    def expect(self, pattern: Pattern, timeout: float = TIMEOUT) -> str:
        return self.stdout.expect(pattern, timeout)

    def sync(self, timeout: float = TIMEOUT) -> None:
        """A fence (support/fence.py): once this returns, the server has handled every line
        this client sent before, and the client has printed everything the server sent it
        before the fence's answer."""
        fence = Fence()
        mark = len(self.stdout)
        self.send(fence.command)
        index, _ = self.stdout.wait_for(fence.answer, timeout, mark)
        self.stdout.skip_to(index)

    def quit(self, timeout: float = TIMEOUT) -> int:
        """End of input, as a user's Ctrl-D: the client quits; its exit status."""
        self.close_stdin()
        return self.wait(timeout)


def client_args(
    port: int, name: str | None, download_dir: Path, lang: str | None = None, extra_args: Iterable[str] = ()
) -> list[str]:
    args = [sys.executable, "-m", "ftplab.client", "--host", HOST, "--port", str(port)]
    args += ["--download-dir", str(download_dir)]
    if name is not None:
        args += ["--name", name]
    if lang:
        args += ["--lang", lang]
    return args + list(extra_args)


class TerminalClient:
    """A client whose stdin, stdout and stderr are a pseudo-terminal, as when a person runs it.

    `type` sends keystrokes; `screen` is everything written to the terminal,
    escape sequences included, exactly as a terminal would receive it."""

    def __init__(
        self,
        port: int,
        name: str | None,
        download_dir: Path,
        columns: int = 100,
        *,
        extra_args: Iterable[str] = (),
        shell: str | None = None,
        stderr_to_pipe: bool = False,
        command: list[str] | None = None,
    ):
        """`shell`: a `sh -c` script that runs the client as "$@" (e.g. to read what is left on
        the terminal after it, as the user's shell would). `stderr_to_pipe`: the client's
        stderr is collected in `self.stderr` instead of going to the terminal. `command`: another
        program to run on the terminal instead (the server, at the teacher's console)."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        args = command or client_args(port, name, download_dir, extra_args=extra_args)
        if shell is not None:
            args = ["sh", "-c", shell, "sh", *args]
        self.process = _popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE if stderr_to_pipe else slave,
            start_new_session=True,  # no controlling terminal: our own terminal's signals stay out
        )
        os.close(slave)
        self.stderr = (
            LineStream(self.process.stderr, "terminal client stderr", TIMEOUT) if stderr_to_pipe else None
        )
        self._master = master
        self._screen = ""
        self._closed = False
        self._hanging_up = threading.Event()
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._pump, name=f"pty client {name}", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            if not select.select([self._master], [], [], 0.05)[0]:
                if self._hanging_up.is_set():
                    data = b""
                else:
                    continue
            else:
                try:
                    data = os.read(self._master, 4096)
                except OSError:  # EIO: the other side of the terminal is closed
                    data = b""
            with self._condition:
                self._screen += decoder.decode(data, final=not data)
                self._closed = not data
                self._condition.notify_all()
            if not data:
                return

    @property
    def screen(self) -> str:
        with self._condition:
            return self._screen

    def type(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def is_cooked(self) -> bool:
        """The terminal is back in its normal mode: echo and line editing (ICANON) on."""
        lflags = termios.tcgetattr(self._master)[3]
        return bool(lflags & termios.ECHO and lflags & termios.ICANON)

    def hang_up(self) -> None:
        """Close the terminal, as when its window is closed (what was shown stays in `screen`)."""
        self._hanging_up.set()
        self._thread.join(TIMEOUT)
        os.close(self._master)
        self._master = -1

    def wait_for(self, text: str, start: int = 0, timeout: float = TIMEOUT) -> int:
        """The position of `text` in the screen output at or after `start`, once it is there."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while (position := self._screen.find(text, start)) < 0:
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    raise AssertionError(f"terminal: no {text!r} after {start}: {self._screen[start:]!r}")
                self._condition.wait(remaining)
            return position

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"terminal client still running; screen: {self.screen[-2000:]!r}") from None
        join_thread(self._thread, TIMEOUT, "reading the terminal client's screen")
        return code

    def close(self) -> None:
        # The whole session: what the program started (the lab console's server) ends with it,
        # also when a test is interrupted.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        try:
            join_thread(self._thread, TIMEOUT, "reading the terminal client's screen")
            if self.stderr is not None:
                self.stderr.join()
        finally:
            if self._master >= 0:
                os.close(self._master)

    def __enter__(self) -> TerminalClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


TOOL_TIMEOUT = 60
"""How long one run of a real client program (curl, lftp, rclone, ...) may take."""


def installed_tool(name: str) -> str:
    """The path of the program `name`; where it is not installed the test is skipped
    (failed under CI=true, which installs every tool the tests use)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (apt-get install {name})")
        pytest.skip(f"{name} is not installed")
    return path


@contextlib.contextmanager
def failing_folder_reads(pid: int, folder: Path, nth: int = 2) -> Iterator[None]:
    """While the block runs, the `nth` read of `folder`'s entries by process `pid` (its
    getdents64 system call) fails with EIO, as on a failing disk: strace attaches to the
    running process and the kernel's real call is answered with the error. The first read
    (some 800 entries of short names) succeeds, so a listing fails partway. strace detaches
    when the block ends. Skipped where strace is missing or may not trace (no ptrace)."""
    strace = installed_tool("strace")
    calls = ["-P", str(folder), "-e", "trace=getdents64", "-e", f"inject=getdents64:error=EIO:when={nth}"]
    tracer = _Process([strace, "-p", str(pid), *calls, "-o", os.devnull], "strace", subprocess.DEVNULL)
    try:
        _, line = tracer.stderr.wait_for(re.compile(r"attached|ptrace|strace:"))
        if "attached" not in line:
            pytest.skip(f"strace cannot trace here: {line}")
        yield
    finally:
        tracer.signal(signal.SIGTERM)  # strace detaches, the process runs on untraced
        tracer.wait()


def run_tool(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a client program to its end, its output captured (a hang fails after TOOL_TIMEOUT)."""
    return subprocess.run(command, capture_output=True, timeout=TOOL_TIMEOUT, cwd=cwd, check=False)


@dataclass
class RunResult:
    """How a one-shot program ended: its exit status and everything it printed."""

    returncode: int
    stdout: list[str]
    stderr: str

    def has(self, pattern: Pattern) -> bool:
        matches = matcher(pattern)
        return any(matches(line) for line in self.stdout)

    def __str__(self) -> str:
        shown = "\n    ".join(self.stdout[-40:])
        return f"exit {self.returncode}\n  stdout:\n    {shown}\n  stderr: {self.stderr}"


def run_program(args: list[str], stdin: bytes | int = b"", timeout: float = TIMEOUT) -> RunResult:
    """Run a program to its end: `stdin` is fed to it (bytes) or is its stdin (a file
    descriptor). Killed and reported if it outlives `timeout`."""
    feed = isinstance(stdin, bytes)
    process = _popen(
        args, stdin=subprocess.PIPE if feed else stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        out, err = process.communicate(stdin if feed else None, timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(
            f"{' '.join(args[1:3])} still running after {timeout:g} s\n"
            f"  stdout: {out.decode(errors='replace')}\n  stderr: {err.decode(errors='replace')}"
        ) from None
    return RunResult(
        process.returncode, out.decode("utf-8", "replace").splitlines(), err.decode("utf-8", "replace")
    )


def run_client(
    port: int,
    commands: Iterable[str],
    *,
    name: str | None,
    download_dir: Path,
    lang: str | None = None,
    extra_args: Iterable[str] = (),
    timeout: float = TIMEOUT,
) -> RunResult:
    """A one-shot scripted client: `commands` on its stdin, then end of input."""
    script = "".join(f"{command}\n" for command in commands).encode()
    return run_program(client_args(port, name, download_dir, lang, extra_args), script, timeout)


def server_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "ftplab.server", *args]


@dataclass(frozen=True)
class Arrival:
    """One event a RawConnection received, and how many bytes of the current
    download had arrived before it."""

    event: object
    file_offset: int


class RawConnection:
    """A bare TCP connection speaking the protocol by hand, parsed with protocol.Receiver.

    It reads only when asked, so a test decides exactly how fast a download
    drains. `arrivals` keeps every event but file data, in order, each with the
    download offset at which it arrived; file data is only counted and hashed
    (a download may be far larger than the test wants to hold in memory).
    """

    def __init__(self, port: int, name: str, *, source: str | None = None, receive_buffer: int | None = None):
        """`source`: the local address to connect from (any 127.x.y.z works on Linux);
        `receive_buffer`: a small SO_RCVBUF, set before connecting so the window stays small
        (a slow link that cannot hide megabytes in the kernel)."""
        self.name = name
        self.receiver = protocol.Receiver(from_server=True)
        self.arrivals: list[Arrival] = []
        self.file: protocol.FileStart | None = None
        self.file_bytes = 0
        self.file_digest = hashlib.sha256()
        self.eof = False
        self.received_bytes = 0
        self._expected_upto = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(TIMEOUT)
        try:
            if source is not None:
                self.sock.bind((source, 0))
            self.sock.connect((HOST, port))
        except OSError:
            self.sock.close()
            raise

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    @property
    def events(self) -> list:
        return [arrival.event for arrival in self.arrivals]

    def send_line(self, text: str, sender: str | None = None) -> None:
        self.sock.sendall(f"{sender or self.name}> {text}\n".encode())

    def join(self) -> protocol.Hello:
        self.send_line("")
        return self.expect(protocol.Hello)

    def fence(self, timeout: float = TIMEOUT) -> int:
        """A fence (support/fence.py): the server has handled every line sent before this.
        Returns the index in `arrivals` of the fence's answer: what came before it is
        everything the server said to those lines."""
        fence = Fence()
        self.send_line(fence.command)
        self.expect(
            lambda event: (
                isinstance(event, protocol.Error)
                and event.code == "no-user"
                and fence.answer.search(event.text)
            ),
            timeout,
            what=f"the answer to the fence {fence.command!r}",
        )
        return self._expected_upto - 1

    def who(self, timeout: float = TIMEOUT) -> protocol.Message:
        """The server's answer to `who`."""
        self.send_line("who")
        return self.expect(
            lambda event: isinstance(event, protocol.Message) and WHO_REPLY.match(event.text),
            timeout,
            what="the answer to who",
        )

    def receive(self, max_bytes: int = 256 * 1024, timeout: float = TIMEOUT) -> None:
        """One recv of at most `max_bytes`, parsed. A ProtocolError propagates: the
        stream the server sent is not well formed."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(max_bytes)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return
        self.received_bytes += len(data)
        self.receiver.feed(data)
        while (event := self.receiver.next_event()) is not None:
            if isinstance(event, protocol.FileData):
                self.file_bytes += len(event.data)
                self.file_digest.update(event.data)
                continue
            if isinstance(event, protocol.FileStart):
                self.file, self.file_bytes, self.file_digest = event, 0, hashlib.sha256()
            self.arrivals.append(Arrival(event, self.file_bytes))

    def _read_until(self, done: Callable[[], object], what: str, timeout: float, max_bytes: int):
        deadline = time.monotonic() + timeout
        while not (result := done()):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.eof:
                recent = [a.event for a in self.arrivals[-10:]]
                raise AssertionError(
                    f"{self.name}: no {what} ({'closed' if self.eof else 'timed out'}, "
                    f"{self.file_bytes} file bytes); last events: {recent}"
                )
            try:
                self.receive(max_bytes, remaining)
            except TimeoutError:
                continue
        return result

    def expect(
        self,
        wanted: type | Callable[[object], bool],
        timeout: float = TIMEOUT,
        max_bytes: int = 256 * 1024,
        what: str | None = None,
    ) -> Arrival:
        """Read until an event of type `wanted`, or one `wanted(event)` accepts, arrives after
        the ones already seen by `expect`; returns the event. `what` names it in a failure
        (default: the type's name, or the callable's `description`)."""
        accepts = (lambda event: isinstance(event, wanted)) if isinstance(wanted, type) else wanted
        what = what or getattr(wanted, "description", None) or getattr(wanted, "__name__", repr(wanted))

        def find():
            for index in range(self._expected_upto, len(self.arrivals)):
                if accepts(self.arrivals[index].event):
                    self._expected_upto = index + 1
                    return self.arrivals[index]
            return None

        return self._read_until(find, what, timeout, max_bytes).event

    def read_file_bytes(self, count: int, timeout: float = TIMEOUT, max_bytes: int = 64 * 1024) -> None:
        """Read until at least `count` bytes of the current download have arrived."""
        self._read_until(lambda: self.file_bytes >= count, f"{count} file bytes", timeout, max_bytes)

    def read_whole_file(self, timeout: float = TIMEOUT) -> None:
        """Read, as fast as we can, until the announced size of the download has arrived."""
        self._read_until(
            lambda: self.file and self.file_bytes >= self.file.size, "end of file", timeout, 1024 * 1024
        )

    def wait_closed(self, timeout: float = TIMEOUT) -> None:
        """Read everything until the server closes the connection."""
        self._read_until(lambda: self.eof, "end of connection", timeout, 1024 * 1024)


def message_containing(text: str) -> Callable[[object], bool]:
    """For RawConnection.expect: a Message (chat or a server reply) containing `text`."""

    def accepts(event: object) -> bool:
        return isinstance(event, protocol.Message) and text in event.text

    accepts.description = f"a message containing {text!r}"
    return accepts


def make_file(path: Path, size: int, *, seed: int = 0) -> bytes:
    """A file of `size` pseudo-random bytes (reproducible); returns the content."""
    content = random_bytes(size, seed)
    path.write_bytes(content)
    return content


def random_bytes(size: int, seed: int = 0) -> bytes:
    blocks, counter = [], 0
    while sum(map(len, blocks)) < size:
        blocks.append(hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 64)
        counter += 1
    return b"".join(blocks)[:size]


def make_big_file(path: Path, size: int) -> str:
    """A large file, fast: sparse, with random blocks spread through it so a
    transfer that skipped or reordered data would not go unnoticed. Returns its SHA-256."""
    block = os.urandom(256 * 1024)
    with open(path, "wb") as file:
        file.truncate(size)
        for offset in range(0, size - len(block), size // 16):
            os.pwrite(file.fileno(), block, offset + 4096 + 7)
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def partial_downloads(directory: Path) -> list[str]:
    """The download's hidden temporary files in `directory`."""
    return sorted(p.name for p in Path(directory).glob(".ftplab-*.part"))


def files_open_in(pid: int, directory: Path) -> list[str]:
    """What process `pid` has open inside `directory` (Linux /proc), unnamed temporaries
    included: an O_TMPFILE file shows as 'DIR/#INODE (deleted)'."""
    prefix = str(Path(directory).resolve()) + os.sep
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith(prefix):
                targets.append(target)
    return targets


def rss_kib(pid: int, *, peak: bool = False) -> int:
    """The resident memory of process `pid` in KiB: now (VmRSS in /proc/PID/status),
    or the most it has ever had (VmHWM) with `peak`."""
    field = "VmHWM:" if peak else "VmRSS:"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def process_state(pid: int) -> str:
    """R (running), S (sleeping), T (stopped), ... from /proc/PID/stat."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuUse:
    """A process's CPU time over a block (`cpu_use`), the wall-clock time the block took, and
    the share of a core that makes (a loop that spins takes all it gets)."""

    def __init__(self, pid: int):
        self._pid = pid
        self._cpu = cpu_seconds(pid)
        self._started = time.monotonic()
        self.seconds = self.cpu = 0.0

    def stop(self) -> None:
        self.cpu = cpu_seconds(self._pid) - self._cpu
        self.seconds = time.monotonic() - self._started

    @property
    def share(self) -> float:
        return self.cpu / self.seconds

    def __repr__(self) -> str:
        return f"the server used {self.cpu:.2f} core-seconds in {self.seconds:.2f} s"


@contextlib.contextmanager
def cpu_use(pid: int):
    """Measure process `pid`'s CPU over the block: a CpuUse, filled in when the block ends."""
    use = CpuUse(pid)
    yield use
    use.stop()


def open_fds(pid: int) -> int:
    """How many file descriptors process `pid` has open (/proc/PID/fd)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _socket_queues(local_port: int, remote_port: int | None) -> tuple[int, int]:
    """(send queue, receive queue) of the 127.0.0.1 TCP socket with this local (and, if
    given, remote) port, from Linux's /proc/net/tcp; (-1, -1) if there is none."""
    local = f"0100007F:{local_port:04X}"
    remote = None if remote_port is None else f"0100007F:{remote_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and remote in (None, fields[2]):
            sent, received = fields[4].split(":")
            return int(sent, 16), int(received, 16)
    return -1, -1


def socket_receive_queue(local_port: int, remote_port: int | None = None) -> int:
    """Bytes waiting unread in the receive queue of that socket; -1 if there is none."""
    return _socket_queues(local_port, remote_port)[1]


def reader_window_full(server_port: int, reader_port: int) -> bool:
    """The reader's socket holds bytes it has not read and the server's socket to it holds
    bytes the reader's window has no room for: the reader is full, whatever size the kernel
    let its receive buffer grow to (a fixed byte count sits at the edge of the initial window)."""
    unsent = _socket_queues(server_port, reader_port)[0]
    return socket_receive_queue(reader_port, server_port) > 0 and unsent > 0


@contextlib.contextmanager
def frozen_mid_download(server: ServerProcess, client: ClientProcess, file_name: str) -> Iterator[None]:
    """Bring `client` into the middle of downloading `file_name` and hold it there, stopped
    (SIGSTOP): the header and some data wait unread in its socket and the server has more
    to send. The client is let go (SIGCONT) when the block ends.

    No race: the server is stopped while the request is sent, and the client is stopped
    before the server, let go, can answer."""
    joined = server.wait_for_log(re.compile(rf"joined {re.escape(client.name)}@127\.0\.0\.1:\d+"))
    client_port = int(joined.rsplit(":", 1)[1])
    server.signal(signal.SIGSTOP)
    try:
        client.send(f"get {file_name}")
        wait_until(
            lambda: socket_receive_queue(server.port, client_port) > 0, message="the request at the server"
        )
        client.signal(signal.SIGSTOP)
    finally:
        server.signal(signal.SIGCONT)
    try:
        wait_until(
            lambda: socket_receive_queue(client_port, server.port) > 4096,
            message="the header and file data waiting in the stopped client's socket",
        )
        yield
    finally:
        client.signal(signal.SIGCONT)


class FakeServer:
    """A hostile or broken server for the real client: it listens on 127.0.0.1, takes one
    connection, waits for the client's first line and then sends `script`, raw bytes, as is.

    Then, unless `hang_up` is set, it answers the client's `quit` with `!BYE` (so a client
    that survived the script exits 0); with `hang_up` it closes the connection right after
    the script, as a server that dies mid-stream. Everything the client sent is in `received`.
    `after`: the script waits until the client has sent this (by default its join line), e.g.
    the `get` lines that ask for the files the script sends; its `!HELLO` line, if any, goes
    right after the join line, as a server's does (the client holds typed lines until then).
    `stream`: after the script, these bytes (a `!DATA` frame) are sent again and again, as fast
    as the client reads them, until it hangs up; `streamed` counts them. `later`: after the
    script, (event, bytes) in turn: each one's bytes once the test has set its event."""

    def __init__(
        self,
        script: bytes,
        *,
        hang_up: bool = False,
        name: str = SERVER_NAME,
        after: bytes = b"\n",
        script_gate: threading.Event | None = None,
        before_bye: bytes = b"",
        bye_gate: threading.Event | None = None,
        stream: bytes = b"",
        later: Iterable[tuple[threading.Event, bytes]] = (),
    ):
        """`script_gate`, `bye_gate`: the script, and what follows the client's quit
        (`before_bye`, then `!BYE`), wait for the test to set these events."""
        self.script = script
        self.stream = stream
        self.streamed = 0
        self.later = list(later)
        self.after = after
        self.script_gate = script_gate
        self.before_bye = before_bye
        self.bye_gate = bye_gate
        self.hang_up = hang_up
        self.name = name
        self.received = b""
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(TIMEOUT)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="fake server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with self._listener:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
        with conn:
            conn.settimeout(TIMEOUT)
            try:
                script = self.script
                if self.after != b"\n" and b"> !HELLO " in script:
                    end = script.index(b"\n", script.index(b"> !HELLO ")) + 1
                    self._read_until(conn, b"\n")
                    conn.sendall(script[:end])
                    script = script[end:]
                self._read_until(conn, self.after)
                _wait_for_gate(self.script_gate)
                conn.sendall(script)
                for gate, data in self.later:
                    _wait_for_gate(gate)
                    conn.sendall(data)
                if self.stream:
                    self._send_stream(conn)
                if self.hang_up:
                    return
                self._read_until(conn, b"> quit\n")
                _wait_for_gate(self.bye_gate)
                conn.sendall(self.before_bye + f"{self.name}> !BYE adios\n".encode())
                conn.shutdown(socket.SHUT_WR)
                self._read_until(conn, None)
            except OSError:
                return

    def _send_stream(self, conn: socket.socket) -> None:
        """Until the client hangs up (OSError), or stops reading for TIMEOUT."""
        while True:
            conn.sendall(self.stream)
            self.streamed += len(self.stream)

    def _read_until(self, conn: socket.socket, marker: bytes | None) -> None:
        while marker is None or marker not in self.received:
            data = conn.recv(65536)
            if not data:
                return
            self.received += data

    def join(self) -> None:
        try:
            join_thread(self._thread, TIMEOUT, "the fake server's conversation")
        finally:
            self._listener.close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *_exc) -> None:
        self.join()


def _wait_for_gate(gate: threading.Event | None) -> None:
    if gate is not None and not gate.wait(TIMEOUT):
        raise TimeoutError("the test never opened the fake server's gate")


def file_frames(name: str, content: bytes, *, sha256: str | None = None, sender: str = SERVER_NAME) -> bytes:
    """What a server sends for one download: `!FILE` (with the right SHA-256 unless one is
    given) and `!DATA` frames."""
    digest = sha256 or hashlib.sha256(content).hexdigest()
    frames = [f"{sender}> !FILE {len(content)} {digest} {name}\n".encode()]
    for start in range(0, len(content), protocol.MAX_DATA_BYTES):
        chunk = content[start : start + protocol.MAX_DATA_BYTES]
        frames.append(f"{sender}> !DATA {len(chunk)}\n".encode() + chunk)
    return b"".join(frames)
