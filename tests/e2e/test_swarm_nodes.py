"""The lab on a real three-node swarm: Docker-in-Docker hosts on one bridge network, formed and
driven as docs/swarm.md says (init, join, a label, contexts, `scripts/lab swarm`).

The server runs on the manager, the students on the two workers, so every byte between
them crosses nodes inside VXLAN (the overlay labnet). One worker is stopped in the middle
of a session: the students on the other keep being served, and Swarm starts the lost
students again there. A teacher attaches to a student on another node. Everything (the
stack, the nodes with their engines' storage, the network, the contexts) is removed at
the end, pass or fail. Under CI=true a node that cannot start fails the test."""

from __future__ import annotations

import re

import pytest

from .conftest import BUILD_TIMEOUT
from .lab import (
    BIG_FILE,
    CLIENT_IMAGE,
    CONNECTION_LOST,
    DOWNLOAD_DIR,
    E2E_TAG,
    SERVED_DIR,
    SERVER_IMAGE,
    unique_name,
    wait_until,
)
from .subnets import reserved_subnet
from .swarm import SCRIPT, SwarmLab, TaskClient, Terminal, docker, in_ci
from .swarm_nodes import NodeCluster, build_node_image

pytestmark = pytest.mark.e2e

NODES = 3
STUDENTS = 4
VXLAN_OVERHEAD = 50
DETACH_KEYS = b"\x10\x11"  # Ctrl-P Ctrl-Q
NODE_DOWN_TIMEOUT = 60.0
BIG_FILE_BYTES = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def cluster(docker_client, e2e_images, tmp_path_factory):
    """Three nodes in one swarm, the manager labelled ftplab.role=server and holding the
    images (`scripts/lab swarm up` takes them to the workers); all removed at the end."""
    image = build_node_image(E2E_TAG, e2e_images["base"], BUILD_TIMEOUT)
    nodes = NodeCluster(unique_name(), image, tmp_path_factory.mktemp("swarm"), NODES)
    try:
        try:
            with reserved_subnet(docker_client) as subnet:
                nodes.start(subnet)
        except AssertionError as error:
            message = f"Docker-in-Docker nodes do not start on this engine: {error}"
            if in_ci():
                pytest.fail(f"{message} (CI=true: not skipping)", pytrace=False)
            pytest.skip(message)
        nodes.load_images(nodes.manager, [SERVER_IMAGE, CLIENT_IMAGE])
        nodes.form_swarm()
        yield nodes
    finally:
        nodes.remove()
        docker("image", "rm", image, check=False)


@pytest.fixture
def swarm_lab(request, cluster):
    """`scripts/lab swarm` run from this host against the manager, students kept off the
    server's node; `down` at the end, pass or fail."""
    settings = {
        **cluster.env,
        "DOCKER_CONTEXT": cluster.manager.name,
        "FTPLAB_IMAGE_TAG": E2E_TAG,
        "STUDENT_CONSTRAINT": "node.labels.ftplab.role!=server",
        "LABNET_MTU": str(cluster.link_mtu() - VXLAN_OVERHEAD),
    }
    lab = SwarmLab("ftplab", STUDENTS, settings)
    request.node._ftplab_lab = lab
    try:
        yield lab
    finally:
        lab.script("down", check=False)


def students_on(tasks, node: str) -> list[str]:
    return sorted(name for name, task in tasks.items() if name != "server" and task.node == node)


