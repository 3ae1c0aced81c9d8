"""`scripts/lab up --tls` (issue 19): a class CA and a server certificate made once per lab,
the server's key in a volume readable by the server's user only and in no image, the CA
given to every student, whose client verifies the server; the FTP door with the same
certificate (explicit FTPS, logins in clear refused); the teacher's console unchanged; and
the lab guide's Wireshark exercise in the lab: a capture of a student's TLS session reads
as nothing until TLS gets the client's key log (SSLKEYLOGFILE), then the ftplab dissector
decodes it. The ports are published on 127.0.0.1 only (LabScript's settings)."""

from __future__ import annotations

import ftplib
import re
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from integration.harness import TerminalClient, child_env
from support.tshark import count, decode, over_tls, require_tshark

from .classroom import LAB, LabScript
from .lab import SMALL_FILE, TIMEOUT, client_session, wait_until

pytestmark = pytest.mark.e2e

HOST = "127.0.0.1"
LAB_CONSOLE = Path(__file__).resolve().parents[2] / "tools" / "lab_console.py"
SERVER_KEY = "/etc/ftplab/tls/server.key"
STUDENT_CA = "/etc/ftplab/ca/ca.pem"


@pytest.fixture(scope="module")
def tls_lab(docker_client, e2e_images):
    lab = LabScript(docker_client, e2e_images["base"])
    try:
        lab.up_output = lab.check("up", "--students", "1", "--publish", "--tls")
        yield lab
        code, out, err = lab.run("down")
        assert code == 0, (out, err)
        assert (lab.tls_dir() / "ca.pem").exists(), "down keeps the class CA"
    finally:
        lab.down()
    assert not lab.tls_dir().exists(), "down --remove-certificates removes it"


@pytest.fixture(autouse=True)
def _show_lab_logs_on_failure(request):
    if "tls_lab" in request.fixturenames:
        request.node._ftplab_compose = request.getfixturevalue("tls_lab")


def run_in(container, *argv: str) -> str:
    result = container.exec_run(list(argv))
    assert result.exit_code == 0, result.output
    return result.output.decode("utf-8", "replace")


def test_up_and_status_say_that_both_doors_speak_tls(tls_lab):
    assert "TLS is on" in tls_lab.up_output, tls_lab.up_output
    status = tls_lab.check("status")
    assert "TLS:           on, both doors" in status, status
    assert str(tls_lab.tls_dir() / "ca.pem") in status


def test_the_certificate_names_the_server_as_students_reach_it(tls_lab):
    names = subprocess.run(
        ["openssl", "x509", "-in", str(tls_lab.tls_dir() / "server.pem"), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:server" in names and f"IP Address:{tls_lab.address(10)}" in names, names
    assert f"IP Address:{HOST}" in names, names


def test_the_servers_key_is_readable_by_the_server_only_and_in_no_image(tls_lab, e2e_images):
    server, alice = tls_lab.container("server"), tls_lab.container("alice")
    assert run_in(server, "stat", "-c", "%a %u", SERVER_KEY).split() == ["400", "10001"]
    mounts = {mount["Destination"]: mount for mount in server.attrs["Mounts"]}
    assert mounts["/etc/ftplab/tls"]["RW"] is False
    assert alice.exec_run(["test", "-e", SERVER_KEY]).exit_code != 0, "no student sees the key"
    assert "BEGIN CERTIFICATE" in run_in(alice, "cat", STUDENT_CA)
    assert {mount["Destination"]: mount["RW"] for mount in alice.attrs["Mounts"]}["/etc/ftplab/ca"] is False

    key_line = (tls_lab.tls_dir() / "server.key").read_text().splitlines()[1]
    for image in (e2e_images["server"], e2e_images["client"]):
        search = f"grep -rlF -e '{key_line}' / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; true"
        result = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", search],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.stdout == "", f"the server's key is in {image}: {result.stdout}"


def test_a_student_chats_and_downloads_over_tls_and_the_capture_decodes_only_with_the_key_log(
    tls_lab, tmp_path
):
    require_tshark()
    alice = tls_lab.container("alice")
    pcap, chat = tmp_path / "tls.pcap", f"esto viaja cifrado {uuid.uuid4().hex[:8]}"
    keylog = "/tmp/keys.log"
    # A student's session, as the guide's exercise has it: the key log in the environment.
    session = (
        f"printf '%s\\n' '{chat}' 'get {SMALL_FILE}' quit "
        f"| SSLKEYLOGFILE={keylog} ftplab-client --name alice2 --download-dir /tmp"
    )
    during = [str(LAB), "exec", "alice", "sh", "-c", session]
    output = tls_lab.check("capture", "server", "--seconds", "120", "-w", str(pcap), "--", *during)
    assert re.search(rf"(?m)^Guardado .*{re.escape(SMALL_FILE)}", output), output
    (tmp_path / "keys.log").write_text(run_in(alice, "cat", keylog))

    hidden = over_tls(2121, keylog=None)
    assert count(pcap, "tls.app_data", hidden) > 0
    assert count(pcap, "ftplab", hidden) == 0, "without the key log nothing of ftplab shows"
    assert chat.encode() not in pcap.read_bytes()

    fields = decode(pcap, preferences=over_tls(2121, tmp_path / "keys.log"))
    assert chat in fields["text"], fields["text"]
    assert fields["file.name"] == [SMALL_FILE]
    assert "alice2" in fields["sender"]


def test_this_computer_reaches_both_doors_over_tls_and_nothing_in_clear(tls_lab, tmp_path):
    ca = str(tls_lab.tls_dir() / "ca.pem")
    client = [sys.executable, "-m", "ftplab.client", "--host", HOST, "--port", str(tls_lab.published_port())]
    client += ["--download-dir", str(tmp_path), "--name", "casa"]
    env = child_env()
    verified = subprocess.run([*client, "--ca", ca], input="who\n", capture_output=True, text=True, env=env,
                              timeout=60)  # fmt: skip
    assert verified.returncode == 0, (verified.stdout, verified.stderr)
    assert "Conectados (" in verified.stdout
    clear = subprocess.run(client, input="who\n", capture_output=True, text=True, env=env, timeout=60)
    assert clear.returncode != 0 and "--tls" in clear.stdout + clear.stderr, (clear.stdout, clear.stderr)

    door = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=ca), timeout=TIMEOUT)
    door.connect(HOST, tls_lab.published_ftp_port())
    try:
        door.login("casa", "x")  # AUTH TLS first: the certificate verified for 127.0.0.1
        assert door.sock.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        door.close()
    plain = ftplib.FTP(timeout=TIMEOUT)
    plain.connect(HOST, tls_lab.published_ftp_port())
    try:
        with pytest.raises(ftplib.error_perm, match="^530"):
            plain.login("casa", "x")
    finally:
        plain.close()


def test_the_teachers_console_still_reaches_the_students(tls_lab, tmp_path):
    server, alice = tls_lab.container("server"), tls_lab.container("alice")
    token = f"hola clase {uuid.uuid4().hex[:8]}"
    command = [sys.executable, str(LAB_CONSOLE), server.id, "--prompt", "profe> "]
    with TerminalClient(0, None, tmp_path, command=command) as console:
        console.type(f"{token}\r")
        wait_until(
            lambda: token in alice.logs().decode("utf-8", "replace"), message="alice sees it", timeout=30
        )
        console.type("\x03")
        assert console.wait() == 0
    code, out, err = client_session(alice, "alice3", ["who"])
    assert code == 0 and "Conectados (" in out, (out, err)
