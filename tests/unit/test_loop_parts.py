"""The loop's small parts: the clock that skips a stopped process's pause, and the log's repeat limit."""

from __future__ import annotations

import logging

from ftplab import logs
from ftplab.clock import HOUSEKEEPING_SECONDS, LONGEST_EXPECTED_TURN, LoopClock


class FakeTime:
    def __init__(self):
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def test_the_clock_follows_time_while_the_loop_turns():
    source = FakeTime()
    clock = LoopClock(source)
    start = clock.tick()
    for _ in range(10):
        source.value += HOUSEKEEPING_SECONDS
        clock.tick()
    assert clock.tick() - start == 10 * HOUSEKEEPING_SECONDS


def test_the_clock_does_not_count_a_pause_of_the_whole_process():
    source = FakeTime()
    clock = LoopClock(source)
    start = clock.tick()
    source.value += 600  # SIGSTOP for ten minutes, then SIGCONT
    after_pause = clock.tick()
    assert after_pause - start <= LONGEST_EXPECTED_TURN
    source.value += 1.0
    assert clock.tick() - after_pause == 1.0, "after the pause, time runs normally again"


def _record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("ftplab.server", logging.INFO, __file__, 1, message, args, None)


def test_repeated_log_lines_are_limited_per_kind_and_connection_and_counted():
    source = FakeTime()
    limiter = logs.RepeatLimiter(source)
    passed = [limiter.filter(_record("%s: %s", "ana@1", "who")) for _ in range(logs.LINES_PER_WINDOW + 30)]
    assert passed.count(True) == logs.LINES_PER_WINDOW
    assert limiter.filter(_record("%s: %s", "bob@2", "who")), "another connection is not silenced"

    reported = []
    handler = logging.Handler()
    handler.emit = reported.append
    handler.addFilter(limiter)  # as the server installs it: the report passes through the limiter too
    logger = logging.getLogger("ftplab.server")
    logger.addHandler(handler)
    try:
        source.value += logs.WINDOW_SECONDS
        assert limiter.filter(_record("%s: %s", "ana@1", "who")), "a new window lets lines through again"
    finally:
        logger.removeHandler(handler)
    assert [record.getMessage() for record in reported] == [
        f"30 more log lines like '%s: %s' (ana@1) held back in the last {logs.WINDOW_SECONDS:.0f} s"
    ]
