"""A class rehearsal (issue 18): thirty students and the teacher in containers, scripted, for a
few minutes, the way a class goes: `scripts/lab up --students 30 --allow-upload --publish`, the
teacher's files added with `scripts/lab files add`, every student at its own terminal (the
client on the container's tty, as `scripts/lab attach NAME` has it) and the teacher at
`scripts/lab attach server` on a pty.

1. Chat: every student says a line at once; private messages between pairs.
2. Work in folders: `cd` + `mget` + `get`, `get A B` with paths, `put`s into a folder, plain
   gets; one student's link loses 10 % of its packets (`scripts/lab impair`); FTP users with
   curl and lftp at the FTP door at the same time.
3. The teacher kicks a student from the console.
4. The server restarts in the middle of downloads: ten students fetch a big file over the
   server's link held at 4 mbit/s (`impair server --rate`), and `docker restart` hits once
   each has part of it. The restart gives the server a new network namespace, so the link is
   whole again when it comes back. Everyone else comes back by themselves, takes their name
   back and resumes; the teacher's console says the server stopped, waits and attaches again.
5. Chat again after the restart; the teacher's /who.

Then: every student holds byte-identical copies of what it asked for (SHA-256 against the
server's files) and nothing else; the server holds the puts byte-identical; the FTP users'
copies too; the kicked student is out and never came back; every other student came back
once; the teacher's console showed no log line and each chat line exactly once.

The asserts are on correctness only. The figures (how long coming back took, chat latency as
seen on the students' screens, counts) are a report, printed at the end (pytest -rP shows it)
and written to $FTPLAB_REHEARSAL_REPORT when set; docs/rehearsal.md has those of a real run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .classroom import LAB, LabScript
from .lab import wait_until
from .terminals import Screen, StudentTerminal, TeacherConsole

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLASS_SIZE = 30
NAMES = ["alice", "bob", "carol", *(f"student{number:02d}" for number in range(4, CLASS_SIZE + 1))]
KICKED = NAMES[-1]
STAYING = NAMES[:-1]
LOSSY = "student05"
FOLDER_MGET = NAMES[0:10]  # cd practicas/tema1, mget *.bin, get apuntes1.txt
PATH_GETS = NAMES[10:20]  # get practicas/tema2/lab2.bin practicas/tema2/lab2.txt
PUTS = NAMES[20:25]  # cd entregas, put their own file
TOP_GETS = NAMES[25:29]  # get logo.png, get "canción de prueba.txt"
RESTART_GROUP = NAMES[5:15]  # the big file, when the server restarts
PRIVATE_PAIRS = [("alice", "bob"), ("carol", "student04"), ("student10", "student20"), ("student29", "alice")]
TEACHER = "profe"

SERVED = "/srv/files"
DOWNLOADS = "/downloads"
BIG = "grande.bin"
BIG_BYTES = 3 * 1024 * 1024
SLOW_SERVER_RATE = "4mbit"
"""The server's whole link while the big file goes out: ten downloads take a minute or more at
this rate, so every one is surely in the middle when the server restarts."""
PUT_BYTES = 200_000
TREE = {
    "practicas/tema1/apuntes1.txt": 20_000,
    "practicas/tema1/datos1.bin": 300_000,
    "practicas/tema1/datos2.bin": 700_000,
    "practicas/tema2/lab2.bin": 1_000_000,
    "practicas/tema2/lab2.txt": 10_000,
    f"practicas/{BIG}": BIG_BYTES,
    "entregas/LEEME.txt": 200,
}
FOLDER_MGET_FILES = [
    "practicas/tema1/datos1.bin",
    "practicas/tema1/datos2.bin",
    "practicas/tema1/apuntes1.txt",
]
PATH_GET_FILES = ["practicas/tema2/lab2.bin", "practicas/tema2/lab2.txt"]
TOP_GET_FILES = ["logo.png", "canción de prueba.txt"]
KICKED_FILES = ["bienvenida.txt"]

LOG_LINE = re.compile(rb"\d\d:\d\d:\d\d|\b(INFO|WARNING|ERROR)\b|[0-9a-f]{64}|@\d+\.\d+\.\d+\.\d+:\d+")
"""What only the server's log has (timestamps, levels, SHA-256s, connections' labels):
never on the teacher's console (as in test_lab_console.py)."""
PROGRESS_OF_BIG = re.compile(rb"\[" + re.escape(BIG.encode()) + rb" +[1-9]\d* %")
COMING_BACK = "reconectando"
PHASE_TIMEOUT = 120.0


