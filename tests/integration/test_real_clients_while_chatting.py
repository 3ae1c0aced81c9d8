"""Real FTP clients at their default settings against the real server while two lab
members chat: `lftp mirror --parallel` (4 and 10 connections, through a passive range of
fewer ports than that; and under a limit of 4 connections per address, where its retries
must evict no one else), `rclone copy --transfers 8`, one curl run fetching several URLs,
lftp, rclone and `curl --parallel` under the limits of a lab of 30 (none refused), and
the listings of a 30,000-entry folder by lftp and curl, also when the folder fails partway
through being read (strace makes the real system call fail), on both doors.

Each test checks what a user would: the bytes arrived identical (SHA-256 of every file),
the chat got every line back, and the server answers a new client afterwards. The chat's
worst gap is printed, never asserted (the machine is shared)."""

from __future__ import annotations

import ftplib
import hashlib
import os
import re
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest

from ftplab import protocol
from support.ports import free_ports

from .chatting import Chatter
from .harness import (
    HOST,
    REPO_ROOT,
    TIMEOUT,
    RawConnection,
    ServerProcess,
    failing_folder_reads,
    installed_tool,
    message_containing,
    random_bytes,
    run_tool,
)

PASSIVE_PORTS = 4
"""Fewer than a 10-way mirror's connections: PASVs wait their turn for a port."""
BIG_SIZE = 12 * 1024 * 1024
SMALL_FILES = 400
CROWD = 30_000
NESTED = "carpeta anidada/más honda"
ODD_NAMES = ("año ñandú.txt", "notas de clase.txt", f"{NESTED}/señal con espacios.bin")


# --- what the clients fetch -------------------------------------------------------------


def make_tree(base: Path) -> Path:
    """A large file, many small ones, a nested folder, names with spaces and non-ASCII."""
    (base / NESTED).mkdir(parents=True)
    (base / "grande.bin").write_bytes(random_bytes(BIG_SIZE, seed=7))
    for number in range(SMALL_FILES):
        (base / f"pequeño-{number:03}.txt").write_bytes(random_bytes(number * 53, seed=number))
    for number, name in enumerate(ODD_NAMES):
        (base / name).write_bytes(random_bytes(70_000 + number, seed=1000 + number))
    (base / "vacío.txt").write_bytes(b"")
    return base


def digests(directory: Path) -> dict[str, str | None]:
    """Every path under `directory`: a file's SHA-256, None for a folder."""
    return {
        str(path.relative_to(directory)): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        )
        for path in sorted(directory.rglob("*"))
    }


@pytest.fixture
def tree_door(start_server, tmp_path):
    """A server over a root holding `tree/` (make_tree), its FTP door open with a passive
    range of PASSIVE_PORTS ports; returns (server, ftp port, the served tree)."""
    root = tmp_path / "root"
    tree = make_tree(root / "tree")
    passive = free_ports(PASSIVE_PORTS)
    server = start_server(
        root=root, extra_args=["--ftp-port", "0", "--passive-ports", f"{passive.start}-{passive.stop - 1}"]
    )
    return server, server.ftp_port(), tree


NEWCOMER_ADDRESS = "127.0.0.3"
"""Where `still_serving`'s newcomers connect from: an address no other client of the test
used, so that a limit per address does not count the clients that just left."""


def still_serving(server: ServerProcess, ftp_port: int) -> None:
    """A new FTP client logs in and is answered, and a new lab member joins and is answered."""
    client = ftplib.FTP(source_address=(NEWCOMER_ADDRESS, 0))
    client.connect(HOST, ftp_port, timeout=TIMEOUT)
    client.login("nuevo", "x")
    assert client.sendcmd("NOOP").startswith("200")
    client.quit()
    with RawConnection(server.port, "nueva", source=NEWCOMER_ADDRESS) as nueva:
        nueva.join()
        assert "nueva" in nueva.who().text


# --- lftp, rclone, curl: a tree down while the lab chats -----------------------------------


