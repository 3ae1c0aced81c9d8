"""Hardening: no name a student types reads anything outside the served directory; what
is not a regular file is refused without blocking the loop; odd file names are listed one
per line, escaped. (The basic traversal names, symlinks leading out, a directory and a FIFO
are in test_files.py; the storage rules themselves in tests/unit/test_storage.py.)"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftplab import protocol
from ftplab.storage import FileProblem, Storage

from .harness import RawConnection, ServerProcess, message_containing, run_client, wait_until

SECRET = b"TOP SECRET: outside the root\n"
LOOKALIKE_NAME = "\uff0e\uff0e\uff0fsecret.txt"  # fullwidth "../": just three characters of a name
PERCENT_NAME = "%2e%2e%2fsecret.txt"


@pytest.fixture(scope="module")
def trap_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("paths")
    (base / "secret.txt").write_bytes(SECRET)
    root = base / "root"
    root.mkdir()
    (root / "notes.txt").write_bytes(b"notes\n")
    (root / LOOKALIKE_NAME).write_bytes(b"a lookalike is a name\n")
    (root / PERCENT_NAME).write_bytes(b"percent signs are a name\n")
    (root / "..\\secret.txt").write_bytes(b"a backslash name\n")
    return root


@pytest.fixture(scope="module")
def trap_server(trap_root):
    server = ServerProcess(trap_root)
    yield server
    server.stop()


def _get(port: int, name: str, argument: str) -> list:
    """The events answering `get argument`: those before a fence sent after it."""
    with RawConnection(port, name) as raw:
        raw.join()
        raw.send_line(f"get {argument}")
        handled = raw.fence()
        if raw.file is not None:
            raw.read_whole_file()
        return raw.events[1:handled]


@pytest.mark.parametrize(
    "argument",
    [
        "..\\secret.txt",
        "..\\..\\secret.txt",
        "%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "\u2025/secret.txt",  # two dot leader, then a real slash
        "../root/notes.txt",
        "notes.txt/",
        "notes.txt/.",
        "//etc/passwd",
        "/proc/self/environ",
        "~/secret.txt",
        "$HOME",
        "notes.*",
        "*",
        "n" * 256,
        "ñ" * 128,  # 256 bytes in UTF-8
    ],
)
def test_other_spellings_of_a_way_out_are_no_such_file(trap_server, argument):
    events = _get(trap_server.port, "intruso", argument)

    errors = [e for e in events if isinstance(e, protocol.Error)]
    assert [e.code for e in errors] == ["nofile"]
    assert not any(isinstance(e, protocol.FileStart) for e in events)


@pytest.mark.parametrize("argument", ["./notes.txt", ".//notes.txt", "../notes.txt", "/notes.txt"])
def test_dot_components_and_slashes_inside_the_root_name_the_same_file(trap_server, argument):
    events = _get(trap_server.port, "puntos", argument)

    assert [e.name for e in events if isinstance(e, protocol.FileStart)] == ["notes.txt"], events
    assert not any(isinstance(e, protocol.Error) for e in events)


@pytest.mark.parametrize(
    ("name", "content"),
    [(LOOKALIKE_NAME, b"a lookalike is a name\n"), (PERCENT_NAME, b"percent signs are a name\n")],
)
def test_lookalikes_and_percent_escapes_are_only_names(trap_server, name, content):
    with RawConnection(trap_server.port, "literal") as raw:
        raw.join()
        raw.send_line(f"get {name}")
        header = raw.expect(protocol.FileStart)
        raw.read_whole_file()
    assert header.name == name
    assert raw.file_digest.hexdigest() == hashlib.sha256(content).hexdigest()


def test_a_name_with_a_backslash_is_never_served_even_if_it_exists(trap_server, trap_root):
    assert (trap_root / "..\\secret.txt").is_file()

    events = _get(trap_server.port, "barra", "..\\secret.txt")

    assert [e.code for e in events if isinstance(e, protocol.Error)] == ["nofile"]


# --- symlinks swapped under the server ------------------------------------------------------------------


def test_a_link_swapped_to_lead_outside_after_list_is_refused_at_get(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "real.txt").write_bytes(b"inside\n")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (root / "enlace").symlink_to("real.txt")
    server = start_server(root=root)

    with RawConnection(server.port, "cambiazo") as raw:
        raw.join()
        raw.send_line("list")
        raw.expect(message_containing("  enlace"))
        (root / "swap").symlink_to(tmp_path / "secret.txt")
        os.replace(root / "swap", root / "enlace")
        raw.send_line("get enlace")
        error = raw.expect(protocol.Error)
    assert error.code == "nofile"
    assert raw.file is None


SWAPPER = """
import os, sys
link, inside, outside = sys.argv[1:4]
while True:
    for target in (inside, outside):
        os.symlink(target, link + ".new")
        os.replace(link + ".new", link)
