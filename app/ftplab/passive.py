"""The FTP door's passive ports: a range that hands out listeners, and the
listener that waits for one control connection's data connection.

Every listener binds with SO_REUSEADDR, as every FTP server's does: the port
of a data connection that just ended sits in TIME-WAIT for a minute, and
without it a range of ten ports would serve ten transfers a minute. A port is
refused only while another socket really listens on it (Linux allows no two
listeners on one port, SO_REUSEADDR or not), so `425` means that every port
of the range is in use at that moment. Ports are handed out in turn, so the
one just used rests while the others serve.

A PASV costs the server's loop as few system calls as it can: the listener is
made non-blocking as it is created (SOCK_NONBLOCK, where there is one) and its
port is the one it was bound to, asked of the kernel only when the kernel
picked it.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable, Iterator

from .net import resend_losses_soon

log = logging.getLogger("ftplab.server")


_NONBLOCKING = getattr(socket, "SOCK_NONBLOCK", 0)
"""Linux: a socket created non-blocking, without a second system call to make it so."""


def _nonblocking_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM | _NONBLOCKING)
    if not _NONBLOCKING:
        sock.setblocking(False)
    return sock


class PassivePorts:
    """The --passive-ports range (None: any port the kernel picks)."""

    def __init__(self, ports: range | None):
        self._ports = ports
        self._next = 0

    def listen(self, host: str, family: int, label: str) -> tuple[socket.socket, int] | None:
        """A non-blocking listener on `host` and a free port of the range, with that port; None
        if there is none."""
        for port in self._in_turn():
            sock = _nonblocking_socket(family)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                resend_losses_soon(sock)  # the data connection it accepts inherits it
                sock.bind((host, port))
                sock.listen(1)
                return sock, port or sock.getsockname()[1]
            except OSError as error:
                sock.close()
                if error.errno not in (errno.EADDRINUSE, errno.EACCES):
                    log.warning("cannot open a passive port for %s: %s", label, error)
                    return None
        return None  # every port listens: the door's WaitingLine waits for one to come free

    def _in_turn(self) -> Iterator[int]:
        """Every port once, starting after the one handed out last (taken one at a time: a
        range of thousands is not copied at every PASV)."""
        if self._ports is None:
            yield 0
            return
        ports = self._ports
        start = self._next % len(ports)
        self._next = start + 1
        for offset in range(len(ports)):
            yield ports[(start + offset) % len(ports)]


class WaitingLine:
    """Control connections waiting for a passive port while every port of the
    range listens for someone's data connection, served in arrival order as
    listeners close (`freed`), each refused once its deadline passes."""

    def __init__(self):
        self._deadlines: dict[object, float] = {}
        self.freed = False
        """A listener closed since the line was last served: a port may be free."""

    def __bool__(self) -> bool:
        return bool(self._deadlines)

    def join(self, waiter, deadline: float) -> None:
        self._deadlines[waiter] = deadline

    def leave(self, waiter) -> None:
        self._deadlines.pop(waiter, None)

    def serve(self, now: float, listen: Callable[[object], bool], refuse: Callable[[object], None]) -> None:
        """`listen(waiter)` for each in turn while ports come free; `refuse(waiter)` past its deadline."""
        for waiter, deadline in list(self._deadlines.items()):
            if self.freed and listen(waiter):
                del self._deadlines[waiter]
            elif now >= deadline:
                del self._deadlines[waiter]
                refuse(waiter)
            else:
                self.freed = False  # no port now: the others keep their turn
        self.freed = False

    def wait_limit(self, now: float) -> float:
        """Seconds until the line needs serving: at once after a port came free, else its first deadline."""
        return 0.0 if self.freed else max(0.0, min(self._deadlines.values()) - now)


class PassiveListener:
    """Listens for one control connection's data connection, from that connection's own address."""

    def __init__(
        self,
        sock: socket.socket,
        port: int,
        peer_ip: str,
        label: str,
        deadline: float,
        adopt: Callable[[socket.socket, tuple], None],
        failed: Callable[[], None],
    ):
        self.sock = sock
        self.port = port
        """The port it listens on, for the 227 reply."""
        self.label = f"passive listener of {label}"
        self.deadline = deadline
        self._peer_ip = peer_ip
        self._adopt = adopt
        self._failed = failed

    def on_ready(self, _mask: int) -> None:
        while True:
            try:
                sock, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                log.warning("passive accept failed for %s: %s", self.label, error)
                return
            if address[0] == self._peer_ip:
                self._adopt(sock, address)
                return
            log.warning("refused a data connection from %s for %s: not its address", address[0], self.label)
            sock.close()  # no port stealing: only the control connection's own address

    def failed(self) -> None:
        self._failed()


def parse_port_range(text: str) -> range:
    """`30000-30009` → range(30000, 30010); ValueError for anything else."""
    first, _, last = text.partition("-")
    low, high = int(first), int(last or first)
    if not 1024 <= low <= high <= 65535:
        raise ValueError(f"{text}: a range of ports from 1024 to 65535")
    return range(low, high + 1)
