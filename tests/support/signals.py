"""Programs the tests start get Ctrl-C and Ctrl-\\ as they would from a terminal.

A shell that starts a command in the background without job control (`scripts/test &` in a
script, a `( ... & )`, nohup for SIGHUP) starts it with SIGINT and SIGQUIT ignored, and every
program it starts inherits that. A non-interactive bash cannot trap a signal that was ignored
when it started: `scripts/lab capture` then never hears the Ctrl-C a test sends it, and the
test waits out its deadline for a capture that is still running. A program's own handler, once
installed, is reset to the default by exec, so restoring one here reaches every child.

Under pytest-xdist a Ctrl-C reaches the controller and its workers at once (one process group).
Each worker stops its test and tears its fixtures down (an e2e worker removes its containers,
networks and swarm nodes); but an interrupted controller gives its workers 10 s, then kills
them, and what they had made stays. So the controller lets the workers take the first Ctrl-C
and waits for them to report it; a second one stops it at once.
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


def workers_first(config) -> None:
    """In pytest-xdist's controller, take no notice of the first Ctrl-C (see above)."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # someone else's handler, or ignored on purpose

    def first(_signum, _frame) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first)