"""


class LinkSwapper:
    """Another process flipping `root/link` between a file inside and one outside, atomically,
    as fast as it can: whoever checks the link and then opens it may see two different links."""

    def __init__(self, root: Path, inside: Path, outside: Path):
        self.link = root / "link"
        self.link.symlink_to(inside)
        self.process = subprocess.Popen(
            [sys.executable, "-c", SWAPPER, str(self.link), str(inside), str(outside)]
        )
        wait_until(lambda: os.readlink(self.link) == str(outside), message="the swapper at work")

    def __enter__(self) -> LinkSwapper:
        return self

    def __exit__(self, *_exc) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def race_tree(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "inside.txt").write_bytes(b"inside\n")
    outside = tmp_path / "secret.txt"
    outside.write_bytes(SECRET)
    return root, root / "inside.txt", outside


def test_storage_never_opens_a_file_outside_while_a_link_is_being_swapped(race_tree):
    root, inside, outside = race_tree
    storage = Storage(str(root))
    leaks = tries = 0
    with LinkSwapper(root, inside, outside):
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            tries += 1
            try:
                opened = storage.open("link")
            except FileProblem:
                continue
            try:
                leaks += os.pread(opened.fd, 64, 0) == SECRET
            finally:
                opened.close()
    assert tries > 100
    assert leaks == 0, f"{leaks} of {tries} opens of the link read the file outside the root"


def test_the_server_never_sends_a_file_outside_while_a_link_is_being_swapped(start_server, race_tree):
    root, inside, outside = race_tree
    secret_digest = hashlib.sha256(SECRET).hexdigest()
    server = start_server(root=root)
    with LinkSwapper(root, inside, outside), RawConnection(server.port, "carrera") as raw:
        raw.join()
        deadline, requested = time.monotonic() + 3.0, 0
        while True:  # batches of gets until a leak shows, or for 3 s
            raw.sock.sendall(b"carrera> get link\n" * 200)
            requested += 200
            raw.send_line("who")
            raw.expect(message_containing("Conectados ("), timeout=30)
            headers = [e for e in raw.events if isinstance(e, protocol.FileStart)]
            leaked = [h for h in headers if h.sha256 == secret_digest]
            if leaked or time.monotonic() > deadline:
                break
    assert headers, "some gets were served"
    assert leaked == [], f"{len(leaked)} of {requested} downloads of 'link' were the file outside the root"


# --- what is not a regular file -----------------------------------------------------------------------------


def _make_special(root: Path, kind: str) -> None:
    path = root / kind
    if kind == "fifo":
        os.mkfifo(path)
        return
    if os.geteuid() != 0:
        pytest.skip("creating device nodes needs root")
    modes = {
        "null": (stat.S_IFCHR, os.makedev(1, 3)),
        "zero": (stat.S_IFCHR, os.makedev(1, 5)),
        "tty": (stat.S_IFCHR, os.makedev(5, 0)),
        "loop": (stat.S_IFBLK, os.makedev(7, 0)),
        "socket": (stat.S_IFSOCK, 0),
    }
    kind_bits, device = modes[kind]
    try:
        os.mknod(path, kind_bits | 0o666, device)
    except OSError as error:
        pytest.skip(f"cannot create a {kind} node here: {error}")


@pytest.mark.parametrize("kind", ["fifo", "null", "zero", "tty", "loop", "socket"])
def test_devices_fifos_and_sockets_are_refused_without_blocking_anyone(start_server, tmp_path, kind):
    root = tmp_path / "root"
    root.mkdir()
    (root / "plain.txt").write_bytes(b"plain\n")
    _make_special(root, kind)
    server = start_server(root=root)

    with RawConnection(server.port, "curioso") as raw, RawConnection(server.port, "vecino") as neighbour:
        raw.join()
        neighbour.join()
        raw.send_line(f"get {kind}")
        neighbour.send_line("who")
        neighbour.expect(message_containing("Conectados (2)"), timeout=2)
        error = raw.expect(protocol.Error, timeout=2)
        raw.send_line("list")
        listing = raw.expect(message_containing("Archivos en el servidor"))
        raw.send_line("who")
        raw.expect(message_containing("Conectados (2)"), timeout=2)

    assert error.code == "not-file"
    assert listing.text == "Archivos en el servidor (1):", "only the regular file is listed"
    assert raw.file is None


def _drop_read_override() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root reads any file, and setpriv is not here to take that away")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]


def test_an_unreadable_file_is_denied_and_the_session_goes_on(start_server, tmp_path, client_dir):
    root = tmp_path / "root"
    root.mkdir()
    (root / "public.txt").write_bytes(b"public\n")
    (root / "secret.txt").write_bytes(SECRET)
    (root / "secret.txt").chmod(0)
    server = start_server(root=root, command_prefix=_drop_read_override())
    downloads = client_dir("lector")

    result = run_client(
        server.port, ["get secret.txt", "get public.txt", "who"], name="lector", download_dir=downloads
    )

    assert result.returncode == 4, result  # a get failed
    assert result.has("profe> No se puede leer el archivo: secret.txt"), result
    assert result.has("profe> Conectados (1): lector"), result
    assert sorted(p.name for p in downloads.iterdir()) == ["public.txt"]


# --- odd names in the served directory -------------------------------------------------------------------

ODD_NAMES = [
    "new\nline.txt",
    "esc\x1b[2J.txt",
    "osc\x1b]0;pwned\x07.txt",
    "bell\x07.txt",
    "cr\rname.txt",
    "tab\tname.txt",
    "c1\x9b.txt",
    "bidi\u202etxt.exe",
    "del\x7f.txt",
]
RAW_CONTROLS = ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\x7f", "\t")


def test_odd_file_names_are_listed_one_per_line_escaped(start_server, tmp_path, client_dir):
    root = tmp_path / "root"
    root.mkdir()
    for name in ODD_NAMES:
        (root / name).write_bytes(b"odd\n")
    server = start_server(root=root)

    with RawConnection(server.port, "raro") as raw:
        raw.join()
        raw.send_line("list")
        raw.send_line("who")
        raw.expect(message_containing("Conectados ("))
    entries = [e.text for e in raw.events if isinstance(e, protocol.Message) and e.text.endswith(".txt")]
    entries += [e.text for e in raw.events if isinstance(e, protocol.Message) and e.text.endswith(".exe")]
    result = run_client(server.port, ["list"], name="listador", download_dir=client_dir("listador"))

    assert len(entries) == len(ODD_NAMES), "one line per file"
    shown = {entry.split("  ")[-1] for entry in entries}
    assert "new\\x0aline.txt" in shown and "esc\\x1b[2J.txt" in shown and "bidi\\u202etxt.exe" in shown
    assert "osc\\x1b]0;pwned\\x07.txt" in shown and "c1\\x9b.txt" in shown and "tab\\x09name.txt" in shown
    for entry in entries:
        assert not any(ch in entry for ch in RAW_CONTROLS + ("\n",)), repr(entry)
    assert result.returncode == 0, result
    assert result.has(f"profe> Archivos en el servidor ({len(ODD_NAMES)}):"), result
    listed = [line for line in result.stdout if line.startswith("profe>  ")]
    assert len(listed) == len(ODD_NAMES), result
    assert not any(ch in "\n".join(result.stdout) for ch in RAW_CONTROLS)


def test_a_name_the_client_could_be_fooled_by_is_not_served(start_server, tmp_path, client_dir):
    """The client will not save a file whose name would show differently from what it
    is (a bidi override, not a control character), so the server, following the same
    rule, does not send it: the bytes never travel."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "bidi\u202etxt.exe").write_bytes(b"MZ")
    server = start_server(root=root)
    downloads = client_dir("prudente")

    result = run_client(
        server.port, ["get bidi\u202etxt.exe", "who"], name="prudente", download_dir=downloads
    )

    assert result.returncode == 4, result  # a get failed
    assert result.has("profe> El archivo no existe: bidi\\u202etxt.exe"), result
    assert not result.has("Descarga rechazada"), result
    assert list(downloads.iterdir()) == []
