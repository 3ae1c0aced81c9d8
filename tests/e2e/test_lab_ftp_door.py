"""The lab's FTP door from other computers (issue 17, item 8): `scripts/lab up --publish`
publishes the door and its passive ports (the same numbers outside as inside) and tells the
server the address to send FTP clients back to; `up` and `status` say how to reach it. This
computer reaches it through the published ports with ftplib and curl, as FileZilla on a
classroom computer would. The tests publish on 127.0.0.1 only (LabScript's settings), so the
address the door gives is 127.0.0.1."""

from __future__ import annotations

import ftplib
import hashlib
import re
import shutil
import subprocess

import pytest

from .classroom import LabScript
from .lab import BIG_FILE, SERVED_DIR, SMALL_FILE, TIMEOUT

pytestmark = pytest.mark.e2e

HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def published(docker_client, e2e_images):
    lab = LabScript(docker_client, e2e_images["base"])
    try:
        lab.up_output = lab.check("up", "--students", "1", "--publish")
        yield lab
    finally:
        lab.down()


@pytest.fixture(autouse=True)
def _show_lab_logs_on_failure(request):
    if "published" in request.fixturenames:
        request.node._ftplab_compose = request.getfixturevalue("published")


def served_sha256(lab: LabScript, name: str) -> str:
    output = lab.container("server").exec_run(["sha256sum", "--", f"{SERVED_DIR}/{name}"]).output
    return output.decode().split()[0]


def passive_range(lab: LabScript) -> str:
    return f"{lab.passive.start}-{lab.passive.stop - 1}"


def test_up_says_where_the_ftp_door_is_published(published):
    port = published.published_ftp_port()
    where = f"ftp://{HOST}:{port}, passive ports {passive_range(published)}"
    expected = f"FTP door is published on this computer only: {where}"
    assert expected in published.up_output, published.up_output
    bindings = published.container("server").attrs["NetworkSettings"]["Ports"]
    for passive in published.passive:
        assert bindings[f"{passive}/tcp"] == [{"HostIp": HOST, "HostPort": str(passive)}], (
            "passive ports published 1:1"
        )


def test_status_shows_how_to_reach_the_ftp_door(published):
    status = published.check("status")
    port = published.published_ftp_port()
    assert f"The FTP door:  server:2100 on labnet, passive ports {passive_range(published)}" in status, status
    assert f"published: ftp://{HOST}:{port}, passive ports {passive_range(published)}" in status, status


def test_ftplib_lists_and_downloads_through_the_published_ports_with_the_masquerade_address(published):
    client = ftplib.FTP()
    client.connect(HOST, published.published_ftp_port(), timeout=TIMEOUT)
    client.trust_server_pasv_ipv4_address = True  # go where the 227 reply says, as FileZilla does
    try:
        client.login("casa", "x")
        address, port = ftplib.parse227(client.sendcmd("PASV"))
        assert address == HOST, "PASV gives the address other computers reach, not the container's"
        assert port in published.passive
        assert SMALL_FILE in client.nlst()
        digest = hashlib.sha256()
        client.retrbinary(f"RETR {BIG_FILE}", digest.update)
        assert digest.hexdigest() == served_sha256(published, BIG_FILE)
        client.quit()
    finally:
        client.close()


def test_curl_lists_and_downloads_through_the_published_ports(published, tmp_path):
    curl = shutil.which("curl")
    assert curl, "curl is installed by scripts/test"
    url = f"ftp://{HOST}:{published.published_ftp_port()}"
    listing = subprocess.run(
        [curl, "-sS", "-v", "-u", "casa:x", f"{url}/"], capture_output=True, timeout=TIMEOUT
    )
    assert listing.returncode == 0, listing.stderr
    assert SMALL_FILE in listing.stdout.decode(), listing.stdout
    out = tmp_path / BIG_FILE
    fetched = subprocess.run(
        [curl, "-sS", "-v", "--disable-epsv", "-u", "casa:x", "-o", str(out), f"{url}/{BIG_FILE}"],
        capture_output=True,
        timeout=TIMEOUT,
    )
    assert fetched.returncode == 0, fetched.stderr
    advertised = re.search(rb"< 227 .*\((\d+,\d+,\d+,\d+),(\d+),(\d+)\)", fetched.stderr)
    assert advertised, fetched.stderr
    assert advertised.group(1) == HOST.replace(".", ",").encode()
    assert int(advertised.group(2)) * 256 + int(advertised.group(3)) in published.passive
    assert hashlib.sha256(out.read_bytes()).hexdigest() == served_sha256(published, BIG_FILE)
