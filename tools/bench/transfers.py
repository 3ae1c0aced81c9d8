"""One big file over loopback: wall clock and CPU per GiB, for each way of moving it, into a tmpfs
and onto the disk.

Every client is a process of its own (bench/peers.py, sha256sum): a peer reads its own CPU over
the transfer with getrusage(RUSAGE_SELF), sha256sum's is read with getrusage(RUSAGE_CHILDREN);
every server's from /proc/PID/stat over the client's whole run. The repetitions of all rows are
interleaved (run 1 of every row, then run 2...), so run i of two rows saw the same moment of a
noisy machine; ratios are taken run by run. Core-seconds per GiB hold still where GB/s do not.

Each server's TLS row sits next to its plain row and moves the same file from a server of the same
kind started with a throwaway CA's certificate (servers.make_tls): ftplab's client with `--ca`, and
ftplib's FTP_TLS (AUTH TLS, PROT P) against ftplab's FTP door, pyftpdlib's TLS_FTPHandler and vsftpd
(`ssl_enable=YES`; vsftpd only as root, as in the sessions part).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import servers
from .core import (
    BIG_FILE,
    GIB,
    HOST,
    Section,
    Settings,
    Target,
    children_cpu,
    paired_ratios,
    ratio_cell,
    ratio_target,
    spread,
)

TMPFS = Path("/dev/shm")
HASHED_MIB = 256
"""How much `sha256_speed` hashes: a few tenths of a second."""


@dataclass
class Sample:
    seconds: float
    client_cpu: float
    server_cpu: float
    tls: str = ""
    """The TLS version and cipher the client negotiated ("" in clear)."""
    loop_cpu: float | None = None
    """ftplab's client only: its loop's own thread (receiving, parsing); the rest of client_cpu
    is its helper threads' SHA-256 and writes."""


@dataclass
class Row:
    """One way of moving the file: `run(servers, sink_dir)` moves it once and says what it cost.
    A TLS row names the key of its `plain` row: the same server and client in clear."""

    key: str
    label: str
    run: Callable[[dict, Path], Sample]
    plain: str = ""
    samples: dict[str, list[Sample]] = field(default_factory=dict)


def run_peer(settings: Settings, arguments: list[str]) -> dict:
    """A client process from bench/peers.py: its JSON line (seconds, cpu, bytes)."""
    report = settings.run_module("peers", arguments, timeout=900)
    if "error" in report or report["bytes"] != settings.big_bytes:
        raise RuntimeError(f"{arguments[0]}: {report}")
    return report


def timed(settings: Settings, server: servers.Server, arguments: list[str]) -> Sample:
    server_before = server.cpu()
    report = run_peer(settings, arguments)
    server.wait_for_sessions()
    server_cpu = server.cpu() - server_before
    return Sample(report["seconds"], report["cpu"], server_cpu, report.get("tls", ""), report.get("loop_cpu"))


def sink_path(directory: Path) -> Path:
    return directory / f"sink-{time.monotonic_ns()}"


def make_rows(settings: Settings, digest: str, tls: servers.Tls, vsftpd: bool) -> list[Row]:
    """Every row, each TLS row right after its plain one; vsftpd's two only with `vsftpd`."""

    def limit(running: dict, sink: Path) -> Sample:
        server, path = running["sendfile"], sink_path(sink)
        try:
            return timed(settings, server, ["limit", HOST, str(server.port), str(path)])
        finally:
            path.unlink(missing_ok=True)

    def retr(server: str, *, door: bool = False, verify: bool = False) -> Callable:
        """A RETR from `running[server]` (its FTP door with `door`); over TLS for a `…_tls` server."""

        def run(running: dict, sink: Path) -> Sample:
            running_server, path = running[server], sink_path(sink)
            port = running_server.ftp_port if door else running_server.port
            arguments = ["retr", HOST, str(port), "anonymous", BIG_FILE, str(path)]
            try:
                sample = timed(settings, running_server, arguments + ca_for(server))
                return then_sha256sum(sample, path, digest) if verify else sample
            finally:
                path.unlink(missing_ok=True)

        return run

    def lab_get(server: str) -> Callable:
        def run(running: dict, sink: Path) -> Sample:
            running_server, folder = running[server], sink_path(sink)
            folder.mkdir()
            arguments = ["get", HOST, str(running_server.port), "bench", BIG_FILE, str(folder)]
            try:
                return timed(settings, running_server, arguments + ca_for(server))
            finally:
                (folder / BIG_FILE).unlink(missing_ok=True)
                folder.rmdir()

        return run

    def ca_for(server: str) -> list[str]:
        return [str(tls.ca)] if server.endswith("_tls") else []

    rows = [
        Row("limit", "loopback limit: sendfile → recv_into → os.write", limit),
        Row("retr", "pyftpdlib RETR through ftplib", retr("pyftpdlib")),
        Row("retr_tls", "pyftpdlib RETR, TLS (PROT P)", retr("pyftpdlib_tls"), plain="retr"),
        Row("retr_sha", "pyftpdlib RETR through ftplib, then sha256sum", retr("pyftpdlib", verify=True)),
        Row("get", "ftplab verified `get` (the real client)", lab_get("lab")),
        Row("get_tls", "ftplab verified `get`, TLS (`--ca`)", lab_get("lab_tls"), plain="get"),
        Row("door", "ftplab FTP door RETR through ftplib", retr("lab", door=True)),
        Row("door_tls", "ftplab FTP door RETR, TLS (PROT P)", retr("lab_tls", door=True), plain="door"),
    ]
    if vsftpd:
        rows += [
            Row("vsftpd", "vsftpd RETR through ftplib", retr("vsftpd")),
            Row("vsftpd_tls", "vsftpd RETR, TLS (PROT P)", retr("vsftpd_tls"), plain="vsftpd"),
        ]
    return rows


