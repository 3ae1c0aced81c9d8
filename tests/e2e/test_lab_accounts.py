"""`scripts/lab up --tls --users FILE` (issue 19): a class that runs entirely over TLS with
accounts. FILE, made by `ftplab-server users add` from a pipe as a teacher's script would,
reaches the server in a volume readable by the server's user only; each student's client
asks for the password at the student's own terminal (what `scripts/lab attach NAME` gives),
a wrong one is refused and the right one joins; an FTP client on this computer logs in to
an account over explicit TLS, and not with a wrong password. The ports are published on
127.0.0.1 only (LabScript's settings)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from integration.harness import child_env

from .classroom import LabScript
from .lab import SMALL_FILE
from .terminals import StudentTerminal

pytestmark = pytest.mark.e2e

DEMO_PASSWORD = "demo de la clase 3"
DEMO_ACCOUNTS = {name: DEMO_PASSWORD for name in ("alice-demo", "bob-demo", "carol-demo")}
"""`scripts/lab demo`'s clients, with one password (LAB_DEMO_PASSWORD)."""
PASSWORDS = {"alice": "caballo correcto batería", "visita": "grapa-7", **DEMO_ACCOUNTS}
USERS_IN_SERVER = "/etc/ftplab/accounts/users"
QUESTION = "Contraseña de alice: "
CTRL_L = "\x0c"
"""Draws the screen again: the password question asked before the student attached."""


def add_accounts(path, accounts: dict[str, str]) -> None:
    """`ftplab-server users add` for each NAME: PASSWORD, the password from a pipe."""
    for name, password in accounts.items():
        subprocess.run(
            [sys.executable, "-m", "ftplab.server", "users", "--users", str(path), "add", name],
            input=password + "\n",
            capture_output=True,
            text=True,
            check=True,
            env=child_env(),
            timeout=60,
        )


@pytest.fixture(scope="module")
def accounts_lab(docker_client, e2e_images, tmp_path_factory):
    users = tmp_path_factory.mktemp("accounts") / "users"
    add_accounts(users, PASSWORDS)
    lab = LabScript(docker_client, e2e_images["base"])
    lab.users = users
    try:
        lab.up_output = lab.check("up", "--students", "3", "--publish", "--tls", "--users", str(users))
        yield lab
    finally:
        lab.down()


@pytest.fixture(autouse=True)
def _show_lab_logs_on_failure(request):
    if "accounts_lab" in request.fixturenames:
        request.node._ftplab_compose = request.getfixturevalue("accounts_lab")


def test_up_and_status_say_how_many_accounts_and_from_where_never_the_hashes(accounts_lab):
    count = len(PASSWORDS)
    assert f"Accounts: {count} from {accounts_lab.users}" in accounts_lab.up_output, accounts_lab.up_output
    status = accounts_lab.check("status")
    assert f"Accounts:      {count} (from {accounts_lab.users})" in status, status
    assert "scrypt" not in accounts_lab.up_output + status


def test_the_users_file_is_readable_by_the_server_only(accounts_lab):
    server, alice = accounts_lab.container("server"), accounts_lab.container("alice")
    stat = server.exec_run(["stat", "-c", "%a %u", USERS_IN_SERVER])
    assert stat.exit_code == 0 and stat.output.decode().split() == ["400", "10001"], stat.output
    mounts = {mount["Destination"]: mount["RW"] for mount in server.attrs["Mounts"]}
    assert mounts["/etc/ftplab/accounts"] is False
    assert "/etc/ftplab/accounts" not in {mount["Destination"] for mount in alice.attrs["Mounts"]}


def test_a_student_types_the_password_at_their_terminal_and_a_wrong_one_is_refused(
    accounts_lab, docker_client
):
    alice = accounts_lab.container("alice")
    terminal = StudentTerminal(docker_client, alice.id, "alice")  # scripts/lab attach alice
    try:
        terminal.press(CTRL_L)  # attached after the question was asked: show it again
        start = terminal.screen.wait_for(QUESTION)[0]
        terminal.type(PASSWORDS["alice"])
        start = terminal.screen.wait_for("Hola, alice.", start=start)[0]
        terminal.type("who")
        terminal.screen.wait_for(re.compile(rb"Conectados \(\d+\): [^\r\n]*alice"), start=start)
        assert PASSWORDS["alice"] not in terminal.screen.text, "the password is never echoed"
    finally:
        terminal.close()

    # Another client at a terminal of alice's machine (scripts/lab exec alice ftplab-client).
    second = StudentTerminal(docker_client, alice.id, "alice-exec", run=["ftplab-client", "--name", "alice"])
    try:
        second.screen.wait_for(QUESTION)
        second.type("no es esta")
        second.screen.wait_for("contraseña incorrectos")
        second.screen.wait_closed()  # a refused password ends the client
    finally:
        second.close()
    assert PASSWORDS["alice"] not in accounts_lab.server_log()
    assert "failed lab login" in accounts_lab.server_log()


def test_the_demo_logs_in_to_its_own_accounts_and_without_their_password_says_what_to_do(accounts_lab):
    code, out, err = accounts_lab.run("demo")
    assert code == 1 and "LAB_DEMO_PASSWORD" in err and "alice-demo" in err, (code, out, err)
    assert "bob-demo" not in accounts_lab.server_log(), "refused before any client started"
    accounts_lab.env["LAB_DEMO_PASSWORD"] = DEMO_PASSWORD
    try:
        out = accounts_lab.check("demo")
    finally:
        del accounts_lab.env["LAB_DEMO_PASSWORD"]
    assert "Demo finished: every check passed" in out, out
    assert DEMO_PASSWORD not in out + accounts_lab.server_log()


def curl_ftp(lab: LabScript, user: str, password: str) -> subprocess.CompletedProcess:
    url = f"ftp://127.0.0.1:{lab.published_ftp_port()}/"
    command = ["curl", "-sS", "--ssl-reqd", "--cacert", str(lab.tls_dir() / "ca.pem"), "--list-only"]
    return subprocess.run(
        [*command, "--user", f"{user}:{password}", url], capture_output=True, text=True, timeout=60
    )


def test_an_ftp_client_logs_in_to_an_account_over_tls_and_not_with_a_wrong_password(accounts_lab):
    right = curl_ftp(accounts_lab, "visita", PASSWORDS["visita"])
    assert right.returncode == 0, right.stderr
    assert SMALL_FILE in right.stdout.split()
    wrong = curl_ftp(accounts_lab, "visita", "grapa-8")
    assert wrong.returncode == 67, (wrong.returncode, wrong.stderr)  # CURLE_LOGIN_DENIED


def test_a_changed_file_restarts_the_server_and_an_up_without_users_drops_the_accounts(
    accounts_lab, docker_client
):
    """Last in this module: it changes the class the tests above share."""
    before = accounts_lab.container("server").id
    add_accounts(accounts_lab.users, {"nueva": "otra-clave-9"})
    accounts_lab.check("up", "--students", "1", "--publish", "--tls", "--users", str(accounts_lab.users))
    assert accounts_lab.container("server").id != before, "the server reads the file only at its start"
    assert curl_ftp(accounts_lab, "nueva", "otra-clave-9").returncode == 0

    accounts_lab.check("up", "--students", "1", "--publish", "--tls")
    assert "Accounts:      none" in accounts_lab.check("status")
    volumes = docker_client.volumes.list(filters={"name": f"{accounts_lab.project}_server-accounts"})
    assert volumes == [], "the accounts' volume goes with them"
    assert curl_ftp(accounts_lab, "cualquiera", "x").returncode == 0, "the open lab: any name"
