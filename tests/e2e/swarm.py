"""The lab as a Docker Swarm stack, driven through `scripts/lab swarm` as docs/swarm.md says.

`SwarmLab` runs the real script against one manager engine (this host's engine,
or a Docker-in-Docker node reached through a Docker context) and looks at the
result the way a teacher would: `scripts/lab swarm status`, the server's log
(`docker service logs`), and `docker exec` into a task's container on whichever
node it runs. A node is reached through the Docker context named like it
(docs/swarm.md), except the manager itself.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
from dataclasses import dataclass

from support.waiting import LineStream

from .lab import REPO_ROOT, TIMEOUT, InteractiveClient, wait_until

SCRIPT = str(REPO_ROOT / "scripts" / "lab")
UP_TIMEOUT = 240
"""`scripts/lab swarm up` waits up to SWARM_TIMEOUT (below) itself; this bounds the process."""
SWARM_TIMEOUT = "180"
DOCKER_TIMEOUT = 120
TASK_FORMAT = "{{.Slot}} {{.Status.State}} {{.NodeID}} {{.Status.ContainerStatus.ContainerID}}"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def docker(*argv: str, env: dict[str, str] | None = None, stdin: bytes | None = None, check=True) -> str:
    """`docker ARGV`, its output; fails the test (with stderr) when it fails and `check`."""
    result = subprocess.run(
        ["docker", *argv], input=stdin, capture_output=True, env=env, timeout=DOCKER_TIMEOUT
    )
    out = result.stdout.decode("utf-8", "replace")
    if check and result.returncode != 0:
        problem = result.stderr.decode("utf-8", "replace")
        raise AssertionError(f"docker {' '.join(argv)} failed ({result.returncode}):\n{problem}")
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
        # The hostname of the engine `scripts/lab swarm` talks to (a manager of the swarm).
        self.manager: str | None = None
        self.manager = self.docker("info", "-f", "{{.Name}}").strip()

    # --- the script ---------------------------------------------------------------

    def script(self, *args: str, timeout: float = UP_TIMEOUT, check=True) -> subprocess.CompletedProcess:
        """`scripts/lab swarm ARGS`; fails the test with its output if it fails and `check`."""
        result = subprocess.run(
            [SCRIPT, "swarm", *args], capture_output=True, text=True, env=self.env, timeout=timeout
        )
        command = f"scripts/lab swarm {' '.join(args)}"
        assert result.returncode == 0 or not check, (
            f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
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

        return wait_until(all_running, timeout=TIMEOUT * 3, message=f"{sorted(expected)} all running")

    # --- docker, on any node ------------------------------------------------------

    def docker_argv(self, node: str | None = None) -> list[str]:
        """`docker` for `node`'s engine: the manager's (when None), or the context named like it."""
        return ["docker"] if node in (None, self.manager) else ["docker", "--context", node]

    def docker(self, *argv: str, node: str | None = None, **kwargs) -> str:
        """`docker ARGV` on `node`'s engine (the manager's when None)."""
        return docker(*self.docker_argv(node)[1:], *argv, env=self.env, **kwargs)

    def container_of(self, name: str) -> tuple[str, str]:
        """(node, container id) of machine `name`'s running task."""
        if name == "server":
            service, slot = f"{self.stack}_server", "1"
        else:
            service, slot = f"{self.stack}_student", name.removeprefix("student")
        for task in self.docker("service", "ps", "-q", "--filter", "desired-state=running", service).split():
            found = self.docker("inspect", "-f", TASK_FORMAT, task).split()
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
        client = ["ftplab-client", "--name", client_name]
        return self.exec(name, "timeout", "-k", "5", str(timeout), *client, stdin=keys)

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


class TaskClient(InteractiveClient):
    """`ftplab-client` in a task's container on whichever node runs it (`docker --context NODE
    exec -i`): a student typing, read on our side as it arrives."""

    def __init__(self, lab: SwarmLab, machine: str, name: str):
        node, container = lab.container_of(machine)
        self.where = f"{machine}@{node}"
        self.name = name
        command = [*lab.docker_argv(node), "exec", "-i", container, "ftplab-client", "--name", name]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=lab.env
        )
        self.stdout = LineStream(self.process.stdout, f"{name}@{self.where} stdout", TIMEOUT)
        self.stderr = LineStream(self.process.stderr, f"{name}@{self.where} stderr", TIMEOUT)
        self.expect(f"Hola, {name}.")


class _TerminalReader:
    """The master side of a pseudo-terminal as a pipe for LineStream: EIO (the other side
    closed) is the end of input."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = b""

    def readline(self) -> bytes:
        while b"\n" not in self.buffer:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


class Terminal:
    """A command on a pseudo-terminal, as a person at a keyboard runs it (`docker attach`
    wants a terminal): `type` keys, `output` is what it printed, line by line."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        master, child = pty.openpty()
        self.master = master
        self.process = subprocess.Popen(
            argv, stdin=child, stdout=child, stderr=child, env=env, start_new_session=True
        )
        os.close(child)
        self.output = LineStream(_TerminalReader(os.dup(master)), " ".join(argv[-2:]), TIMEOUT)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            os.close(self.master)

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
