"""The class judge for the FTP door (issue 17, "Done when"): a class's worth of
real FTP clients at their default parallelism against one server with ten
passive ports, while three lab clients chat.

Ten rclone sessions (`rclone copy`, default --transfers 4 and --checkers 8,
both ways), ten lftp sessions (`mirror --parallel=4`, `pget -n 4`,
`mirror -R --parallel=4`) and ten curl loops (one connection per file, down
and up), each logged in under its own name (rclone's and lftp's several
connections are one person), start together and run ROUNDS rounds each: the
same work however fast the machine is. Then: no 425 and no 530 anywhere (the
clients' errors and the server's log), every file byte-identical on both sides,
and the chat's worst latency bounded throughout (the loop never froze).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.ports import free_ports

from .harness import HOST, RawConnection, message_containing

pytestmark = pytest.mark.slow

SESSIONS_PER_CLIENT = 10
ROUNDS = 4
"""Each session's rounds, one after the other: its name logs in and out again while the
others still hold passive ports, and the thirty stay at it together for several seconds."""
COMMAND_SECONDS = 180
PASSIVE_PORTS = 10
MAX_CLIENTS = 400
"""rclone alone opens up to 12 connections a session (4 transfers, 8 checkers):
the class needs more than the default 100 places."""
CHAT_BOUND_SECONDS = 2.0
PING_PACE_SECONDS = 0.25
CLASS_FILES = {
    f"tema-{number}.bin": size for number, size in enumerate((64_000, 256_000, 512_000, 1_000_000))
}
BIG_FILE = ("grande.bin", 4_000_000)
UPLOAD_FILES = {"trabajo-a.bin": 200_000, "trabajo-b.bin": 50_000}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (apt-get install {name})")
        pytest.skip(f"{name} is not installed")
    return path


@dataclass
class Session:
    """One student: a client program run round after round under one name."""

    who: str
    round: Callable[[Session, Path], None]
    local: Path
    rounds: int = 0
    failures: list[str] = field(default_factory=list)

    def run(self, *command: str) -> None:
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=COMMAND_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            self.failures.append(f"{command[0]}: no end after {COMMAND_SECONDS} s")
            return
        if done.returncode != 0:
            self.failures.append(
                f"{command[0]} exited {done.returncode}: {(done.stderr or done.stdout)[-400:]}"
            )

    def same_file(self, expected: Path, got: Path, what: str) -> None:
        if not got.is_file() or got.read_bytes() != expected.read_bytes():
            self.failures.append(f"{what}: {got.name} differs or is missing")

    def same_tree(self, expected: Path, got: Path, what: str) -> None:
        for path in expected.rglob("*"):
            if path.is_file():
                self.same_file(path, got / path.relative_to(expected), what)

    def work(self, start: threading.Barrier) -> None:
        start.wait()
        while self.rounds < ROUNDS and not self.failures:
            self.round(self, self.local / f"r{self.rounds}")  # Class.<kind>_round
            self.rounds += 1


@dataclass
class Class:
    port: int
    root: Path
    uploads: Path
    rclone_password: str = ""

    def rclone_remote(self, who: str, path: str) -> str:
        return f":ftp,host={HOST},port={self.port},user={who},pass={self.rclone_password}:{path}"

    def rclone_round(self, session: Session, here: Path) -> None:
        env_free = ["rclone", "--config", os.devnull]
        session.run(*env_free, "copy", self.rclone_remote(session.who, "/clase"), str(here / "clase"))
        session.same_tree(self.root / "clase", here / "clase", "rclone copy down")
        target = f"/subidas/{session.who}/{here.name}"
        session.run(*env_free, "copy", str(self.uploads), self.rclone_remote(session.who, target))
        session.same_tree(self.uploads, self.root / target.lstrip("/"), "rclone copy up")

    def lftp_round(self, session: Session, here: Path) -> None:
        target = f"/subidas/{session.who}/{here.name}"
        script = "; ".join(
            [
                "set cmd:fail-exit yes",
                f"mirror --parallel=4 /clase {here / 'clase'}",
                f"pget -n 4 /{BIG_FILE[0]} -o {here / BIG_FILE[0]}",
                f"mirror -R --parallel=4 {self.uploads} {target}",
                "quit",
            ]
        )
        session.run("lftp", "-u", f"{session.who},x", "-p", str(self.port), "-e", script, HOST)
        session.same_tree(self.root / "clase", here / "clase", "lftp mirror")
        session.same_file(self.root / BIG_FILE[0], here / BIG_FILE[0], "lftp pget")
        session.same_tree(self.uploads, self.root / target.lstrip("/"), "lftp mirror -R")

    def curl_round(self, session: Session, here: Path) -> None:
        base = f"ftp://{session.who}:x@{HOST}:{self.port}"
        here.mkdir(parents=True)
        for name in CLASS_FILES:
            session.run("curl", "-sS", "--no-progress-meter", "-o", str(here / name), f"{base}/clase/{name}")
        session.same_tree(self.root / "clase", here, "curl download")
        target = f"subidas/{session.who}/{here.name}"
        for name in UPLOAD_FILES:
            session.run(
                "curl", "-sS", "--ftp-create-dirs", "-T", str(self.uploads / name), f"{base}/{target}/{name}"
            )
        session.same_tree(self.uploads, self.root / target, "curl upload")


def chat(port: int, stop: threading.Event, latencies: list[float]) -> None:
    """Three lab clients: ana pings, bea waits for each ping, cris chats too."""
    with (
        RawConnection(port, "ana") as ana,
        RawConnection(port, "bea") as bea,
        RawConnection(port, "cris") as cris,
    ):
        for member in (ana, bea, cris):
            member.join()
        number = 0
        while not stop.is_set():
            number += 1
            sent = time.monotonic()
            ana.send_line(f"ping {number}")
            cris.send_line(f"hola {number}")
            bea.expect(message_containing(f"ping {number}"), timeout=60)
            latencies.append(time.monotonic() - sent)
            time.sleep(max(0.0, sent + PING_PACE_SECONDS - time.monotonic()))  # a pace, not a wait


def test_a_class_of_real_ftp_clients_with_ten_passive_ports(start_server, tmp_path):
    for name in ("rclone", "lftp", "curl"):
        tool(name)
    root = tmp_path / "root"
    (root / "clase").mkdir(parents=True)
    (root / "subidas").mkdir()
    for name, size in CLASS_FILES.items():
        (root / "clase" / name).write_bytes(os.urandom(size))
    (root / BIG_FILE[0]).write_bytes(os.urandom(BIG_FILE[1]))
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for name, size in UPLOAD_FILES.items():
        (uploads / name).write_bytes(os.urandom(size))

    passive = free_ports(PASSIVE_PORTS)
    server = start_server(
        root=root,
        max_clients=MAX_CLIENTS,
        extra_args=[
            "--ftp-port",
            "0",
            "--allow-upload",
            "--passive-ports",
            f"{passive.start}-{passive.stop - 1}",
        ],
    )
    obscured = subprocess.run(
        ["rclone", "--config", os.devnull, "obscure", "x"], capture_output=True, text=True, check=True
    )
    lab = Class(server.ftp_port(), root, uploads, obscured.stdout.strip())
    sessions = [
        Session(f"{kind}{number}", getattr(lab, f"{kind}_round"), tmp_path / "students" / f"{kind}{number}")
        for kind in ("rclone", "lftp", "curl")
        for number in range(SESSIONS_PER_CLIENT)
    ]

    stop, latencies = threading.Event(), []
    chatter = threading.Thread(target=chat, args=(server.port, stop, latencies), name="chat")
    chatter.start()
    start = threading.Barrier(len(sessions))
    workers = [threading.Thread(target=s.work, args=(start,), name=s.who) for s in sessions]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 3 * COMMAND_SECONDS  # a stuck command ends its session at 180 s
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    stop.set()
    chatter.join(90)

    assert not any(worker.is_alive() for worker in workers + [chatter]), "a session did not end"
    failures = [f"{s.who}: {failure}" for s in sessions for failure in s.failures]
    rounds = {s.who: s.rounds for s in sessions}
    log = server.stderr.text
    print(f"rounds: {rounds}; chat pings {len(latencies)}, worst {max(latencies, default=0):.3f} s")
    passive_lines = [line for line in log.splitlines() if "passive" in line]
    assert not failures, "\n".join(failures[:20] + ["server log about passive ports:", *passive_lines[-20:]])
    assert all(count == ROUNDS for count in rounds.values()), rounds
    assert not re.search(r"no free passive port", log), "425: the passive ports ran out"
    assert not re.search(r"refused name .* in use", log), "530: a name was refused"
    assert latencies, "the chat never got through"
    assert max(latencies) < CHAT_BOUND_SECONDS, f"a chat line took {max(latencies):.2f} s (the loop froze)"
