"""The load generator (tools/loadgen/) against a real server: its sessions do
what they claim, so scripts/bench counts real work."""

from __future__ import annotations

import socket
import time

import loadgen

from .harness import HOST, TIMEOUT


def test_lab_sessions_join_list_get_and_quit(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "small.bin").write_bytes(b"x" * 65536)
    (root / "other.txt").write_text("hola\n")
    server = start_server(root, lang="en")
    loop = loadgen.Loop()
    try:
        sessions = [loadgen.LabSession(loop, (HOST, server.port), f"s{n}", "small.bin") for n in range(5)]
        assert loop.run(lambda: all(session.done for session in sessions), time.monotonic() + TIMEOUT)
    finally:
        loop.close()
    assert [session.failure for session in sessions] == [None] * 5
    assert all(session.file_left == 0 and session.list_lines_left == 0 for session in sessions)


def test_a_session_asking_for_a_missing_file_fails(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "small.bin").write_bytes(b"x")
    server = start_server(root, lang="en")
    loop = loadgen.Loop()
    try:
        session = loadgen.LabSession(loop, (HOST, server.port), "s1", "nothing.bin")
        assert loop.run(lambda: session.done, time.monotonic() + TIMEOUT)
    finally:
        loop.close()
    assert session.failure is not None and session.failure.startswith("get:")


def test_listeners_count_joins_and_console_lines(start_server):
    server = start_server(lang="en")
    loop = loadgen.Loop()
    tally = loadgen.Tally()
    try:
        listeners = [
            loadgen.LabListener(loop, (HOST, server.port), f"j{n}", "mark", tally) for n in range(20)
        ]
        assert loop.run(lambda: tally.hellos == 20, time.monotonic() + TIMEOUT)
        server.console("mark-1")
        assert loop.run(lambda: tally.marks["mark-1"] == 20, time.monotonic() + TIMEOUT)
    finally:
        loop.close()
    assert all(listener.hello_at <= listener.marks["mark-1"] for listener in listeners)
    assert tally.ended == 0


def test_keep_running_replaces_each_finished_session(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "small.bin").write_bytes(b"y" * 1000)
    server = start_server(root, lang="en")
    loop = loadgen.Loop()
    try:
        run = loadgen.keep_running(
            loop,
            lambda serial: loadgen.LabSession(loop, (HOST, server.port), f"k{serial}", "small.bin"),
            3,
            window_seconds=0.1,
            windows=2,
            warmup=12,
            warmup_timeout=TIMEOUT,
        )
    finally:
        loop.close()
    assert run.warmed_up and run.failures == []  # 12 ended without failing: four times as many as ran at once
    assert len(run.windows) == 2 and all(seconds >= 0.1 for _completed, seconds in run.windows)


def test_a_listener_refused_as_full_ends_with_the_reason(start_server):
    server = start_server(max_clients=1, lang="en")
    loop = loadgen.Loop()
    tally = loadgen.Tally()
    try:
        first = loadgen.LabListener(loop, (HOST, server.port), "j1", "mark", tally)
        assert loop.run(lambda: tally.hellos == 1, time.monotonic() + TIMEOUT)
        second = loadgen.LabListener(loop, (HOST, server.port), "j2", "mark", tally)
        assert loop.run(lambda: tally.ended == 1, time.monotonic() + TIMEOUT)
    finally:
        loop.close()
    assert first.failure is None and second.failure == "join: full"


def test_a_paused_channel_reads_only_when_asked_and_at_most_what_it_asks_for():
    """The soak's slow readers: nothing is read by readiness; each `read_once` takes at most its limit."""
    with socket.create_server((HOST, 0)) as listener:
        loop = loadgen.Loop()
        received: list[int] = []
        closed: list[str | None] = []
        try:
            channel = loadgen.Channel(
                loop, listener.getsockname(), lambda data: received.append(len(data)), closed.append
            )
            channel.pause_reading()
            peer, _ = listener.accept()
            with peer:
                peer.sendall(b"z" * 50_000)
                assert loop.run(lambda: channel.connected, time.monotonic() + TIMEOUT)
                loop.turn(0.05)  # readable by now, yet not read
                assert received == []
                assert loop.run(lambda: channel.read_once(1000) or received, time.monotonic() + TIMEOUT)
                assert received == [1000]
                peer.shutdown(socket.SHUT_WR)
                assert loop.run(lambda: channel.read_once(100_000) or closed, time.monotonic() + TIMEOUT)
        finally:
            loop.close()
    assert sum(received) == 50_000 and closed == [None]


def test_ftp_sessions_without_listing_come_from_their_source_address(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "small.bin").write_bytes(b"z" * 65536)
    server = start_server(root, lang="en", extra_args=["--ftp-port", "0"])
    port = server.ftp_port()
    loop = loadgen.Loop()
    try:
        sessions = [
            loadgen.FtpSession(
                loop, (HOST, port), "anonymous", "x@", "small.bin", 65536, listing=False, source="127.0.0.3"
            )
            for _ in range(3)
        ]
        sources = {session.channel.sock.getsockname()[0] for session in sessions}
        assert loop.run(lambda: all(session.done for session in sessions), time.monotonic() + TIMEOUT)
    finally:
        loop.close()
    assert sources == {"127.0.0.3"}
    assert [session.failure for session in sessions] == [None] * 3
    assert all(not any(command == "LIST" for command, _ in session.script) for session in sessions)
    assert all(session.seconds > 0 for session in sessions)


def test_keep_running_from_an_agreed_moment_times_each_session(start_server, tmp_path):
    """Windows start at `windows_from` (one moment for several processes); each window keeps the
    time of every session completed in it."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "small.bin").write_bytes(b"y" * 1000)
    server = start_server(root, lang="en")
    loop = loadgen.Loop()
    windows_from = time.monotonic() + 0.5
    try:
        run = loadgen.keep_running(
            loop,
            lambda serial: loadgen.LabSession(loop, (HOST, server.port), f"w{serial}", "small.bin"),
            2,
            window_seconds=0.2,
            windows=2,
            warmup=2,
            warmup_timeout=TIMEOUT,
            windows_from=windows_from,
        )
        ended = time.monotonic()
    finally:
        loop.close()
    assert ended >= windows_from + 0.4
    assert [len(durations) for durations in run.durations] == [completed for completed, _ in run.windows]
    assert all(0 < seconds < TIMEOUT for durations in run.durations for seconds in durations)
