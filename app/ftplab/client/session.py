"""The client's whole conversation with a server, with no I/O: `ClientSession`.

What comes in: the server's bytes (`received`), the connection's end
(`connection_closed`) and a new one (`connection_made`), what the socket took
(`output_sent`), the user's typed lines (`typed`), the end of input, Ctrl-C,
and the clock (`tick`). What goes out: bytes for the server in `outbox`, lines
and the progress line for the user in `screen` (actions.py), whether a new
connection is wanted (`wants_connection`) and, once `finished`, the exit
status and the reason to print (`outcome`). The socket, the terminal and the
signals are the app's (app.py); unit tests feed events and read actions, like
h11's.

Coming back (`settings.reconnect`: at a terminal by default, `--reconnect`
from a pipe): once joined, a lost connection, a server that closes or
restarts, or a broken stream do not end the session. It says so, waits (a
bounded, jittered backoff, the attempts on the progress line), joins again
under its name (a name still held by the dead connection is retried, not
given up), goes back to its folder, and asks again for the downloads not
done, the one under way resumed from what arrived. A kick is not undone by
itself: at a terminal the session stays, `reconnect` comes back; from a pipe
it ends as before.

Exit status (README): 0 after quit or end of input with every transfer done;
1 when the connection fails, is lost or is refused (or after a kick); 3 when
the server shut down; 4 when a `get` or `put` failed (at a terminal only a
transfer that began and did not finish counts: a request refused at once was
answered then); 128+N after signal N (2, a usage error, is the app's)."""

from __future__ import annotations

import random
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
NAME_TAKEN_CODE = protocol.ErrorCode.NAME_TAKEN.value
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
CODES_NOT_RETRIED = frozenset(
    code.value for code in (protocol.ErrorCode.BAD_NAME, protocol.ErrorCode.NO_NAME, protocol.ErrorCode.IDLE)
)
"""Refusals a new connection would get again, or that coming back would defeat (the server's idle
timeout): the session ends."""
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 10.0
"""Each attempt's wait doubles from the first up to this, drawn in its upper half (jitter)."""
MAX_FOLDER_STEPS = 16
"""The `cd` lines remembered to go back to the folder after coming back (from the last absolute one)."""


@dataclass(frozen=True)
class ClientSettings:
    download_dir: str
    lang: str | None = None
    timeout: float = 10.0
    """Seconds to wait for `!HELLO`."""
    keep_partial: bool = False
    interactive: bool = False
    """A person at a terminal (not a pipe): a line the server cannot take now is refused, not queued."""
    reconnect: bool = False
    """Come back by itself after a lost connection (see the module's docstring)."""