def saved(name: str) -> re.Pattern[bytes]:
    """The client's line for a verified download of `name`."""
    return re.compile(rb"Guardado [^\r\n]*/" + re.escape(name.encode()) + rb" \(")


@dataclass
class Report:
    """What the rehearsal measured and counted: printed, never asserted on."""

    started: float = field(default_factory=time.monotonic)
    phases: dict[str, float] = field(default_factory=dict)
    chat_latencies: list[float] = field(default_factory=list)
    server_restart_seconds: float = 0.0
    """How long `docker restart` of the server took (stop, then start)."""
    noticed: dict[str, float] = field(default_factory=dict)
    """Per student: from the restart's start to "reconectando" on its screen."""
    back: dict[str, float] = field(default_factory=dict)
    """Per student: from the restart's start to "De nuevo conectado como NAME" on its screen."""
    counts: dict[str, int] = field(default_factory=dict)
    _phase_started: float = field(default_factory=time.monotonic)

    def phase(self, name: str) -> None:
        now = time.monotonic()
        self.phases[name] = round(now - self._phase_started, 1)
        self._phase_started = now

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def as_dict(self) -> dict:
        def spread(values):
            values = sorted(values)
            if not values:
                return {}
            return {
                "min": round(values[0], 2),
                "median": round(statistics.median(values), 2),
                "max": round(values[-1], 2),
            }

        latencies = sorted(self.chat_latencies)
        return {
            "seconds": round(time.monotonic() - self.started, 1),
            "phases_seconds": self.phases,
            "docker_restart_of_the_server_seconds": round(self.server_restart_seconds, 2),
            "restart_to_reconectando_on_screen_seconds": spread(self.noticed.values()),
            "restart_to_back_on_screen_seconds": spread(self.back.values()),
            "reconectando_to_back_seconds": spread(self.back[n] - self.noticed[n] for n in self.back),
            "chat_latency_ms": {
                "deliveries": len(latencies),
                "p50": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
                "p99": round(1000 * latencies[int(len(latencies) * 0.99)], 1) if latencies else None,
                "max": round(1000 * latencies[-1], 1) if latencies else None,
            },
            "counts": self.counts,
            "load_average": os.getloadavg(),
            "cpus": os.cpu_count(),
        }


class Rehearsal:
    """The class: the lab, the students' terminals, the teacher's consoles, what the server holds."""

    def __init__(self, lab: LabScript, docker_client, workdir: Path):
        self.lab = lab
        self.docker = docker_client
        self.workdir = workdir
        self.students: dict[str, StudentTerminal] = {}
        self.consoles: list[TeacherConsole] = []
        self.report = Report()
        self.chats: list[str] = []
        """Every line a student said to everyone, as the console shows it (`name> text`)."""
        self.ftp_threads: list[threading.Thread] = []
        self.ftp_results: dict[str, subprocess.CompletedProcess] = {}

    def screen(self, name: str) -> Screen:
        return self.students[name].screen

    def attach_students(self) -> None:
        """Every student's terminal, once the whole class has joined (`up` waits for the
        containers, not for their clients to join)."""

        def everyone_joined() -> bool:
            log = self.lab.server_log()
            return all(f"joined {name}@" in log for name in NAMES)

        wait_until(everyone_joined, timeout=PHASE_TIMEOUT, message="every student joined")
        for name in NAMES:
            self.students[name] = StudentTerminal(self.docker, self.lab.container(name).id, name)
        # The welcome was printed before anyone attached: `who` proves each one is there.
        for name in NAMES:
            self.students[name].type("who")
        for name in NAMES:
            self.screen(name).wait_for(f"Conectados ({CLASS_SIZE}):", PHASE_TIMEOUT)

    def attach_teacher(self) -> TeacherConsole:
        console = TeacherConsole(LAB, self.lab.env, label=f"teacher console {len(self.consoles) + 1}")
        self.consoles.append(console)
        console.screen.wait_for(f"{TEACHER}> ")
        return console

    def close(self) -> None:
        for thread in self.ftp_threads:  # each ends by its subprocess's timeout at the latest
            thread.join(PHASE_TIMEOUT)
        for console in self.consoles:
            console.close()
        for student in self.students.values():
            student.close()

    def files_on(self, service: str, directory: str) -> dict[str, str]:
        """Every file under `directory` in `service`'s machine (hidden ones too): path -> SHA-256."""
        script = 'cd "$1" && find . -type f -exec sha256sum {} +'
        result = self.lab.container(service).exec_run(["sh", "-c", script, "sh", directory])
        assert result.exit_code == 0, result.output
        files = {}
        for line in result.output.decode().splitlines():
            digest, path = line.split(maxsplit=1)
            files[path.removeprefix("./")] = digest
        return files


