"""What runs inside the lab's containers while tools/bench/classload.py measures a class.

The host sends this whole file through `docker exec CONTAINER python3 -c SOURCE MODE ARGS...`,
so it uses only the standard library and, in the `get` and `chat` modes, the ftplab package of
the image. Every mode prints one JSON line on stdout when it ends (`get` and `chat` print
`ready` first and then wait for `go` on stdin). Times are `time.monotonic()`: every container
of one Docker host reads the same clock, so the host can line up what different containers saw,
and name one moment for all the students to start at.
CPU figures are the whole container's core-seconds, from its cgroup (v1 or v2).

Modes:
  get HOST PORT NAME DIRECTORY FILE        a student's client: joins, on `go AT` waits for the
                                           moment AT and types `get FILE`, then quits; reports
                                           when the go came, when it asked, when the file was
                                           verified and saved, the chat lines it received and its
                                           progress lines' percentages, with their times, and its
                                           container's TCP counters then (tcp_counters)
  chat HOST PORT NAMES INTERVAL LIMIT      the teacher's chatter: several clients (NAMES, by
                                           commas) take turns to send a timestamped line every
                                           INTERVAL seconds from `go` until stdin ends (or LIMIT);
                                           they report when they began and the lines that reached
                                           them too (clients with no file in flight)
  send PORT PATH COUNT TIMEOUT             plain TCP: accepts COUNT receivers, then sends PATH to
                                           all at once (sendfile), the bridge's limit
  receive HOST PORT SINK                   plain TCP: receives until the end; SINK `-` discards,
                                           a directory writes a file there (removed after)
  rss INTERVAL                             samples the ftplab server's VmRSS until stdin ends, and
                                           the container's CPU time and TCP counters over that while
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import sys
import threading
import time

CHAT_MARK = "classload-chat"
CHAT_LINE = re.compile(rf"{CHAT_MARK} (\d+) (\d+\.\d+)")
PERCENT = re.compile(r"(\d+) ?%")
"""The share of the file a student's progress line shows (redrawn every quarter of a second)."""
RECEIVE_BYTES = 1024 * 1024
JOIN_SECONDS = 60.0
TCP_COUNTERS = {
    "refused": ("TCPRcvQDrop", "TCPZeroWindowDrop", "TCPBacklogDrop"),
    "duplicates": ("DelayedACKLost",),
    "timeouts": ("TCPTimeouts",),
    "probes": ("TCPLossProbes",),
}
"""Linux's TCP counters (/proc/net/netstat's TcpExt), summed by what they say of a container's
connections: arrivals refused for want of room (the receive buffer full, or the backlog while
a read held the socket); arrivals of bytes that had come already (resent because their ACK came
back late: the kernel answers each with a duplicate ACK, a counter named for the delayed ACKs
that usually cause them); the sender's retransmission timeouts, and its tail-loss probes (the
last packet resent when ACKs stop for a couple of round trips). An arrival is what the kernel
takes in at once: over a veth, up to 64 KiB. A socket's own drop count (SO_MEMINFO, `ss -m`'s
d) mixes the first two, and counts packets: about a hundred per student in a class round, of
which a handful were refused."""


def report(values: dict) -> None:
    print(json.dumps(values), flush=True)


def _keyboard():
    """A pipe standing in for a student's keyboard: (what the client reads, what we type into)."""
    read_fd, write_fd = os.pipe()
    return os.fdopen(read_fd, "rb", buffering=0), os.fdopen(write_fd, "w", buffering=1)


def _client(host: str, port: int, name: str, directory: str, observe):
    """The real client's session and loop (ClientApp), reading its keyboard from a pipe."""
    from ftplab.client.app import ClientApp
    from ftplab.client.session import ClientSession, ClientSettings
    from ftplab.console import PlainConsole

    keys_in, keys_out = _keyboard()
    session = ClientSession(name, ClientSettings(download_dir=directory, lang="en"))
    sock = socket.create_connection((host, port), timeout=30)
    shown = open(os.devnull, "w")  # noqa: SIM115  (closed with the app, below)
    app = ClientApp(sock, session, PlainConsole(keys_in, shown), lambda action: observe(session, action))

    def run() -> int:
        try:
            return app.run()
        finally:
            shown.close()
            keys_in.close()

    return run, keys_out