def lftp_defaults(port: int, script: str, log: Path, user: str = "teo") -> subprocess.CompletedProcess:
    """lftp at its default settings (retries, TLS attempt and all), but for exiting on a failed
    command; its protocol dialogue, with times, goes to `log`."""
    commands = f"set cmd:fail-exit yes; debug -t -o {log} 3; {script}; quit"
    return run_tool(installed_tool("lftp"), "-u", f"{user},x", "-p", str(port), "-e", commands, HOST)


FAILURE_REPLY = re.compile(r"<--- (42[156]|45\d|530)\b")
"""A reply in lftp's log that means a connection or transfer was refused or cut off."""


@pytest.mark.parametrize("parallel", [4, 10])
def test_lftp_mirror_in_parallel_is_byte_identical_while_the_lab_chats(tree_door, tmp_path, parallel):
    server, port, tree = tree_door
    copy, log = tmp_path / "copy", tmp_path / "lftp.log"
    with Chatter(server.port) as chat:
        done = lftp_defaults(port, f"mirror --parallel={parallel} /tree {copy}", log)
        chat.check()
    assert done.returncode == 0, done.stderr
    assert digests(copy) == digests(tree)
    dialogue = log.read_text(errors="replace")
    print(f"lftp mirror --parallel={parallel}: {dialogue.count('---- Connecting')} connections")
    assert not FAILURE_REPLY.search(dialogue), FAILURE_REPLY.search(dialogue).group(0)
    assert "no free passive port" not in server.stderr.text
    still_serving(server, port)


def lab_default(variable: str) -> int:
    """compose.yaml's default for one of the server's FTPLAB_* settings: what the lab runs."""
    text = (REPO_ROOT / "compose.yaml").read_text()
    return int(re.search(rf"{variable}: \$\{{{variable}:-(\d+)\}}", text).group(1))


CLASS = 30
LAB_PER_ADDRESS = lab_default("FTPLAB_MAX_PER_IP")
LAB_LIMITS = ["--max-clients", str((CLASS + 1) * LAB_PER_ADDRESS), "--max-per-ip", str(LAB_PER_ADDRESS)]
"""What a student meets in a lab of 30 (scripts/lab up --students 30): compose.yaml's limit
per address, and scripts/lab's limit of clients for the class, (students + 1) x that."""
REFUSED_REPLY = re.compile(r"(?m)(^|<--- |< |: |error )421 .*")
"""A 421 reply in lftp's dialogue (`<--- 421`), curl's trace (`< 421`) or rclone's retries (`error 421`)."""
LAB_PASSIVE_PORTS = 10
"""scripts/lab's LAB_PASSIVE_PORTS, 30000-30009."""


def lftp_mirror(port: int, tree: Path, copy: Path, log: Path, source: str = HOST, user: str = "teo") -> str:
    """lftp mirror --parallel=10 at lftp's defaults, as `user` from the local address `source`;
    its dialogue with the server."""
    mirror = f"set net:socket-bind-ipv4 {source}; mirror --parallel=10 /{tree.name} {copy}"
    done = lftp_defaults(port, mirror, log, user)
    assert done.returncode == 0, done.stderr
    return log.read_text(errors="replace")


def rclone_copy(port: int, tree: Path, copy: Path, log: Path, source: str = HOST, user: str = "teo") -> str:
    """rclone copy at rclone's defaults (4 transfers, 8 checkers, no limit of connections);
    its log at DEBUG, where each of its quiet retries names the reply (`error 421`)."""
    rclone = installed_tool("rclone")
    secret = run_tool(rclone, "obscure", "x").stdout.decode().strip()
    remote = f":ftp,host={HOST},port={port},user={user},pass={secret}:{tree.name}"
    options = ["--config", os.devnull, "--bind", source, "-vv", "--log-file", str(log)]
    done = run_tool(rclone, *options, "copy", remote, str(copy))
    assert done.returncode == 0, done.stderr
    return log.read_text(errors="replace")


