"""The passive ports' waiting line: a PASV that finds every port of the range
listening waits its turn for one to come free, and is refused (425) only after
its deadline; the FTP class test showed why (issue 17: ten ports, a class of
clients, 66 refusals in 45 s while each listener lived a few milliseconds)."""

from __future__ import annotations

from ftplab.passive import WaitingLine


def serve(line: WaitingLine, now: float, free_ports: int):
    """Serve the line with `free_ports` ports; returns (given, refused)."""
    given, refused = [], []

    def listen(waiter) -> bool:
        nonlocal free_ports
        if free_ports == 0:
            return False
        free_ports -= 1
        given.append(waiter)
        return True

    line.serve(now, listen, refused.append)
    return given, refused


def test_waiters_get_freed_ports_in_arrival_order():
    line = WaitingLine()
    for waiter in "abc":
        line.join(waiter, deadline=10.0)
    line.freed = True
    assert serve(line, now=1.0, free_ports=2) == (["a", "b"], [])
    line.freed = True
    assert serve(line, now=2.0, free_ports=1) == (["c"], [])
    assert not line


def test_nothing_is_tried_until_a_port_came_free():
    line = WaitingLine()
    line.join("a", deadline=10.0)
    assert serve(line, now=1.0, free_ports=5) == ([], [])  # no listener closed since: no bind storm
    assert line.wait_limit(now=1.0) == 9.0
    line.freed = True
    assert line.wait_limit(now=1.0) == 0.0


def test_a_waiter_past_its_deadline_is_refused_and_the_others_keep_their_turn():
    line = WaitingLine()
    line.join("early", deadline=5.0)
    line.join("late", deadline=9.0)
    assert serve(line, now=6.0, free_ports=0) == ([], ["early"])
    line.freed = True
    assert serve(line, now=7.0, free_ports=0) == ([], [])
    assert line.wait_limit(now=7.0) == 2.0
    line.leave("late")
    assert not line
