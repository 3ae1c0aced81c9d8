"""logs: what the teacher's console leaves out of the log."""

from __future__ import annotations

import logging

from ftplab.logs import CHATTER_LOGGER, quiet_on_console


def test_the_console_leaves_out_client_commands_but_not_their_warnings_nor_other_lines():
    def record(name: str, level: int) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, "x", (), None)

    assert not quiet_on_console(record(CHATTER_LOGGER, logging.INFO))
    assert quiet_on_console(record(CHATTER_LOGGER, logging.WARNING))
    assert quiet_on_console(record("ftplab.server", logging.INFO))
