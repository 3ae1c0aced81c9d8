"""Failed logins, counted per address across every connection of both doors
(the FTP door's USER/PASS, the lab door's `!PASSWORD` with --users).

A wrong password costs a growing delay before its 530 (FIRST_DELAY_SECONDS,
doubled with each recent failure from the same address, up to
MAX_DELAY_SECONDS); the session holds its next line meanwhile, so pipelined
guesses wait too. Past BUDGET failures within WINDOW_SECONDS the address is
refused (421, closed) for BLOCK_SECONDS, without its password being looked
at. Everyone shares the one --ftp-password, so a login with it that succeeds
from an address forgives that address: a class behind one NAT address is not
locked out by one student's typos once anyone there logs in. A login to an
account (--users) forgives nothing: a student's own account must not reset the
budget of guesses at the teacher's.

Each failure is logged, at most one line per address every LOG_EVERY_SECONDS
(the lines held back are counted in the next one), and one warning when an
address is refused. At most MAX_ADDRESSES addresses are remembered, the
longest quiet forgotten first, so the memory it holds is bounded.

Checking an account's password costs one scrypt (about 40 ms of the loop's
one thread), right or wrong, so the checks themselves are rationed too
(`check_wait`): each address may have ADDRESS_CHECK_BURST at once and
ADDRESS_CHECKS_PER_SECOND after that, and all addresses together CHECK_BURST
and CHECKS_PER_SECOND; a password past that waits its turn (it is not
refused), so a student logging in a hundred times a second cannot take the
loop from the class.

No sockets here: the sessions ask `blocked_for` and `failed`, and each door
delivers the delayed reply when its time comes (the FTP door's `Delay` action,
the lab door's timers).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .text import visible

log = logging.getLogger("ftplab.server")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 8.0
BUDGET = 10
"""Failed logins one address may have within WINDOW_SECONDS before it is refused."""
WINDOW_SECONDS = 600.0
BLOCK_SECONDS = 300.0
LOG_EVERY_SECONDS = 10.0
MAX_ADDRESSES = 10_000
ADDRESS_CHECKS_PER_SECOND = 2.0
ADDRESS_CHECK_BURST = 30
"""Password checks for one address: a class behind one NAT address logs in at once."""
CHECKS_PER_SECOND = 10.0
CHECK_BURST = 100
"""Password checks for every address together: at most about 40% of the loop, after a burst."""


@dataclass
class _Bucket:
    """Tokens that refill at `rate` a second up to `burst`."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def wait(self, now: float) -> float:
        """Seconds until a token is here (0: there is one now)."""
        self.tokens = min(self.burst, self.tokens + max(now - self.updated, 0.0) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass
class _Address:
    failures: deque = field(default_factory=lambda: deque(maxlen=BUDGET))
    blocked_until: float = 0.0
    logged_at: float = float("-inf")
    not_logged: int = 0


class LoginGuard:
    """The failed logins of every address: delays, refusals and log lines."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._addresses: OrderedDict[str, _Address] = OrderedDict()
        self._checks = _Bucket(CHECKS_PER_SECOND, CHECK_BURST, CHECK_BURST, clock())
        self._address_checks: OrderedDict[str, _Bucket] = OrderedDict()

    def check_wait(self, address: str) -> float:
        """0 when a password from `address` may be checked now (the check is counted);
        else the seconds to wait before asking again."""
        now = self._clock()
        bucket = self._address_checks.pop(address, None)
        if bucket is None:
            bucket = _Bucket(ADDRESS_CHECKS_PER_SECOND, ADDRESS_CHECK_BURST, ADDRESS_CHECK_BURST, now)
        self._address_checks[address] = bucket  # the most recent at the end
        if len(self._address_checks) > MAX_ADDRESSES:
            self._address_checks.popitem(last=False)
        wait = max(bucket.wait(now), self._checks.wait(now))
        if not wait:
            bucket.tokens -= 1
            self._checks.tokens -= 1
        return wait

    def blocked_for(self, address: str) -> float:
        """Seconds before `address` may try to log in again (0: it may now)."""
        record = self._addresses.get(address)
        return max(0.0, record.blocked_until - self._clock()) if record else 0.0

    def failed(self, address: str, user: str, door: str = "FTP") -> float:
        """A wrong password from `address` through `door` ("FTP", "lab"): logged, counted
        (past the budget the address is refused for BLOCK_SECONDS); the seconds to wait
        before saying so."""
        now = self._clock()
        record = self._record(address)
        while record.failures and now - record.failures[0] > WINDOW_SECONDS:
            record.failures.popleft()
        record.failures.append(now)
        recent = len(record.failures)
        self._log(address, user, door, record, now, recent)
        if recent >= BUDGET and record.blocked_until <= now:
            record.blocked_until = now + BLOCK_SECONDS
            log.warning(
                "logins from %s refused for %.0f s: %d failed logins in %.0f s",
                address,
                BLOCK_SECONDS,
                recent,
                now - record.failures[0],
            )
        return min(FIRST_DELAY_SECONDS * 2 ** (recent - 1), MAX_DELAY_SECONDS)

    def succeeded(self, address: str) -> None:
        """A login with the right password: its address's failures are forgiven."""
        record = self._addresses.get(address)
        if record is not None and record.blocked_until <= self._clock():
            del self._addresses[address]

    def _record(self, address: str) -> _Address:
        record = self._addresses.pop(address, None) or _Address()
        self._addresses[address] = record  # the most recent at the end
        if len(self._addresses) > MAX_ADDRESSES:
            self._addresses.popitem(last=False)
        return record

    @staticmethod
    def _log(address: str, user: str, door: str, record: _Address, now: float, recent: int) -> None:
        if now - record.logged_at < LOG_EVERY_SECONDS:
            record.not_logged += 1
            return
        log.warning(
            "failed %s login from %s as %s (%d in the last %.0f s; %d more not logged)",
            door,
            address,
            visible(user),
            recent,
            WINDOW_SECONDS,
            record.not_logged,
        )
        record.logged_at, record.not_logged = now, 0
