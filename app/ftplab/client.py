"""The ftplab client: keyboard and socket in one selectors loop.

Messages from the server are shown as they arrive, while the user types;
downloads are saved by `download.Download`; everything from the network is
shown through `text.visible`, so no peer can drive this terminal.

Run it as `ftplab-client` or `python -m ftplab.client`. Exit status: 0 after
quit or end of input, 1 when the connection fails, is lost or is refused,
2 for a usage error.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sys

from . import protocol
from .cli import ClientConfig, parse_client_args
from .console import PlainConsole, open_console
from .download import Corrupt, Download, DownloadError, ReceiveBuffers
from .messages import Messages, human_size
from .net import CLIENT_USER_TIMEOUT_MS, watch_for_dead_peer
from .text import visible

CONNECT_TIMEOUT_SECONDS = 10
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class Client:
    def __init__(self, sock: socket.socket, config: ClientConfig, name: str, console: PlainConsole):
        self.sock = sock
        self.config = config
        self.name = name
        self.console = console
        self.say = Messages(config.lang)
        self.receiver = protocol.Receiver(from_server=True)
        self._buffers = ReceiveBuffers()
        self.download: Download | None = None
        self._skip_bytes = 0
        self._pending_output = bytearray()
        self._quitting = False
        self._said_bye = False
        self._fatal_text: str | None = None
        self._failure: str | None = None
        self._finished = False
        self._console_polled = False
        self._console_watched = False
        self._selector = selectors.DefaultSelector()
        self._handlers = {
            protocol.Message: self._on_message,
            protocol.Hello: self._on_message,
            protocol.Error: self._on_error,
            protocol.FileStart: self._on_file_start,
            protocol.FileData: self._on_file_data,
            protocol.FileAbort: self._on_file_abort,
            protocol.Bye: self._on_bye,
        }

    # --- the loop -----------------------------------------------------------------

    def run(self) -> int:
        """Join, then serve keyboard and socket until the connection ends; the exit status."""
        self.sock.setblocking(False)
        self._selector.register(self.sock, selectors.EVENT_READ, self._on_socket)
        try:
            self._send("")  # the join line, which names us
            self._watch_console()
            self._handle_input_lines([])
            while not self._finished:
                self._turn()
        finally:
            self._close()
        return self._exit_status()

    def _watch_console(self) -> None:
        if self.console.at_eof:
            self._quit()
            return
        try:
            self._selector.register(self.console.fileno(), selectors.EVENT_READ, self._on_console)
            self._console_watched = True
        except PermissionError:  # a regular file: epoll refuses it, and it never blocks
            self._console_polled = True

    def _turn(self) -> None:
        polling = self._console_polled and not self.console.at_eof
        for key, mask in self._selector.select(0 if polling else None):
            key.data(mask)
        if polling:
            self._on_console(selectors.EVENT_READ)

    def _exit_status(self) -> int:
        if self._said_bye and self._failure is None:
            return EXIT_OK
        reason = self._failure or (
            self.say("server_said", text=visible(self._fatal_text))
            if self._fatal_text is not None
            else self.say("connection_lost")
        )
        print(f"ftplab-client: {reason}", file=sys.stderr)
        return EXIT_FAILURE

    def _close(self) -> None:
        if self.download is not None:
            self.download.discard()
            self.download = None
        self._selector.close()
        self.sock.close()

    # --- keyboard -----------------------------------------------------------------

    def _on_console(self, _mask: int) -> None:
        self._handle_input_lines(self.console.read_lines())

    def _handle_input_lines(self, lines: list[str]) -> None:
        if self.console.has_pending:
            lines = self.console.read_buffered() + lines
        for line in lines:
            if not self._quitting:
                self._on_input(line.strip())
        if self.console.at_eof and not self._quitting:
            self._quit()

    def _on_input(self, text: str) -> None:
        if not text:
            return
        if text.lower() == "quit":
            self._quit()
        else:
            self._send(text)

    def _quit(self) -> None:
        """The server answers quit once the downloads asked for before it are sent."""
        self._quitting = True
        if self._console_watched:
            self._selector.unregister(self.console.fileno())
            self._console_watched = False
        self._console_polled = False
        self._send("quit")

    # --- socket -------------------------------------------------------------------

    def _send(self, text: str) -> None:
        try:
            self._pending_output += protocol.encode_command(self.name, text)
        except protocol.LocalProtocolError:
            self.console.show(self.say("line_too_long", limit=protocol.MAX_LINE_BYTES))
            return
        self._flush()

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

    def _on_message(self, event) -> None:
        self._show(event.sender, event.text)

    def _on_error(self, event: protocol.Error) -> None:
        self._show(event.sender, event.text)
        if event.code in protocol.FATAL_ERROR_CODES:
            self._fatal_text = event.text

    def _on_bye(self, event: protocol.Bye) -> None:
        self._show(event.sender, event.text)
        self._said_bye = True

    def _on_file_start(self, event: protocol.FileStart) -> None:
        if self.download is not None or self._skip_bytes:
            raise protocol.BadFrame("a new file before the last one ended")
        try:
            self.download = Download(self.config.download_dir, event.name, event.size, event.sha256)
        except DownloadError as error:
            key = "download_unsafe_name" if error.reason == visible(event.name) else "download_failed"
            self.console.show(self.say(key, name=visible(event.name), reason=error.reason))
            self._skip_bytes = event.size
            return
        self.console.show(self.say("download_started", name=self.download.name, size=human_size(event.size)))
        if self.download.complete:
            self._finish_download()

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
            self._skip_bytes = self.download.size - self.download.received - len(event.data)
            self.download = None
            self.console.set_status("")
            return
        self.console.set_status(
            self.say("download_progress", name=self.download.name, percent=self.download.percent)
        )
        if self.download.complete:
            self._finish_download()

    def _finish_download(self) -> None:
        download, self.download = self.download, None
        self.console.set_status("")
        try:
            path = download.finish()
        except Corrupt:
            self.console.show(self.say("download_corrupt", name=download.name))
            return
        except DownloadError as error:
            self.console.show(self.say("download_failed", name=download.name, reason=error.reason))
            return
        self.console.show(self.say("download_saved", path=visible(path), size=human_size(download.size)))

    def _on_file_abort(self, event: protocol.FileAbort) -> None:
        self._show(event.sender, event.text)
        self._skip_bytes = 0
        if self.download is not None:
            self.download.discard()
            self.download = None
            self.console.set_status("")


# --- the command --------------------------------------------------------------------


def _exit_on_sigterm(_signum, _frame) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def _connect(config: ClientConfig, say: Messages) -> socket.socket | None:
    try:
        sock = socket.create_connection((config.host, config.port), timeout=CONNECT_TIMEOUT_SECONDS)
        watch_for_dead_peer(sock, user_timeout_ms=CLIENT_USER_TIMEOUT_MS)
        return sock
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        print(
            f"ftplab-client: {say('cannot_connect', host=config.host, port=config.port, reason=reason)}",
            file=sys.stderr,
        )
        return None


def main(argv: list[str] | None = None) -> int:
    config = parse_client_args(argv)
    say = Messages(config.lang)
    prompt_name = [config.name]
    console = open_console(sys.stdin, sys.stdout, prompt=lambda: f"{prompt_name[0]}> ")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        name = config.name or console.ask(say("ask_name"))
        if protocol.name_problem(name) is not None:
            print(
                f"ftplab-client: {say('bad_name', name=visible(name)) if name else say('name_required')}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        prompt_name[0] = name
        try:
            os.makedirs(config.download_dir, exist_ok=True)
        except OSError as error:
            print(f"ftplab-client: --download-dir {config.download_dir}: {error.strerror}", file=sys.stderr)
            return EXIT_USAGE
        sock = _connect(config, say)
        if sock is None:
            return EXIT_FAILURE
        if console.interactive:
            console.start()
        return Client(sock, config, name, console).run()
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    finally:
        console.close()


if __name__ == "__main__":
    sys.exit(main())
