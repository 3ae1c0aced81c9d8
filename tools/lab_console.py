"""The teacher's console for the lab's server container (`scripts/lab attach server`).

The server writes two streams: its console (chat, joins and departures,
transfers, warnings, the answers to the teacher's commands, in the class's
language) on stdout, and its log (English, timestamps, digests) on stderr.
Docker keeps them apart for a container without a terminal (`tty: false` in
compose.yaml), so `docker compose logs server` has both, as clean text. This
program gives the teacher a terminal on the console stream only: it runs
`docker attach` on the container, throws the log stream away, shows every
console line through ftplab's own line editor (the half-typed line is redrawn
under them), and sends each typed line to the server's console input. On
attaching it asks for `/history`, so the recent conversation is shown again.
Ctrl-C clears a half-typed line; Ctrl-C on an empty line, or Ctrl-D, leaves;
the server keeps running.

    python3 tools/lab_console.py CONTAINER [--prompt "profe> "]

It needs only the standard library and app/ftplab (found next to this file).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import selectors
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from ftplab.console import PlainConsole, open_console  # noqa: E402

READ_BYTES = 64 * 1024
DETACH_GRACE = 1.0
"""Seconds `docker attach` gets to pass on what was typed last, once the teacher leaves."""


class AttachedServer:
    """`docker attach` to the server container: its output in, console lines out."""

    def __init__(self, container: str):
        """The container's stderr (the server's log) is not the teacher's: `docker attach`
        writes it to its own stderr, which goes nowhere."""
        command = ["docker", "attach", "--sig-proxy=false", container]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self._partial = b""

    def fileno(self) -> int:
        return self.process.stdout.fileno()

    def read_lines(self) -> list[str] | None:
        """Whole lines the server printed; None once the attachment has ended."""
        data = os.read(self.fileno(), READ_BYTES)
        if not data:
            return None
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [line.decode("utf-8", "replace").removesuffix("\r") for line in lines]

    def send(self, line: str) -> None:
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def close(self) -> None:
        """Detach: end `docker attach` (it ignores SIGTERM while attached). The container's
        own input stays open for the next console (compose.yaml: stdin_open, not stdin_once)."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(DETACH_GRACE)  # time to pass on the last lines typed
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()


HISTORY_COMMAND = "/history"
"""Asked on attaching: the server shows the recent conversation again."""


def run(console: PlainConsole, server: AttachedServer) -> int:
    """Move lines both ways until the teacher leaves or the attachment ends."""
    leaving: list[bool] = []
    console.on_interrupt = console.on_quit_now = lambda: leaving.append(True)
    server.send(HISTORY_COMMAND)
    selector = selectors.DefaultSelector()
    selector.register(server.fileno(), selectors.EVENT_READ, "server")
    if not console.at_eof:
        selector.register(console.fileno(), selectors.EVENT_READ, "keyboard")
    while True:
        for key, _ in selector.select():
            if key.data == "server":
                lines = server.read_lines()
                if lines is None:  # the server stopped: scripts/lab status tells why
                    return 1
                for line in lines:
                    console.show(line)
                continue
            for line in console.read_lines():
                server.send(line)
            if console.at_eof or leaving:
                return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("container", help="the server container's name or id")
    parser.add_argument("--prompt", default="> ", help='shown before the typed line ("profe> ")')
    options = parser.parse_args(argv)
    console = open_console(sys.stdin, sys.stdout, prompt=lambda: options.prompt, signal_keys_as_keys=True)
    server = AttachedServer(options.container)
    if console.interactive:
        console.start()
    try:
        return run(console, server)
    except KeyboardInterrupt:
        return 0
    finally:
        console.close()
        server.close()


if __name__ == "__main__":
    sys.exit(main())