class ClientSession:
    """One session with a server: what was asked, what arrives, and how it ends."""

    def __init__(self, name: str, settings: ClientSettings, clock=time.monotonic, jitter=random.random):
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
        self._jitter = jitter
        self.connected = True
        """A connection is up (the app closes its socket when this turns False)."""
        self.away = False
        """Between connections: lost, waiting to come back (or kicked)."""
        self._kicked = False
        self._ever_joined = False
        self._attempt = 0
        self._retry_at: float | None = None
        self._folder_lines: list[str] = []
        self._ask_again: list = []
        """The downloads.Request's not done when the connection was lost, to ask again."""
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
        self._send_join()

    def _send_join(self) -> None:
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
        arriving = self.downloads.current_request if self.downloads.current is not None else None
        if arriving is not None and self._fields and self._ask_cancel(arriving):
            self.screen.show(self.say("interrupt_cancelling", name=visible(arriving.typed)))
            return
        self.screen.show(self.say("interrupt_during_download" if busy else "interrupt_idle"))

    def leave(self, signum: int) -> None:
        """A signal (or its key) ends the session now."""
        self._left_on = signum
        self.finished = True

    def cancel(self, typed: str) -> None:
        """`cancel [NAME]`: the server stops that download (downloads.Downloads.cancel_target)."""
        if not self._fields:
            self.screen.show(self.say("cancel_unsupported"))
            return
        request = self.downloads.cancel_target(typed)
        if request is None:
            key = "no_such_download" if typed else "nothing_to_cancel"
            self.screen.show(self.say(key, name=visible(typed)))
        elif self._ask_cancel(request):
            self.screen.show(self.say("cancelling", name=visible(request.typed)))

    def _ask_cancel(self, request) -> bool:
        if not self.send_typed(f"cancel {request.typed}"):
            return False
        self.downloads.cancelling(request)
        return True

    def went_to_folder(self, line: str) -> None:
        """A `cd` line sent: replayed after coming back (an absolute one, or `cd` alone, starts
        afresh). Each download remembers the lines of the folder it was asked in."""
        argument = line.partition(" ")[2]
        if not argument or argument.startswith(("/", "'/", '"/')):  # `cd` alone is the top
            self._folder_lines = []
        self._folder_lines = [*self._folder_lines[-MAX_FOLDER_STEPS + 1 :], line]
        self.downloads.folder = tuple(self._folder_lines)

    def reconnect_now(self) -> None:
        """`reconnect`: after a kick, or without waiting for the next attempt."""
        if not self.away:
            self.screen.show(self.say("already_connected"))
            return
        self._kicked = False
        self._retry_at = self._clock()

    def complete(self, before: str) -> list[str]:
        return completions(before, self.listing)

    def quit(self) -> None:
        """The server answers quit once the downloads asked for before it are sent; an
        upload still going is finished first (quit would end it half-way)."""
        self.quitting = True
        if self.away:
            if self.settings.interactive or self._kicked or not self._ask_again:
                self._leave_while_away()
            return  # from a pipe, what is still to come is asked for again first
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
        if self.away:
            self.screen.show(self.say("not_connected"))
            return False
        if self.outbox.line(text):
            return True
        self.screen.show(self.say("line_too_long", limit=protocol.MAX_LINE_BYTES))
        return False

    def reads_input(self) -> bool:
        """Take more input now? At a terminal always; from a pipe not after quit, nor while
        output waits for a server that does not read (the back-pressure), nor with no connection."""
        if self.settings.interactive:
            return True
        return not self.quitting and not self.away and len(self.outbox) < OUTPUT_HIGH_WATER

    # --- the connection -------------------------------------------------------------

    def received(self, data) -> None:
        """Bytes from the server (a memoryview: file data reaches the download uncopied)."""
        self._receiver.feed(data)
        try:
            while (event := self._receiver.next_event()) is not None:
                self._handlers[type(event)](event)
        except protocol.ProtocolError as error:
            self._failure = self.say("broken_stream", detail=visible(error.detail or error.code))
            self._connection_ended()
        self._quit_if_uploads_over()

    def output_sent(self, count: int) -> None:
        """The socket took `count` bytes of the outbox: more upload frames may follow."""
        self.outbox.sent(count)
        self.uploads.pump()
        self._quit_if_uploads_over()

    def connection_closed(self) -> None:
        self._connection_ended()

    def connection_made(self) -> None:
        """A new connection (coming back): join again under the same name."""
        self.connected, self._retry_at = True, None
        self._receiver = protocol.Receiver(from_server=True)
        self.outbox.drop()
        self._joined = self._fields = self._said_bye = False
        self._fatal = self._failure = None
        self._keep_alive_seconds = None
        self._hello_deadline = self._clock() + self.settings.timeout
        self._send_join()

    def start_away(self, reason: str) -> None:
        """The first connection could not be made, at a terminal: say why and keep trying (the
        terminal stays in the client until the user leaves)."""
        self.outbox.drop()
        self.connected, self.away = False, True
        self.screen.show(self.say("cannot_connect_retrying", reason=reason))
        self._schedule_retry()

    def connect_failed(self) -> None:
        """A new connection could not be made: the next attempt, later."""
        self._schedule_retry()

    def wants_connection(self) -> bool:
        """Time for a new connection (the app makes it, then says `connection_made`)."""
        return self.away and self._retry_at is not None and self._clock() >= self._retry_at

    def tick(self) -> None:
        """Timers: the wait for `!HELLO`, and a keep-alive (an empty line) when one is due."""
        if self.connected and not self._joined and self._clock() >= self._hello_deadline:
            self._failure = self.say("no_hello", seconds=f"{self.settings.timeout:g}")
            self._connection_ended()
        if self.wait_seconds() == 0.0 and self._joined and not self.quitting and not self.finished:
            self.send("")

    def wait_seconds(self) -> float | None:
        """Until the next timer (None: none)."""
        now = self._clock()
        if self.away:
            return None if self._retry_at is None else max(self._retry_at - now, 0.0)
        if not self._joined:
            return max(self._hello_deadline - now, 0.0)
        if self._keep_alive_seconds is None:
            return None
        return max(self.outbox.sent_at + self._keep_alive_seconds - now, 0.0)

    def close(self) -> None:
        """The session ends: a transfer under way is reported as interrupted; the parts kept
        only to resume after coming back are removed."""
        self.downloads.interrupted()
        self.uploads.interrupted()
        self.downloads.forget_kept_parts()

    @property
    def name_refused(self) -> bool:
        """The server refused the name at the first join (in use): the app may ask for another."""
        return not self._ever_joined and self._fatal is not None and self._fatal.code == NAME_TAKEN_CODE

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
        if self._kicked or (self.away and not self._ever_joined):
            return EXIT_FAILURE, None  # said when it happened (a kick, no server); the user chose to leave
        if not self._said_bye and not self.away:
            return EXIT_FAILURE, self.say("connection_lost")
        counts_refusals = not self.settings.interactive
        failed_gets = self.downloads.failed + (self.downloads.refused if counts_refusals else 0)
        failed_puts = self.uploads.failed + (self.uploads.refused if counts_refusals else 0)
        if failed_gets:
            return EXIT_TRANSFER_FAILED, self.say("gets_failed", count=failed_gets)
        if failed_puts:
            return EXIT_TRANSFER_FAILED, self.say("puts_failed", count=failed_puts)
        return EXIT_OK, None

    # --- what the server says -------------------------------------------------------

    def _show(self, sender: str, text: str) -> None:
        self.screen.show(f"{visible(sender)}> {visible(text)}")

    def _on_hello(self, event: protocol.Hello) -> None:
        self._joined = True
        self._show(event.sender, event.text)
        rejoined, self._ever_joined = self._ever_joined, True
        self.away, self._attempt = False, 0
        if rejoined:
            self.screen.status("")
            self.screen.show(self.say("reconnected", name=visible(self.name)))
            self._come_back()

    def _come_back(self) -> None:
        """Joined again: its folder, the downloads not done (resumed where a part was kept),
        and a quit still to say."""
        again, self._ask_again = self._ask_again, []
        here: tuple[str, ...] = ()
        for request in again:
            here = self.downloads.folder = self._back_to(request.folder, here)
            if self.send(self.downloads.request_line(request.typed)):
                self.downloads.asked(request.typed)
        self.downloads.folder = self._back_to(tuple(self._folder_lines), here)
        if self.quitting:
            self.send("quit")

    def _back_to(self, folder: tuple[str, ...], here: tuple[str, ...]) -> tuple[str, ...]:
        """The `cd` lines to the folder a request was asked in (from the top, if we were elsewhere)."""
        if folder != here:
            if here:
                self.send("cd /")
            for line in folder:
                self.send(line)
        return folder

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
            self.downloads.refused += 1

    def _on_file_abort(self, event: protocol.FileAbort) -> None:
        self._show(event.sender, event.text)
        self.downloads.on_file_abort()

    def _on_keep_alive(self, event: protocol.KeepAlive) -> None:
        self._keep_alive_seconds = event.seconds

    def _on_bye(self, event: protocol.Bye) -> None:
        self._show(event.sender, event.text)
        self._said_bye = True

    # --- coming back ----------------------------------------------------------------

    def _connection_ended(self) -> None:
        """The connection closed or broke: come back if the session may, else end."""
        self.outbox.drop()
        self.connected = False
        code = self._fatal.code if self._fatal is not None else None
        kicked = code == protocol.ErrorCode.KICKED.value and self.settings.interactive
        if not self._may_come_back(code) and not kicked:
            self.finished = True
            return
        rejoining = self.away  # a failed attempt: only the progress line says so
        self.away, self._joined = True, False
        if not rejoining:
            self._ask_again = self.downloads.connection_lost() + self._ask_again
            self.uploads.interrupted()
            self.screen.show(self._away_text(code))
        self._fatal = self._failure = None
        if kicked:
            self._kicked, self._retry_at = True, None
            self.screen.status("")
        else:
            self._schedule_retry()

    def _may_come_back(self, code: str | None) -> bool:
        if not (self.settings.reconnect and self._ever_joined) or code in CODES_NOT_RETRIED:
            return False
        if code == protocol.ErrorCode.KICKED.value or self._said_bye or self._left_on is not None:
            return False
        return not self.quitting or self.downloads.busy or bool(self._ask_again)

    def _away_text(self, code: str | None) -> str:
        if code == protocol.ErrorCode.KICKED.value:
            return self.say("kicked_staying", text=visible(self._fatal.text))
        if self._fatal is not None:
            return self.say("reconnecting_closed", text=visible(self._fatal.text))
        return self.say("reconnecting_lost")

    def _schedule_retry(self) -> None:
        """The next attempt after a wait that doubles each time up to MAX_RETRY_SECONDS, drawn
        in its upper half so that a class does not come back all in the same instant."""
        self._attempt += 1
        ceiling = min(FIRST_RETRY_SECONDS * 2 ** min(self._attempt - 1, 16), MAX_RETRY_SECONDS)
        wait = ceiling * (0.5 + 0.5 * self._jitter())
        self._retry_at = self._clock() + wait
        self.screen.status(self.say("reconnect_waiting", attempt=self._attempt, seconds=f"{wait:.1f}"))

    def _leave_while_away(self) -> None:
        """Quit with no connection: what was still to come is counted as failed."""
        self.downloads.failed += len(self._ask_again)
        self._ask_again = []
        self.screen.status("")
        self.finished = True

    def _quit_if_uploads_over(self) -> None:
        """A quit typed during an upload goes once the uploads are over."""
        if self.uploads.quit_after and self.uploads.current is None:
            self.uploads.quit_after = False
            self.send("quit")
