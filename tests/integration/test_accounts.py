"""Accounts (--users, issue 19) with real processes and sockets on 127.0.0.1: the
`ftplab-server users` command, both doors asking for the same passwords, names with an
account protected (twins too), each account's rights, passwords refused in clear
unless --allow-clear-passwords, accepted over TLS, and curl logging in to an account
over explicit FTPS."""

from __future__ import annotations

import ftplib
import io
import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ftplab import accounts, protocol
from support.certificates import tls_args

from .harness import (
    APP_DIR,
    HOST,
    TIMEOUT,
    ClientProcess,
    RawConnection,
    TerminalClient,
    child_env,
    installed_tool,
    process_state,
    run_client,
    run_program,
    run_tool,
    server_args,
    wait_until,
)

PASSWORDS = {"ana": "caballo correcto", "tutor": "tiza y pizarra", "visita": "solo mirar"}
RIGHTS = {"ana": "download,upload", "tutor": "download,upload,overwrite", "visita": "-"}


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    """Made by `ftplab-server users add`, as a teacher would, the password on stdin."""
    path = tmp_path / "users.txt"
    for name, password in PASSWORDS.items():
        result = users_command("--users", str(path), "add", name, "--rights", RIGHTS[name], stdin=password)
        assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    files.mkdir()
    (files / "notas.txt").write_bytes(b"las notas del examen\n")
    return files


