"""A lab client's connection on the server: its parser, its name, its queued
downloads and replies, and the allowances that throttle it."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from . import protocol
from .connection import HIGH_WATER_BYTES, Connection, State
from .pacing import Pacer
from .transfer import Transfer

CHAT_LINES_PER_SECOND = 5.0
CHAT_BURST_LINES = 20
"""A client may send 20 chat lines at once (a paste) and 5 a second after that."""

ADDRESS_CHAT_LINES_PER_SECOND = 15.0
ADDRESS_CHAT_BURST_LINES = 60
"""All the connections from one address together, so many connections cannot multiply the
chat limit; generous enough for a class chatting from behind one NAT address."""

COMMANDS_PER_SECOND = 20.0
COMMAND_BURST = 100
"""Commands are never dropped; past this rate the client's next line waits its turn."""


class Allowance:
    """A token bucket: `take` spends one token if there is one; they refill at `rate` a second."""

    def __init__(self, rate: float, burst: int, now: float):
        self._rate = rate
        self._burst = burst
        self._tokens = float(burst)
        self._updated = now
        self._warned = False

    def take(self, now: float) -> bool:
        self._refill(now)
        if self._tokens >= 1:
            self._tokens -= 1
            self._warned = False
            return True
        return False

    def grant(self, most: int, now: float) -> int:
        """Take up to `most` tokens at once; how many were taken (0 when none is left)."""
        self._refill(now)
        granted = min(most, int(self._tokens))
        self._tokens -= granted
        return granted

    def give_back(self, count: int) -> None:
        """Return tokens granted but not spent."""
        self._tokens = min(self._burst, self._tokens + count)

    def _refill(self, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + max(now - self._updated, 0.0) * self._rate)
        self._updated = now

    def should_warn(self) -> bool:
        """True once per run of refused takes, so the warning is not a flood itself."""
        warn, self._warned = not self._warned, True
        return warn


class Session(Connection):
    """A connection that speaks the lab protocol: lines in, replies and downloads out."""

    hears_chat = True
    """It can be sent chat (an FTP user, also a member of the room, cannot)."""

    def __init__(
        self, sock, address: tuple, now: float, address_chat: Allowance | None = None, address_key: str = ""
    ):
        super().__init__(sock, address, now)
        self.address_key = address_key or address[0]
        """The address as limits count it (an IPv4-mapped address as IPv4)."""
        self.receiver = protocol.Receiver(from_server=False)
        self.name: str | None = None
        self.language: str | None = None
        """The language the client announced when it joined (None: the server's)."""
        self.protocol_version = 1
        """The protocol version the client announced (`!JOIN proto=2`); 1 for older clients."""
        self.transfers: deque[Transfer] = deque()
        self._pacer: Pacer | None = None
        self.replies: Iterator[bytes] | None = None
        """A long answer (a listing) still being queued, a line at a time, as output drains."""
        self.held: protocol.Line | None = None
        """A line that could not be handled yet (the room is busy, or the client is over its rate)."""
        self.waiting = False
        """The held line waits for the loop to offer it again."""
        self.quitting = False
        self.cwd: tuple[str, ...] = ()
        """The current directory (`cd`), as components under the root."""
        self.last_activity = now
        self.chat_allowance = Allowance(CHAT_LINES_PER_SECOND, CHAT_BURST_LINES, now)
        self.address_chat = address_chat or Allowance(
            ADDRESS_CHAT_LINES_PER_SECOND, ADDRESS_CHAT_BURST_LINES, now
        )
        self.command_allowance = Allowance(COMMANDS_PER_SECOND, COMMAND_BURST, now)
        self.login = None
        """With accounts: its `lab_logins.PendingLogin` while it is asked for its password."""
        self.rights: frozenset[str] | None = None
        """Its account's rights (accounts.RIGHTS); None: the server's --allow-upload and
        --allow-overwrite, and downloads (no accounts)."""

    def may(self, right: str, switch: bool = True) -> bool:
        """Whether this client may `right` ("download", "upload", "overwrite"): its account
        says, or without accounts the server's `switch`."""
        return switch if self.rights is None else right in self.rights

    @property
    def pacer(self) -> Pacer:
        """Sizes its download frames to what the connection drains; made at its first
        download (a crowd that only chats holds none)."""
        if self._pacer is None:
            self.pacer = Pacer(self.sock)
        return self._pacer

    @pacer.setter
    def pacer(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self.outbox.file_budget = pacer.send_budget

    @property
    def label(self) -> str:
        """How the logs name this connection: 'alice@172.28.0.3:51234'."""
        who = self.name or "?"
        return f"{who}@{self.address[0]}:{self.address[1]}"

    @property
    def who_name(self) -> str:
        """How `who` shows this member."""
        return self.name

    @property
    def has_lines_to_handle(self) -> bool:
        """Lines are waiting and the client is taking its replies: a client that
        floods commands without reading the answers waits for its output to drain,
        and so does one whose long answer (a listing) is still going out."""
        return (
            self.is_open
            and not self.quitting
            and self.replies is None
            and not self.waiting
            and (self.held is not None or self.receiver.has_events)
            and self.outbox.buffered_bytes < HIGH_WATER_BYTES
        )

    def next_line(self):
        """The held line, else the parser's next event (None when it needs more bytes)."""
        if self.held is not None:
            line, self.held = self.held, None
            return line
        return self.receiver.next_event()

    @property
    def wants_to_read(self) -> bool:
        """Read more only while earlier lines are handled and output is draining."""
        if self.state is not State.OPEN:
            return True
        return (
            self.held is None
            and not self.receiver.has_events
            and self.outbox.buffered_bytes < HIGH_WATER_BYTES
        )

    @property
    def busy_sending(self) -> bool:
        """Downloads or a long answer still going out: quit waits for them."""
        return bool(self.transfers) or self.replies is not None

    def close_transfers(self) -> None:
        while self.transfers:
            self.transfers.popleft().close()

    def idle_for(self, now: float) -> float:
        """Seconds since the client's last line or finished download."""
        return now - self.last_activity

    def close(self) -> None:
        self.close_transfers()
        self.replies = None
        super().close()
