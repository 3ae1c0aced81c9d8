"""How long a chat line takes to reach a client that is downloading a file.

One ftplab server (from the sources given, so two trees can be compared) serves
one big file. A *reader* process joins, asks for the file and reads it as fast
as it can (hashing it, as the real client does); a *chatter* in this process
joins too and, while the download runs, says a line every few milliseconds
carrying the monotonic clock at which it was sent. The reader notes when each
line arrives during a download: the latency is the difference (CLOCK_MONOTONIC
is one clock for the whole machine, across network namespaces). A file that
goes by before enough lines came (a small one on loopback, on a busy machine)
is asked for again, until MIN_LINES have been measured or READ_SECONDS passed.

Two paths: `loopback` (127.0.0.1, full speed) and `shaped` (the reader in a
network namespace of its own behind a veth pair whose server side is shaped,
8 mbit by default: with an htb class as `scripts/lab impair --rate` does, or
with a tbf whose queue holds 50 ms). The namespace is removed whatever happens.
Needs root and iproute2 for `shaped` (`shaped_path_available()` says whether it
can run).

    python tools/chatlatency.py --app app --link loopback
    python tools/chatlatency.py --app app --link shaped --rate 8mbit --shaper tbf --size 8MiB

`measure(...)` returns a `ChatLatency` (p50, p99, throughput, core-seconds per
GiB of the server and of the reader) for other code (the bench) to report.
Needs only the standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SERVER_NAME = "profe"
FILE_NAME = "big.bin"
CHAT_PREFIX = "t="
RECV_BYTES = 256 * 1024
LINK_SETUP_SECONDS = 15
LINES_PER_SECOND = 4.0
"""Per chatter: below the server's chat flood limit (5 a second)."""
CHATTERS = 12
MIN_LINES = 10
"""Lines to measure at least: the reader asks for the file again until it has them."""
READ_SECONDS = 60.0
"""The reader asks for no new download after this long; a run that got no line then fails."""


@dataclass
class ChatLatency:
    """One run: chat latency to the downloading reader, and the download's speed and cost."""

    link: str
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    file_bytes: int
    downloads: int
    """How many times the reader got the file (again while too few lines had come)."""
    seconds: float
    """From each `!FILE` line to the file's last byte, at the reader, added up."""
    server_cpu_seconds: float
    reader_cpu_seconds: float

    @property
    def received_bytes(self) -> int:
        return self.file_bytes * self.downloads

    @property
    def throughput_mb_s(self) -> float:
        return self.received_bytes / self.seconds / 1e6

    @property
    def server_core_seconds_per_gib(self) -> float:
        return self.server_cpu_seconds / (self.received_bytes / 2**30)

    @property
    def reader_core_seconds_per_gib(self) -> float:
        return self.reader_cpu_seconds / (self.received_bytes / 2**30)

    def summary(self) -> str:
        return (
            f"{self.link}: chat p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms"
            f" ({self.samples} lines, {self.downloads} downloads); {self.throughput_mb_s:.0f} MB/s;"
            f" server {self.server_core_seconds_per_gib:.2f} core-s/GiB,"
            f" reader {self.reader_core_seconds_per_gib:.2f} core-s/GiB"
        )


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile of `values` (not empty)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


# --- the reader (runs as its own process, maybe in another namespace) -----------------------------


