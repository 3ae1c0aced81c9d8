"""The ftplab client: keyboard and socket in one selectors loop.

Messages from the server are shown as they arrive, while the user types;
downloads are saved by `download.Download`, and only files the user asked for
with `get`, in the order asked; everything from the network is shown through
`text.visible`, so no peer can drive this terminal.

Run it as `ftplab-client` or `python -m ftplab.client`. Exit status (README):
0 after quit or end of input with every download saved; 1 when the connection
fails, is lost or is refused; 2 for a usage error; 3 when the server shut down;
4 when a `get` failed; 128+N after signal N.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import selectors
import shlex
import signal
import socket
import sys
import time
import unicodedata

from . import protocol
from .cli import ClientConfig, parse_client_args
from .console import ConsoleWatch, PlainConsole, open_console
from .download import (
    Corrupt,
    Download,
    DownloadError,
    HeldPart,
    ReceiveBuffers,
    SetAside,
    UnsafeName,
    held_prefix,
    partial_path,
)
from .filenames import is_servable
from .messages import Messages, human_size
from .net import CLIENT_USER_TIMEOUT_MS, watch_for_dead_peer
from .text import visible
from .upload import Outgoing, UploadError

OUTPUT_HIGH_WATER = 64 * 1024
"""Above this much output waiting for the server, stdin is not read (a pipe) or typed
lines are refused (a terminal): memory stays bounded when the server does not read."""
PROGRESS_INTERVAL_SECONDS = 0.25
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVER_CLOSED, EXIT_GET_FAILED = 0, 1, 2, 3, 4
SERVER_CLOSING_CODE = protocol.ErrorCode.CLOSING.value
GET_REFUSAL_CODES = frozenset(
    code.value
    for code in (
        protocol.ErrorCode.NO_FILE,
        protocol.ErrorCode.NOT_FILE,
        protocol.ErrorCode.DENIED,
        protocol.ErrorCode.AMBIGUOUS,
        protocol.ErrorCode.RESOURCES,
    )
)
"""The answers to one `get` that mean it failed (exit status 4 with piped input)."""
NOT_QUEUED_CODES = frozenset({protocol.ErrorCode.NO_MATCH.value, protocol.ErrorCode.QUEUE_FULL.value})
"""Files asked for that will not come (a pattern matching nothing, the queue full): a failed get."""
COMMANDS = ("list", "get", "mget", "put", "cd", "pwd", "who", "help", "quit")
WILDCARDS = frozenset("*?[")
MAX_PATTERNS = 32
"""The latest `mget` patterns remembered to check `!QUEUED` names against."""
ALIASES = {"ls": "list", "dir": "list"}
LEAVING_WORDS = frozenset({"quit", "exit", "bye"})
LISTING_LINE = re.compile(r" *(?:\d\S*(?: \S+)?|<dir>)  \d{4}-\d\d-\d\d \d\d:\d\d  (.+)")
"""A line of `list`: SIZE (bytes, or 1.2 MiB, or <dir>)  DATE TIME  NAME (a folder's ends
in "/"); its names feed Tab completion."""


def ends_session(code: str) -> bool:
    """After this error code the server closes the connection."""
    return protocol.is_fatal(code)


class LeaveNow(BaseException):
    """A signal ends the client at once (terminal restored, the download reported)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _leave_on_signal(signum, _frame) -> None:
    raise LeaveNow(signum)


def _same_name(name: str) -> str:
    """File names compare after NFC normalisation: a typed name matches its decomposed twin."""
    return unicodedata.normalize("NFC", name)


