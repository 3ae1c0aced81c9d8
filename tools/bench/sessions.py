"""Sessions per second and p99 session time at N sessions at once, on the identical FTP session
(connect, USER/PASS anonymous, TYPE I, PASV, RETR 64 KiB, QUIT) for ftplab's FTP door, pyftpdlib
and vsftpd; ftplab's own lab session (connect, join, list, get 64 KiB, quit) next to them.

The load comes from several generator processes (tools/loadgen/, one selectors loop each), each
connecting from its own 127.0.0.x, a new one for each run: TIME-WAIT sockets left by earlier runs
(every FTP session leaves up to two) then never share a 4-tuple with new ones. Before a run the
bench waits (a while) for TIME-WAIT sockets on its addresses to drain, and reports how many were
left, on them and machine-wide. Each generator reports its own CPU per
window (getrusage); a generator busy for most of a core may be the limit, and then no ratio is
printed. The windows are the same moments in every generator (see loadgen.keep_running).

The three FTP servers get the same passive port range, below the ephemeral range. Measured on
2026-12-02 with port 0 instead (the kernel picks): the FTP door at N = 100 fell from 326 to 54
sessions/s in 25 s while the TIME-WAIT sockets it left grew to 15,000, its CPU per session rising
sixfold (each bind(0) searches the ephemeral ports, crowded by TIME-WAIT buckets); with the range
it held 340-660/s with 28,000 TIME-WAIT sockets. pyftpdlib, slower, left fewer and fell less.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass, field

import loadgen

from . import servers
from .core import (
    SMALL_BYTES,
    SMALL_FILE,
    Section,
    Settings,
    Target,
    children_cpu,
    conntrack_cell,
    conntrack_use,
    machine_busy,
    paired_ratios,
    percentile,
    ratio_cell,
    ratio_target,
    spread,
    time_wait_sockets,
)

GENERATOR_BUSY = 0.8
"""A generator process using more than this share of a core may be what limits a run."""
TIME_WAIT_CALM = 1000
"""TIME-WAIT sockets on a run's addresses the bench waits to drain to (for at most --time-wait s)."""
CONNTRACK_CALM_SHARE = 0.5
"""...and the share of the connection-tracking table it waits to fall to: a run of a few thousand
sessions a second adds two entries a session, each kept 120 s."""
UNSTEADY = 2.0
"""A server whose best window did more than this many times its worst was unsteady (a collapse,
a slow start)."""
SERVERS = {
    "door": "ftplab FTP door",
    "pyftpdlib": "pyftpdlib",
    "vsftpd": "vsftpd",
    "lab": "ftplab lab door (its own session)",
}


@dataclass
class Outcome:
    """One server at one N: per window, sessions/s, p99 ms and the busiest generator's share of a core."""

    rates: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    generator_busiest: list[float] = field(default_factory=list)
    generator_share: float = 0.0
    """Cores all the generators used over the run, warm-up included (getrusage(RUSAGE_CHILDREN))."""
    server_share: float = 0.0
    server_ms_per_session: float | None = None
    """The server's core-milliseconds per completed session over the windows: what holds still
    when the machine is busy and the server gets only part of a core."""
    machine_share: float = 0.0
    """Cores the whole machine kept busy during the run: near all of them, everything waited."""
    failures: int = 0
    first_failure: str = ""
    warmed_up: bool = True
    windows: list[str] = field(default_factory=list)
    """Each window in a few words (sessions/s, server and machine CPU, TIME-WAIT at its end): what
    changed in an unsteady run."""
    time_wait: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))
    """(all, on the run's addresses) in TIME-WAIT before the run and after it."""
    problem: str = ""

    @property
    def saturated(self) -> bool:
        return any(share >= GENERATOR_BUSY for share in self.generator_busiest)

    @property
    def unsteady(self) -> bool:
        return bool(self.rates) and max(self.rates) > UNSTEADY * max(min(self.rates), 1e-9)

    def notes(self) -> str:
        found = []
        if self.problem:
            return self.problem
        if self.saturated:
            found.append("**load generator saturated**")
        if self.unsteady:
            found.append(
                f"**unsteady** (best window over {UNSTEADY:g}× the worst): " + "; ".join(self.windows)
            )
        if not self.warmed_up:
            found.append("warm-up: fewer than N sessions ended")
        if self.failures:
            found.append(f"{self.failures} failed, e.g. {self.first_failure}")
        return "; ".join(found)