def tcp_counters(text: str | None = None) -> dict[str, int] | None:
    """This container's TCP_COUNTERS so far, from its own network namespace's /proc/net/netstat
    (None: it has none to read, or lacks a counter)."""
    if text is None:
        text = _read("/proc/net/netstat").decode()
    lines = [line.split() for line in text.splitlines() if line.startswith("TcpExt:")]
    if len(lines) != 2:
        return None
    names, values = lines
    counted = dict(zip(names[1:], map(int, values[1:]), strict=True))
    if any(name not in counted for names_ in TCP_COUNTERS.values() for name in names_):
        return None
    return {what: sum(counted[name] for name in names_) for what, names_ in TCP_COUNTERS.items()}


def _wait_for_go(ready: threading.Event) -> list[str] | None:
    """Say `ready` once the clients joined, then wait for the host's `go`: what followed it
    (None: no go)."""
    if not ready.wait(JOIN_SECONDS):
        return None
    print("ready", flush=True)
    words = sys.stdin.readline().split()
    return words[1:] if words[:1] == ["go"] else None


def _sleep_until(moment: float) -> None:
    while (left := moment - time.monotonic()) > 0:
        time.sleep(left)


def _note_chat(action, chat: list, now: float) -> None:
    """A chat line of ours that reached this client: [when, how long it took, its number]."""
    from ftplab.client.actions import Show

    if isinstance(action, Show) and (line := CHAT_LINE.search(action.text)):
        chat.append([now, now - float(line[2]), int(line[1])])


def student_get(host: str, port: str, name: str, directory: str, file_name: str) -> None:
    from ftplab.client.actions import FileSaved, FileStarted, Status

    figures: dict = {"name": name, "chat": [], "progress": []}
    joined = threading.Event()

    def observe(session, action) -> None:
        now = time.monotonic()
        if isinstance(action, FileStarted):
            figures["started"] = now
        elif isinstance(action, FileSaved):
            figures.update(saved=now, size=action.size, path=action.path)
            figures.update(cpu_saved=container_cpu_seconds(), tcp_saved=tcp_counters())
        elif isinstance(action, Status) and (shown := PERCENT.search(action.text)):
            figures["progress"].append([now, int(shown[1])])
        else:
            _note_chat(action, figures["chat"], now)
        if session.from_server.joined:
            joined.set()

    run, keys = _client(host, int(port), name, directory, observe)

    def type_when_told() -> None:
        """The go comes through `docker exec` to one student after another: it names a moment
        for all of them, so that they ask at once however late their own go came."""
        if (start := _wait_for_go(joined)) is not None:
            figures["told"] = time.monotonic()
            _sleep_until(float(start[0]))
            figures.update(requested=time.monotonic(), cpu_requested=container_cpu_seconds())
            figures.update(tcp_requested=tcp_counters())
            keys.write(f"get {file_name}\n")
        keys.close()  # end of input: the client quits once the file has come

    threading.Thread(target=type_when_told, daemon=True).start()
    figures["status"] = run()
    if "path" in figures:
        os.unlink(figures["path"])  # 30 copies of a big file would fill the students' disks
    report(figures)


def teacher_chat(host: str, port: str, names: str, interval: str, limit: str) -> None:
    """Several chatters in turn: one client may send only a few lines a second (flood control)."""
    clients = []
    joined: set[str] = set()
    all_joined = threading.Event()
    who = names.split(",")
    received: list = []

    def observe(session, action) -> None:
        _note_chat(action, received, time.monotonic())
        if session.from_server.joined:
            joined.add(session.name)
            if len(joined) == len(who):
                all_joined.set()

    for name in who:
        run, keys = _client(host, int(port), name, "/tmp", observe)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        clients.append((thread, keys))
    sent, began = 0, None
    if _wait_for_go(all_joined) is not None:
        began = time.monotonic()
        sent = _chat_until_stopped(clients, float(interval), began + float(limit))
    for thread, keys in clients:
        keys.close()
        thread.join(30)
    report({"sent": sent, "began": began, "chat": received})


