"""The FTP door between separate machines: a client machine on the lab network fetches
and lists with a real FTP client, and the host reaches a published port through NAT with
--masquerade-address, as a classroom computer would reach the teacher's."""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import subprocess

import pytest

from .lab import BIG_FILE, SERVED_DIR, SMALL_FILE

pytestmark = pytest.mark.e2e

FTP_PORT = 2100
FTP_FETCH = """
import ftplib, hashlib, sys
client = ftplib.FTP()
client.connect(sys.argv[1], int(sys.argv[2]), timeout=20)
client.login("bea", "x")
print("names:", sorted(client.nlst()))
digest = hashlib.sha256()
client.retrbinary("RETR " + sys.argv[3], digest.update)
print("sha256:", digest.hexdigest())
client.quit()
"""


def test_a_client_machine_lists_and_fetches_through_the_ftp_door(lab):
    server = lab.server(settings={"FTPLAB_FTP_PORT": str(FTP_PORT)})
    server.wait_for_log(f"FTP door listening on 0.0.0.0:{FTP_PORT}")
    host = lab.client_host("bea-pc", server)
    output = host.check(["python3", "-c", FTP_FETCH, "server", str(FTP_PORT), BIG_FILE])
    assert f"sha256: {server.served_sha256(BIG_FILE)}" in output, output
    assert SMALL_FILE in output.split("names:", 1)[1], output
    log = server.wait_for_log(re.compile(r"joined bea@[\d.]+:\d+ \(ftp\)"))
    assert host.ip in log, f"the server saw bea at her own machine's address: {log}"


def _free_port_block(count: int) -> int:
    """The first of `count` consecutive ports free on the host's loopback."""
    for first in range(30100, 40000, count):
        socks = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                socks.append(sock)
            return first
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise AssertionError("no free block of ports on the host")


def test_the_published_door_works_from_the_host_with_a_masquerade_address(lab, tmp_path):
    curl = shutil.which("curl")
    assert curl, "curl is installed by scripts/test"
    first = _free_port_block(4)
    control, passive = first, range(first + 1, first + 4)
    server = lab.server(
        settings={
            "FTPLAB_FTP_PORT": str(FTP_PORT),
            "FTPLAB_PASSIVE_PORTS": f"{passive.start}-{passive.stop - 1}",
            "FTPLAB_MASQUERADE_ADDRESS": "127.0.0.1",
        },
        published={f"{FTP_PORT}/tcp": ("127.0.0.1", control)}
        | {f"{port}/tcp": ("127.0.0.1", port) for port in passive},
    )
    server.wait_for_log(f"FTP door listening on 0.0.0.0:{FTP_PORT}")
    url = f"ftp://127.0.0.1:{control}"
    out = tmp_path / BIG_FILE
    listing = subprocess.run(
        [curl, "-sS", "-v", "--disable-epsv", "-u", "casa:x", f"{url}/"], capture_output=True, timeout=60
    )
    assert listing.returncode == 0, listing.stderr
    assert SMALL_FILE in listing.stdout.decode(), listing.stdout
    advertised = re.search(rb"< 227 .*\((\d+,\d+,\d+,\d+),(\d+),(\d+)\)", listing.stderr)
    assert advertised, listing.stderr
    assert advertised.group(1) == b"127,0,0,1", "PASV gives the masquerade address, not the container's"
    assert int(advertised.group(2)) * 256 + int(advertised.group(3)) in passive
    fetched = subprocess.run(
        [curl, "-sS", "--disable-epsv", "-u", "casa:x", "-o", str(out), f"{url}/{BIG_FILE}"],
        capture_output=True,
        timeout=60,
    )
    assert fetched.returncode == 0, fetched.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == server.sha256(f"{SERVED_DIR}/{BIG_FILE}")
