"""The server and its descriptor limits: it raises its own, says when that is still too
low, and with `--selector select` turns away what select() cannot watch (the lab's lesson:
FD_SETSIZE is 1024)."""

from __future__ import annotations

import contextlib
import re
import resource
import socket

import pytest

from ftplab import protocol

from .harness import HOST, TIMEOUT, RawConnection, message_containing


@pytest.fixture
def many_descriptors():
    """Let this test process open a few thousand sockets of its own."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_server_raises_its_soft_limit_to_the_hard_one(start_server):
    server = start_server(command_prefix=["prlimit", "--nofile=256:2048", "--"])
    server.wait_for_log(re.compile(r"raised the open-files limit from 256 to 2048"))


def test_the_server_says_when_its_limit_is_too_low_for_max_clients(start_server):
    server = start_server(command_prefix=["prlimit", "--nofile=512:512", "--"], max_clients=5000)
    server.wait_for_log(re.compile(r"open-files limit \(512\) is too low for --max-clients 5000"))


def test_with_select_a_connection_past_fd_setsize_is_told_busy_and_the_rest_are_served(
    start_server, many_descriptors
):
    server = start_server(max_clients=2000, extra_args=["--selector", "select"])
    held: list[socket.socket] = []
    try:
        with RawConnection(server.port, "primera") as first:
            first.join()
            for _ in range(1030):  # the server's descriptors pass 1023 along the way
                held.append(socket.create_connection((HOST, server.port), timeout=TIMEOUT))
            server.wait_for_log(re.compile(r"select\(\) cannot watch descriptor \d+ \(FD_SETSIZE 1024\)"))
            refused = held[-1]
            refused.settimeout(TIMEOUT)
            data = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := refused.recv(4096):
                    data += chunk
            first.send_line("who")
            assert first.expect(message_containing("Conectados (")).text.startswith("Conectados (1)")
    finally:
        for sock in held:
            sock.close()
    receiver = protocol.Receiver(from_server=True)
    receiver.feed(data)
    assert receiver.next_event().code == "busy"
