"""The real compose.yaml, brought up by testcontainers' DockerCompose and driven like
`scripts/lab demo` does: so the lab's compose file cannot rot without a test failing.

It runs as its own Compose project (unique name), on a subnet Docker picked as free
(LABNET_SUBNET/LABNET_PREFIX), with its own image tag (FTPLAB_IMAGE_TAG) and without
reading the repository's .env, so it cannot clash with a lab someone is running."""

from __future__ import annotations

import contextlib
import os
import re
import uuid

import pytest

from .conftest import dropping_displaced
from .lab import (
    BIG_FILE,
    CLIENT_IMAGE,
    DOWNLOAD_DIR,
    E2E_TAG,
    REPO_ROOT,
    SERVED_DIR,
    SERVER_IMAGE,
    SPANISH_FILE,
    TIMEOUT,
    InteractiveClient,
    assert_least_privileged,
    client_session,
    unique_name,
    wait_until,
)
from .subnets import release_subnet, reserve_subnet

pytestmark = pytest.mark.e2e

FILES = ["bienvenida.txt", SPANISH_FILE, "logo.png", BIG_FILE]
MACHINES = {"server": 10, "alice": 11, "bob": 12, "carol": 13}


class ComposeLab:
    """One Compose project of compose.yaml; `describe()` is what a failed test shows."""

    def __init__(self, docker_client, compose, project: str):
        self.docker = docker_client
        self.compose = compose
        self.project = project
        self.clients: list[InteractiveClient] = []

    def container(self, service: str):
        return self.docker.containers.get(self.compose.get_container(service).ID)

    def describe(self) -> str:
        parts = []
        for container in self.docker.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={self.project}"}
        ):
            logs = container.logs().decode("utf-8", "replace")[-6000:]
            parts.append(f"--- docker logs {container.name} ({container.status}) ---\n{logs}")
        parts += [client.transcript() for client in self.clients]
        return "\n".join(parts)


@pytest.fixture(scope="module")
def compose_lab(docker_client, e2e_images):
    """compose.yaml up (built from this checkout) for this module's tests, which only read
    from it or add clients of their own; `down --volumes` at the end, pass or fail."""
    from testcontainers.compose import DockerCompose

    subnet = reserve_subnet(docker_client)  # until the lab is down
    project = unique_name()
    settings = {
        "COMPOSE_PROJECT_NAME": project,
        "LABNET_SUBNET": subnet,
        "LABNET_PREFIX": ".".join(subnet.split("/")[0].split(".")[:3]),
        "BASE_IMAGE": e2e_images["base"],
        "FTPLAB_IMAGE_TAG": E2E_TAG,
        "FTPLAB_LANG": "es",
        "FTPLAB_MAX_CLIENTS": "10",
        "FTPLAB_MAX_PER_IP": "4",
        "FTPLAB_IDLE_TIMEOUT": "0",
    }
    # DockerCompose runs `docker compose` with this process's environment; .env is not read.
    compose = DockerCompose(
        REPO_ROOT, compose_file_name="compose.yaml", build=True, wait=True, env_file=os.devnull
    )
    lab = ComposeLab(docker_client, compose, project)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in settings.items():
            patch.setenv(key, value)
        try:
            with dropping_displaced(docker_client, SERVER_IMAGE, CLIENT_IMAGE):
                compose.start()  # builds them anew, under its project's label
            yield lab, settings
        finally:
            for client in lab.clients:
                client.end()
            with contextlib.suppress(Exception):
                compose.stop(down=True)  # down --volumes: containers, network, volumes
            release_subnet(subnet)


@pytest.fixture(autouse=True)
def _show_compose_logs_on_failure(request):
    """Lets the report hook find the project, to show its containers' logs if a test fails."""
    if "compose_lab" in request.fixturenames:
        request.node._ftplab_compose = request.getfixturevalue("compose_lab")[0]


def _exec(container, *argv: str) -> tuple[int, str]:
    result = container.exec_run(list(argv))
    return result.exit_code, result.output.decode("utf-8", "replace")


def test_compose_lab_serves_alice_bob_and_carol(compose_lab):
    lab, settings = compose_lab
    prefix = settings["LABNET_PREFIX"]
    containers = {service: lab.container(service) for service in MACHINES}
    server = containers["server"]

    # Every machine has the address compose.yaml gives it, and the real clients are in.
    for service, host_number in MACHINES.items():
        networks = containers[service].attrs["NetworkSettings"]["Networks"]
        assert [n["IPAddress"] for n in networks.values()] == [f"{prefix}.{host_number}"], service
    for service in ("alice", "bob", "carol"):
        wait_until(
            lambda s=service: re.search(
                rf"joined {s}@{re.escape(prefix)}\.{MACHINES[s]}:\d+", server.logs().decode()
            ),
            message=f"the lab's {service} in the server's log",
            timeout=TIMEOUT,
        )

    # bob2 listens in bob's machine while alice2 and carol2 come and go.
    bob2 = InteractiveClient(containers["bob"].id, "bob", "bob2")
    lab.clients.append(bob2)
    demo_dir = f"{DOWNLOAD_DIR}/e2e-{uuid.uuid4().hex[:6]}"
    token = uuid.uuid4().hex[:8]
    marker, secret, reply = f"hola a todos {token}", f"psst bob2 {token}", f"hola alice2 {token}"
    commands = ["list", *(f"get {name}" for name in FILES), "who", marker, f"@bob2 {secret}", "quit"]
    code, out, err = client_session(
        containers["alice"], "alice2", commands, args=["--download-dir", demo_dir]
    )
    assert code == 0, (out, err)
    assert re.search(r"Conectados \(5\): alice, alice2, bob, bob2, carol", out), out
    code, carol_out, err = client_session(containers["carol"], "carol2", ["who", reply, "quit"])
    assert code == 0, (carol_out, err)

    bob2.expect(f"alice2> {marker}")
    bob2.expect(f"alice2> (privado) {secret}")
    bob2.expect(f"carol2> {reply}")
    assert bob2.quit() == 0, bob2.transcript()

    for name in FILES:
        served = _exec(server, "sha256sum", "--", f"{SERVED_DIR}/{name}")[1].split()[0]
        code, saved = _exec(containers["alice"], "sha256sum", "--", f"{demo_dir}/{name}")
        assert code == 0 and saved.split()[0] == served, (name, saved)

    # The lab's own clients, on their terminals, saw the chat too.
    for service in ("alice", "bob", "carol"):
        wait_until(
            lambda s=service: f"alice2> {marker}" in containers[s].logs().decode("utf-8", "replace"),
            message=f"alice2's message on {service}'s terminal",
            timeout=TIMEOUT,
        )
        containers[service].reload()
        assert containers[service].status == "running", service

    # alice2's leaving is announced after her private line was handled: once carol's terminal
    # shows it, carol would have shown the private line too.
    def carol_screen() -> str:
        return containers["carol"].logs().decode("utf-8", "replace")

    wait_until(
        lambda: "alice2 se ha ido" in carol_screen(),
        message="alice2's leaving on carol's terminal",
        timeout=TIMEOUT,
    )
    assert secret not in carol_screen(), "a private message reached someone else"


def test_compose_lab_machines_run_least_privileged(compose_lab):
    lab, _ = compose_lab
    writable = {"server": SERVED_DIR, "alice": DOWNLOAD_DIR, "bob": DOWNLOAD_DIR, "carol": DOWNLOAD_DIR}
    for service, volume_dir in writable.items():
        assert_least_privileged(lab.container(service), volume_dir)
