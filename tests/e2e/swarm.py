"""The lab as a Docker Swarm stack, driven through `scripts/lab swarm` as docs/swarm.md says.

`SwarmLab` runs the real script against one manager engine (this host's engine,
or a Docker-in-Docker node reached through a Docker context) and looks at the
result the way a teacher would: `scripts/lab swarm status`, the server's log
(`docker service logs`), and `docker exec` into a task's container on whichever
node it runs. A node is reached through the Docker context named like it
(docs/swarm.md), except the manager itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass

from .lab import REPO_ROOT, TIMEOUT, wait_until

SCRIPT = str(REPO_ROOT / "scripts" / "lab")
UP_TIMEOUT = 240
"""`scripts/lab swarm up` waits up to SWARM_TIMEOUT (below) itself; this bounds the process."""
SWARM_TIMEOUT = "180"
DOCKER_TIMEOUT = 120


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def docker(*argv: str, env: dict[str, str] | None = None, stdin: bytes | None = None, check=True) -> str:
    """`docker ARGV`, its output; fails the test (with stderr) when it fails and `check`."""
    result = subprocess.run(
        ["docker", *argv], input=stdin, capture_output=True, env=env, timeout=DOCKER_TIMEOUT
    )
    out = result.stdout.decode("utf-8", "replace")
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(argv)} failed ({result.returncode}):\n{result.stderr.decode()}")
    return out


@dataclass(frozen=True)
class Task:
    """One line of `scripts/lab swarm status`: a machine of the lab and where it runs."""

    name: str
    node: str
    address: str
    state: str


class SwarmLab:
    """`scripts/lab swarm` with a given environment (stack name, tag, contexts), and ways to
    look into the stack's tasks on any node."""

    def __init__(self, stack: str, students: int, env: dict[str, str]):
        self.stack = stack
        self.students = students
        self.env = {
            **os.environ,
            "FTPLAB_STACK": stack,
            "STUDENTS": str(students),
            "SWARM_TIMEOUT": SWARM_TIMEOUT,
            **env,
        }
        self.manager = self.docker("info", "-f", "{{.Name}}").strip()

    # --- the script ---------------------------------------------------------------

    def script(self, *args: str, timeout: float = UP_TIMEOUT, check=True) -> subprocess.CompletedProcess:
        """`scripts/lab swarm ARGS`; fails the test with its output if it fails and `check`."""
        result = subprocess.run(
            [SCRIPT, "swarm", *args], capture_output=True, text=True, env=self.env, timeout=timeout
        )
        assert result.returncode == 0 or not check, (
            f"scripts/lab swarm {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
        return result

    def status(self) -> dict[str, Task]:
        """The tasks meant to run, by machine name, from `scripts/lab swarm status`."""
        lines = self.script("status", timeout=60).stdout.splitlines()
        assert lines and lines[0].split() == ["NAME", "NODE", "ADDRESS", "STATE"], lines
        tasks = [Task(*line.split()) for line in lines[1:]]
        return {task.name: task for task in tasks}

    def running(self) -> dict[str, Task]:
        """`status`, once every machine (server and students) is running and healthy."""
        expected = {"server", *(f"student{n}" for n in range(1, self.students + 1))}

        def all_running():
            tasks = self.status()
            ok = set(tasks) == expected and all(task.state == "running" for task in tasks.values())
            return tasks if ok else None

        return wait_until(all_running, TIMEOUT * 3, f"{sorted(expected)} all running")

    # --- docker, on any node ------------------------------------------------------

    def docker(self, *argv: str, node: str | None = None, **kwargs) -> str:
        """`docker ARGV` on `node`'s engine (the manager's when None)."""
        where = [] if node in (None, getattr(self, "manager", None)) else ["--context", node]
        return docker(*where, *argv, env=self.env, **kwargs)

    def container_of(self, name: str) -> tuple[str, str]:
        """(node, container id) of machine `name`'s running task."""
        service, slot = (f"{self.stack}_server", "1") if name == "server" else (f"{self.stack}_student", name[7:])
        for task in self.docker("service", "ps", "-q", "--filter", "desired-state=running", service).split():
            found = self.docker(
                "inspect", "-f", "{{.Slot}} {{.Status.State}} {{.NodeID}} {{.Status.ContainerStatus.ContainerID}}", task
            ).split()
            if found[:2] == [slot, "running"]:
                node = self.docker("node", "inspect", "-f", "{{.Description.Hostname}}", found[2]).strip()
                return node, found[3]
        raise AssertionError(f"no running task for {name} in {service}")

    def exec(self, name: str, *argv: str, stdin: bytes | None = None, check=True) -> str:
        """`docker exec` in machine `name`'s container, on its node."""
        node, container = self.container_of(name)
        return self.docker("exec", "-i", container, *argv, node=node, stdin=stdin, check=check)

    def session(self, name: str, client_name: str, commands: list[str], timeout: int = 60) -> str:
        """In machine `name`'s container, `printf COMMANDS | ftplab-client --name CLIENT_NAME`,
        as a student scripts it (bounded by `timeout`); its output."""
        keys = "".join(f"{command}\n" for command in commands).encode()
        return self.exec(name, "timeout", "-k", "5", str(timeout), "ftplab-client", "--name", client_name, stdin=keys)

    def sha256(self, name: str, path: str) -> str:
        digest = self.exec(name, "sha256sum", path).split()[0]
        assert re.fullmatch(r"[0-9a-f]{64}", digest), digest
        return digest

    def server_log(self) -> str:
        return self.docker("service", "logs", "--raw", f"{self.stack}_server", check=False)

    def joined(self) -> dict[str, str]:
        """Who joined, by name, with the address the server saw: from the server's log."""
        return dict(re.findall(r"INFO joined (\S+)@([0-9.]+):\d+", self.server_log()))

    def describe(self) -> str:
        """What a failed test shows: the tasks and the server's log."""
        parts = [self.docker("stack", "ps", "--no-trunc", self.stack, check=False)]
        parts.append("--- server log ---\n" + self.server_log()[-8000:])
        return "\n".join(parts)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
