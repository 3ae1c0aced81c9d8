"""Hardening: floods, stalls and tricklers. The offender is refused or dropped with a
message; everyone else keeps being served without visible delay; the server's descriptors
come back to where they were and its memory stays bounded.

All load goes to 127.0.0.0/8, bounded in count and in time."""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import time

import pytest

from ftplab import protocol
from support.constants import CHAT_BURST_LINES, CHAT_LINES_PER_SECOND, MIB, RSS_GROWTH_LIMIT_KIB
from support.waiting import join_thread

from .harness import (
    HOST,
    TIMEOUT,
    RawConnection,
    make_big_file,
    message_containing,
    open_fds,
    reader_window_full,
    rss_kib,
    socket_receive_queue,
    wait_until,
)

PROMPT_SECONDS = 1.0
"""How long another client's answer may take while someone misbehaves: far more than it
needs (milliseconds), far less than a stalled loop would take."""


def _answer_seconds(raw: RawConnection) -> float:
    """How long one round trip (a fence) through the server takes for `raw`."""
    started = time.monotonic()
    raw.fence()
    return time.monotonic() - started


class Flood:
    """Bare TCP connections that send nothing and read only when told to; each records
    what it was sent before the server closed it."""

    def __init__(self, port: int, count: int, source: str = HOST):
        self.socks: list[socket.socket] = []
        self.received: dict[socket.socket, bytes] = {}
        self.closed: set[socket.socket] = set()
        for _ in range(count):
            sock = socket.create_connection((HOST, port), timeout=TIMEOUT, source_address=(source, 0))
            sock.setblocking(False)
            self.socks.append(sock)
            self.received[sock] = b""

    def poll(self) -> int:
        """Read what is there; the number of connections the server has closed."""
        open_socks = [s for s in self.socks if s not in self.closed]
        readable = select.select(open_socks, [], [], 0.01)[0] if open_socks else []
        for sock in readable:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if data:
                self.received[sock] += data
            else:
                self.closed.add(sock)
        return len(self.closed)

    def errors(self, sock: socket.socket) -> list[str]:
        return re.findall(rb"^profe> !ERR (\S+)", self.received[sock], re.MULTILINE)

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


# --- connection limits ---------------------------------------------------------------------------------


def test_a_flood_past_max_clients_evicts_the_oldest_silent_ones_while_a_joined_client_is_served(
    start_server,
):
    """Connections that never send a name cannot fill the server: when it is full, the one
    that has been silent longest makes room (told it was evicted), oldest first."""
    limit = 10
    server = start_server(max_clients=limit)
    with RawConnection(server.port, "legit") as legit:
        legit.join()
        baseline = open_fds(server.pid)

        flood = Flood(server.port, 3 * limit)
        try:
            assert _answer_seconds(legit) < PROMPT_SECONDS
            extra = 3 * limit - (limit - 1)
            wait_until(lambda: flood.poll() >= extra, message=f"{extra} refused connections closed")
            assert _answer_seconds(legit) < PROMPT_SECONDS
            refused = [s for s in flood.socks if s in flood.closed]
            admitted = [s for s in flood.socks if s not in flood.closed]
            assert len(refused) == extra and len(admitted) == limit - 1
            assert refused == flood.socks[:extra], "the oldest silent connections are the ones evicted"
            assert all(flood.errors(s) == [b"busy"] for s in refused)
            assert all(flood.received[s] == b"" for s in admitted)
        finally:
            flood.close()

        wait_until(lambda: open_fds(server.pid) == baseline, message="descriptors back to the baseline")
        with RawConnection(server.port, "despues") as later:
            later.join()
            assert later.who().text == "Conectados (2): despues, legit; servidor: profe"


def test_an_eviction_flood_holds_at_most_max_closing_descriptors(start_server):
    """Evicted connections that never close their side are held only to deliver their last
    message, and only up to MAX_CLOSING (64) at once: past that they are closed at once."""
    server = start_server(max_clients=2)
    with RawConnection(server.port, "legit") as legit:
        legit.join()
        baseline = open_fds(server.pid)

        flood = Flood(server.port, 200)
        try:
            wait_until(lambda: flood.poll() >= 199, message="every refused connection closed by the server")
            held = open_fds(server.pid) - baseline
            told = sum(1 for s in flood.closed if flood.errors(s) == [b"busy"])
            assert _answer_seconds(legit) < PROMPT_SECONDS
        finally:
            flood.close()
        wait_until(lambda: open_fds(server.pid) == baseline, message="descriptors back to the baseline")

    assert held <= 1 + 64, f"the server held {held} descriptors for a flood of 200 it evicted"
    assert told >= 64, "the first evictions are told why"


