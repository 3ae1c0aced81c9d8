"""Programs the tests start get Ctrl-C and Ctrl-\\ as they would from a terminal.

A shell that starts a command in the background without job control (`scripts/test &` in a
script, a `( ... & )`, nohup for SIGHUP) starts it with SIGINT and SIGQUIT ignored, and every
program it starts inherits that. A non-interactive bash cannot trap a signal that was ignored
when it started: `scripts/lab capture` then never hears the Ctrl-C a test sends it, and the
test waits out its deadline for a capture that is still running. A program's own handler, once
installed, is reset to the default by exec, so restoring one here reaches every child.
"""

from __future__ import annotations

import signal

DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGQUIT: signal.SIG_DFL}
"""What Python itself sets when it does not start with the signal ignored."""


def as_from_a_terminal() -> None:
    """Undo an inherited 'ignore' of SIGINT and SIGQUIT in this process, hence in its children."""
    for number, handler in DEFAULTS.items():
        if signal.getsignal(number) == signal.SIG_IGN:
            signal.signal(number, handler)