def then_sha256sum(sample: Sample, path: Path, digest: str) -> Sample:
    """What a user does without ftplab: download, then verify with sha256sum (a process too)."""
    before, began = children_cpu(), time.perf_counter()
    result = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    seconds, used = time.perf_counter() - began, children_cpu() - before
    if result.stdout.split()[0] != digest:
        raise RuntimeError("sha256sum: the downloaded file differs from the served one")
    return Sample(sample.seconds + seconds, sample.client_cpu + used, sample.server_cpu, sample.tls)


def sinks(settings: Settings) -> dict[str, Path]:
    """Where the files go: a tmpfs (no disk in the way: CPU-bound) and the disk under the work folder."""
    places = {"disk": settings.work / "sink"}
    if TMPFS.is_dir():
        places["tmpfs"] = Path(TMPFS / f"{settings.work.name}-sink")
    for place in places.values():
        place.mkdir(exist_ok=True)
    return dict(sorted(places.items(), reverse=True))


def filesystem(path: Path) -> str:
    """The type and device of the filesystem holding `path` (the longest mount point above it)."""
    best = ("", "?", "?")
    with open("/proc/mounts") as mounts:
        for line in mounts:
            device, point, kind = line.split()[:3]
            if path.is_relative_to(point) and len(point) >= len(best[0]):
                best = (point, kind, device)
    return f"{best[1]} on {best[2]}"