def test_a_named_user_gets_in_while_silent_connections_keep_the_server_full(start_server):
    limit = 5
    server = start_server(max_clients=limit, extra_args=["--join-timeout", "0"])
    flood = Flood(server.port, limit)
    try:
        seen = 0
        for _ in range(limit):
            seen = server.stderr.wait_for(re.compile(r"connect \?@.* open\)"), TIMEOUT, seen)[0] + 1
        for attempt in range(3):
            more = Flood(server.port, limit)  # the attacker refills the slots
            try:
                with RawConnection(server.port, f"real{attempt}") as real:
                    real.join()
                    assert real.who().text.startswith("Conectados (1): ")
            finally:
                more.close()
    finally:
        flood.close()


def test_max_per_ip_counts_each_address_apart(start_server):
    server = start_server(extra_args=["--max-per-ip", "2"])
    first = [RawConnection(server.port, f"uno{i}", source="127.0.0.1") for i in range(2)]
    second = [RawConnection(server.port, f"dos{i}", source="127.0.0.2") for i in range(2)]
    try:
        for raw in first + second:
            raw.join()
        for source in ("127.0.0.1", "127.0.0.2"):
            with RawConnection(server.port, "otro", source=source) as refused:
                refused.send_line("")
                error = refused.expect(protocol.Error)
                refused.wait_closed()
            assert error.code == "too-many"
            assert error.text == "Demasiadas conexiones desde tu dirección (máximo 2)"
        assert first[0].who().text == "Conectados (4): dos0, dos1, uno0, uno1; servidor: profe"

        first[0].close()
        server.wait_for_log(re.compile(r"disconnect uno0@127\.0\.0\.1:\d+ \(closed by peer\)"))
        with RawConnection(server.port, "nuevo", source="127.0.0.1") as newcomer:
            newcomer.join()
    finally:
        for raw in first + second:
            raw.close()


# --- timeouts ------------------------------------------------------------------------------------------


def test_connections_that_never_send_a_name_are_closed_by_the_join_timeout(start_server):
    server = start_server(extra_args=["--join-timeout", "1"])
    with RawConnection(server.port, "legit") as legit:
        legit.join()
        baseline = open_fds(server.pid)
        started = time.monotonic()
        flood = Flood(server.port, 20)
        half_named = RawConnection(server.port, "lento")
        half_named.sock.sendall(b"lento> ")  # a name with no end of line is no name
        try:
            wait_until(lambda: flood.poll() == 20, message="the silent connections closed")
            half_named.wait_closed()
            elapsed = time.monotonic() - started
            assert all(flood.errors(s) == [b"idle"] for s in flood.socks)
            assert any(isinstance(e, protocol.Error) and e.code == "idle" for e in half_named.events)
            assert b"Desconectado tras 1 s sin actividad" in flood.received[flood.socks[0]]
            assert _answer_seconds(legit) < PROMPT_SECONDS, "the joined client is not idle-limited"
        finally:
            flood.close()
            half_named.close()
        wait_until(lambda: open_fds(server.pid) == baseline, message="descriptors back to the baseline")

    assert elapsed >= 1.0


def test_a_byte_trickler_is_idle_while_a_client_sending_lines_is_not(start_server):
    server = start_server(idle_timeout=1)
    with RawConnection(server.port, "goteo") as trickler, RawConnection(server.port, "activo") as active:
        trickler.join()
        active.join()
        started = time.monotonic()
        while not trickler.eof:
            assert time.monotonic() - started < TIMEOUT, "the trickler was never disconnected"
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                trickler.sock.sendall(b"x")  # never a whole line
            with contextlib.suppress(TimeoutError):
                trickler.receive(timeout=0.2)  # also the trickler's pacing
            active.fence()  # a whole line: activity
        while time.monotonic() - started < 2.0:  # twice the idle timeout, sending lines all along
            active.fence()
            time.sleep(0.2)  # the active client's own pacing
        active.fence()  # answered after twice the idle timeout: the client sending lines was kept

    errors = [e for e in trickler.events if isinstance(e, protocol.Error)]
    assert [e.code for e in errors] == ["idle"]
    server.wait_for_log(re.compile(r"disconnect goteo@\S+ \(idle\)"))


# --- slow readers ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening-big") / "root"
    root.mkdir()
    make_big_file(root / "big.bin", 64 * MIB)
    (root / "small.txt").write_bytes(b"small\n")
    return root