def make_tree(root: Path) -> None:
    for path, size in TREE.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(os.urandom(size))


# --- the phases -------------------------------------------------------------------------------


def chat_for_everyone(class_: Rehearsal, console: TeacherConsole) -> None:
    """Every student says a line at once; each reaches every other student, and the teacher."""
    token = uuid.uuid4().hex[:6]
    lines = {name: f"hola soy {name} {token}" for name in NAMES}
    sent = {name: class_.students[name].type(line) for name, line in lines.items()}
    for speaker, line in lines.items():
        said = f"{speaker}> {line}"
        class_.chats.append(said)
        for listener in NAMES:
            if listener != speaker:
                _, arrived = class_.screen(listener).wait_for(said, PHASE_TIMEOUT)
                class_.report.chat_latencies.append(arrived - sent[speaker])
        console.screen.wait_for(said, PHASE_TIMEOUT)
    class_.report.count("chat lines by students", len(lines))
    class_.report.count("chat lines delivered to students", len(class_.report.chat_latencies))


def private_messages(class_: Rehearsal, console: TeacherConsole) -> None:
    """Private messages reach their one student; the teacher's line after them reaches everyone,
    and only then is it checked that nobody else saw them (the server sends in order)."""
    secrets = {}
    for sender, receiver in PRIVATE_PAIRS:
        secrets[(sender, receiver)] = secret = f"secreto-{uuid.uuid4().hex[:8]}"
        class_.students[sender].type(f"@{receiver} {secret}")
    for (_, receiver), secret in secrets.items():
        class_.screen(receiver).wait_for(secret, PHASE_TIMEOUT)
    fence = f"atentos {uuid.uuid4().hex[:6]}"
    console.say(fence)  # the teacher's own line: on the console as typed, not counted below
    for name in NAMES:
        class_.screen(name).wait_for(f"{TEACHER}> {fence}", PHASE_TIMEOUT)
    for (sender, receiver), secret in secrets.items():
        for name in NAMES:
            if name not in (sender, receiver):
                assert class_.screen(name).count(secret) == 0, f"{name} saw {sender}'s private message"
    class_.report.count("private messages", len(secrets))


def work_in_folders(class_: Rehearsal) -> dict[str, list[str]]:
    """The students' gets, mgets and puts (one of them on a lossy link); what each asked for."""
    asked: dict[str, list[str]] = {}
    for name in FOLDER_MGET:
        for line in ("cd practicas/tema1", "mget *.bin", "get apuntes1.txt"):
            class_.students[name].type(line)
        asked[name] = list(FOLDER_MGET_FILES)
    for name in PATH_GETS:
        class_.students[name].type("get " + " ".join(PATH_GET_FILES))
        asked[name] = list(PATH_GET_FILES)
    for name in TOP_GETS:
        class_.students[name].type("get logo.png")
        class_.students[name].type('get "canción de prueba.txt"')
        asked[name] = list(TOP_GET_FILES)
    class_.students[KICKED].type(f"get {KICKED_FILES[0]}")
    asked[KICKED] = list(KICKED_FILES)
    for name in PUTS:
        made = class_.lab.container(name).exec_run(
            ["sh", "-c", f"head -c {PUT_BYTES} /dev/urandom >/tmp/entrega-{name}.bin"]
        )
        assert made.exit_code == 0, made.output
        class_.students[name].type("cd entregas")
        class_.students[name].type(f"put /tmp/entrega-{name}.bin")
        asked[name] = []
    for name, paths in asked.items():
        for path in paths:
            class_.screen(name).wait_for(saved(path.rpartition("/")[2]), PHASE_TIMEOUT)
            class_.report.count("downloads verified by the students")
    for name in PUTS:
        class_.screen(name).wait_for(f"Subido entregas/entrega-{name}.bin", PHASE_TIMEOUT)
        class_.report.count("puts")
    return asked


