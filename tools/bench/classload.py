"""A class at full speed: every student of a real lab `get`s the same big file at once.

`scripts/lab up --students N` starts the lab in a Compose project of its own (its own name,
a subnet Docker picked as free, images tagged with that name), the file goes onto the server
with `scripts/lab files add`, and each round measures, over labnet:

- the students' `get`: in every student's container a second client of the real ftplab code
  (tools/bench/class_drivers.py, `get` mode) joins, and all of them type `get FILE` at one
  moment: the host names it in the `go` it sends each (through `docker exec`, one after
  another, which takes a while), a little later than the last go should arrive. Each reports
  when it asked and when the file was verified and saved. A student's rate is the file's size
  over that time; the class's, all the bytes over the time from the first request to the last
  saved file; fairness is Jain's index over the students' rates. A student who asks late and
  finishes almost alone gets a high rate that says nothing of the server's fairness: the
  spread of the requests (first to last) is reported next to it.
- chat during it: clients on the teacher's computer (the server's container) take turns to
  send a line every `chat_interval` seconds with the time it was typed; the downloading
  students record when each line reached them. Latencies count while that student downloads.
  The same lines reach the chatters, who download nothing: a line's arrival at a student less
  its first arrival there is its wait behind the file (and behind that student's own CPU),
  apart from the time the server and the machine's load took to pass it on. A client that
  joins is shown the chat's last lines again, earlier rounds' with the same numbers: only
  lines typed since this round's chat began count.
- what TCP did meanwhile, from each container's own counters (/proc/net/netstat): what
  each student's kernel refused while it downloaded (its receive buffer full), and what
  came again that it already had (resent because the ACK came back late, as from a
  student waiting for the CPU), both counted by arrival (a veth hands over up to 64 KiB
  at once); the server's retransmission timeouts and tail-loss probes over the round.
  Bytes refused wait for their retransmission, and all that follows them in the stream,
  a chat line too, waits with them (net.py). A student's counters count its own lab
  client's connection too, which only chats.
- the CPU the lab got: its containers' core-seconds over the `get`'s wall clock. On a
  machine shared with other work, Docker's containers together weigh as much as one
  process of the host (cgroup v1's cpu.shares): chat latency then measures that load.
- the server's memory: its VmRSS sampled from /proc while the class downloads, and VmHWM.
- the bridge's limit, with the same containers and direction: a plain TCP sender on the
  server's container sends the same file to one receiver per student at once (sendfile to
  recv_into), once discarded (the network) and once written to the student's /downloads
  (network and disk, as `get` does).

Everything the bench starts is removed at the end, whatever happens, Ctrl-C and SIGTERM
included (`scripts/lab down`: containers, network, volumes; then the images of the run's
own tag); every wait has a deadline. Needs Docker, and the lab's base
image (python:3.12-slim or the local ftplab/base:bookworm: scripts/build-base-image).

    python3 tools/bench/classload.py                          # 30 students x 100 MiB, 1 round
    python3 tools/bench/classload.py --students 3 --size-mib 8 --rounds 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "scripts" / "lab"
DRIVERS = (Path(__file__).resolve().with_name("class_drivers.py")).read_text()
BASE_CANDIDATES = ("python:3.12-slim", "ftplab/base:bookworm")
LAB_PORT = 2121
TCP_PORT = 2999  # the plain TCP sender's, inside labnet only
CHATTERS = 3
"""Clients that take turns to chat: one client may send 5 lines a second (the server's flood control)."""
MIB = 1024 * 1024
TARGETS = {"fairness": 0.95, "chat_p99_ms": 100.0, "rss_mib": 64.0}
UP_SECONDS = 600  # builds the images too (cached layers: seconds)
JOIN_SECONDS = 90
SLOWEST_MIB_PER_SECOND = 5
"""Transfers get 60 s plus the time this aggregate rate would take, before the bench gives up."""
START_SECONDS = 0.5
START_SECONDS_PER_STUDENT = 0.05
"""The students start this long after the host begins to send them the go: time for the last
go to get through `docker exec` on a loaded machine (one that comes later asks at once)."""
TYPED_PRECISION = 1e-6
"""The chatters write the time a line was typed with 6 decimals."""


class ClassBenchError(RuntimeError):
    """The class could not be measured (what went wrong, with the programs' own words)."""


@dataclass
class ClassSettings:
    students: int = 30
    size_mib: int = 100
    rounds: int = 1
    chat_interval: float = 0.1
    tag: str = ""
    """Tag of the images built and run; "": the project's name, and the images go with the lab."""
    project: str = field(default_factory=lambda: f"ftplab-classload-{uuid.uuid4().hex[:8]}")
    subnet: str = ""
    """labnet's subnet; "": one Docker picks as free."""
    timeout: float = 1800.0
    """The whole run's deadline, lab up and down included."""
    student_cpu_shares: int = 0
    """The students' containers' CPU weight (`docker update --cpu-shares`; 0: Docker's default,
    1024, like the server's). Lower, the server's container gets the CPU first, as it would on
    a computer of its own, while the students share what is left of this one."""

    @property
    def image_tag(self) -> str:
        return self.tag or self.project

    @property
    def file_name(self) -> str:
        return f"classload-{self.size_mib}MiB.bin"

    @property
    def transfer_seconds(self) -> float:
        return 60 + self.students * self.size_mib / SLOWEST_MIB_PER_SECOND


# --- figures -------------------------------------------------------------------------------------


def jain_index(rates: list[float]) -> float:
    """Jain's fairness index: 1 when every rate is equal, 1/n when one gets everything."""
    squares = sum(rate * rate for rate in rates)
    return sum(rates) ** 2 / (len(rates) * squares) if squares else 0.0


def percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile (no interpolation: a value that was seen)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


@dataclass
class Transfers:
    """One round of N simultaneous transfers: each receiver's rate and the whole class's, and the
    core-seconds the sending container and the receiving ones (added up) spent meanwhile."""

    rates: list[float]  # MiB/s, one per receiver
    aggregate: float  # MiB/s: all bytes over first start to last end
    gib: float = 0.0  # all the bytes received
    sender_cpu: float | None = None
    receivers_cpu: float | None = None

    @classmethod
    def from_spans(
        cls, size_mib: float, spans: list[tuple[float, float]], sender_cpu=None, receivers_cpu=None
    ) -> Transfers:
        rates = [size_mib / (end - start) for start, end in spans]
        wall = max(end for _, end in spans) - min(start for start, _ in spans)
        total = size_mib * len(spans)
        return cls(rates, total / wall, total / 1024, sender_cpu, receivers_cpu)

    @property
    def fairness(self) -> float:
        return jain_index(self.rates)

    def per_gib(self, core_seconds: float | None) -> list[float]:
        """Core-seconds per GiB moved, as a list of one (none when the cgroup could not be read)."""
        return [] if core_seconds is None or not self.gib else [core_seconds / self.gib]


def per_gib(rounds: list[Transfers], who: str) -> list[float]:
    """Core-seconds per GiB of `who` ("sender_cpu" or "receivers_cpu") over the rounds."""
    return [value for t in rounds for value in t.per_gib(getattr(t, who))]


def differences(pairs: list) -> list | None:
    """Each [before, after] pair's after less before (None if there are none or any is unknown)."""
    if not pairs or any(None in pair for pair in pairs):
        return None
    return [after - before for before, after in pairs]


def counters_between(before: dict | None, after: dict | None) -> dict[str, int]:
    """Each TCP counter's growth from `before` to `after` ({}: either is unknown)."""
    if before is None or after is None:
        return {}
    return {what: after[what] - before[what] for what in after}


def student_counts(reports: list[dict], what: str) -> list[int] | None:
    """How much one of class_drivers.TCP_COUNTERS grew in each student's container over its
    `get` (None: a kernel did not say)."""
    grown = [counters_between(report.get("tcp_requested"), report.get("tcp_saved")) for report in reports]
    return [counters[what] for counters in grown] if grown and all(grown) else None


def cpu_used(pairs: list) -> float | None:
    """Core-seconds between each [before, after] pair, added up (None if any is unknown)."""
    spans = differences(pairs)
    return None if spans is None else sum(spans)


@dataclass
class GetRound:
    transfers: Transfers
    chat_ms: list[float]  # latencies of the lines that reached a student while it downloaded
    idle_chat_ms: list[float]  # of those that reached the chatters (no file in flight) meanwhile
    chat_sent: int
    rss_kib: dict  # first_kib, peak_kib (sampled), hwm_kib (the process's own high-water mark)
    behind_file_ms: list[float] = field(default_factory=list)
    """Each of chat_ms's receptions less the same line's first arrival at a chatter."""
    request_spread_ms: float | None = None
    """The last student's request less the first's: how together the class really started."""
    late_starts: int = 0
    """Students whose go came after the moment it named (they asked as soon as it came)."""
    lab_cores: float | None = None
    """The server's and the students' containers' core-seconds over the `get`'s wall clock."""
    refused: list[int] = field(default_factory=list)
    """Each student's arrivals its kernel refused during its `get` (no room), where every
    student's kernel said (class_drivers.TCP_COUNTERS)..."""
    duplicates: list[int] = field(default_factory=list)
    """...and those it got twice."""
    server_tcp: dict[str, int] = field(default_factory=dict)
    """The server's container's TCP_COUNTERS over the round ({}: not said)."""
    timelines: dict[str, list] = field(default_factory=dict)
    """Each student's [seconds since the first request, percent received] (in --json only): who
    fell behind, and when."""


@dataclass
class ClassFigures:
    settings: ClassSettings
    gets: list[GetRound] = field(default_factory=list)
    bridge: list[Transfers] = field(default_factory=list)
    bridge_disk: list[Transfers] = field(default_factory=list)
    elapsed: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def rows(self) -> list[tuple[str, list[float], str, str]]:
        """(measure, values over the rounds, unit, target key or "")."""
        gets = [g.transfers for g in self.gets]
        chat = [value for g in self.gets for value in g.chat_ms]
        idle = [value for g in self.gets for value in g.idle_chat_ms]
        behind = [value for g in self.gets for value in g.behind_file_ms]
        tcp, disk = self.bridge, self.bridge_disk
        return [
            ("`get`, the class together", [t.aggregate for t in gets], "MiB/s", ""),
            ("plain TCP, discarded (the bridge's limit)", [t.aggregate for t in tcp], "MiB/s", ""),
            ("plain TCP into /downloads", [t.aggregate for t in disk], "MiB/s", ""),
            ("`get` / the bridge's limit", self._ratios(tcp), "×", ""),
            ("`get` / plain TCP into /downloads", self._ratios(disk), "×", ""),
            ("one student's `get`: slowest", [min(t.rates) for t in gets], "MiB/s", ""),
            ("one student's `get`: fastest", [max(t.rates) for t in gets], "MiB/s", ""),
            ("the students' requests, first to last", self._request_spreads(), "ms", ""),
            ("fairness of `get` (Jain's index)", [t.fairness for t in gets], "", "fairness"),
            ("fairness of plain TCP (Jain's index)", [t.fairness for t in tcp], "", ""),
            ("chat latency during `get`: p50", chat and [percentile(chat, 50)], "ms", ""),
            ("chat latency during `get`: p99", chat and [percentile(chat, 99)], "ms", "chat_p99_ms"),
            ("chat latency during `get`: max", chat and [max(chat)], "ms", ""),
            ("the same to a client not downloading: p99", idle and [percentile(idle, 99)], "ms", ""),
            ("a line's wait behind the file: p50", behind and [percentile(behind, 50)], "ms", ""),
            ("a line's wait behind the file: p99", behind and [percentile(behind, 99)], "ms", ""),
            ("arrivals a student's kernel refused (no room): median", self._per_student("refused"), "", ""),
            (
                "arrivals a student's kernel refused (no room): most",
                self._per_student("refused", max),
                "",
                "",
            ),
            ("arrivals a student already had (resent): median", self._per_student("duplicates"), "", ""),
            ("the server's retransmission timeouts", self._server_tcp("timeouts"), "", ""),
            ("the server's tail-loss probes", self._server_tcp("probes"), "", ""),
            ("CPU the lab's containers got during `get`", self._lab_cores(), "cores", ""),
            ("server's container, `get`", per_gib(gets, "sender_cpu"), "core-s/GiB", ""),
            ("server's container, plain TCP", per_gib(tcp, "sender_cpu"), "core-s/GiB", ""),
            ("students' containers, `get`", per_gib(gets, "receivers_cpu"), "core-s/GiB", ""),
            ("students' containers, plain TCP discarded", per_gib(tcp, "receivers_cpu"), "core-s/GiB", ""),
            (
                "students' containers, plain TCP into /downloads",
                per_gib(disk, "receivers_cpu"),
                "core-s/GiB",
                "",
            ),
            ("server RSS before the class", [g.rss_kib["first_kib"] / 1024 for g in self.gets], "MiB", ""),
            ("server RSS peak (VmHWM)", [g.rss_kib["hwm_kib"] / 1024 for g in self.gets], "MiB", "rss_mib"),
        ]

    @property
    def title(self) -> str:
        s = self.settings
        return f"A class at full speed: {s.students} students × {s.size_mib} MiB over labnet"

    def intro(self) -> list[str]:
        """What was measured, in a few lines (the module's docstring says how)."""
        s = self.settings
        receptions = sum(len(g.chat_ms) for g in self.gets)
        sent = sum(g.chat_sent for g in self.gets)
        every = f"{s.chat_interval * 1000:g} ms"
        lines = [
            "Every student's container `get`s the same file at once; plain TCP from the server's",
            f"container to the same {s.students} containers is the limit. {len(self.gets)} round(s),",
            "min / **median** / max; chat latencies are pooled over the rounds: a line every",
            f"{every} ({sent} sent, {receptions} receptions while the receiver downloaded).",
            "The students are told one moment to ask at; fairness is Jain's index over each",
            "student's rate, the file over its own request-to-saved time (a student who asks late",
            "and finishes almost alone looks fast: see how far apart the requests were).",
            "A line's wait behind the file: its arrival at a downloading student less its first",
            "arrival at the teacher's chatters, who download nothing (the server's own delay and",
            "the machine's load left out). CPU: each container's cgroup, core-seconds per GiB moved;",
            f"the lab's containers share the CPU of {os.cpu_count()} cores with the machine's other",
            "work. A target is met when every round meets it.",
            f"{self.elapsed:.0f} s in all.",
        ]
        late = sum(g.late_starts for g in self.gets)
        if late:
            lines.append(f"{late} student(s) got the go after the moment it named, and asked late.")
        if s.student_cpu_shares:
            lines.append(f"The students' CPU weight was {s.student_cpu_shares} (the server's 1024).")
        return lines

    def targets(self) -> list[tuple[str, str, bool | None]]:
        """(the target, the figure it is about, met: None when nothing was measured)."""
        return [
            (f"{label} {TARGET_TEXT[key]}", f"{spread(values)} {unit}".strip(), met(key, values))
            for label, values, unit, key in self.rows()
            if key
        ]

    def table(self) -> list[str]:
        """The section in Markdown: min / median / max over the rounds, and each target."""
        lines = [f"### {self.title}", "", *self.intro(), ""]
        lines += ["| measure | min / **median** / max | unit | target | met |", "|---|---|---|---|---|"]
        for label, values, unit, key in self.rows():
            verdict = {None: "not measured", True: "yes", False: "**no**"}[met(key, values)] if key else "–"
            lines.append(f"| {label} | {spread(values)} | {unit} | {TARGET_TEXT.get(key, '–')} | {verdict} |")
        return lines

    def _request_spreads(self) -> list[float]:
        return [g.request_spread_ms for g in self.gets if g.request_spread_ms is not None]

    def _per_student(self, counted: str, which=statistics.median) -> list[float]:
        return [which(values) for g in self.gets if (values := getattr(g, counted))]

    def _server_tcp(self, counted: str) -> list[float]:
        return [g.server_tcp[counted] for g in self.gets if g.server_tcp]

    def _lab_cores(self) -> list[float]:
        return [g.lab_cores for g in self.gets if g.lab_cores is not None]

    def _ratios(self, limits: list[Transfers]) -> list[float]:
        return [g.transfers.aggregate / t.aggregate for g, t in zip(self.gets, limits, strict=False)]


TARGET_TEXT = {"fairness": "≥ 0.95", "chat_p99_ms": "≤ 100 ms", "rss_mib": "≤ 64 MiB"}


def met(target: str, values: list[float]) -> bool | None:
    """Whether every round met the target (None: nothing was measured)."""
    if not values:
        return None
    if target == "fairness":
        return min(values) >= TARGETS[target]
    return max(values) <= TARGETS[target]


def spread(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{3 if values[0] < 10 else 1}f}"
    digits = 3 if max(values) < 10 else 1 if max(values) < 1000 else 0
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / **{mid:.{digits}f}** / {high:.{digits}f}"


# --- programs in the containers ------------------------------------------------------------------


class Deadline:
    def __init__(self, seconds: float, overall: Deadline | None = None):
        self.at = time.monotonic() + seconds
        if overall is not None:
            self.at = min(self.at, overall.at)

    def left(self, what: str) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise ClassBenchError(f"gave up waiting for {what}")
        return left


class Remote:
    """One of class_drivers.py's modes inside a container (`docker exec -i`): its stdout lines
    arrive in a queue as they come; stderr goes to a file for the error message."""

    def __init__(self, container: str, name: str, *args: str):
        self.name = name
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (closed by end())
        command = ["docker", "exec", "-i", container, "python3", "-c", DRIVERS, *args]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line.strip())
        self._lines.put(None)

    def expect(self, wanted: str, deadline: Deadline) -> None:
        try:
            line = self._lines.get(timeout=deadline.left(f"{self.name} to say {wanted}"))
        except queue.Empty:
            raise ClassBenchError(f"{self.name} did not say {wanted!r} in time") from None
        if line != wanted:
            raise ClassBenchError(f"{self.name} said {line!r}, not {wanted!r}: {self.errors()}")

    def tell(self, line: str) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()

    def close_input(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.process.stdin.close()

    def result(self, deadline: Deadline) -> dict:
        """The JSON line the program printed at its end."""
        try:
            self.process.wait(deadline.left(f"{self.name} to finish"))
        except subprocess.TimeoutExpired:
            raise ClassBenchError(f"{self.name} did not finish in time") from None
        lines = []
        while (line := self._lines.get(timeout=10)) is not None:
            lines.append(line)
        try:
            return json.loads(lines[-1])
        except (IndexError, ValueError):
            raise ClassBenchError(f"{self.name} ended ({self.process.returncode}): {self.errors()}") from None

    def errors(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-2000:]

    def end(self) -> None:
        """Make sure `docker exec` is gone (what it ran inside goes with the lab's containers)."""
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self.close_input()
        self._stderr.close()


@contextlib.contextmanager
def remotes():
    """Every Remote started in the block is ended when it leaves, whatever happens."""
    started: list[Remote] = []
    try:
        yield started
    finally:
        for remote in started:
            remote.end()


# --- the lab ----------------------------------------------------------------------------------


class ClassLab:
    """scripts/lab in a project of the bench's own: up, the file, the containers, down."""

    def __init__(self, settings: ClassSettings):
        self.settings = settings
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": settings.project,
            "FTPLAB_IMAGE_TAG": settings.image_tag,
            "LAB_ENV_FILE": os.devnull,  # no settings file: nothing of the user's own lab
            "BASE_IMAGE": base_image(),
            "FTPLAB_LANG": "en",
        }
        for inherited in ("LABNET_PREFIX", "LAB_STUDENTS", "FTPLAB_MAX_CLIENTS", "LAB_PUBLISH_PORT"):
            self.env.pop(inherited, None)
        self.containers: dict[str, str] = {}

    def lab(self, *args: str, timeout: float) -> str:
        try:
            result = subprocess.run(
                [str(LAB), *args],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise ClassBenchError(f"scripts/lab {args[0]} took more than {timeout:.0f} s") from None
        if result.returncode != 0:
            raise ClassBenchError(f"scripts/lab {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def up(self, deadline: Deadline) -> None:
        s = self.settings
        self.env["LABNET_SUBNET"] = s.subnet or free_subnet()
        max_clients = 2 * s.students + CHATTERS + 10  # the students' own clients, ours, the chatters
        self.lab(
            "up",
            "--students",
            str(s.students),
            "--server-option",
            f"max-clients={max_clients}",
            timeout=min(UP_SECONDS, deadline.left("the lab to come up")),
        )
        label = f"label=com.docker.compose.project={s.project}"
        service = '{{.ID}} {{.Label "com.docker.compose.service"}}'
        listing = docker("ps", "--filter", label, "--format", service)
        self.containers = {name: id_ for id_, name in (line.split() for line in listing.splitlines())}
        if len(self.containers) != s.students + 1:
            raise ClassBenchError(f"expected {s.students + 1} running containers, found {self.containers}")
        if s.student_cpu_shares:
            ids = [self.containers[name] for name in self.students]
            docker("update", "--cpu-shares", str(s.student_cpu_shares), *ids)

    def add_file(self, deadline: Deadline) -> None:
        with tempfile.TemporaryDirectory(prefix="classload-") as directory:
            path = Path(directory) / self.settings.file_name
            with path.open("wb") as file:
                for _ in range(self.settings.size_mib):
                    file.write(os.urandom(MIB))
            self.lab("files", "add", str(path), timeout=deadline.left("the file to reach the server"))

    @property
    def students(self) -> list[str]:
        return [name for name in self.containers if name != "server"]

    def down(self) -> None:
        """Containers, network and volumes; the images too when they carry the run's own tag.
        What could not be removed is said on stderr (the run's figures still stand)."""
        try:
            self.lab("down", timeout=300)
        except ClassBenchError as failed:
            print(f"classload: warning: the lab was not wholly taken down: {failed}", file=sys.stderr)
        if not self.settings.tag:
            images = [f"ftplab/{kind}:{self.settings.image_tag}" for kind in ("server", "client")]
            subprocess.run(["docker", "image", "rm", *images], capture_output=True, timeout=120)


def docker(*args: str) -> str:
    """A docker command that must succeed; its output."""
    try:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise ClassBenchError(f"docker {args[0]} took more than 120 s") from None
    if result.returncode != 0:
        raise ClassBenchError(f"docker {' '.join(args[:3])} failed: {result.stderr.strip()}")
    return result.stdout


def base_image() -> str:
    for candidate in BASE_CANDIDATES:
        found = subprocess.run(["docker", "image", "inspect", candidate], capture_output=True, timeout=60)
        if found.returncode == 0:
            return candidate
    raise ClassBenchError(
        f"none of the base images {', '.join(BASE_CANDIDATES)} is here: scripts/build-base-image"
    )


def free_subnet() -> str:
    """A subnet that clashes with nothing Docker knows: the one it picks for a new network."""
    name = f"ftplab-classload-probe-{uuid.uuid4().hex[:8]}"
    docker("network", "create", name)
    try:
        return docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", name).strip()
    finally:
        docker("network", "rm", name)


# --- the rounds --------------------------------------------------------------------------------


def class_get(lab: ClassLab, overall: Deadline) -> GetRound:
    s = lab.settings
    server = lab.containers["server"]
    with remotes() as started:
        chat_names = ",".join(f"profe-chat{number}" for number in range(1, CHATTERS + 1))
        chat = Remote(
            server,
            "the chatters",
            "chat",
            "127.0.0.1",
            str(LAB_PORT),
            chat_names,
            str(s.chat_interval),
            str(s.transfer_seconds),
        )
        started.append(chat)
        students = [
            Remote(
                lab.containers[name],
                name,
                "get",
                "server",
                str(LAB_PORT),
                f"{name}-get",
                "/downloads",
                s.file_name,
            )
            for name in lab.students
        ]
        started.extend(students)
        joining = Deadline(JOIN_SECONDS, overall)
        for remote in (chat, *students):
            remote.expect("ready", joining)
        rss = Remote(server, "the RSS sampler", "rss", "0.1")
        started.append(rss)
        chat.tell("go")
        start_at = time.monotonic() + START_SECONDS + START_SECONDS_PER_STUDENT * len(students)
        for student in students:
            student.tell(f"go {start_at:.6f}")
        transfer = Deadline(s.transfer_seconds, overall)
        reports = [student.result(transfer) for student in students]
        chat.tell("stop")
        rss.close_input()
        chatted = chat.result(Deadline(60, overall))
        memory = rss.result(Deadline(30, overall))
    for report in reports:
        if report.get("status") != 0 or "saved" not in report or report.get("size") != s.size_mib * MIB:
            raise ClassBenchError(f"a student's get did not save the whole file: {report}")
    spans = [(report["requested"], report["saved"]) for report in reports]
    requested = [start for start, _ in spans]
    students_cpu = cpu_used([(report["cpu_requested"], report["cpu_saved"]) for report in reports])
    transfers = Transfers.from_spans(s.size_mib, spans, cpu_used([memory["cpu"]]), students_cpu)
    chat_ms = downloading_chat_ms(reports, chatted)
    first, last = min(requested), max(end for _, end in spans)
    idle_ms = [
        latency * 1000
        for arrived, latency, _ in typed_since(chatted["chat"], chatted["began"])
        if first <= arrived <= last
    ]
    cores = (
        None
        if None in (transfers.sender_cpu, students_cpu)
        else ((transfers.sender_cpu + students_cpu) / (last - first))
    )
    behind = behind_file_ms(reports, chatted)
    refused, duplicates = (student_counts(reports, what) for what in ("refused", "duplicates"))
    late = sum(report["told"] > start_at for report in reports)
    spread_ms = (max(requested) - first) * 1000
    return GetRound(
        transfers,
        chat_ms,
        idle_ms,
        chatted["sent"],
        memory,
        behind_file_ms=behind,
        refused=refused or [],
        duplicates=duplicates or [],
        server_tcp=counters_between(*memory.get("tcp", (None, None))),
        lab_cores=cores,
        request_spread_ms=spread_ms,
        late_starts=late,
        timelines=timelines(reports, first),
    )


def timelines(reports: list[dict], first: float) -> dict[str, list]:
    """Each student's progress from its request to its saved file, timed from the first request."""
    return {
        report["name"]: [
            [round(at - first, 3), percent]
            for at, percent in [[report["requested"], 0], *report["progress"], [report["saved"], 100]]
        ]
        for report in reports
    }


def typed_since(lines: list, began: float | None) -> list:
    """The chat lines ([arrived, latency, number]) typed since `began`: a client that joins is
    shown the last lines said before, earlier rounds' lines with the same numbers."""
    if began is None:
        return []
    return [line for line in lines if line[0] - line[1] >= began - TYPED_PRECISION]


def downloading_chat_ms(reports: list[dict], chatted: dict) -> list[float]:
    """The latencies of this round's lines that reached a student while it downloaded."""
    return [
        latency * 1000
        for report in reports
        for arrived, latency, _ in typed_since(report["chat"], chatted["began"])
        if report["requested"] <= arrived <= report["saved"]
    ]


def behind_file_ms(reports: list[dict], chatted: dict) -> list[float]:
    """For each line of this round a student received while downloading: how much later than
    the first of the chatters (who download nothing) it got it."""
    first_seen: dict[int, float] = {}
    for arrived, _latency, number in typed_since(chatted["chat"], chatted["began"]):
        first_seen[number] = min(arrived, first_seen.get(number, arrived))
    return [
        (arrived - first_seen[number]) * 1000
        for report in reports
        for arrived, _latency, number in typed_since(report["chat"], chatted["began"])
        if report["requested"] <= arrived <= report["saved"] and number in first_seen
    ]


def plain_tcp(lab: ClassLab, sink: str, overall: Deadline) -> Transfers:
    """The same file from the server's container to every student's at once, by plain TCP."""
    s = lab.settings
    with remotes() as started:
        sender = Remote(
            lab.containers["server"],
            "the TCP sender",
            "send",
            str(TCP_PORT),
            f"/srv/files/{s.file_name}",
            str(s.students),
            str(JOIN_SECONDS),
        )
        started.append(sender)
        sender.expect("listening", Deadline(JOIN_SECONDS, overall))
        receivers = [
            Remote(lab.containers[name], f"{name}'s TCP receiver", "receive", "server", str(TCP_PORT), sink)
            for name in lab.students
        ]
        started.extend(receivers)
        transfer = Deadline(s.transfer_seconds, overall)
        sent = sender.result(transfer)
        reports = [receiver.result(transfer) for receiver in receivers]
    if any(report["bytes"] != s.size_mib * MIB for report in reports):
        raise ClassBenchError(f"plain TCP: a receiver got less than the file: {reports}")
    spans = [(sent["start"], report["end"]) for report in reports]
    receivers_cpu = cpu_used([report["cpu"] for report in reports])
    return Transfers.from_spans(s.size_mib, spans, cpu_used([sent["cpu"]]), receivers_cpu)


def measure_class(settings: ClassSettings, progress=None) -> ClassFigures:
    """Bring a class up, measure `settings.rounds` rounds, take it all down; the figures."""
    say = progress or (lambda _text: None)
    began = time.monotonic()
    overall = Deadline(settings.timeout)
    figures = ClassFigures(settings)
    lab = ClassLab(settings)
    try:
        say(f"bringing up {settings.students} students (project {settings.project})")
        lab.up(overall)
        say(f"putting a {settings.size_mib} MiB file on the server")
        lab.add_file(overall)
        for number in range(1, settings.rounds + 1):
            say(f"round {number}: plain TCP, discarded")
            figures.bridge.append(plain_tcp(lab, "-", overall))
            say(f"round {number}: {settings.students} students get the file, with chat")
            figures.gets.append(class_get(lab, overall))
            say(f"round {number}: plain TCP into /downloads")
            figures.bridge_disk.append(plain_tcp(lab, "/downloads", overall))
    finally:
        say("taking the lab down")
        lab.down()
    figures.elapsed = time.monotonic() - began
    return figures


# --- command line -------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = ClassSettings()
    parser.add_argument("--students", type=int, default=defaults.students)
    parser.add_argument("--size-mib", type=int, default=defaults.size_mib, help="the file's size")
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--chat-interval", type=float, default=defaults.chat_interval, help="seconds")
    parser.add_argument(
        "--tag",
        default=defaults.tag,
        help="tag of the images built and run (default: the run's own, removed with the lab)",
    )
    parser.add_argument("--timeout", type=float, default=defaults.timeout, help="seconds for the whole run")
    parser.add_argument(
        "--student-cpu-shares",
        type=int,
        default=defaults.student_cpu_shares,
        help="the students' CPU weight (Docker's default 1024): lower gives the server the CPU first",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    if args.students < 1 or args.size_mib < 1 or args.rounds < 1 or args.chat_interval <= 0:
        parser.error("--students, --size-mib and --rounds need 1 or more, --chat-interval more than 0")
    if args.student_cpu_shares and args.student_cpu_shares < 2:
        parser.error("--student-cpu-shares needs 2 or more (0: Docker's default)")
    return args


def _stop_on_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C: through the `finally` that takes the lab down."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    _stop_on_sigterm()
    settings = ClassSettings(
        args.students,
        args.size_mib,
        args.rounds,
        args.chat_interval,
        args.tag,
        timeout=args.timeout,
        student_cpu_shares=args.student_cpu_shares,
    )
    try:
        figures = measure_class(
            settings, lambda text: print(f"classload: {text}", file=sys.stderr, flush=True)
        )
    except ClassBenchError as error:
        print(f"classload: error: {error}", file=sys.stderr)
        return 1
    print("\n".join(figures.table()))
    if args.json:
        args.json.write_text(json.dumps(figures.as_dict(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
