"""What every part of the bench shares: the run's settings, figures and their spread, the report's
sections and targets, and the clocks that say how much CPU a process used."""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
BIG_FILE = "big.bin"
SMALL_FILE = "small.bin"
SMALL_BYTES = 64 * 1024
GIB = 1024**3


class Progress:
    """One line saying what runs now: rewritten in place on a terminal, one line per step otherwise."""

    def __init__(self):
        self.started = time.monotonic()
        self.terminal = sys.stderr.isatty()
        self.part = ""

    def __call__(self, text: str) -> None:
        line = f"bench [{time.monotonic() - self.started:5.0f} s] {self.part}: {text}"
        sys.stderr.write(f"\r\x1b[K{line[:150]}" if self.terminal else line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.terminal:
            sys.stderr.write("\n")


@dataclass
class Settings:
    """What a run was asked for; every part reads what it needs and ignores the rest."""

    quick: bool
    full: bool
    runs: int
    big_mib: int
    clients: list[int]
    crowds: list[int]
    generators: int
    window_seconds: float
    """Each window of the sessions part, and of an idle crowd's CPU in the fan-out."""
    warmup_seconds: float
    time_wait_seconds: float
    join_timeout: float
    messages: int
    app: Path
    work: Path
    servers: tuple[str, ...] = ()
    """The sessions part's servers (sessions.SERVERS' keys); none given: all of them."""
    server_help: str = ""
    progress: Progress = field(default_factory=Progress)

    @property
    def files(self) -> Path:
        """The served directory: BIG_FILE (big_mib MiB) and SMALL_FILE (64 KiB)."""
        return self.work / "files"

    @property
    def big_bytes(self) -> int:
        return self.big_mib * 1024 * 1024

    def python_env(self) -> dict[str, str]:
        """An environment whose Python imports ftplab from `app` and bench, loadgen from tools/."""
        return dict(os.environ, PYTHONPATH=f"{self.app}{os.pathsep}{TOOLS}")

    def run_module(self, module: str, arguments: list[str], timeout: float) -> dict:
        """`python -m bench.MODULE ARGUMENTS` in its own process: the JSON line it ends with.
        Raises RuntimeError, with the end of its stderr, if it prints none."""
        result = subprocess.run(
            [sys.executable, "-m", f"bench.{module}", *arguments],
            env=self.python_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        try:
            return json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            said = result.stderr.strip()[-300:]
            raise RuntimeError(f"bench.{module} {' '.join(arguments)}: {said}") from None


# --- figures ---------------------------------------------------------------------------------------------


def spread(values: list[float], digits: int = 2) -> str:
    """min / **median** / max, or a dash when nothing was measured."""
    if not values:
        return "–"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / **{mid:.{digits}f}** / {high:.{digits}f}"


def paired_ratios(figure: list[float], anchor: list[float]) -> list[float]:
    """figure[i] / anchor[i] for the runs both have: runs are interleaved, so run i of each saw the
    same moment of the machine, and the spread of these ratios is the spread of the comparison."""
    return [mine / theirs for mine, theirs in zip(figure, anchor, strict=False) if theirs]


def ratio_cell(ratios: list[float]) -> str:
    return spread(ratios) + "×" if ratios else "–"


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


# --- the report's pieces ------------------------------------------------------------------------------


@dataclass
class Target:
    """One of the issue's targets next to the figure it is about; `met` is None when not measured."""

    text: str
    figure: str
    met: bool | None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**not met**", None: "not measured"}[self.met]


@dataclass
class Section:
    """What a part hands to the report: a table with its heading and explanation, notes under it,
    the targets it measured, and optionally a chart panel (`plot(axes)` draws on matplotlib axes)."""

    title: str
    intro: list[str]
    header: list[str]
    rows: list[tuple] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    plot: Callable | None = None


def ratio_target(text: str, ratios: list[float], bound: float, at_most: bool = False) -> Target:
    """A target on the median of run-by-run ratios: at least `bound` (or at most, `at_most`)."""
    if not ratios:
        return Target(text, "–", None)
    middle = statistics.median(ratios)
    return Target(text, ratio_cell(ratios), middle <= bound if at_most else middle >= bound)


# --- CPU clocks -------------------------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """Core-seconds a process and its reaped children (vsftpd forks one per session) have used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """Core-seconds used by this process's children that have ended (and were waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_wait_sockets(addresses: list[str] = ()) -> tuple[int, int]:
    """TCP sockets in TIME-WAIT in this network namespace (state 06 in /proc/net/tcp): in all, and
    those with one of these IPv4 `addresses` at either end."""
    wanted = {socket.inet_aton(address)[::-1].hex().upper() for address in addresses}
    total = ours = 0
    with open("/proc/net/tcp") as rows:
        next(rows, None)
        for row in rows:
            fields = row.split(None, 4)
            if fields[3] == "06":
                total += 1
                ours += fields[1][:8] in wanted or fields[2][:8] in wanted
    return total, ours


def conntrack_use() -> tuple[int, int] | None:
    """(entries, the table's size) of the kernel's connection tracking, or None where it is not
    loaded. Each connection keeps its entry for 120 s after it closes (TIME_WAIT); once the table is
    full the kernel drops new connections' SYNs ("nf_conntrack: table full, dropping packet")."""
    try:
        return tuple(
            int(Path(f"/proc/sys/net/netfilter/nf_conntrack_{name}").read_text()) for name in ("count", "max")
        )
    except (OSError, ValueError):
        return None


CONNTRACK_FULL_SHARE = 0.95
"""A table this full drops SYNs now or within moments."""


def conntrack_cell(use: tuple[int, int] | None) -> str:
    """How full connection tracking is, as a report says it ("" where there is none)."""
    if use is None:
        return ""
    entries, size = use
    full = entries >= CONNTRACK_FULL_SHARE * size
    return f"conntrack {entries:,} of {size:,}" + (" (full: new connections' SYNs dropped)" if full else "")


def machine_busy() -> float:
    """Core-seconds the whole machine has spent busy since boot (every process, ours or not)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
