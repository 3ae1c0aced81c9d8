"""Many clients joining at once, a chat line's fan-out to all of them, and the server's memory per
idle client; then the same with each of the server's `--selector` choices (part `selectors`).

N listeners (tools/loadgen/, one selectors loop in this process) connect at once and send their
names; the time is until the last has `!HELLO`. Then console lines, each written once every
client had the last: the latency from writing it to each client reading it. Next to it, the floor:
a bare loop of N sends on this machine (bench/sendfloor.py)."""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

import loadgen

from . import servers
from .core import Section, Settings, Target, own_cpu, percentile, spread

MARKER = "bench-mark"
GENERATOR_BUSY = 0.8
TARGETS = (
    (1000, "p99", "fan-out p99 ≤ 50 ms", 50.0),
    (10000, "p99", "fan-out p99 ≤ 100 ms", 100.0),
    (10000, "join", "all 10,000 have `!HELLO` within 15 s", 15.0),
    (10000, "rss", "RSS per idle client ≤ 8 KiB", 8.0),
)
"""(N, figure, text, at most): issue 9's targets, with issue 20's for the fan-out at 10,000."""


@dataclass
class Crowd:
    """N listeners joined at once: how long until all had !HELLO, and the server's memory with them."""

    listeners: list
    loop: loadgen.Loop
    tally: loadgen.Tally
    join_seconds: float | None
    joined: int


def join_crowd(server: servers.Server, count: int, timeout: float) -> Crowd:
    loop = loadgen.Loop()
    tally = loadgen.Tally()
    listeners = []
    began = time.monotonic()
    for serial in range(count):
        try:
            listeners.append(loadgen.LabListener(loop, server.address, f"j{serial}", MARKER, tally))
        except OSError:
            break
        if serial % 256 == 0:  # keep reading while connecting, as a crowd of real clients would
            loop.turn()
    all_answered = loop.run(lambda: tally.hellos + tally.ended >= len(listeners), began + timeout)
    joined = [listener for listener in listeners if listener.hello_at is not None and not listener.done]
    complete = all_answered and len(joined) == count
    seconds = max(listener.hello_at for listener in joined) - began if complete else None
    return Crowd(joined, loop, tally, seconds, len(joined))


@dataclass
class LineFigures:
    """One console line's way to the crowd: p50 and p99 in ms of its arrival at the listeners'
    sockets, p99 of its reading by the load generator, and the generator's share of a core
    from writing the line until the last listener had read it."""

    p50: float
    p99: float
    read_p99: float
    generator_busy: float
    server_ran: float
    """Milliseconds the server ran on a core meanwhile (its send loop, mostly in the kernel)."""
    server_waited: float
    """Milliseconds the server was ready to run but waited for a core: the p99 less what it ran."""


def fan_out(server: servers.Server, crowd: Crowd, messages: int, timeout: float) -> list[LineFigures]:
    """The figures of each of `messages` console lines, after a warm-up line."""
    results = []
    tally = crowd.tally
    ended_before = tally.ended  # a listener that ends later will never have the line
    for index in range(messages + 1):
        text = f"{MARKER}-{index}"
        cpu_before, scheduled_before, sent = own_cpu(), server.scheduled(), time.monotonic()
        server.console(text)
        reached_all = crowd.loop.run(
            lambda text=text: tally.marks[text] + tally.ended - ended_before >= len(crowd.listeners),
            sent + timeout,
        )
        busy = (own_cpu() - cpu_before) / max(time.monotonic() - sent, 1e-6)
        ran_after, waited_after = server.scheduled()
        ran, waited = 1000 * (ran_after - scheduled_before[0]), 1000 * (waited_after - scheduled_before[1])
        if not reached_all:
            break
        arrived = [1000 * (one.marks[text] - sent) for one in crowd.listeners if text in one.marks]
        read = [1000 * (one.marks_read[text] - sent) for one in crowd.listeners if text in one.marks_read]
        if index and arrived:
            results.append(
                LineFigures(
                    percentile(arrived, 50), percentile(arrived, 99), percentile(read, 99), busy, ran, waited
                )
            )
    return results


@dataclass
class CrowdFigures:
    join: list[float]
    p50: list[float]
    p99: list[float]
    rss: list[float]
    note: str = ""
    read_p99: list[float] = dataclasses.field(default_factory=list)
    generator_busy: list[float] = dataclasses.field(default_factory=list)
    server_ran: list[float] = dataclasses.field(default_factory=list)
    server_waited: list[float] = dataclasses.field(default_factory=list)
    idle_cpu: list[float] = dataclasses.field(default_factory=list)
    """Core-milliseconds per second the server used with the crowd joined and silent."""


