"""Conversations over loadgen's channels: small state machines of one client each.

`LabSession` (join, list, get, quit on the ftplab protocol), `FtpSession`
(login, LIST if asked, RETR, QUIT with passive data connections) and `LabListener` (joins,
then stays, noting when each line arrives). `keep_running` keeps a fixed
number of conversations going, starting a new one as each ends.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ftplab import protocol

from .channels import Channel, Loop


class Conversation:
    """One client's script; `done` once it ended, `failure` says why if it went wrong.

    `on_end`, if set, is called once with the conversation when it ends; `seconds` is then how long
    it took from its start (the connect) to its end."""

    on_end: Callable[[Conversation], None] | None = None

    def __init__(self):
        self.done = False
        self.failure: str | None = None
        self.began = time.monotonic()
        self.seconds: float | None = None

    def finish(self, failure: str | None = None) -> None:
        if self.done:
            return
        self.done = True
        self.failure = failure
        self.seconds = time.monotonic() - self.began
        self.close()
        if self.on_end is not None:
            self.on_end(self)

    def fail(self, reason: str) -> None:
        self.finish(reason)

    def close(self) -> None:
        raise NotImplementedError


# --- ftplab -----------------------------------------------------------------------------------------------


_LIST_HEADER = re.compile(r"\((\d+)\):$")
"""The end of the listing's header line, "Files on the server (2):", with the count."""
_ANNOUNCEMENT = re.compile(r" (joined|left)( in the last \d+ s)?$")
"""Others joining and leaving, between the lines of a listing (the server runs with --lang en); with
many, the room sums them up ("40 more left in the last 5 s")."""


class LabSession(Conversation):
    """connect, join, list (reads the whole listing), get FILE (counts its bytes), quit, wait for !BYE.

    Each step waits for the answer to the last, as a person's client would."""

    def __init__(self, loop: Loop, address, name: str, file_name: str, source: str | None = None):
        super().__init__()
        self.name = name
        self.file_name = file_name
        self.list_lines_left: int | None = None
        self.file_left = -1
        self.receiver = protocol.Receiver(from_server=True)
        self.step = self._joining
        self.channel = Channel(loop, address, self._on_data, self._on_closed, source)
        self._say("")

    def _say(self, text: str) -> None:
        self.channel.send(protocol.encode_command(self.name, text))

    def _on_data(self, data: memoryview) -> None:
        self.receiver.feed(data)  # a view: payloads are counted, never kept
        try:
            while not self.done and (event := self.receiver.next_event()) is not None:
                self.step(event)
        except protocol.ProtocolError as error:
            self.fail(f"protocol: {error.code}")

    def _joining(self, event) -> None:
        if isinstance(event, protocol.Hello):
            self.step = self._listing
            self._say("list")
        elif isinstance(event, protocol.Error):
            self.fail(f"join: {event.code}")

    def _listing(self, event) -> None:
        if not isinstance(event, protocol.Message) or _ANNOUNCEMENT.search(event.text):
            return
        if self.list_lines_left is None:
            header = _LIST_HEADER.search(event.text)
            if header is None:
                self.fail(f"list: unexpected {event.text[:40]!r}")
                return
            self.list_lines_left = int(header[1])
        else:
            self.list_lines_left -= 1
        if self.list_lines_left == 0:
            self.step = self._getting
            self._say(f"get {self.file_name}")

    def _getting(self, event) -> None:
        if isinstance(event, protocol.FileStart):
            self.file_left = event.size
        elif isinstance(event, protocol.FileData):
            self.file_left -= len(event.data)
            if self.file_left == 0:
                self.step = self._quitting
                self._say("quit")
        elif isinstance(event, (protocol.Error, protocol.FileAbort)):
            self.fail(f"get: {event.text}")

    def _quitting(self, event) -> None:
        if isinstance(event, protocol.Bye):
            self.finish()

    def _on_closed(self, problem: str | None) -> None:
        if not self.done:
            self.fail(problem or "closed by the server before !BYE")

    def close(self) -> None:
        self.channel.close()


class Tally:
    """Counts kept by many listeners together, so waiting for all of them costs nothing per loop turn."""

    def __init__(self):
        self.hellos = 0
        self.ended = 0
        self.marks: Counter[str] = Counter()


_HELLO_LINE = re.compile(rb"^[^\n>]+> !HELLO ", re.M)
_ERROR_CODE = re.compile(rb"^[^\n>]+> !ERR (\S+)", re.M)