def file_digest(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def start_servers(settings: Settings, stack: contextlib.ExitStack, tls: servers.Tls, vsftpd: bool) -> dict:
    """Every server the rows use, by name, each stopped when `stack` closes."""
    starts = {
        "sendfile": lambda: servers.sendfile(settings.files / BIG_FILE),
        "pyftpdlib": lambda: servers.pyftpdlib(settings, 8),
        "pyftpdlib_tls": lambda: servers.pyftpdlib(settings, 8, tls=tls),
        "lab": lambda: servers.lab(settings, 8, ftp=True),
        "lab_tls": lambda: servers.lab(settings, 8, ftp=True, tls=tls),
    }
    if vsftpd:
        starts |= {
            "vsftpd": lambda: servers.vsftpd(settings),
            "vsftpd_tls": lambda: servers.vsftpd(settings, tls),
        }
    return {name: stack.enter_context(start()) for name, start in starts.items()}


def measure(settings: Settings) -> list[Section]:
    tls = servers.make_tls(settings.work / "tls")
    vsftpd_missing = servers.vsftpd_missing()
    rows = make_rows(settings, file_digest(settings.files / BIG_FILE), tls, vsftpd=not vsftpd_missing)
    places = sinks(settings)
    hashing: list[float] = []
    try:
        with contextlib.ExitStack() as stack:
            running = start_servers(settings, stack, tls, vsftpd=not vsftpd_missing)
            for attempt in range(settings.runs):
                for row in rows:
                    for place, sink in places.items():
                        settings.progress(f"{row.key} into {place}, run {attempt + 1}/{settings.runs}")
                        row.samples.setdefault(place, []).append(row.run(running, sink))
                hashing.append(sha256_speed())
    finally:
        for place in places.values():
            for leftover in place.glob("sink-*"):
                leftover.unlink()
            place.rmdir()
    where = [f"{place}: {sink.parent} ({filesystem(sink)})" for place, sink in places.items()]
    by_key = {row.key: row for row in rows}
    return [
        section(settings, by_key, list(places), where, hashing),
        tls_section(settings, by_key, list(places), vsftpd_missing),
    ]


def gb_per_second(settings: Settings, samples: list[Sample]) -> list[float]:
    return [settings.big_bytes / 1e9 / sample.seconds for sample in samples]


def per_gib(settings: Settings, samples: list[Sample], which: str) -> list[float]:
    gib = settings.big_bytes / GIB
    values = {
        "client": [s.client_cpu for s in samples],
        "server": [s.server_cpu for s in samples],
        "total": [s.client_cpu + s.server_cpu for s in samples],
    }[which]
    return [value / gib for value in values]


def client_threads(get: Row, places: list[str], gib: float) -> str:
    """Where the verified `get`'s client core-seconds went (`gib` GiB a run): its loop's thread and
    its helpers, in core-s/GiB."""
    split = []
    for place in places:
        measured = [s for s in get.samples[place] if s.loop_cpu is not None]
        loop = [s.loop_cpu / gib for s in measured]
        helpers = [(s.client_cpu - s.loop_cpu) / gib for s in measured]
        split.append(f"into {place}: the loop's {spread(loop)}, the helpers' {spread(helpers)}")
    return (
        "The verified `get`'s client core-s/GiB by thread: its loop's own (receiving, parsing) and its "
        "two helpers' (SHA-256, writing; app/ftplab/client/download_file.py says which chunks the loop "
        f"does itself); {'; '.join(split)}."
    )


def sha256_speed(mib: int = HASHED_MIB) -> float:
    """GB/s of SHA-256 alone on one core (hashlib, 1 MiB at a time, from memory): the most any
    verified download can reach, as one stream of SHA-256 cannot be shared between cores."""
    block, digest = bytes(1024 * 1024), hashlib.sha256()
    began = time.perf_counter()
    for _ in range(mib):
        digest.update(block)
    return mib * len(block) / 1e9 / (time.perf_counter() - began)


def section(
    settings: Settings, rows: dict[str, Row], places: list[str], where: list[str], hashing: list[float]
) -> Section:
    table = []
    for row in rows.values():
        for place in places:
            samples = row.samples[place]
            speed = gb_per_second(settings, samples)
            limit = gb_per_second(settings, rows["limit"].samples[place])
            table.append(
                (
                    row.label,
                    place,
                    spread(speed),
                    ratio_cell(paired_ratios(speed, limit)),
                    spread(per_gib(settings, samples, "client")),
                    spread(per_gib(settings, samples, "server")),
                    spread(per_gib(settings, samples, "total")),
                )
            )
    return Section(
        title=f"One file of {settings.big_mib:,} MiB over loopback: wall clock and CPU per GiB",
        intro=[
            "Each client is a process of its own and reads its core-seconds over the transfer with",
            "getrusage(RUSAGE_SELF) (sha256sum's: getrusage(RUSAGE_CHILDREN)); the server's come from",
            "/proc/PID/stat over the client's whole run (its login too). A core-second is a second of one",
            "core: a transfer using two cores fully for 0.5 s costs 1 core-second.",
            "GB/s count the transfer itself: from RETR to the 226 reply for ftplib (reading with",
            "`recv_into` a preallocated buffer and `os.write`), from `!FILE` to the saved, verified file",
            "for ftplab's client; RETR then sha256sum adds the whole sha256sum run. Runs of all rows are",
            f"interleaved ({settings.runs} of each); ratios are taken run by run: min / **median** / max.",
            "The served file is on the disk (in the page cache after the first run).",
            f"Into: {'; '.join(where)}.",
            f"SHA-256 alone on one core (hashlib, once a run): {spread(hashing)} GB/s; no verified",
            "download is faster, and the targets say where that is below what they ask.",
            client_threads(rows["get"], places, settings.big_bytes / GIB),
        ],
        header=[
            "",
            "into",
            "GB/s",
            "vs loopback limit",
            "client core-s/GiB",
            "server core-s/GiB",
            "total core-s/GiB",
        ],
        rows=table,
        targets=targets(settings, rows, places, hashing),
    )


def targets(
    settings: Settings, rows: dict[str, Row], places: list[str], hashing: list[float]
) -> list[Target]:
    found = []
    for place in places:
        get, verify = rows["get"].samples[place], rows["retr_sha"].samples[place]
        speed = {
            key: gb_per_second(settings, rows[key].samples[place]) for key in ("get", "retr_sha", "limit")
        }
        versus_verify = paired_ratios(speed["get"], speed["retr_sha"])
        versus_limit = paired_ratios(speed["get"], speed["limit"])
        cpu = paired_ratios(per_gib(settings, get, "total"), per_gib(settings, verify, "total"))
        door = paired_ratios(
            gb_per_second(settings, rows["door"].samples[place]),
            gb_per_second(settings, rows["retr"].samples[place]),
        )
        found += [
            ratio_target(f"{place}: verified `get` ≥ 1.3× RETR then sha256sum (GB/s)", versus_verify, 1.3),
            with_ceiling(
                ratio_target(f"{place}: verified `get` ≥ 0.7× the loopback limit (GB/s)", versus_limit, 0.7),
                paired_ratios(hashing, speed["limit"]),
                0.7,
            ),
            ratio_target(
                f"{place}: verified `get` core-s/GiB ≤ 1.1× RETR then sha256sum", cpu, 1.1, at_most=True
            ),
            ratio_target(f"{place}: FTP door RETR ≥ 1.0× pyftpdlib RETR (GB/s)", door, 1.0),
        ]
    return found


def with_ceiling(target: Target, ceiling: list[float], bound: float) -> Target:
    """`target`, with SHA-256's own speed over the same anchor (run by run) when that is below
    `bound`: then no verified download could meet it on this machine."""
    if not ceiling or statistics.median(ceiling) >= bound:
        return target
    return dataclasses.replace(
        target, figure=f"{target.figure} (SHA-256 alone on one core: {ratio_cell(ceiling)}: out of reach)"
    )


def tls_section(
    settings: Settings, rows: dict[str, Row], places: list[str], vsftpd_missing: str | None
) -> Section:
    """Each server's TLS row over its plain row, run by run: what TLS costs each of them."""
    table = []
    for row in rows.values():
        if not row.plain:
            continue
        plain = rows[row.plain]
        for place in places:
            both = row.samples[place], plain.samples[place]
            client, total = (cpu_over_plain(settings, which, *both) for which in ("client", "total"))
            server = cpu_over_plain(settings, "server", *countable(*both))
            negotiated = ", ".join(sorted({sample.tls for sample in both[0]}))
            table.append((row.label, place, negotiated, over_plain(seconds, *both), client, server, total))
    return Section(
        title="TLS over plain text: the same file from the same kind of server",
        intro=[
            "Each server's TLS row of the table above over its row in clear, run by run (the runs are",
            "interleaved): wall clock (seconds of the transfer) and core-seconds per GiB, with the",
            "TLS version and cipher the client negotiated. The certificate is a P-256 one from a",
            "throwaway CA; ftplib resumes the control connection's TLS session on the data",
            "connection, which ftplab's FTP door and vsftpd (require_ssl_reuse=YES, its default)",
            "require. ftplab cannot use sendfile through TLS.",
        ],
        header=[
            "TLS row",
            "into",
            "negotiated",
            "wall clock TLS/plain",
            "client core-s",
            "server core-s",
            "total core-s",
        ],
        rows=table,
        notes=[
            f"Server core-s: only runs where the server in clear used at least {SERVER_CPU_FLOOR:g} core-s;"
            " /proc counts it in 10 ms ticks, and fewer (vsftpd's sendfile) make a ratio of noise.",
            *([f"vsftpd not measured: {vsftpd_missing}."] if vsftpd_missing else []),
        ],
    )


SERVER_CPU_FLOOR = 0.1
"""Core-seconds a server in clear must have used in a run for its ratio to count (10 ticks)."""


def countable(tls: list[Sample], plain: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """The runs whose server in clear used enough CPU to divide by."""
    pairs = [
        (mine, theirs)
        for mine, theirs in zip(tls, plain, strict=False)
        if theirs.server_cpu >= SERVER_CPU_FLOOR
    ]
    return [mine for mine, _ in pairs], [theirs for _, theirs in pairs]


def cpu_over_plain(settings: Settings, which: str, tls: list[Sample], plain: list[Sample]) -> str:
    return over_plain(lambda samples: per_gib(settings, samples, which), tls, plain)


def over_plain(figure: Callable[[list[Sample]], list[float]], tls: list[Sample], plain: list[Sample]) -> str:
    return ratio_cell(paired_ratios(figure(tls), figure(plain)))


def seconds(samples: list[Sample]) -> list[float]:
    return [sample.seconds for sample in samples]