def read_download(
    host: str, port: int, name: str, out, verify: bool = True, min_lines: int = MIN_LINES
) -> None:
    """Join, `get` the file, read it whole (hashing it if `verify`, as the real client does),
    noting each chat line that arrives meanwhile; get it again until `min_lines` were noted or
    READ_SECONDS passed. Print `started` at the first `!FILE`, then one JSON report."""
    sock = socket.create_connection((host, port), timeout=120)
    request = f"{name}> get {FILE_NAME}\n".encode()
    sock.sendall(f"{name}> \n".encode() + request)
    give_up = time.monotonic() + READ_SECONDS
    buffer = bytearray()
    hasher = hashlib.sha256()
    latencies: list[float] = []
    size = started = None  # of the download under way; None between downloads
    received = data_left = downloads = 0
    seconds = 0.0
    done = False
    while not done:
        chunk = sock.recv(RECV_BYTES)
        if not chunk:
            raise RuntimeError("the server closed before the file ended")
        now = time.monotonic_ns()
        buffer += chunk
        while buffer and not done:
            if data_left:
                taken = min(data_left, len(buffer))
                if verify:
                    hasher.update(memoryview(buffer)[:taken])
                del buffer[:taken]
                data_left -= taken
                received += taken
                if received == size:
                    downloads += 1
                    seconds += time.monotonic() - started
                    size = started = None
                    done = len(latencies) >= min_lines or time.monotonic() >= give_up
                    if not done:
                        sock.sendall(request)
                continue
            end = buffer.find(b"\n")
            if end < 0:
                break
            line = buffer[:end].decode(errors="replace")
            del buffer[: end + 1]
            sender, _, text = line.partition("> ")
            if sender == SERVER_NAME and text.startswith("!FILE "):
                size, started, received = int(text.split()[1]), time.monotonic(), 0
                if not downloads:
                    print("started", file=out, flush=True)
            elif sender == SERVER_NAME and text.startswith("!DATA "):
                data_left = int(text.split()[1])
            elif text.startswith(CHAT_PREFIX) and size is not None:
                latencies.append((now - int(text[len(CHAT_PREFIX) :])) / 1e6)
            elif text.startswith("!ERR"):
                raise RuntimeError(f"the server refused: {line}")
    sock.close()
    usage = os.times()
    report = {
        "latencies_ms": latencies,
        "bytes": received,
        "downloads": downloads,
        "seconds": seconds,
        "cpu": usage.user + usage.system,
    }
    print(json.dumps(report), file=out, flush=True)


# --- the chatter, the server, the run --------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listening_port(pid: int, timeout: float = 15) -> int:
    """The TCP port process `pid` listens on, from /proc (the server logs it only at INFO)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            inodes = {
                os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1]
                for fd in os.listdir(f"/proc/{pid}/fd")
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")
            }
            with open(f"/proc/{pid}/net/tcp") as table:
                for row in table.readlines()[1:]:
                    fields = row.split()
                    if fields[3] == "0A" and fields[9] in inodes:
                        return int(fields[1].split(":")[1], 16)
        time.sleep(0.02)
    raise RuntimeError(f"the server (pid {pid}) did not listen within {timeout} s")


@contextlib.contextmanager
def server(app: Path, host: str, root: Path):
    """An ftplab server from the sources in `app`, on `host`; yields (process, port)."""
    command = [sys.executable, "-m", "ftplab.server", "--host", host, "--port", "0", "--root", str(root)]
    command += ["--name", SERVER_NAME, "--lang", "en", "--log-level", "WARNING"]
    env = dict(os.environ, PYTHONPATH=str(Path(app).resolve()))
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process, listening_port(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdin.close()


def chat_until(chatters: list[socket.socket], done: threading.Event, names: list[str]) -> None:
    """Say timestamped lines until `done`, the chatters in turn, each at LINES_PER_SECOND (with
    jitter, below the server's flood limit); read and forget what comes back."""
    for sock in chatters:
        sock.setblocking(False)
    pause = 1 / (LINES_PER_SECOND * len(chatters))
    turn = 0
    while not done.is_set():
        sock, name = chatters[turn % len(chatters)], names[turn % len(chatters)]
        sock.send(f"{name}> {CHAT_PREFIX}{time.monotonic_ns()}\n".encode())
        for other in chatters:
            with contextlib.suppress(BlockingIOError):
                while other.recv(RECV_BYTES):
                    pass
        turn += 1
        done.wait(pause * random.uniform(0.5, 1.5))


def join_chatters(host: str, port: int, count: int, suffix: str) -> tuple[list[socket.socket], list[str]]:
    """`count` chatters, each from its own loopback address (the server limits chat per address)."""
    chatters, names = [], []
    for number in range(count):
        sock = socket.create_connection((host, port), timeout=30, source_address=(f"127.0.0.{number + 2}", 0))
        chatters.append(sock)
        names.append(f"chat{number}x{suffix}")
        sock.sendall(f"{names[-1]}> \n".encode())
    return chatters, names


def run(
    app: Path,
    host: str,
    root: Path,
    reader_prefix: list[str],
    chatters: int,
    link: str,
    verify: bool = True,
    min_lines: int = MIN_LINES,
) -> ChatLatency:
    """A download with chat alongside (again until `min_lines` lines came during one);
    `reader_prefix` runs the reader elsewhere (a namespace)."""
    with server(app, host, root) as (process, port):
        suffix = f"{os.getpid() % 10000}{random.randrange(1000)}"
        sockets, names = join_chatters(host, port, chatters, suffix)
        try:
            command = [*reader_prefix, sys.executable, str(Path(__file__).resolve()), "--reader"]
            command += [host, str(port), f"dl{suffix}", "verify" if verify else "discard", str(min_lines)]
            reader = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            try:
                if reader.stdout.readline().strip() != "started":
                    raise RuntimeError("the reader's download did not start")
                cpu_before = cpu_seconds(process.pid)  # the file is hashed: count only sending it
                report = _chat_while_reading(reader, sockets, names)
            finally:
                if reader.poll() is None:
                    reader.kill()
                reader.wait()
                reader.stdout.close()
            server_cpu = cpu_seconds(process.pid) - cpu_before
        finally:
            for sock in sockets:
                sock.close()
    latencies = report["latencies_ms"]
    if not latencies:
        raise RuntimeError(
            f"no chat line arrived during {report['downloads']} downloads in {READ_SECONDS:g} s"
        )
    return ChatLatency(
        link=link,
        samples=len(latencies),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies),
        file_bytes=report["bytes"],
        downloads=report["downloads"],
        seconds=report["seconds"],
        server_cpu_seconds=server_cpu,
        reader_cpu_seconds=report["cpu"],
    )


