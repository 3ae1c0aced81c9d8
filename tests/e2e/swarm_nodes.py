"""Hosts for a multi-node swarm: Docker-in-Docker containers on one bridge network.

Each node is a container of `ftplab/dind:TAG` (tests/e2e/dind: Debian's docker.io)
running its own dockerd, with its own address on the nodes' network; Swarm's
traffic between them (2377 control, 7946 gossip, 4789 VXLAN) stays on that
network. This host reaches each node's engine through a Unix socket the node
puts in a directory shared with the test, and a Docker context named like the
node, in a Docker config directory of the test's own: exactly how docs/swarm.md
has a teacher reach the nodes of a real lab (there with ssh:// contexts).

A node gets every capability this engine holds instead of --privileged:
--privileged asks for every capability the kernel knows, and where the engine
itself runs without some of them (here CAP_SYS_RESOURCE is missing from its
bounding set) runc refuses to start the container. Seccomp, AppArmor and the
masked /proc paths are lifted as --privileged would, and the node remounts /sys
and its cgroups read-write itself (tests/e2e/dind/node-entrypoint.sh).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .lab import REPO_ROOT, wait_until
from .swarm import docker

DIND_DIR = REPO_ROOT / "tests" / "e2e" / "dind"
NODE_START_TIMEOUT = 60.0
SWARM_FORM_TIMEOUT = 60.0

# Linux capabilities in kernel order (linux/capability.h): bit N of CapBnd is CAPABILITIES[N].
CAPABILITIES = (  # noqa: SIM905  (as the kernel lists them)
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
    "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
    "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
    "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
    "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
    "CHECKPOINT_RESTORE"
).split()


def capabilities_missing_here() -> list[str]:
    """The capabilities not in this process's bounding set (the engine's, on this host)."""
    bounding = next(
        int(line.split()[1], 16) for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("CapBnd:")
    )  # fmt: skip
    return [name for bit, name in enumerate(CAPABILITIES) if not bounding >> bit & 1]


def build_node_image(tag: str, base_image: str, timeout: int) -> str:
    """`ftplab/dind:TAG` from Debian's docker.io on BASE_IMAGE (apt's cache makes rebuilds quick)."""
    image = f"ftplab/dind:{tag}"
    command = [
        "docker",
        "build",
        "-f",
        str(DIND_DIR / "Dockerfile"),
        "--build-arg",
        f"BASE_IMAGE={base_image}",
    ]
    result = subprocess.run(
        [*command, "-t", image, str(DIND_DIR)], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"docker build of {image} failed:\n{(result.stdout + result.stderr)[-4000:]}"
    )
    return image


@dataclass
class Node:
    """One Docker host of the swarm: a container whose dockerd this test reaches by context."""

    name: str
    socket_dir: Path
    address: str = ""

    @property
    def socket(self) -> str:
        return f"unix://{self.socket_dir}/docker.sock"


class NodeCluster:
    """The nodes' network and containers, their contexts, and the swarm they form."""

    def __init__(self, prefix: str, image: str, workdir: Path, count: int):
        self.prefix = prefix
        self.image = image
        self.network = f"{prefix}-nodes"
        self.config_dir = workdir / "docker-config"
        self.config_dir.mkdir()
        self.env = {"DOCKER_CONFIG": str(self.config_dir)}
        self.nodes = [Node(f"{prefix}-node{n}", workdir / f"node{n}") for n in range(1, count + 1)]
        self.started: list[Node] = []

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    def on(self, node: Node, *argv: str, **kwargs) -> str:
        """`docker ARGV` against `node`'s engine."""
        return docker("--context", node.name, *argv, env=self._env(), **kwargs)

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    # --- up ---------------------------------------------------------------------

    def start(self, subnet: str) -> None:
        """The network (on `subnet`), the node containers and a context for each; returns once
        all answer."""
        docker("network", "create", "--driver", "bridge", "--subnet", subnet, self.network)
        node_options = [
            "--cap-add", "ALL", *(f"--cap-drop={cap}" for cap in capabilities_missing_here()),
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm",
            "--mount", "type=volume,dst=/var/lib/docker", "--network", self.network,
        ]  # fmt: skip
        for node in self.nodes:
            node.socket_dir.mkdir()
            docker(
                "run", "-d", "--name", node.name, "--hostname", node.name, *node_options,
                "--mount", f"type=bind,src={node.socket_dir},dst=/node", self.image,
                "--host", "unix:///var/run/docker.sock", "--host", "unix:///node/docker.sock",
            )  # fmt: skip
            self.started.append(node)
            node.address = docker(
                "inspect",
                "-f",
                f'{{{{(index .NetworkSettings.Networks "{self.network}").IPAddress}}}}',
                node.name,
            ).strip()
            docker("context", "create", node.name, "--docker", f"host={node.socket}", env=self._env())
        for node in self.nodes:
            wait_until(
                lambda node=node: self._answers(node),
                timeout=NODE_START_TIMEOUT,
                message=f"dockerd in {node.name}",
            )

    def _answers(self, node: Node) -> bool:
        return self.on(node, "version", "-f", "{{.Server.Version}}", check=False).strip() != ""

    def form_swarm(self) -> None:
        """As docs/swarm.md says: init on the manager, join the others as workers, label the
        manager as the server's node."""
        manager = self.manager
        self.on(manager, "swarm", "init", "--advertise-addr", manager.address)
        token = self.on(manager, "swarm", "join-token", "-q", "worker").strip()
        for node in self.nodes[1:]:
            self.on(
                node, "swarm", "join", "--token", token, "--advertise-addr", node.address, manager.address
            )
        self.on(manager, "node", "update", "--label-add", "ftplab.role=server", manager.name)
        wait_until(
            lambda: self.ready_nodes() == {node.name for node in self.nodes},
            timeout=SWARM_FORM_TIMEOUT,
            message="every node Ready in the swarm",
        )

    def ready_nodes(self) -> set[str]:
        listing = self.on(self.manager, "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
        return {line.split()[0] for line in listing.splitlines() if line.endswith(" Ready")}

    def load_images(self, node: Node, images: list[str]) -> None:
        """`docker save IMAGES | docker load` into `node` (there is no registry to pull from)."""
        saved = subprocess.run(["docker", "save", *images], capture_output=True, check=True, timeout=300)
        self.on(node, "load", "-q", stdin=saved.stdout)

    def vxlan_bytes_sent(self, node: Node, network: str) -> int:
        """Bytes `node` has sent into `network`'s VXLAN tunnel, i.e. to tasks on other nodes.
        Read in the overlay's namespace on that node, which Docker names 1-<first ten
        characters of the network's id>."""
        network_id = self.on(node, "network", "inspect", "-f", "{{.Id}}", network).strip()
        namespace = f"--net=/var/run/docker/netns/1-{network_id[:10]}"
        links = docker(
            "exec", node.name, "nsenter", namespace, "ip", "-s", "-j", "link", "show", "type", "vxlan"
        )
        return sum(link["stats64"]["tx"]["bytes"] for link in json.loads(links))

    def link_mtu(self) -> int:
        return int(docker("exec", self.manager.name, "cat", "/sys/class/net/eth0/mtu").strip())

    # --- down -------------------------------------------------------------------

    def stop(self, node: Node) -> None:
        """Stop a node the way a host goes away: its engine and every task on it end."""
        docker("stop", "--time", "20", node.name)

    def start_again(self, node: Node) -> None:
        """Bring a stopped node back: its engine starts and rejoins the swarm by itself."""
        docker("start", node.name)
        wait_until(
            lambda: node.name in self.ready_nodes(),
            timeout=SWARM_FORM_TIMEOUT,
            message=f"{node.name} Ready again",
        )

    def remove(self) -> None:
        """Every node container (with its /var/lib/docker volume) and the network."""
        for node in self.started:
            docker("rm", "--force", "--volumes", node.name, check=False)
        if self.network in docker("network", "ls", "--format", "{{.Name}}").split():
            docker("network", "rm", self.network)
