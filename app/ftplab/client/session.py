"""The client's whole conversation with a server, with no I/O: `ClientSession`.

What comes in: the server's bytes (`received`), the connection's end
(`connection_closed`), what the socket took (`output_sent`), the user's typed
lines (`typed`), the end of input, Ctrl-C, and the clock (`tick`). What goes
out: bytes for the server in `outbox`, lines and the progress line for the
user in `screen` (actions.py), and, once `finished`, the exit status and the
reason to print (`outcome`). The socket, the terminal and the signals are the
app's (app.py); unit tests feed events and read actions, like h11's.

Exit status (README): 0 after quit or end of input with every transfer done;
1 when the connection fails, is lost or is refused; 3 when the server shut
down; 4 when a `get` or `put` failed; 128+N after signal N (2, a usage error,
is the app's)."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from .. import protocol
from ..messages import Messages, listing_line
from ..text import visible
from .actions import Outbox, Screen
from .commands import UserCommands, completions
from .downloads import Downloads, DownloadSettings
from .uploads import OUTPUT_HIGH_WATER, Uploads

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVER_CLOSED, EXIT_TRANSFER_FAILED = 0, 1, 2, 3, 4
SERVER_CLOSING_CODE = protocol.ErrorCode.CLOSING.value
OLD_GET_REFUSAL_CODES = frozenset(
    code.value
    for code in (
        protocol.ErrorCode.NO_FILE,
        protocol.ErrorCode.NOT_FILE,
        protocol.ErrorCode.DENIED,
        protocol.ErrorCode.AMBIGUOUS,
        protocol.ErrorCode.RESOURCES,
    )
)
"""From a server older than protocol 2 (no `!REFUSED`), the codes that refuse a pending `get`."""
OLD_NOT_QUEUED_CODES = frozenset({protocol.ErrorCode.NO_MATCH.value, protocol.ErrorCode.QUEUE_FULL.value})
"""From such a server, files asked for that will not come (a pattern matching nothing, the queue full)."""


@dataclass(frozen=True)
class ClientSettings:
    download_dir: str
    lang: str | None = None
    timeout: float = 10.0
    """Seconds to wait for `!HELLO`."""
    keep_partial: bool = False
    interactive: bool = False
    """A person at a terminal (not a pipe): a line the server cannot take now is refused, not queued."""


class ClientSession:
    """One session with a server: what was asked, what arrives, and how it ends."""

    def __init__(self, name: str, settings: ClientSettings, clock=time.monotonic):
        self.name = name
        self.settings = settings
        self.say = Messages(settings.lang)
        self.screen = Screen()
        self.outbox = Outbox(name, clock)
        self.downloads = Downloads(
            DownloadSettings(settings.download_dir, settings.keep_partial), self.screen, self.say, clock
        )
        self.uploads = Uploads(self.outbox, self.screen, self.say, clock)
        self.listing: list[str] = []
        """The names of the last `list` (a folder's ending in "/"), for Tab."""
        self.quitting = False
        self.finished = False
        self._clock = clock
        self._receiver = protocol.Receiver(from_server=True)
        self._commands = UserCommands(self)
        self._hello_deadline = clock() + settings.timeout
        self._joined = False
        self._fields = False
        """The server speaks protocol 2 (`!PROTO`): refusals name their file."""
        self._keep_alive_seconds: float | None = None
        self._said_bye = False
        self._fatal: protocol.Error | None = None
        self._failure: str | None = None
        self._left_on: int | None = None
        self._interrupt_armed = False
        self._handlers = {
            protocol.Message: lambda event: self._show(event.sender, event.text),
            protocol.Hello: self._on_hello,
            protocol.Version: self._on_version,
            protocol.Error: self._on_error,
            protocol.Refused: self.downloads.on_refused,
            protocol.ListEntry: self._on_entry,
            protocol.Queued: self.downloads.on_queued,
            protocol.FileStart: self.downloads.on_file_start,
            protocol.FileResume: self.downloads.on_file_resume,
            protocol.FileData: self.downloads.on_file_data,
            protocol.FileAbort: self._on_file_abort,
            protocol.UploadReady: self.uploads.on_ready,
            protocol.UploadSaved: self.uploads.on_saved,
            protocol.KeepAlive: self._on_keep_alive,
            protocol.Bye: self._on_bye,
            protocol.Earlier: self._on_earlier,
        }
        self.outbox.line(protocol.join_text({"lang": self.say.language, "proto": str(protocol.VERSION)}))

    # --- the user -------------------------------------------------------------------

    def typed(self, text: str) -> None:
        """One line the user typed (or read from a pipe)."""
        text = text.strip()
        if not text:
            return
        self._interrupt_armed = False
        if self.quitting:
            self.say_when_leaving()
            return
        self._commands.run(text)

    def input_ended(self) -> None:
        """Ctrl-D, or the end of piped input: leave once what was asked for has come."""
        if not self.quitting:
            self.quit()

    def interrupt_key(self) -> None:
        """Ctrl-C on an empty line: say how to leave; a second Ctrl-C leaves (at once
        during a transfer, which is then reported as interrupted)."""
        busy = self.downloads.busy or self.uploads.current is not None
        if self._interrupt_armed:
            self.leave(signal.SIGINT) if busy or self.quitting else self.quit()
            return
        self._interrupt_armed = True
        self.screen.show(self.say("interrupt_during_download" if busy else "interrupt_idle"))

    def leave(self, signum: int) -> None:
        """A signal (or its key) ends the session now."""
        self._left_on = signum
        self.finished = True

    def complete(self, before: str) -> list[str]:
        return completions(before, self.listing)

    def quit(self) -> None:
        """The server answers quit once the downloads asked for before it are sent; an
        upload still going is finished first (quit would end it half-way)."""
        self.quitting = True
        if self.uploads.current is not None:
            self.uploads.quit_after = True
        else:
            self.send("quit")
        self.say_when_leaving()

    def say_when_leaving(self) -> None:
        if self.settings.interactive and self.downloads.busy:
            self.screen.show(self.say("leaving_after_downloads"))

    def send_typed(self, text: str) -> bool:
        """A line the user typed; refused at a terminal while the server is not reading."""
        if len(self.outbox) >= OUTPUT_HIGH_WATER and self.settings.interactive:
            self.screen.show(self.say("server_not_reading"))
            return False
        return self.send(text)

    def send(self, text: str) -> bool:
        if self.outbox.line(text):
            return True
        self.screen.show(self.say("line_too_long", limit=protocol.MAX_LINE_BYTES))
        return False

    def reads_input(self) -> bool:
        """Take more input now? At a terminal always; from a pipe not after quit, nor while
        output waits for a server that does not read (the back-pressure)."""
        if self.settings.interactive:
            return True
        return not self.quitting and len(self.outbox) < OUTPUT_HIGH_WATER

    # --- the connection -------------------------------------------------------------

    def received(self, data) -> None:
        """Bytes from the server (a memoryview: file data reaches the download uncopied)."""
        self._receiver.feed(data)
        try:
            while (event := self._receiver.next_event()) is not None:
                self._handlers[type(event)](event)
        except protocol.ProtocolError as error:
            self._failure = self.say("broken_stream", detail=visible(error.detail or error.code))
            self.finished = True
        self._quit_if_uploads_over()

    def output_sent(self, count: int) -> None:
        """The socket took `count` bytes of the outbox: more upload frames may follow."""
        self.outbox.sent(count)
        self.uploads.pump()
        self._quit_if_uploads_over()

    def connection_closed(self) -> None:
        self.outbox.drop()
        self.finished = True

    def tick(self) -> None:
        """Timers: the wait for `!HELLO`, and a keep-alive (an empty line) when one is due."""
        if not self._joined and self._clock() >= self._hello_deadline:
            self._failure = self.say("no_hello", seconds=f"{self.settings.timeout:g}")
            self.finished = True
        if self.wait_seconds() == 0.0 and self._joined and not self.quitting and not self.finished:
            self.send("")

    def wait_seconds(self) -> float | None:
        """Until the next timer (None: none)."""
        now = self._clock()
        if not self._joined:
            return max(self._hello_deadline - now, 0.0)
        if self._keep_alive_seconds is None:
            return None
        return max(self.outbox.sent_at + self._keep_alive_seconds - now, 0.0)

    def close(self) -> None:
        """The session ends: a transfer under way is reported as interrupted."""
        self.downloads.interrupted()
        self.uploads.interrupted()

    def outcome(self) -> tuple[int, str | None]:
        """The exit status, and the reason to print once the terminal is restored."""
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
        if self.downloads.failed:
            return EXIT_TRANSFER_FAILED, self.say("gets_failed", count=self.downloads.failed)
        if self.uploads.failed:
            return EXIT_TRANSFER_FAILED, self.say("puts_failed", count=self.uploads.failed)
        return EXIT_OK, None

    # --- what the server says -------------------------------------------------------

    def _show(self, sender: str, text: str) -> None:
        self.screen.show(f"{visible(sender)}> {visible(text)}")

    def _on_hello(self, event: protocol.Hello) -> None:
        self._joined = True
        self._show(event.sender, event.text)

    def _on_version(self, event: protocol.Version) -> None:
        self._fields = event.number >= 2

    def _on_earlier(self, event: protocol.Earlier) -> None:
        """A line said before we joined: labelled, so it is not taken for one said now."""
        self.screen.show(self.say("earlier_line", name=visible(event.name), text=visible(event.text)))

    def _on_entry(self, event: protocol.ListEntry) -> None:
        self._show(event.sender, listing_line(event.is_dir, event.size, event.mtime, event.name))
        self.listing.append(f"{event.name}/" if event.is_dir else event.name)

    def _on_error(self, event: protocol.Error) -> None:
        if protocol.is_fatal(event.code):
            self._fatal = event  # said once, on its own line, when the client ends
            return
        self._show(event.sender, event.text)
        if event.code in protocol.UPLOAD_ERROR_CODES and self.uploads.current is not None:
            self.uploads.on_error()
        elif not self._fields and event.code in OLD_GET_REFUSAL_CODES:
            self.downloads.on_refusal_without_name()  # an older server: no `!REFUSED` says which
        elif not self._fields and event.code in OLD_NOT_QUEUED_CODES:
            self.downloads.failed += 1

    def _on_file_abort(self, event: protocol.FileAbort) -> None:
        self._show(event.sender, event.text)
        self.downloads.on_file_abort()

    def _on_keep_alive(self, event: protocol.KeepAlive) -> None:
        self._keep_alive_seconds = event.seconds

    def _on_bye(self, event: protocol.Bye) -> None:
        self._show(event.sender, event.text)
        self._said_bye = True

    def _quit_if_uploads_over(self) -> None:
        """A quit typed during an upload goes once the uploads are over."""
        if self.uploads.quit_after and self.uploads.current is None:
            self.uploads.quit_after = False
            self.send("quit")