def curl_parallel(port: int, tree: Path, copy: Path, log: Path, source: str = HOST, user: str = "teo") -> str:
    """curl --parallel at curl's default of 50 transfers at once, one URL per file of `tree`;
    its verbose trace (every reply it read)."""
    config = log.with_suffix(".curlrc")
    lines = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        relative = path.relative_to(tree).as_posix()
        lines += [
            f'url = "ftp://{HOST}:{port}/{tree.name}/{quote(relative)}"',
            f'output = "{copy / relative}"',
        ]
    config.write_text("\n".join(lines) + "\n")
    curl = installed_tool("curl")
    done = run_tool(
        curl,
        "-sS",
        "-v",
        "--stderr",
        str(log),
        "-u",
        f"{user}:x",
        "--interface",
        source,
        "--create-dirs",
        "--parallel",
        "-K",
        str(config),
    )
    assert done.returncode == 0, log.read_text(errors="replace")[-2000:]
    return log.read_text(errors="replace")


def lab_door(start_server, tmp_path: Path) -> tuple[ServerProcess, int, Path]:
    """A server under the limits of a lab of 30 with its ten passive ports: (the server, its
    FTP door's port, the tree it serves)."""
    root = tmp_path / "root"
    tree = make_tree(root / "tree")
    passive = free_ports(LAB_PASSIVE_PORTS)
    ports = f"{passive.start}-{passive.stop - 1}"
    server = start_server(root=root, extra_args=["--ftp-port", "0", "--passive-ports", ports, *LAB_LIMITS])
    return server, server.ftp_port(), tree


@pytest.mark.parametrize("fetch", [lftp_mirror, rclone_copy, curl_parallel], ids=lambda fetch: fetch.__name__)
def test_parallel_clients_at_their_defaults_are_never_refused_under_the_labs_limits(
    start_server, tmp_path, fetch
):
    """Under the limits of a lab of 30 and its ten passive ports, lftp mirror --parallel=10
    (10 connections), rclone copy (up to 12) and curl --parallel (50) at their defaults get
    every byte with no connection refused, while a member chats from another address
    (docs/containers.md, "Parallel clients and the limit per address"). With the lab's
    old limit of 4 per address, lftp met 275 421s, rclone backed off for a minute and curl
    failed 35 files of 40."""
    server, port, tree = lab_door(start_server, tmp_path)
    copy = tmp_path / "copy"
    with Chatter(server.port, source="127.0.0.2") as chat:
        dialogue = fetch(port, tree, copy, tmp_path / "client.log")
        chat.check()
    assert digests(copy) == digests(tree)
    refused = REFUSED_REPLY.search(dialogue)
    assert refused is None, refused.group(0)
    refusals = re.findall(r"refused .*", server.stderr.text)
    assert refusals == [], refusals[:3]
    still_serving(server, port)


def test_three_students_copying_in_parallel_at_once_are_never_refused_under_the_labs_limits(
    start_server, tmp_path
):
    """Three computers of a lab of 30 at once, each with another client at its defaults
    (lftp mirror --parallel=10, rclone copy, curl --parallel: some 70 connections) and all
    through the lab's ten passive ports, while a member chats: every byte arrives, nothing
    is refused."""
    server, port, tree = lab_door(start_server, tmp_path)
    # Each from its own address, under its own name (a name is one person at one address).
    students = {"127.0.0.11": lftp_mirror, "127.0.0.12": rclone_copy, "127.0.0.13": curl_parallel}
    with Chatter(server.port, source="127.0.0.2") as chat, ThreadPoolExecutor(len(students)) as pool:
        runs = {
            source: pool.submit(
                fetch, port, tree, tmp_path / source, tmp_path / f"{source}.log", source, fetch.__name__
            )
            for source, fetch in students.items()
        }
        dialogues = {source: run.result() for source, run in runs.items()}
        chat.check()
    for source in students:
        assert digests(tmp_path / source) == digests(tree), source
        refused = REFUSED_REPLY.search(dialogues[source])
        assert refused is None, (source, refused.group(0))
    refusals = re.findall(r"refused .*", server.stderr.text)
    assert refusals == [], refusals[:3]
    still_serving(server, port)


