"""`scripts/lab` driven as a teacher drives it, in a Compose project of its own.

`LabScript` runs scripts/lab with the settings that keep a test's lab apart from
anyone else's: its own project name, a subnet held for it until `down()`
(tests/e2e/subnets.py), the worker's image tag, no settings file (LAB_ENV_FILE=/dev/null), and what `up
--publish` opens on 127.0.0.1 only: the ports on any free ones, the FTP door's
passive ports on a free block (published with the same numbers). `down()`
removes the project's containers, network and volumes, and the tools image
when the lab built it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import docker

from support.ports import free_ports

from .lab import E2E_TAG, REPO_ROOT, unique_name, wait_until
from .subnets import release_subnet, reserve_subnet

LAB = REPO_ROOT / "scripts" / "lab"
SCRIPT_TIMEOUT = 300
PASSIVE_PORTS = 4
"""A test lab's passive range: published with the same numbers on the host, so a free block."""


class LabScript:
    """One project of scripts/lab; every command returns (exit status, stdout, stderr)."""

    def __init__(self, docker_client: docker.DockerClient, base_image: str):
        self.docker = docker_client
        self.project = unique_name()
        self.subnet = subnet = reserve_subnet(docker_client)  # until `down`
        self.prefix = ".".join(subnet.split("/")[0].split(".")[:3])
        self.passive = free_ports(PASSIVE_PORTS)
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": self.project,
            "FTPLAB_IMAGE_TAG": E2E_TAG,
            "LAB_ENV_FILE": os.devnull,
            "BASE_IMAGE": base_image,
            "LABNET_SUBNET": subnet,
            "LAB_PUBLISH_ADDRESS": "127.0.0.1",
            "LAB_PUBLISH_PORT": "0",  # Docker picks a free one: no race with other programs
            "LAB_FTP_PORT": "0",
            "LAB_PASSIVE_PORTS": f"{self.passive.start}-{self.passive.stop - 1}",
            "FTPLAB_LANG": "es",
        }
        for inherited in ("LABNET_PREFIX", "LAB_STUDENTS", "FTPLAB_MAX_CLIENTS", "FTPLAB_MAX_PER_IP"):
            self.env.pop(inherited, None)
        self.tools_image = f"ftplab/tools:{E2E_TAG}"
        self.had_tools = self._has_image(self.tools_image)

    def run(
        self, *args: str, timeout: float = SCRIPT_TIMEOUT, cwd: Path | None = None
    ) -> tuple[int, str, str]:
        result = subprocess.run(
            [str(LAB), *args],
            env=self.env,
            cwd=cwd or REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return result.returncode, result.stdout, result.stderr

    def check(self, *args: str, timeout: float = SCRIPT_TIMEOUT, cwd: Path | None = None) -> str:
        """Run a command that must succeed; its stdout and stderr together."""
        code, out, err = self.run(*args, timeout=timeout, cwd=cwd)
        assert code == 0, f"scripts/lab {' '.join(args)} exited {code}:\n{out}\n{err}"
        return out + err

    def popen(self, *args: str) -> subprocess.Popen:
        """Start a command in its own process group (so a test can Ctrl-C it)."""
        return subprocess.Popen(
            [str(LAB), *args],
            env=self.env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def container(self, service: str):
        found = self.docker.containers.list(
            all=True,
            filters={
                "label": [
                    f"com.docker.compose.project={self.project}",
                    f"com.docker.compose.service={service}",
                ]
            },
        )
        assert found, f"no container for {service} in {self.project}"
        return found[0]

    def published_port(self) -> int:
        """The port of this computer that `up --publish` opened to the server."""
        ports = self.container("server").attrs["NetworkSettings"]["Ports"]["2121/tcp"]
        return int(ports[0]["HostPort"])

    def published_ftp_port(self) -> int:
        """The port of this computer that `up --publish` opened to the server's FTP door."""
        ports = self.container("server").attrs["NetworkSettings"]["Ports"]["2100/tcp"]
        return int(ports[0]["HostPort"])

    def network_name(self) -> str:
        return f"{self.project}_labnet"

    def address(self, host_number: int) -> str:
        return f"{self.prefix}.{host_number}"

    def server_log(self) -> str:
        return self.container("server").logs().decode("utf-8", "replace")

    def wait_for_server_log(self, text: str, timeout: float = 60) -> None:
        wait_until(
            lambda: text in self.server_log(), timeout=timeout, message=f"{text!r} in the server's log"
        )

    def describe(self) -> str:
        """Every container's log: what a failed test shows."""
        parts = []
        for container in self.docker.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={self.project}"}
        ):
            logs = container.logs().decode("utf-8", "replace")[-4000:]
            parts.append(f"--- docker logs {container.name} ({container.status}) ---\n{logs}")
        return "\n".join(parts)

    def tls_dir(self) -> Path:
        """Where `up --tls` keeps this lab's class CA and server certificate."""
        return REPO_ROOT / ".lab" / f"{self.project}.tls"

    def down(self) -> None:
        """`down --remove-certificates`: nothing of the test's lab is left, not even its CA. What
        the lab's tools left running is removed too; then a failed `down`, or a labnet it left
        behind, fails the test, since a teacher would be left with them."""
        try:
            code, out, err = self.run("down", "--remove-certificates")
            for container in self.docker.containers.list(
                all=True, filters={"label": f"ftplab.lab.project={self.project}"}
            ):
                container.remove(force=True)
            if not self.had_tools and self._has_image(self.tools_image):
                self.docker.images.remove(self.tools_image)
        finally:
            release_subnet(self.subnet)
        assert code == 0, f"scripts/lab down exited {code}:\n{out}\n{err}"
        left = [network.name for network in self.docker.networks.list(names=[self.network_name()])]
        assert self.network_name() not in left, f"scripts/lab down left {self.network_name()}:\n{out}\n{err}"

    def _has_image(self, name: str) -> bool:
        try:
            self.docker.images.get(name)
        except docker.errors.ImageNotFound:
            return False
        return True