def users_command(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ftplab.server", "users", *args]
    env = child_env(LANG="C.UTF-8")
    return subprocess.run(
        command,
        input=stdin + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
        cwd=APP_DIR,
    )


def password_file(tmp_path: Path, name: str, password: str | None = None) -> list[str]:
    path = tmp_path / f"password-{name}"
    path.write_text((PASSWORDS[name] if password is None else password) + "\n")
    return ["--password-file", str(path)]


def accounts_server(start_server, root, users_file, *more: str, clear: bool = True, lang: str | None = None):
    args = ["--users", str(users_file), "--ftp-port", "0", *more]
    clear_args = ["--allow-clear-passwords"] if clear else []
    return start_server(root=root, lang=lang, extra_args=[*args, *clear_args])


# --- the users command ----------------------------------------------------------------


def test_users_add_list_remove_keep_the_file_private_and_never_show_hashes(tmp_path):
    path = tmp_path / "users.txt"
    added = users_command("--users", str(path), "add", "ana", "--rights", "download,upload", stdin="pw")
    assert added.returncode == 0 and "ana" in added.stdout, added.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert users_command("--users", str(path), "add", "bob", stdin="otra").returncode == 0
    listed = users_command("--users", str(path), "list")
    assert listed.stdout.split() == ["ana", "download,upload", "bob", "download"]
    assert "scrypt" not in listed.stdout and "scrypt" in path.read_text()
    assert accounts.load(str(path)).check("ana", "pw") is not None
    removed = users_command("--users", str(path), "remove", "ANA")  # a twin names the account
    assert removed.returncode == 0 and "ana" in removed.stdout
    assert users_command("--users", str(path), "list").stdout.split() == ["bob", "download"]
    assert sorted(os.listdir(tmp_path)) == ["users.txt"]  # no temporary file left


@pytest.mark.parametrize(
    ("args", "stdin", "status", "says"),
    [
        (["add", "ana"], "", 1, "vacía"),
        (["add", "ana", "--rights", "fly"], "pw", 2, "fly"),
        (["add", "a>b"], "pw", 2, "no válido"),
        (["remove", "nadie"], "", 1, "nadie"),
    ],
)
def test_users_refuses_bad_input_with_a_clear_message_and_changes_nothing(
    tmp_path, args, stdin, status, says
):
    path = tmp_path / "users.txt"
    assert users_command("--users", str(path), "add", "bob", stdin="pw").returncode == 0
    before = path.read_bytes()
    result = users_command("--users", str(path), *args, stdin=stdin)
    assert result.returncode == status and says in result.stderr, result
    assert path.read_bytes() == before


def test_users_add_at_a_terminal_asks_twice_without_echo(tmp_path):
    path = tmp_path / "users.txt"
    command = server_args("users", "--users", str(path), "add", "ana")
    with TerminalClient(0, None, tmp_path, command=command) as teacher:
        teacher.wait_for("Contraseña para ana: ")
        teacher.type("pizarra verde\r")
        teacher.wait_for("Repítela: ")
        teacher.type("pizarra verde\r")
        assert teacher.wait() == 0
        assert "pizarra" not in teacher.screen
    assert accounts.load(str(path)).check("ana", "pizarra verde") is not None
    with TerminalClient(0, None, tmp_path, command=command) as teacher:
        teacher.wait_for("Contraseña para ana: ")
        teacher.type("una\r")
        teacher.wait_for("Repítela: ")
        teacher.type("otra\r")
        assert teacher.wait() == 1
        teacher.wait_for("no coinciden")
    assert accounts.load(str(path)).check("ana", "pizarra verde") is not None


def test_users_without_a_file_says_how_to_give_one():
    result = users_command("list")
    assert result.returncode == 2 and "FTPLAB_USERS" in result.stderr


def test_the_server_refuses_to_start_with_an_unusable_users_file(root, tmp_path):
    broken = tmp_path / "broken.txt"
    broken.write_text("ana download\n")
    broken.chmod(0o600)
    shared = tmp_path / "shared.txt"
    shared.write_text("")
    shared.chmod(0o666)
    cases = {
        broken: "broken.txt:1: expected NAME RIGHTS HASH",
        tmp_path / "nope": "no such file",
        shared: "writable by other users",
    }
    for path, says in cases.items():
        args = server_args("--host", HOST, "--port", "0", "--name", "profe", "--root", str(root))
        result = run_program([*args, "--users", str(path)])
        assert result.returncode == 2 and says in result.stderr, (path, result)


# --- the lab door -----------------------------------------------------------------------


def test_the_right_password_joins_and_a_wrong_one_is_refused_and_logged(
    start_server, root, users_file, tmp_path
):
    server = accounts_server(start_server, root, users_file)
    server.wait_for_output(f"Cuentas: solo entran las de {users_file}")  # the teacher's console says so
    ana = ClientProcess(server.port, "ana", tmp_path / "ana", extra_args=password_file(tmp_path, "ana"))
    ana.send("get notas.txt")
    ana.expect("SHA-256")
    assert (tmp_path / "ana" / "notas.txt").read_bytes() == (root / "notas.txt").read_bytes()
    assert ana.quit() == 0
    wrong = run_client(
        server.port,
        ["who"],
        name="ana",
        download_dir=tmp_path,
        extra_args=password_file(tmp_path, "ana", "mala"),
    )
    assert wrong.returncode == 1 and "Nombre o contraseña incorrectos" in wrong.stderr, wrong
    server.wait_for_log("failed lab login from 127.0.0.1 as ana")


def test_a_name_with_an_account_cannot_be_taken_without_its_password_twins_included(
    start_server, root, users_file, tmp_path
):
    server = accounts_server(start_server, root, users_file)
    for name in ("profe2", "ana", "\u0430na", "ANA"):  # no account; the account; Cyrillic а; upper case
        result = run_client(
            server.port, ["who"], name=name, download_dir=tmp_path, extra_args=["--timeout", "20"]
        )
        assert result.returncode == 1 and "--password-file" in result.stderr, (name, result)
    with RawConnection(server.port, "\u0430na") as twin:
        twin.send_line("!JOIN proto=4")
        twin.expect(protocol.PasswordRequest)
        twin.send_line("!PASSWORD adivina")
        refused = twin.expect(protocol.Error)
        assert refused.code == "bad-password"
        twin.wait_closed()
    twin_right = run_client(
        server.port, ["who"], name="Ana", download_dir=tmp_path, extra_args=password_file(tmp_path, "ana")
    )
    assert twin_right.returncode == 0 and any("Ana" in line for line in twin_right.stdout), twin_right


def test_at_a_terminal_the_client_asks_for_the_password_without_echo(
    start_server, root, users_file, tmp_path
):
    server = accounts_server(start_server, root, users_file)
    with TerminalClient(server.port, "ana", tmp_path / "ana") as ana:
        asked = ana.wait_for("Contraseña de ana: ")
        ana.type(PASSWORDS["ana"] + "\r")
        ana.wait_for("Hola, ana.", start=asked)
        ana.type("quit\r")
        assert ana.wait() == 0
        assert PASSWORDS["ana"] not in ana.screen


def test_a_line_typed_right_after_the_password_is_echoed_and_said_at_once(
    start_server, root, users_file, tmp_path
):
    """A fast typist: the password and the next line in one go. The line is the client's,
    echoed after its prompt (not hidden as part of the question), and it reaches the room
    without waiting for another key."""
    server = accounts_server(start_server, root, users_file)
    with TerminalClient(server.port, "ana", tmp_path / "ana") as ana:
        asked = ana.wait_for("Contraseña de ana: ")
        ana.type(PASSWORDS["ana"] + "\rhola a todos\r")
        server.wait_for_output("ana> hola a todos")
        ana.wait_for("ana> hola a todos", start=asked)
        ana.type("quit\r")
        assert ana.wait() == 0


def test_keys_waiting_when_the_password_is_asked_answer_it_and_the_client_goes_on(tmp_path):
    """The keys were typed before the question was read (the client was busy, or had not yet
    put the terminal in raw mode), so the keyboard and the question are ready in the same turn
    of the client's loop. The question takes the password, the line after it is the client's,
    and the keyboard's readiness, now used up, must not make the loop wait for another key:
    the welcome is shown and the line sent at once. (The client is stopped while the question
    and the keys arrive, so that they are ready together.)"""
    listener = socket.create_server((HOST, 0))
    with listener, TerminalClient(listener.getsockname()[1], "ana", tmp_path / "ana") as ana:
        listener.settimeout(TIMEOUT)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            server_said = _ServerSide(conn)
            server_said.read_until(b"JOIN")
            ana.signal(signal.SIGSTOP)
            wait_until(lambda: process_state(ana.process.pid) == "T", message="the client stopped")
            conn.sendall(b"profe> !PASSWORD\n")
            ana.type(PASSWORDS["ana"] + "\rhola\r")
            ana.signal(signal.SIGCONT)
            server_said.read_until(f"ana> !PASSWORD {PASSWORDS['ana']}\n".encode())
            conn.sendall(b"profe> !HELLO Hola, ana.\nprofe> !PROTO 4\n")
            ana.wait_for("Hola, ana.")
            server_said.read_until(b"ana> hola\n")
            ana.type("quit\r")
            server_said.read_until(b"ana> quit\n")
            conn.sendall(b"profe> !BYE adios\n")
            conn.shutdown(socket.SHUT_WR)
            assert ana.wait() == 0


class _ServerSide:
    """What the client sent to a server played by the test, read as it comes."""

    def __init__(self, conn: socket.socket):
        self._conn = conn
        self.received = b""

    def read_until(self, marker: bytes) -> None:
        while marker not in self.received:
            data = self._conn.recv(4096)
            assert data, f"the client closed the connection; it sent {self.received!r}"
            self.received += data


def test_an_older_client_is_refused_clearly_and_the_open_lab_has_no_password_step(
    start_server, root, users_file, tmp_path
):
    server = accounts_server(start_server, root, users_file)
    for first_line in ("!JOIN lang=en proto=3", ""):  # an ftplab client before protocol 4; nc
        with RawConnection(server.port, "ana") as old:
            old.send_line(first_line)
            refused = old.expect(protocol.Error)
            assert refused.code == "password-required" and "ftplab" in refused.text, refused
            old.wait_closed()
    open_lab = start_server(root=root)
    with RawConnection(open_lab.port, "ana") as classic:
        classic.send_line(f"!JOIN proto={protocol.VERSION}")
        classic.expect(protocol.Hello)
        assert not any(isinstance(event, protocol.PasswordRequest) for event in classic.events)


def test_rights_are_enforced_for_each_account_in_the_lab_door(start_server, root, users_file, tmp_path):
    server = accounts_server(start_server, root, users_file)  # no --allow-upload: the accounts say
    upload = tmp_path / "trabajo.txt"
    upload.write_text("mi trabajo\n")
    visita = ClientProcess(
        server.port, "visita", tmp_path / "visita", extra_args=password_file(tmp_path, "visita")
    )
    visita.send("get notas.txt")
    visita.expect("Tu cuenta no puede descargar archivos")
    visita.send(f"put {upload}")
    visita.expect("Tu cuenta no puede subir archivos")
    visita.quit()
    ana = ClientProcess(server.port, "ana", tmp_path / "ana", extra_args=password_file(tmp_path, "ana"))
    ana.send(f"put {upload}")
    ana.expect("verificado por el servidor")
    assert (root / "trabajo.txt").read_bytes() == upload.read_bytes()
    ana.send(f"put {upload}")
    ana.expect("Ya existe: trabajo.txt")  # upload but not overwrite
    ana.quit()


def test_in_clear_no_password_is_asked_for_unless_allowed(start_server, root, users_file, tmp_path):
    server = accounts_server(start_server, root, users_file, clear=False)
    with RawConnection(server.port, "ana") as raw:
        raw.send_line(f"!JOIN proto={protocol.VERSION}")
        refused = raw.expect(protocol.Error)
        assert refused.code == "tls-required" and "--tls-cert" in refused.text
        raw.wait_closed()
        assert not any(isinstance(event, protocol.PasswordRequest) for event in raw.events)
    result = run_client(
        server.port, ["who"], name="ana", download_dir=tmp_path, extra_args=password_file(tmp_path, "ana")
    )
    assert result.returncode == 1 and "TLS" in result.stderr
    ftp = ftplib.FTP()
    ftp.connect(HOST, server.ftp_port(), timeout=10)
    with pytest.raises(ftplib.error_perm, match=r"^530 .*--tls-cert"):
        ftp.login("ana", PASSWORDS["ana"])
    ftp.close()


def test_over_tls_both_doors_take_the_same_password(start_server, root, users_file, tmp_path, certificates):
    server = accounts_server(start_server, root, users_file, *tls_args(certificates), clear=False)
    secure = ["--ca", str(certificates.ca), *password_file(tmp_path, "ana")]
    ana = ClientProcess(server.port, "ana", tmp_path / "ana", extra_args=secure)
    ana.send("get notas.txt")
    ana.expect("SHA-256")
    assert ana.quit() == 0
    port = server.ftp_port()
    clear = ftplib.FTP()
    clear.connect(HOST, port, timeout=10)
    with pytest.raises(ftplib.error_perm, match=r"^530 .*AUTH TLS"):
        clear.login("ana", PASSWORDS["ana"])
    clear.close()
    context = ssl.create_default_context(cafile=str(certificates.ca))
    ftps = ftplib.FTP_TLS(context=context, timeout=10)
    ftps.connect(HOST, port)
    with pytest.raises(ftplib.error_perm, match=r"^530 "):
        ftps.login("ana", "mala")
    ftps.close()
    ftps = ftplib.FTP_TLS(context=context, timeout=10)
    ftps.connect(HOST, port)
    ftps.login("tutor", PASSWORDS["tutor"])
    ftps.prot_p()
    assert "perm=radfw" in ftps.sendcmd("MLST notas.txt")
    ftps.quit()


# --- the FTP door -----------------------------------------------------------------------


def test_ftp_rights_follow_the_account(start_server, root, users_file):
    server = accounts_server(start_server, root, users_file, "--allow-upload", "--allow-overwrite", lang="en")
    port = server.ftp_port()
    visita = ftplib.FTP()
    visita.connect(HOST, port, timeout=10)
    visita.login("visita", PASSWORDS["visita"])
    with pytest.raises(ftplib.error_perm, match=r"^550 .*download"):
        visita.retrbinary("RETR notas.txt", lambda _data: None)
    with pytest.raises(ftplib.error_perm, match=r"^550 "):
        visita.storbinary("STOR x.txt", io.BytesIO(b"x"))
    assert "MFMT" not in visita.sendcmd("FEAT")
    visita.quit()
    ana = ftplib.FTP()
    ana.connect(HOST, port, timeout=10)
    ana.login("ana", PASSWORDS["ana"])
    ana.storbinary("STOR nuevo.txt", io.BytesIO(b"nuevo"))
    with pytest.raises(ftplib.error_perm, match=r"^55[03] "):
        ana.delete("notas.txt")
    ana.quit()
    assert (root / "nuevo.txt").read_bytes() == b"nuevo" and (root / "notas.txt").exists()
    anonymous = ftplib.FTP()
    anonymous.connect(HOST, port, timeout=10)
    with pytest.raises(ftplib.error_perm, match=r"^530 Anonymous logins are not allowed"):
        anonymous.login()
    anonymous.close()


def test_curl_logs_in_to_an_account_over_explicit_tls(start_server, root, users_file, tmp_path, certificates):
    server = accounts_server(start_server, root, users_file, *tls_args(certificates), clear=False)
    port = server.ftp_port()
    curl = installed_tool("curl")
    target = tmp_path / "curl.txt"
    common = ["-sS", "--ssl-reqd", "--cacert", str(certificates.ca)]
    url = f"ftp://{HOST}:{port}/notas.txt"
    result = run_tool(curl, *common, "--user", f"ana:{PASSWORDS['ana']}", url, "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == (root / "notas.txt").read_bytes()
    wrong = run_tool(curl, *common, "--user", "ana:mala", url, "-o", str(tmp_path / "no.txt"))
    assert wrong.returncode == 67, wrong  # CURLE_LOGIN_DENIED
    assert not (tmp_path / "no.txt").exists()


def test_lftp_uploads_with_an_account_over_explicit_tls(
    start_server, root, users_file, tmp_path, certificates
):
    server = accounts_server(start_server, root, users_file, *tls_args(certificates), clear=False)
    (tmp_path / "tarea.txt").write_bytes(b"mi tarea\n")
    script = f"set ftp:ssl-force true; set ssl:ca-file {certificates.ca}; put tarea.txt; get notas.txt; bye"
    login = f"ana,{PASSWORDS['ana']}"
    result = run_tool(
        installed_tool("lftp"), "-u", login, "-p", str(server.ftp_port()), "-e", script, HOST, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (root / "tarea.txt").read_bytes() == b"mi tarea\n"
    assert (tmp_path / "notas.txt").read_bytes() == (root / "notas.txt").read_bytes()