def test_a_mirror_retrying_past_its_address_limit_evicts_no_one_else(start_server, tmp_path):
    """bob sits at his FTP client's Name: prompt (connected, greeted, silent) on a full
    server while lftp mirrors with 10 connections from an address allowed 4: each of lftp's
    retries is refused for its address, and must not evict bob on its way out."""
    root = tmp_path / "root"
    tree = make_tree(root / "tree")
    lftp_share, chatters, bob_share = 4, 2, 1
    limits = ["--max-clients", str(lftp_share + chatters + bob_share), "--max-per-ip", str(lftp_share)]
    server = start_server(root=root, extra_args=["--ftp-port", "0", *limits])
    port = server.ftp_port()
    copy = tmp_path / "copy"
    with (
        Chatter(server.port, source="127.0.0.2") as chat,
        socket.create_connection((HOST, port), timeout=TIMEOUT, source_address=("127.0.0.4", 0)) as bob,
        bob.makefile("rb") as replies,  # closed even when the test is skipped (no lftp here)
    ):
        assert replies.readline().startswith(b"220 ")
        done = lftp_defaults(port, f"mirror --parallel=10 /tree {copy}", tmp_path / "lftp.log")
        chat.check()
        bob.sendall(b"USER bob\r\nPASS x\r\n")
        answers = [replies.readline(), replies.readline()]
    assert done.returncode == 0, done.stderr
    assert digests(copy) == digests(tree)
    assert answers[1].startswith(b"230 "), f"bob was not let in: {answers}"
    assert "evicting" not in server.stderr.text
    still_serving(server, port)


def test_rclone_copy_with_8_transfers_is_byte_identical_while_the_lab_chats(tree_door, tmp_path):
    rclone = installed_tool("rclone")
    server, port, tree = tree_door
    secret = run_tool(rclone, "obscure", "x").stdout.decode().strip()
    remote = f":ftp,host={HOST},port={port},user=teo,pass={secret}:tree"
    copy = tmp_path / "copy"
    with Chatter(server.port) as chat:
        done = run_tool(rclone, "--config", os.devnull, "copy", "--transfers", "8", remote, str(copy))
        chat.check()
    assert done.returncode == 0, done.stderr
    assert digests(copy) == digests(tree)
    still_serving(server, port)


def test_curl_fetches_several_urls_on_one_connection_while_the_lab_chats(tree_door, tmp_path):
    curl = installed_tool("curl")
    server, port, tree = tree_door
    names = ["grande.bin", *ODD_NAMES, "vacío.txt"]
    arguments = []
    for number, name in enumerate(names):
        arguments += ["-o", str(tmp_path / f"got-{number}"), f"ftp://{HOST}:{port}/tree/{quote(name)}"]
    with Chatter(server.port) as chat:
        done = run_tool(curl, "-sS", "-u", "teo:x", *arguments)
        chat.check()
    assert done.returncode == 0, done.stderr
    for number, name in enumerate(names):
        assert (tmp_path / f"got-{number}").read_bytes() == (tree / name).read_bytes(), name
    still_serving(server, port)


# --- a folder of 30,000 entries: listed whole, and failing partway ----------------------------

CROWD_NAMES = [f"archivo-{number:05}.txt" for number in range(CROWD)]


@pytest.fixture(scope="module")
def crowded_root(tmp_path_factory) -> Path:
    """A root whose folder `muchos/` holds CROWD empty files (read only by the tests)."""
    root = tmp_path_factory.mktemp("crowded")
    (root / "muchos").mkdir()
    for name in CROWD_NAMES:
        (root / "muchos" / name).touch()
    return root


@pytest.fixture
def crowd_door(start_server, crowded_root):
    """A server over `crowded_root` with its FTP door open; returns (server, ftp port)."""
    server = start_server(root=crowded_root, extra_args=["--ftp-port", "0"])
    return server, server.ftp_port()


def listed_names(text: str) -> list[str]:
    """The last word of each line of a listing: the name, in a long listing too."""
    return [line.rsplit(" ", 1)[-1] for line in text.splitlines()]


