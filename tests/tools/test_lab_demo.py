"""`scripts/lab demo` runs in the class as the teacher started it: it starts only those of
alice, bob and carol that are not running, as the class file of the last `up` has them, and
leaves the server and the other students alone (a plain `up` would have made the class again
without its --tls, --users, --publish...). When it cannot (the server down, a class of fewer
than three) it refuses, with the `up` command, options included, that starts the class again.

scripts/lab runs here against a fake `docker` (fake_docker.py): no container is made. Its
own folder is a copy of the checkout's layout made of links, so the class file it writes
(`.lab/PROJECT.compose.yaml`) stays in the test's folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from . import fake_docker

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = "ftplab-demo-test"
ERROR = 1


class FakeLab:
    """scripts/lab in a folder of its own, with the fake docker first on its PATH."""

    def __init__(self, folder: Path):
        self.root, self.state, bin_dir = folder / "checkout", folder / "docker", folder / "bin"
        for made in (self.root, self.state, bin_dir):
            made.mkdir()
        (self.root / "scripts").symlink_to(REPO_ROOT / "scripts")
        (self.root / "compose.yaml").symlink_to(REPO_ROOT / "compose.yaml")
        docker = bin_dir / "docker"
        fake = f"{shlex.quote(sys.executable)} {shlex.quote(fake_docker.__file__)}"
        docker.write_text(f'#!/bin/sh\nexec {fake} "$@"\n')
        docker.chmod(0o755)
        self.env = {
            **{name: value for name, value in os.environ.items() if not name.startswith(("LAB", "FTPLAB"))},
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_DOCKER_STATE": str(self.state),
            "COMPOSE_PROJECT_NAME": PROJECT,
            "LAB_ENV_FILE": os.devnull,
            "LAB_DEMO_TIMEOUT": "20",
        }

    @property
    def class_file(self) -> Path:
        return self.root / ".lab" / f"{PROJECT}.compose.yaml"

    @property
    def impairments_file(self) -> Path:
        return self.root / ".lab" / f"{PROJECT}.impairments"

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.root / "scripts" / "lab"), *args],
            env=self.env,
            cwd=cwd or self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def check(self, *args: str, cwd: Path | None = None) -> str:
        result = self.run(*args, cwd=cwd)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stderr

    @property
    def containers(self) -> dict[str, dict]:
        return json.loads((self.state / "containers.json").read_text())

    @containers.setter
    def containers(self, containers: dict[str, dict]) -> None:
        (self.state / "containers.json").write_text(json.dumps(containers))

    def compose_calls(self, command: str) -> list[list[str]]:
        """The `docker compose [OPTIONS] COMMAND ...` calls since the last forget_calls, from COMMAND on."""
        calls = [json.loads(line) for line in (self.state / "calls").read_text().splitlines()]
        return [words for words in map(compose_command, calls) if words[:1] == [command]]

    def forget_calls(self) -> None:
        (self.state / "calls").unlink(missing_ok=True)


def compose_command(call: list[str]) -> list[str]:
    """A `docker compose` call's command and its arguments, after compose's own options."""
    if call[:1] != ["compose"]:
        return []
    at = 1
    while at < len(call) and call[at] in fake_docker.COMPOSE_OPTIONS_WITH_VALUE:
        at += 2
    return call[at:]


@pytest.fixture
def lab(tmp_path):
    return FakeLab(tmp_path)


def up_again_in(message: str) -> list[str]:
    """The `scripts/lab up ...` command a refusal gives, as the words a shell reads."""
    found = re.search(r"(scripts/lab up .*?) (starts|makes) ", message)
    assert found, message
    return shlex.split(found.group(1))


def test_the_demo_starts_only_the_missing_students_and_leaves_the_server_and_the_others_alone(lab):
    lab.check("up", "--no-build", "--students", "4", "--allow-upload")
    class_file = lab.class_file.read_text()
    containers = lab.containers
    alice, bob = (f"{containers[name]['id']} 1" for name in ("alice", "bob"))  # their instances
    lab.impairments_file.write_text(f"alice\trate 2mbit\t{alice}\nbob\tloss 5% in\t{bob}\n")
    containers["server"]["env"] = ["FTPLAB_ALLOW_UPLOAD=yes"]
    del containers["bob"]  # removed
    containers["carol"]["state"] = "exited"  # quit
    lab.containers = containers
    lab.forget_calls()

    result = lab.run("demo")

    said = result.stderr
    assert fake_docker.DEMO_STOPS_HERE in said and "bob-demo is connected" in said, said
    assert "Starting bob carol for the demo" in said
    started = ["up", "-d", "--no-build", "--no-deps", "--wait", "--wait-timeout", "20", "bob", "carol"]
    assert lab.compose_calls("up") == [started]
    for touching in ("build", "rm", "down", "stop", "restart", "create"):
        assert lab.compose_calls(touching) == [], touching
    after = lab.containers
    assert {name: container["starts"] for name, container in after.items()} == {
        "server": 1, "alice": 1, "bob": 1, "carol": 2, "student04": 1
    }  # fmt: skip
    assert after["server"]["env"] == ["FTPLAB_ALLOW_UPLOAD=yes"]
    assert lab.class_file.read_text() == class_file, "the class is as its `up` left it"
    impairments = lab.impairments_file.read_text()
    assert impairments == f"alice\trate 2mbit\t{alice}\n", "bob's went with its container"


def test_a_class_of_fewer_than_three_is_refused_with_the_up_that_makes_it_three_with_the_same_options(
    lab, tmp_path
):
    accounts = tmp_path / "mis cuentas.txt"
    accounts.write_text("alice:...\n")
    options = ["--publish", "--publish-address", "10.0.0.5", "--no-build", "--allow-upload"]
    options += ["--server-option", "max-upload-bytes=10M", "--users", accounts.name]
    options += ["--server-option", "allow-clear-passwords=yes"]
    lab.check("up", "--students", "1", *options, cwd=tmp_path)
    first_class = lab.class_file.read_text()
    lab.forget_calls()

    result = lab.run("demo")

    assert result.returncode == ERROR, (result.stdout, result.stderr)
    assert "the demo needs alice, bob and carol, and this class has 1 student(s)" in result.stderr
    assert lab.compose_calls("up") == [] and lab.compose_calls("exec") == []
    again = up_again_in(result.stderr)
    assert again[:4] == ["scripts/lab", "up", "--students", "3"], again
    assert str(accounts) in again, "the accounts file by its whole path"
    # The same options make the same class, wherever they are typed.
    lab.check("up", "--students", "1", *again[4:], cwd=REPO_ROOT)
    assert lab.class_file.read_text() == first_class


@pytest.mark.parametrize(
    ("recorded", "advice"),
    [
        (
            "# options: --publish --tls\n",
            "scripts/lab up --students 3 --publish --tls starts the class again",
        ),
        ("", "scripts/lab up --students 3 with the options the class was started with"),
    ],
    ids=["options-recorded", "class-file-of-an-older-up"],
)
def test_with_the_server_stopped_it_refuses_and_says_how_to_start_the_class_as_it_was(lab, recorded, advice):
    lab.class_file.parent.mkdir()
    lab.class_file.write_text(f"# students: 3\n{recorded}services: {{}}\n")
    tls = ["FTPLAB_TLS_CERT=/etc/ftplab/tls/server.pem"]
    lab.containers = {"server": {"id": "c0ffee", "state": "exited", "starts": 1, "env": tls}}

    result = lab.run("demo")

    assert result.returncode == ERROR, (result.stdout, result.stderr)
    assert "the demo needs the server running" in result.stderr and advice in result.stderr, result.stderr
    assert lab.compose_calls("up") == []


def test_with_accounts_and_no_password_it_refuses_before_starting_anyone(lab, tmp_path):
    accounts = tmp_path / "users"
    accounts.write_text("alice:...\n")
    lab.check("up", "--no-build", "--users", str(accounts), "--server-option", "allow-clear-passwords=yes")
    containers = lab.containers
    containers["server"]["env"] = ["FTPLAB_USERS=/etc/ftplab/accounts/users"]
    del containers["bob"]
    lab.containers = containers
    lab.forget_calls()

    result = lab.run("demo")

    assert result.returncode == ERROR and "LAB_DEMO_PASSWORD, which is not set" in result.stderr, (
        result.stderr
    )
    assert f"scripts/lab up --students 3 --no-build --users {accounts} --server-option" in result.stderr
    assert lab.compose_calls("up") == []
    assert "bob" not in lab.containers