def generator(spec: dict, source: str, concurrency: int, windows_from: float, pipe) -> None:
    """One load generator process: keep `concurrency` sessions going, report each window."""
    loop = loadgen.Loop()
    edges = []

    def start(serial: int) -> loadgen.Conversation:
        if spec["kind"] == "lab":
            return loadgen.LabSession(loop, spec["address"], f"g{source[-3:]}-{serial}", SMALL_FILE, source)
        return loadgen.FtpSession(
            loop,
            spec["address"],
            "anonymous",
            "bench@",
            SMALL_FILE,
            SMALL_BYTES,
            listing=False,
            source=source,
        )

    try:
        run = loadgen.keep_running(
            loop,
            start,
            concurrency,
            window_seconds=spec["window_seconds"],
            windows=spec["windows"],
            warmup=concurrency,
            warmup_timeout=max(0.0, windows_from - time.monotonic()),
            at_window_edge=lambda: edges.append(time.process_time()),
            windows_from=windows_from,
        )
    finally:
        loop.close()
    pipe.send(
        {
            "windows": run.windows,
            "durations": run.durations,
            "cpu": [end - start for start, end in zip(edges, edges[1:], strict=False)],
            "failures": run.failures[:1] + [len(run.failures)],
            "warmed_up": run.warmed_up,
        }
    )
    pipe.close()


class Sources:
    """127.0.0.x source addresses handed out in turn, so consecutive runs use different ones."""

    def __init__(self):
        self.next = 0

    def take(self, count: int) -> list[str]:
        taken = [f"127.0.0.{2 + (self.next + index) % 250}" for index in range(count)]
        self.next += count
        return taken


@dataclass
class Edge:
    """The machine at a window's edge, seen from the bench's own process."""

    at: float
    server_cpu: float
    machine_cpu: float
    time_wait: int
    conntrack: tuple[int, int] | None = None