def _chat_until_stopped(clients, interval: float, deadline: float) -> int:
    sent = 0
    next_line = time.monotonic()
    while (now := time.monotonic()) < deadline:
        if select.select([sys.stdin], [], [], max(0.0, next_line - now))[0]:
            break  # the host said stop (or went away)
        _thread, keys = clients[sent % len(clients)]
        keys.write(f"{CHAT_MARK} {sent} {time.monotonic():.6f}\n")
        sent += 1
        next_line += interval
    return sent


def tcp_send(port: str, path: str, count: str, timeout: str) -> None:
    listener = socket.create_server(("0.0.0.0", int(port)), backlog=int(count))
    listener.settimeout(float(timeout))
    print("listening", flush=True)
    peers = [listener.accept()[0] for _ in range(int(count))]
    listener.close()
    start, cpu_start = time.monotonic(), container_cpu_seconds()

    def send(peer: socket.socket) -> None:
        with peer, open(path, "rb") as source:
            peer.sendfile(source)

    threads = [threading.Thread(target=send, args=(peer,)) for peer in peers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report({"start": start, "cpu": [cpu_start, container_cpu_seconds()]})


def tcp_receive(host: str, port: str, sink: str) -> None:
    buffer = bytearray(RECEIVE_BYTES)
    received = 0
    target = None if sink == "-" else os.path.join(sink, f"classload-tcp-{os.getpid()}.bin")
    out = open(target, "wb") if target else None  # noqa: SIM115  (closed below)
    cpu_start = container_cpu_seconds()
    try:
        with socket.create_connection((host, int(port)), timeout=300) as sock:
            while count := sock.recv_into(buffer):
                if out is not None:
                    out.write(memoryview(buffer)[:count])
                received += count
            end = time.monotonic()
    finally:
        if out is not None:
            out.close()
            os.unlink(target)
    report({"bytes": received, "end": end, "cpu": [cpu_start, container_cpu_seconds()]})


def server_rss(interval: str) -> None:
    pid = next(
        pid
        for pid in filter(str.isdigit, os.listdir("/proc"))
        if _read(f"/proc/{pid}/cmdline").split(b"\0")[1:3] == [b"-m", b"ftplab.server"]
    )  # python3 -m ftplab.server: not docker-init, nor a program given this file's text
    samples = []
    cpu_start, tcp_start = container_cpu_seconds(), tcp_counters()
    while True:
        samples.append(_status_kib(pid, "VmRSS"))
        if select.select([sys.stdin], [], [], float(interval))[0]:
            break
    memory = {"first_kib": samples[0], "peak_kib": max(samples), "hwm_kib": _status_kib(pid, "VmHWM")}
    report({**memory, "cpu": [cpu_start, container_cpu_seconds()], "tcp": [tcp_start, tcp_counters()]})


def container_cpu_seconds() -> float | None:
    """Core-seconds used by every process of this container so far (None: no cgroup to read)."""
    nanoseconds = _read("/sys/fs/cgroup/cpuacct/cpuacct.usage")  # cgroup v1
    if nanoseconds.strip().isdigit():
        return int(nanoseconds) / 1e9
    microseconds = re.search(rb"^usage_usec (\d+)", _read("/sys/fs/cgroup/cpu.stat"), re.M)  # v2
    return int(microseconds[1]) / 1e6 if microseconds else None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return b""


def _status_kib(pid: str, field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB", _read(f"/proc/{pid}/status").decode(), re.M)
    return int(found[1]) if found else 0


MODES = {
    "get": student_get,
    "chat": teacher_chat,
    "send": tcp_send,
    "receive": tcp_receive,
    "rss": server_rss,
}

if __name__ == "__main__":
    MODES[sys.argv[1]](*sys.argv[2:])