def test_a_reader_that_reads_nothing_costs_no_file_sized_memory(start_server, big_root):
    server = start_server(root=big_root)
    with RawConnection(server.port, "estatua") as staller, RawConnection(server.port, "otro") as other:
        staller.join()
        other.join()
        before = rss_kib(server.pid)
        local_port = staller.sock.getsockname()[1]

        staller.send_line("get big.bin")
        wait_until(lambda: reader_window_full(server.port, local_port), message="the staller's socket full")

        def settled() -> bool:  # the socket takes no more: the server has sent all it can
            queued = socket_receive_queue(local_port)
            time.sleep(0.05)
            return queued == socket_receive_queue(local_port)

        wait_until(settled, message="the staller's socket full")
        for _ in range(5):
            assert _answer_seconds(other) < PROMPT_SECONDS
        growth = rss_kib(server.pid, peak=True) - before

    assert growth < RSS_GROWTH_LIMIT_KIB, f"server memory grew {growth} KiB for a stalled 64 MiB download"


class Listener(threading.Thread):
    """A client that reads everything as fast as it can, noting when each chat line came."""

    def __init__(self, raw: RawConnection):
        super().__init__(daemon=True)
        self.raw = raw
        self.arrivals: list[tuple[float, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and not self.raw.eof:
            count = len(self.raw.arrivals)
            with contextlib.suppress(TimeoutError):
                self.raw.receive(1024 * 1024, timeout=0.1)
            now = time.monotonic()
            for arrival in self.raw.arrivals[count:]:
                if isinstance(arrival.event, protocol.Message):
                    self.arrivals.append((now, arrival.event.text))

    def max_gap(self) -> float:
        times = [t for t, _ in self.arrivals]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def test_a_chat_flood_is_throttled_at_its_source_and_the_others_are_spared(start_server):
    server = start_server()
    with (
        RawConnection(server.port, "oyente") as listening,
        RawConnection(server.port, "paciente") as patient,
        RawConnection(server.port, "gritón") as flooder,
    ):
        listening.join()
        patient.join()
        flooder.join()
        listener = Listener(listening)
        listener.start()
        try:
            started = time.monotonic()
            flooder.sock.sendall(("gritón> " + "a" * 200 + "\n").encode() * 4000)
            flooder.send_line("who")
            flooder.expect(message_containing("Conectados ("), timeout=30)
            elapsed = time.monotonic() - started
            assert _answer_seconds(patient) < PROMPT_SECONDS
        finally:
            listener.stop.set()
            join_thread(listener, TIMEOUT, "the listener")
        warnings = [a.event for a in flooder.arrivals if isinstance(a.event, protocol.Error)]

    relayed = [text for _, text in listener.arrivals if text.startswith("aaa")]
    allowed = CHAT_BURST_LINES + CHAT_LINES_PER_SECOND * elapsed + 1
    assert CHAT_BURST_LINES <= len(relayed) <= allowed, f"{len(relayed)} of 4000 flood lines relayed"
    assert warnings and {w.code for w in warnings} == {"flood"}
    assert len(warnings) <= len(relayed) - CHAT_BURST_LINES + 1, "one warning per run of dropped lines"


class SlowReader(Listener):
    """A client that reads, but no faster than `rate` bytes a second: a slow link."""

    def __init__(self, raw: RawConnection, rate: int):
        super().__init__(raw)
        self.rate = rate

    def run(self) -> None:
        started, taken = time.monotonic(), 0
        while not self.stop.is_set() and not self.raw.eof:
            ahead = taken / self.rate - (time.monotonic() - started)
            if ahead > 0:
                self.stop.wait(ahead)  # pacing the reader: this is the slow link itself
            count = len(self.raw.arrivals)
            with contextlib.suppress(TimeoutError):
                self.raw.receive(16 * 1024, timeout=0.1)
            taken = self.raw.received_bytes
            now = time.monotonic()
            for arrival in self.raw.arrivals[count:]:
                if isinstance(arrival.event, protocol.Message):
                    self.arrivals.append((now, arrival.event.text))


def _paste_in_background(server, lines: list[str]) -> threading.Thread:
    """Type `lines` at the console from another thread: the server may stop reading it for a while."""
    paster = threading.Thread(target=server.write_lines, args=(lines,), daemon=True)
    paster.start()
    return paster


def test_a_slow_reader_gets_every_line_of_a_console_paste_bigger_than_any_queue(start_server):
    """Back-pressure, not drops: the paste is several times the 1 MiB output cap and arrives
    faster than the reader reads, so the server stops reading its console while the reader
    is behind; the reader is never dropped, gets every line, and memory stays bounded."""
    server = start_server()
    with (
        RawConnection(server.port, "lento", receive_buffer=16 * 1024) as slow_raw,
        RawConnection(server.port, "rapido") as fast_raw,
    ):
        slow_raw.join()
        fast_raw.join()
        slow, fast = SlowReader(slow_raw, rate=4 * MIB), Listener(fast_raw)
        slow.start()
        fast.start()
        before = rss_kib(server.pid)
        lines = 3300  # about 12 MiB for each reader: more than the cap and the kernel's buffers
        paster = _paste_in_background(server, ["a" * 3900] * lines + ["fin del grito"])
        try:
            for reader in (slow, fast):
                wait_until(
                    lambda reader=reader: any(text == "fin del grito" for _, text in reader.arrivals),
                    timeout=60,
                    message=f"the end of the paste at {reader.raw.name}",
                )
            growth = rss_kib(server.pid, peak=True) - before
        finally:
            for reader in (slow, fast):
                reader.stop.set()
                join_thread(reader, TIMEOUT, f"the reader {reader.raw.name}")
            join_thread(paster, TIMEOUT, "the paster")
        who = fast_raw.who()  # a fence: the server has handled everything before it
        dropped = server.stderr.has(re.compile(r"disconnect lento@"))

    for reader in (slow, fast):
        chat = [text for _, text in reader.arrivals if text.startswith("aaa")]
        assert len(chat) == lines, f"{reader.raw.name} got {len(chat)} of {lines} lines"
    assert not dropped and "lento" in who.text, f"the slow reader was dropped: {who.text}"
    assert growth < RSS_GROWTH_LIMIT_KIB, f"server memory grew {growth} KiB"


def test_a_reader_that_reads_nothing_is_dropped_after_the_data_timeout_and_others_get_everything(
    start_server,
):
    server = start_server(data_timeout=2)
    with (
        RawConnection(server.port, "estatua", receive_buffer=4 * 1024) as staller,
        RawConnection(server.port, "oyente") as listening,
    ):
        staller.join()
        listening.join()
        listener = Listener(listening)
        listener.start()
        lines = 160  # about 600 KiB: more than the high-water mark, less than the hard cap
        paster = _paste_in_background(server, ["a" * 3900] * lines + ["fin del grito"])
        try:
            server.wait_for_log(
                re.compile(r"disconnect estatua@\S+ \((no data taken for 2 s|\w+ failed: .*timed out)\)")
            )
            wait_until(
                lambda: any(text == "fin del grito" for _, text in listener.arrivals),
                message="the end of the paste at the reader that keeps up",
            )
        finally:
            listener.stop.set()
            join_thread(listener, TIMEOUT, "the listener")
            join_thread(paster, TIMEOUT, "the paster")
        staller.wait_closed(timeout=30)

    chat = [text for _, text in listener.arrivals if text.startswith("aaa")]
    assert len(chat) == lines, "the reader that keeps up gets every line"


def test_a_command_flood_without_reading_does_not_starve_another_client(start_server, big_root):
    server = start_server(root=big_root)
    stop = threading.Event()
    sent = [0]

    with RawConnection(server.port, "inunda") as flooder, RawConnection(server.port, "paciente") as patient:
        flooder.join()
        patient.join()
        before = rss_kib(server.pid)
        flooder_port = flooder.sock.getsockname()[1]
        payload = b"inunda> who\n" * 200_000

        def flood() -> None:
            flooder.sock.settimeout(0.1)
            view = memoryview(payload)
            while sent[0] < len(payload) and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    sent[0] += flooder.sock.send(view[sent[0] : sent[0] + 65536])

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        try:
            wait_until(lambda: sent[0] == len(payload), message="the whole flood sent")
            waits = []
            for _ in range(5):
                started = time.monotonic()
                patient.send_line("list")
                patient.expect(message_containing("small.txt"))
                waits.append(time.monotonic() - started)
            unread = socket_receive_queue(server.port, flooder_port)
            growth = rss_kib(server.pid, peak=True) - before
        finally:
            stop.set()
            join_thread(thread, TIMEOUT, "the flooding thread")

    assert unread > 0, "the server had handled the whole flood before the other client was measured"
    assert max(waits) < PROMPT_SECONDS, f"list took up to {max(waits):.2f} s during the flood"
    assert growth < RSS_GROWTH_LIMIT_KIB, f"server memory grew {growth} KiB"
