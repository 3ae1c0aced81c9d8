"""The FTP session against real clients (ftplib, curl, wget) over 127.0.0.1 sockets,
through the small blocking adapter in tests/support (the server's loop comes later)."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.ftp_adapter import HOST, ftp_adapter

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


def connect(adapter, user: str = "alice", password: str = "x") -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(HOST, adapter.port, timeout=CLIENT_TIMEOUT)
    client.login(user, password)
    return client


def fetch(client: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    out = io.BytesIO()
    client.retrbinary(f"RETR {name}", out.write, rest=rest)
    return out.getvalue()


# --- ftplib ------------------------------------------------------------------------


@pytest.mark.parametrize("passive", [True, False])
@pytest.mark.parametrize("name", ["empty.bin", "one.bin", "big.bin"])
def test_ftplib_retrieves_byte_identical_files(root, name, passive):
    with ftp_adapter(root) as adapter:
        client = connect(adapter)
        client.set_pasv(passive)
        assert fetch(client, name) == (root / name).read_bytes()
        client.quit()


def test_ftplib_login_directories_and_facts(root):
    with ftp_adapter(root) as adapter:
        client = connect(adapter, "anonymous", "guest@example.org")
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


def test_ftplib_resume_with_rest(root):
    with ftp_adapter(root) as adapter:
        client = connect(adapter)
        assert fetch(client, "big.bin", rest=BIG - 1000) == (root / "big.bin").read_bytes()[-1000:]
        client.quit()


def test_ftplib_errors(root):
    with ftp_adapter(root) as adapter:
        client = ftplib.FTP()
        client.connect(HOST, adapter.port, timeout=CLIENT_TIMEOUT)
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


def test_ftplib_upload_when_enabled(root):
    payload = os.urandom(200_000)
    with ftp_adapter(root, allow_upload=True, max_upload_bytes=300_000) as adapter:
        client = connect(adapter)
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
        assert [(u.path, u.size) for u in adapter.uploads] == [("/sub/nuevo.bin", 200_000)]
    assert (root / "sub" / "nuevo.bin").read_bytes() == payload


# --- curl and wget --------------------------------------------------------------------


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (apt-get install {name})")
        pytest.skip(f"{name} is not installed")
    return path


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, timeout=CLIENT_TIMEOUT, cwd=cwd, check=False)


@pytest.mark.parametrize("epsv", [True, False])
def test_curl_lists_and_downloads(root, tmp_path, epsv):
    curl = tool("curl")
    options = () if epsv else ("--disable-epsv",)
    with ftp_adapter(root) as adapter:
        url = f"ftp://{HOST}:{adapter.port}"
        listing = run(curl, "-sS", "-u", "ana:x", *options, f"{url}/sub/")
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.decode().splitlines()[-1].endswith(" notas de clase.txt")
        out = tmp_path / "big.out"
        done = run(curl, "-sS", "-u", "ana:x", *options, "-o", str(out), f"{url}/big.bin")
        assert done.returncode == 0, done.stderr
    assert (
        hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256((root / "big.bin").read_bytes()).digest()
    )


def test_curl_resumes_and_uploads(root, tmp_path):
    curl = tool("curl")
    partial = tmp_path / "big.part"
    partial.write_bytes((root / "big.bin").read_bytes()[:12345])
    upload = tmp_path / "subida.txt"
    upload.write_bytes(b"hola\n" * 1000)
    with ftp_adapter(root, allow_upload=True) as adapter:
        url = f"ftp://{HOST}:{adapter.port}"
        resumed = run(curl, "-sS", "-u", "ana:x", "-C", "-", "-o", str(partial), f"{url}/big.bin")
        assert resumed.returncode == 0, resumed.stderr
        sent = run(curl, "-sS", "-u", "ana:x", "-T", str(upload), f"{url}/sub/")
        assert sent.returncode == 0, sent.stderr
        again = run(curl, "-sS", "-u", "ana:x", "-T", str(upload), f"{url}/sub/")
        assert again.returncode != 0  # never overwritten
    assert partial.read_bytes() == (root / "big.bin").read_bytes()
    assert (root / "sub" / "subida.txt").read_bytes() == upload.read_bytes()


def test_wget_downloads(root, tmp_path):
    wget = tool("wget")
    with ftp_adapter(root) as adapter:
        done = run(
            wget, "-q", "-O", "d.txt", f"ftp://ana:x@{HOST}:{adapter.port}/sub/deeper/d.txt", cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "d.txt").read_bytes() == b"deep"


LFTP_SETTINGS = (
    "set cmd:fail-exit yes; set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; "
    "set net:reconnect-interval-base 1; "
)


def lftp(port: int, commands: str, cwd: Path) -> subprocess.CompletedProcess:
    script = f"{LFTP_SETTINGS}{commands}; quit"
    return run(tool("lftp"), "-u", "ana,x", "-p", str(port), "-e", script, HOST, cwd=cwd)


def tree_of(directory: Path) -> dict[str, bytes | None]:
    return {
        str(path.relative_to(directory)): (path.read_bytes() if path.is_file() else None)
        for path in sorted(directory.rglob("*"))
    }


def test_lftp_mirrors_the_whole_tree(root, tmp_path):
    copy = tmp_path / "copy"
    with ftp_adapter(root) as adapter:
        done = lftp(adapter.port, f"mirror / {copy}", tmp_path)
        assert done.returncode == 0, done.stderr
    assert tree_of(copy) == tree_of(root)


def test_lftp_mirror_reverse_uploads(root, tmp_path):
    local = tmp_path / "local"
    (local / "nested" / "dir").mkdir(parents=True)
    (local / "top.txt").write_bytes(b"top")
    (local / "nested" / "dir" / "n.bin").write_bytes(os.urandom(70_000))
    with ftp_adapter(root, allow_upload=True) as adapter:
        done = lftp(adapter.port, f"mirror -R {local} /incoming", tmp_path)
        assert done.returncode == 0, done.stderr
    assert tree_of(root / "incoming") == tree_of(local)
