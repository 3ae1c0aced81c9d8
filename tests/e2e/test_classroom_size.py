"""A class of thirty: scripts/lab up --students 30 gives every student its own machine,
address and keyboard, the server takes them all, and `down` leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import signal

import pytest

from .classroom import LAB, LabScript
from .lab import wait_until
from .test_classroom import _read_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLASS_SIZE = 30
DETACH = b"\x10\x11"  # Ctrl-P Ctrl-Q


@pytest.fixture
def big_class(request, docker_client, e2e_images):
    lab = LabScript(docker_client, e2e_images["base"])
    request.node._ftplab_compose = lab
    try:
        yield lab
    finally:
        lab.down()


def test_a_class_of_thirty_comes_up_joins_and_goes_away_without_a_trace(big_class, docker_client):
    names = ["alice", "bob", "carol", *(f"student{number:02d}" for number in range(4, CLASS_SIZE + 1))]
    big_class.check("up", "--students", str(CLASS_SIZE))

    status = wait_until(
        lambda: (
            (out := big_class.check("status")) and f"Connected to the server ({CLASS_SIZE})" in out and out
        ),
        timeout=120,
        message=f"all {CLASS_SIZE} students connected",
    )
    assert ", ".join(names) in status
    for number, name in enumerate(names, start=11):
        assert re.search(rf"^\s+{name}\s+{re.escape(big_class.address(number))}\s+running", status, re.M), (
            name
        )

    # The last student's keyboard: attach, ask who is there, detach.
    pid, terminal = pty.fork()
    if pid == 0:
        try:
            os.execve(str(LAB), [str(LAB), "attach", names[-1]], big_class.env)
        finally:
            os._exit(127)
    try:
        screen = _read_until(terminal, b"Attached to", b"")
        os.write(terminal, b"who\r")
        screen = _read_until(terminal, f"Conectados ({CLASS_SIZE})".encode(), screen)
        os.write(terminal, DETACH)
        _read_until(terminal, None, screen)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(terminal)
    assert big_class.container(names[-1]).status == "running", "detaching left the student running"

    big_class.check("down")
    project = {"label": f"com.docker.compose.project={big_class.project}"}
    assert docker_client.containers.list(all=True, filters=project) == []
    assert docker_client.volumes.list(filters=project) == []
    assert docker_client.networks.list(names=[big_class.network_name()]) == []


def test_down_forces_the_class_own_endpoints_off_labnet_but_no_stranger(big_class, docker_client, e2e_images):
    """Docker 20.10 can keep a removed container's endpoint on labnet (moby/moby#42119): `down` then
    found labnet "has active endpoints" with no container on it. An endpoint under a machine's
    container name stands for that here: `down` forces it off; a stranger's it leaves, and says who."""
    big_class.check("up")
    network = big_class.network_name()
    big_class.container("carol").remove(force=True)
    left_behind = f"{big_class.project}-carol-1"
    stranger = f"{big_class.project}-stranger"
    plain = []
    try:
        for name in (left_behind, stranger):
            plain.append(
                docker_client.containers.run(
                    e2e_images["base"], ["sleep", "600"], name=name, network=network, detach=True
                )
            )

        code, out, err = big_class.run("down")
        assert code == 1, out + err
        assert stranger in err, err
        attached = docker_client.networks.get(network).attrs["Containers"].values()
        assert [endpoint["Name"] for endpoint in attached] == [stranger]

        plain.pop().remove(force=True)
        big_class.check("down")
        assert docker_client.networks.list(names=[network]) == []
    finally:
        for container in plain:
            container.remove(force=True)
