"""The FTP door's passive ports: a range that hands out listeners, and the
listener that waits for one control connection's data connection.

Every listener binds with SO_REUSEADDR, as every FTP server's does: the port
of a data connection that just ended sits in TIME-WAIT for a minute, and
without it a range of ten ports would serve ten transfers a minute. A port is
refused only while another socket really listens on it (Linux allows no two
listeners on one port, SO_REUSEADDR or not), so `425` means that every port
of the range is in use at that moment. Ports are handed out in turn, so the
one just used rests while the others serve.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable

log = logging.getLogger("ftplab.server")


class PassivePorts:
    """The --passive-ports range (None: any port the kernel picks)."""

    def __init__(self, ports: range | None):
        self._ports = ports
        self._next = 0

    def listen(self, host: str, family: int, label: str) -> socket.socket | None:
        """A listener on `host` and a free port of the range; None if there is none."""
        for port in self._in_turn():
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(1)
                sock.setblocking(False)
                return sock
            except OSError as error:
                sock.close()
                if error.errno not in (errno.EADDRINUSE, errno.EACCES):
                    log.warning("cannot open a passive port for %s: %s", label, error)
                    return None
        log.warning("no free passive port for %s", label)
        return None

    def _in_turn(self) -> list[int]:
        """Every port once, starting after the one handed out last."""
        if self._ports is None:
            return [0]
        ports = list(self._ports)
        start = self._next % len(ports)
        self._next = start + 1
        return ports[start:] + ports[:start]


class PassiveListener:
    """Listens for one control connection's data connection, from that connection's own address."""

    def __init__(
        self,
        sock: socket.socket,
        peer_ip: str,
        label: str,
        deadline: float,
        adopt: Callable[[socket.socket, tuple], None],
        failed: Callable[[], None],
    ):
        self.sock = sock
        self.label = f"passive listener of {label}"
        self.deadline = deadline
        self._peer_ip = peer_ip
        self._adopt = adopt
        self._failed = failed

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

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
