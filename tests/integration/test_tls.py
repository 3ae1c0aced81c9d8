"""TLS on both doors (issue 19, first slice), with real clients on 127.0.0.1: the
ftplab client over TLS (a file byte-identical, chat both ways, none of it
readable on the wire), the FTP door's explicit FTPS with ftplib, curl and lftp,
data connections that must resume their control connection's session, the
client refusing a server it cannot verify, a stalled handshake timed out while
others chat, and --require-tls."""

from __future__ import annotations

import contextlib
import ftplib
import io
import os
import re
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from support.certificates import Certificates, fingerprint_of, tls_args
from support.recording_proxy import RecordingProxy

from .harness import (
    HOST,
    TOOL_TIMEOUT,
    ClientProcess,
    cpu_use,
    installed_tool,
    make_file,
    run_client,
    run_tool,
    server_args,
)

FILE_SIZE = 300_000
CHAT = "el examen es el martes a las nueve"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    files.mkdir()
    make_file(files / "notas.bin", FILE_SIZE, seed=19)
    return files


@pytest.fixture
def tls_server(start_server, root, certificates):
    return start_server(root=root, extra_args=tls_args(certificates, "--ftp-port", "0", "--allow-upload"))


class ReusingFtpTls(ftplib.FTP_TLS):
    """ftplib's FTP_TLS, resuming the control connection's TLS session on each data
    connection (the few lines every client of vsftpd's default require_ssl_reuse needs)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


def ftps(certificates: Certificates, port: int, kind=ReusingFtpTls, user: str = "ana") -> ftplib.FTP_TLS:
    context = ssl.create_default_context(cafile=str(certificates.ca))
    client = kind(context=context, timeout=10)
    client.connect(HOST, port)
    client.login(user, "x")
    client.prot_p()
    return client


# --- the lab door ---------------------------------------------------------------------


def test_lab_client_over_tls_gets_a_file_and_chats_both_ways_with_nothing_readable_on_the_wire(
    tls_server, start_client, client_dir, certificates, root
):
    ca = ["--ca", str(certificates.ca)]
    with RecordingProxy((HOST, tls_server.port)) as proxy:
        ana = ClientProcess(proxy.port, "ana", client_dir("ana"), extra_args=ca)
        bob = start_client(tls_server, "bob", extra_args=ca)
        ana.send("get notas.bin")
        ana.expect("SHA-256")
        ana.send(CHAT)
        bob.expect(f"ana> {CHAT}")
        bob.send("recibido, gracias")
        ana.expect("bob> recibido, gracias")
        assert (ana.download_dir / "notas.bin").read_bytes() == (root / "notas.bin").read_bytes()
        assert ana.quit() == 0 and bob.quit() == 0
    content = (root / "notas.bin").read_bytes()
    assert len(proxy.recorded) > FILE_SIZE, "the capture saw the whole session"
    for start in range(0, FILE_SIZE - 32, 10_000):
        assert content[start : start + 32] not in proxy.recorded
    for clear in (CHAT, "recibido, gracias", "notas.bin", "ana> "):
        assert clear.encode() not in proxy.recorded


def test_a_clear_client_on_the_tls_port_is_told_to_use_tls(tls_server, tmp_path):
    result = run_client(tls_server.port, [], name="ana", download_dir=tmp_path, lang="en")
    assert result.returncode != 0
    assert "--tls" in result.stderr, result  # in the server's language: the client never said its own


def test_the_teachers_console_shows_the_fingerprint_a_student_is_shown_and_the_doors(
    start_server, root, certificates
):
    server = start_server(root=root, extra_args=tls_args(certificates, "--ftp-port", "0", "--ftps-port", "0"))
    server.wait_for_output(f"TLS: la huella SHA-256 del certificado es {fingerprint_of(certificates.cert)}")
    server.wait_for_output(f"Puerta FTP en {HOST}:{server.ftp_port()}")
    server.wait_for_output(f"Puerta FTPS (TLS implícito) en {HOST}:{server.ftps_port()}")


def test_a_client_refuses_a_server_it_cannot_verify_and_shows_its_fingerprint(
    start_server, root, certificates, tmp_path
):
    stranger = ["--tls-cert", str(certificates.self_signed), "--tls-key", str(certificates.self_signed_key)]
    server = start_server(root=root, extra_args=stranger)
    shown = fingerprint_of(certificates.self_signed)
    cases = {
        "wrong CA": ["--ca", str(certificates.ca)],
        "no CA (the system's)": ["--tls"],
    }
    for case, args in cases.items():
        result = run_client(server.port, [], name="ana", download_dir=tmp_path, lang="en", extra_args=args)
        assert result.returncode == 1, case
        assert "Cannot verify the certificate" in result.stderr and shown in result.stderr, (case, result)
    pinned = run_client(
        server.port, [], name="ana", download_dir=tmp_path, lang="en", extra_args=["--fingerprint", shown]
    )
    assert pinned.returncode == 0, pinned
    changed = fingerprint_of(certificates.cert)
    result = run_client(
        server.port, [], name="ana", download_dir=tmp_path, lang="en", extra_args=["--fingerprint", changed]
    )
    assert result.returncode == 1 and "certificate has changed" in result.stderr, result
    assert changed in result.stderr and shown in result.stderr


def test_a_stalled_handshake_is_timed_out_while_another_client_chats(
    start_server, start_client, root, certificates
):
    server = start_server(root=root, extra_args=tls_args(certificates, "--join-timeout", "1"))
    ca = ["--ca", str(certificates.ca)]
    with socket.create_connection((HOST, server.port)) as stalled:
        stalled.sendall(STALLED_CLIENT_HELLO)
        ana = start_client(server, "ana", extra_args=ca)
        bob = start_client(server, "bob", extra_args=ca)
        ana.send("sigo aquí")
        bob.expect("ana> sigo aquí")
        with socket.create_connection((HOST, server.port)) as broken:
            broken.sendall(b"\x16\x03\x01\x00\x05hello")  # a record that is no handshake
            broken.settimeout(10)
            assert read_to_close(broken) == b""
        server.wait_for_log("TLS handshake failed")
        stalled.settimeout(10)
        assert read_to_close(stalled) == b"", "the stalled connection was closed without a word in clear"
    bob.send("y yo")
    ana.expect("bob> y yo")
    assert ana.quit() == 0 and bob.quit() == 0


def read_to_close(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return received


# --- the FTP door -----------------------------------------------------------------------


def test_ftplib_lists_retrieves_and_stores_over_tls_with_prot_p(tls_server, certificates, root):
    client = ftps(certificates, tls_server.ftp_port())
    features = client.sendcmd("FEAT")
    assert all(feature in features for feature in ("AUTH TLS", "PBSZ", "PROT"))
    assert client.nlst() == ["notas.bin"]
    received = io.BytesIO()
    client.retrbinary("RETR notas.bin", received.write)
    assert received.getvalue() == (root / "notas.bin").read_bytes()
    sent = make_file(root.parent / "subida.bin", 200_000, seed=7)
    assert client.storbinary("STOR subida.bin", io.BytesIO(sent)).startswith("226")
    assert (root / "subida.bin").read_bytes() == sent
    client.set_pasv(False)  # PORT: the server connects, and is still the TLS server
    assert sorted(client.nlst()) == ["notas.bin", "subida.bin"]
    client.quit()


def test_a_data_connection_without_the_control_connections_session_is_refused(tls_server, certificates):
    port = tls_server.ftp_port()
    fresh = ftps(certificates, port, kind=ftplib.FTP_TLS)  # a new TLS session on each data connection
    with pytest.raises((ssl.SSLError, OSError, ftplib.error_temp)):
        fresh.nlst()
    tls_server.wait_for_log("TLS session not resumed from the control connection")
    fresh.close()

    victim, thief = ftps(certificates, port), ftps(certificates, port, user="eve")
    data_port = int(re.search(r"\|(\d+)\|", victim.sendcmd("EPSV")).group(1))
    with socket.create_connection((HOST, data_port)) as raw:
        raw.settimeout(10)
        listing = b""
        try:
            stolen = thief.context.wrap_socket(raw, server_hostname=HOST, session=thief.sock.session)
            victim.putcmd("NLST")
            listing = read_to_close(stolen)
        except (ssl.SSLError, OSError):
            victim.putcmd("NLST")
    assert listing == b"", "the stolen data connection got the victim's listing"
    tls_server.wait_for_log(re.compile(r"refused the data connection of ana@.*not resumed"))
    first = victim.getmultiline()
    assert (victim.getmultiline() if first.startswith("150") else first).startswith("425")
    victim.close()
    thief.quit()


def test_curl_downloads_over_explicit_ftps(tls_server, certificates, root, tmp_path):
    target = tmp_path / "curl.bin"
    url = f"ftp://ana:x@{HOST}:{tls_server.ftp_port()}/notas.bin"
    result = run_tool(
        installed_tool("curl"), "-sS", "--ssl-reqd", "--cacert", str(certificates.ca), url, "-o", str(target)
    )
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == (root / "notas.bin").read_bytes()


def test_lftp_downloads_over_explicit_ftps(tls_server, certificates, root, tmp_path):
    script = f"set ftp:ssl-force true; set ssl:ca-file {certificates.ca}; get notas.bin -o lftp.bin; bye"
    port = str(tls_server.ftp_port())
    result = run_tool(installed_tool("lftp"), "-u", "ana,x", "-p", port, "-e", script, HOST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "lftp.bin").read_bytes() == (root / "notas.bin").read_bytes()


def test_require_tls_refuses_a_clear_login_and_takes_a_tls_one(start_server, root, certificates):
    server = start_server(root=root, extra_args=tls_args(certificates, "--ftp-port", "0", "--require-tls"))
    port = server.ftp_port()
    clear = ftplib.FTP()
    clear.connect(HOST, port, timeout=10)
    with pytest.raises(ftplib.error_perm, match=r"^530 .*AUTH TLS"):
        clear.login("ana", "x")
    clear.close()
    secured = ftps(certificates, port)
    assert secured.nlst() == ["notas.bin"]
    secured.quit()


# --- the server's side of TLS -------------------------------------------------------------


def test_a_finished_handshake_is_no_first_line_silent_tls_connections_are_evicted(
    start_server, start_client, root, certificates
):
    server = start_server(root=root, max_clients=2, extra_args=tls_args(certificates, "--join-timeout", "0"))
    context = ssl.create_default_context(cafile=str(certificates.ca))
    silent = [context.wrap_socket(socket.create_connection((HOST, server.port)), server_hostname=HOST)]
    silent.append(context.wrap_socket(socket.create_connection((HOST, server.port)), server_hostname=HOST))
    for _ in silent:
        server.wait_for_log(re.compile(r"connect \?@.* open\)"))
    ana = start_client(server, "ana", extra_args=["--ca", str(certificates.ca)])
    server.wait_for_log("evicting")
    assert ana.quit() == 0
    for connection in silent:
        connection.close()


@pytest.mark.parametrize(
    "problem",
    ["missing", "garbage", "key of another certificate", "encrypted key"],
)
def test_a_bad_certificate_or_key_stops_the_server_at_start_with_a_clear_error(
    problem, root, certificates, tmp_path
):
    cert, key = certificates.cert, certificates.key
    if problem == "missing":
        cert = tmp_path / "nothing.pem"
    elif problem == "garbage":
        cert = tmp_path / "garbage.pem"
        cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    elif problem == "key of another certificate":
        key = certificates.self_signed_key
    else:
        key = tmp_path / "encrypted.key"
        subprocess.run(
            ["openssl", "pkey", "-in", str(certificates.key), "-aes256", "-passout", "pass:x",
             "-out", str(key)], check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    args = ["--host", HOST, "--port", "0", "--root", str(root), "--name", "profe", "--ftp-port", "0"]
    args += ["--tls-cert", str(cert), "--tls-key", str(key)]
    result = subprocess.run(
        server_args(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30
    )
    assert result.returncode == 2, result
    error = result.stderr
    assert "no se pueden cargar el certificado o la clave TLS" in error, error
    if problem == "encrypted key":
        assert "la clave está cifrada" in error and "openssl pkey" in error


# --- rclone over explicit FTPS, and implicit FTPS (--ftps-port) ----------------------------


def rclone(certificates: Certificates, port: int, mode: str, *args: str) -> subprocess.CompletedProcess:
    """rclone on an on-the-fly remote (`mode` explicit_tls or tls, implicit), trusting the
    class CA: its FTP backend reads the system's roots, which Go takes from SSL_CERT_FILE
    (rclone's --ca-cert is for HTTP only). One FTP connection: rclone 1.60 shares one TLS
    session cache between its control connections, so a second one would offer another
    control's session on its data connections, which the door refuses (rclone issue 7234,
    fixed later with a cache per connection)."""
    tool = installed_tool("rclone")
    secret = run_tool(tool, "obscure", "x").stdout.decode().strip()
    remote = f":ftp,host={HOST},port={port},user=ana,pass={secret},{mode}=true,concurrency=1:"
    command = [tool, "--config", "/dev/null", "--low-level-retries", "1", "--retries", "1"]
    command += [a.replace("REMOTE:", remote) for a in args]
    environment = {**os.environ, "SSL_CERT_FILE": str(certificates.ca)}
    return subprocess.run(command, capture_output=True, timeout=TOOL_TIMEOUT, env=environment, check=False)


@pytest.fixture
def both_ports(start_server, root, certificates):
    """A server with the explicit FTP door and the implicit FTPS port."""
    args = tls_args(certificates, "--ftp-port", "0", "--ftps-port", "0", "--allow-upload")
    server = start_server(root=root, extra_args=args)
    return server, {"explicit_tls": server.ftp_port(), "tls": server.ftps_port()}


@pytest.mark.parametrize("mode", ["explicit_tls", "tls"])
def test_rclone_lists_copies_down_and_up_over_tls(mode, both_ports, certificates, root, tmp_path):
    server, ports = both_ports
    listed = rclone(certificates, ports[mode], mode, "lsf", "REMOTE:")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.decode().split() == ["notas.bin"]
    down = tmp_path / "down"
    copied = rclone(certificates, ports[mode], mode, "copy", "REMOTE:notas.bin", str(down))
    assert copied.returncode == 0, copied.stderr
    assert (down / "notas.bin").read_bytes() == (root / "notas.bin").read_bytes()
    up = tmp_path / "up"
    up.mkdir()
    sent = make_file(up / f"subida-{mode}.bin", 250_000, seed=11)
    copied = rclone(certificates, ports[mode], mode, "copy", str(up), "REMOTE:")
    assert copied.returncode == 0, copied.stderr
    assert (root / f"subida-{mode}.bin").read_bytes() == sent
    assert "not resumed" not in server.stderr.text


def test_rclone_refuses_a_server_its_ca_did_not_sign(start_server, root, certificates):
    stranger = ["--tls-cert", str(certificates.self_signed), "--tls-key", str(certificates.self_signed_key)]
    server = start_server(root=root, extra_args=[*stranger, "--ftp-port", "0"])
    listed = rclone(certificates, server.ftp_port(), "explicit_tls", "lsf", "REMOTE:")
    assert listed.returncode != 0
    assert "x509: " in listed.stderr.decode(), listed.stderr  # no IP SAN, no CA: either is said


class ImplicitFtpTls(ReusingFtpTls):
    """ftplib has no implicit FTPS: TLS from the connection's first byte, then the 220."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        self.host, self.port = host, port
        raw = socket.create_connection((host, port), self.timeout)
        self.af = raw.family
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def test_ftplib_over_implicit_ftps_with_data_protected_by_default(both_ports, certificates, root):
    server, ports = both_ports
    context = ssl.create_default_context(cafile=str(certificates.ca))
    client = ImplicitFtpTls(context=context, timeout=10)
    assert client.connect(HOST, ports["tls"]).startswith("220")
    client.login("ana", "x")  # no AUTH TLS: ftplib sees the socket is TLS already
    with pytest.raises(ftplib.error_perm, match="^503"):
        client.sendcmd("AUTH TLS")
    client._prot_p = True  # no PBSZ/PROT sent: the data connection is protected all the same
    assert client.nlst() == ["notas.bin"]
    received = io.BytesIO()
    client.retrbinary("RETR notas.bin", received.write)
    assert received.getvalue() == (root / "notas.bin").read_bytes()
    client.prot_p()  # what a careful client says anyway
    sent = make_file(root.parent / "implicita.bin", 100_000, seed=5)
    assert client.storbinary("STOR implicita.bin", io.BytesIO(sent)).startswith("226")
    assert (root / "implicita.bin").read_bytes() == sent
    client.quit()


