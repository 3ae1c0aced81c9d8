"""The lab as a Swarm stack on a single-node swarm made on this engine for the test:
`scripts/lab swarm up`, every student joined from its own overlay address, a scripted
session in a task's container, least privilege, `scripts/lab swarm down`.

The swarm is made only if this engine is in none (else the test is skipped, failed
under CI=true: it never touches a swarm it did not make) and is left at the end,
pass or fail, with the docker_gwbridge network Swarm made for it. Swarm listens on
127.0.0.1 only.

Marked `alone`: a lab made before the engine turns into a swarm, or turns back, and removed
after, could leave its network behind ("has active endpoints", with none: Docker 20.10 lost
count of them, seen with a class of 30 taken down meanwhile). So no other e2e test may run
meanwhile: scripts/test runs these after the others, and beside other workers they skip."""

from __future__ import annotations

import ipaddress
import os
import re

import pytest

from .lab import CLIENT_IMAGE, DOWNLOAD_DIR, E2E_TAG, SERVED_DIR, SMALL_FILE, unique_name
from .swarm import SwarmLab, docker, in_ci

pytestmark = [pytest.mark.e2e, pytest.mark.alone]

STUDENTS = 3
GWBRIDGE = "docker_gwbridge"
VOLUMES_FORMAT = '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}'


def network_exists(name: str) -> bool:
    return name in docker("network", "ls", "--format", "{{.Name}}").split()


@pytest.fixture(scope="module")
def single_node_swarm(docker_client, e2e_images):
    """This engine as a one-node swarm for the module, left afterwards as it was found."""
    if os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") != "1":
        pytest.skip("makes this engine a swarm, which no other e2e test may see: run it alone (-m alone)")
    state = docker("info", "-f", "{{.Swarm.LocalNodeState}}").strip()
    if state != "inactive":
        message = f"this engine is already in a swarm (state {state}); the test only uses a swarm it makes"
        if in_ci():
            pytest.fail(f"{message} (CI=true: not skipping)", pytrace=False)
        pytest.skip(message)
    had_gwbridge = network_exists(GWBRIDGE)
    docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
    try:
        yield
    finally:
        docker("swarm", "leave", "--force", check=False)
        if not had_gwbridge and network_exists(GWBRIDGE):
            docker("network", "rm", GWBRIDGE)


@pytest.fixture
def swarm_lab(request, single_node_swarm):
    """A stack of its own (unique name, the session's image tag); `down` at the end, pass or fail."""
    lab = SwarmLab(unique_name(), STUDENTS, {"FTPLAB_IMAGE_TAG": E2E_TAG})
    request.node._ftplab_lab = lab
    try:
        yield lab
    finally:
        lab.script("down", check=False)


def stack_volumes(lab: SwarmLab) -> set[str]:
    """Every volume mounted by any of the stack's containers, running or ended."""
    containers = docker("ps", "-aq", "--filter", f"label=com.docker.stack.namespace={lab.stack}").split()
    names = docker("inspect", "-f", VOLUMES_FORMAT, *containers)
    return set(names.split())


def assert_least_privileged(lab: SwarmLab, name: str, writable_dir: str) -> None:
    """deploy/stack.yaml's least privilege, on the running task: no capability (so a setuid
    program gains none either), a non-root user, a read-only root, writable volume and /tmp."""
    _, container = lab.container_of(name)
    host_config = docker(
        "inspect", "-f", "{{json .HostConfig.CapDrop}} {{.HostConfig.ReadonlyRootfs}}", container
    )
    assert host_config.split() == ['["ALL"]', "true"], (name, host_config)
    assert lab.exec(name, "id", "-u") == "10001\n", name
    caps = lab.exec(name, "grep", "-E", "^Cap(Inh|Prm|Eff|Bnd|Amb):", "/proc/1/status", "/proc/self/status")
    assert all(line.endswith("0000000000000000") for line in caps.splitlines()), caps
    assert "Read-only file system" in lab.exec(name, "sh", "-c", "touch /written 2>&1", check=False), name
    probe = f"{writable_dir}/.written-by-test"
    lab.exec(name, "sh", "-c", f"touch /tmp/written {probe} && rm /tmp/written {probe}")


def test_stack_on_one_node_serves_every_student_over_the_overlay(swarm_lab):
    lab = swarm_lab
    up = lab.script("up", "--no-build")
    assert "The lab is up" in up.stderr, up.stderr
    tasks = lab.running()
    assert {task.node for task in tasks.values()} == {lab.manager}

    # Every machine has its own address on labnet; every student joined from its own.
    labnet = docker(
        "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", f"{lab.stack}_labnet"
    )
    subnet = ipaddress.ip_network(labnet.strip())
    addresses = [task.address for task in tasks.values()]
    assert len(set(addresses)) == STUDENTS + 1, tasks
    assert all(ipaddress.ip_address(address) in subnet for address in addresses), (subnet, tasks)
    joined = lab.joined()
    for n in range(1, STUDENTS + 1):
        assert joined.get(f"student{n}") == tasks[f"student{n}"].address, (joined, tasks)

    # A student scripts a session in its task's container: list, then a byte-identical download.
    # (Into student2's own folder on the host's downloads volume.)
    out = lab.session("student2", "ana", ["who", "list", f"get {SMALL_FILE}", "quit"])
    assert re.search(r"Conectados \(\d+\): .*student1, student2, student3", out), out
    assert "Archivos en el servidor (" in out and re.search(rf"\s{re.escape(SMALL_FILE)}$", out, re.M), out
    saved = f"{DOWNLOAD_DIR}/student2/{SMALL_FILE}"
    assert f"Guardado {saved}" in out, out
    assert lab.sha256("student2", saved) == lab.sha256("server", f"{SERVED_DIR}/{SMALL_FILE}")

    # labnet is attachable: a teacher's extra client joins from a plain `docker run`.
    extra = docker(
        "run", "--rm", "-i", "--network", f"{lab.stack}_labnet", "--cap-drop", "ALL", "--read-only",
        "--security-opt", "no-new-privileges:true", "--tmpfs", "/tmp", "-e", "FTPLAB_HOST=server",
        CLIENT_IMAGE, "--name", "profe2", stdin=b"who\nquit\n",
    )  # fmt: skip
    assert "Hola, profe2." in extra and "student3" in extra, extra

    assert_least_privileged(lab, "server", SERVED_DIR)
    assert_least_privileged(lab, "student1", DOWNLOAD_DIR)

    # Down: the services, their containers, the network and every volume are gone.
    volumes = stack_volumes(lab)
    assert {f"{lab.stack}_files", f"{lab.stack}_downloads"} <= volumes, volumes
    lab.script("down")
    assert lab.stack not in docker("stack", "ls", "--format", "{{.Name}}").split()
    assert not docker("ps", "-aq", "--filter", f"label=com.docker.stack.namespace={lab.stack}").split()
    assert not network_exists(f"{lab.stack}_labnet")
    assert not volumes & set(docker("volume", "ls", "-q").split()), "volumes left behind"
