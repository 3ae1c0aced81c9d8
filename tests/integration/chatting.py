"""Two lab members chatting in the background while a test drives other clients.

`Chatter` joins `ana` and `bea` on the lab door with raw sockets (RawConnection) and,
in a thread, has ana send numbered lines at a pace while bea waits for each one. It
records the gap between sending a line and its arrival: tests report the worst
gap but do not assert on it (the machine is shared), and they do assert that every
line sent arrived, in order, and that the thread met no error.
"""

from __future__ import annotations

import threading
import time

from .harness import TIMEOUT, RawConnection, message_containing, wait_until

PACE_SECONDS = 0.25
"""At most four lines a second: under the lab's chat allowance (five a second), which
would otherwise hold lines back on purpose."""
LINE_TIMEOUT = 60.0
"""How long one line may take before the chat counts as stopped (a failure, not a measure)."""


class Chatter:
    """`with Chatter(lab_port) as chat:` ... `chat.check()` once the other clients are done."""

    def __init__(self, lab_port: int, *, pace: float = PACE_SECONDS, source: str | None = None):
        """`source`: the local address to chat from (another 127.x.y.z than the test's other
        clients, so that a limit per address counts them apart)."""
        self._port = lab_port
        self._source = source
        self._pace = pace
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chatter", daemon=True)
        self.sent = 0
        self.received = 0
        self.gaps: list[float] = []
        self.error: BaseException | None = None
        self._joined = threading.Event()

    def __enter__(self) -> Chatter:
        self._thread.start()
        if not self._joined.wait(TIMEOUT):
            self.stop()
            raise AssertionError(f"the chatters did not join: {self.error!r}")
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(LINE_TIMEOUT + TIMEOUT)

    @property
    def worst_gap(self) -> float:
        return max(self.gaps, default=0.0)

    def summary(self) -> str:
        return f"chat: {self.received}/{self.sent} lines back, worst gap {self.worst_gap:.3f} s"

    def check(self) -> None:
        """Wait for a line sent after the test's other clients are done to come back, then stop;
        then: no error, and every line sent came back."""
        later = self.sent + 1
        wait_until(
            lambda: self.received >= later or self.error or not self._thread.is_alive(),
            message=f"chat line {later} back ({self.summary()})",
            timeout=LINE_TIMEOUT,
        )
        self.stop()
        print(self.summary())
        assert self.error is None, f"the chat broke: {self.error!r} ({self.summary()})"
        assert not self._thread.is_alive(), f"the chat did not stop ({self.summary()})"
        assert self.received >= later and self.received == self.sent, self.summary()

    def _run(self) -> None:
        try:
            with (
                RawConnection(self._port, "ana", source=self._source) as ana,
                RawConnection(self._port, "bea", source=self._source) as bea,
            ):
                ana.join()
                bea.join()
                self._joined.set()
                while not self._stop.is_set():
                    self._one_line(ana, bea)
        except BaseException as error:  # reported by check(), in the test's thread
            self.error = error
            self._joined.set()

    def _one_line(self, ana: RawConnection, bea: RawConnection) -> None:
        self.sent += 1
        started = time.monotonic()
        ana.send_line(f"linea {self.sent} de la charla")
        bea.expect(message_containing(f"linea {self.sent} de la charla"), timeout=LINE_TIMEOUT)
        self.received += 1
        self.gaps.append(time.monotonic() - started)
        self._stop.wait(max(0.0, started + self._pace - time.monotonic()))  # a pace, not a wait