class LabListener(Conversation):
    """Joins and stays; notes when it got !HELLO and when each line starting with `marker` arrived.

    Arrived, not read: where the kernel stamps what it receives (Linux), a time is when the line
    reached the listener's socket; the load generator, one process reading thousands of sockets
    on the server's machine, may read it later than a client of its own would (`marks_read` has
    when it did). It reads whole lines by scanning bytes with regular expressions, not event by event: with N
    clients every join is announced to all, so a crowd receives O(N²) lines, and parsing each in
    Python would make the load generator, not the server, the limit. It never asks for a file."""

    def __init__(self, loop: Loop, address, name: str, marker: str, tally: Tally):
        super().__init__()
        self.name = name
        self.tally = tally
        self.hello_at: float | None = None
        self.marks: dict[str, float] = {}
        self.marks_read: dict[str, float] = {}
        self._marker_line = re.compile(rb"^[^\n>]+> (" + re.escape(marker.encode()) + rb"[^\r\n]*)", re.M)
        self._pending = bytearray()
        self.channel = Channel(loop, address, self._on_data, self._on_closed, stamped=True)
        self.channel.send(protocol.encode_command(name, ""))

    def _on_data(self, data: memoryview) -> None:
        now = time.monotonic()
        self._pending += data
        end = self._pending.rfind(b"\n") + 1
        if end == 0:
            if len(self._pending) > protocol.MAX_LINE_BYTES:
                self.fail("a line longer than the protocol allows")
            return
        lines = bytes(self._pending[:end])
        del self._pending[:end]
        self._scan(lines, now)

    def _arrived(self, now: float) -> float:
        """When the bytes just read reached the socket, on the monotonic clock (`now`: read)."""
        arrived_at = self.channel.arrived_at
        return now if arrived_at is None else now - max(0.0, time.time() - arrived_at)

    def _scan(self, lines: bytes, now: float) -> None:
        arrived = None
        if self.hello_at is None and _HELLO_LINE.search(lines):
            self.hello_at = arrived = self._arrived(now)
            self.tally.hellos += 1
        for match in self._marker_line.finditer(lines):
            text = match[1].decode()
            if text not in self.marks:
                self.marks[text] = arrived = arrived or self._arrived(now)
                self.marks_read[text] = now
                self.tally.marks[text] += 1
        for match in _ERROR_CODE.finditer(lines):
            if protocol.is_fatal(match[1].decode()):
                self.fail(f"join: {match[1].decode()}")

    def finish(self, failure: str | None = None) -> None:
        if not self.done:
            self.tally.ended += 1
        super().finish(failure)

    def _on_closed(self, problem: str | None) -> None:
        self.fail(problem or "closed by the server")

    def close(self) -> None:
        self.channel.close()


# --- FTP --------------------------------------------------------------------------------------------------

