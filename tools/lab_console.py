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
the server keeps running. When the server stops (a restart, a crash its restart
policy answers), the console says so and waits for the container to run again,
then attaches again; if it has not come back within --wait-seconds (a `/quit`),
the console ends. It follows the container by its name, which compose keeps when
it makes the server's container anew (`docker compose up -d --force-recreate
server`, or `scripts/lab up` with other options): the id it may be given is the
old container's.

    python3 tools/lab_console.py CONTAINER [--prompt "profe> "] [--lang es] [--wait-seconds 30]

It needs only the standard library and app/ftplab (found next to this file).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from ftplab.console import PlainConsole, open_console  # noqa: E402
from ftplab.messages import Messages  # noqa: E402

READ_BYTES = 64 * 1024
DETACH_GRACE = 1.0
"""Seconds `docker attach` gets to pass on what was typed last, once the teacher leaves."""
COMEBACK_SECONDS = 30.0
"""How long a stopped server is waited for by default (compose's restart and a server's start fit)."""
POLL_SECONDS = 0.5
"""How often the container's state is asked while waiting."""


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


def run(console: PlainConsole, container: str, say: Messages, wait_seconds: float = COMEBACK_SECONDS) -> int:
    """Attach, move lines both ways until the teacher leaves; attach again each time the
    server comes back after stopping."""
    leaving: list[bool] = []
    console.on_interrupt = console.on_quit_now = lambda: leaving.append(True)
    typed_while_away: list[str] = []
    while True:
        server = AttachedServer(container)
        try:
            if serve(console, server, leaving, typed_while_away):
                return 0
        finally:
            server.close()
        console.show(say("console_server_away"))
        typed_while_away = []
        if not wait_for_container(console, container, wait_seconds, leaving, typed_while_away):
            if not leaving:
                console.show(say("console_server_gone", seconds=f"{wait_seconds:g}"))
            return 0 if leaving else 1
        console.show(say("console_server_back"))


def serve(console: PlainConsole, server: AttachedServer, leaving: list[bool], typed: list[str]) -> bool:
    """Lines both ways over one attachment, after the `typed` ones: True when the teacher
    left, False when the attachment ended (the server stopped)."""
    for line in [HISTORY_COMMAND, *typed]:
        server.send(line)
    with selectors.DefaultSelector() as selector:
        selector.register(server.fileno(), selectors.EVENT_READ, "server")
        if not console.at_eof:
            selector.register(console.fileno(), selectors.EVENT_READ, "keyboard")
        while True:
            for key, _ in selector.select():
                if key.data == "server":
                    lines = server.read_lines()
                    if lines is None:
                        return False
                    for line in lines:
                        console.show(line)
                    continue
                for line in console.read_lines():
                    server.send(line)
                if console.at_eof or leaving:
                    return True


def wait_for_container(
    console: PlainConsole, container: str, seconds: float, leaving: list[bool], typed: list[str]
) -> bool:
    """Until the container runs again (True), the teacher leaves or `seconds` pass (False).
    The keyboard still works meanwhile: Ctrl-C leaves, lines typed go to `typed`, for later."""
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        if not console.at_eof:
            selector.register(console.fileno(), selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.get_map():
                for _ in selector.select(POLL_SECONDS):
                    typed.extend(console.read_lines())
            else:
                time.sleep(POLL_SECONDS)
            if leaving or console.at_eof:
                return False
            if container_state(container) == "running":
                return True
    return False


def container_state(container: str) -> str:
    """Docker's word for the container's state (running, restarting, exited...); "" if unknown."""
    return _inspect(container, "{{.State.Status}}")


def container_name(container: str) -> str:
    """The name of the container with this name or id (what a recreated container keeps);
    `container` itself if Docker does not know it."""
    return _inspect(container, "{{.Name}}").removeprefix("/") or container


def _inspect(container: str, template: str) -> str:
    """`docker inspect --format TEMPLATE CONTAINER`; "" if Docker does not know the container."""
    command = ["docker", "inspect", "--format", template, container]
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("container", help="the server container's name or id (followed by its name)")
    parser.add_argument("--prompt", default="> ", help='shown before the typed line ("profe> ")')
    parser.add_argument("--lang", help="the class's language for the console's own lines (es)")
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=COMEBACK_SECONDS,
        help=f"how long a stopped server is waited for ({COMEBACK_SECONDS:g})",
    )
    options = parser.parse_args(argv)
    console = open_console(sys.stdin, sys.stdout, prompt=lambda: options.prompt, signal_keys_as_keys=True)
    if console.interactive:
        console.start()
    try:
        return run(console, container_name(options.container), Messages(options.lang), options.wait_seconds)
    except KeyboardInterrupt:
        return 0
    finally:
        console.close()


if __name__ == "__main__":
    sys.exit(main())
