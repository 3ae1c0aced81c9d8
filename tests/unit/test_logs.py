"""logs: what the teacher's console leaves out of the log, and how a flood of lines is counted."""

from __future__ import annotations

import logging

from ftplab.logs import (
    CHATTER_LOGGER,
    LINES_PER_WINDOW,
    WINDOW_SECONDS,
    RepeatLimiter,
    limit_key,
    quiet_on_console,
)
from support.clock import MovedClock


def test_the_console_leaves_out_client_commands_but_not_their_warnings_nor_other_lines():
    def record(name: str, level: int) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, "x", (), None)

    assert not quiet_on_console(record(CHATTER_LOGGER, logging.INFO))
    assert quiet_on_console(record(CHATTER_LOGGER, logging.WARNING))
    assert quiet_on_console(record("ftplab.server", logging.INFO))


def _record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("ftplab.server", logging.INFO, __file__, 1, message, args, None)


def test_a_connection_label_counts_by_its_address_and_other_arguments_by_themselves():
    assert limit_key("ana@10.0.0.3:51234") == "10.0.0.3"
    assert limit_key("?@10.0.0.3:51234 (ftp)") == "10.0.0.3"
    assert limit_key("data of ana@::1:2121 (ftp)") == "::1"
    assert limit_key("notas@clase.txt") == "notas@clase.txt"
    assert limit_key(42) == "42"


def test_a_flood_of_connections_from_one_address_is_limited_and_counted_per_kind_and_address():
    clock = MovedClock(0.0)
    limiter = RepeatLimiter(clock)
    flood = [_record("joined %s", f"evil{port}@127.0.0.1:{port}") for port in range(1024, 11024)]
    passed = sum(limiter.filter(record) for record in flood)
    assert passed == LINES_PER_WINDOW, "10,000 connections from one address: one kind of line"
    assert limiter.filter(_record("joined %s", "ana@10.0.0.7:40000")), "another address is not silenced"
    assert limiter.filter(_record("disconnect %s", "evil@127.0.0.1:1")), "nor another kind of line"

    reported: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = reported.append
    handler.addFilter(limiter)
    logger = logging.getLogger("ftplab.server")
    logger.addHandler(handler)
    try:
        clock.now += WINDOW_SECONDS
        assert limiter.filter(_record("joined %s", "evil@127.0.0.1:2"))
    finally:
        logger.removeHandler(handler)
    assert [record.getMessage() for record in reported] == [
        f"{10_000 - LINES_PER_WINDOW} more log lines like 'joined %s' (127.0.0.1) held back in the last 10 s"
    ]