def test_a_clear_client_on_the_implicit_port_gets_nothing_readable(both_ports):
    _, ports = both_ports
    with socket.create_connection((HOST, ports["tls"])) as clear:
        clear.sendall(b"USER ana\r\n")
        clear.settimeout(10)
        assert b"220" not in read_to_close(clear)


def test_curl_over_implicit_ftps_both_ways(both_ports, certificates, root, tmp_path):
    _, ports = both_ports
    curl = installed_tool("curl")
    base = f"ftps://ana:x@{HOST}:{ports['tls']}"
    target = tmp_path / "curl.bin"
    result = run_tool(curl, "-sS", "--cacert", str(certificates.ca), f"{base}/notas.bin", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == (root / "notas.bin").read_bytes()
    sent = make_file(tmp_path / "curl-up.bin", 120_000, seed=3)
    result = run_tool(
        curl,
        "-sS",
        "--cacert",
        str(certificates.ca),
        "-T",
        str(sent_path := tmp_path / "curl-up.bin"),
        f"{base}/",
    )
    assert result.returncode == 0, result.stderr
    assert (root / sent_path.name).read_bytes() == sent
    wrong = run_tool(
        curl, "-sS", "--cacert", str(certificates.other_ca), f"{base}/notas.bin", "-o", str(target)
    )
    assert wrong.returncode == 60, wrong.stderr  # CURLE_PEER_FAILED_VERIFICATION


def test_lftp_over_implicit_ftps(both_ports, certificates, root, tmp_path):
    _, ports = both_ports
    settings = f"set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file {certificates.ca}; "
    settings += "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
    script = settings + f"open -u ana,x ftps://{HOST}:{ports['tls']}; get notas.bin -o lftp.bin; bye"
    result = run_tool(installed_tool("lftp"), "-e", script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "lftp.bin").read_bytes() == (root / "notas.bin").read_bytes()


def test_an_upload_sent_with_the_end_of_its_handshake_before_stor_is_kept_whole(
    tls_server, certificates, root
):
    """A client may finish TLS and send the whole file (close_notify too) in one go, before
    its STOR arrives: the bytes decrypted with the handshake's end must not be lost."""
    client = ftps(certificates, tls_server.ftp_port())
    client.voidcmd("TYPE I")
    data_port = int(re.search(r"\|(\d+)\|", client.sendcmd("EPSV")).group(1))
    sent = make_file(root.parent / "temprana.bin", 40_000, seed=23)
    with socket.create_connection((HOST, data_port), timeout=10) as raw:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = client.context.wrap_bio(incoming, outgoing, server_hostname=HOST, session=client.sock.session)
        while not handshake_step(tls):
            raw.sendall(outgoing.read())
            incoming.write(raw.recv(65536))
        tls.write(sent)
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.unwrap()  # our close_notify; the server's comes after the STOR
        raw.sendall(outgoing.read())  # the client's Finished, the file and close_notify at once
        assert client.sendcmd("STOR temprana.bin").startswith("150")
        assert client.voidresp().startswith("226")
    assert (root / "temprana.bin").read_bytes() == sent
    client.quit()


def handshake_step(tls: ssl.SSLObject) -> bool:
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


def test_a_capture_of_an_ftps_session_shows_no_command_name_or_file_byte(tls_server, certificates, root):
    """Both connections of an FTPS download (PROT P) through recording proxies: after the
    AUTH TLS exchange nothing is readable, neither the login and file name nor the file."""
    proxies: list[RecordingProxy] = []

    class ProxiedData(ReusingFtpTls):
        def makepasv(self):
            host, port = super().makepasv()
            proxies.append(RecordingProxy((host, port)))
            return HOST, proxies[-1].port

    with RecordingProxy((HOST, tls_server.ftp_port())) as control:
        client = ftps(certificates, control.port, kind=ProxiedData)
        received = io.BytesIO()
        client.retrbinary("RETR notas.bin", received.write)
        client.quit()
    for proxy in proxies:
        proxy.close()
    content = (root / "notas.bin").read_bytes()
    assert received.getvalue() == content
    (data,) = proxies
    assert len(data.recorded) > FILE_SIZE, "the capture saw the whole file go by"
    for start in range(0, FILE_SIZE - 32, 10_000):
        assert content[start : start + 32] not in data.recorded
    assert b"AUTH TLS" in control.recorded, "the clear part was captured"
    for clear in (b"USER", b"ana", b"notas.bin", b"RETR", b"PROT"):
        assert clear not in control.recorded.split(b"234 ", 1)[1], clear


def test_a_client_asking_for_tls_from_a_clear_server_says_so(start_server, certificates, tmp_path):
    server = start_server()
    args = ["--ca", str(certificates.ca)]
    result = run_client(server.port, [], name="ana", download_dir=tmp_path, lang="en", extra_args=args)
    assert result.returncode == 1, result
    assert "The server does not speak TLS, or the handshake failed" in result.stderr, result


def test_a_stalled_handshake_on_the_implicit_port_is_timed_out_and_costs_no_cpu(
    start_server, root, certificates
):
    """The door's 220 waits for the handshake; the loop must not spin on a writable socket
    meanwhile (it did: a whole core until the join timeout)."""
    args = tls_args(certificates, "--ftps-port", "0", "--join-timeout", "1")
    server = start_server(root=root, extra_args=args)
    with socket.create_connection((HOST, server.ftps_port())) as stalled, cpu_use(server.pid) as used:
        stalled.sendall(STALLED_CLIENT_HELLO)
        stalled.settimeout(10)
        assert read_to_close(stalled) == b"", "closed without a word in clear"
    server.wait_for_log(re.compile(r"disconnect \?@127\.0\.0\.1:\d+ \(ftp\)"))
    assert used.share < IDLE_SHARE, used


def test_a_stalled_handshake_on_a_data_connection_is_timed_out_and_costs_no_cpu(
    start_server, root, certificates
):
    """The file waits for the data connection's handshake (PROT P) without the loop spinning,
    until --data-timeout closes it; the control connection goes on."""
    args = tls_args(certificates, "--ftp-port", "0", "--data-timeout", "1")
    server = start_server(root=root, extra_args=args)
    client = ftps(certificates, server.ftp_port())
    with socket.create_connection(client.makepasv()) as stalled:
        client.putcmd("RETR notas.bin")
        assert client.getline().startswith("150")
        with cpu_use(server.pid) as used:
            stalled.sendall(STALLED_CLIENT_HELLO)
            stalled.settimeout(10)
            assert read_to_close(stalled) == b"", "closed without a byte of the file"
    assert client.getmultiline().startswith("4"), "the transfer failed"
    assert client.voidcmd("NOOP").startswith("200")
    client.quit()
    assert used.share < IDLE_SHARE, used


STALLED_CLIENT_HELLO = b"\x16\x03\x01\x02\x00"
"""The start of a ClientHello, never finished."""

IDLE_SHARE = 0.2
"""Of a core, at most, while the server waits for a stalled peer (a spinning loop takes
all it gets: a whole core when the machine is idle)."""
