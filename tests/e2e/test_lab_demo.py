"""`scripts/lab demo` in a class started with options (`up --tls` here): a demo student whose
container is gone is started again as the class has it, and nothing else is touched. The
server keeps its container and speaks TLS as before; the demo once ran a plain `up` instead,
which made the class anew in clear."""

from __future__ import annotations

import pytest

from .classroom import LabScript
from .lab import client_session

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tls_class(docker_client, e2e_images):
    lab = LabScript(docker_client, e2e_images["base"])
    try:
        lab.check("up", "--students", "3", "--tls")
        yield lab
    finally:
        lab.down()


@pytest.fixture(autouse=True)
def _show_lab_logs_on_failure(request):
    if "tls_class" in request.fixturenames:
        request.node._ftplab_compose = request.getfixturevalue("tls_class")


def instance(container) -> tuple[str, str]:
    """A container's id and when it last started: the same pair, the same running container."""
    return container.id, container.attrs["State"]["StartedAt"]


def test_the_demo_starts_a_missing_student_and_leaves_the_tls_server_as_it_was(tls_class):
    server, alice = instance(tls_class.container("server")), instance(tls_class.container("alice"))
    tls_class.container("carol").remove(force=True)

    out = tls_class.check("demo")

    assert "Starting carol for the demo" in out, out
    assert "Demo finished: every check passed" in out, out
    assert "Starting the lab" not in out and "Building" not in out, "no `up`"
    assert instance(tls_class.container("server")) == server, "the server was not made anew nor restarted"
    assert instance(tls_class.container("alice")) == alice
    carol = tls_class.container("carol")
    assert "FTPLAB_TLS=yes" in carol.attrs["Config"]["Env"], "carol as the class has it"
    assert "TLS:           on, both doors" in tls_class.check("status")
    code, said, err = client_session(carol, "carol2", ["who"])
    assert code == 0 and "Conectados (" in said, (said, err)
    in_clear = {"FTPLAB_TLS": "no", "FTPLAB_CA": ""}  # a CA alone means TLS
    code, said, err = client_session(carol, "carol3", ["who"], environment=in_clear)
    assert code != 0 and "Conectados (" not in said, ("a client in clear is refused", said, err)