def cpu_check(generator: float, server: float, seconds: float) -> str:
    verdict = "not the bottleneck" if generator / seconds < GENERATOR_BUSY else "**may be the bottleneck**"
    return (
        f"load generator {100 * generator / seconds:.0f}% of a core ({verdict}),"
        f" server {100 * server / seconds:.0f}%"
    )


def measure_crowd(settings: Settings, count: int, extra: tuple[str, ...], checks: list[str]) -> CrowdFigures:
    figures = CrowdFigures([], [], [], [])
    for attempt in range(settings.runs):
        settings.progress(f"join {count:,} at once {' '.join(extra)}, run {attempt + 1}/{settings.runs}")
        with servers.lab(settings, count + 16, extra=extra) as server:
            baseline = servers.rss_kib(server.pid)
            before = (time.monotonic(), own_cpu(), server.cpu())
            crowd = join_crowd(server, count, settings.join_timeout)
            after = (time.monotonic(), own_cpu(), server.cpu())
            check = cpu_check(after[1] - before[1], after[2] - before[2], after[0] - before[0])
            checks.append(f"joining {count:,} {' '.join(extra)}: {check}")
            try:
                if crowd.join_seconds is None:
                    figures.note = (
                        f"only {crowd.joined:,} of {count:,} joined within {settings.join_timeout:g} s"
                    )
                    continue
                figures.join.append(crowd.join_seconds)
                figures.idle_cpu.append(idle_cpu(server, crowd, settings.window_seconds))
                settings.progress(
                    f"fan-out to {count:,} {' '.join(extra)}, run {attempt + 1}/{settings.runs}"
                )
                for line in fan_out(server, crowd, settings.messages, settings.join_timeout):
                    figures.p50.append(line.p50)
                    figures.p99.append(line.p99)
                    figures.read_p99.append(line.read_p99)
                    figures.generator_busy.append(line.generator_busy)
                    figures.server_ran.append(line.server_ran)
                    figures.server_waited.append(line.server_waited)
                figures.rss.append((servers.rss_kib(server.pid) - baseline) / crowd.joined)
            finally:
                crowd.loop.close()
    if figures.read_p99:
        busy = [100 * share for share in figures.generator_busy]
        checks.append(
            f"fan-out to {count:,} {' '.join(extra)}: p99 as the load generator read the lines"
            f" {spread(figures.read_p99, 1)} ms; the generator used {spread(busy, 0)}% of a core"
            " while they went out"
        )
        checks.append(
            f"fan-out to {count:,} {' '.join(extra)}: the server ran {spread(figures.server_ran, 1)} ms a"
            f" line and waited for a core {spread(figures.server_waited, 1)} ms (schedstat)"
        )
    return figures


def idle_cpu(server: servers.Server, crowd: Crowd, seconds: float) -> float:
    """The server's core-milliseconds per second over `seconds` with the crowd silent, once the
    news of its joining is out (the generator keeps reading meanwhile): its timers' cost per client."""
    crowd.loop.run(lambda: False, time.monotonic() + seconds)
    began, (ran_before, _) = time.monotonic(), server.scheduled()
    crowd.loop.run(lambda: False, began + seconds)
    return 1000 * (server.scheduled()[0] - ran_before) / (time.monotonic() - began)


ARRIVAL = (
    "arrival at each client's socket (the kernel's receive time)"
    if loadgen.ARRIVAL_STAMPS
    else "reading by each client"
)
NOTE_ON_ARRIVAL = (
    [
        "Arrival, not reading: the load generator is one process reading every client's socket on",
        "the server's two cores, and reads the last ones later than clients of their own would; the",
        "notes give the p99 as it read them, and its share of a core meanwhile.",
    ]
    if loadgen.ARRIVAL_STAMPS
    else [
        "This kernel does not say when data arrived: the times are the load generator's reading,",
        "and a p99 is refused when the generator used 80% of a core or more while the lines went out.",
    ]
)

HEADER = [
    "N",
    "all have `!HELLO` (s)",
    "fan-out p50 (ms)",
    "fan-out p99 (ms)",
    "RSS per idle client (KiB)",
    "server CPU, N idle (core-ms/s)",
]


def rows(settings: Settings, figures: dict[int, CrowdFigures]) -> list[tuple]:
    return [
        (
            f"{count:,}",
            spread(one.join) if one.join else one.note or "–",
            spread(one.p50, 1),
            spread(one.p99, 1),
            spread(one.rss, 1),
            spread(one.idle_cpu, 1),
        )
        for count, one in figures.items()
    ]


