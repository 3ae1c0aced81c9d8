"""scripts/bench: each part runs and produces its table (a --quick smoke run, small), and the pieces
that decide what the report may claim (ratios run by run, refusing a ratio, TIME-WAIT counts,
targets) do what they say. No speed is asserted here: targets live in the bench's report."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import core, report, sendfloor, sessions, transfers
from bench.cli import parse_args, settings_from
from bench.parts import PARTS
from bench.servers import vsftpd_missing
from support.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "scripts" / "bench"


def tables(markdown: str) -> dict[str, list[list[str]]]:
    """Each `## heading` of the report with the rows of the first table under it."""
    found: dict[str, list[list[str]]] = {}
    heading = None
    for line in markdown.splitlines():
        if line.startswith("## "):
            heading = line[3:]
        elif heading and line.startswith("| ") and heading not in found:
            found[heading] = []
        if heading in found and line.startswith("| "):
            found[heading].append([cell.strip() for cell in line.strip("|").split("|")])
    return {name: rows[2:] for name, rows in found.items()}  # without the header and its rule


@pytest.mark.slow
def test_a_quick_run_measures_every_part(tmp_path):
    output = tmp_path / "bench.md"
    command = [sys.executable, str(BENCH), "--quick", "--runs", "1", "--big-mib", "8"]
    command += ["--clients", "20", "--crowds", "20", "--generators", "2", "--output", str(output)]
    command += ["--warm-up", "0.5", "--window", "0.5"]  # every part, not steady figures
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    text = output.read_text()
    found = tables(text)

    missing = vsftpd_missing()
    tls_labels = [
        "pyftpdlib RETR, TLS (PROT P)",
        "ftplab verified `get`, TLS (`--ca`)",
        "ftplab FTP door RETR, TLS (PROT P)",
    ] + ([] if missing else ["vsftpd RETR, TLS (PROT P)"])
    plain_labels = [
        "loopback limit: sendfile → recv_into → os.write",
        "pyftpdlib RETR through ftplib",
        "pyftpdlib RETR through ftplib, then sha256sum",
        "ftplab verified `get` (the real client)",
        "ftplab FTP door RETR through ftplib",
    ] + ([] if missing else ["vsftpd RETR through ftplib"])
    transfers = next(rows for name, rows in found.items() if name.startswith("One file of 8 MiB"))
    assert {(row[0], row[1]) for row in transfers} == {
        (label, place) for label in plain_labels + tls_labels for place in ("tmpfs", "disk")
    }
    assert all("**" in cell for row in transfers for cell in row[2:])  # GB/s and CPU per GiB measured
    by_thread = re.search(r"by thread: .*into tmpfs: the loop's (.*), the helpers' (.*);", text)
    assert by_thread and all("**" in figure for figure in by_thread.groups()), "the client's threads measured"
    over_plain = found["TLS over plain text: the same file from the same kind of server"]
    assert {(row[0], row[1]) for row in over_plain} == {
        (label, place) for label in tls_labels for place in ("tmpfs", "disk")
    }
    assert all(row[2].startswith("TLSv1.") for row in over_plain)  # each really spoke TLS
    assert all("**" in cell for row in over_plain for cell in (row[3], row[4]))  # wall clock, client CPU

    by_server = {row[1]: row for row in found["Sessions per second, N sessions at once"]}
    assert set(by_server) == set(sessions.SERVERS.values())
    for name, row in by_server.items():
        if name == "vsftpd" and missing:
            assert missing in row[-1]
        else:
            assert "**" in row[2] and "**" in row[3], row  # sessions/s and p99 measured
            assert "failed" not in row[-1], row

    assert "0.5 s) come 1 windows of 0.5 s" in text
    assert "over 0.5 s once the news of their joining is out" in text
    assert "SHA-256 alone on one core (hashlib, once a run): " in output.read_text()
    assert found["Many clients joining, chat fan-out, memory"][0][0] == "20"
    assert "a bare loop sending the line to 20 loopback connections" in output.read_text()
    for selector in ("select", "poll", "epoll"):
        assert found[f"`--selector {selector}`: joining, fan-out, memory (one run)"][0][0] == "20"
    chat = {row[0]: row for row in found["Chat behind a file"]}
    assert "**" in chat["loopback, full speed"][2], "chat p99 on loopback measured"
    assert len(chat) == 3, chat  # the shaped rows measured, or saying why not (no root, no iproute2)
    verdicts = {row[0]: row[2] for row in found["Targets"]}
    assert "N = 20: FTP door sessions/s ahead of pyftpdlib" in verdicts
    assert set(verdicts.values()) <= {"met", "**not met**", "not measured"}
    assert output.with_suffix(".png").stat().st_size > 0


def test_the_fan_out_floor_times_each_loop_once_every_receiver_has_read_the_last():
    milliseconds = sendfloor.measure(200, 3)
    assert len(milliseconds) == 3
    assert all(0 < one < 10_000 for one in milliseconds)


def test_the_fan_out_floor_waits_for_receivers_slower_than_its_sends(monkeypatch):
    """A loaded machine's receivers read late and in any order; the sender must not close under
    them (the forked receivers inherit the slowed reader)."""
    read_lines = sendfloor._read_lines

    class OneAtATime:
        """Each look takes only the lowest-numbered ready connection."""

        def __init__(self, selector):
            self._selector = selector

        def select(self, timeout=None):
            return sorted(self._selector.select(timeout), key=lambda event: event[0].fd)[:1]

    def late_reader(selector, count):
        time.sleep(0.05)  # the receivers' core busy elsewhere: every send lands before a read
        read_lines(OneAtATime(selector), count)

    monkeypatch.setattr(sendfloor, "_read_lines", late_reader)
    assert len(sendfloor.measure(20, 2)) == 2


def test_a_bench_process_that_prints_no_figures_fails_with_what_it_said(tmp_path):
    settings = settings_from(parse_args([]), tmp_path)
    assert settings.run_module("sendfloor", ["3", "1"], timeout=60)["ms"]
    with pytest.raises(RuntimeError, match=r"(?s)bench.sendfloor three 1: .*invalid literal for int"):
        settings.run_module("sendfloor", ["three", "1"], timeout=60)


def test_a_full_connection_tracking_table_is_said_to_drop_new_connections():
    assert core.conntrack_cell(None) == ""
    assert core.conntrack_cell((1200, 262144)) == "conntrack 1,200 of 262,144"
    assert core.conntrack_cell((262143, 262144)) == (
        "conntrack 262,143 of 262,144 (full: new connections' SYNs dropped)"
    )


def test_a_target_beyond_sha256s_own_speed_says_it_is_out_of_reach():
    asked = core.Target("verified `get` ≥ 0.7× the loopback limit", "0.55×", False)
    beyond = transfers.with_ceiling(asked, [0.62, 0.65, 0.66], 0.7)
    assert beyond.met is False
    assert "SHA-256 alone on one core: 0.62 / **0.65** / 0.66×: out of reach" in beyond.figure
    assert transfers.with_ceiling(asked, [1.2, 1.3, 1.4], 0.7) == asked, "within reach: said as it is"


def test_every_part_is_an_only_choice():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert all(name in result.stdout for name in PARTS)


def test_the_class_part_runs_only_when_asked_since_it_needs_docker():
    assert "class" not in parse_args([]).only
    assert parse_args(["--class"]).only == list(PARTS)
    assert parse_args(["--only", "class"]).only == ["class"]


def test_the_sessions_part_measures_the_servers_asked_for_and_always_the_door(tmp_path):
    def measured(*argv):
        return list(sessions.measured(settings_from(parse_args(list(argv)), tmp_path)))

    assert measured() == list(sessions.SERVERS)
    assert measured("--servers", "pyftpdlib") == ["door", "pyftpdlib"]
    with pytest.raises(ValueError, match="no such server"):
        measured("--servers", "door,proftpd")


def test_ratios_are_taken_run_by_run():
    assert core.paired_ratios([2.0, 3.0, 4.0], [1.0, 3.0, 0.0]) == [2.0, 1.0]
    assert core.ratio_cell([2.0, 1.0, 4.0]) == "1.00 / **2.00** / 4.00×"
    assert core.ratio_target("t", [0.9, 1.2, 1.1], 1.0).met is True
    assert core.ratio_target("t", [0.9, 1.2, 1.1], 1.0, at_most=True).met is False
    assert core.ratio_target("t", [], 1.0).verdict == "not measured"


def test_no_ratio_when_a_generator_was_saturated_or_a_run_collapsed():
    steady = sessions.Outcome(rates=[100.0, 110.0], generator_busiest=[0.3, 0.4])
    busy = sessions.Outcome(rates=[100.0, 110.0], generator_busiest=[0.3, 0.9])
    collapsed = sessions.Outcome(rates=[100.0, 20.0], generator_busiest=[0.3, 0.3])
    assert sessions.comparable(steady, steady) == ""
    assert sessions.comparable(steady, busy) == "no ratio: load generator saturated"
    assert sessions.comparable(collapsed, steady) == "no ratio: an unsteady run"
    assert "saturated" in busy.notes() and "unsteady" in collapsed.notes()


def test_a_server_cpu_ratio_counts_only_runs_where_the_server_in_clear_used_ten_ticks():
    """vsftpd in clear sends with sendfile: a run may show 0 or 1 tick of /proc, no divisor."""
    tls = [transfers.Sample(1.0, 1.0, 0.9), transfers.Sample(1.0, 1.0, 0.8)]
    plain = [transfers.Sample(0.5, 0.5, 0.01), transfers.Sample(0.5, 0.5, 0.2)]
    assert transfers.countable(tls, plain) == ([tls[1]], [plain[1]])
    assert transfers.over_plain(transfers.seconds, tls, plain) == "2.00 / **2.00** / 2.00×"


def test_the_verified_gets_client_cpu_is_split_between_its_loop_and_its_helpers():
    get = transfers.Row("get", "ftplab verified `get` (the real client)", run=lambda *_: None)
    sample = transfers.Sample
    get.samples = {
        "tmpfs": [sample(1.0, 1.5, 0.2, loop_cpu=0.25), sample(1.0, 1.25, 0.2, loop_cpu=0.5)],
        "disk": [sample(1.0, 2.0, 0.2, loop_cpu=1.0), sample(1.0, 9.0, 0.2)],  # the second did not say
    }
    said = transfers.client_threads(get, ["tmpfs", "disk"], gib=0.5)
    assert "into tmpfs: the loop's 0.50 / **0.75** / 1.00, the helpers' 1.50 / **2.00** / 2.50" in said
    assert "into disk: the loop's 2.00 / **2.00** / 2.00, the helpers' 2.00 / **2.00** / 2.00" in said


def test_time_wait_sockets_are_counted_by_address():
    """A connection closed first by this side leaves a TIME-WAIT socket on its 127.0.0.x."""
    before_all, before_ours = core.time_wait_sockets(["127.0.0.251"])
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket()
        client.bind(("127.0.0.251", 0))
        client.connect(listener.getsockname())
        accepted, _ = listener.accept()
        client.close()  # the active close: this side waits
        assert accepted.recv(1) == b""
        accepted.close()
    after_all, after_ours = core.time_wait_sockets(["127.0.0.251"])
    assert after_ours >= before_ours + 1 and after_all >= after_ours


def test_the_report_puts_each_target_next_to_its_figure(tmp_path):
    section = core.Section(
        "A part",
        ["what it measures"],
        ["x", "y"],
        rows=[("1", "2")],
        targets=[core.Target("x ≥ 1", "2.00×", True), core.Target("y ≤ 1", "–", None)],
    )
    run = report.Run(["--quick"], core.ROOT / "app", 1, ["a"], ["a", "b"], "1 1 1", "2 2 2", 3.0)
    output = tmp_path / "out.md"
    report.write([section], run, output, None)
    text = output.read_text()
    assert "before: 1 1 1; after: 2 2 2" in text
    assert "Only part of the benchmark was run: a." in text
    assert "| 1 | 2 |" in text
    assert "| x ≥ 1 | 2.00× | met |" in text and "| y ≤ 1 | – | not measured |" in text


def test_sigterm_ends_a_run_through_its_cleanup(tmp_path):
    """As Ctrl-C does: the work directory goes (and, with --class, the lab: tests/e2e)."""
    command = [sys.executable, str(BENCH), "--quick", "--only", "transfers", "--big-mib", "8"]
    command += ["--output", str(tmp_path / "bench.md")]
    work_parent = tmp_path / "tmp"
    work_parent.mkdir()
    bench = subprocess.Popen(
        command,
        env={**os.environ, "TMPDIR": str(work_parent)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: list(work_parent.glob("ftplab-bench-*/files")), message="the run's files")
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(60) == 128 + signal.SIGTERM, bench.stderr.read()[-2000:]
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        bench.stderr.close()
    assert list(work_parent.iterdir()) == []
    assert not (tmp_path / "bench.md").exists()
