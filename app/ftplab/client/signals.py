"""The signals that end the client (SIGINT, SIGTERM, SIGHUP, SIGQUIT): noted, never raised mid-step.

Any thread may take a signal sent to the process, but Python runs its handler
only in the main thread, and only once that thread runs again. While a
download's writer and hasher threads exist, a signal they take leaves the main
thread asleep in its select (this was seen: the client stayed in `select`
after SIGINT, both helper threads idle, until the server hung up). And an
exception raised by a handler lands between any two bytecodes: inside a
lock's acquisition, a queue hand-over or a thread's join. So the handler only
notes the signal, and `signal.set_wakeup_fd` writes its number to a
socketpair that the client's selector watches, whichever thread took it: the
loop wakes at once and leaves at the end of its turn, through its normal
cleanup.

Only a wait that holds nothing (a question at the terminal, a connection being
made) lets a signal raise `LeaveNow` where it lands, inside `raising()`: such a
wait would otherwise go on after the signal (Python retries an interrupted
system call when the handler returns).
"""

from __future__ import annotations

import contextlib
import signal
import socket

LEAVING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
WAKE_READ_BYTES = 512


class LeaveNow(BaseException):
    """A signal ends the client: raised only inside `LeaveSignals.raising`."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class LeaveSignals:
    """The leaving signals, caught while installed: `caught` is the first one, and the
    descriptor (`fileno`) turns readable when one comes, to wake a selector."""

    def __init__(self):
        self.caught: int | None = None
        self._raising = False
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous: dict[int, object] = {}
        self._previous_wakeup: int | None = None

    def install(self) -> None:
        """Catch the leaving signals (from the main thread); a signal ignored when we started
        (nohup) stays ignored."""
        self._previous_wakeup = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in LEAVING_SIGNALS:
            previous = signal.getsignal(signum)
            if previous is not signal.SIG_IGN:
                self._previous[signum] = previous
                signal.signal(signum, self._note)

    def fileno(self) -> int:
        return self._reader.fileno()

    def woken(self) -> None:
        """The descriptor is readable: take what the signals wrote (their numbers)."""
        with contextlib.suppress(BlockingIOError):
            while numbers := self._reader.recv(WAKE_READ_BYTES):
                for signum in numbers:
                    if signum in self._previous:
                        self._catch(signum)

    @contextlib.contextmanager
    def raising(self):
        """Inside, a leaving signal raises LeaveNow where it lands (one caught before, at once):
        only for a blocking wait that holds no lock and hands nothing to a thread."""
        self._raising = True
        try:
            if self.caught is not None:
                raise LeaveNow(self.caught)
            yield
        finally:
            self._raising = False

    def close(self) -> None:
        """Give the signals back to their handlers from before `install`."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        if self._previous_wakeup is not None:
            signal.set_wakeup_fd(self._previous_wakeup)
            self._previous_wakeup = None
        self._reader.close()
        self._writer.close()

    def __enter__(self) -> LeaveSignals:
        self.install()
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _note(self, signum: int, _frame) -> None:
        self._catch(signum)
        if self._raising:
            raise LeaveNow(self.caught)

    def _catch(self, signum: int) -> None:
        if self.caught is None:
            self.caught = signum
