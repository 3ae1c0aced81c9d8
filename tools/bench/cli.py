"""scripts/bench's options, and the run: the served files, each part in turn, the report."""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import report
from .core import BIG_FILE, ROOT, SMALL_BYTES, SMALL_FILE, Settings, load_average
from .parts import NEEDS_DOCKER, PARTS

USAGE = """Benchmark ftplab against pyftpdlib, vsftpd and this machine's loopback limits, in one run.

Everything runs on 127.0.0.1: a real ftplab server and its real client, pyftpdlib and vsftpd
driven through ftplib and the load generator (tools/loadgen/). Each figure is measured several
times and reported as min / median / max, next to its anchor and the issues' targets.
Writes docs/benchmarks.md and docs/benchmarks.png (the chart needs matplotlib).

    .venv/bin/pip install -e '.[bench]'     # and apt-get install vsftpd (measured when run as root)
    scripts/bench              # about ten minutes: 1 GiB transfers, N = 20, 100 and 1,000
    scripts/bench --quick      # about a minute: a smoke run
    scripts/bench --full       # adds N = 5,000 and 10,000 clients to the fan-out
    scripts/bench --class      # adds 30 student containers getting one file at once (Docker)
    scripts/bench --only sessions --output /tmp/sessions.md   # one part
    scripts/bench --only sessions --clients 1000 --servers door,pyftpdlib --output /tmp/s.md
    scripts/bench --app ../other/app --output /tmp/other.md   # measure other ftplab sources
"""


def counts(text: str) -> list[int]:
    return [int(value.replace("_", "")) for value in text.split(",")]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run, about a minute")
    parser.add_argument(
        "--class",
        dest="whole_class",
        action="store_true",
        help="also a whole class downloading at once in containers (needs Docker; several minutes)",
    )
    parser.add_argument("--full", action="store_true", help="also N = 5,000 and 10,000 in the fan-out")
    parser.add_argument("--runs", type=int, help="runs (windows) of each figure (3; 2 with --quick)")
    parser.add_argument("--big-mib", type=int, help="size of the big file in MiB (1024; 64 with --quick)")
    parser.add_argument("--clients", type=counts, help="N for sessions/s, e.g. 20,100,1000 (the default)")
    parser.add_argument(
        "--servers",
        type=lambda text: tuple(text.split(",")),
        default=(),
        help="the sessions part's servers, e.g. door,pyftpdlib (all: door,pyftpdlib,vsftpd,lab)",
    )
    parser.add_argument("--crowds", type=counts, help="N for the fan-out, e.g. 100,1000 (the default)")
    parser.add_argument("--generators", type=int, default=4, help="load generator processes (4)")
    parser.add_argument(
        "--window",
        type=float,
        help="seconds of each sessions window, and of an idle crowd's CPU (5; 2 with --quick)",
    )
    parser.add_argument(
        "--warm-up", type=float, help="seconds of load before the sessions windows (10; 3 with --quick)"
    )
    parser.add_argument(
        "--time-wait",
        type=float,
        help="at most this many seconds to wait for TIME-WAIT on a run's addresses (65; 5 with --quick)",
    )
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="measure only this part (repeatable); the report says so",
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "benchmarks.md", help="the report (docs/benchmarks.md)"
    )
    parser.add_argument(
        "--app", type=Path, default=ROOT / "app", help="ftplab sources to measure (this checkout's)"
    )
    args = parser.parse_args(argv)
    args.argv = argv
    args.only = args.only or [part for part in PARTS if part not in NEEDS_DOCKER or args.whole_class]
    return args


def settings_from(args: argparse.Namespace, work: Path) -> Settings:
    quick = args.quick
    return Settings(
        quick=quick,
        full=args.full,
        runs=args.runs or (2 if quick else 3),
        big_mib=args.big_mib or (64 if quick else 1024),
        clients=args.clients or ([20, 100] if quick else [20, 100, 1000]),
        crowds=args.crowds or ([100, 500] if quick else [100, 1000] + ([5000, 10000] if args.full else [])),
        generators=args.generators,
        window_seconds=args.window if args.window is not None else (2.0 if quick else 5.0),
        warmup_seconds=args.warm_up if args.warm_up is not None else (3.0 if quick else 10.0),
        time_wait_seconds=args.time_wait if args.time_wait is not None else (5.0 if quick else 65.0),
        join_timeout=20.0 if quick else 60.0,
        messages=3 if quick else 5,
        app=args.app.resolve(),
        work=work,
        servers=args.servers,
    )


def descriptors_needed(settings: Settings) -> int:
    """The most descriptors one process holds: the limit is per process, and each inherits it.
    A server holds up to three per FTP session (control, passive listener, data) and one per
    client of the crowd; the crowd's generators, together, one per client."""
    return max(3 * max(settings.clients), max(settings.crowds)) + 256


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def make_files(files: Path, big_bytes: int) -> None:
    files.mkdir()
    block = os.urandom(1024 * 1024)
    with open(files / BIG_FILE, "wb") as out:
        for _ in range(big_bytes // len(block)):
            out.write(block)
        out.write(block[: big_bytes % len(block)])
    (files / SMALL_FILE).write_bytes(os.urandom(SMALL_BYTES))


def server_help(settings: Settings) -> str:
    return subprocess.run(
        [sys.executable, "-m", "ftplab.server", "--help"],
        env=settings.python_env(),
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout


def stop_on_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C: through the `finally`s that stop the servers, take the
    class's lab down (containers, network, volumes, images) and remove the work directory."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    if not sys.platform.startswith("linux"):
        print("bench: needs Linux (/proc)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="ftplab-bench-"))
    settings = settings_from(args, work)
    needed = descriptors_needed(settings)
    if raise_fd_limit(needed) < needed:
        print(f"bench: the descriptor limit is under {needed}: lower N", file=sys.stderr)
        return 2
    load_before, began = load_average(), time.monotonic()
    sections = []
    try:
        settings.progress(f"writing a {settings.big_mib} MiB file")
        make_files(settings.files, settings.big_bytes)
        settings.server_help = server_help(settings)
        for name in args.only:
            settings.progress.part = name
            sections += PARTS[name](settings)
    finally:
        settings.progress.done()
        shutil.rmtree(work, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    chart = report.write_chart(sections, args.output.with_suffix(".png"))
    run = report.Run(
        args.argv,
        settings.app,
        settings.runs,
        args.only,
        [part for part in PARTS if part not in NEEDS_DOCKER],  # a whole run; --class adds to it
        load_before,
        load_average(),
        time.monotonic() - began,
    )
    report.write(sections, run, args.output, Path(chart) if chart else None)
    print(f"bench: wrote {args.output}" + (f" and {chart}" if chart else " (no chart)"))
    return 0
