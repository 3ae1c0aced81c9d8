"""Fixtures for the end-to-end tests: the images, a network, and a lab of containers per test.

- Docker missing or not answering: every e2e test is skipped, with the reason;
  under CI (CI=true) they fail instead, so a CI machine without Docker cannot
  pass by skipping them.
- `e2e_images` builds `ftplab/server:e2e` and `ftplab/client:e2e` (tag: FTPLAB_E2E_TAG, and
  under pytest-xdist the worker's name after it, `e2e-gw0`) from this checkout once per session
  (`docker build`, with BASE_IMAGE given explicitly: python:3.12-slim if it is here, else the
  local ftplab/base:bookworm).
- `e2e_network`: one user-defined bridge network per session, with a unique
  name, on a subnet Docker picked as free and no other test holds (tests/e2e/subnets.py), pinned
  so that a container can be reconnected with the address it had.
- `lab`: the containers of one test, removed with their volumes at its end,
  pass or fail. When a test fails, the report shows every container's
  `docker logs` and every client's output.
- No Ryuk: cleanup is the fixtures' job (TESTCONTAINERS_RYUK_DISABLED); `no_leaked_networks`
  checks at the session's end that no network of the tests' is left.
- Workers (`-n`, `--dist loadfile`) keep apart: each names what it makes with its own
  NAME_PREFIX, tags its own images and holds its own subnets.
"""

from __future__ import annotations

import os

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # before testcontainers is imported

import contextlib  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from support.waiting import wait_until  # noqa: E402

from .lab import CLIENT_IMAGE, NAME_PREFIX, REPO_ROOT, SERVER_IMAGE, Lab, unique_name  # noqa: E402
from .subnets import reserved_subnet  # noqa: E402

BASE_CANDIDATES = ("python:3.12-slim", "ftplab/base:bookworm")
BUILD_TIMEOUT = 600
NETWORKS_GONE_TIMEOUT = 30


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
    except Exception as error:  # noqa: BLE001  (any failure means: no usable engine)
        return f"no Docker engine answers ({type(error).__name__}: {error})"
    return None


@pytest.fixture(scope="session")
def docker_client():
    """A docker-py client; skips the e2e tests when there is no Docker (fails them under CI)."""
    problem = _docker_problem()
    if problem is not None:
        message = f"end-to-end tests need Docker: {problem}"
        if _in_ci():
            pytest.fail(f"{message} (CI=true: not skipping)", pytrace=False)
        pytest.skip(message)
    import docker

    client = docker.from_env(timeout=120)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _needs_docker(docker_client) -> None:
    """Every test in tests/e2e needs Docker (and is skipped or failed without it)."""


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    import docker

    for candidate in BASE_CANDIDATES:
        try:
            docker_client.images.get(candidate)
            return candidate
        except docker.errors.ImageNotFound:
            continue
    pytest.fail(
        f"none of the base images {', '.join(BASE_CANDIDATES)} is here and no registry is assumed: "
        "run scripts/build-base-image (scripts/test does)",
        pytrace=False,
    )


@contextlib.contextmanager
def dropping_displaced(docker_client, *tags: str) -> Iterator[None]:
    """Around a build of these tags (of a session's images, of a Compose lab): afterwards, remove
    the images the build took the tags from, unless something still names or uses them. They
    would otherwise stay behind with no name."""
    import docker

    displaced = []
    for tag in tags:
        with contextlib.suppress(docker.errors.ImageNotFound):
            displaced.append(docker_client.images.get(tag).id)
    yield
    for old in displaced:
        try:
            if not docker_client.images.get(old).tags:
                docker_client.images.remove(old)
        except docker.errors.APIError:  # gone already, or a container uses it
            pass


@pytest.fixture(scope="session")
def e2e_images(docker_client, base_image: str) -> dict[str, str]:
    """Both images, built once per session from this checkout (cached layers make it quick)."""
    for target, tag in (("server", SERVER_IMAGE), ("client", CLIENT_IMAGE)):
        command = ["docker", "build", "-f", "docker/Dockerfile", "--target", target]
        command += ["--build-arg", f"BASE_IMAGE={base_image}", "-t", tag, "."]
        try:
            with dropping_displaced(docker_client, tag):
                result = subprocess.run(
                    command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT
                )
        except subprocess.TimeoutExpired:
            pytest.fail(f"docker build of {tag} took more than {BUILD_TIMEOUT} s", pytrace=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-4000:]
            pytest.fail(f"docker build of {tag} failed ({result.returncode}):\n{output}", pytrace=False)
    return {"server": SERVER_IMAGE, "client": CLIENT_IMAGE, "base": base_image}


@pytest.fixture(scope="session")
def e2e_network(docker_client, e2e_images):
    """The session's network: unique name, a subnet held while it is made, pinned so that
    addresses can be given back (`docker network connect --ip`) after a disconnect."""
    import docker
    from testcontainers.core.network import Network

    with reserved_subnet(docker_client) as subnet:
        network = Network(
            docker_network_kw={
                "driver": "bridge",
                "ipam": docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)]),
            }
        )
        network.name = unique_name()
        network.create()
    yield network
    try:
        network.remove()
    except docker.errors.APIError:  # a container left attached: remove it, then the network
        for container in docker_client.networks.get(network.name).containers:
            container.remove(force=True, v=True)
        network.remove()


def _our_networks(docker_client) -> set[str]:
    return {network.name for network in docker_client.networks.list(names=[NAME_PREFIX])}


@pytest.fixture(scope="session", autouse=True)
def no_leaked_networks(request, docker_client) -> Iterator[None]:
    """The e2e tests leave no network of theirs behind (a stale one keeps its subnet taken until
    Docker restarts). Swarm removes its overlay networks a moment after `stack rm`: waited for."""
    before = _our_networks(docker_client)
    yield
    if request.session.testsfailed:
        return  # the failure says more than what it left behind
    wait_until(
        lambda: not _our_networks(docker_client) - before,
        timeout=NETWORKS_GONE_TIMEOUT,
        message=f"the e2e tests' networks to go: {sorted(_our_networks(docker_client) - before)}",
    )


@pytest.fixture
def lab(request, docker_client, e2e_network) -> Iterator[Lab]:
    """The containers of one test; all removed (with their volumes) when it ends."""
    the_lab = Lab(docker_client, e2e_network, request.node.name)
    request.node._ftplab_lab = the_lab
    try:
        yield the_lab
    finally:
        the_lab.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report gets every container's `docker logs` and every client's output,
    taken before the fixtures remove the containers."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        described = []
        for attribute in ("_ftplab_lab", "_ftplab_compose"):
            source = getattr(item, attribute, None)
            if source is not None:
                try:
                    described.append(source.describe())
                except Exception as error:  # noqa: BLE001  (the report must not fail)
                    described.append(f"(could not collect the containers' logs: {error})")
        if described:
            report.sections.append(("docker logs", "\n".join(described)))
    return report
