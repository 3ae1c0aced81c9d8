"""An FTP data connection's socket: for a RETR in clear the kernel holds at most
RETR_UNSENT_BYTES of the file unsent (see ftpdoor.RETR_UNSENT_BYTES for why), and one the
server connects resends a lost packet soon (net.resend_losses_soon)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from loop_fakes import FakeTime, make_loop

from ftplab import ftp
from ftplab.ftpdoor import RETR_UNSENT_BYTES, FtpControl, FtpData
from ftplab.storage import OpenFile
from support.tcp import KERNEL_SETS_RETRANSMIT_FLOOR, has_lowered_retransmit_floor

pytestmark = pytest.mark.skipif(not hasattr(socket, "TCP_NOTSENT_LOWAT"), reason="no TCP_NOTSENT_LOWAT")


@pytest.fixture
def data() -> Iterator[FtpData]:
    """A data connection on a real TCP socket (the loop's end), its peer connected, no transfer yet."""
    server, _door = make_loop(FakeTime())
    with socket.create_server(("127.0.0.1", 0)) as listener:
        peer = socket.create_connection(listener.getsockname())
        ours, address = listener.accept()
    ours.setblocking(False)
    control_ours, control_peer = socket.socketpair()
    control = FtpControl(control_ours, address, server.now, session=None, key=address[0])
    control.loop = server
    yield FtpData(ours, address, control)
    for sock in (ours, peer, control_ours, control_peer):
        sock.close()
    server._close_everything()


def unsent_limit(data: FtpData) -> int:
    return data.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT)


def begin_retr(data: FtpData, tmp_path: Path, size: int) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"x" * size)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert data.begin(ftp.SendFile(OpenFile(fd, "/file.bin", size, ()), 0))
    finally:
        os.close(fd)


def test_a_retr_bounds_what_the_kernel_holds_unsent(data: FtpData, tmp_path: Path):
    assert unsent_limit(data) != RETR_UNSENT_BYTES
    begin_retr(data, tmp_path, RETR_UNSENT_BYTES + 100_000)
    assert unsent_limit(data) == RETR_UNSENT_BYTES


def test_a_retr_of_a_file_within_the_bound_leaves_the_socket_as_it_was(data: FtpData, tmp_path: Path):
    """All of it may be unsent at once anyway: no system call for a bound that changes nothing."""
    before = unsent_limit(data)
    begin_retr(data, tmp_path, RETR_UNSENT_BYTES)
    assert unsent_limit(data) == before


def test_an_upload_leaves_the_socket_as_it_was(data: FtpData):
    before = unsent_limit(data)
    data.begin(ftp.ReceiveUpload(upload=None))
    assert unsent_limit(data) == before


@pytest.mark.skipif(not KERNEL_SETS_RETRANSMIT_FLOOR, reason="Linux 6.15+: TCP_RTO_MIN_US")
def test_an_active_data_connection_resends_a_lost_packet_soon(data: FtpData):
    """PORT/EPRT: the server connects; its socket gets the floor the door's listeners give theirs."""
    with socket.create_server(("127.0.0.1", 0)) as client_listening:
        active = FtpData.connect(data.control, client_listening.getsockname())
        assert active is not None
        with active.sock:
            assert has_lowered_retransmit_floor(active.sock)
