"""scripts/lab and scripts/lab swarm refuse bad command lines before touching Docker: one line that
says what is wrong, and exit status 2 (their help says 2 means usage). No container is started:
the lab's own project is a fresh name and its settings file /dev/null."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAB = REPO_ROOT / "scripts" / "lab"
USAGE = 2

needs_docker_cli = pytest.mark.skipif(
    shutil.which("docker") is None, reason="scripts/lab checks for the docker command first"
)


def run_lab(*args: str, cwd: Path = REPO_ROOT, **settings: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": f"ftplab-usage-{uuid.uuid4().hex[:8]}",
        "LAB_ENV_FILE": os.devnull,
    }
    for inherited in ("LAB_STUDENTS", "LABNET_SUBNET", "LABNET_PREFIX", "LAB_PASSIVE_PORTS"):
        env.pop(inherited, None)
    return subprocess.run(
        [str(LAB), *args],
        env=env | settings,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_usage_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == USAGE, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), ("which command", "scripts/lab help")),
        (("bogus",), ("unknown command 'bogus'", "scripts/lab help")),
        (("--bogus",), ("unknown command '--bogus'",)),
        (("swarm", "bogus"), ("lab swarm: unknown command 'bogus'", "scripts/lab swarm help")),
    ],
)
def test_a_missing_or_unknown_command_is_one_line_and_exit_2(args, words):
    assert_usage_error(run_lab(*args), *words)


@needs_docker_cli
@pytest.mark.parametrize(
    "args",
    [
        ("status", "--bogus"),
        ("ps", "x"),
        ("down", "now"),
        ("build", "x"),
        ("demo", "x"),
        ("swarm", "status", "x"),
    ],
)
def test_commands_that_take_no_arguments_refuse_them(args):
    assert_usage_error(run_lab(*args), "takes no arguments", args[-1])


@needs_docker_cli
@pytest.mark.parametrize(
    "args",
    [
        ("attach", "nadie"),
        ("logs", "nadie"),
        ("exec", "nadie", "ls"),
        ("capture", "nadie"),
        ("heal", "nadie"),
        ("impair", "nadie", "--rate", "1mbit"),
    ],
)
def test_an_unknown_machine_is_named_with_the_machines_there_are(args):
    assert_usage_error(run_lab(*args), "no machine called 'nadie'", "server alice bob carol")


@needs_docker_cli
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("attach",), ("usage: scripts/lab attach NAME",)),
        (("exec", "alice"), ("usage: scripts/lab exec NAME COMMAND",)),
        (("up", "--bogus"), ("unknown option --bogus",)),
        (("up", "--students", "x"), ("--students needs a number",)),
        (("impair", "alice"), ("say what",)),
        (("swarm", "up", "--bogus"), ("usage: scripts/lab swarm up",)),
        (("swarm", "logs", "nadie"), ("no such machine: nadie",)),
        (("up", "--server-option", "port=1"), ("--server-option port", "the lab sets it")),
        (("up", "--server-option", "allow-upload"), ("needs OPTION=VALUE",)),
        (("up", "--server-option", "masquerade-address=10.0.0.1"), ("the lab sets it", "--publish-address")),
        (("up", "--publish-address", "10.0.0.1"), ("--publish-address goes with --publish",)),
        (("up", "--server-option", "tls-cert=/x.pem"), ("--server-option tls-cert", "up --tls")),
        (("up", "--server-option", "require-tls=yes"), ("require-tls goes with --tls",)),
        (("up", "--server-option", "users=/x"), ("--server-option users", "up --users")),
        (("up", "--users"), ("--users needs FILE",)),
        (("up", "--tls", "--users", "/nonexistent/users"), ("--users /nonexistent/users: no such file",)),
        (("down", "--remove-certificates", "now"), ("takes no arguments", "now")),
        (("up", "--publish", "--publish-address", "lab.example.org"), ("needs an IPv4 address",)),
        (("up", "--publish", "--publish-address", "10.0.0.256"), ("needs an IPv4 address",)),
        (("up", "--publish", "--publish-address"), ("--publish-address needs",)),
        (("files",), ("usage: scripts/lab files add",)),
        (("files", "add"), ("usage: scripts/lab files add",)),
        (("files", "add", "."), ("name a file or a folder",)),
        (("files", "list", "x"), ("takes no arguments",)),
    ],
)
def test_other_usage_errors_are_one_line_and_exit_2(args, words):
    assert_usage_error(run_lab(*args), *words)


@needs_docker_cli
@pytest.mark.parametrize("options", [(), ("--server-option", "allow-clear-passwords=no")])
def test_accounts_without_tls_need_clear_passwords_allowed_in_so_many_words(tmp_path, options):
    users = tmp_path / "users"
    users.write_text("")
    result = run_lab("up", "--users", str(users), *options)
    assert_usage_error(result, "--users without --tls", "--tls", "--server-option allow-clear-passwords=yes")


@needs_docker_cli
def test_a_relative_users_file_is_found_where_the_lab_was_run(tmp_path):
    (tmp_path / "users").write_text("")
    result = run_lab("up", "--users", "users", cwd=tmp_path)
    assert_usage_error(result, "--users without --tls")


@needs_docker_cli
@pytest.mark.parametrize("ports", ["30000", "30009-30000", "80-90", "30000-70000", "a-b"])
def test_a_passive_range_that_is_not_one_is_an_error_naming_it(ports):
    result = run_lab("status", LAB_PASSIVE_PORTS=ports)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert f"LAB_PASSIVE_PORTS={ports} is not a range of ports" in result.stderr


def test_help_prints_the_usage_and_succeeds():
    result = run_lab("help")
    assert result.returncode == 0, result.stderr
    assert "scripts/lab up [--students N]" in result.stdout
    assert "Exit status: 0 done, 1 error, 2 usage" in result.stdout