def send_floor(settings: Settings, count: int) -> list[float]:
    """Milliseconds of a bare loop of `count` sends, run by run (bench/sendfloor.py)."""
    settings.progress(f"a bare loop of {count:,} sends, {settings.runs} runs")
    return settings.run_module("sendfloor", [str(count), str(settings.runs)], timeout=300)["ms"]


def measure(settings: Settings) -> list[Section]:
    checks: list[str] = []
    figures = {count: measure_crowd(settings, count, (), checks) for count in settings.crowds}
    floors = {count: send_floor(settings, count) for count in settings.crowds}
    checks += [
        f"fan-out to {count:,}: the floor, a bare loop sending the line to {count:,} loopback"
        f" connections in a process with nothing else to do (bench/sendfloor.py): {spread(floor, 1)} ms"
        for count, floor in floors.items()
    ]
    targets = [target(figures, *one, floors.get(one[0], [])) for one in TARGETS]
    return [
        Section(
            title="Many clients joining, chat fan-out, memory",
            intro=[
                "N clients connect at once and send their names; the time is until the last has `!HELLO`.",
                f"Then {settings.messages} console lines (after a warm-up), each sent once every client had",
                f"the last: latency from writing the line to the server's console to its {ARRIVAL}",
                "(p50 and p99 over the clients; min / **median** / max over the lines). Memory: the server's",
                "RSS with N idle clients, less its RSS before they came, over N; its CPU with them silent,",
                f"over {settings.window_seconds:g} s once the news of their joining is out.",
            ],
            header=HEADER,
            rows=rows(settings, figures),
            notes=[*NOTE_ON_ARRIVAL, "", "CPU used:", "", *(f"- {line}" for line in checks)],
            targets=targets,
            plot=lambda axes: plot(axes, figures),
        )
    ]


def target(
    figures: dict[int, CrowdFigures], count: int, name: str, text: str, limit: float, floor: list[float]
) -> Target:
    """The target next to its figure; a latency's also next to `floor`, a bare loop of `count`
    sends on this machine (the least one thread can take)."""
    values = getattr(figures[count], name) if count in figures else []
    if not values:
        return Target(f"N = {count:,}: {text}", "needs --full" if count not in figures else "–", None)
    if name in ("p50", "p99") and generator_was_the_limit(figures[count]):
        return Target(f"N = {count:,}: {text}", "refused: the load generator may have been the limit", None)
    figure = spread(values, 1)
    if name in ("p50", "p99") and floor:
        figure += f" (a bare loop of {count:,} sends: {statistics.median(floor):.1f})"
    return Target(f"N = {count:,}: {text}", figure, statistics.median(values) <= limit)


def generator_was_the_limit(figures: CrowdFigures) -> bool:
    """Times the generator read (no arrival stamps) while it used most of a core: they measure it."""
    busy = figures.generator_busy
    return not loadgen.ARRIVAL_STAMPS and bool(busy) and statistics.median(busy) >= GENERATOR_BUSY


def plot(axes, figures: dict[int, CrowdFigures]) -> None:
    for name, label, style, scale in (
        ("p50", "chat fan-out p50 (ms)", "o-", 1),
        ("p99", "chat fan-out p99 (ms)", "o--", 1),
        ("join", "all N joined (ms)", "s-", 1000),
    ):
        points = [
            (count, scale * statistics.median(getattr(one, name)))
            for count, one in figures.items()
            if getattr(one, name)
        ]
        if points:
            axes.plot(*zip(*points, strict=True), style, label=label)
    axes.set(xscale="log", yscale="log", xlabel="clients (N)", ylabel="milliseconds", title="Fan-out")
    if axes.lines:
        axes.legend(fontsize="small")


def measure_selectors(settings: Settings) -> list[Section]:
    """The crowd with each `--selector`, one run each: select() past FD_SETSIZE only times out."""
    if "--selector" not in settings.server_help:
        return [Section("`--selector select|poll|epoll`", ["Skipped: the server has no `--selector`."], [])]
    once = dataclasses.replace(settings, runs=1)
    sections = []
    for selector in ("select", "poll", "epoll"):
        checks: list[str] = []
        figures = {
            count: measure_crowd(once, count, ("--selector", selector), checks) for count in settings.crowds
        }
        sections.append(
            Section(
                title=f"`--selector {selector}`: joining, fan-out, memory (one run)",
                intro=[],
                header=HEADER,
                rows=rows(settings, figures),
                notes=[f"- {line}" for line in checks],
            )
        )
    return sections