def test_lab_across_three_nodes_keeps_serving_when_a_node_stops(cluster, swarm_lab):
    lab = swarm_lab
    manager, near, far = (node.name for node in cluster.nodes)
    up = lab.script("up", "--no-build")
    for worker in (near, far):
        assert f"Loading {SERVER_IMAGE} {CLIENT_IMAGE} on {worker}" in up.stderr, up.stderr

    # The server on the labelled manager, the students spread over the two workers,
    # each joined from its own overlay address.
    tasks = lab.running()
    assert tasks["server"].node == manager, tasks
    assert students_on(tasks, near) and students_on(tasks, far), tasks
    assert len({task.address for task in tasks.values()}) == STUDENTS + 1, tasks
    joined = lab.joined()
    assert all(joined.get(name) == task.address for name, task in tasks.items() if name != "server"), joined

    # A download across nodes, byte-identical, and its bytes left the manager through VXLAN.
    served = lab.sha256("server", f"{SERVED_DIR}/{BIG_FILE}")
    remote = students_on(tasks, far)[0]
    tunnelled = cluster.vxlan_bytes_sent(cluster.manager, "ftplab_labnet")
    out = lab.session(remote, "eva", [f"get {BIG_FILE}", "quit"])
    assert f"Guardado {DOWNLOAD_DIR}/{remote}/{BIG_FILE}" in out, out
    assert lab.sha256(remote, f"{DOWNLOAD_DIR}/{remote}/{BIG_FILE}") == served
    assert cluster.vxlan_bytes_sent(cluster.manager, "ftplab_labnet") - tunnelled >= BIG_FILE_BYTES

    # ana is in a session on one worker when the other worker stops.
    local = students_on(tasks, near)[0]
    ana = TaskClient(lab, local, "ana")
    try:
        lost = {name: tasks[name].address for name in students_on(tasks, far)}
        cluster.stop(cluster.nodes[2])
        for name, address in lost.items():
            wait_until(
                lambda name=name, address=address: re.search(
                    rf"disconnect {name}@{re.escape(address)}:", lab.server_log()
                ),
                timeout=NODE_DOWN_TIMEOUT,
                message=f"the server to see {name} (on the stopped node) leave",
            )
        ana.send(f"get {BIG_FILE}")
        ana.expect(f"Guardado {DOWNLOAD_DIR}/{local}/{BIG_FILE}")
        ana.send("who")
        ana.expect("Conectados (")
        assert not ana.has(CONNECTION_LOST), ana.transcript()
        assert lab.sha256(local, f"{DOWNLOAD_DIR}/{local}/{BIG_FILE}") == served
        assert ana.quit() == 0, ana.transcript()
    finally:
        ana.end()

    # Swarm starts the lost students again on the worker that is left, and they join.
    def all_students_running_on_near():
        now = lab.status()
        students = [task for name, task in now.items() if name != "server"]
        ok = len(students) == STUDENTS and all(t.node == near and t.state == "running" for t in students)
        return now if ok else None

    moved = wait_until(
        all_students_running_on_near, timeout=NODE_DOWN_TIMEOUT, message=f"every student running on {near}"
    )
    wait_until(
        lambda: all(lab.joined().get(name) == moved[name].address for name in lost),
        timeout=NODE_DOWN_TIMEOUT,
        message=f"{sorted(lost)} joined again from {near}",
    )

    # The teacher, on this host, attaches to a student on another node and detaches.
    student = students_on(moved, near)[0]
    terminal = Terminal([SCRIPT, "swarm", "attach", student], lab.env)
    try:
        terminal.output.wait_for(f"Attached to {student} on node {near}")
        terminal.type(b"who\r")
        terminal.output.wait_for(re.compile(rf"Conectados \(\d+\): .*\b{student}\b"))
        terminal.type(DETACH_KEYS)
        terminal.output.wait_for("read escape sequence")  # docker attach then exits (status 1)
        terminal.wait()
    finally:
        terminal.end()
    assert lab.running()[student].node == near, "detaching leaves the student running"

    # The stopped host comes back (its engine rejoins the swarm), and `down` leaves nothing
    # on any host.
    cluster.start_again(cluster.nodes[2])
    lab.script("down")
    for node in cluster.nodes:
        assert not cluster.on(
            node, "ps", "-aq", "--filter", "label=com.docker.stack.namespace=ftplab"
        ).split()
        assert not cluster.on(node, "volume", "ls", "-q").split(), f"volumes left on {node.name}"
    assert "ftplab_labnet" not in cluster.on(cluster.manager, "network", "ls", "--format", "{{.Name}}")