def test_a_30000_entry_folder_listed_by_lftp_and_curl_while_the_lab_chats(crowd_door, tmp_path):
    curl = installed_tool("curl")
    server, port = crowd_door
    short, long = tmp_path / "cls.txt", tmp_path / "ls.txt"
    url = f"ftp://teo:x@{HOST}:{port}/muchos/"
    with Chatter(server.port) as chat:
        listed = lftp_defaults(port, f"cd /muchos; cls -1 > {short}; ls > {long}", tmp_path / "lftp.log")
        names = run_tool(curl, "-sS", "--list-only", url)
        lines = run_tool(curl, "-sS", url)
        chat.check()
    assert listed.returncode == 0, listed.stderr
    assert names.returncode == 0 and lines.returncode == 0, names.stderr + lines.stderr
    assert short.read_text().splitlines() == CROWD_NAMES
    assert listed_names(long.read_text()) == CROWD_NAMES
    assert names.stdout.decode().splitlines() == CROWD_NAMES
    assert listed_names(lines.stdout.decode()) == CROWD_NAMES
    still_serving(server, port)


FOLDER_FAILED = re.compile(r"cannot read /muchos to its end: Input/output error$", re.MULTILINE)
"""The server's log when a listing of muchos/ failed partway: the reason, no descriptor number."""


def test_a_folder_failing_partway_is_451_to_curl_and_lftp_goes_on_while_the_lab_chats(
    crowd_door, crowded_root, tmp_path
):
    """The folder's second read fails (EIO, injected into the real system call): curl is
    told 451; lftp, at its default settings, is told 451 and lists again on the same control
    connection, getting every entry; the chat flows throughout."""
    curl = installed_tool("curl")
    server, port = crowd_door
    folder, short, log = crowded_root / "muchos", tmp_path / "cls.txt", tmp_path / "lftp.log"
    with Chatter(server.port) as chat:
        with failing_folder_reads(server.pid, folder):
            refused = run_tool(curl, "-sS", "--list-only", f"ftp://teo:x@{HOST}:{port}/muchos/")
        lftp_done: list[subprocess.CompletedProcess] = []
        lister = threading.Thread(
            target=lambda: lftp_done.append(lftp_defaults(port, f"cd /muchos; cls -1 > {short}", log))
        )
        with failing_folder_reads(server.pid, folder):
            logged = len(server.stderr.lines)
            lister.start()
            server.wait_for_log(FOLDER_FAILED, start=logged)
        lister.join(TIMEOUT * 3)
        chat.check()
    assert refused.returncode != 0 and b"451" in refused.stderr, refused.stderr
    assert lftp_done and lftp_done[0].returncode == 0, lftp_done and lftp_done[0].stderr
    assert short.read_text().splitlines() == CROWD_NAMES
    dialogue = log.read_text(errors="replace")
    assert "<--- 451 " in dialogue, "lftp was not told of the failure"
    assert dialogue.count("---- Connecting to") == 1, "lftp's control connection did not go on"
    assert len(FOLDER_FAILED.findall(server.stderr.text)) == 2
    still_serving(server, port)


def test_a_folder_failing_partway_is_a_resources_error_on_the_lab_door_and_the_member_stays(
    crowd_door, crowded_root
):
    server, port = crowd_door
    with Chatter(server.port) as chat, RawConnection(server.port, "cris") as cris:
        cris.join()
        with failing_folder_reads(server.pid, crowded_root / "muchos"):
            cris.send_line("list muchos")
            error = cris.expect(protocol.Error)
        assert error.code == protocol.ErrorCode.RESOURCES and "/muchos" in error.text, error
        cris.send_line("list muchos")
        cris.expect(message_containing(CROWD_NAMES[-1]), timeout=TIMEOUT * 3)
        chat.check()
    entries = [e for e in cris.events if isinstance(e, protocol.Message) and "archivo-" in e.text]
    assert [e.text.rsplit(" ", 1)[-1] for e in entries] == CROWD_NAMES
    still_serving(server, port)