def _chat_while_reading(reader: subprocess.Popen, chatters: list[socket.socket], names: list[str]) -> dict:
    done = threading.Event()
    talk = threading.Thread(target=chat_until, args=(chatters, done, names), daemon=True)
    talk.start()
    try:
        line = reader.stdout.readline()
    finally:
        done.set()
        talk.join()
    if not line:
        raise RuntimeError(f"the reader ended without a report (status {reader.wait()})")
    return json.loads(line)


# --- the shaped path: a network namespace behind a shaped veth pair ---------------------------------


def shaped_path_available() -> str | None:
    """None when a shaped path can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (ip netns, tc)"
    if not (shutil.which("ip") and shutil.which("tc")):
        return "needs iproute2 (ip, tc)"
    return None


def namespaces_allowed() -> str | None:
    """None when this process may make a network namespace (root in a container may not:
    CAP_SYS_ADMIN), else the kernel's answer; a probe namespace is made and removed."""
    probe = f"ftplab-probe-{os.getpid()}x{random.randrange(10000)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=15)
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=15)
    return None if made.returncode == 0 else (made.stderr.strip() or "ip netns add failed")


def our_namespaces() -> set[str]:
    """The network namespaces this module makes that exist now (none once a run has ended)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=15).stdout
    return {line.split()[0] for line in listed.splitlines() if line.startswith("ftplab-")}


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True, timeout=LINK_SETUP_SECONDS)


def htb_shaper(device: str, rate: str) -> list[list[str]]:
    """What `scripts/lab impair --rate` does: an htb class at `rate`, its default queue (deep)."""
    return [
        ["qdisc", "add", "dev", device, "root", "handle", "1:", "htb", "default", "20"],
        ["class", "add", "dev", device, "parent", "1:", "classid", "1:20", "htb", "rate", rate, "ceil", rate],
    ]


def tbf_shaper(device: str, rate: str) -> list[list[str]]:
    """A token bucket whose queue holds 50 ms: shallow, so TCP's start overshoots it and loses packets."""
    return [["qdisc", "add", "dev", device, "root", "tbf", "rate", rate, "burst", "16kb", "latency", "50ms"]]


SHAPERS = {"htb": htb_shaper, "tbf": tbf_shaper}


