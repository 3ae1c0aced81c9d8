"""Chat behind a file: how long a chat line takes to reach a client that is downloading.

tools/chatlatency.py measures one run: a server from `settings.app` serves one file, a reader
downloads it as the real client does (hashing it), chatters say lines meanwhile and the reader
notes when each arrives. The rows: on loopback at full speed, and behind an 8 mbit link (the
reader in a network namespace behind a veth pair, shaped with an htb class as `scripts/lab
impair --rate` does, and with a tbf whose queue holds 50 ms). The runs of all rows are
interleaved. The shaped rows need root and iproute2; without them they say why and measure
nothing.
"""

from __future__ import annotations

import chatlatency

from .core import Section, Settings, Target, spread

SHAPED_RATE = "8mbit"
LINKS = (
    ("loopback, full speed", {"link": "loopback"}, 20.0),
    (f"{SHAPED_RATE}, htb (as `scripts/lab impair`)", {"link": "shaped", "shaper": "htb"}, 150.0),
    (f"{SHAPED_RATE}, tbf (a 50 ms queue)", {"link": "shaped", "shaper": "tbf"}, 150.0),
)
"""(row, chatlatency.measure's arguments, issue 20's target for its p99 in ms)."""


def measure(settings: Settings) -> list[Section]:
    shaped_missing = chatlatency.shaped_path_available()
    results: dict[str, list[chatlatency.ChatLatency]] = {label: [] for label, _, _ in LINKS}
    for run in range(1, settings.runs + 1):
        for label, arguments, _ in LINKS:
            if arguments["link"] == "shaped" and shaped_missing:
                continue
            settings.progress(f"run {run}/{settings.runs}: {label}")
            size = _size(settings, arguments["link"])
            results[label].append(chatlatency.measure(settings.app, size=size, rate=SHAPED_RATE, **arguments))
    rows = [
        _row(label, results[label], shaped_missing if args["link"] == "shaped" else None)
        for label, args, _ in LINKS
    ]
    targets = [_target(label, results[label], bound) for label, _, bound in LINKS]
    return [
        Section(
            title="Chat behind a file",
            intro=[
                "A chat line's latency to a client that is downloading one file (hashing it, as"
                " the real client does), from the line's sending to its arrival; the server's"
                " frames are sized to what the connection drains and its kernel holds at most two"
                " of them, paced, where the link sets the pace, at no more than twice the rate"
                " measured (app/ftplab/pacing.py); the client holds unread no more than it drains"
                " in a moment (app/ftplab/client/unread_limit.py); so a line waits for at most"
                " about 20 ms of file in the server."
                " tools/chatlatency.py measures it, the lines that arrive while the file comes"
                f" (it is downloaded again until {chatlatency.MIN_LINES} have);"
                f" {settings.runs} runs of each row, interleaved; min / **median** / max over runs.",
            ],
            header=["link", "chat p50 (ms)", "chat p99 (ms)", "download MB/s", "server core-s/GiB", "note"],
            rows=rows,
            targets=targets,
            plot=lambda axes: plot(axes, results),
        )
    ]


def _size(settings: Settings, link: str) -> int:
    """The whole big file on loopback; on the slow link what takes some seconds (8 MiB: 8 s)."""
    if link == "loopback":
        return settings.big_mib * 2**20
    return (2 if settings.quick else 8) * 2**20


def _row(label: str, runs: list[chatlatency.ChatLatency], missing: str | None) -> tuple:
    if not runs:
        return (label, "–", "–", "–", "–", f"not measured: a shaped link {missing}")
    return (
        label,
        spread([run.p50_ms for run in runs], 1),
        spread([run.p99_ms for run in runs], 1),
        spread([run.throughput_mb_s for run in runs], 0),
        spread([run.server_core_seconds_per_gib for run in runs]),
        f"{sum(run.samples for run in runs)} lines in {sum(run.downloads for run in runs)} downloads",
    )


def _target(label: str, runs: list[chatlatency.ChatLatency], bound: float) -> Target:
    text = f"chat p99 ≤ {bound:g} ms while downloading: {label}"
    if not runs:
        return Target(text, "–", None)
    median = sorted(run.p99_ms for run in runs)[len(runs) // 2]
    return Target(text, f"{median:.1f} ms (median of runs)", median <= bound)


def plot(axes, results: dict[str, list[chatlatency.ChatLatency]]) -> None:
    """Chat p50 and p99 (median of runs) for each link, log scale."""
    measured = [(label, runs) for label, runs in results.items() if runs]
    positions = range(len(measured))
    for offset, (name, figure) in enumerate((("p50", "p50_ms"), ("p99", "p99_ms"))):
        heights = [sorted(getattr(run, figure) for run in runs)[len(runs) // 2] for _, runs in measured]
        axes.bar([position + offset * 0.4 for position in positions], heights, width=0.4, label=name)
    axes.set_xticks([position + 0.2 for position in positions])
    axes.set_xticklabels([label.split(" (")[0] for label, _ in measured])
    axes.set_yscale("log")
    axes.set_ylabel("chat latency while downloading (ms)")
    axes.set_title("Chat behind a file")
    axes.legend()