def drive(
    settings: Settings, spec: dict, count: int, sources: list[str], server: servers.Server
) -> tuple[list[dict], float, list[Edge]]:
    """Run one generator per source address against one server; their reports, the core-seconds
    they used in all (warm-up included) by getrusage(RUSAGE_CHILDREN), and the machine at each
    window's edge."""
    context = multiprocessing.get_context("fork")
    processes = len(sources)
    shares = [count // processes + (index < count % processes) for index in range(processes)]
    windows_from = time.monotonic() + settings.warmup_seconds
    workers = []
    before = children_cpu()
    for source, share in zip(sources, shares, strict=True):
        mine, theirs = context.Pipe(duplex=False)
        process = context.Process(target=generator, args=(spec, source, share, windows_from, theirs))
        process.start()
        theirs.close()
        workers.append((process, mine))
    edges = []
    for index in range(spec["windows"] + 1):
        time.sleep(max(0.0, windows_from + index * spec["window_seconds"] - time.monotonic()))
        edges.append(
            Edge(
                time.monotonic(), server.cpu(), machine_busy(), time_wait_sockets(sources)[1], conntrack_use()
            )
        )
    reports = []
    deadline = windows_from + spec["windows"] * spec["window_seconds"] + 60
    for process, pipe in workers:
        if pipe.poll(max(0.0, deadline - time.monotonic())):
            reports.append(pipe.recv())
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()
    return reports, children_cpu() - before, edges


def wait_for_calm(settings: Settings, sources: list[str]) -> tuple[int, int]:
    """Wait (at most settings.time_wait_seconds) for TIME-WAIT sockets on `sources` to drain, and
    connection tracking to have room (earlier runs fill it); how many sockets are left (all, on
    them)."""
    deadline = time.monotonic() + settings.time_wait_seconds
    while (
        (left := time_wait_sockets(sources))[1] > TIME_WAIT_CALM or not conntrack_has_room()
    ) and time.monotonic() < deadline:
        time.sleep(1)  # the kernel's TIME-WAIT clocks, nothing to poll for
    return left


def conntrack_has_room() -> bool:
    use = conntrack_use()
    return use is None or use[0] <= CONNTRACK_CALM_SHARE * use[1]


def start_server(settings: Settings, kind: str, count: int) -> servers.Server:
    """The server of `kind`; the three FTP servers with the same passive range (servers.PASSIVE_PORTS)."""
    if kind == "pyftpdlib":
        return servers.pyftpdlib(settings, count + 16, servers.PASSIVE_PORTS)
    if kind == "vsftpd":
        return servers.vsftpd(settings)
    passive = ("--passive-ports", "{}-{}".format(*servers.PASSIVE_PORTS))
    return servers.lab(settings, 2 * count + 16, ftp=kind == "door", extra=passive if kind == "door" else ())


def session_address(server: servers.Server, kind: str) -> tuple[str, int]:
    return (server.address[0], server.ftp_port) if kind == "door" else server.address


def measure_one(settings: Settings, kind: str, count: int, sources: Sources) -> Outcome:
    outcome = Outcome()
    if kind == "vsftpd" and (missing := servers.vsftpd_missing()):
        outcome.problem = f"not measured: {missing}"
        return outcome
    addresses = sources.take(min(settings.generators, count))
    left = wait_for_calm(settings, addresses)
    spec = {
        "kind": "lab" if kind == "lab" else "ftp",
        "window_seconds": settings.window_seconds,
        "windows": settings.runs,
    }
    with start_server(settings, kind, count) as server:
        spec["address"] = session_address(server, kind)
        server_before, machine_before, began = server.cpu(), machine_busy(), time.monotonic()
        reports, generator_cpu, edges = drive(settings, spec, count, addresses, server)
        seconds = time.monotonic() - began
        server_share = (server.cpu() - server_before) / seconds
        outcome.machine_share = (machine_busy() - machine_before) / seconds
    outcome.time_wait = (left, time_wait_sockets(addresses))
    if len(reports) < min(settings.generators, count):
        outcome.problem = "a load generator did not report (stalled?)"
        return outcome
    fill(outcome, reports, spec)
    completed = sum(report["windows"][window][0] for report in reports for window in range(spec["windows"]))
    if completed:
        outcome.server_ms_per_session = 1000 * (edges[-1].server_cpu - edges[0].server_cpu) / completed
    outcome.windows = [
        f"{rate:.0f}/s, server {100 * (end.server_cpu - start.server_cpu) / (end.at - start.at):.0f}%,"
        f" machine {(end.machine_cpu - start.machine_cpu) / (end.at - start.at):.1f} cores,"
        f" TIME-WAIT {end.time_wait:,}" + (f", {cell}" if (cell := conntrack_cell(end.conntrack)) else "")
        for rate, start, end in zip(outcome.rates, edges, edges[1:], strict=False)
    ]
    outcome.generator_share = generator_cpu / seconds
    outcome.server_share = server_share
    return outcome


def fill(outcome: Outcome, reports: list[dict], spec: dict) -> None:
    for window in range(spec["windows"]):
        completed = sum(report["windows"][window][0] for report in reports)
        seconds = statistics.mean(report["windows"][window][1] for report in reports)
        durations = [d for report in reports for d in report["durations"][window]]
        outcome.rates.append(completed / seconds)
        if durations:
            outcome.p99_ms.append(1000 * percentile(durations, 99))
        outcome.generator_busiest.append(max(report["cpu"][window] / seconds for report in reports))
    outcome.failures = sum(report["failures"][-1] for report in reports)
    outcome.first_failure = next((r["failures"][0] for r in reports if len(r["failures"]) > 1), "")
    outcome.warmed_up = all(report["warmed_up"] for report in reports)


def measure(settings: Settings) -> list[Section]:
    sources = Sources()
    outcomes: dict[tuple[str, int], Outcome] = {}
    for count in settings.clients:
        for kind, name in measured(settings).items():
            settings.progress(f"{name}, N = {count:,}: warm-up, then {settings.runs} windows")
            outcomes[kind, count] = measure_one(settings, kind, count, sources)
    return [section(settings, outcomes)]


def measured(settings: Settings) -> dict[str, str]:
    """The servers this run measures (--servers), the FTP door always among them."""
    unknown = set(settings.servers) - set(SERVERS)
    if unknown:
        raise ValueError(f"--servers: no such server {', '.join(sorted(unknown))} (of {', '.join(SERVERS)})")
    wanted = {"door", *settings.servers} if settings.servers else set(SERVERS)
    return {kind: name for kind, name in SERVERS.items() if kind in wanted}


def comparable(*outcomes: Outcome) -> str:
    """Why a ratio of these runs cannot be quoted, or ""."""
    for outcome in outcomes:
        if outcome.problem or not outcome.rates:
            return "no ratio: not measured"
        if outcome.saturated:
            return "no ratio: load generator saturated"
        if outcome.unsteady:
            return "no ratio: an unsteady run"
    return ""


def section(settings: Settings, outcomes: dict[tuple[str, int], Outcome]) -> Section:
    rows, targets = [], []
    for count in settings.clients:
        door = outcomes["door", count]
        for kind, name in measured(settings).items():
            outcome = outcomes[kind, count]
            refused = comparable(door, outcome)
            versus = refused or ratio_cell(paired_ratios(door.rates, outcome.rates))
            rows.append(
                (
                    f"{count:,}",
                    name,
                    spread(outcome.rates, 0),
                    spread(outcome.p99_ms, 0),
                    versus if kind in ("pyftpdlib", "vsftpd") else "",
                    generator_cell(outcome),
                    f"{100 * outcome.server_share:.0f}" if outcome.rates else "–",
                    f"{outcome.server_ms_per_session:.2f}" if outcome.server_ms_per_session else "–",
                    f"{outcome.machine_share:.1f} of {os.cpu_count()}" if outcome.rates else "–",
                    time_wait_cell(outcome.time_wait),
                    outcome.notes(),
                )
            )
        for rival in [kind for kind in ("pyftpdlib", "vsftpd") if kind in measured(settings)]:
            text = f"N = {count:,}: FTP door sessions/s ahead of {rival}"
            refused = comparable(door, outcomes[rival, count])
            targets.append(
                Target(text, refused, None)
                if refused
                else ratio_target(text, paired_ratios(door.rates, outcomes[rival, count].rates), 1.0)
            )
    return Section(
        title="Sessions per second, N sessions at once",
        intro=[
            "The FTP session, the same for the three FTP servers: connect, USER anonymous, PASS, TYPE I,",
            "PASV, RETR of a 64 KiB file (its data connection read to the end, and the 226), QUIT.",
            "The lab session: connect, join, `list`, `get` the 64 KiB file, `quit` (one connection).",
            f"{settings.generators} load generator processes (tools/loadgen/) keep N sessions going, each",
            "from its own 127.0.0.x; after a warm-up (until N sessions have ended, at most",
            f"{settings.warmup_seconds:g} s) come {settings.runs} windows of {settings.window_seconds:g} s,"
            " the same in every generator.",
            "A session's time: from its connect to its end. Servers run one after another at each N,",
            "fresh each time; the three FTP servers with the same passive port range, {}-{}, below".format(
                *servers.PASSIVE_PORTS
            ),
            "Linux's ephemeral ports (with port 0, the kernel's search for a free port among TIME-WAIT",
            "sockets slowed the FTP door sixfold within a minute: tools/bench/sessions.py says more).",
            "",
            "Ratios: the FTP door's sessions/s over pyftpdlib's or vsftpd's, window by window. None is",
            f"given when a generator used {100 * GENERATOR_BUSY:.0f}% of a core or more in a window (it may",
            f"have been the limit) or when a server's best window did more than {UNSTEADY:g}× its worst (a",
            "collapse or a slow start: its notes then give each window). Generators: the busiest one's",
            "share of a core in a window, and (in brackets) all of them together over the whole run,",
            "from getrusage(RUSAGE_CHILDREN).",
            "TIME-WAIT: sockets in that state before and after the run on the run's own (fresh) source",
            f"addresses (the bench waits up to {settings.time_wait_seconds:g} s for them to fall under"
            f" {TIME_WAIT_CALM:,}) and, in brackets, machine-wide. It also waits, as long, for the",
            f"kernel's connection tracking to be at most {100 * CONNTRACK_CALM_SHARE:.0f}% full: each",
            "connection keeps an entry there 120 s after it closes, and a full table drops new SYNs",
            "(the clients then wait for their retransmissions: 1 s, 3 s, 7 s...). An unsteady run's notes",
            "say how full it was at each window's end.",
            "Machine busy: the cores all processes kept busy during the run (/proc/stat); near all of",
            "them, servers and generators waited for a core, and sessions/s measure the machine's load",
            "as much as the server: the server's core-milliseconds per session (over the windows; for",
            "vsftpd, its session processes that ended) hold still then.",
        ],
        header=[
            "N",
            "server",
            "sessions/s",
            "p99 session (ms)",
            "FTP door / this",
            "generators: busiest in a window (all, whole run), % of a core",
            "server (% of a core)",
            "server core-ms per session",
            "machine busy (cores)",
            "TIME-WAIT before → after",
            "notes",
        ],
        rows=rows,
        targets=targets,
        plot=lambda axes: plot(axes, settings, outcomes),
    )


def generator_cell(outcome: Outcome) -> str:
    if not outcome.rates:
        return "–"
    busiest = spread([100 * share for share in outcome.generator_busiest], 0)
    return f"{busiest} ({100 * outcome.generator_share:.0f})"


def time_wait_cell(counts: tuple[tuple[int, int], tuple[int, int]]) -> str:
    (all_before, ours_before), (all_after, ours_after) = counts
    return f"{ours_before:,} ({all_before:,}) → {ours_after:,} ({all_after:,})"


def plot(axes, settings: Settings, outcomes: dict[tuple[str, int], Outcome]) -> None:
    for (kind, name), style in zip(SERVERS.items(), ("o-", "s--", "^:", "d-."), strict=True):
        points = [
            (count, statistics.median(outcomes[kind, count].rates))
            for count in settings.clients
            if (kind, count) in outcomes and outcomes[kind, count].rates
        ]
        if points:
            axes.plot(*zip(*points, strict=True), style, label=name)
    axes.set(xscale="log", xlabel="sessions at once (N)", ylabel="sessions per second", title="Sessions")
    if axes.lines:
        axes.legend(fontsize="small")