def installed(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is not installed (scripts/test installs it)"
    return path


def ftp_users(class_: Rehearsal) -> dict[str, Path]:
    """curl fetches one file and lftp mirrors a folder through the published FTP door, while
    the students work: run in threads; returns what each wrote (checked at the end)."""
    port = class_.lab.published_ftp_port()
    url = f"ftp://127.0.0.1:{port}"
    curl_copy = class_.workdir / "ftp-curl" / "lab2.bin"
    mirror = class_.workdir / "ftp-lftp"
    curl_copy.parent.mkdir()
    lftp_script = (
        "set cmd:fail-exit yes; set ftp:ssl-allow no; set net:max-retries 2; set net:timeout 20; "
        f"mirror practicas/tema1 {mirror}; quit"
    )
    commands = {
        "curl": [
            installed("curl"),
            "-sS",
            "-u",
            "casa:x",
            "-o",
            str(curl_copy),
            f"{url}/practicas/tema2/lab2.bin",
        ],
        "lftp": [installed("lftp"), "-u", "ana,x", "-p", str(port), "-e", lftp_script, "127.0.0.1"],
    }

    def run(tool: str) -> None:
        class_.ftp_results[tool] = subprocess.run(
            commands[tool], capture_output=True, text=True, timeout=PHASE_TIMEOUT
        )

    class_.ftp_threads = [threading.Thread(target=run, args=(tool,)) for tool in commands]
    for thread in class_.ftp_threads:
        thread.start()
    return {"practicas/tema2/lab2.bin": curl_copy, "practicas/tema1": mirror}


def wait_for_ftp_users(class_: Rehearsal) -> None:
    for thread in class_.ftp_threads:
        thread.join(PHASE_TIMEOUT)
        assert not thread.is_alive(), "an FTP user still running"
    for tool, result in class_.ftp_results.items():
        assert result.returncode == 0, f"{tool}: {result.stderr}"
        class_.report.count("FTP users' sessions")


def kick(class_: Rehearsal, console: TeacherConsole) -> None:
    mark = class_.screen(KICKED).mark
    console.say(f"/kick {KICKED} fin del ensayo")
    console.screen.wait_for(f"{KICKED} desconectado")
    class_.screen(KICKED).wait_for("No se vuelve a conectar solo", start=mark)
    class_.report.count("kicks")


def restart_in_the_middle_of_downloads(class_: Rehearsal, console: TeacherConsole) -> None:
    """The big file to ten students over a slow server link; once each has part of it, the
    server restarts. Everyone but the kicked student comes back and the downloads finish."""
    class_.lab.check("impair", "server", "--rate", SLOW_SERVER_RATE)
    marks = {name: class_.screen(name).mark for name in NAMES}
    for name in RESTART_GROUP:
        class_.students[name].type("cd /practicas")
        class_.students[name].type(f"get {BIG}")
    for name in RESTART_GROUP:
        class_.screen(name).wait_for(PROGRESS_OF_BIG, PHASE_TIMEOUT, start=marks[name])
    console_mark = console.screen.mark
    restarting = time.monotonic()
    class_.lab.container("server").restart(timeout=5)
    class_.report.server_restart_seconds = time.monotonic() - restarting
    console.screen.wait_for("El servidor se ha detenido", PHASE_TIMEOUT, start=console_mark)
    console.screen.wait_for("El servidor ha vuelto", PHASE_TIMEOUT, start=console_mark)  # attached again
    for name in STAYING:
        _, lost = class_.screen(name).wait_for(COMING_BACK, PHASE_TIMEOUT, start=marks[name])
        _, back = class_.screen(name).wait_for(
            f"De nuevo conectado como {name}", PHASE_TIMEOUT, start=marks[name]
        )
        class_.report.noticed[name] = lost - restarting
        class_.report.back[name] = back - restarting
    for name in RESTART_GROUP:
        class_.screen(name).wait_for(f"Continuando {BIG} desde", PHASE_TIMEOUT, start=marks[name])
        class_.screen(name).wait_for(saved(BIG), PHASE_TIMEOUT, start=marks[name])
        class_.report.count("downloads resumed after the restart and verified")
    class_.report.count("students back by themselves", len(STAYING))


def after_the_restart(class_: Rehearsal, console: TeacherConsole) -> None:
    """Chat flows again, and the teacher's /who lists everyone but the kicked student."""
    token = uuid.uuid4().hex[:6]
    speakers = STAYING[::7]
    for name in speakers:
        line = f"de vuelta {name} {token}"
        class_.students[name].type(line)
        class_.chats.append(f"{name}> {line}")
    for said in class_.chats[-len(speakers) :]:
        for name in STAYING:
            if not said.startswith(f"{name}> "):
                class_.screen(name).wait_for(said, PHASE_TIMEOUT)
        console.screen.wait_for(said, PHASE_TIMEOUT)
    console.say("/who")
    console.screen.wait_for(f"Conectados ({len(STAYING)}): ", PHASE_TIMEOUT)
    who = re.search(rf"Conectados \({len(STAYING)}\): ([^;\r\n]*)", console.screen.text).group(1)
    assert who.split(", ") == sorted(STAYING), who


# --- the checks at the end ----------------------------------------------------------------------


def check_copies(class_: Rehearsal, asked: dict[str, list[str]], ftp_copies: dict[str, Path]) -> None:
    served = class_.files_on("server", SERVED)
    for name in NAMES:
        wanted = list(asked.get(name, [])) + ([f"practicas/{BIG}"] if name in RESTART_GROUP else [])
        held = class_.files_on(name, DOWNLOADS)
        expected = {path.rpartition("/")[2]: served[path] for path in wanted}
        assert held == expected, f"{name}'s downloads: {held} (wanted {sorted(expected)})"
        class_.report.count("files compared with the server's", len(held))
    for name in PUTS:
        own = class_.lab.container(name).exec_run(["sha256sum", f"/tmp/entrega-{name}.bin"]).output.split()[0]
        assert served[f"entregas/entrega-{name}.bin"] == own.decode(), f"{name}'s put"
    for served_path, local in ftp_copies.items():
        copies = (
            {str(p.relative_to(local)): p for p in local.rglob("*") if p.is_file()}
            if local.is_dir()
            else {"": local}
        )
        for relative, path in copies.items():
            origin = f"{served_path}/{relative}".rstrip("/")
            assert hashlib.sha256(path.read_bytes()).hexdigest() == served[origin], origin
        class_.report.count("FTP copies compared with the server's", len(copies))


def check_comings_and_goings(class_: Rehearsal) -> None:
    log = class_.lab.server_log()
    assert len(re.findall(rf"joined {KICKED}@", log)) == 1, "the kicked student came back"
    assert class_.screen(KICKED).count("De nuevo conectado") == 0
    assert class_.lab.container(KICKED).status == "running", "the kicked student's terminal stays"
    for name in STAYING:
        assert len(re.findall(rf"joined {name}@", log)) == 2, f"{name} joined other than twice"
        assert class_.screen(name).count("De nuevo conectado") == 1, name


def check_consoles(class_: Rehearsal) -> None:
    screens = [console.screen for console in class_.consoles]
    for screen in screens:
        found = LOG_LINE.search(screen.text.encode())
        assert found is None, f"a log line on {screen.label}: {found}"
    for said in class_.chats:
        shown = sum(screen.count(said) for screen in screens)
        assert shown == 1, f"{said!r} shown {shown} times on the teacher's consoles"


# --- the test -------------------------------------------------------------------------------


@pytest.fixture
def class_lab(request, docker_client, e2e_images):
    lab = LabScript(docker_client, e2e_images["base"])
    request.node._ftplab_compose = lab
    try:
        yield lab
    finally:
        lab.down()


def test_a_class_rehearsal_of_thirty_with_the_teacher(class_lab, docker_client, tmp_path):
    make_tree(tmp_path / "files")
    class_ = Rehearsal(class_lab, docker_client, tmp_path)
    try:
        class_lab.check("up", "--students", str(CLASS_SIZE), "--allow-upload", "--publish")
        class_lab.check("files", "add", "practicas", "entregas", cwd=tmp_path / "files")
        class_.report.phase("up")
        console = class_.attach_teacher()
        class_.attach_students()
        class_.report.phase("attach")

        chat_for_everyone(class_, console)
        private_messages(class_, console)
        class_.report.phase("chat")

        class_lab.check("impair", LOSSY, "--loss", "10%")
        ftp_copies = ftp_users(class_)
        asked = work_in_folders(class_)
        wait_for_ftp_users(class_)
        class_.report.phase("folders")

        kick(class_, console)
        restart_in_the_middle_of_downloads(class_, console)
        class_.report.phase("restart")

        after_the_restart(class_, console)
        class_lab.check("heal", LOSSY)
        class_.report.phase("after")

        check_copies(class_, asked, ftp_copies)
        check_comings_and_goings(class_)
        check_consoles(class_)
    finally:
        class_.close()
        figures = json.dumps(class_.report.as_dict(), indent=2, ensure_ascii=False)
        print(f"\nThe rehearsal's figures:\n{figures}")
        if os.environ.get("FTPLAB_REHEARSAL_REPORT"):
            Path(os.environ["FTPLAB_REHEARSAL_REPORT"]).write_text(figures + "\n")
