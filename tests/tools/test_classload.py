"""The class benchmark's arithmetic and report (tools/bench/classload.py), fed figures: no Docker.

tests/e2e/test_classload.py runs it for real on a small class."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench import class_drivers, classload
from bench.classload import (
    ClassFigures,
    ClassSettings,
    GetRound,
    Transfers,
    behind_file_ms,
    counters_between,
    cpu_used,
    downloading_chat_ms,
    jain_index,
    parse_args,
    percentile,
    student_counts,
    timelines,
)


def test_jain_index_is_one_for_equal_rates_and_one_over_n_when_one_gets_everything():
    assert jain_index([5.0] * 30) == pytest.approx(1.0)
    assert jain_index([9.0, 0.0, 0.0]) == pytest.approx(1 / 3)
    assert jain_index([1.0, 2.0]) == pytest.approx(9 / 10)


def test_percentile_is_a_value_that_was_seen_by_nearest_rank():
    values = [float(value) for value in range(100, 0, -1)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_transfers_rate_each_receiver_by_its_own_span_and_the_class_by_first_start_to_last_end():
    transfers = Transfers.from_spans(100, [(10.0, 12.0), (10.5, 14.5)])
    assert transfers.rates == [50.0, 25.0]
    assert transfers.aggregate == pytest.approx(200 / 4.5)
    assert transfers.gib == pytest.approx(200 / 1024)
    assert transfers.fairness == pytest.approx(jain_index([50.0, 25.0]))


def test_each_students_timeline_runs_from_its_request_to_its_saved_file_timed_from_the_first():
    reports = [
        {"name": "ana", "requested": 10.0, "progress": [[10.25, 40], [10.5, 80]], "saved": 10.6},
        {"name": "luis", "requested": 10.5, "progress": [], "saved": 12.0},
    ]
    assert timelines(reports, 10.0) == {
        "ana": [[0.0, 0], [0.25, 40], [0.5, 80], [0.6, 100]],
        "luis": [[0.5, 0], [2.0, 100]],
    }


def test_cpu_is_added_up_over_the_containers_and_unknown_if_one_is_unknown():
    assert cpu_used([[1.0, 3.0], [10.0, 10.5]]) == pytest.approx(2.5)
    assert cpu_used([[1.0, 3.0], [None, None]]) is None
    assert Transfers.from_spans(1024, [(0.0, 1.0)], sender_cpu=0.5).per_gib(0.5) == [0.5]


def test_a_lines_wait_behind_the_file_is_its_arrival_at_a_student_less_its_first_at_a_chatter():
    chatted = {"began": 9.5, "chat": [[10.0, 0.1, 1], [10.2, 0.3, 1], [11.0, 0.1, 2]]}  # when, latency, line
    reports = [
        {"requested": 9.0, "saved": 20.0, "chat": [[10.5, 0.6, 1], [11.25, 0.35, 2]]},
        {"requested": 9.0, "saved": 11.0, "chat": [[10.1, 0.2, 1], [11.5, 0.6, 2]]},  # saved before line 2
        {"requested": 9.0, "saved": 20.0, "chat": [[12.0, 0.3, 3]]},  # no chatter saw line 3
    ]
    assert behind_file_ms(reports, chatted) == pytest.approx([500.0, 250.0, 100.0])


def _round_two() -> tuple[list[dict], dict]:
    """Round 2's chat began at 100.0. When they joined, at 95.0, the chatters and the student
    were shown round 1's last lines again, numbered as round 2's are (typed at 50.0 and 50.1)."""
    replayed = [[95.0, 45.0, 1], [95.0, 44.9, 2]]
    chatted = {"began": 100.0, "chat": [*replayed, [100.01, 0.01, 1], [100.11, 0.01, 2]]}
    student = {"requested": 100.02, "saved": 110.0, "chat": [*replayed, [100.03, 0.03, 1], [100.15, 0.05, 2]]}
    return [student], chatted


def test_the_lines_shown_again_to_who_joins_do_not_count_as_this_rounds():
    reports, chatted = _round_two()
    assert behind_file_ms(reports, chatted) == pytest.approx([20.0, 40.0])
    assert downloading_chat_ms(reports, chatted) == pytest.approx([30.0, 50.0])
    # No line waits behind the file longer than it took to arrive.
    assert max(behind_file_ms(reports, chatted)) <= max(downloading_chat_ms(reports, chatted))


def test_a_run_builds_and_removes_images_of_its_own_tag_unless_given_one():
    assert ClassSettings(project="ftplab-classload-1234").image_tag == "ftplab-classload-1234"
    assert ClassSettings(project="ftplab-classload-1234", tag="e2e").image_tag == "e2e"


def _figures(student_rates: list[float], chat_ms: list[float], hwm_mib: float) -> ClassFigures:
    figures = ClassFigures(ClassSettings(students=len(student_rates), size_mib=10, project="unit"))
    figures.gets.append(
        GetRound(
            Transfers(student_rates, sum(student_rates)),
            chat_ms,
            idle_chat_ms=[1.0],
            chat_sent=len(chat_ms),
            rss_kib={"first_kib": 20 * 1024, "peak_kib": hwm_mib * 1024, "hwm_kib": hwm_mib * 1024},
            behind_file_ms=[2.0, 4.0],
            lab_cores=0.5,
            request_spread_ms=6.5,
            refused=[0, 3, 7, 120][: len(student_rates)],
            duplicates=[1, 1, 2, 30][: len(student_rates)],
            server_tcp={"refused": 0, "duplicates": 0, "timeouts": 12, "probes": 40},
        )
    )
    figures.bridge.append(Transfers([100.0] * len(student_rates), 400.0, gib=2.0, sender_cpu=1.0))
    figures.bridge_disk.append(Transfers([50.0] * len(student_rates), 200.0, gib=2.0, receivers_cpu=None))
    return figures


def _row(table: list[str], label: str) -> list[str]:
    [line] = [line for line in table if line.startswith(f"| {label} |")]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_the_table_says_which_targets_are_met():
    table = _figures([10.0, 10.0, 10.0, 10.0], [5.0, 20.0, 40.0], hwm_mib=30).table()
    assert table[0] == "### A class at full speed: 4 students × 10 MiB over labnet"
    assert [met for *_, met in _figures([10.0] * 4, [5.0], hwm_mib=30).targets()] == [True, True, True]
    assert _row(table, "fairness of `get` (Jain's index)")[1:] == [
        "1.000",
        "",
        "≥ 0.95",
        "yes",
    ]
    assert _row(table, "chat latency during `get`: p99")[1:] == ["40.0", "ms", "≤ 100 ms", "yes"]
    assert _row(table, "server's container, plain TCP")[1:3] == ["0.500", "core-s/GiB"]
    assert _row(table, "students' containers, plain TCP into /downloads")[1] == "–"  # no cgroup to read
    assert _row(table, "server RSS peak (VmHWM)")[4] == "yes"
    assert _row(table, "`get` / the bridge's limit")[1] == "0.100"
    assert _row(table, "`get` / plain TCP into /downloads")[1] == "0.200"
    assert _row(table, "a line's wait behind the file: p99")[1:3] == ["4.000", "ms"]
    assert _row(table, "CPU the lab's containers got during `get`")[1:3] == ["0.500", "cores"]
    assert _row(table, "the students' requests, first to last")[1:3] == ["6.500", "ms"]
    assert _row(table, "arrivals a student's kernel refused (no room): median")[1] == "5.000"
    assert _row(table, "arrivals a student's kernel refused (no room): most")[1] == "120.0"
    assert _row(table, "arrivals a student already had (resent): median")[1] == "1.500"
    assert _row(table, "the server's retransmission timeouts")[1] == "12.0"
    assert _row(table, "the server's tail-loss probes")[1] == "40.0"
    assert not [line for line in table if "asked late" in line]


def test_the_table_says_how_many_students_got_the_go_too_late_to_start_with_the_others():
    figures = _figures([10.0] * 4, [5.0], hwm_mib=30)
    figures.gets[0].late_starts = 2
    assert "2 student(s) got the go after the moment it named, and asked late." in figures.table()


def test_several_rounds_show_min_median_and_max():
    figures = _figures([10.0, 10.0], [5.0], hwm_mib=30)
    figures.gets.append(figures.gets[0])
    figures.gets.append(
        replace(figures.gets[0], rss_kib={"first_kib": 0, "peak_kib": 0, "hwm_kib": 90 * 1024})
    )
    assert _row(figures.table(), "server RSS peak (VmHWM)")[1:] == [
        "30.0 / **30.0** / 90.0",
        "MiB",
        "≤ 64 MiB",
        "**no**",
    ]


def test_the_table_says_no_when_a_target_is_missed():
    table = _figures([40.0, 1.0, 1.0, 1.0], [5.0] * 98 + [150.0, 300.0], hwm_mib=80).table()
    assert _row(table, "fairness of `get` (Jain's index)")[4] == "**no**"
    assert _row(table, "chat latency during `get`: p99")[1:] == ["150.0", "ms", "≤ 100 ms", "**no**"]
    assert _row(table, "server RSS peak (VmHWM)")[4] == "**no**"


def test_no_chat_line_during_the_downloads_is_a_dash_and_not_measured():
    figures = _figures([10.0, 10.0], [], hwm_mib=30)
    assert _row(figures.table(), "chat latency during `get`: p99")[1:] == [
        "–",
        "ms",
        "≤ 100 ms",
        "not measured",
    ]
    assert ("chat latency during `get`: p99 ≤ 100 ms", "– ms", None) in figures.targets()


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (["--students", "0"], "need 1 or more"),
        (["--size-mib", "0"], "need 1 or more"),
        (["--chat-interval", "0"], "more than 0"),
        (["--student-cpu-shares", "1"], "needs 2 or more"),
    ],
)
def test_the_command_line_refuses_what_cannot_be_measured(bad, said, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(bad)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_a_lab_that_would_not_go_down_is_said_not_hidden(tmp_path, monkeypatch, capsys):
    lab_script = tmp_path / "lab"
    lab_script.write_text(
        "#!/bin/sh\necho 'lab: error: labnet is still in use by: (none listed)' >&2\nexit 1\n"
    )
    lab_script.chmod(0o755)
    monkeypatch.setattr(classload, "LAB", lab_script)
    classload.ClassLab(classload.ClassSettings(tag="kept")).down()
    said = capsys.readouterr().err
    assert "the lab was not wholly taken down" in said
    assert "labnet is still in use" in said


NETSTAT = """\
TcpExt: SyncookiesSent DelayedACKLost TCPTimeouts TCPLossProbes TCPBacklogDrop TCPRcvQDrop TCPZeroWindowDrop
TcpExt: 0 7 3 11 1 4 2
IpExt: InNoRoutes InOctets
IpExt: 0 1234
"""


def test_the_tcp_counters_are_read_by_name_and_summed_by_what_they_say():
    assert class_drivers.tcp_counters(NETSTAT) == {"refused": 7, "duplicates": 7, "timeouts": 3, "probes": 11}


def test_tcp_counters_that_the_kernel_lacks_are_not_said():
    assert class_drivers.tcp_counters(NETSTAT.replace("TCPLossProbes", "Other")) is None
    assert class_drivers.tcp_counters("") is None


def test_each_students_counts_are_their_growth_over_the_get_and_none_if_one_was_not_said():
    said = {"refused": 2, "duplicates": 5, "timeouts": 0, "probes": 0}
    later = {**said, "refused": 9}
    reports = [{"tcp_requested": said, "tcp_saved": later}, {"tcp_requested": said, "tcp_saved": said}]
    assert student_counts(reports, "refused") == [7, 0]
    assert student_counts(reports, "duplicates") == [0, 0]
    assert student_counts([*reports, {"tcp_requested": None, "tcp_saved": said}], "refused") is None
    assert counters_between(said, later) == {"refused": 7, "duplicates": 0, "timeouts": 0, "probes": 0}
    assert counters_between(None, later) == {}