@contextlib.contextmanager
def shaped_link(rate: str, shaper: str = "htb"):
    """A namespace of our own reached through a veth pair shaped to `rate` towards it (by
    SHAPERS[shaper]); yields (the server side's address, the command prefix that runs a program
    in the namespace)."""
    tag = f"{os.getpid() % 100000}x{random.randrange(10000)}"
    namespace, outside, inside = f"ftplab-chat-{tag}", f"fc{tag}o", f"fc{tag}i"
    subnet = f"10.{random.randrange(200, 250)}.{random.randrange(256)}"
    try:
        _ip("netns", "add", namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("addr", "add", f"{subnet}.1/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", namespace, "addr", "add", f"{subnet}.2/30", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        for command in SHAPERS[shaper](outside, rate):
            subprocess.run(["tc", *command], check=True, capture_output=True, timeout=LINK_SETUP_SECONDS)
        yield f"{subnet}.1", ["ip", "netns", "exec", namespace]
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True, timeout=LINK_SETUP_SECONDS)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=LINK_SETUP_SECONDS)


# --- measure: the function the bench calls -----------------------------------------------------------


def measure(
    app: Path,
    link: str = "loopback",
    size: int = 1024 * 2**20,
    chatters: int = CHATTERS,
    rate: str = "8mbit",
    shaper: str = "htb",
    verify: bool = True,
    min_lines: int = MIN_LINES,
) -> ChatLatency:
    """Chat latency to a client downloading `size` bytes over `link` ("loopback" or "shaped",
    through `rate` and SHAPERS[`shaper`]),
    `chatters` saying LINES_PER_SECOND each; the server runs from the sources in `app`; the reader
    hashes what it reads if `verify` (as the real client does), and downloads the file again
    until `min_lines` lines arrived during a download."""
    with tempfile.TemporaryDirectory(prefix="chatlatency-") as directory:
        root = Path(directory)
        with open(root / FILE_NAME, "wb") as file:
            file.truncate(size)  # a sparse file: served from the page cache, no disk in the way
        if link == "loopback":
            return run(app, "127.0.0.1", root, [], chatters, link, verify, min_lines)
        if link != "shaped":
            raise ValueError(f"unknown link {link!r}: loopback or shaped")
        why_not = shaped_path_available()
        if why_not:
            raise RuntimeError(f"a shaped link {why_not}")
        with shaped_link(rate, shaper) as (host, prefix):
            return run(app, host, root, prefix, chatters, f"{shaper} {rate}", verify, min_lines)


def parse_size(text: str) -> int:
    units = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--reader"]:
        host, port, name, verify, min_lines = argv[1:6]
        read_download(host, int(port), name, sys.stdout, verify == "verify", int(min_lines))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", type=Path, default=Path(__file__).resolve().parent.parent / "app")
    parser.add_argument("--link", choices=("loopback", "shaped"), default="loopback")
    parser.add_argument("--size", type=parse_size, default=None, help="file size (default 2GiB, shaped 8MiB)")
    parser.add_argument("--chatters", type=int, default=CHATTERS, help="clients saying 4 lines a second each")
    parser.add_argument("--rate", default="8mbit", help="the shaped link's rate (tc's units)")
    parser.add_argument("--shaper", choices=sorted(SHAPERS), default="htb", help="the shaped link's qdisc")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--min-lines", type=int, default=MIN_LINES, help="get the file again until this many lines came"
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="the reader does not hash (the server is the bottleneck)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per run")
    args = parser.parse_args(argv)
    shaped = args.link == "shaped"
    size = args.size or (8 * 2**20 if shaped else 2 * 2**30)
    verify = not args.no_verify
    for _ in range(args.repeat):
        result = measure(
            args.app, args.link, size, args.chatters, args.rate, args.shaper, verify, args.min_lines
        )
        if args.json:
            figures = asdict(result)
            figures.update(
                throughput_mb_s=result.throughput_mb_s,
                server_core_seconds_per_gib=result.server_core_seconds_per_gib,
            )
            print(json.dumps(figures), flush=True)
        else:
            print(result.summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
