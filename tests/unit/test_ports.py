"""tests/support/ports.py: a port held only by connections in TIME-WAIT (left by a server that
reused addresses, as ftplab's listeners do) is free to a listener that binds with SO_REUSEADDR
(the server's passive ports, Docker's published ports); one that something listens on is not."""

from __future__ import annotations

import socket

from support.ports import HOST, all_free


def _port_in_time_wait() -> int:
    """A port whose listener (SO_REUSEADDR, as ftplab's) is gone and whose accepted
    connection, closed first on its side, sits in TIME-WAIT."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection((HOST, port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the side that closes first keeps the TIME-WAIT
            assert client.recv(1) == b""
    return port


def test_a_port_in_time_wait_is_free_to_a_listener_that_reuses_addresses():
    port = _port_in_time_wait()
    with socket.socket() as strict:
        try:
            strict.bind((HOST, port))
        except OSError:
            pass  # as expected: without SO_REUSEADDR the port counts as taken
        else:
            raise AssertionError("no TIME-WAIT was left on the port: the test proves nothing")
    assert all_free(range(port, port + 1))


def test_a_port_something_listens_on_is_not_free():
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not all_free(range(port, port + 1))
