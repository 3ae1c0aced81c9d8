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
answered then); 128+N after signal N (2, a usage error, is the app's).

Two jobs live in their own modules, so this class stays the session's outline:
what each server event does, and what one connection has said
(server_events.py, `ServerEvents`, one per connection), and coming back after a
lost connection (comeback.py, `Comeback`: the backoff, a kick, the folder and
the downloads to ask for again)."""

from __future__ import annotations

import random
import signal
import time
from dataclasses import dataclass, field

from .. import protocol
from ..messages import Messages
from ..text import visible
from .actions import Outbox, Screen
from .comeback import Comeback
from .commands import UserCommands, completions
from .downloads import Downloads, DownloadSettings
from .password import PasswordStep
from .server_events import ServerEvents
from .uploads import OUTPUT_HIGH_WATER, Uploads

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVER_CLOSED, EXIT_TRANSFER_FAILED = 0, 1, 2, 3, 4
SERVER_CLOSING_CODE = protocol.ErrorCode.CLOSING.value
NAME_TAKEN_CODE = protocol.ErrorCode.NAME_TAKEN.value


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
    password: str | None = field(default=None, repr=False)
    """The account's password, from --password-file or FTPLAB_PASSWORD (None: asked if needed)."""


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
        self._commands = UserCommands(self)
        self._hello_deadline = clock() + settings.timeout
        self.failure: str | None = None
        """Why the connection failed (no `!HELLO`, a broken stream), to say when the client ends."""
        self.left_on: int | None = None
        """The signal that ended the session."""
        self._interrupt_armed = False
        self.connected = True
        """A connection is up (the app closes its socket when this turns False)."""
        self.away = False
        """Between connections: lost, waiting to come back (or kicked)."""
        self.from_server = ServerEvents(self)
        self.comeback = Comeback(self, clock, jitter)
        self.password = PasswordStep(self, settings.password)
        self._send_join()

    def _send_join(self) -> None:
        self.outbox.line(protocol.join_text({"lang": self.say.language, "proto": str(protocol.VERSION)}))
        self.outbox.holding = True  # until `!HELLO`: a password may have to go first

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
        if arriving is not None and self.from_server.protocol_2 and self._ask_cancel(arriving):
            self.screen.show(self.say("interrupt_cancelling", name=visible(arriving.typed)))
            return
        self.screen.show(self.say("interrupt_during_download" if busy else "interrupt_idle"))

    def leave(self, signum: int) -> None:
        """A signal (or its key) ends the session now."""
        self.left_on = signum
        self.finished = True

    def cancel(self, typed: str) -> None:
        """`cancel [NAME]`: the server stops that download (downloads.Downloads.cancel_target)."""
        if not self.from_server.protocol_2:
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
        self.downloads.folder = self.comeback.went_to_folder(line)

    def reconnect_now(self) -> None:
        """`reconnect`: after a kick, or without waiting for the next attempt."""
        if not self.away:
            self.screen.show(self.say("already_connected"))
            return
        self.comeback.retry_now()

    def complete(self, before: str) -> list[str]:
        return completions(before, self.listing)

    def quit(self) -> None:
        """The server answers quit once the downloads asked for before it are sent; an
        upload still going is finished first (quit would end it half-way)."""
        self.quitting = True
        if self.away:
            if self.settings.interactive or self.comeback.kicked or not self.comeback.ask_again:
                self.comeback.leave_while_away()
            return  # from a pipe, what is still to come is asked for again first
        if self.uploads.current is not None:
            self.uploads.quit_after = True
        else:
            self.send("quit")
        self.say_when_leaving()

    def say_when_leaving(self) -> None:
        if self.settings.interactive and self.downloads.busy:
            self.screen.show(self.say("leaving_after_downloads"))

    def send_typed(self, text: str, as_typed: bool = False) -> bool:
        """A line the user typed (`as_typed`: not one of the client's commands); refused at a
        terminal while the server is not reading."""
        if len(self.outbox) >= OUTPUT_HIGH_WATER and self.settings.interactive:
            self.screen.show(self.say("server_not_reading"))
            return False
        return self.send(text, as_typed)

    def send(self, text: str, as_typed: bool = False) -> bool:
        if self.away:
            self.screen.show(self.say("not_connected"))
            return False
        if self.outbox.line(text, as_typed):
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
        try:
            self.from_server.received(data)
        except protocol.ProtocolError as error:
            self.failure = self.say("broken_stream", detail=visible(error.detail or error.code))
            self.comeback.connection_ended()
        self._quit_if_uploads_over()

    def output_sent(self, count: int) -> None:
        """The socket took `count` bytes of the outbox: more upload frames may follow."""
        self.outbox.sent(count)
        self.uploads.pump()
        self._quit_if_uploads_over()

    def connection_closed(self) -> None:
        self.comeback.connection_ended()

    def connection_made(self) -> None:
        """A new connection (coming back): join again under the same name."""
        self.connected, self.comeback.retry_at = True, None
        self.from_server = ServerEvents(self)
        self.outbox.drop()
        self.failure = None
        self.wait_for_hello()
        self._send_join()

    def wait_for_hello(self) -> None:
        """`!HELLO` is due within --timeout from now (a new connection; a password just given)."""
        self._hello_deadline = self._clock() + self.settings.timeout

    def start_away(self, reason: str) -> None:
        """The first connection could not be made, at a terminal: say why and keep trying (the
        terminal stays in the client until the user leaves)."""
        self.outbox.drop()
        self.connected, self.away = False, True
        self.screen.show(self.say("cannot_connect_retrying", reason=reason))
        self.comeback.schedule_retry()

    def connect_failed(self, untrusted: str | None = None) -> None:
        """A new connection could not be made: the next attempt, later; or it reached a
        server the client does not trust (`untrusted` says why): no more attempts."""
        if untrusted is None:
            self.comeback.schedule_retry()
        else:
            self.failure = untrusted
            self.finished = True

    def wants_connection(self) -> bool:
        """Time for a new connection (the app makes it, then says `connection_made`)."""
        return self.away and self.comeback.due()

    def tick(self) -> None:
        """Timers: the wait for `!HELLO`, and a keep-alive (an empty line) when one is due."""
        if self.connected and not self.from_server.joined and self._clock() >= self._hello_deadline:
            self.failure = self.say("no_hello", seconds=f"{self.settings.timeout:g}")
            self.comeback.connection_ended()
        if self.wait_seconds() == 0.0 and self.from_server.joined and not self.quitting and not self.finished:
            self.send("")

    def wait_seconds(self) -> float | None:
        """Until the next timer (None: none)."""
        now = self._clock()
        if self.away:
            return self.comeback.seconds_left()
        if not self.from_server.joined:
            return max(self._hello_deadline - now, 0.0)
        keep_alive_seconds = self.from_server.keep_alive_seconds
        if keep_alive_seconds is None:
            return None
        return max(self.outbox.sent_at + keep_alive_seconds - now, 0.0)

    def close(self) -> None:
        """The session ends: a transfer under way is reported as interrupted; the parts kept
        only to resume after coming back are removed."""
        self.downloads.interrupted()
        self.uploads.interrupted()
        self.downloads.forget_kept_parts()

    @property
    def name_refused(self) -> bool:
        """The server refused the name at the first join (in use): the app may ask for another."""
        fatal = self.from_server.fatal
        return not self.comeback.ever_joined and fatal is not None and fatal.code == NAME_TAKEN_CODE

    def outcome(self) -> tuple[int, str | None]:
        """The exit status, and the reason to print once the terminal is restored."""
        if self.left_on is not None:
            name = signal.Signals(self.left_on).name
            return 128 + self.left_on, self.say("left_on_signal", signal=name)
        if self.failure is not None:
            return EXIT_FAILURE, self.failure
        fatal = self.from_server.fatal
        if fatal is not None:
            status = EXIT_SERVER_CLOSED if fatal.code == SERVER_CLOSING_CODE else EXIT_FAILURE
            return status, self.say("server_said", text=visible(fatal.text))
        if self.comeback.kicked or (self.away and not self.comeback.ever_joined):
            return EXIT_FAILURE, None  # said when it happened (a kick, no server); the user chose to leave
        if not self.from_server.said_bye and not self.away:
            return EXIT_FAILURE, self.say("connection_lost")
        counts_refusals = not self.settings.interactive
        failed_gets = self.downloads.failed + (self.downloads.refused if counts_refusals else 0)
        failed_puts = self.uploads.failed + (self.uploads.refused if counts_refusals else 0)
        if failed_gets:
            return EXIT_TRANSFER_FAILED, self.say("gets_failed", count=failed_gets)
        if failed_puts:
            return EXIT_TRANSFER_FAILED, self.say("puts_failed", count=failed_puts)
        return EXIT_OK, None

    def _quit_if_uploads_over(self) -> None:
        """A quit typed during an upload goes once the uploads are over."""
        if self.uploads.quit_after and self.uploads.current is None:
            self.uploads.quit_after = False
            self.send("quit")