class Client:
    """One session with a server: the keyboard, the socket and at most one download at a time."""

    def __init__(self, sock: socket.socket, config: ClientConfig, name: str, console: PlainConsole):
        self.sock = sock
        self.config = config
        self.name = name
        self.console = console
        self.say = Messages(config.lang)
        self.receiver = protocol.Receiver(from_server=True)
        self._buffers = ReceiveBuffers()
        self.download: Download | None = None
        self.upload: Outgoing | None = None
        self._puts: list[str] = []
        """Files asked for with `put` while an upload runs: they go in turn."""
        self._failed_puts = 0
        self._quit_after_upload = False
        self.exit_reason: str | None = None
        self._requests: list[str] = []
        self._patterns: list[str] = []
        """The `mget` patterns asked for (NFC): a `!QUEUED` name must match one, or be a word of
        a `get` of several names, or it is refused like any file not asked for."""
        self._listing: list[str] = []
        self._skip_bytes = 0
        self._pending_output = bytearray()
        self._joined = False
        self._server_name: str | None = None
        self._quitting = False
        self._said_bye = False
        self._fatal: protocol.Error | None = None
        self._failure: str | None = None
        self._left_on: int | None = None
        self._failed_gets = 0
        self._interrupt_armed = False
        self._progress_at = 0.0
        self._download_started_at = 0.0
        self._finished = False
        self._keep_alive_seconds: float | None = None
        """Asked by the server (`!KEEPALIVE`): send a line at least this often, even to only read."""
        self._sent_at = time.monotonic()
        self._selector = selectors.DefaultSelector()
        self._console_watch = ConsoleWatch(self._selector, console, self._on_console)
        self._handlers = {
            protocol.Message: self._on_message,
            protocol.Hello: self._on_hello,
            protocol.Error: self._on_error,
            protocol.FileStart: self._on_file_start,
            protocol.FileData: self._on_file_data,
            protocol.FileAbort: self._on_file_abort,
            protocol.UploadReady: self._on_upload_ready,
            protocol.UploadSaved: self._on_upload_saved,
            protocol.Bye: self._on_bye,
            protocol.KeepAlive: self._on_keep_alive,
            protocol.FileResume: self._on_file_resume,
            protocol.Queued: self._on_queued,
        }
        console.on_interrupt = self._on_interrupt_key
        console.on_quit_now = lambda: self._leave(signal.SIGQUIT)
        console.completer = self._complete

    # --- the loop -----------------------------------------------------------------

    def run(self) -> int:
        """Join, then serve keyboard and socket until the connection ends; the exit
        status (and `exit_reason`, for the caller to print once the terminal is restored)."""
        self.sock.setblocking(False)
        self._selector.register(self.sock, selectors.EVENT_READ, self._on_socket)
        hello_deadline = time.monotonic() + self.config.timeout
        try:
            self._send(protocol.join_text({"lang": self.say.language}))  # names us, and our language
            self._sync_console_watch()
            self._handle_input_lines([])
            while not self._finished:
                self._turn(None if self._joined else hello_deadline - time.monotonic())
        except LeaveNow as leave:
            self._left_on = leave.signum
        finally:
            self._close()
        return self._exit_status()

    def _turn(self, timeout: float | None) -> None:
        if timeout is not None and timeout <= 0:
            self._failure = self.say("no_hello", seconds=f"{self.config.timeout:g}")
            self._finished = True
            return
        polling = self._console_watch.polled and self._console_wanted()
        if timeout is None:
            timeout = self._keep_alive_wait()
        for key, mask in self._selector.select(0 if polling else timeout):
            key.data(mask)
        if polling:
            self._on_console(selectors.EVENT_READ)
        self._keep_alive_if_due()

    def _keep_alive_wait(self) -> float | None:
        """Seconds until a keep-alive is due (None: the server asked for none)."""
        if self._keep_alive_seconds is None:
            return None
        return max(self._sent_at + self._keep_alive_seconds - time.monotonic(), 0.0)

    def _keep_alive_if_due(self) -> None:
        """An empty line, which the server counts as activity and otherwise ignores."""
        if self._keep_alive_wait() == 0.0 and not self._quitting and not self._finished:
            self._send("")

    def _leave(self, signum: int) -> None:
        self._left_on = signum
        self._finished = True

    def _exit_status(self) -> int:
        status, self.exit_reason = self._outcome()
        return status

    def _outcome(self) -> tuple[int, str | None]:
        if self._left_on is not None:
            name = signal.Signals(self._left_on).name
            return 128 + self._left_on, self.say("left_on_signal", signal=name)
        if self._failure is not None:
            return EXIT_FAILURE, self._failure
        if self._fatal is not None:
            status = EXIT_SERVER_CLOSED if self._fatal.code == SERVER_CLOSING_CODE else EXIT_FAILURE
            return status, self.say("server_said", text=visible(self._fatal.text))
        if not self._said_bye:
            return EXIT_FAILURE, self.say("connection_lost")
        if self._failed_gets:
            return EXIT_GET_FAILED, self.say("gets_failed", count=self._failed_gets)
        if self._failed_puts:
            return EXIT_GET_FAILED, self.say("puts_failed", count=self._failed_puts)
        return EXIT_OK, None

    def _close(self) -> None:
        if self.download is not None:
            self.console.set_status("")
            self._report_interrupted(self.download)
            self._failed_gets += 1
            self.download = None
        self._end_upload_on_close()
        self._selector.close()
        self.sock.close()

    # --- keyboard -----------------------------------------------------------------

    def _console_wanted(self) -> bool:
        """Read the keyboard or stdin now? Not once it is gone; a pipe not after quit, nor
        while output waits for a server that does not read (the back-pressure)."""
        if self.console.input_gone:
            return False
        if self.console.interactive:
            return True
        return not self._quitting and len(self._pending_output) < OUTPUT_HIGH_WATER

    def _sync_console_watch(self) -> None:
        self._console_watch.set(self._console_wanted())

    def _on_console(self, _mask: int) -> None:
        self._handle_input_lines(self.console.read_lines())

    def _handle_input_lines(self, lines: list[str]) -> None:
        if self.console.has_pending:
            lines = self.console.read_buffered() + lines
        for line in lines:
            self._on_input(line.strip())
        if self.console.at_eof and not self._quitting:
            self._quit()
        self._sync_console_watch()

    def _on_input(self, text: str) -> None:
        if not text:
            return
        self._interrupt_armed = False
        if self._quitting:
            self._say_when_leaving()
            return
        word, _, argument = text.partition(" ")
        word = word.lower()
        if word in LEAVING_WORDS and not argument:
            self._quit()
        elif word == "get":
            self._get_several(argument.strip())
        elif word == "mget":
            self._mget_each(argument.strip())
        elif word == "put":
            self._put(argument.strip())
        elif word == "cd":
            self._send_typed(f"cd {_file_name_argument(argument)}".strip())  # quoted as for get
        elif word in ALIASES or word == "list":
            self._listing = []
            self._send_typed(ALIASES.get(word, text))
        elif word == "clear" and not argument:
            self.console.clear_screen()
        else:
            self._send_typed(text)

    # --- several files ------------------------------------------------------------

    def _get_several(self, argument: str) -> None:
        """`get a.txt b.txt` goes as typed: the server takes it as one name if a file has it,
        else as several (`!QUEUED` for each). With a wildcard (`get *.txt`, not a listed
        name), each word goes on its own, a pattern as `mget`."""
        words = _words(argument)
        if argument in self._listing or not any(self._is_pattern(word) for word in words):
            self._get(argument)
        else:
            self._mget_each(argument)

    def _mget_each(self, argument: str) -> None:
        """`mget PATTERN...`: each word a pattern the server expands, a plain name a `get`."""
        words = _words(argument)
        if not words:
            self._send_typed("mget")  # the server explains the usage
        for word in words:
            if not self._is_pattern(word):
                self._get(_quoted(word))
            elif self._send_typed(f"mget {word}"):
                self._patterns = [*self._patterns[-MAX_PATTERNS + 1 :], _same_name(word)]

    def _asked_for_by_many(self, name: str) -> bool:
        """`name` matches an `mget` pattern asked for, or is a word of a `get` still pending."""
        name = _same_name(name)
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self._patterns):
            return True
        return any(name in _words(request) for request in self._requests if " " in request)

    def _is_pattern(self, word: str) -> bool:
        return any(ch in WILDCARDS for ch in word) and word not in self._listing

    def _on_queued(self, event: protocol.Queued) -> None:
        if not self._asked_for_by_many(event.name):
            self.console.show(self.say("download_not_asked", name=visible(event.name)))
            return
        self._requests.append(_same_name(event.name))
        self.console.show(self.say("download_queued_by_server", name=visible(event.name)))

    def _get(self, argument: str) -> None:
        name = _file_name_argument(argument)
        if not name:
            self._send_typed("get")  # the server explains the usage
            return
        ahead = len(self._requests) + 1
        if self._send_typed(self._get_or_resume(name)):
            self._requests.append(_same_name(name.rstrip("/").rpartition("/")[2]))
            if self.download is not None:  # a download runs: this one waits its turn
                self.console.show(self.say("download_queued", name=visible(name), ahead=ahead))

    def _quit(self) -> None:
        """The server answers quit once the downloads asked for before it are sent; an
        upload still going is finished first (quit would end it half-way)."""
        self._quitting = True
        if self.upload is not None:
            self._quit_after_upload = True
        else:
            self._send("quit")
        self._say_when_leaving()
        self._sync_console_watch()

    def _say_when_leaving(self) -> None:
        if self.console.interactive and (self.download is not None or self._requests):
            self.console.show(self.say("leaving_after_downloads"))

    def _on_interrupt_key(self) -> None:
        """Ctrl-C on an empty line: say how to leave; a second Ctrl-C leaves (at once
        during a download, which is then reported as interrupted)."""
        busy = self.download is not None or bool(self._requests) or self.upload is not None
        if self._interrupt_armed:
            self._leave(signal.SIGINT) if busy or self._quitting else self._quit()
            return
        self._interrupt_armed = True
        self.console.show(self.say("interrupt_during_download" if busy else "interrupt_idle"))

    def _complete(self, before: str) -> list[str]:
        """Tab: command names for the first word; after `get ` the names of the last `list`,
        after `cd ` its folders, after `put ` the local files."""
        word, space, rest = before.partition(" ")
        if not space:
            return [f"{command} " for command in COMMANDS if command.startswith(word.lower())]
        typed = _partial_name(rest)
        candidates = {
            "get": self._listing,
            "cd": [name for name in self._listing if name.endswith("/")],
            "put": _local_names(typed),
        }.get(word.lower(), [])
        return [f"{word} {_quoted(name)}" for name in candidates if name.startswith(typed)]

    # --- socket -------------------------------------------------------------------

    def _send_typed(self, text: str) -> bool:
        """A line the user typed; refused while the server is not reading what we send."""
        if len(self._pending_output) >= OUTPUT_HIGH_WATER and self.console.interactive:
            self.console.show(self.say("server_not_reading"))
            return False
        return self._send(text)

    def _send(self, text: str) -> bool:
        try:
            self._pending_output += protocol.encode_command(self.name, text)
        except protocol.LocalProtocolError:
            self.console.show(self.say("line_too_long", limit=protocol.MAX_LINE_BYTES))
            return False
        self._sent_at = time.monotonic()
        self._flush()
        return True

    def _flush(self) -> None:
        try:
            sent = self.sock.send(self._pending_output)
            del self._pending_output[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._pending_output.clear()
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._pending_output else 0)
        self._selector.modify(self.sock, events, self._on_socket)

    def _on_socket(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush()
            self._pump_upload()
            self._sync_console_watch()
        if mask & selectors.EVENT_READ:
            self._receive()

    def _receive(self) -> None:
        """Receive into a preallocated buffer; file data reaches the download as views of it, uncopied."""
        buffer = self._buffers.next()
        try:
            count = self.sock.recv_into(buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            count = 0
        if not count:
            self._finished = True
            return
        self.receiver.feed(memoryview(buffer)[:count])
        try:
            while (event := self.receiver.next_event()) is not None:
                self._handlers[type(event)](event)
        except protocol.ProtocolError as error:
            self._broken(error.detail or error.code)
        finally:
            self._buffers.hold(self.download)

    def _broken(self, detail: str) -> None:
        """The server sent what no correct server sends: stop trusting the stream."""
        self._failure = self.say("broken_stream", detail=visible(detail))
        self._finished = True

    # --- what the server says -------------------------------------------------

    def _show(self, sender: str, text: str) -> None:
        self.console.show(f"{visible(sender)}> {visible(text)}")

    def _on_hello(self, event: protocol.Hello) -> None:
        self._joined = True
        self._server_name = event.sender
        self._show(event.sender, event.text)

    def _on_message(self, event: protocol.Message) -> None:
        self._show(event.sender, event.text)
        if event.sender == self._server_name and (name := _listed_name(event.text)) is not None:
            self._listing.append(name)

    def _on_error(self, event: protocol.Error) -> None:
        if ends_session(event.code):
            self._fatal = event  # said once, on its own line, when the client ends
            return
        self._show(event.sender, event.text)
        if event.code in protocol.UPLOAD_ERROR_CODES and self.upload is not None:
            self._upload_refused()
            return
        if event.code in GET_REFUSAL_CODES and self._requests:
            self._failed_gets += 1
            self._forget_request_named_in(event.text)
        elif event.code in NOT_QUEUED_CODES:
            self._failed_gets += 1

    def _forget_request_named_in(self, text: str) -> None:
        """The refused request is the one the server's reply ends with (else the oldest)."""
        text = _same_name(text)
        named = [index for index, name in enumerate(self._requests) if text.endswith(visible(name))]
        del self._requests[named[0] if named else 0]

    def _on_keep_alive(self, event: protocol.KeepAlive) -> None:
        self._keep_alive_seconds = event.seconds

    def _on_bye(self, event: protocol.Bye) -> None:
        self._show(event.sender, event.text)
        self._said_bye = True

    def _on_file_start(self, event: protocol.FileStart) -> None:
        if self.download is not None or self._skip_bytes:
            raise protocol.BadFrame("a new file before the last one ended")
        if not self._take_request(event.name):
            self.console.show(self.say("download_not_asked", name=visible(event.name)))
            self._skip_bytes = event.size
            return
        try:
            self.download = Download(self.config.download_dir, event.name, event.size, event.sha256)
        except DownloadError as error:
            key = "download_unsafe_name" if isinstance(error, UnsafeName) else "download_failed"
            self.console.show(self.say(key, name=visible(event.name), reason=error.reason))
            self._failed_gets += 1
            self._skip_bytes = event.size
            return
        self._download_started_at = time.monotonic()
        self.console.show(self.say("download_started", name=self.download.name, size=human_size(event.size)))
        if self.config.keep_partial:  # asked to resume, the server sent it all: the kept part is stale
            with contextlib.suppress(OSError):
                os.unlink(partial_path(self.config.download_dir, self.download.name))
        if self.download.complete:
            self._finish_download()

    # --- resuming (--keep-partial) ------------------------------------------------

    def _get_or_resume(self, name: str) -> str:
        """`get NAME`, or `resume OFFSET SHA256 NAME` when part of NAME was kept."""
        held = held_prefix(self.config.download_dir, name) if self._may_keep(name) else None
        if isinstance(held, SetAside):
            self.console.show(self.say("partial_set_aside", name=visible(name), path=visible(held.path)))
        if not isinstance(held, HeldPart):
            return f"get {name}"
        return protocol.resume_command(held.size, held.sha256, name)

    def _may_keep(self, name: str) -> bool:
        return self.config.keep_partial and is_servable(name)

    def _report_interrupted(self, download: Download) -> None:
        """Said once; with --keep-partial what arrived is kept for `get` to continue."""
        kept = self._may_keep(download.name) and download.received > 0 and download.keep_partial()
        if not kept:
            download.discard()
        key = "download_interrupted_kept" if kept else "download_interrupted"
        self.console.show(self.say(key, name=download.name, percent=download.percent))

    def _on_file_resume(self, event: protocol.FileResume) -> None:
        if self.download is not None or self._skip_bytes:
            raise protocol.BadFrame("a new file before the last one ended")
        remaining = event.size - event.offset
        if not self._take_request(event.name):
            self.console.show(self.say("download_not_asked", name=visible(event.name)))
            self._skip_bytes = remaining
            return
        directory = self.config.download_dir
        try:
            self.download = Download.resuming(directory, event.name, event.offset, event.size, event.sha256)
        except DownloadError as error:
            self.console.show(self.say("download_failed", name=visible(event.name), reason=error.reason))
            self._failed_gets += 1
            self._skip_bytes = remaining
            return
        self._download_started_at = time.monotonic()
        size = human_size(event.size)
        self.console.show(
            self.say("download_resumed", name=self.download.name, offset=event.offset, size=size)
        )

    def _take_request(self, name: str) -> bool:
        """Files come in the order asked for: this one, and any asked before it (which the
        server refused), leave the list of requests. A file never asked for is refused."""
        name = _same_name(name)
        if name not in self._requests:
            return False
        del self._requests[: self._requests.index(name) + 1]
        return True

    def _on_file_data(self, event: protocol.FileData) -> None:
        if self._skip_bytes:
            self._skip_bytes -= min(len(event.data), self._skip_bytes)
            return
        if self.download is None:
            raise protocol.BadFrame("file data with no file")
        try:
            self.download.write(event.data)
        except Corrupt as error:
            raise protocol.BadFrame(error.reason) from None
        except DownloadError as error:
            self.console.show(self.say("download_failed", name=self.download.name, reason=error.reason))
            self._failed_gets += 1
            self._skip_bytes = self.download.size - self.download.received - len(event.data)
            self.download = None
            self.console.set_status("")
            return
        if self.download.complete:
            self._finish_download()
        else:
            self._show_progress()

    def _show_progress(self) -> None:
        """The progress line, at most a few times a second."""
        now = time.monotonic()
        if now - self._progress_at < PROGRESS_INTERVAL_SECONDS:
            return
        self._progress_at = now
        download, elapsed = self.download, now - self._download_started_at
        rate = (download.received - download.started_from) / elapsed if elapsed > 0 else 0.0
        eta = f"{(download.size - download.received) / rate:.0f} s" if rate else "?"
        self.console.set_status(
            self.say(
                "download_progress",
                name=download.name,
                percent=download.percent,
                received=human_size(download.received),
                size=human_size(download.size),
                rate=human_size(int(rate)),
                eta=eta,
            )
        )

    def _finish_download(self) -> None:
        download, self.download = self.download, None
        self.console.set_status("")
        try:
            path = download.finish()
        except Corrupt:
            self.console.show(self.say("download_corrupt", name=download.name))
            self._failed_gets += 1
            return
        except DownloadError as error:
            self.console.show(self.say("download_failed", name=download.name, reason=error.reason))
            self._failed_gets += 1
            return
        elapsed = max(time.monotonic() - self._download_started_at, 1e-6)
        self.console.show(
            self.say(
                "download_saved",
                path=visible(path),
                size=human_size(download.size),
                seconds=f"{elapsed:.1f}",
                rate=human_size(int((download.size - download.started_from) / elapsed)),
            )
        )

    def _on_file_abort(self, event: protocol.FileAbort) -> None:
        self._show(event.sender, event.text)
        self._skip_bytes = 0
        if self.download is not None:
            self._failed_gets += 1
            self.download.discard()
            self.download = None
            self.console.set_status("")

    # --- uploads (put) --------------------------------------------------------------

    def _put(self, argument: str) -> None:
        """`put FILE`: open and hash the local file, announce it, and wait for `!GO`."""
        path = os.path.expanduser(_file_name_argument(argument))
        if not path:
            self.console.show(self.say("usage_put_client"))
            return
        if self.upload is not None:
            self._puts.append(path)
            self.console.show(self.say("upload_queued", name=visible(path), ahead=len(self._puts)))
            return
        self._start_upload(path)

    def _start_upload(self, path: str) -> None:
        try:
            upload = Outgoing(path, self.say("put_not_a_file"))
        except UploadError as error:
            self.console.show(self.say("put_cannot_read", path=visible(path), reason=error.reason))
            self._failed_puts += 1
            return
        request = protocol.PutRequest(upload.size, upload.sha256, upload.name)
        try:
            self._pending_output += protocol.encode_put(self.name, request)
        except protocol.LocalProtocolError:
            upload.close()
            self.console.show(self.say("line_too_long", limit=protocol.MAX_LINE_BYTES))
            return
        self.upload = upload
        self._flush()

    def _on_upload_ready(self, event: protocol.UploadReady) -> None:
        if self.upload is None or self.upload.ready:
            raise protocol.BadFrame("!GO with no put waiting")
        self.upload.ready = True
        self.upload.started = time.monotonic()
        self.console.show(
            self.say("upload_started", name=visible(event.path), size=human_size(self.upload.size))
        )
        self._pump_upload()

    def _pump_upload(self) -> None:
        """Frames of the upload while less than OUTPUT_HIGH_WATER waits to be sent; the
        socket is watched for writing while more are to come."""
        upload = self.upload
        if upload is None or not upload.sending:
            return
        while upload.sending and len(self._pending_output) < OUTPUT_HIGH_WATER:
            try:
                chunk = upload.next_chunk()
            except UploadError:
                self.console.show(self.say("upload_file_changed", name=visible(upload.name)))
                self._pending_output += protocol.encode(protocol.FileAbort(self.name, "changed"))
                self._settle_upload(failed=True)
                break
            self._pending_output += protocol.encode(protocol.FileData(self.name, chunk))
        self._flush()
        if self.upload is not None and self.upload.sending:
            self._selector.modify(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self._on_socket)
            self._show_upload_progress()

    def _show_upload_progress(self) -> None:
        now = time.monotonic()
        if now - self._progress_at < PROGRESS_INTERVAL_SECONDS:
            return
        self._progress_at = now
        upload, elapsed = self.upload, now - self.upload.started
        rate = upload.sent / elapsed if elapsed > 0 else 0.0
        eta = f"{(upload.size - upload.sent) / rate:.0f} s" if rate else "?"
        self.console.set_status(
            self.say(
                "download_progress",
                name=visible(upload.name),
                percent=upload.percent,
                received=human_size(upload.sent),
                size=human_size(upload.size),
                rate=human_size(int(rate)),
                eta=eta,
            )
        )

    def _on_upload_saved(self, event: protocol.UploadSaved) -> None:
        if self.upload is None or not self.upload.ready:
            raise protocol.BadFrame("!SAVED with no upload")
        elapsed = max(time.monotonic() - self.upload.started, 1e-6)
        self.console.show(
            self.say(
                "upload_saved",
                path=visible(event.path),
                size=human_size(event.size),
                seconds=f"{elapsed:.1f}",
                rate=human_size(int(event.size / elapsed)),
            )
        )
        self._settle_upload(failed=False)

    def _upload_refused(self) -> None:
        """The server refused or dropped our upload: stop sending, and say so if frames were going."""
        if self.upload.sending:
            self._pending_output += protocol.encode(protocol.FileAbort(self.name, "refused"))
            self._flush()
        self._settle_upload(failed=True)

    def _settle_upload(self, *, failed: bool) -> None:
        """The upload is over; a quit asked for meanwhile goes now."""
        self.upload.close()
        self.upload = None
        self.console.set_status("")
        self._failed_puts += failed
        while self._puts and self.upload is None:
            self._start_upload(self._puts.pop(0))
        if self.upload is None and self._quit_after_upload:
            self._quit_after_upload = False
            self._send("quit")

    def _end_upload_on_close(self) -> None:
        if self.upload is None:
            return
        if self.upload.ready:
            self.console.set_status("")
            self.console.show(self.say("upload_interrupted", name=visible(self.upload.name)))
        self._failed_puts += 1 + len(self._puts)
        self._puts.clear()
        self.upload.close()
        self.upload = None


def _local_names(typed: str) -> list[str]:
    """Files and folders (ending in "/") of the local directory `typed` is in, for Tab after `put`."""
    directory, _, _start = typed.rpartition("/")
    base = os.path.expanduser(directory) if directory else "."
    try:
        with os.scandir(base) as scan:
            entries = [(item.name, item.is_dir()) for item in scan if not item.name.startswith(".")]
    except OSError:
        return []
    prefix = f"{directory}/" if directory else ""
    return sorted(f"{prefix}{name}/" if is_dir else f"{prefix}{name}" for name, is_dir in entries)


def _file_name_argument(argument: str) -> str:
    """The file name in what follows `get`: quoted and escaped as in a shell
    (`"name with spaces"`), or, when that does not give one word, the text as typed
    (a name with spaces, or an apostrophe, needs no quotes)."""
    try:
        words = shlex.split(argument)
    except ValueError:
        words = []
    return words[0] if len(words) == 1 else argument.strip()


def _words(argument: str) -> list[str]:
    """The words of `argument` split as a shell would (quotes, backslashes); one word, the
    text as typed, when it cannot be split (an unclosed quote)."""
    try:
        return shlex.split(argument)
    except ValueError:
        return [argument]


def _partial_name(text: str) -> str:
    """The start of a name being typed, perhaps inside a quote not yet closed."""
    for closing in ("", "'", '"'):
        try:
            words = shlex.split(text + closing)
        except ValueError:
            continue
        return words[0] if len(words) == 1 else text.strip()
    return text.strip()


def _quoted(name: str) -> str:
    return shlex.quote(name) if any(ch in name for ch in " \"'\\") else name


def _listed_name(text: str) -> str | None:
    """The file name in a line of the server's `list` reply, if it is one."""
    match = LISTING_LINE.match(text)
    return match.group(1) if match else None


# --- the command --------------------------------------------------------------------


def _complain(text: str) -> None:
    """One line on stderr, if there is still a stderr to write to."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"ftplab-client: {text}", file=sys.stderr, flush=True)


def _connect(config: ClientConfig, say: Messages) -> socket.socket | None:
    try:
        sock = socket.create_connection((config.host, config.port), timeout=config.timeout)
        watch_for_dead_peer(sock, user_timeout_ms=CLIENT_USER_TIMEOUT_MS)
        return sock
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        _complain(say("cannot_connect", host=config.host, port=config.port, reason=reason))
        return None


def _install_signal_handlers() -> None:
    """SIGINT, SIGTERM, SIGHUP and SIGQUIT end the client through its cleanup (the terminal is
    restored); a signal that was ignored when we started (nohup) stays ignored."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _leave_on_signal)


def _ask_name(console: PlainConsole, say: Messages) -> str:
    """The name typed at the prompt; on a terminal, asked again until it is valid."""
    while True:
        name = console.ask(say("ask_name"))
        if not console.interactive or console.at_eof or protocol.name_problem(name) is None:
            return name
        console.show(say("bad_name", name=visible(name)) if name else say("name_rule"))


def _prepare_download_dir(config: ClientConfig, say: Messages) -> bool:
    directory = config.download_dir
    if os.path.exists(directory) and not os.path.isdir(directory):
        _complain(f"--download-dir {directory}: {say('download_dir_not_a_directory')}")
        return False
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        _complain(f"--download-dir {directory}: {error.strerror}")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    config = parse_client_args(argv)
    say = Messages(config.lang)
    if sys.stdout is None:
        _complain(say("stdout_closed"))
        return EXIT_USAGE
    prompt_name = [config.name]
    console = open_console(
        sys.stdin, sys.stdout, prompt=lambda: f"{prompt_name[0]}> ", signal_keys_as_keys=True
    )
    _install_signal_handlers()
    reason = None
    try:
        name = config.name or _ask_name(console, say)
        if protocol.name_problem(name) is not None:
            reason = say("bad_name", name=visible(name)) if name else say("name_required")
            return EXIT_USAGE
        prompt_name[0] = name
        if not _prepare_download_dir(config, say):
            return EXIT_USAGE
        sock = _connect(config, say)
        if sock is None:
            return EXIT_FAILURE
        if console.interactive:
            console.start()
        client = Client(sock, config, name, console)
        status = client.run()
        reason = client.exit_reason
        return status
    except KeyboardInterrupt:  # Ctrl-C at the name prompt; the console has ended its line
        return 128 + signal.SIGINT
    except LeaveNow as leave:
        console.show("")  # off the prompt's line
        return 128 + leave.signum
    finally:
        console.close()
        if reason is not None:
            _complain(reason)


if __name__ == "__main__":
    sys.exit(main())