_PASV_ADDRESS = re.compile(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")


class FtpSession(Conversation):
    """USER/PASS, TYPE I, then (with `listing`) LIST and RETR FILE over passive data connections,
    then QUIT.

    Each transfer is complete when its data connection has ended and the
    control connection has said 226; RETR also checks the byte count. Data
    connections come from the control connection's `source` address too.
    """

    def __init__(
        self,
        loop: Loop,
        address,
        user: str,
        password: str,
        file_name: str,
        file_size: int,
        *,
        listing: bool = True,
        source: str | None = None,
    ):
        super().__init__()
        self.loop = loop
        self.host = address[0]
        self.source = source
        self.file_size = file_size
        self.lines = bytearray()
        self.data: Channel | None = None
        self.data_bytes = 0
        self.data_ended = False
        self.transfer_replied = False
        self.script = [
            (None, 220),
            (f"USER {user}", 331),
            (f"PASS {password}", 230),
            ("TYPE I", 200),
            *((("PASV", 227), ("LIST", "transfer")) if listing else ()),
            ("PASV", 227),
            (f"RETR {file_name}", "transfer"),
            ("QUIT", 221),
        ]
        self.channel = Channel(loop, address, self._on_control, self._on_closed, source)

    def _on_control(self, data: memoryview) -> None:
        self.lines += data
        while not self.done and (end := self.lines.find(b"\n")) >= 0:
            line = bytes(self.lines[: end + 1])
            del self.lines[: end + 1]
            if len(line) >= 4 and line[:3].isdigit() and line[3:4] == b" ":
                self._on_reply(int(line[:3]), line)

    def _on_reply(self, code: int, line: bytes) -> None:
        _command, expected = self.script[0]
        if expected == "transfer":
            self._on_transfer_reply(code)
            return
        if code != expected:
            self.fail(f"expected {expected}, got {line.decode(errors='replace').strip()}")
            return
        if code == 227:
            self._open_data(line)
        self._next()

    def _next(self) -> None:
        self.script.pop(0)
        if not self.script:
            self.finish()
            return
        command, _expected = self.script[0]
        self.data_bytes, self.data_ended, self.transfer_replied = 0, False, False
        self.channel.send(f"{command}\r\n".encode())

    def _open_data(self, line: bytes) -> None:
        match = _PASV_ADDRESS.search(line)
        if match is None:
            self.fail("PASV reply without an address")
            return
        port = int(match[5]) * 256 + int(match[6])
        self.data = Channel(self.loop, (self.host, port), self._on_data, self._on_data_closed, self.source)

    def _on_data(self, data: memoryview) -> None:
        self.data_bytes += len(data)

    def _on_data_closed(self, problem: str | None) -> None:
        if problem:
            self.fail(f"data connection: {problem}")
            return
        self.data_ended = True
        self._maybe_transfer_done()

    def _on_transfer_reply(self, code: int) -> None:
        if code in (125, 150):
            return
        if code != 226:
            self.fail(f"transfer ended with {code}")
            return
        self.transfer_replied = True
        self._maybe_transfer_done()

    def _maybe_transfer_done(self) -> None:
        if not (self.data_ended and self.transfer_replied):
            return
        command, _expected = self.script[0]
        if command.startswith("RETR") and self.data_bytes != self.file_size:
            self.fail(f"RETR gave {self.data_bytes} bytes, not {self.file_size}")
            return
        self._next()

    def _on_closed(self, problem: str | None) -> None:
        if not self.done:
            self.fail(problem or "control connection closed early")

    def close(self) -> None:
        self.channel.close()
        if self.data is not None:
            self.data.close()


# --- running many ----------------------------------------------------------------------------------------


@dataclass
class SteadyRun:
    """What `keep_running` saw: (completed, seconds) per measured window, the seconds each
    conversation completed in a window took (one list per window), and every failure."""

    warmed_up: bool
    windows: list[tuple[int, float]] = field(default_factory=list)
    durations: list[list[float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def keep_running(
    loop: Loop,
    start: Callable[[int], Conversation],
    concurrency: int,
    *,
    window_seconds: float,
    windows: int = 1,
    warmup: int = 0,
    warmup_timeout: float = 60.0,
    at_window_edge: Callable[[], None] | None = None,
    windows_from: float | None = None,
) -> SteadyRun:
    """Keep `concurrency` conversations going: first until `warmup` have ended (or `warmup_timeout`
    passed), then for `windows` windows of `window_seconds`, counting the completed ones in each.

    Without a warm-up, N conversations started together end together, in waves: a window shorter
    than a wave could count none. `at_window_edge` is called as each window starts and ends (to
    sample CPU use, say). With `windows_from` (a time.monotonic() value, the same in every process
    on the machine), the load is held after the warm-up until then and the windows start there:
    several processes running this at once measure the same windows.
    Conversations still open at the end are closed, uncounted."""
    live: set[Conversation] = set()
    ended: list[Conversation] = []
    counts = {"serial": 0, "completed": 0}
    failures: list[str] = []
    durations: list[float] = []

    def refill() -> bool:
        for conversation in ended:
            live.discard(conversation)
            if conversation.failure is None:
                counts["completed"] += 1
                durations.append(conversation.seconds)
            else:
                failures.append(conversation.failure)
        ended.clear()
        while len(live) < concurrency:
            counts["serial"] += 1
            try:
                conversation = start(counts["serial"])
            except OSError as error:
                failures.append(f"connect: {error.strerror}")
                break
            conversation.on_end = ended.append
            live.add(conversation)
        return False

    began = time.monotonic()
    warmed_up = loop.run(
        lambda: refill() or counts["completed"] + len(failures) >= warmup, began + warmup_timeout
    )
    if windows_from is not None:
        loop.run(refill, windows_from)
    run = SteadyRun(warmed_up, failures=failures)
    edge = time.monotonic() if windows_from is None else windows_from
    for _ in range(windows):
        if at_window_edge is not None:
            at_window_edge()
        refill()
        window_start, completed_before = min(edge, time.monotonic()), counts["completed"]
        durations.clear()
        edge += window_seconds
        loop.run(refill, edge)
        refill()
        run.windows.append((counts["completed"] - completed_before, time.monotonic() - window_start))
        run.durations.append(list(durations))
    if at_window_edge is not None:
        at_window_edge()
    for conversation in list(live):
        conversation.close()
    return run
