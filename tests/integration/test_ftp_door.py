"""The FTP door of the real server, against real FTP clients (ftplib, curl, wget, lftp)
on 127.0.0.1: the same process, the same loop and the same files as the lab's door."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import re
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import HOST, ServerProcess, installed_tool, run_tool

CLIENT_TIMEOUT = 20
BIG = 3 * 1024 * 1024 + 17


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    (files / "sub" / "deeper").mkdir(parents=True)
    (files / "empty.bin").write_bytes(b"")
    (files / "one.bin").write_bytes(b"1")
    (files / "big.bin").write_bytes(os.urandom(BIG))
    (files / "sub" / "notas de clase.txt").write_bytes(b"apuntes\n")
    (files / "sub" / "deeper" / "d.txt").write_bytes(b"deep")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    return files


class FtpServer:
    """A real ftplab server with its FTP door open on a free port."""

    def __init__(self, server: ServerProcess):
        self.server = server
        self.port = server.ftp_port()


@pytest.fixture
def ftp_server(start_server, root):
    """`ftp_server(**options)`: start the server on `root` with the FTP door; options as flags."""

    def start(*args: str, **options) -> FtpServer:
        return FtpServer(start_server(root=root, extra_args=["--ftp-port", "0", *args], **options))

    return start


def connect(door, user: str = "alice", password: str = "x") -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(HOST, door.port, timeout=CLIENT_TIMEOUT)
    client.login(user, password)
    return client


def fetch(client: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    out = io.BytesIO()
    client.retrbinary(f"RETR {name}", out.write, rest=rest)
    return out.getvalue()


# --- ftplib ------------------------------------------------------------------------


@pytest.mark.parametrize("passive", [True, False])
@pytest.mark.parametrize("name", ["empty.bin", "one.bin", "big.bin"])
def test_ftplib_retrieves_byte_identical_files(ftp_server, root, name, passive):
    door = ftp_server()
    client = connect(door)
    client.set_pasv(passive)
    assert fetch(client, name) == (root / name).read_bytes()
    client.quit()


def test_ftplib_login_directories_and_facts(ftp_server, root):
    door = ftp_server()
    client = connect(door, "anonymous", "guest@example.org")
    assert client.getwelcome().startswith("220 ")
    assert client.pwd() == "/"
    assert client.nlst() == ["big.bin", "empty.bin", "one.bin", "sub"]
    client.cwd("sub")
    assert client.pwd() == "/sub"
    facts = dict(client.mlsd())
    assert facts["notas de clase.txt"]["type"] == "file" and facts["notas de clase.txt"]["size"] == "8"
    assert facts["deeper"]["type"] == "dir"
    assert fetch(client, "deeper/d.txt") == b"deep"
    client.cwd("..")
    assert client.size("big.bin") == BIG
    assert client.sendcmd("MDTM one.bin").startswith("213 ")
    lines: list[str] = []
    client.retrlines("LIST sub", lines.append)
    assert [line.split(None, 8)[-1] for line in lines] == ["deeper", "notas de clase.txt"]
    client.quit()


def test_ftplib_resume_with_rest(ftp_server, root):
    door = ftp_server()
    client = connect(door)
    assert fetch(client, "big.bin", rest=BIG - 1000) == (root / "big.bin").read_bytes()[-1000:]
    client.quit()


def test_the_teachers_console_says_what_each_retr_sent_as_for_a_lab_get(ftp_server):
    door = ftp_server()
    client = connect(door)
    fetch(client, "sub/notas de clase.txt")
    fetch(client, "one.bin", rest=1)
    client.quit()
    door.server.wait_for_output("alice descargó sub/notas de clase.txt (8 B)")
    door.server.wait_for_output("alice descargó one.bin (0 B)")


def test_ftplib_errors(ftp_server, root):
    door = ftp_server()
    client = ftplib.FTP()
    client.connect(HOST, door.port, timeout=CLIENT_TIMEOUT)
    with pytest.raises(ftplib.error_perm, match="^530"):
        client.sendcmd("PWD")
    client.login("alice", "x")
    with pytest.raises(ftplib.error_perm, match="^502"):
        client.sendcmd("SITE CHMOD 777 one.bin")
    with pytest.raises(ftplib.error_perm, match="^550"):
        fetch(client, "../secret.txt/x")
    with pytest.raises(ftplib.error_perm, match="^550"):
        fetch(client, "nothing.bin")
    with pytest.raises(ftplib.error_perm, match="^550"):
        client.storbinary("STOR new.bin", io.BytesIO(b"data"))
    assert not (root / "new.bin").exists()
    with pytest.raises(ftplib.error_perm, match="^501"):
        client.sendcmd("PORT 127,0,0,2,200,10")
    with pytest.raises(ftplib.error_perm, match="^501"):
        client.sendcmd("EPRT |1|127.0.0.1|21|")
    client.quit()


def test_ftplib_upload_when_enabled(ftp_server, root):
    payload = os.urandom(200_000)
    door = ftp_server("--allow-upload", "--max-upload-bytes", "300000")
    client = connect(door)
    client.storbinary("STOR sub/nuevo.bin", io.BytesIO(payload))
    assert (root / "sub" / "nuevo.bin").read_bytes() == payload
    with pytest.raises(ftplib.error_perm, match="^553"):
        client.storbinary("STOR sub/nuevo.bin", io.BytesIO(b"other"))
    try:
        client.storbinary("STOR huge.bin", io.BytesIO(os.urandom(400_000)))
    except OSError:  # the server closed the data connection while the client was still sending
        with pytest.raises(ftplib.error_perm, match="^552"):
            client.voidresp()
    except ftplib.error_perm as error:
        assert str(error).startswith("552")
    else:
        pytest.fail("an upload over the limit was accepted")
    assert not (root / "huge.bin").exists()
    assert client.mkd("made") == "/made"
    client.quit()
    door.server.wait_for_log(re.compile(r"upload /sub/nuevo\.bin from alice@\S+ \(ftp\): 200000 bytes"))
    assert (root / "sub" / "nuevo.bin").read_bytes() == payload


# --- curl and wget --------------------------------------------------------------------


@pytest.mark.parametrize("epsv", [True, False])
def test_curl_lists_and_downloads(ftp_server, root, tmp_path, epsv):
    curl = installed_tool("curl")
    options = () if epsv else ("--disable-epsv",)
    door = ftp_server()
    url = f"ftp://{HOST}:{door.port}"
    listing = run_tool(curl, "-sS", "-u", "ana:x", *options, f"{url}/sub/")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.decode().splitlines()[-1].endswith(" notas de clase.txt")
    out = tmp_path / "big.out"
    done = run_tool(curl, "-sS", "-u", "ana:x", *options, "-o", str(out), f"{url}/big.bin")
    assert done.returncode == 0, done.stderr
    assert (
        hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256((root / "big.bin").read_bytes()).digest()
    )


def test_curl_resumes_and_uploads(ftp_server, root, tmp_path):
    curl = installed_tool("curl")
    partial = tmp_path / "big.part"
    partial.write_bytes((root / "big.bin").read_bytes()[:12345])
    upload = tmp_path / "subida.txt"
    upload.write_bytes(b"hola\n" * 1000)
    door = ftp_server("--allow-upload")
    url = f"ftp://{HOST}:{door.port}"
    resumed = run_tool(curl, "-sS", "-u", "ana:x", "-C", "-", "-o", str(partial), f"{url}/big.bin")
    assert resumed.returncode == 0, resumed.stderr
    sent = run_tool(curl, "-sS", "-u", "ana:x", "-T", str(upload), f"{url}/sub/")
    assert sent.returncode == 0, sent.stderr
    again = run_tool(curl, "-sS", "-u", "ana:x", "-T", str(upload), f"{url}/sub/")
    assert again.returncode != 0  # never overwritten
    assert partial.read_bytes() == (root / "big.bin").read_bytes()
    assert (root / "sub" / "subida.txt").read_bytes() == upload.read_bytes()


def test_wget_downloads(ftp_server, root, tmp_path):
    wget = installed_tool("wget")
    door = ftp_server()
    done = run_tool(
        wget, "-q", "-O", "d.txt", f"ftp://ana:x@{HOST}:{door.port}/sub/deeper/d.txt", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "d.txt").read_bytes() == b"deep"


LFTP_SETTINGS = (
    "set cmd:fail-exit yes; set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; "
    "set net:reconnect-interval-base 1; "
)


def lftp(port: int, commands: str, cwd: Path) -> subprocess.CompletedProcess:
    script = f"{LFTP_SETTINGS}{commands}; quit"
    return run_tool(installed_tool("lftp"), "-u", "ana,x", "-p", str(port), "-e", script, HOST, cwd=cwd)


def tree_of(directory: Path) -> dict[str, bytes | None]:
    return {
        str(path.relative_to(directory)): (path.read_bytes() if path.is_file() else None)
        for path in sorted(directory.rglob("*"))
    }


def test_lftp_mirrors_the_whole_tree(ftp_server, root, tmp_path):
    copy = tmp_path / "copy"
    door = ftp_server()
    done = lftp(door.port, f"mirror / {copy}", tmp_path)
    assert done.returncode == 0, done.stderr
    assert tree_of(copy) == tree_of(root)


def test_lftp_mirror_reverse_uploads(ftp_server, root, tmp_path):
    local = tmp_path / "local"
    (local / "nested" / "dir").mkdir(parents=True)
    (local / "top.txt").write_bytes(b"top")
    (local / "nested" / "dir" / "n.bin").write_bytes(os.urandom(70_000))
    door = ftp_server("--allow-upload")
    done = lftp(door.port, f"mirror -R {local} /incoming", tmp_path)
    assert done.returncode == 0, done.stderr
    assert tree_of(root / "incoming") == tree_of(local)


# --- the door in the lab: one room, one set of limits, one loop -----------------------


def test_ftp_users_are_in_the_room_and_announced_to_the_lab(ftp_server, start_client, tmp_path):
    door = ftp_server("--allow-upload")
    ana = start_client(door.server, "ana")
    client = connect(door, "alice")
    ana.expect("profe> alice se ha unido")
    ana.send("who")
    ana.expect("profe> Conectados (2): alice (ftp), ana")
    client.storbinary("STOR nuevo.txt", io.BytesIO(b"hola\n" * 100))
    ana.expect("profe> alice subió nuevo.txt (500 B)")
    ana.send("@alice hola")
    ana.expect("alice está conectado por FTP y no recibe mensajes")
    client.quit()
    ana.expect("profe> alice se ha ido")
    door.server.wait_for_output("profe> alice se ha ido")
    assert ana.quit() == 0


def test_both_doors_count_against_max_clients_and_a_refusal_is_a_421(ftp_server, start_client):
    door = ftp_server(max_clients=2)
    ana = start_client(door.server, "ana")
    first = connect(door, "alice")
    refused = ftplib.FTP()
    with pytest.raises(ftplib.error_temp, match="^421"):
        refused.connect(HOST, door.port, timeout=CLIENT_TIMEOUT)
    refused.close()
    first.quit()
    assert ana.quit() == 0


def test_a_name_is_one_person_in_both_doors(ftp_server, start_client):
    door = ftp_server()
    ana = start_client(door.server, "ana")
    client = ftplib.FTP()
    client.connect(HOST, door.port, timeout=CLIENT_TIMEOUT)
    with pytest.raises(ftplib.error_perm, match="^530 .*ANA"):
        client.login("ANA", "x")
    client.close()
    assert ana.quit() == 0


def test_a_data_connection_from_another_address_is_refused_and_the_real_one_works(ftp_server, root):
    door = ftp_server()
    client = connect(door)
    host, port = ftplib.parse227(client.sendcmd("PASV"))
    thief = socket.create_connection((host, port), timeout=CLIENT_TIMEOUT, source_address=("127.0.0.2", 0))
    try:
        thief.settimeout(CLIENT_TIMEOUT)
        assert thief.recv(100) == b"", "a connection from another address is closed at once"
        door.server.wait_for_log(re.compile(r"refused a data connection from 127\.0\.0\.2"))
        data = socket.create_connection((host, port), timeout=CLIENT_TIMEOUT)
        with data:
            client.sendcmd("TYPE I")
            client.putcmd("RETR one.bin")
            assert client.getresp().startswith("150")
            assert data.recv(100) == b"1"
        assert client.voidresp().startswith("226")
    finally:
        thief.close()
    client.quit()


def test_a_line_over_the_limit_is_500_and_the_connection_goes_on(ftp_server):
    door = ftp_server()
    client = connect(door)
    client.sock.sendall(b"NOOP " + b"x" * 5000 + b"\r\n")
    with pytest.raises(ftplib.error_perm, match="^500"):
        client.getresp()
    assert client.voidcmd("NOOP").startswith("200")
    client.quit()


def test_an_upload_cut_off_midway_leaves_nothing_and_the_door_goes_on(ftp_server, root):
    door = ftp_server("--allow-upload")
    client = connect(door)
    client.sendcmd("TYPE I")
    data, _size = client.ntransfercmd("STOR cortado.bin")
    data.sendall(os.urandom(100_000))
    data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    data.close()  # a reset: the client died mid-upload
    with pytest.raises(ftplib.error_temp, match="^426"):
        client.voidresp()
    assert not (root / "cortado.bin").exists()
    assert sorted(p.name for p in root.iterdir()) == ["big.bin", "empty.bin", "one.bin", "sub"]
    assert fetch(client, "one.bin") == b"1", "the session goes on"
    client.quit()


def test_the_server_stopping_tells_ftp_users_421(ftp_server):
    door = ftp_server()
    client = connect(door)
    door.server.signal(signal.SIGTERM)
    with pytest.raises(ftplib.error_temp, match="^421"):
        client.getresp()
    client.close()
    assert door.server.wait() == 0


UPLOADER = """
import ftplib, sys, time
client = ftplib.FTP()
client.connect("127.0.0.1", int(sys.argv[1]), timeout=20)
client.login("muere", "x")
client.sendcmd("TYPE I")
data, _ = client.ntransfercmd("STOR a-medias.bin")
data.sendall(b"x" * 100_000)
print("sent", flush=True)
time.sleep(60)
"""


def test_a_client_killed_mid_upload_leaves_nothing_under_the_name(ftp_server, root):
    """Stream mode ends an upload with the data connection's EOF, and a killed client's
    kernel closes it the same way; its control connection closes too, so nothing is kept."""
    door = ftp_server("--allow-upload")
    uploader = subprocess.Popen(
        [sys.executable, "-c", UPLOADER, str(door.port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert uploader.stdout.readline() == "sent\n"
        uploader.kill()
    finally:
        uploader.wait(CLIENT_TIMEOUT)
        uploader.stdout.close()
    door.server.wait_for_log(re.compile(r"disconnect muere@\S+ \(ftp\)"))
    client = connect(door)
    assert "a-medias.bin" not in client.nlst()
    client.quit()
    assert not (root / "a-medias.bin").exists()
