"""Fixtures for the integration tests: real servers and clients on 127.0.0.1.

- `start_server(root=..., **options)` starts a server for one test; at the end
  of the test every server still running is stopped with SIGTERM and must exit 0.
- `start_client(server, name)` starts a long-lived interactive client.
- `client_dir(name)` is a fresh, empty download directory.
- `served_root` / `shared_server`: one server per test module over a standard
  set of files, for tests that do not disturb each other.
- Every test fails if it leaves a process it started running (autouse).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.constants import SPANISH_FILE_NAME

from .harness import ClientProcess, ServerProcess, make_file, started_processes


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _test_passed(request) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is not None and report.passed


@pytest.fixture(autouse=True)
def no_leaked_processes(request) -> Iterator[None]:
    """Every process a test starts must have been waited for (reaped) by the test
    or its fixtures; the test fails otherwise, and the stragglers are killed.

    Higher-scoped fixtures (a module's shared server) are set up before this
    one, so their processes are not counted; they are checked when they stop."""
    before = set(started_processes())
    yield
    leaked = [p for p in started_processes() if p not in before and p.returncode is None]
    for process in leaked:
        if process.poll() is None:
            process.kill()
        process.wait()
    if leaked and _test_passed(request):
        commands = [" ".join(map(str, p.args[2:])) for p in leaked]
        pytest.fail(f"the test did not wait for {len(leaked)} process(es): {commands}")


@pytest.fixture
def start_server(request, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers for this test. Those still running at its end get SIGTERM and
    must exit 0; after a failed test they are only made to go away, so that the
    failure is reported once."""
    servers: list[ServerProcess] = []

    def start(root: Path | None = None, **options) -> ServerProcess:
        if root is None:
            root = tmp_path / "root"
            root.mkdir(exist_ok=True)
        server = ServerProcess(root, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if not _test_passed(request):
            server.kill()
        elif server.returncode is None:
            server.stop()


@pytest.fixture
def client_dir(tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        directory = tmp_path / f"downloads-{name}"
        directory.mkdir(exist_ok=True)
        return directory

    return make


@pytest.fixture
def start_client(client_dir) -> Callable[..., ClientProcess]:
    def start(server: ServerProcess, name: str, **options) -> ClientProcess:
        return ClientProcess(server.port, name, client_dir(name), **options)

    return start


@dataclass(frozen=True)
class ServedRoot:
    root: Path
    contents: dict[str, bytes]
    """The regular files `list` shows, with their content."""
    outside: Path
    """A secret file next to the root, which no name may reach."""


@pytest.fixture(scope="module")
def served_root(tmp_path_factory) -> ServedRoot:
    """root/ with files of every interesting shape, and traps around it:
    a secret next to it, a sibling directory root2/ whose name starts like the
    root's, symlinks leading out, a FIFO and a subdirectory (not files)."""
    base = tmp_path_factory.mktemp("served")
    root = base / "root"
    root.mkdir()
    contents = {
        "empty.bin": b"",
        "one.bin": b"\x00",
        "random.bin": os.urandom(3 * 1024 * 1024 + 12345),
        SPANISH_FILE_NAME: "¿Qué tal? Ñandú, pingüino y acción.\n".encode() * 100,
        "notes.txt": b"line one\nline two\n",
    }
    for name, content in contents.items():
        (root / name).write_bytes(content)
    (root / "alias.txt").symlink_to("notes.txt")  # a link that stays inside is served
    contents["alias.txt"] = contents["notes.txt"]
    os.mkfifo(root / "tuberia")  # opening it for reading would block a careless server
    (root / "carpeta").mkdir()
    (root / "carpeta" / "inside.txt").write_text("not listed: in a subdirectory\n")
    outside = base / "secret.txt"
    make_file(outside, 100, seed=1)
    sibling = base / "root2"
    sibling.mkdir()
    make_file(sibling / "secret.txt", 100, seed=2)
    (root / "link-out").symlink_to(outside)
    (root / "link-sibling").symlink_to(sibling / "secret.txt")
    (root / "link-up").symlink_to("..")
    return ServedRoot(root, contents, outside)


@pytest.fixture(scope="module")
def shared_server(served_root: ServedRoot) -> Iterator[ServerProcess]:
    """One server for a whole module; its tests use names of their own."""
    server = ServerProcess(served_root.root)
    yield server
    server.stop()
