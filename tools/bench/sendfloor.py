"""The floor under a chat line's fan-out: how long one process takes to send one line to each of N
loopback TCP connections in a plain loop, with nothing else to do.

The receivers are a process of their own (forked), which reads every line and says so before the
next loop starts, so nothing competes with the loop for a core. On loopback a send also does the
receiving side's TCP work, so this is what N sends cost on this machine: a one-threaded server's
fan-out to N clients cannot take less. Run as `python -m bench.sendfloor N RUNS`; it prints one
JSON line, {"ms": [...]}, the milliseconds of each run's loop.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import socket
import sys
import time
import traceback

LINE = b"server> bench-mark-0\n"
"""About the size of the console line the fan-out part sends."""


def measure(count: int, runs: int) -> list[float]:
    """Milliseconds of each of `runs` loops sending LINE to `count` connections."""
    _allow_descriptors()
    with socket.create_server(("127.0.0.1", 0), backlog=4096) as listener:
        ready_read, ready_write = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(ready_read)
            _receive(listener.getsockname(), count, runs, ready_write)
        os.close(ready_write)
        senders = [listener.accept()[0] for _ in range(count)]
    try:
        milliseconds = [_send_once(senders, ready_read) for _ in range(runs)]
        _wait_for_receivers(ready_read)  # the last run's lines are read: closing is no longer news
        return milliseconds
    finally:
        for sender in senders:
            sender.close()
        os.close(ready_read)
        _, status = os.waitpid(child, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"the receivers ended with status {status}")


def _send_once(senders: list[socket.socket], ready_read: int) -> float:
    """One loop of sends, once the receivers have read every earlier line."""
    _wait_for_receivers(ready_read)
    began = time.perf_counter()
    for sender in senders:
        sender.send(LINE)
    return 1000 * (time.perf_counter() - began)


def _wait_for_receivers(ready_read: int) -> None:
    """Until the receivers say "r": connected, or every line sent so far read."""
    if os.read(ready_read, 1) != b"r":
        raise RuntimeError("the receivers stopped before reading every line")


def _receive(address, count: int, runs: int, ready_write: int) -> None:
    """The forked receivers: connect `count` times, say "r" on `ready_write`, then read each
    run's lines and say "r" again once all of them are read. A failure is printed (the parent
    shares stderr). Never returns."""
    status = 1
    try:
        selector = selectors.DefaultSelector()
        for _ in range(count):
            selector.register(socket.create_connection(address), selectors.EVENT_READ)
        os.write(ready_write, b"r")
        for _ in range(runs):
            _read_lines(selector, count)
            os.write(ready_write, b"r")
        status = 0
    except BaseException:  # said here, since the exit status alone says nothing
        traceback.print_exc()
    finally:
        os._exit(status)


def _read_lines(selector: selectors.BaseSelector, count: int) -> None:
    """Read until each of the `count` connections has given its line (at most 30 s)."""
    waiting, deadline = count, time.monotonic() + 30
    while waiting:
        events = selector.select(timeout=max(0.0, deadline - time.monotonic()))
        if not events:
            raise TimeoutError(f"{waiting} lines never came")
        for key, _ in events:
            data = key.fileobj.recv(4096)
            if not data:
                raise ConnectionError("a sender closed before its line")
            waiting -= data.count(b"\n")


def _allow_descriptors() -> None:
    """N connections need N descriptors here and N in the receivers: raise the soft limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(arguments: list[str]) -> None:
    count, runs = (int(argument) for argument in arguments)
    print(json.dumps({"ms": measure(count, runs)}))


if __name__ == "__main__":
    main(sys.argv[1:])
