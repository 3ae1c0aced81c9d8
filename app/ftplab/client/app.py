"""The client program: the socket, the terminal and the signals around a ClientSession.

One selectors loop serves the keyboard (or stdin) and the socket: what the
server sends goes to the session as it arrives (while a file arrives, once the
kernel has gathered a good part of it: receiving.py), in preallocated buffers
(file data reaches the download as views of them, uncopied); what the session
asks for is done here: bytes sent, lines shown, the progress line drawn, a
socket closed when the session lets its connection go and a new one made when
it wants to come back (the keyboard is served meanwhile: the terminal never
returns to the shell because of the server). A signal is noted and wakes the
loop, which leaves at the end of its turn (signals.py says why). Run it as
`ftplab-client` or `python -m ftplab.client`; exit statuses in session.py."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import ssl
import sys

from .. import protocol
from ..cli import ClientConfig, parse_client_args
from ..console import ConsoleWatch, PlainConsole, open_console
from ..messages import Messages, Reason
from ..net import CLIENT_USER_TIMEOUT_MS, watch_for_dead_peer
from ..text import visible
from .actions import AskPassword, ClearScreen, Show, Status
from .download_file import ReceiveBuffers
from .receiving import GATHER_SECONDS, WOULD_BLOCK, gather, receive_ready
from .session import EXIT_FAILURE, EXIT_USAGE, ClientSession, ClientSettings
from .signals import LeaveNow, LeaveSignals
from .trust import Trust, Untrusted
from .unread_limit import UnreadLimit

RECONNECT_TIMEOUT_SECONDS = 3.0
"""How long one attempt to come back may keep the keyboard waiting (the loop is single-threaded)."""


class ClientApp:
    """The loop around one session: keyboard and socket in, the session's actions out."""

    def __init__(
        self,
        sock: socket.socket,
        session: ClientSession,
        console: PlainConsole,
        observe=None,
        connect=None,
        signals: LeaveSignals | None = None,
    ):
        """`observe`, if given, is called with every action of the session as it is carried out
        (scripts/bench times downloads by their FileStarted and FileSaved); `connect()` makes a
        new connection when the session comes back (a socket, or raises OSError); `signals`, the
        installed LeaveSignals whose signal ends the session."""
        self._observe = observe or (lambda _action: None)
        self._connect = connect
        self._signals = signals
        self.sock: socket.socket | None = sock
        self.session = session
        self.console = console
        self._buffers = ReceiveBuffers()
        self._gathering = 1
        """The bytes the kernel gathers before the socket wakes the loop (its SO_RCVLOWAT)."""
        self._unread_limit = UnreadLimit(sock)
        self._selector = selectors.DefaultSelector()
        self._console_watch = ConsoleWatch(self._selector, console, self._on_console)
        console.on_interrupt = lambda: self._after(session.interrupt_key)
        console.on_quit_now = lambda: session.leave(signal.SIGQUIT)
        console.completer = session.complete

    def run(self) -> int:
        """Serve keyboard and socket until the session ends; its exit status (`exit_reason`
        is then the line for the caller to print once the terminal is restored)."""
        if self.sock is not None:
            self.sock.setblocking(False)
            self._selector.register(self.sock, selectors.EVENT_READ, self._on_socket)
        if self._signals is not None:
            self._selector.register(self._signals, selectors.EVENT_READ, lambda _mask: self._signals.woken())
        try:
            self._handle_input_lines([])
            while not self.session.finished:
                self._turn()
        finally:
            self._close()
        self.status, self.exit_reason = self.session.outcome()
        return self.status

    def _turn(self) -> None:
        """One wait and what it brought; a signal caught meanwhile ends the session here, between
        two steps (never inside one: the download's threads are never left half-told)."""
        if self._signals is not None and self._signals.caught is not None:
            self.session.leave(self._signals.caught)
            return
        keys_left = self.console.has_pending  # typed after the answer to a question: theirs at once
        polling = (self._console_watch.polled or keys_left) and self._console_wanted()
        gathering = self._gather()
        timeout = 0 if polling else self._wait_seconds(gathering)
        events = self._selector.select(timeout)
        socket_read = any(key.fileobj is self.sock and mask & selectors.EVENT_READ for key, mask in events)
        for key, mask in events:
            key.data(mask)
        if gathering and not socket_read and self.sock is not None:
            self._receive()  # what the kernel gathered, below the mark (receiving.py)
        if polling:
            self._on_console(selectors.EVENT_READ)
        self._after(self.session.tick)
        if self.session.wants_connection() and not self.session.finished:
            self._after(self._reconnect)

    def _gather(self) -> bool:
        """Tell the kernel how much to gather before the socket wakes the loop (receiving.py);
        whether that is more than a byte now (then the loop reads every GATHER_SECONDS too)."""
        if self.sock is None:
            return False
        wanted = self.session.downloads.bytes_to_gather()
        resized = self._unread_limit.follow(arriving=wanted > 1)  # (unread_limit.py)
        asking = wanted != self._gathering or resized  # below `wanted` while the window is: asks again
        if asking and (mark := gather(self.sock, wanted)) is not None:
            self._gathering = mark
        return self._gathering > 1

    def _wait_seconds(self, gathering: bool) -> float | None:
        """How long the next wait may last: until the session's next timer, and no longer than
        GATHER_SECONDS while the kernel gathers."""
        seconds = self.session.wait_seconds()
        if not gathering:
            return seconds
        return GATHER_SECONDS if seconds is None else min(seconds, GATHER_SECONDS)

    def _reconnect(self) -> None:
        try:
            with self._raising():
                sock = self._connect()
        except LeaveNow:  # the signal is caught: the next turn leaves
            return
        except Untrusted as refused:  # its certificate changed while we were away: never again
            self.session.connect_failed(untrusted=refused.text)
            return
        except OSError:
            self.session.connect_failed()
            return
        sock.setblocking(False)
        self.sock, self._gathering, self._unread_limit = sock, 1, UnreadLimit(sock)
        self._selector.register(sock, selectors.EVENT_READ, self._on_socket)
        self.session.connection_made()

    def _after(self, step) -> None:
        """Run one step of the session, then carry out what it asked for."""
        step()
        self._carry_out()

    def _carry_out(self) -> None:
        if self.sock is not None and not self.session.connected:
            self._drop_socket()
        self._flush()
        self._show_actions()
        self._console_watch.set(self._console_wanted())

    def _show_actions(self) -> None:
        for action in self.session.screen.take():
            self._observe(action)
            if isinstance(action, Show):
                self.console.show(action.text)
            elif isinstance(action, Status):
                self.console.set_status(action.text)
            elif isinstance(action, ClearScreen):
                self.console.clear_screen()
            elif isinstance(action, AskPassword):
                self._ask_password(action.prompt)

    def _ask_password(self, prompt: str) -> None:
        """Asked at the terminal, without echo (the socket waits: the server is waiting for it)."""
        try:
            with self._raising():
                password = self.console.ask_secret(prompt)
        except KeyboardInterrupt:  # Ctrl-C at the question: leave as on SIGINT
            self.session.leave(signal.SIGINT)
            return
        except LeaveNow:  # the signal is caught: the next turn leaves
            return
        self.session.password.given(password)
        self._flush()

    def _raising(self):
        """Around a blocking wait that holds nothing: a signal ends it at once (signals.py)."""
        return self._signals.raising() if self._signals is not None else contextlib.nullcontext()

    def _close(self) -> None:
        self.session.close()
        self._show_actions()
        self._drop_socket()
        self._selector.close()

    def _drop_socket(self) -> None:
        """The session let its connection go (it may come back with a new one)."""
        if self.sock is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self.sock)
        self.sock.close()
        self.sock = None

    # --- keyboard -------------------------------------------------------------------

    def _console_wanted(self) -> bool:
        return not self.console.input_gone and self.session.reads_input()

    def _on_console(self, _mask: int) -> None:
        self._handle_input_lines(self.console.read_lines())

    def _handle_input_lines(self, lines: list[str]) -> None:
        if self.console.has_pending:
            lines = self.console.read_buffered() + lines
        for line in lines:
            self.session.typed(line)
        if self.console.at_eof:
            self.session.input_ended()
        self._carry_out()

    # --- socket ---------------------------------------------------------------------

    def _flush(self) -> None:
        outbox = self.session.outbox
        if self.sock is None:
            return
        while outbox.data:
            try:
                sent = self.sock.send(outbox.data)
            except WOULD_BLOCK:
                break
            except OSError:
                outbox.drop()
                break
            self.session.output_sent(sent)
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if outbox.data else 0)
        self._selector.modify(self.sock, events, self._on_socket)

    def _on_socket(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._carry_out()
        if mask & selectors.EVENT_READ:
            self._receive()
            while self._tls_pending() and not self.session.finished:
                self._receive()  # records already decrypted: no socket event will say so

    def _tls_pending(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.fileno() >= 0 and self.sock.pending() > 0

    def _receive(self) -> None:
        buffer, sock = self._buffers.next(), self.sock
        try:
            count, ended = receive_ready(sock, buffer)
        except WOULD_BLOCK:
            return
        if count:
            self._unread_limit.read(count)
            try:
                self._after(lambda: self.session.received(memoryview(buffer)[:count]))
            finally:
                self._buffers.hold(self.session.downloads.current)
        if ended and self.sock is sock:  # not if the session let the connection go on what it read
            self._after(self.session.connection_closed)


# --- the command ------------------------------------------------------------------------


def _complain(text: str) -> None:
    """One line on stderr, if there is still a stderr to write to."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"ftplab-client: {text}", file=sys.stderr, flush=True)


def _open_connection(
    config: ClientConfig, trust: Trust | None, timeout: float | None = None
) -> socket.socket:
    """A connection to the server, in TLS when `trust` says whom to trust (--tls);
    OSError if none (trust.Untrusted, with the sentence to show, for a server not trusted)."""
    sock = _tcp_connection(config, timeout)
    if trust is None:
        return sock
    return trust.secure(sock, lambda: _tcp_connection(config, timeout))


def _tcp_connection(config: ClientConfig, timeout: float | None) -> socket.socket:
    """A TCP connection to the server, watched for a dead peer."""
    sock = socket.create_connection((config.host, config.port), timeout=timeout or config.timeout)
    try:
        watch_for_dead_peer(sock, user_timeout_ms=CLIENT_USER_TIMEOUT_MS)
    except OSError:
        sock.close()
        raise
    return sock


def _trust(config: ClientConfig, say: Messages, console: PlainConsole) -> Trust | None:
    """Whom to trust with --tls (None: in clear); the user is asked only at a terminal."""
    if not config.tls:
        return None
    ask = console.ask if console.interactive else None
    return Trust(
        config.host,
        config.port,
        say,
        ca_file=config.ca_file,
        pinned=config.fingerprint,
        ask=ask,
        show=console.show,
    )


def _connect(
    config: ClientConfig, say: Messages, trust: Trust | None, *, quiet: bool = False
) -> socket.socket | str:
    """A connection, or why not (said on stderr unless `quiet`). Raises Untrusted (said on
    stderr) for a server not trusted: that is not retried."""
    try:
        return _open_connection(config, trust)
    except Untrusted as refused:
        _complain(refused.text)
        raise
    except OSError as error:
        reason = say("cannot_connect", host=config.host, port=config.port, reason=Reason.of(error).text(say))
    if not quiet:
        _complain(reason)
    return reason


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
        _complain(f"--download-dir {directory}: {Reason.of(error).text(say)}")
        return False
    return True


PASSWORD_VARIABLE = "FTPLAB_PASSWORD"
MAX_PASSWORD_FILE_BYTES = 4096


def _known_password(config: ClientConfig, say: Messages) -> str | None:
    """The account's password from --password-file (its first line) or FTPLAB_PASSWORD, if given
    (None: asked at the terminal if the server wants one). OSError, with the reason to show."""
    if config.password_file:
        try:
            with open(config.password_file, "rb") as file:
                first = file.read(MAX_PASSWORD_FILE_BYTES).decode("utf-8", "replace").split("\n")[0]
        except OSError as error:
            reason = Reason.of(error).text(say)
            raise OSError(say("password_file_unreadable", path=config.password_file, reason=reason)) from None
        return first.removesuffix("\r")
    return os.environ.get(PASSWORD_VARIABLE)


def _settings(config: ClientConfig, console: PlainConsole, password: str | None) -> ClientSettings:
    reconnect = console.interactive if config.reconnect is None else config.reconnect
    return ClientSettings(
        download_dir=config.download_dir,
        lang=config.lang,
        timeout=config.timeout,
        keep_partial=config.keep_partial,
        interactive=console.interactive,
        reconnect=reconnect,
        password=password,
    )


def _run_sessions(
    config: ClientConfig,
    console: PlainConsole,
    say: Messages,
    name: str,
    rename,
    password: str | None,
    signals: LeaveSignals,
) -> ClientApp | None:
    """Sessions until one is not refused a name typed at the prompt (then asked again).
    LeaveNow on a signal while no session's loop runs (a connection being made, a question)."""
    asked_at_prompt = not config.name and console.interactive
    settings = _settings(config, console, password)
    trust = _trust(config, say, console)
    while True:
        try:
            with signals.raising():
                sock = _connect(config, say, trust, quiet=settings.reconnect and settings.interactive)
        except Untrusted:
            return None
        session = ClientSession(name, settings)
        if isinstance(sock, str):
            if not (settings.reconnect and settings.interactive):
                return None
            session.start_away(sock)  # a terminal stays in the client until the server is there
            sock = None
        app = ClientApp(
            sock,
            session,
            console,
            connect=lambda: _open_connection(config, trust, RECONNECT_TIMEOUT_SECONDS),
            signals=signals,
        )
        app.run()
        if not (asked_at_prompt and app.session.name_refused and not console.at_eof):
            return app
        console.show(say("name_taken_ask_again", name=visible(name)))
        with signals.raising():
            name = _ask_name(console, say)
        if console.at_eof or not name:
            return app
        rename(name)


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
    signals = LeaveSignals()  # kept to the end of the process: a late signal is noted, not fatal
    signals.install()
    reason = None
    try:
        with signals.raising():
            name = config.name or _ask_name(console, say)
        if protocol.name_problem(name) is not None:
            reason = say("bad_name", name=visible(name)) if name else say("name_required")
            return EXIT_USAGE
        prompt_name[0] = name
        if not _prepare_download_dir(config, say):
            return EXIT_USAGE
        try:
            password = _known_password(config, say)
        except OSError as error:
            reason = str(error)
            return EXIT_USAGE
        if console.interactive:
            console.start()
        app = _run_sessions(
            config, console, say, name, lambda new: prompt_name.__setitem__(0, new), password, signals
        )
        if app is None:
            return EXIT_FAILURE
        reason = app.exit_reason
        return app.status
    except KeyboardInterrupt:  # Ctrl-C at the name prompt; the console has ended its line
        return 128 + signal.SIGINT
    except LeaveNow as leave:
        console.show("")  # off the prompt's line
        return 128 + leave.signum
    finally:
        console.close()
        if reason is not None:
            _complain(reason)
